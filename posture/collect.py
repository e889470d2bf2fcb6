"""``posture collect``: run every configured collector into one atomic snapshot.

Before any store is contacted, what would make the snapshot misleading is
refused: nothing to collect (no store, or ``--store`` naming none), a quarter
that has not started (unless ``as_of`` says which day of it this stands for),
and replacing a quarter's snapshot (its assessment would silently describe
another one) unless ``force``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from collectors.base import CollectContext, collector_class
from posture.model.errors import ConfigError, PostureError
from posture.model.snapshot import Manifest, SnapshotSink
from posture.progress import progress_bar
from posture.workspace import Workspace, current_quarter, fingerprint


@dataclass
class CollectResult:
    path: Path
    manifest: Manifest
    sink: SnapshotSink


def planned_runs(ws: Workspace, only: list[str] | None = None) -> list[tuple[str, Any]]:
    """(source, store config) pairs in collection order; `ConfigError` if that is nothing.

    An empty snapshot would read as "no coverage gaps": nothing collected must
    never look like nothing found.
    """
    eng = ws.load().engagement
    names = [s.name for s in eng.stores.all()]
    if not names:
        raise ConfigError(f"{ws.engagement_path}: no stores configured, so there is nothing to "
                          "collect (add one under 'stores:')")
    unknown = [n for n in only or [] if n not in names]
    if unknown:
        raise ConfigError(f"--store {unknown[0]!r}: no such store in {ws.engagement_path} "
                          f"(stores: {', '.join(names)})")
    runs: list[tuple[str, Any]] = []
    for source, stores in eng.stores.by_source():
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


def _check_quarter(quarter: str, as_of: date | None, today: date) -> None:
    """A quarter that has not started is refused unless ``as_of`` names the day of it meant.

    Today's state filed as next year's Q1 would sit in the trend as a quarter
    that never was; collecting early is legitimate, but only when said.
    """
    if as_of is not None:
        if current_quarter(as_of) != quarter:
            raise ConfigError(f"--as-of {as_of.isoformat()} is not a day of {quarter}")
    elif quarter > current_quarter(today):
        raise ConfigError(f"{quarter} has not started (today is {today.isoformat()}, in "
                          f"{current_quarter(today)}); to collect it early, say for which day with "
                          f"--as-of YYYY-MM-DD (a day of {quarter})")


def _keep_or_replace(ws: Workspace, quarter: str, force: bool, console: Console) -> None:
    """An existing snapshot is kept unless ``force``: its assessment was made from it."""
    existing = ws.snapshot_dir(quarter) / "manifest.json"
    if not existing.is_file():
        return
    try:
        when = f"at {Manifest.model_validate_json(existing.read_bytes()).finished_at:%Y-%m-%d %H:%M} UTC"
    except ValueError:
        when = "at an unknown time (unreadable manifest)"
    if not force:
        raise PostureError(f"{ws.client} {quarter} already has a snapshot (collected {when}); kept it. "
                           "Use --force to replace it (then assess again before publishing)")
    console.print(f"replacing the {quarter} snapshot collected {when} (--force): its assessment "
                  f"no longer applies; run 'posture assess {ws.client} --quarter {quarter}' again",
                  markup=False, highlight=False)


def collect(
    ws: Workspace,
    quarter: str,
    *,
    console: Console | None = None,
    only: list[str] | None = None,
    options: dict[str, Any] | None = None,
    as_of: date | None = None,
    force: bool = False,
) -> CollectResult:
    """Collect every store into ``evidence/CLIENT/QUARTER/snapshot``.

    Raises `ConfigError` before any store is contacted when there is nothing to
    collect or the quarter has not started (without ``as_of``), `PostureError`
    when the quarter already has a snapshot (without ``force``), and
    `CollectionError` (nothing written) when a store cannot be assessed.
    """
    console = console or Console(stderr=True)
    loaded = ws.load()
    runs = planned_runs(ws, only)
    started = datetime.now(timezone.utc)
    _check_quarter(quarter, as_of, started.date())
    _keep_or_replace(ws, quarter, force, console)
    for source, store in runs:  # a file-backed store (inventory) validates before any store is contacted
        preflight = getattr(collector_class(source), "preflight", None)
        if preflight is not None:
            preflight(store, ws.engagement_dir)
    if as_of is not None and quarter > current_quarter(started.date()):
        console.print(f"collecting {quarter} before it starts, for {as_of.isoformat()} (--as-of)",
                      markup=False, highlight=False)
    sink = SnapshotSink()
    key = ws.fingerprint_key()
    versions: dict[str, str] = {}
    stores: dict[str, str] = {}
    with progress_bar(console, force=bool((options or {}).get("progress"))) as progress:
        ctx = CollectContext(
            engagement=loaded.engagement,
            sink=sink,
            fingerprint=lambda v: fingerprint(key, v),
            as_of=started,
            progress=progress,
            options={"engagement_dir": ws.engagement_dir, **(options or {})},
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
