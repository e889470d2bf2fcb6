"""``posture collect``: run every configured collector into one atomic snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from collectors.base import CollectContext, collector_class
from posture.progress import progress_bar
from posture.model.snapshot import Manifest, SnapshotSink
from posture.workspace import Workspace, fingerprint


@dataclass
class CollectResult:
    path: Path
    manifest: Manifest
    sink: SnapshotSink


def planned_runs(ws: Workspace, only: list[str] | None = None) -> list[tuple[str, Any]]:
    """(source, store config) pairs in collection order."""
    eng = ws.load().engagement
    runs: list[tuple[str, Any]] = []
    for source, stores in (("vault", eng.stores.vault), ("aws", eng.stores.aws), ("git", eng.stores.git)):
        for store in stores:
            if only and store.name not in only:
                continue
            runs.append((source, store))
    for store in eng.stores.vault + eng.stores.aws:
        if only and store.name not in only:
            continue
        if getattr(store, "audit_logs", None) or getattr(store, "cloudtrail_logs", None):
            runs.append(("audit", store))
    return runs


def collect(
    ws: Workspace,
    quarter: str,
    *,
    console: Console | None = None,
    only: list[str] | None = None,
    options: dict[str, Any] | None = None,
) -> CollectResult:
    """Collect every store into ``evidence/CLIENT/QUARTER/snapshot``.

    Raises `CollectionError` (nothing written) when a store cannot be assessed.
    """
    console = console or Console(stderr=True)
    loaded = ws.load()
    started = datetime.now(timezone.utc)
    sink = SnapshotSink()
    key = ws.fingerprint_key()
    versions: dict[str, str] = {}
    stores: dict[str, str] = {}
    runs = planned_runs(ws, only)
    with progress_bar(console, force=bool((options or {}).get("progress"))) as progress:
        ctx = CollectContext(
            engagement=loaded.engagement,
            sink=sink,
            fingerprint=lambda v: fingerprint(key, v),
            as_of=started,
            progress=progress,
            options=dict(options or {}),
        )
        for source, store in runs:
            cls = collector_class(source)
            versions[source] = cls.version
            stores.setdefault(store.name, source)
            cls(store, ctx).run()
    manifest = Manifest(
        client=loaded.engagement.client,
        quarter=quarter,
        engagement_sha256=loaded.sha256,
        started_at=started,
        finished_at=datetime.now(timezone.utc),
        collectors=versions,
        stores=stores,
    )
    path = ws.snapshot_dir(quarter)
    manifest = sink.write(path, manifest)
    return CollectResult(path=path, manifest=manifest, sink=sink)
