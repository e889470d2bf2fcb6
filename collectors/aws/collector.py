"""The AWS collector: one engagement AWS store, every account x region x service, read-only.

``ctx.options`` knobs: ``aws_parameter_tags`` (read SSM parameter tags, one
call per parameter; default off), ``aws_max_attempts`` (8),
``aws_connect_timeout`` (5 s), ``aws_read_timeout`` (30 s).

Progress: one line per account (its tasks, fan-out included, as they are
discovered and done), and a finished line for each account that could not be
reached, so a long organization run shows where it is and what it missed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from botocore.config import Config
from botocore.exceptions import NoCredentialsError, NoRegionError

from collectors.aws import (
    acm,
    cloudtrail,
    codebuild,
    compute,
    controls,
    ec2,
    iam,
    kms,
    outputs,
    secretsmanager,
    ssm,
    workloads,
)
from collectors.aws.calls import SERVICES, Account, AwsCalls
from collectors.aws.guard import ReadOnlyGuard
from collectors.aws.session import Sessions
from collectors.base import CollectContext, TaskPool
from posture.model.engagement import AwsStore
from posture.model.errors import CollectionError, ConfigError
from posture.model.records import Server

# Regional readers in the order their tasks are queued per region, by the service that selects
# them (``store.services``); IAM is global.
PER_REGION: tuple[tuple[str, Callable[[AwsCalls, Account, str], None]], ...] = (
    ("secretsmanager", secretsmanager.collect), ("kms", kms.collect), ("ssm", ssm.collect),
    ("ssm", outputs.collect_ssm_documents), ("acm", acm.collect), ("lambda", compute.collect_lambda),
    ("ecs", compute.collect_ecs), ("cloudtrail", cloudtrail.collect), ("ec2", ec2.collect),
    ("codebuild", codebuild.collect), ("batch", workloads.collect_batch),
    ("stepfunctions", workloads.collect_stepfunctions), ("apigateway", workloads.collect_apigateway),
    ("elasticbeanstalk", workloads.collect_beanstalk), ("glue", workloads.collect_glue),
    ("sagemaker", workloads.collect_sagemaker), ("cloudformation", outputs.collect_cloudformation),
    ("eks", controls.collect_eks), ("accessanalyzer", controls.collect_access_analyzer),
)


class AccountPool(TaskPool):
    """The run's pool, advancing one progress line per account: the `Account` among a task's arguments."""

    def __init__(self, workers: int, progress: Any, store: str) -> None:
        super().__init__(workers, name="posture-aws")
        self.progress = progress
        self.store = store
        self._lines: dict[str, Any] = {}
        self._totals: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        acct = next((a for a in args if isinstance(a, Account)), None)
        line = self._grow(acct)
        super().submit(self._run, line, fn, *args)

    def _grow(self, acct: Account | None) -> Any:
        if self.progress is None or acct is None:
            return None
        with self._lock:
            line = self._lines.get(acct.id)
            if line is None:
                label = acct.id if acct.name == acct.id else f"{acct.name} ({acct.id})"
                line = self._lines[acct.id] = self.progress.add_task(f"aws {self.store} {label}", total=0)
            self._totals[acct.id] = self._totals.get(acct.id, 0) + 1
            self.progress.update(line, total=self._totals[acct.id])
        return line

    def _run(self, line: Any, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        finally:
            if line is not None:
                self.progress.advance(line, 1)


class AwsCollector:
    """Reads one engagement AWS store (one or more accounts x regions)."""

    source: ClassVar[str] = "aws"
    version: ClassVar[str] = "1.1.0"

    def __init__(self, store: AwsStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        unknown = sorted(set(store.services or []) - set(SERVICES))
        if unknown:
            raise ConfigError(
                f"aws store {store.name}: unknown service(s) {', '.join(unknown)} "
                f"(known: {', '.join(SERVICES)})"
            )
        self.services = [s for s in SERVICES if not store.services or s in store.services]
        self.guard = ReadOnlyGuard()
        self.config = Config(
            retries={"mode": "adaptive", "max_attempts": int(ctx.options.get("aws_max_attempts", 8))},
            max_pool_connections=max(10, store.concurrency * 2),
            connect_timeout=float(ctx.options.get("aws_connect_timeout", 5)),
            read_timeout=float(ctx.options.get("aws_read_timeout", 30)),
            user_agent_extra="secrets-posture-kit",
        )
        endpoint_url = store.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.aws = AwsCalls(store, ctx, self.guard, self.config, endpoint_url)
        self.sessions = Sessions(self.aws)

    def _session_name(self) -> str:
        return self.sessions.session_name()

    def run(self) -> None:
        base = self.sessions.base()
        try:
            accounts, unreached = self.sessions.accounts(base)
        except NoCredentialsError:
            raise CollectionError(
                f"aws store {self.store.name}: no AWS credentials found "
                "(environment, profile, SSO or instance role)"
            ) from None
        except NoRegionError:
            raise CollectionError(f"aws store {self.store.name}: no region configured") from None
        progress = self.ctx.progress
        if progress is not None:
            for label in unreached:
                progress.add_task(f"aws {self.store.name} {label}: not reached (coverage gap)", total=1, completed=1)
        self.aws.pool = AccountPool(self.store.concurrency, progress, self.store.name)
        for acct in accounts:
            self.aws.submit(self._collect_account, acct)
        self.aws.pool.drain()
        secretsmanager.link_replicas(self.aws)

    def _collect_account(self, acct: Account) -> None:
        regions = self.sessions.regions(acct)
        self.ctx.sink.add(Server(
            id=f"aws-account:{acct.id}", store=self.store.name, source="aws",
            address=acct.id, product="aws-account", namespace=acct.name,
        ))
        if "iam" in self.services:
            self.aws.submit(iam.collect, self.aws, acct)
        for region in regions:
            for service, collect in PER_REGION:
                if service in self.services:
                    self.aws.submit(collect, self.aws, acct, region)
