"""One collection run's plumbing: the worker pool and guarded calls that turn failures into gaps.

Shared by the collector's own reads (`collectors.vault.collector`) and the
secret-engine readers (`collectors.vault.engines`), so every request of a run
goes through the same `VaultSession.call`: what the token may not read (403),
what is missing (404), slow (timeout), not implemented, or not the shape its
reader expects (an HTML page with 200: ``malformed``) becomes a `CoverageGap`
naming the tables it leaves incomplete, and the walk goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collectors.base import CollectContext
from collectors.vault.guard import logical_path_ok, shown_path
from collectors.vault.http import Response, TransportError, VaultHTTP, shape_problem
from posture.model.engagement import VaultStore
from posture.model.vocabulary import GapReason

_GAP_REASON: dict[int, GapReason] = {401: "denied", 403: "denied", 404: "not_found", 405: "unsupported",
                                     501: "unsupported", 429: "throttled"}


@dataclass(frozen=True)
class Failure:
    """A request whose answer cannot be used: why (the gap vocabulary), in one line, and the
    HTTP answer if there was one."""

    reason: GapReason
    detail: str
    response: Response | None = None


class TaskGroup:
    """A bounded pool of worker threads on a C-level queue; tasks may submit more.

    Lighter than ``ThreadPoolExecutor`` (no Future per task), which matters on
    the hot path of a 10,000-secret walk. ``wait`` re-raises the first error.
    """

    def __init__(self, workers: int) -> None:
        self.queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self.pending = 0
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.stopped = False
        self.threads = [threading.Thread(target=self._work, name=f"vault-{i}", daemon=True) for i in range(workers)]
        for t in self.threads:
            t.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self.cond:
            if self.error is not None:
                return
            self.pending += 1
        self.queue.put((fn, args))

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            fn, args = item
            try:
                if not self.stopped:
                    fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised in wait()
                with self.cond:
                    self.error = self.error or e
            finally:
                with self.cond:
                    self.pending -= 1
                    if self.pending == 0:
                        self.cond.notify_all()

    def wait(self) -> None:
        with self.cond:
            while self.pending:
                self.cond.wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the workers; tasks still queued (after an error or Ctrl-C) are skipped."""
        self.stopped = True
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()


class VaultSession:
    """One store's run: its client, sink, progress bar, and the gap-recording calls."""

    def __init__(self, store: VaultStore, ctx: CollectContext, *, env: dict[str, str] | None = None) -> None:
        self.store = store
        self.ctx = ctx
        self.sink = ctx.sink
        self.env = env
        self.http: VaultHTTP | None = None
        self.product = "openbao"
        self.kv_mode: dict[str, str] = {}  # mount -> "scan" | "walk": how its metadata was read
        self._task: Any = None
        self._total = 0
        self._plock = threading.Lock()
        self._only = {m.strip("/") for m in store.mounts} if store.mounts else None

    def rid(self, path: str) -> str:
        return f"vault:{self.store.name}:{path}"

    def progress(self, advance: int = 0, total: int = 0) -> None:
        p = self.ctx.progress
        if p is None or self._task is None:
            return
        with self._plock:
            if total:
                self._total += total
                p.update(self._task, total=self._total)
            if advance:
                p.advance(self._task, advance)

    def gap(self, op: str, reason: str, tables: list[str], scope: str = "", detail: str | None = None) -> None:
        self.sink.gap(
            store=self.store.name, source="vault", tables=tables, operation=op,
            reason=reason, scope=scope, detail=detail,
        )

    def attempt(self, method: str, path: str, body: dict[str, Any] | None = None,
                needs: tuple[str, ...] = ()) -> Response | Failure:
        """One guarded request: the answer if usable, else its `Failure` (nothing recorded).

        A 2xx answer that is not the shape its reader expects (`shape_problem`,
        with the members it ``needs``) is ``malformed``, never "nothing there". A
        LIST that answers 404 without errors is an empty folder, not a failure.
        """
        assert self.http is not None
        try:
            resp = self.http.request(method, path, body)
        except TransportError as e:
            return Failure("timeout" if e.kind == "timeout" else "error", str(e))
        if resp.ok:
            problem = shape_problem(method, path, resp, needs)
            return resp if problem is None else Failure("malformed", f"HTTP {resp.status}: {problem}")
        if resp.status == 404 and method in ("LIST", "SCAN") and not resp.errors:
            return Response(200, {"data": {"keys": []}}, [])
        reason = _GAP_REASON.get(resp.status, "error")
        if any("unsupported" in e for e in resp.errors):
            reason = "unsupported"
        return Failure(reason, f"HTTP {resp.status}" + (f": {resp.errors[0]}" if resp.errors else ""), resp)

    def call(
        self,
        method: str,
        path: str,
        *,
        tables: list[str],
        scope: str = "",
        body: dict[str, Any] | None = None,
        needs: tuple[str, ...] = (),
        quiet: bool = False,
    ) -> Response | None:
        """`attempt`, with a failure recorded as a gap on ``tables`` (unless ``quiet``: the
        caller has another way to read it) and returned as None."""
        got = self.attempt(method, path, body, needs)
        if isinstance(got, Response):
            return got
        if not quiet:
            self.gap(f"{method} {path}", got.reason, tables, scope, got.detail)
        return None

    @staticmethod
    def data(resp: Response | None) -> dict[str, Any]:
        """The answer's ``data`` object (a bare answer's body); {} for a failed call (its gap
        is recorded unless quiet). `call` returns an answer only if it has the expected shape."""
        if resp is None:
            return {}
        d = resp.data.get("data")
        return d if isinstance(d, dict) else resp.data

    def keys(self, resp: Response | None) -> list[str]:
        return list(self.data(resp).get("keys", []))

    def wanted(self, mount: str) -> bool:
        return self._only is None or mount.strip("/") in self._only

    def unaddressable_name(self, folder: str, name: str, tables: list[str], scope: str) -> None:
        """A listed name the guard cannot reason about (`logical_path_ok`: a backslash, a control
        character, a dot or empty segment) is never requested, and never dropped in silence: a
        gap names it. ``folder`` is where it was listed (a KV mount's root for both SCAN and walk,
        so both record the same gap)."""
        self.gap(f"name {shown_path(folder + name)}", "unsupported", tables, scope,
                 "a listed name is not a plain path segment; the kit does not address it")

    def list_then(self, group: TaskGroup, path: str, tables: list[str], scope: str,
                  each: Callable[[str], None]) -> None:
        """LIST ``path`` on the pool, then run ``each(name)`` on the pool for every plain name."""
        def task() -> None:
            names = []
            for k in self.keys(self.call("LIST", path, tables=tables, scope=scope)):
                if logical_path_ok(k) and "/" not in k.rstrip("/"):
                    names.append(k)
                else:
                    self.unaddressable_name(f"{path}/", k, tables, scope)
            self.progress(advance=1, total=1 + len(names))
            for n in names:
                group.submit(each, n.rstrip("/"))
        group.submit(task)
