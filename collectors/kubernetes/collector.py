"""The Kubernetes collector: one engagement cluster, read through the guarded official client.

Order: ``/version`` (reachability and credential: a failure is a
`CollectionError`), namespaces, RBAC, Secret metadata (only with
``secret_metadata: true``), service accounts, workloads, integrations. With
``namespaces`` set, namespaced resources are read per namespace (and a
namespace that does not exist is a ``not_found`` gap); otherwise across all
namespaces in one list each.

``ctx.options`` knobs: ``k8s_page_size`` (500), ``k8s_max_pages`` (1000, then
a truncated gap), ``k8s_max_attempts`` (3, for 429).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from collectors.base import CollectContext
from collectors.kubernetes import accounts, rbac, workloads
from collectors.kubernetes.client import KubeCalls, connect
from collectors.kubernetes.guard import READS, ReadOnlyGuard
from posture.model.engagement import KubernetesStore
from posture.model.records import Server

_READ = {r.resource: r for r in READS}
STEPS = ("namespaces", "rbac", "secret metadata", "service accounts", "workloads", "integrations")


class KubernetesCollector:
    """Reads one engagement Kubernetes store (one cluster, all or some namespaces)."""

    source: ClassVar[str] = "kubernetes"
    version: ClassVar[str] = "1.0.0"

    def __init__(self, store: KubernetesStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        self.guard = ReadOnlyGuard()
        self._calls: KubeCalls | None = None

    def run(self) -> None:
        base = self.ctx.options.get("engagement_dir")
        api, host = connect(self.store, Path(base) if base else None)
        calls = self._calls = KubeCalls(self.store, self.ctx, api, self.guard)
        try:
            version = calls.version()
            progress = self.ctx.progress
            line = progress.add_task(f"kubernetes {self.store.name}", total=len(STEPS)) if progress else None

            def step() -> None:
                if progress is not None and line is not None:
                    progress.advance(line, 1)

            self.ctx.sink.add(Server(
                id=f"kubernetes:{self.store.name}", store=self.store.name, source="kubernetes", address=host,
                product="kubernetes", version=version, namespace=",".join(self.store.namespaces or []) or None,
            ))
            namespaces = self._namespaces(calls)
            step()
            bound = rbac.collect(calls, namespaces)
            step()
            tokens = accounts.collect_secret_metadata(calls, namespaces) if self.store.secret_metadata else None
            step()
            accounts.collect_service_accounts(calls, namespaces, bound, tokens)
            step()
            workloads.collect(calls, namespaces)
            step()
            workloads.collect_integrations(calls, namespaces)
            step()
        finally:
            api.close()

    def _namespaces(self, calls: KubeCalls) -> list[str] | None:
        """The configured namespaces (each confirmed to exist when the list is readable), or None for all."""
        wanted = self.store.namespaces
        got = calls.list(_READ["namespaces"], None, [])
        if not wanted:
            return None
        if got.complete and got.items is not None:
            present = {n.metadata.name for n in got.items}
            for ns in wanted:
                if ns not in present:
                    calls.gap(_READ["namespaces"], ns, ["policy_rule", "principal", "cloud_resource",
                                                        "source_finding", "secret"],
                              "not_found", f"namespace {ns} does not exist")
        return list(wanted)

    @property
    def issued(self) -> list[str]:
        return list(self.guard.issued)
