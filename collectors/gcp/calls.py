"""How the GCP collector calls Google: guarded SDK clients, bounded retries, failures as gaps.

Each SDK client gets a REST transport the collector builds itself, with a
`collectors.gcp.guard.GuardedSession` in place of the transport's own session.
Calls retry rate limits and transient 5xx answers with backoff until a deadline
(``ctx.options['gcp_retry_deadline']``, 60 s); what still fails becomes a
`CoverageGap` in the gap vocabulary and the caller gets ``None`` — never a
silent empty answer. A listing whose later page fails, whose pages loop or
that hits the page cap is ``truncated``: the items read so far are kept and
the gap says the table is incomplete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth import exceptions as auth_exc
from google.protobuf import json_format

from collectors.base import CollectContext
from collectors.gcp.guard import GuardedSession, MalformedResponse, ReadOnlyGuard
from posture.model.engagement import GcpStore
from posture.model.errors import ReadOnlyViolation
from posture.model.vocabulary import GapReason

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
DEFAULT_HOSTS = {"secretmanager": "secretmanager.googleapis.com",
                 "resourcemanager": "cloudresourcemanager.googleapis.com",
                 "kms": "cloudkms.googleapis.com"}
TRANSIENT = (gexc.TooManyRequests, gexc.ResourceExhausted, gexc.InternalServerError, gexc.BadGateway,
             gexc.ServiceUnavailable, gexc.GatewayTimeout)
#: Parse failures of the SDK on a body that passed the syntax check still mean "malformed".
PARSE_FAILURES = (MalformedResponse, json_format.ParseError, ValueError)
CALL_FAILURES = (gexc.GoogleAPIError, requests.RequestException, auth_exc.GoogleAuthError, *PARSE_FAILURES)


class StoreFailure(Exception):
    """The store cannot be read at all: the first call found no endpoint or had its credential refused."""


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def classify_error(exc: BaseException) -> tuple[GapReason, str]:
    """(reason, detail) of a failed call, in the coverage-gap vocabulary."""
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        reason, detail = classify_error(exc.cause)
        return reason, f"after retries: {detail}"
    if isinstance(exc, PARSE_FAILURES):
        return "malformed", one_line(exc) or type(exc).__name__
    if isinstance(exc, (gexc.Forbidden, gexc.PermissionDenied, gexc.Unauthorized, gexc.Unauthenticated)):
        return "denied", one_line(exc)
    if isinstance(exc, auth_exc.RefreshError):
        return "denied", f"credentials rejected ({one_line(exc)})"
    if isinstance(exc, (gexc.TooManyRequests, gexc.ResourceExhausted)):
        return "throttled", one_line(exc)
    if isinstance(exc, gexc.NotFound):
        return "not_found", one_line(exc)
    if isinstance(exc, (gexc.MethodNotImplemented, gexc.MethodNotAllowed)):
        return "unsupported", one_line(exc)
    if isinstance(exc, (gexc.DeadlineExceeded, requests.Timeout)):
        return "timeout", one_line(exc)
    if isinstance(exc, (requests.ConnectionError, auth_exc.TransportError)):
        return "unreachable", one_line(exc)
    return "error", one_line(exc) or type(exc).__name__


def is_unreachable(exc: BaseException) -> bool:
    cause = exc.cause if isinstance(exc, gexc.RetryError) else exc
    return isinstance(cause, (requests.ConnectionError, auth_exc.TransportError)) and not isinstance(
        cause, requests.Timeout)


@dataclass
class Clients:
    secretmanager: Any
    resourcemanager: Any  # projects
    folders: Any
    organizations: Any
    kms: Any
    regional: dict[str, Any]


def _sdk(kind: str) -> tuple[Any, Any, str]:
    """(client class, REST transport module, guard service) of one SDK client kind."""
    import importlib

    modules = {
        "secretmanager": ("google.cloud.secretmanager_v1", "SecretManagerServiceClient",
                          "google.cloud.secretmanager_v1.services.secret_manager_service.transports.rest",
                          "SecretManagerServiceRestTransport", "secretmanager"),
        "projects": ("google.cloud.resourcemanager_v3", "ProjectsClient",
                     "google.cloud.resourcemanager_v3.services.projects.transports.rest", "ProjectsRestTransport",
                     "resourcemanager"),
        "folders": ("google.cloud.resourcemanager_v3", "FoldersClient",
                    "google.cloud.resourcemanager_v3.services.folders.transports.rest", "FoldersRestTransport",
                    "resourcemanager"),
        "organizations": ("google.cloud.resourcemanager_v3", "OrganizationsClient",
                          "google.cloud.resourcemanager_v3.services.organizations.transports.rest",
                          "OrganizationsRestTransport", "resourcemanager"),
        "kms": ("google.cloud.kms_v1", "KeyManagementServiceClient",
                "google.cloud.kms_v1.services.key_management_service.transports.rest",
                "KeyManagementServiceRestTransport", "kms"),
    }
    package, client, rest_module, transport, service = modules[kind]
    rest = importlib.import_module(rest_module)
    return getattr(importlib.import_module(package), client), (rest, getattr(rest, transport)), service


class GcpCalls:
    """What every reader uses: guarded clients, calls that fail into gaps, the retry policy."""

    def __init__(self, store: GcpStore, ctx: CollectContext, credentials: Any, guard: ReadOnlyGuard) -> None:
        self.store = store
        self.ctx = ctx
        self.sink = ctx.sink
        self.guard = guard
        self.credentials = credentials
        deadline = float(ctx.options.get("gcp_retry_deadline", 60.0))
        self.retry = gretry.Retry(
            predicate=gretry.if_exception_type(*TRANSIENT),
            initial=float(ctx.options.get("gcp_retry_initial", 0.5)), maximum=10.0, multiplier=2.0,
            timeout=deadline)
        self.page_size = int(ctx.options.get("gcp_page_size", 250))
        self.max_pages = int(ctx.options.get("gcp_max_pages", 1000))
        self.clients = Clients(
            secretmanager=self._client("secretmanager"), resourcemanager=self._client("projects"),
            folders=self._client("folders"), organizations=self._client("organizations"),
            kms=self._client("kms"), regional={})

    # --- clients ---------------------------------------------------------------
    def _client(self, kind: str, location: str | None = None) -> Any:
        """An SDK client on a REST transport whose session is the guard's.

        The transport's only session is replaced before any call, so every request
        passes the guard; its wrapped methods are keyed by their session, so they are
        prepared again around the new one.
        """
        client_cls, (rest, transport_cls), service = _sdk(kind)
        host = self.store.endpoint or (
            f"secretmanager.{location}.rep.googleapis.com" if location else DEFAULT_HOSTS[service])
        transport = transport_cls(host=host, credentials=self.credentials, scopes=SCOPES,
                                  client_info=rest.DEFAULT_CLIENT_INFO)
        transport._session = GuardedSession(transport._credentials, self.guard, service,
                                            default_host=transport_cls.DEFAULT_HOST)
        transport._prep_wrapped_messages(rest.DEFAULT_CLIENT_INFO)
        return client_cls(transport=transport)

    def secrets_client(self, location: str | None) -> Any:
        """The Secret Manager client for the global API, or a location's regional endpoint."""
        if not location:
            return self.clients.secretmanager
        if location not in self.clients.regional:
            self.clients.regional[location] = self._client("secretmanager", location)
        return self.clients.regional[location]

    # --- calls -----------------------------------------------------------------
    def gap(self, scope: str, service: str, operation: str, exc: BaseException, tables: list[str],
            what: str | None = None, reason: GapReason | None = None) -> None:
        got, detail = classify_error(exc)
        self.sink.gap(store=self.store.name, source="gcp", tables=tables, scope=scope, service=service,
                      operation=operation, reason=reason or got, detail=f"{what}: {detail}" if what else detail)

    def call(self, fn: Callable[..., Any], *, scope: str, service: str, operation: str, tables: list[str],
             what: str | None = None, **kw: Any) -> Any:
        """One SDK call with the retry policy; a failure becomes a gap and ``None``."""
        try:
            return fn(**kw, retry=self.retry, timeout=self.store.timeout)
        except ReadOnlyViolation:
            raise
        except CALL_FAILURES as e:
            if self.guard.calls <= 1 and (is_unreachable(e) or isinstance(e, auth_exc.RefreshError)):
                what_failed = "credentials rejected" if isinstance(e, auth_exc.RefreshError) else "unreachable"
                raise StoreFailure(f"{what_failed} ({one_line(e)})") from None
            self.gap(scope, service, operation, e, tables, what)
            return None

    def pages(self, fn: Callable[..., Any], field: str, *, scope: str, service: str, operation: str,
              tables: list[str], what: str | None = None, **kw: Any) -> tuple[list[Any], bool]:
        """Every item of a paged listing; ``complete`` is False when a gap was recorded."""
        items: list[Any] = []
        pager = self.call(fn, scope=scope, service=service, operation=operation, tables=tables, what=what,
                          **kw)
        if pager is None:
            return items, False
        seen_tokens: set[str] = set()
        pages = 0
        iterator: Iterable[Any] = pager.pages
        try:
            for page in iterator:
                pages += 1
                items.extend(getattr(page, field))
                token = page.next_page_token
                if token and (token in seen_tokens or pages >= self.max_pages):
                    why = "the same page token came back" if token in seen_tokens else \
                        f"stopped at {self.max_pages} pages (gcp_max_pages)"
                    self.sink.gap(store=self.store.name, source="gcp", tables=tables, scope=scope,
                                  service=service, operation=operation, reason="truncated",
                                  detail=f"{what + ': ' if what else ''}{why}; {len(items)} items read")
                    return items, False
                seen_tokens.add(token)
        except ReadOnlyViolation:
            raise
        except CALL_FAILURES as e:
            reason, detail = classify_error(e)
            if pages:  # a later page failed: what was read is kept, the table is incomplete
                self.sink.gap(store=self.store.name, source="gcp", tables=tables, scope=scope, service=service,
                              operation=operation, reason="truncated",
                              detail=f"{what + ': ' if what else ''}page {pages + 1} failed ({reason}: {detail}); "
                                     f"{len(items)} items read")
            else:
                self.gap(scope, service, operation, e, tables, what)
            return items, False
        return items, True
