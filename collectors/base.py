"""What every collector shares: the context it writes into and the registry.

A collector is a class with ``source`` (a store kind of the engagement, or ``audit``),
``version`` and ``run()``. It reads one store of the engagement, adds typed
records to ``ctx.sink`` and records what it could not read with
``ctx.sink.gap(...)``. It raises `posture.model.errors.CollectionError` only when
the store cannot be assessed at all (sealed, unreachable, bad credentials).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from rich.progress import Progress

from posture.model.engagement import Engagement
from posture.model.errors import ConfigError
from posture.model.snapshot import SnapshotSink


@dataclass
class CollectContext:
    engagement: Engagement
    sink: SnapshotSink
    fingerprint: Callable[[str | bytes], str]
    as_of: datetime
    progress: Progress | None = None
    options: dict[str, Any] = field(default_factory=dict)


class Collector(Protocol):
    source: ClassVar[str]
    version: ClassVar[str]

    def __init__(self, store: Any, ctx: CollectContext) -> None: ...

    def run(self) -> None: ...


# source -> "module:Class"; imported lazily so one missing extra does not break the rest.
REGISTRY: dict[str, str] = {
    "vault": "collectors.vault.collector:VaultCollector",
    "aws": "collectors.aws.collector:AwsCollector",
    "git": "collectors.git:GitCollector",
    "audit": "collectors.audit:AuditCollector",
    "azure": "collectors.azure.collector:AzureCollector",
    "gcp": "collectors.gcp.collector:GcpCollector",
    "kubernetes": "collectors.kubernetes.collector:KubernetesCollector",
    "inventory": "collectors.inventory:InventoryCollector",
}


#: source -> the pip extra that installs its SDK (the others need only the core dependencies).
EXTRAS: dict[str, str] = {"azure": "azure", "gcp": "gcp", "kubernetes": "kubernetes"}


def collector_class(source: str) -> type[Collector]:
    """The collector of ``source``; `ConfigError` naming the extra to install if its SDK is missing."""
    module, _, name = REGISTRY[source].partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
        # SDK parts imported only when used (clients per service) are checked now, not mid-collection
        missing = next((m for m in getattr(cls, "sdk_modules", ()) if importlib.util.find_spec(m) is None), None)
    except ModuleNotFoundError as exc:
        if source not in EXTRAS or (exc.name or "").split(".")[0] in ("collectors", "posture", "checks"):
            raise
        missing = exc.name
    if missing:
        raise missing_extra(source, missing)
    return cls


def missing_extra(source: str, module: str | None, what: str = "collector") -> ConfigError:
    """The one-line error for an SDK that is not installed, naming the command that installs it."""
    return ConfigError(f"the {source} {what} needs {module!r}, which is not installed: "
                       f"{sys.executable} -m pip install 'secrets-posture-kit[{EXTRAS[source]}]'")


def _nothing(n: int) -> None:
    return None


class TaskPool:
    """A bounded pool where tasks may enqueue more tasks; ``drain`` waits for all of them.

    The first exception a task raises (a guard violation, a store-level failure, a bug) stops
    the run: ``drain`` re-raises it and cancels what has not started. ``on_add`` and
    ``on_done`` count tasks for a progress line.
    """

    def __init__(self, workers: int, *, name: str = "posture", on_done: Callable[[int], None] = _nothing,
                 on_add: Callable[[int], None] = _nothing) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
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
                    if exc is not None:
                        raise exc
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
