"""How the Azure collector calls Azure: guarded SDK clients, one bounded pool, failures as gaps.

Every SDK call goes through `AzureCalls.call` or `AzureCalls.pages`; a failure
becomes a `CoverageGap` scoped to the vault (or subscription) and the tables
it leaves incomplete, and the caller gets ``None`` (or the items read so far
with ``complete=False``), never a silent empty answer:

- 401/403 -> ``denied``; 404 -> ``not_found``; 429 still refused after the
  pipeline's retries -> ``throttled``; other 4xx/5xx -> ``error``;
- a 200 of the wrong shape (`MalformedAnswer` from the transport, or an SDK
  deserialisation crash) -> ``malformed``;
- a paging that fails after its first page -> ``truncated`` (the items read
  are kept, the table is incomplete);
- no connection -> ``unreachable``; no answer in time -> ``timeout``.

A `ReadOnlyViolation` is never a gap: it propagates and stops the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    DecodeError,
    DeserializationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from collectors.azure.guard import MalformedAnswer
from collectors.base import CollectContext, TaskPool
from posture.model.engagement import AzureStore
from posture.model.errors import CollectionError
from posture.model.vocabulary import GapReason

#: SDK model builders crash with plain Python errors on a body of the wrong shape.
PARSE_CRASHES = (MalformedAnswer, DecodeError, DeserializationError, KeyError, TypeError, AttributeError, ValueError)
CALL_FAILURES = (AzureError, *PARSE_CRASHES)


def one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def classify_error(exc: BaseException) -> tuple[GapReason, str]:
    """(reason, detail) of a failed call, in the coverage-gap vocabulary."""
    if isinstance(exc, MalformedAnswer):
        return "malformed", one_line(exc)
    if isinstance(exc, PARSE_CRASHES) and not isinstance(exc, AzureError):
        return "malformed", f"the SDK could not read the answer ({type(exc).__name__}: {one_line(exc)})"
    if isinstance(exc, (DecodeError, DeserializationError)):
        return "malformed", one_line(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) and status is None:
        # the store's credential worked (checked first), but not for this resource: e.g. a vault of
        # another tenant than the credential may ask tokens for
        return "denied", f"no token for this resource ({one_line(exc)[:200]})"
    if isinstance(exc, HttpResponseError) and status is not None:
        code = getattr(getattr(exc, "error", None), "code", None) or ""
        msg = f"HTTP {status} {code}".strip()
        if status in (401, 403):
            return "denied", msg
        if status == 404:
            return "not_found", msg
        if status == 429:
            return "throttled", f"{msg} (still refused after the pipeline's retries)"
        if status in (405, 501):
            return "unsupported", msg
        return "error", msg
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return "timeout", one_line(exc)
    if isinstance(exc, ServiceRequestError):
        return "unreachable", one_line(exc)
    if isinstance(exc, ServiceResponseError):
        return "error", one_line(exc)
    return "error", f"{type(exc).__name__}: {one_line(exc)}"


class AzureCalls:
    """What every reader uses: calls that fail into gaps, scoped to a vault or subscription."""

    def __init__(self, store: AzureStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        self.sink = ctx.sink
        self.pool: TaskPool | None = None

    def gap(self, scope: str, operation: str, exc: BaseException, tables: list[str],
            service: str, reason: GapReason | None = None, what: str | None = None) -> None:
        got, detail = classify_error(exc)
        if what:
            detail = f"{what}: {detail}"
        self.sink.gap(store=self.store.name, source="azure", tables=tables, scope=scope, service=service,
                      operation=operation, reason=reason or got, detail=detail)

    def call(self, fn: Callable[[], Any], *, scope: str, operation: str, tables: list[str],
             service: str, what: str | None = None) -> Any:
        """``fn()``; a failure becomes a gap and ``None``."""
        try:
            return fn()
        except CALL_FAILURES as e:
            self.gap(scope, operation, e, tables, service, what=what)
        return None

    def pages(self, paged: Callable[[], Iterable[Any]], *, scope: str, operation: str, tables: list[str],
              service: str, what: str | None = None, unreachable_is_fatal: bool = False) -> tuple[list[Any], bool]:
        """Every item of an SDK ``ItemPaged``; ``complete`` is False if a page failed.

        A failure on the first page is classified by its cause; a failure after
        items were read means the listing ended early: ``truncated``. With
        ``unreachable_is_fatal`` (the first ARM call), no connection at all is a
        `CollectionError`: the store cannot be assessed.
        """
        items: list[Any] = []
        pages_read = 0
        try:
            for page in paged().by_page():  # type: ignore[attr-defined]
                items.extend(page)
                pages_read += 1
        except ServiceRequestError as e:
            if unreachable_is_fatal and not pages_read:
                raise CollectionError(f"azure store {self.store.name}: {operation} could not reach the management "
                                      f"endpoint ({one_line(e)})") from None
            self._page_gap(scope, operation, e, tables, service, what, pages_read)
            return items, False
        except CALL_FAILURES as e:
            self._page_gap(scope, operation, e, tables, service, what, pages_read)
            return items, False
        return items, True

    def _page_gap(self, scope: str, operation: str, e: BaseException, tables: list[str], service: str,
                  what: str | None, pages_read: int) -> None:
        if pages_read:
            reason, _ = classify_error(e)
            self.gap(scope, operation, e, tables, service, reason="truncated",
                     what=f"{what + ': ' if what else ''}listing ended after {pages_read} page(s) ({reason})")
        else:
            self.gap(scope, operation, e, tables, service, what=what)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        assert self.pool is not None
        self.pool.submit(fn, *args)
