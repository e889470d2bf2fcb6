"""AWS collector: Secrets Manager, KMS, IAM, SSM Parameter Store, ACM, Lambda/ECS
configuration and CloudTrail, read-only, into the snapshot.

How it reads:

- boto3's own credential chain (profile, SSO, environment, instance role);
  each engagement account is reached by assume-role with refreshable
  credentials, so long runs survive the one-hour session expiry.
- Every client carries the `ReadOnlyGuard` (``collectors/aws_guard.py``):
  an operation outside the allow-list raises before anything is sent. Values
  are never requested: no ``GetSecretValue``, no ``GetParameter``. The one
  place values pass through memory is Lambda/ECS environment variables (AWS
  returns them in the listing); they are scanned there and only the variable
  name, the location and a keyed fingerprint are kept.
- Accounts x regions x services run as independent tasks on one bounded
  thread pool (``store.concurrency``); per-item fan-out (resource policies,
  key details) goes onto the same pool, so no task ever waits on another.
- botocore adaptive retries absorb throttling. A call that still fails is a
  `CoverageGap` (account/region, service, operation, reason), never skipped.
  Only a store that cannot be assessed at all raises `CollectionError`.

``ctx.options`` knobs: ``aws_parameter_tags`` (read SSM parameter tags, one
call per parameter; default off), ``aws_max_attempts`` (8),
``aws_connect_timeout`` (5 s), ``aws_read_timeout`` (30 s).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    ReadTimeoutError,
)

from collectors.aws_guard import ReadOnlyGuard
from collectors.base import CollectContext
from posture.model.engagement import AwsAccount, AwsStore
from posture.model.errors import CollectionError, ConfigError
from posture.model.records import (
    AccessKey,
    Certificate,
    Key,
    Mount,
    Policy,
    PolicyRule,
    Principal,
    Secret,
    Server,
    SourceFinding,
    Trail,
)

SERVICES = ("secretsmanager", "kms", "iam", "ssm", "acm", "lambda", "ecs", "cloudtrail")
GLOBAL_REGION = "us-east-1"  # IAM/STS are global; their calls go to this region's endpoint

# Tables each service fills: what a gap of that service makes incomplete.
TABLES: dict[str, list[str]] = {
    "secretsmanager": ["secret", "policy", "policy_rule"],
    "kms": ["key", "policy", "policy_rule"],
    "iam": ["principal", "access_key", "policy", "policy_rule"],
    "ssm": ["secret"],
    "acm": ["certificate"],
    "lambda": ["source_finding"],
    "ecs": ["source_finding"],
    "cloudtrail": ["trail"],
    "sts": ["server", "secret", "key", "principal", "access_key", "policy", "policy_rule",
            "certificate", "source_finding", "trail"],
    "ec2": ["secret", "key", "certificate", "source_finding", "trail"],
}

DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "UnauthorizedAccess", "AuthorizationErrorException", "Forbidden",
}
BAD_CREDENTIAL_CODES = {
    "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
    "InvalidAccessKeyId", "ExpiredToken", "ExpiredTokenException", "RequestExpired",
    "InvalidToken", "AuthFailure",
}
UNSUPPORTED_CODES = {"NotImplemented", "InvalidAction", "UnknownOperationException", "UnsupportedOperation"}


@dataclass
class Account:
    """One AWS account as the collector reaches it."""

    id: str
    name: str
    session: boto3.Session
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)


def _utc(v: Any) -> datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(v, tz=UTC)
    if isinstance(v, str):
        if v in ("N/A", "no_information", "not_supported"):
            return None
        try:
            return _utc(datetime.fromisoformat(v))  # 3.11 parses a trailing Z
        except ValueError:
            return None
    return None


def _tags(items: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for t in items or []:
        k = t.get("Key", t.get("TagKey"))
        if k is not None:
            out[str(k)] = str(t.get("Value", t.get("TagValue", "")))
    return out


def _listify(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _document(doc: Any) -> dict[str, Any] | None:
    """A policy document as a dict (botocore decodes IAM's; others arrive as JSON text)."""
    if doc is None:
        return None
    if isinstance(doc, dict):
        return doc
    try:
        from urllib.parse import unquote

        text = doc if doc.lstrip().startswith("{") else unquote(doc)
        parsed = json.loads(text)
        return parsed if isinstance(parsed, dict) else None
    except (ValueError, AttributeError):
        return None


def _principals(p: Any) -> list[str]:
    """Flatten a statement's Principal into ``TYPE:value`` strings (``*`` stays ``*``)."""
    if p is None:
        return []
    if p == "*":
        return ["*"]
    if isinstance(p, dict):
        return [f"{kind}:{v}" for kind, vals in sorted(p.items()) for v in _listify(vals)]
    return [str(x) for x in _listify(p)]


# --- Secrets in configuration: in-memory only ------------------------------------------

_NAME_RULE = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|private[_-]?key|credential|auth|"
    r"access[_-]?key|client[_-]?secret|conn(ection)?[_-]?str|dsn|signing[_-]?key)",
    re.IGNORECASE,
)
_REFERENCE = re.compile(
    r"^(arn:aws[\w-]*:(secretsmanager|ssm|kms):|\{\{resolve:|ssm:|/aws/reference/|"
    r"\$\{|vault:|https?://[^:@/]+(/|$))",
    re.IGNORECASE,
)


def _regex_detectors() -> list[Any]:
    """detect-secrets' pattern plugins (no entropy/keyword: those need context we apply ourselves)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    skip = {"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword", "Public IP (ipv4)"}
    return [cls() for t, cls in get_mapping_from_secret_type_to_class().items() if t not in skip]


_DETECTORS: list[Any] | None = None
_DETECTORS_LOCK = threading.Lock()


def classify_env_value(name: str, value: str) -> str | None:
    """Which rule says ``value`` (of variable ``name``) is a secret; ``None`` if none does.

    Order: a detect-secrets pattern plugin (AWS key, GitHub token, private
    key, ...), then a secret-looking variable name with a literal value, then
    a long high-entropy value. References to a secret store are not secrets.
    """
    global _DETECTORS
    value = (value or "").strip()
    if len(value) < 8 or _REFERENCE.match(value):
        return None
    with _DETECTORS_LOCK:
        if _DETECTORS is None:
            _DETECTORS = _regex_detectors()
        detectors = _DETECTORS
    for det in detectors:
        try:
            if any(True for _ in det.analyze_string(value)):
                return str(det.secret_type)
        except Exception:  # noqa: BLE001, S112 - a plugin choking on odd input is not a finding
            continue
    if _NAME_RULE.search(name):
        return "Secret Keyword"
    if len(value) >= 24 and " " not in value and _entropy(value) >= 4.2:
        return "High Entropy String"
    return None


def _entropy(s: str) -> float:
    import math
    from collections import Counter

    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _public_prefix(value: str) -> str | None:
    m = re.match(r"^(AKIA|ASIA|ghp_|gho_|ghs_|github_pat_|xox[abp]-|sk_live_|rk_live_|glpat-)", value)
    return m.group(1) if m else None


# --- The collector -----------------------------------------------------------------------


class _Pool:
    """A bounded pool where tasks may enqueue more tasks; ``drain`` waits for all of them."""

    def __init__(self, workers: int, on_done: Callable[[int], None], on_add: Callable[[int], None]):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="posture-aws")
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._on_done = on_done
        self._on_add = on_add

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        fut = self._pool.submit(fn, *args)
        with self._lock:
            self._futures.add(fut)
        self._on_add(1)

    def drain(self) -> None:
        try:
            while True:
                with self._lock:
                    pending = set(self._futures)
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                with self._lock:
                    self._futures -= done
                for fut in done:
                    self._on_done(1)
                    exc = fut.exception()
                    if exc is not None:  # a bug or a guard violation: stop everything
                        raise exc
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


class AwsCollector:
    """Reads one engagement AWS store (one or more accounts x regions)."""

    source: ClassVar[str] = "aws"
    version: ClassVar[str] = "1.0.0"

    def __init__(self, store: AwsStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        self.guard = ReadOnlyGuard()
        self.endpoint_url = store.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        unknown = sorted(set(store.services or []) - set(SERVICES))
        if unknown:
            raise ConfigError(
                f"aws store {store.name}: unknown service(s) {', '.join(unknown)} "
                f"(known: {', '.join(SERVICES)})"
            )
        self.services = [s for s in SERVICES if not store.services or s in store.services]
        self.config = Config(
            retries={"mode": "adaptive", "max_attempts": int(ctx.options.get("aws_max_attempts", 8))},
            max_pool_connections=max(10, store.concurrency * 2),
            connect_timeout=float(ctx.options.get("aws_connect_timeout", 5)),
            read_timeout=float(ctx.options.get("aws_read_timeout", 30)),
            user_agent_extra="secrets-posture-kit",
        )
        self._client_lock = threading.Lock()
        self._pool: _Pool | None = None
        self._task_id: Any = None

    # -- plumbing -----------------------------------------------------------------------

    def _client(self, acct: Account, service: str, region: str) -> Any:
        """A guarded, cached client (creating clients is not thread-safe; using them is)."""
        key = (service, region)
        with self._client_lock:
            client = acct.clients.get(key)
            if client is None:
                client = acct.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self.config
                )
                self.guard.install(client)
                acct.clients[key] = client
            return client

    def _gap(self, acct_id: str, region: str, service: str, operation: str, exc: BaseException,
             tables: list[str] | None = None, what: str | None = None) -> None:
        reason, detail = _classify(exc)
        if service == "iam":
            region = "global"  # IAM has one endpoint per partition, whatever region the client names
        if what:
            detail = f"{what}: {detail}"
        self.ctx.sink.gap(
            store=self.store.name,
            source="aws",
            tables=tables or TABLES.get(service, []),
            scope=f"{acct_id}/{region}",
            service=service,
            operation=operation,
            reason=reason,
            detail=detail,
        )

    def _call(self, acct: Account, region: str, service: str, op: str, what: str | None = None,
              tables: list[str] | None = None, **params: Any) -> dict[str, Any] | None:
        """One API call; a failure becomes a gap and ``None``."""
        client = self._client(acct, service, region)
        try:
            return getattr(client, _snake(op))(**params)
        except (ClientError, BotoCoreError) as e:
            self._gap(acct.id, region, service, f"{service}:{op}", e, tables, what)
            return None

    def _pages(self, acct: Account, region: str, service: str, op: str, key: str,
               tables: list[str] | None = None, **params: Any) -> tuple[list[Any], bool]:
        """All items under ``key`` across pages; ``complete`` is False if a page failed."""
        client = self._client(acct, service, region)
        items: list[Any] = []
        try:
            for page in client.get_paginator(_snake(op)).paginate(**params):
                items.extend(page.get(key, []))
        except (ClientError, BotoCoreError) as e:
            self._gap(acct.id, region, service, f"{service}:{op}", e, tables)
            return items, False
        return items, True

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self._pool is not None
        self._pool.submit(fn, *args)

    # -- connection ---------------------------------------------------------------------

    def _base_session(self) -> boto3.Session:
        try:
            return boto3.Session(profile_name=self.store.profile) if self.store.profile else boto3.Session()
        except ProfileNotFound as e:
            raise CollectionError(f"aws store {self.store.name}: {e}") from None

    def _session_name(self) -> str:
        raw = f"posture-{self.ctx.engagement.client}-{self.ctx.as_of:%Y%m%d}"
        return re.sub(r"[^\w+=,.@-]", "-", raw)[:64]

    def _assumed_session(self, base: boto3.Session, account: AwsAccount) -> boto3.Session:
        """A session whose credentials re-assume the role before they expire."""
        sts = base.client("sts", region_name=self._home_region(base), endpoint_url=self.endpoint_url,
                          config=self.config)
        self.guard.install(sts)
        params: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": self._session_name()}
        if account.external_id:
            params["ExternalId"] = account.external_id

        def fetch() -> dict[str, str]:
            c = sts.assume_role(**params)["Credentials"]
            return {
                "access_key": c["AccessKeyId"],
                "secret_key": c["SecretAccessKey"],
                "token": c["SessionToken"],
                "expiry_time": _utc(c["Expiration"]).isoformat(),  # type: ignore[union-attr]
            }

        creds = RefreshableCredentials.create_from_metadata(fetch(), fetch, "sts-assume-role")
        bs = botocore.session.get_session()
        bs._credentials = creds  # the documented way to hand botocore ready credentials
        return boto3.Session(botocore_session=bs, region_name=self._home_region(base))

    def _home_region(self, base: boto3.Session) -> str:
        if isinstance(self.store.regions, list) and self.store.regions:
            return self.store.regions[0]
        return base.region_name or GLOBAL_REGION

    def _identity(self, session: boto3.Session) -> str:
        """The account id behind ``session`` (GetCallerIdentity needs no permission)."""
        sts = session.client("sts", region_name=self._home_region(session),
                             endpoint_url=self.endpoint_url, config=self.config)
        self.guard.install(sts)
        return str(sts.get_caller_identity()["Account"])

    def _accounts(self, base: boto3.Session) -> list[Account]:
        accounts: list[Account] = []
        if not self.store.accounts:
            try:
                acct_id = self._identity(base)
            except NoCredentialsError:
                raise
            except (ClientError, BotoCoreError) as e:
                raise CollectionError(f"aws store {self.store.name}: cannot authenticate: {_one_line(e)}") from None
            return [Account(id=acct_id, name=acct_id, session=base)]
        failures: list[str] = []
        for a in self.store.accounts:
            label = a.id or a.role_arn.split(":")[4]
            try:
                session = self._assumed_session(base, a)
                acct_id = self._identity(session)
            except NoCredentialsError:
                raise
            except (ClientError, BotoCoreError) as e:
                failures.append(f"{a.role_arn}: {_one_line(e)}")
                self.ctx.sink.gap(
                    store=self.store.name, source="aws", tables=TABLES["sts"], scope=label,
                    service="sts", operation="sts:AssumeRole", reason=_classify(e)[0],
                    detail=f"{a.role_arn}: {_one_line(e)}",
                )
                continue
            accounts.append(Account(id=acct_id, name=a.name or acct_id, session=session))
        if not accounts:
            raise CollectionError(
                f"aws store {self.store.name}: no account could be reached: {failures[0]}"
                + (f" (+{len(failures) - 1} more)" if len(failures) > 1 else "")
            )
        return accounts

    def _regions(self, acct: Account) -> list[str]:
        if self.store.regions != "all":
            return list(self.store.regions)
        home = acct.session.region_name or GLOBAL_REGION
        resp = self._call(acct, home, "ec2", "DescribeRegions", AllRegions=False)
        if resp is None:
            return [home]  # the gap is recorded; collect what we can reach
        return sorted(r["RegionName"] for r in resp.get("Regions", []))

    # -- run ------------------------------------------------------------------------------

    def run(self) -> None:
        base = self._base_session()
        try:
            accounts = self._accounts(base)
        except NoCredentialsError:
            raise CollectionError(
                f"aws store {self.store.name}: no AWS credentials found "
                "(environment, profile, SSO or instance role)"
            ) from None
        except NoRegionError:
            raise CollectionError(f"aws store {self.store.name}: no region configured") from None
        progress = self.ctx.progress
        if progress is not None:
            self._task_id = progress.add_task(f"aws {self.store.name}", total=0)
        total = [0]
        total_lock = threading.Lock()

        def on_add(n: int) -> None:  # fan-out grows the bar's total as work is discovered
            if progress is not None:
                with total_lock:
                    total[0] += n
                    progress.update(self._task_id, total=total[0])

        def on_done(n: int) -> None:
            if progress is not None:
                progress.advance(self._task_id, n)

        self._pool = _Pool(self.store.concurrency, on_done, on_add)
        for acct in accounts:
            self._submit(self._collect_account, acct)
        self._pool.drain()
        self._link_replicas()

    def _link_replicas(self) -> None:
        """Fill primaries' ``replica_regions`` from the replicas seen in other regions.

        ListSecrets shows a replica (with ``PrimaryRegion``) in its own region but
        not the replication status on the primary; linking them here saves a
        DescribeSecret per secret. Only collected regions can be linked.
        """
        rows = [r for r in self.ctx.sink.rows("secret") if isinstance(r, Secret) and r.store == self.store.name
                and r.kind == "secretsmanager"]
        by_arn = {r.arn: r for r in rows}
        for r in rows:
            if r.primary_region and r.region and r.primary_region != r.region and r.arn:
                primary = by_arn.get(r.arn.replace(f":{r.region}:", f":{r.primary_region}:", 1))
                if primary is not None and r.region not in primary.replica_regions:
                    primary.replica_regions = sorted([*primary.replica_regions, r.region])

    def _collect_account(self, acct: Account) -> None:
        regions = self._regions(acct)
        self.ctx.sink.add(Server(
            id=f"aws-account:{acct.id}", store=self.store.name, source="aws",
            address=acct.id, product="aws-account", namespace=acct.name,
        ))
        if "iam" in self.services:
            self._submit(self._iam, acct)
        per_region = {
            "secretsmanager": self._secretsmanager, "kms": self._kms, "ssm": self._ssm,
            "acm": self._acm, "lambda": self._lambda, "ecs": self._ecs, "cloudtrail": self._cloudtrail,
        }
        for region in regions:
            for service, fn in per_region.items():
                if service in self.services:
                    self._submit(fn, acct, region)

    # -- policies -------------------------------------------------------------------------

    def _add_policy(self, policy_id: str, name: str, kind: str, doc: Any,
                    attached_to: str | None, default_resource: str = "*") -> None:
        parsed = _document(doc)
        self.ctx.sink.add(Policy(
            id=policy_id, store=self.store.name, source="aws", name=name, kind=kind,
            attached_to=attached_to,
            document=json.dumps(parsed, sort_keys=True) if parsed is not None else None,
        ))
        if parsed is None:
            return
        for i, st in enumerate(_listify(parsed.get("Statement"))):
            if not isinstance(st, dict):
                continue
            not_action = "NotAction" in st
            actions = [str(a) for a in _listify(st.get("NotAction" if not_action else "Action"))]
            not_resource = "NotResource" in st
            resources = [str(r) for r in _listify(st.get("NotResource" if not_resource else "Resource"))]
            if not resources:
                resources = [default_resource]
            for j, res in enumerate(resources):
                self.ctx.sink.add(PolicyRule(
                    id=f"{policy_id}#{i}.{j}", store=self.store.name, source="aws",
                    policy_id=policy_id, policy=name, path=res, capabilities=actions,
                    effect="deny" if str(st.get("Effect", "Allow")).lower() == "deny" else "allow",
                    wildcard="*" in res or any("*" in a for a in actions) or not_action or not_resource,
                    wildcard_all=res == "*" and not not_resource,
                    principals=_principals(st.get("Principal", st.get("NotPrincipal"))),
                    conditions=st.get("Condition") or {},
                    not_action=not_action, not_resource=not_resource, sid=st.get("Sid"),
                ))

    # -- Secrets Manager ------------------------------------------------------------------

    def _secretsmanager(self, acct: Account, region: str) -> None:
        items, complete = self._pages(acct, region, "secretsmanager", "ListSecrets", "SecretList",
                                      IncludePlannedDeletion=True)
        self.ctx.sink.add(Mount(
            id=f"aws:{acct.id}:{region}:secretsmanager", store=self.store.name, source="aws",
            path=f"{acct.id}/{region}/secretsmanager", type="secretsmanager",
            description=None if complete else "listing incomplete (see coverage gaps)",
        ))
        for s in items:
            self._submit(self._secret, acct, region, s)

    def _secret(self, acct: Account, region: str, s: dict[str, Any]) -> None:
        arn = s["ARN"]
        rules = s.get("RotationRules") or {}
        replica = bool(s.get("PrimaryRegion")) and s.get("PrimaryRegion") != region
        # A replica's policy lives with its primary (and AWS refuses the call on replicas).
        resp = None if replica else self._call(
            acct, region, "secretsmanager", "GetResourcePolicy", what=s.get("Name"),
            tables=["policy", "policy_rule"], SecretId=arn)
        has_policy: bool | None = None
        if resp is not None:
            has_policy = bool(resp.get("ResourcePolicy"))
            if has_policy:
                self._add_policy(f"{arn}/resource-policy", s["Name"], "secret_resource",
                                 resp["ResourcePolicy"], arn, default_resource=arn)
        schedule = rules.get("ScheduleExpression")
        if schedule and rules.get("Duration"):
            schedule = f"{schedule} (window {rules['Duration']})"
        self.ctx.sink.add(Secret(
            id=arn, store=self.store.name, source="aws", kind="secretsmanager",
            path=s["Name"], name=s["Name"], region=region, account=acct.id, arn=arn,
            description=s.get("Description"),
            created_at=_utc(s.get("CreatedDate")),
            updated_at=_utc(s.get("LastChangedDate")),
            last_rotated_at=_utc(s.get("LastRotatedDate")),
            last_accessed_at=_utc(s.get("LastAccessedDate")),
            deleted_at=_utc(s.get("DeletedDate")),
            version_count=len(s.get("SecretVersionsToStages") or {}) or None,
            rotation_enabled=bool(s.get("RotationEnabled", False)),
            rotation_interval_days=rules.get("AutomaticallyAfterDays"),
            rotation_schedule=schedule,
            rotation_function=s.get("RotationLambdaARN") or None,
            next_rotation_at=_utc(s.get("NextRotationDate")),
            kms_key_id=s.get("KmsKeyId") or "alias/aws/secretsmanager",
            customer_managed_key=bool(s.get("KmsKeyId")) and "alias/aws/" not in str(s.get("KmsKeyId")),
            encrypted=True,
            owning_service=s.get("OwningService"),
            primary_region=s.get("PrimaryRegion"),
            replica_regions=sorted(r.get("Region") for r in s.get("ReplicationStatus") or [] if r.get("Region")),
            has_resource_policy=has_policy,
            tags=_tags(s.get("Tags")),
        ))

    # -- KMS ------------------------------------------------------------------------------

    def _kms(self, acct: Account, region: str) -> None:
        keys, _ = self._pages(acct, region, "kms", "ListKeys", "Keys")
        aliases, _ = self._pages(acct, region, "kms", "ListAliases", "Aliases", tables=["key"])
        by_key: dict[str, list[str]] = {}
        for a in aliases:
            if a.get("TargetKeyId"):
                by_key.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
        for k in keys:
            self._submit(self._key, acct, region, k, sorted(by_key.get(k["KeyId"], [])))

    def _key(self, acct: Account, region: str, k: dict[str, Any], aliases: list[str]) -> None:
        key_id = k["KeyId"]
        resp = self._call(acct, region, "kms", "DescribeKey", what=key_id, KeyId=key_id)
        if resp is None:
            return
        m = resp["KeyMetadata"]
        arn = m.get("Arn") or k.get("KeyArn")
        customer = m.get("KeyManager") == "CUSTOMER"
        spec = m.get("KeySpec") or m.get("CustomerMasterKeySpec")
        state = m.get("KeyState")
        rotation_supported = (
            spec == "SYMMETRIC_DEFAULT" and m.get("Origin", "AWS_KMS") == "AWS_KMS"
            and state not in ("PendingDeletion", "PendingImport")
        )
        rotation_enabled: bool | None = None
        period: int | None = None
        next_rotation = None
        tags: dict[str, str] = {}
        if not customer:
            rotation_enabled, period = True, 365  # AWS rotates AWS-managed keys yearly
        elif rotation_supported:
            rot = self._call(acct, region, "kms", "GetKeyRotationStatus", what=key_id, KeyId=key_id)
            if rot is not None:
                rotation_enabled = bool(rot.get("KeyRotationEnabled"))
                period = rot.get("RotationPeriodInDays") or (365 if rotation_enabled else None)
                next_rotation = _utc(rot.get("NextRotationDate"))
        else:
            rotation_enabled = False  # asymmetric/HMAC/imported keys cannot rotate automatically
        if customer:
            pol = self._call(acct, region, "kms", "GetKeyPolicy", what=key_id,
                             tables=["policy", "policy_rule"], KeyId=key_id, PolicyName="default")
            if pol is not None and pol.get("Policy"):
                self._add_policy(f"{arn}/key-policy", aliases[0] if aliases else key_id, "kms_key",
                                 pol["Policy"], arn, default_resource=arn)
            t = self._call(acct, region, "kms", "ListResourceTags", what=key_id, tables=["key"], KeyId=key_id)
            if t is not None:
                tags = _tags(t.get("Tags"))
        self.ctx.sink.add(Key(
            id=arn, store=self.store.name, source="aws", kind="kms",
            name=aliases[0] if aliases else key_id, region=region, account=acct.id, arn=arn,
            manager=m.get("KeyManager"), state=state, spec=spec, usage=m.get("KeyUsage"),
            created_at=_utc(m.get("CreationDate")),
            rotation_enabled=rotation_enabled, rotation_period_days=period,
            rotation_supported=rotation_supported, next_rotation_at=next_rotation,
            origin=m.get("Origin"), multi_region=m.get("MultiRegion"),
            deletion_at=_utc(m.get("DeletionDate")), description=m.get("Description") or None,
            aliases=aliases, tags=tags,
        ))

    # -- IAM ------------------------------------------------------------------------------

    def _iam(self, acct: Account) -> None:
        region = GLOBAL_REGION
        report = self._credential_report(acct)
        details: dict[str, list[Any]] = {"UserDetailList": [], "GroupDetailList": [],
                                         "RoleDetailList": [], "Policies": []}
        client = self._client(acct, "iam", region)
        try:
            for page in client.get_paginator("get_account_authorization_details").paginate(
                Filter=["User", "Role", "Group", "LocalManagedPolicy"]
            ):
                for k, items in details.items():
                    items.extend(page.get(k, []))
        except (ClientError, BotoCoreError) as e:
            self._gap(acct.id, "global", "iam", "iam:GetAccountAuthorizationDetails", e)

        # Managed policies: local ones carry their versions; AWS ones only if attached.
        for p in details["Policies"]:
            doc = next((v.get("Document") for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
            name = p.get("PolicyName") or p["Arn"].rsplit("/", 1)[-1]
            self._add_policy(p["Arn"], name, "iam_managed", doc, None)
        attached = {
            ap["PolicyArn"]
            for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList")
            for e in details[kind]
            for ap in e.get("AttachedManagedPolicies", [])
        }
        local = {p["Arn"] for p in details["Policies"]}
        aws_managed = attached - local
        if aws_managed:
            pols, _ = self._pages(acct, region, "iam", "ListPolicies", "Policies",
                                  tables=["policy", "policy_rule"], Scope="AWS", OnlyAttached=True)
            for p in pols:
                if p["Arn"] in aws_managed:
                    self._submit(self._aws_managed_policy, acct, p)

        groups_of: dict[str, list[str]] = {}
        for u in details["UserDetailList"]:
            groups_of[u["Arn"]] = list(u.get("GroupList", []))
        for g in details["GroupDetailList"]:
            pids = self._inline(g["Arn"], g.get("GroupPolicyList", []), "PolicyName", "PolicyDocument")
            pids += [ap["PolicyArn"] for ap in g.get("AttachedManagedPolicies", [])]
            members = sorted(a for a, gs in groups_of.items() if g["GroupName"] in gs)
            self.ctx.sink.add(Principal(
                id=g["Arn"], store=self.store.name, source="aws", name=g["GroupName"], kind="iam_group",
                arn=g["Arn"], account=acct.id, created_at=_utc(g.get("CreateDate")),
                policies=pids, members=members,
            ))
        key_users: list[str] = []
        for u in details["UserDetailList"]:
            row = report.get(u["UserName"], {})
            pids = self._inline(u["Arn"], u.get("UserPolicyList", []), "PolicyName", "PolicyDocument")
            pids += [ap["PolicyArn"] for ap in u.get("AttachedManagedPolicies", [])]
            last_used = [t for t in (_utc(row.get("password_last_used")),
                                     _utc(row.get("access_key_1_last_used_date")),
                                     _utc(row.get("access_key_2_last_used_date"))) if t]
            self.ctx.sink.add(Principal(
                id=u["Arn"], store=self.store.name, source="aws", name=u["UserName"], kind="iam_user",
                arn=u["Arn"], account=acct.id, created_at=_utc(u.get("CreateDate")),
                policies=pids, groups=list(u.get("GroupList", [])),
                password_enabled=_bool(row.get("password_enabled")),
                password_last_used=_utc(row.get("password_last_used")),
                password_last_changed=_utc(row.get("password_last_changed")),
                mfa_active=_bool(row.get("mfa_active")),
                last_used_at=max(last_used) if last_used else None,
                tags=_tags(u.get("Tags")),
            ))
            if not row or any(row.get(f"access_key_{n}_last_rotated") not in (None, "", "N/A") for n in (1, 2)):
                key_users.append(u["UserName"])
        for name in key_users:
            self._submit(self._access_keys, acct, name, report.get(name, {}))
        for r in details["RoleDetailList"]:
            self._role(acct, r)
        root = report.get("<root_account>")
        if root:
            self._root(acct, root)
        self._oidc(acct)

    def _credential_report(self, acct: Account) -> dict[str, dict[str, str]]:
        """The credential report by user name ('<root_account>' for root); {} on a gap."""
        client = self._client(acct, "iam", GLOBAL_REGION)
        try:
            delay = 0.1
            for _ in range(25):  # AWS builds the report in seconds; poll with backoff up to ~1 min
                if client.generate_credential_report().get("State") == "COMPLETE":
                    break
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            raw = client.get_credential_report()["Content"]
        except (ClientError, BotoCoreError) as e:
            op = "iam:GetCredentialReport" if "GetCredentialReport" in str(e) else "iam:GenerateCredentialReport"
            self._gap(acct.id, "global", "iam", op, e, tables=["principal", "access_key"])
            return {}
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        return {row["user"]: row for row in csv.DictReader(io.StringIO(text))}

    def _inline(self, owner_arn: str, items: list[dict[str, Any]], name_key: str, doc_key: str) -> list[str]:
        ids = []
        for p in items:
            pid = f"{owner_arn}/inline/{p[name_key]}"
            self._add_policy(pid, p[name_key], "iam_inline", p.get(doc_key), owner_arn)
            ids.append(pid)
        return ids

    def _aws_managed_policy(self, acct: Account, p: dict[str, Any]) -> None:
        resp = self._call(acct, GLOBAL_REGION, "iam", "GetPolicyVersion", what=p["Arn"],
                          tables=["policy", "policy_rule"], PolicyArn=p["Arn"],
                          VersionId=p["DefaultVersionId"])
        doc = resp["PolicyVersion"].get("Document") if resp else None
        self._add_policy(p["Arn"], p["PolicyName"], "iam_managed", doc, None)

    def _access_keys(self, acct: Account, user: str, row: dict[str, str]) -> None:
        resp = self._call(acct, GLOBAL_REGION, "iam", "ListAccessKeys", what=user,
                          tables=["access_key"], UserName=user)
        if resp is None:
            return
        keys = sorted(resp.get("AccessKeyMetadata", []), key=lambda k: _utc(k.get("CreateDate")) or datetime.min.replace(tzinfo=UTC))
        slots = {n: _utc(row.get(f"access_key_{n}_last_rotated")) for n in (1, 2)}
        for i, k in enumerate(keys):
            created = _utc(k.get("CreateDate"))
            # The report numbers keys 1/2 by creation; match on the creation time, else order.
            n = next((n for n, t in slots.items() if t and created and abs((t - created).total_seconds()) < 2), i + 1)
            principal = f"arn:aws:iam::{acct.id}:user/{user}"
            self.ctx.sink.add(AccessKey(
                id=f"arn:aws:iam::{acct.id}:user/{user}/access-key/{k['AccessKeyId']}",
                store=self.store.name, source="aws", principal=principal, key_id=k["AccessKeyId"],
                active=k.get("Status") == "Active", created_at=created,
                last_used_at=_utc(row.get(f"access_key_{n}_last_used_date")),
                last_used_service=_none_na(row.get(f"access_key_{n}_last_used_service")),
                last_used_region=_none_na(row.get(f"access_key_{n}_last_used_region")),
                account=acct.id,
            ))

    def _root(self, acct: Account, row: dict[str, str]) -> None:
        arn = f"arn:aws:iam::{acct.id}:root"
        self.ctx.sink.add(Principal(
            id=arn, store=self.store.name, source="aws", name="<root_account>", kind="root",
            arn=arn, account=acct.id, created_at=_utc(row.get("user_creation_time")),
            password_enabled=_bool(row.get("password_enabled")),
            password_last_used=_utc(row.get("password_last_used")),
            mfa_active=_bool(row.get("mfa_active")),
        ))
        for n in (1, 2):
            if _bool(row.get(f"access_key_{n}_active")):
                # The report is the only source of root keys; their ids are not exposed.
                self.ctx.sink.add(AccessKey(
                    id=f"{arn}/access-key/{n}", store=self.store.name, source="aws", principal=arn,
                    key_id=f"root-key-{n}", active=True, is_root=True,
                    created_at=_utc(row.get(f"access_key_{n}_last_rotated")),
                    last_used_at=_utc(row.get(f"access_key_{n}_last_used_date")),
                    last_used_service=_none_na(row.get(f"access_key_{n}_last_used_service")),
                    account=acct.id,
                ))

    def _role(self, acct: Account, r: dict[str, Any]) -> None:
        arn = r["Arn"]
        pids = self._inline(arn, r.get("RolePolicyList", []), "PolicyName", "PolicyDocument")
        pids += [ap["PolicyArn"] for ap in r.get("AttachedManagedPolicies", [])]
        trust = _document(r.get("AssumeRolePolicyDocument"))
        trust_principals: list[str] = []
        trust_conditions: dict[str, Any] = {}
        if trust is not None:
            self._add_policy(f"{arn}/trust", r["RoleName"], "trust", trust, arn, default_resource=arn)
            for st in _listify(trust.get("Statement")):
                if isinstance(st, dict) and str(st.get("Effect", "Allow")).lower() == "allow":
                    trust_principals += _principals(st.get("Principal"))
                    for op, cond in (st.get("Condition") or {}).items():
                        trust_conditions.setdefault(op, {}).update(cond if isinstance(cond, dict) else {})
        last = (r.get("RoleLastUsed") or {}).get("LastUsedDate")
        self.ctx.sink.add(Principal(
            id=arn, store=self.store.name, source="aws", name=r["RoleName"], kind="iam_role",
            arn=arn, account=acct.id, created_at=_utc(r.get("CreateDate")), policies=pids,
            trust_principals=sorted(set(trust_principals)), trust_conditions=trust_conditions,
            last_used_at=_utc(last), tags=_tags(r.get("Tags")),
            max_session_seconds=r.get("MaxSessionDuration"),
        ))

    def _oidc(self, acct: Account) -> None:
        resp = self._call(acct, GLOBAL_REGION, "iam", "ListOpenIDConnectProviders", tables=["principal"])
        for p in (resp or {}).get("OpenIDConnectProviderList", []):
            arn = p["Arn"]
            d = self._call(acct, GLOBAL_REGION, "iam", "GetOpenIDConnectProvider", what=arn,
                           tables=["principal"], OpenIDConnectProviderArn=arn)
            if d is None:
                continue
            url = d.get("Url") or arn.split("oidc-provider/", 1)[-1]
            self.ctx.sink.add(Principal(
                id=arn, store=self.store.name, source="aws", name=url, kind="oidc_provider",
                arn=arn, account=acct.id, created_at=_utc(d.get("CreateDate")),
                aliases=list(d.get("ClientIDList", [])), tags=_tags(d.get("Tags")),
            ))

    # -- SSM Parameter Store ----------------------------------------------------------------

    def _ssm(self, acct: Account, region: str) -> None:
        params, complete = self._pages(acct, region, "ssm", "DescribeParameters", "Parameters")
        self.ctx.sink.add(Mount(
            id=f"aws:{acct.id}:{region}:ssm", store=self.store.name, source="aws",
            path=f"{acct.id}/{region}/ssm", type="ssm_parameter_store",
            description=None if complete else "listing incomplete (see coverage gaps)",
        ))
        # Tags cost one call per parameter (no batch API in SSM); paths carry the
        # environment by convention, so tags are opt-in.
        with_tags = bool(self.ctx.options.get("aws_parameter_tags", False))
        for p in params:
            if with_tags:
                self._submit(self._parameter, acct, region, p, True)
            else:
                self._parameter(acct, region, p, False)

    def _parameter(self, acct: Account, region: str, p: dict[str, Any], with_tags: bool) -> None:
        name = p["Name"]
        arn = p.get("ARN") or f"arn:aws:ssm:{region}:{acct.id}:parameter/{name.lstrip('/')}"
        tags: dict[str, str] = {}
        if with_tags:
            t = self._call(acct, region, "ssm", "ListTagsForResource", what=name, tables=["secret"],
                           ResourceType="Parameter", ResourceId=name)
            tags = _tags((t or {}).get("TagList"))
        modified = _utc(p.get("LastModifiedDate"))
        self.ctx.sink.add(Secret(
            id=arn, store=self.store.name, source="aws", kind="ssm_parameter",
            path=name, name=name, region=region, account=acct.id, arn=arn,
            description=p.get("Description"),
            updated_at=modified,
            last_rotated_at=modified,  # a parameter's value only changes by a new version
            current_version=p.get("Version"),
            kms_key_id=p.get("KeyId"),
            customer_managed_key=bool(p.get("KeyId")) and "alias/aws/" not in str(p.get("KeyId")),
            encrypted=p.get("Type") == "SecureString",
            parameter_type=p.get("Type"), tier=p.get("Tier"),
            rotation_enabled=False,  # Parameter Store has no rotation
            tags=tags,
        ))

    # -- ACM ------------------------------------------------------------------------------

    def _acm(self, acct: Account, region: str) -> None:
        key_types = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1",
                     "EC_secp384r1", "EC_secp521r1"]
        certs, _ = self._pages(acct, region, "acm", "ListCertificates", "CertificateSummaryList",
                               Includes={"keyTypes": key_types})
        for c in certs:
            self._submit(self._certificate, acct, region, c)

    def _certificate(self, acct: Account, region: str, c: dict[str, Any]) -> None:
        arn = c["CertificateArn"]
        resp = self._call(acct, region, "acm", "DescribeCertificate", what=arn, CertificateArn=arn)
        if resp is None:
            return
        d = resp["Certificate"]
        self.ctx.sink.add(Certificate(
            id=arn, store=self.store.name, source="aws", serial=d.get("Serial"),
            subject=d.get("Subject"), domains=list(d.get("SubjectAlternativeNames") or [d.get("DomainName")]),
            issuer=d.get("Issuer"), not_before=_utc(d.get("NotBefore")), not_after=_utc(d.get("NotAfter")),
            region=region, arn=arn, in_use=bool(d.get("InUseBy")),
            renewal_eligible=(d["RenewalEligibility"] == "ELIGIBLE") if d.get("RenewalEligibility") else None,
            managed_renewal=d.get("Type") == "AMAZON_ISSUED" if d.get("Type") else None,
            revoked=d.get("Status") == "REVOKED" or bool(d.get("RevokedAt")),
            key_algorithm=d.get("KeyAlgorithm"), status=d.get("Status"), type=d.get("Type"),
            account=acct.id,
        ))

    # -- Secrets in Lambda / ECS configuration ----------------------------------------------

    def _env_finding(self, acct: Account, region: str, resource: str, location: str,
                     name: str, value: str, kind: str) -> None:
        detector = classify_env_value(name, value)
        if detector is None:
            return
        self.ctx.sink.add(SourceFinding(
            id=f"{location}#env:{name}", store=self.store.name, source="aws", repo=resource,
            category="config_env", detector=detector, path=location, in_tree=True,
            fingerprint=self.ctx.fingerprint(value), variable=name,
            public_prefix=_public_prefix(value), refs=[kind, f"{acct.id}/{region}"],
            message=f"{kind} environment variable {name} holds a literal secret",
        ))

    def _lambda(self, acct: Account, region: str) -> None:
        fns, _ = self._pages(acct, region, "lambda", "ListFunctions", "Functions")
        for f in fns:
            env = ((f.get("Environment") or {}).get("Variables")) or {}
            for name, value in env.items():
                self._env_finding(acct, region, f["FunctionArn"], f["FunctionArn"], name, value, "lambda")

    def _ecs(self, acct: Account, region: str) -> None:
        arns, _ = self._pages(acct, region, "ecs", "ListTaskDefinitions", "taskDefinitionArns", status="ACTIVE")
        for arn in arns:
            self._submit(self._task_definition, acct, region, arn)

    def _task_definition(self, acct: Account, region: str, arn: str) -> None:
        resp = self._call(acct, region, "ecs", "DescribeTaskDefinition", what=arn, taskDefinition=arn)
        if resp is None:
            return
        for c in resp["taskDefinition"].get("containerDefinitions", []):
            loc = f"{arn}#container={c.get('name')}"
            for e in c.get("environment", []):
                self._env_finding(acct, region, arn, loc, e.get("name", ""), e.get("value", ""), "ecs")

    # -- CloudTrail -------------------------------------------------------------------------

    def _cloudtrail(self, acct: Account, region: str) -> None:
        resp = self._call(acct, region, "cloudtrail", "DescribeTrails", includeShadowTrails=False)
        for t in (resp or {}).get("trailList", []):
            if t.get("HomeRegion", region) == region:
                self._submit(self._trail, acct, region, t)

    def _trail(self, acct: Account, region: str, t: dict[str, Any]) -> None:
        arn = t["TrailARN"]
        status = self._call(acct, region, "cloudtrail", "GetTrailStatus", what=arn, Name=arn)
        sel = self._call(acct, region, "cloudtrail", "GetEventSelectors", what=arn, TrailName=arn)
        mgmt: bool | None = None
        secrets_events: bool | None = None
        rw: str | None = None
        excluded: list[str] = []
        if sel is not None:
            mgmt, secrets_events = False, False
            for s in sel.get("EventSelectors") or []:
                if s.get("IncludeManagementEvents", True):
                    mgmt = True
                    rw = s.get("ReadWriteType", "All")
                    excluded = list(s.get("ExcludeManagementEventSources") or [])
                    if rw == "All" and "kms.amazonaws.com" not in excluded:
                        secrets_events = True
            for a in sel.get("AdvancedEventSelectors") or []:
                fields = {f["Field"]: f for f in a.get("FieldSelectors", [])}
                if "Management" in (fields.get("eventCategory") or {}).get("Equals", []):
                    mgmt = True
                    src = fields.get("eventSource") or {}
                    ro = fields.get("readOnly")
                    rw = "All" if ro is None else ("ReadOnly" if "true" in ro.get("Equals", []) else "WriteOnly")
                    excluded = list(src.get("NotEquals", []))
                    if ro is None and not ({"kms.amazonaws.com", "secretsmanager.amazonaws.com"} & set(excluded)):
                        secrets_events = True
        self.ctx.sink.add(Trail(
            id=arn, store=self.store.name, source="aws", name=t["Name"], region=region, account=acct.id,
            is_multi_region=t.get("IsMultiRegionTrail"),
            is_logging=status.get("IsLogging") if status is not None else None,
            log_file_validation=t.get("LogFileValidationEnabled"),
            kms_key_id=t.get("KmsKeyId"), logs_management_events=mgmt, logs_secrets_events=secrets_events,
            s3_bucket=t.get("S3BucketName"), is_organization_trail=t.get("IsOrganizationTrail"),
            management_read_write=rw, excluded_event_sources=excluded,
        ))


# --- helpers ---------------------------------------------------------------------------


def _snake(op: str) -> str:
    """botocore method name of an operation: ListSecrets -> list_secrets."""
    from botocore import xform_name

    return xform_name(op)


def _bool(v: str | None) -> bool | None:
    if v in (None, "", "N/A", "not_supported"):
        return None
    return str(v).lower() == "true"


def _none_na(v: str | None) -> str | None:
    return None if v in (None, "", "N/A", "not_supported", "no_information") else v


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def _classify(exc: BaseException) -> tuple[str, str]:
    """(reason, detail) of a failed call, in the coverage-gap vocabulary."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        msg = f"{code}: {err.get('Message', '')}".strip()
        if code in DENIED_CODES or (status == 403 and code not in BAD_CREDENTIAL_CODES):
            return "denied", msg
        if code in BAD_CREDENTIAL_CODES:
            return "denied", f"credentials rejected or expired ({msg})"
        if code in UNSUPPORTED_CODES or status == 501:
            return "unsupported", msg
        if "NotFound" in code or status == 404:
            return "not_found", msg
        if "Throttl" in code or code in ("TooManyRequestsException", "RequestLimitExceeded"):
            return "error", f"throttled after retries ({msg})"
        return "error", msg
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return "timeout", _one_line(exc)
    if isinstance(exc, EndpointConnectionError):
        return "unreachable", _one_line(exc)
    return "error", _one_line(exc)
