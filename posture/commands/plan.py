"""``posture plan rotation CLIENT``: the rotation schedule owners work from, and its calendar."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from posture.cli import ClientArg, app, cells, err, out, print_table
from posture.model.errors import ConfigError
from posture.workspace import Workspace, parse_quarter

plan_app = typer.Typer(
    help="Plans built from an assessment: the rotation schedule and its calendar.",
    no_args_is_help=True,
)
app.add_typer(plan_app, name="plan")

FORMATS = ("table", "csv", "json")


def assessed_quarter(ws: Workspace, quarter: str | None) -> str:
    """``quarter`` checked, else the newest quarter with an assessment; a one-line error if none."""
    if quarter is not None:
        q = parse_quarter(quarter)
        if not (ws.assessment_dir(q) / "findings.json").exists():
            raise ConfigError(f"no assessment of {ws.client} {q} (run 'posture assess {ws.client} --quarter {q}')")
        return q
    done = [q for q in ws.quarters() if (ws.assessment_dir(q) / "findings.json").exists()]
    if not done:
        raise ConfigError(f"no assessment for {ws.client} yet (run 'posture collect {ws.client}' and "
                          f"'posture assess {ws.client}' first)")
    return done[-1]


@plan_app.command("rotation")
def rotation(
    client: ClientArg,
    quarter: Annotated[
        str | None, typer.Option("--quarter", "-q", help="Assessed quarter (YYYY-QN). Default: the newest assessed.")
    ] = None,
    ics: Annotated[
        Path | None, typer.Option("--ics", help="Also write the calendar (.ics) here: one event per due rotation.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    horizon: Annotated[
        int, typer.Option("--horizon", min=1, max=3660,
                          help="Days after the assessment's as-of date the plan covers (default 90).")
    ] = 90,
) -> None:
    """Print the rotation schedule of an assessed quarter; optionally write its calendar.

    One row per item due within the horizon (overdue ones first), plus every
    item with no date: 'unknown' (no rotation or creation date recorded: no
    date is invented) and 'dynamic' (issued per request: nothing to schedule).
    Each row has its due date, owner, the seed's method for its type (database
    passwords by dual-account swap, API keys with an overlap window, TLS
    certificates 60 days before expiry, SSH keys via a CA, encryption keys by
    versioning) and the overlap window; --format csv adds the revocation path,
    --format json the ordered steps too.

    --ics writes an iCalendar file owners import: one all-day event per due
    rotation in the horizon (an overdue one on the as-of date), the owner as
    attendee, the steps, overlap window and revocation path in its description.
    Dates count from the assessment's as-of date, so the same assessment gives
    the same calendar. Names and metadata only, never a secret value.

    Example: posture plan rotation acme --quarter 2026-Q4 --ics acme-rotation.ics
    """
    from posture.report import Assessment
    from posture.report.plans import PLAN_COLUMNS, later_count, plan_table, write_ics

    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if ics is not None and ics.suffix.lower() != ".ics":
        raise ConfigError(f"--ics {ics}: the calendar file must end in .ics")
    ws = Workspace.resolve(client)
    q = assessed_quarter(ws, quarter)
    a = Assessment.load(ws.assessment_dir(q))
    table = plan_table(a, horizon)
    if fmt == "json":
        keep = set(table["id"])
        doc = [r.model_dump(mode="json") for r in a.rows("rotation_plan") if r.id in keep]
        sys.stdout.write(json.dumps({"client": a.client, "quarter": a.quarter, "as_of": a.as_of.isoformat(),
                                     "horizon_days": horizon, "items": doc}, indent=2) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(PLAN_COLUMNS)
        for rec in table.itertuples(index=False, name=None):
            w.writerow(["" if _blank(v) else _csv_cell(v) for v in rec])
        sys.stdout.write(buf.getvalue())
    else:
        t = Table(title=f"rotation plan {a.client} {a.quarter} (as of {a.as_of.isoformat()}, next {horizon} days)")
        for col in ("status", "due", "item", "env", "type", "owner", "method", "overlap"):
            t.add_column(col, overflow="fold")
        for r in table.to_dict("records"):
            due = pd.Timestamp(r["next_due"]).date().isoformat() if pd.notna(r["next_due"]) else "-"
            overlap = f"{r['overlap_days']:g} d" if pd.notna(r["overlap_days"]) else "-"
            t.add_row(*cells(r["status"], due, r["id"], r["environment"], r["secret_type"], "NO OWNER" if _blank(r["owner"]) else r["owner"],
                             r["method"], overlap))
        print_table(t)
        later = later_count(a, horizon)
        if later:
            out.print(f"{later} more item(s) fall due after the horizon (--horizon to see them)", markup=False)
        out.print("steps, overlap windows and revocation paths: --format json (or csv, --ics)", markup=False)
    if ics is not None:
        n = write_ics(a, ics, horizon)
        err.print(f"wrote {ics} ({n} event(s))", markup=False, highlight=False, soft_wrap=True)


def _blank(v: object) -> bool:
    return v is None or (not isinstance(v, (list, tuple)) and bool(pd.isna(v)))


def _csv_cell(v: object) -> str:
    text = v.isoformat() if hasattr(v, "isoformat") else str(v)
    # a cell a spreadsheet would run as a formula (CSV injection) starts with a quote instead
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not text[1:2].isdigit() else text
