"""``posture assess``, ``posture diff`` and ``posture checks``: score, compare, explain.

The assessing itself is the use case `posture.assess.assess`; here are the
arguments and what is printed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posture.cli import (
    ClientArg,
    QuarterOpt,
    app,
    cells,
    err,
    out,
    print_table,
    printable,
    quarter_or_current,
)
from posture.model.errors import ConfigError
from posture.workspace import Workspace, parse_quarter

if TYPE_CHECKING:
    from posture.assess import AssessOutcome

STATUS_STYLE = {"pass": "green", "fail": "red", "waived": "yellow", "not_assessed": "magenta"}
GRADE_STYLE = {"A": "bold green", "B": "green", "C": "yellow", "D": "red", "F": "bold red", "N/A": "magenta"}


def _parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--as-of {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _fmt_score(s: float | None) -> str:
    return "-" if s is None else f"{s:.1f}"


def print_summary(console: Console, client: str, quarter: str, outcome: AssessOutcome) -> None:
    """The grade per checklist item, the result counts, and every gap and check error, loudly."""
    a, scores, dest = outcome.assessment, outcome.scores, outcome.path
    o = scores["overall"]
    g = o["grade"]
    console.print(
        f"[bold]{client} {quarter}[/bold]  grade [{GRADE_STYLE.get(g, '')}]{g}[/]  score {_fmt_score(o['score'])}"
        f"  coverage {o['coverage'] * 100:.0f}%  (as of {a.as_of.date().isoformat()})"
    )
    t = Table(title="Final review checklist")
    for col, just in (("#", "right"), ("item", "left"), ("score", "right"), ("grade", "center"),
                      ("pass", "right"), ("fail", "right"), ("waived", "right"), ("not assessed", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in scores["by_checklist_item"]:
        t.add_row(str(r["key"]), r["label"], _fmt_score(r["score"]),
                  f"[{GRADE_STYLE.get(r['grade'], '')}]{r['grade']}[/]", str(r["pass"]),
                  f"[red]{r['fail']}[/]" if r["fail"] else "0", str(r["waived"]),
                  f"[magenta]{r['not_assessed']}[/]" if r["not_assessed"] else "0")
    console.print(t)
    counts = a.counts()
    console.print("results: " + "  ".join(f"[{STATUS_STYLE[k]}]{k} {v}[/]" for k, v in counts.items()))
    f = a.findings
    sev = f[f["status"].astype(str).eq("fail")]["severity"].astype(str).value_counts()
    if len(sev):
        console.print("failing by severity: " + "  ".join(
            f"{k} {int(sev.get(k, 0))}" for k in ("critical", "high", "medium", "low") if sev.get(k, 0)))
    reasons = a.not_assessed_reasons()
    if len(reasons):
        by_reason = Counter(zip(f.loc[reasons.index, "check_id"].astype(str), reasons))
        console.print(f"[magenta]not assessed ({len(reasons)}), by check and missing input:[/]")
        for (cid, why), n in by_reason.most_common(12):
            console.print(f"  {n:>5}  {cid}  {printable(why)}", markup=False)
        if len(by_reason) > 12:
            console.print(f"  ... and {len(by_reason) - 12} more (findings.json: not_assessed_reason)", markup=False)
    if len(a.gaps):
        gt = Table(title=f"[bold red]{len(a.gaps)} COVERAGE GAP(S): dependent checks are NOT ASSESSED")
        for c in ("store", "scope", "tables", "operation", "reason"):
            gt.add_column(c)
        for g_ in a.gaps.head(30).itertuples(index=False):
            gt.add_row(*cells(g_.store, g_.scope or "*", ",".join(g_.tables), g_.operation, g_.reason))
        err.print(gt)
        n_gap = int(f["note"].eq("coverage_gap").sum())
        err.print(f"[bold red]{n_gap} result(s) not assessed because of coverage gaps[/]")
    if a.errors:
        err.print(f"[bold red]{len(a.errors)} check(s) raised errors (reported as not_assessed):[/]")
        for e in a.errors[:10]:
            err.print(f"  {printable(e)}", markup=False)
    console.print(f"assessment written to {dest}", markup=False)


@app.command()
def assess(
    client: ClientArg,
    quarter: QuarterOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate ages and expiries at this date (YYYY-MM-DD). Default: the snapshot's collection time.")] = None,
    no_notebooks: Annotated[bool, typer.Option("--no-notebooks", help="Only write the assessment; skip executing the notebooks.")] = False,
) -> None:
    """Score the quarter's snapshot against the check catalog and write the assessment.

    Writes evidence/CLIENT/QUARTER/assessment/ (findings JSON/CSV/SARIF, OSCAL
    assessment-results, scores, catalog, inventory, access model, rotation plan,
    leak cards, cross-environment reach, gaps, waivers, attestations, manifest),
    prints the grade per checklist item and, unless --no-notebooks, executes the
    notebooks.
    """
    from posture.assess import assess as run_assess

    ws = Workspace.resolve(client)
    q = quarter_or_current(quarter)
    run_assess(
        ws, q, as_of=_parse_as_of(as_of), run_notebooks=not no_notebooks, console=err,
        on_written=lambda outcome: print_summary(out, ws.client, q, outcome),
    )


@app.command()
def diff(
    client: ClientArg,
    before: Annotated[str, typer.Argument(help="Earlier quarter, YYYY-QN.")],
    after: Annotated[str, typer.Argument(help="Later quarter, YYYY-QN.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """New, resolved, changed and still-open findings between two assessed quarters."""
    from checks.diff import diff_dirs

    ws = Workspace.resolve(client)
    d = diff_dirs(ws.assessment_dir(parse_quarter(before)), ws.assessment_dir(parse_quarter(after)))
    if as_json:
        sys.stdout.write(json.dumps(d, indent=2) + "\n")
        return
    out.print(f"[bold]{escape(ws.client)}[/] {before} -> {after}: " + "  ".join(f"{k.replace('_', ' ')} {len(v)}" for k, v in d.items()))
    for kind in ("new", "resolved", "changed", "still_open"):
        rows = d[kind]
        if not rows:
            continue
        t = Table(title=f"{kind.replace('_', ' ')} ({len(rows)})")
        for c in ("check", "severity", "resource", "environment", "before", "after"):
            t.add_column(c)
        for r in rows[:200]:
            t.add_row(*cells(r["check_id"], r["severity"] or "", r["resource"], r["environment"] or "",
                             r["before"] or "-", r["after"] or "-"))
        print_table(t)


@app.command()
def checks(
    check_id: Annotated[str | None, typer.Argument(help="A check id (VLT006) or name to document.")] = None,
    thresholds: Annotated[bool, typer.Option("--thresholds", help="Print the default thresholds (from the seeds) as JSON.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print catalog entries as JSON.")] = False,
) -> None:
    """List the check catalog, or show one check's documentation (like `ruff rule`)."""
    from checks.catalog import find, load_catalog
    from posture.model.thresholds import Thresholds

    if thresholds:
        sys.stdout.write(json.dumps(Thresholds().model_dump(mode="json"), indent=2) + "\n")
        return
    if check_id:
        c = find(check_id)
        if c is None:
            raise ConfigError(f"no check {check_id!r} (see 'posture checks')")
        doc = c.doc()
        if as_json:
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            return
        lines = [f"# {c.id} {c.name}", "", f"{c.title}", "",
                 f"Severity: {c.severity}   Stage {c.stage}: {c.stage_name}",
                 f"Checklist item {c.checklist_item}: {c.checklist_text}",
                 f"Anti-pattern: {c.anti_pattern}", f"Inputs: {', '.join(c.inputs) or 'engagement attestations'}",
                 "", "## What it detects", c.detects, "", "## Why it matters", c.why, "", "## How to fix", c.fix]
        if doc["thresholds"]:
            lines += ["", "## Thresholds"] + [f"- {k}: {json.dumps(v)}" for k, v in doc["thresholds"].items()]
        if c.attestation:
            lines += ["", "## Manual evidence", f"Attestation item `{c.attestation}`; missing -> not_assessed."]
        lines += ["", "## Controls"] + [f"- {k}: {', '.join(v)}" for k, v in c.controls.items()]
        if c.references:
            lines += ["", "## Equivalent checks"] + [f"- {r}" for r in c.references]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    cat = load_catalog()
    if as_json:
        sys.stdout.write(json.dumps([c.doc() for c in cat.values()], indent=2) + "\n")
        return
    t = Table(title=f"{len(cat)} checks")
    for col in ("id", "name", "stage", "item", "severity", "title"):
        t.add_column(col)
    for c in cat.values():
        t.add_row(c.id, c.name, str(c.stage), str(c.checklist_item), c.severity, c.title)
    print_table(t)

