"""What every collector shares: the context it writes into and the registry.

A collector is a class with ``source`` (a store kind of the engagement, or ``audit``),
``version`` and ``run()``. It reads one store of the engagement, adds typed
records to ``ctx.sink`` and records what it could not read with
``ctx.sink.gap(...)``. It raises `posture.model.errors.CollectionError` only when
the store cannot be assessed at all (sealed, unreachable, bad credentials).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
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
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if source not in EXTRAS or (exc.name or "").split(".")[0] in ("collectors", "posture", "checks"):
            raise
        raise ConfigError(f"the {source} collector needs {exc.name!r}, which is not installed: "
                          f"pip install 'secrets-posture-kit[{EXTRAS[source]}]'") from None
