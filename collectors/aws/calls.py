"""How the AWS collector calls AWS: guarded clients, one bounded pool, failures as gaps.

Accounts x regions x services run as independent tasks on one bounded thread
pool (``store.concurrency``); per-item fan-out (resource policies, key
details) goes onto the same pool, so no task ever waits on another. botocore
adaptive retries absorb throttling. A call that still fails becomes a
`CoverageGap` (account/region, service, operation, reason) and the caller
gets ``None``, never a silent empty answer.

A 200 is not trusted either: botocore reads an HTML page (an SSO proxy, a
captive portal, a wrong endpoint) as an empty answer and crashes on a body of
the wrong shape. Every client checks the body's syntax before botocore parses
it (`check_body`), parse crashes are caught, and list keys and the members a
reader needs are checked; each failure is a ``malformed`` gap.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from collectors.aws.guard import ReadOnlyGuard
from collectors.base import CollectContext, TaskPool
from posture.model.engagement import AwsStore
from posture.model.vocabulary import GapReason

SERVICES = ("secretsmanager", "kms", "iam", "ssm", "acm", "lambda", "ecs", "cloudtrail", "ec2", "codebuild",
            "batch", "stepfunctions", "apigateway", "elasticbeanstalk", "glue", "sagemaker", "cloudformation",
            "eks", "accessanalyzer")
GLOBAL_REGION = "us-east-1"  # IAM/STS are global; their calls go to this region's endpoint

# Tables each service fills: what a gap of that service makes incomplete.
TABLES: dict[str, list[str]] = {
    "secretsmanager": ["secret", "policy", "policy_rule"],
    "kms": ["key", "policy", "policy_rule"],
    "iam": ["principal", "access_key", "policy", "policy_rule"],
    "ssm": ["secret"],
    "acm": ["certificate"],
    "lambda": ["source_finding", "cloud_resource"],
    "ecs": ["source_finding"],
    "cloudtrail": ["trail"],
    "sts": ["server", "secret", "key", "principal", "access_key", "policy", "policy_rule",
            "certificate", "source_finding", "trail", "cloud_resource", "mount"],
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
THROTTLING_CODES = {"TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestThrottled"}

#: botocore's parser on a body of the wrong shape raises plain Python errors (a string where a
#: list belongs: AttributeError; a bad timestamp: ValueError); they mean "malformed", not a bug.
PARSE_CRASHES = (ResponseParserError, AttributeError, TypeError, ValueError, KeyError)
#: Everything a call may raise that is a coverage gap (a guard violation is not: it propagates).
CALL_FAILURES = (ClientError, BotoCoreError, *PARSE_CRASHES)
_XML_ROOT = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<([A-Za-z_][\w.:-]*)", re.DOTALL)


class MalformedResponse(BotoCoreError):
    """A 2xx answer that is not what AWS sends for the operation (raised before botocore parses it)."""

    fmt = "{operation}: {problem}"


def body_problem(protocol: str, operation: str, body: bytes) -> str | None:
    """Why a 2xx ``body`` is not in the protocol's syntax, or None.

    JSON protocols: a JSON object (or nothing); query/EC2: XML whose root is
    ``<OperationResponse>``. An HTML page fails both, and so does a truncated body.
    """
    if protocol in ("json", "rest-json"):
        if not body.strip():
            return None
        try:
            doc = json.loads(body)
        except ValueError:
            return "the answer is not JSON (an HTML page: a proxy, a captive portal or a wrong endpoint?)"
        return None if isinstance(doc, dict) else "the answer is not a JSON object"
    if protocol in ("query", "ec2"):
        m = _XML_ROOT.match(body)
        root = m.group(1).decode() if m else None
        if root != f"{operation}Response":
            return (f"the answer is not AWS's XML (root <{root}>)" if root else
                    "the answer is not XML (an HTML page: a proxy, a captive portal or a wrong endpoint?)")
    return None


def check_body(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore ``before-parse`` hook: raise `MalformedResponse` for a 2xx body of the wrong syntax."""
    if not 200 <= int(response_dict.get("status_code") or 0) < 300 or operation_model.has_streaming_output:
        return
    protocol = operation_model.service_model.resolved_protocol
    problem = body_problem(protocol, operation_model.name, response_dict.get("body") or b"")
    if problem:
        service = operation_model.service_model.endpoint_prefix
        raise MalformedResponse(operation=f"{service}:{operation_model.name}", problem=problem)


@dataclass
class Account:
    """One AWS account as the collector reaches it."""

    id: str
    name: str
    session: boto3.Session
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)


def one_line(e: BaseException) -> str:
    """An exception as one bounded line (botocore messages span lines)."""
    return " ".join(str(e).split())[:300]


def classify_error(exc: BaseException) -> tuple[GapReason, str]:
    """(reason, detail) of a failed call, in the coverage-gap vocabulary."""
    if isinstance(exc, MalformedResponse):
        return "malformed", one_line(exc)
    if isinstance(exc, PARSE_CRASHES) and not isinstance(exc, BotoCoreError):
        return "malformed", f"botocore could not parse the answer ({type(exc).__name__}: {one_line(exc)})"
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
        if "Throttl" in code or code in THROTTLING_CODES or status == 429:
            return "throttled", msg
        return "error", msg
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return "timeout", one_line(exc)
    if isinstance(exc, EndpointConnectionError):
        return "unreachable", one_line(exc)
    return "error", one_line(exc)


class AwsCalls:
    """What every service module uses: guarded clients, calls that fail into gaps, the pool.

    One instance per collector run; ``store``/``ctx`` say where records and
    gaps go.
    """

    def __init__(self, store: AwsStore, ctx: CollectContext, guard: ReadOnlyGuard, config: Config,
                 endpoint_url: str | None) -> None:
        self.store = store
        self.ctx = ctx
        self.sink = ctx.sink
        self.guard = guard
        self.config = config
        self.endpoint_url = endpoint_url
        self._client_lock = threading.Lock()
        self.pool: TaskPool | None = None

    def client(self, acct: Account, service: str, region: str) -> Any:
        """A guarded, cached client (creating clients is not thread-safe; using them is)."""
        key = (service, region)
        with self._client_lock:
            client = acct.clients.get(key)
            if client is None:
                client = acct.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=self.config
                )
                acct.clients[key] = self.install(client)
            return client

    def install(self, client: Any) -> Any:
        """The hooks every client carries: the read-only guard and the body check."""
        self.guard.install(client)
        client.meta.events.register("before-parse", check_body, unique_id="posture-body-check")
        return client

    def gap(self, acct_id: str, region: str, service: str, operation: str, exc: BaseException,
            tables: list[str] | None = None, what: str | None = None, scope: str | None = None) -> None:
        """Record that ``operation`` failed in ``acct_id/region`` (or a narrower ``scope``), in the gap
        vocabulary."""
        reason, detail = classify_error(exc)
        if service == "iam":
            region = "global"  # IAM has one endpoint per partition, whatever region the client names
        if what:
            detail = f"{what}: {detail}"
        self.sink.gap(
            store=self.store.name,
            source="aws",
            tables=tables or TABLES.get(service, []),
            scope=scope or f"{acct_id}/{region}",
            service=service,
            operation=operation,
            reason=reason,
            detail=detail,
        )

    def malformed(self, acct_id: str, region: str, service: str, op: str, problem: str,
                  tables: list[str] | None = None, what: str | None = None, scope: str | None = None) -> None:
        """Record a parsed answer that lacks what its reader needs."""
        self.gap(acct_id, region, service, f"{service}:{op}",
                 MalformedResponse(operation=f"{service}:{op}", problem=problem), tables, what, scope)

    def call(self, acct: Account, region: str, service: str, op: str, what: str | None = None,
             tables: list[str] | None = None, needs: tuple[str, ...] = (), scope: str | None = None,
             **params: Any) -> dict[str, Any] | None:
        """One API call; a failure, or an answer without the members the reader ``needs``,
        becomes a gap and ``None``."""
        client = self.client(acct, service, region)
        try:
            resp = getattr(client, xform_name(op))(**params)
        except CALL_FAILURES as e:
            self.gap(acct.id, region, service, f"{service}:{op}", e, tables, what, scope)
            return None
        missing = [m for m in needs if m not in resp]
        if missing:
            self.malformed(acct.id, region, service, op, "the answer lacks " + ", ".join(missing), tables, what,
                           scope)
            return None
        return resp

    def pages(self, acct: Account, region: str, service: str, op: str, key: str,
              tables: list[str] | None = None, needs: tuple[str, ...] = (), scope: str | None = None,
              **params: Any) -> tuple[list[Any], bool]:
        """All items under ``key`` across pages; ``complete`` is False if a page failed.

        A page without the ``key`` list is ``malformed`` (botocore reads an
        empty or foreign body as "no items"); so is an item that is not an
        object with the members the reader ``needs`` (it is left out).
        """
        client = self.client(acct, service, region)
        items: list[Any] = []
        try:
            for page in client.get_paginator(xform_name(op)).paginate(**params):
                got = page.get(key)
                if not isinstance(got, list):
                    self.malformed(acct.id, region, service, op, f"the answer has no {key} list", tables,
                                   scope=scope)
                    return items, False
                items.extend(got)
        except CALL_FAILURES as e:
            self.gap(acct.id, region, service, f"{service}:{op}", e, tables, scope=scope)
            return items, False
        if needs:
            usable = [i for i in items if isinstance(i, dict) and all(m in i for m in needs)]
            if len(usable) < len(items):
                self.malformed(acct.id, region, service, op, f"{len(items) - len(usable)} of {len(items)} "
                               f"{key} items lack {', '.join(needs)}", tables, scope=scope)
                return usable, False
        return items, True

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the run's pool (fan-out never waits on a task)."""
        assert self.pool is not None
        self.pool.submit(fn, *args)
