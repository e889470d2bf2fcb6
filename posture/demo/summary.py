"""The demo's closing summary: what changed between the two quarters, and where to look."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from posture.demo.client import DEMO_CLIENT_NAME
from posture.invocation import command
from posture.model.errors import PostureError
from posture.model.vocabulary import SEVERITIES

if TYPE_CHECKING:
    from posture.demo import DemoResult


def _load_json(path: Path) -> Any:
    import orjson

    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise PostureError(f"{path}: missing (the assessment did not write it)") from None


def findings_diff(prev_dir: Path, curr_dir: Path) -> dict[str, Any]:
    """What ``posture diff`` shows (`checks.diff`), worst first, plus both overall scores."""
    from checks.diff import diff_dirs

    d: dict[str, Any] = dict(diff_dirs(prev_dir, curr_dir))
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    for rows in d.values():
        rows.sort(key=lambda r: (order.get(r.get("severity") or "", 9), r["check_id"], r["resource"]))

    def score(adir: Path) -> dict[str, Any]:
        s = _load_json(adir / "scores.json").get("overall") or {}
        return {"score": s.get("score"), "grade": s.get("grade")}

    d["score_before"], d["score_after"] = score(prev_dir), score(curr_dir)
    return d


# --- the closing summary ---------------------------------------------------------------


def print_summary(result: DemoResult, console: Console, rows: int = 10) -> None:
    """What changed, where the site is, how to look at it, and how long it all took.

    Resource ids come from the estate: they are printed as plain text (no rich
    markup or emoji codes: an ARN's ``:secret:`` must not become an emoji).
    """
    from rich.table import Table
    from rich.text import Text

    def plain(text: str) -> None:
        console.print(text, markup=False, emoji=False, highlight=False)

    prev, curr = result.quarters
    d = result.diff
    b, a = d["score_before"], d["score_after"]
    console.rule(f"{DEMO_CLIENT_NAME} ({result.client}): {prev} -> {curr}")
    plain(
        f"overall score {b['score']} ({b['grade']}) -> {a['score']} ({a['grade']}); "
        f"{len(d['resolved'])} resolved, {len(d['new'])} new, "
        f"{len(d['still_open'])} still open, {len(d['changed'])} changed status"
    )
    for label, found, style in (("resolved", d["resolved"], "green"), ("new", d["new"], "red")):
        if not found:
            continue
        t = Table(title=Text(f"{label} since {prev} ({len(found)})", style=style), title_justify="left")
        for c in ("check", "severity", "env", "resource"):
            t.add_column(c, overflow="fold")
        for r in found[:rows]:
            t.add_row(*(Text(str(v or "")) for v in (
                r["check_id"], r.get("severity"), r.get("environment"), r["resource"])))
        if len(found) > rows:
            t.caption = f"... and {len(found) - rows} more: {command()} diff {result.client} {prev} {curr}"
        console.print(t)
    ws = result.workspace
    console.print()
    plain(f"workspace:  {ws}")
    plain(f"site:       {result.site_dir} (git branch gh-pages, one mike version per quarter)")
    plain("browse it over HTTP (search and the version selector do not work from file://):")
    run = command()
    plain(f"  cd {ws} && {run} serve {result.client}")
    plain(f"  cd {ws} && {run} export-site {result.client} ./{result.client}-site")
    plain(f"what changed:  cd {ws} && {run} diff {result.client} {prev} {curr}")
    plain(f"demo finished in {result.wall_seconds:.0f}s; per phase: "
          + ", ".join(f"{n} {s:.1f}s" for n, s in result.phases))

