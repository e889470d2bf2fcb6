"""The assess use case: snapshot -> checks -> assessment files -> notebooks.

``posture assess`` and ``posture demo`` both call `assess`, so the two can
never score a quarter differently; each caller only prints its own summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from posture.model.errors import PostureError
from posture.workspace import Workspace

if TYPE_CHECKING:  # pandas and the checks load only when a quarter is assessed
    from checks.engine import Assessment
    from posture.model.snapshot import Snapshot


@dataclass
class AssessOutcome:
    """What one assessment produced, for the caller's summary."""

    assessment: Assessment
    snapshot: Snapshot
    #: ``checks.scoring.score`` of the findings (what ``scores.json`` holds).
    scores: dict[str, Any]
    #: ``evidence/CLIENT/QUARTER/assessment``.
    path: Path
    #: Snapshot load, checks and exports.
    checks_seconds: float
    #: Executed notebooks; empty until they ran (or when skipped).
    notebooks: list[Path] = field(default_factory=list)
    notebooks_seconds: float = 0.0


def assess(
    ws: Workspace,
    quarter: str,
    *,
    as_of: date | None = None,
    run_notebooks: bool = True,
    strict: bool = False,
    console: Console | None = None,
    on_written: Callable[[AssessOutcome], None] | None = None,
) -> AssessOutcome:
    """Score ``quarter``'s snapshot and write ``evidence/CLIENT/QUARTER/assessment``.

    ``as_of`` dates ages and expiries (default: the snapshot's collection
    time). A check that raises is reported as not_assessed; with ``strict``
    it is a `PostureError` before anything is written (the demo: a raising
    check is a bug it must not hide). ``on_written`` runs once the files are
    written and before the notebooks, which take most of the time, so the
    caller can show the grade first. Raises `PostureError` without a snapshot.
    """
    from checks.engine import run_assessment
    from checks.export import write_assessment
    from checks.scoring import score
    from posture.model.snapshot import Snapshot

    snap_dir = ws.snapshot_dir(quarter)
    if not (snap_dir / "manifest.json").is_file():
        raise PostureError(
            f"no snapshot for {ws.client} {quarter} at {snap_dir} "
            f"(run 'posture collect {ws.client} --quarter {quarter}' first)"
        )
    started = time.perf_counter()
    snap = Snapshot.load(snap_dir)
    a = run_assessment(snap, ws.load().engagement, as_of or snap.manifest.finished_at)
    if strict and a.errors:
        raise PostureError(f"{len(a.errors)} check(s) raised errors, first: {a.errors[0]}")
    dest = ws.assessment_dir(quarter)
    write_assessment(a, snap, dest, client=ws.client, quarter=quarter)
    outcome = AssessOutcome(
        assessment=a, snapshot=snap, scores=score(a.findings, a.thresholds), path=dest,
        checks_seconds=time.perf_counter() - started,
    )
    if on_written is not None:
        on_written(outcome)
    if run_notebooks:
        from posture import notebooks

        started = time.perf_counter()
        outcome.notebooks = notebooks.run_all(ws, quarter, console)
        outcome.notebooks_seconds = time.perf_counter() - started
    return outcome
