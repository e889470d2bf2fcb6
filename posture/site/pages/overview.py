"""The overview an executive and an auditor read: grade, score cards, trend, changes, exit answers.

Scores are shown as cards with grade, score and coverage side by side, because
a score alone misleads: a group scoring 95 whose coverage is 40% is graded D
(unknown is not pass), and the card says so in words.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from checks.diff import diff_dirs
from checks.scoring import GRADE_BANDS
from posture.model.assessment import AssessmentFiles, Score, ScoreRow, Scores
from posture.model.thresholds import Thresholds
from posture.report import STAGES, Assessment, esc, exit_answer, html_table, overall
from posture.report.format import markdown_html, number, percent
from posture.site.pages.common import check_link, severity_badge, slug
from posture.workspace import Workspace

#: What a grade says about a card's colour (the grade decides, never the raw score).
GRADE_BAND = {"A": "pass", "B": "pass", "C": "warn", "D": "warn", "F": "fail", "N/A": "none"}
#: The diff's kinds, in the order and words a reader wants them.
CHANGE_KINDS = (("new", "New"), ("resolved", "Resolved"), ("still_open", "Still open"),
                ("not_recurred", "Did not recur"), ("changed", "Changed status"))


def coverage_cap_sentence(t: Thresholds) -> str:
    """The coverage cap in one sentence, from the thresholds the assessment applied."""
    caps = sorted(t.min_coverage_for_grade.items())
    floors = ", ".join(f"{g} needs {percent(v)}" for g, v in caps)
    lowest = caps[-1][1] if caps else 0
    return (f"Unknown is not pass, so coverage (the share of results that could be assessed) caps the "
            f"grade: {floors} of results assessed, and below {percent(lowest)} the grade is at most D.")


def _score_band(score: float | None) -> str | None:
    if score is None:
        return None
    return next((g for g, floor in GRADE_BANDS if score >= floor), "F")


def score_card(title: str, s: Score, href: str | None = None) -> str:
    """One group's grade, score and coverage side by side, its counts, and a capped grade explained."""
    band = GRADE_BAND.get(s.grade, "none")
    head = f'<a href="{href}">{esc(title)}</a>' if href else esc(title)
    score = "N/A" if s.score is None else number(s.score)
    uncapped = _score_band(s.score)
    note = ""
    if uncapped and uncapped < s.grade and s.grade != "N/A":
        note = (f'<p class="posture-capped">Capped at {esc(s.grade)} by coverage {percent(s.coverage)} '
                f"(the score alone would be {esc(uncapped)}).</p>")
    elif s.score is None:
        note = "<p>Nothing in this group could be assessed: no score.</p>"
    counts = (f"{s.fail} failing · {s.not_assessed} not assessed · {s.passed} passing"
              + (f" · {s.waived} waived" if s.waived else ""))
    return (f'<div class="posture-scorecard band-{band}"><h3>{head}</h3><div class="posture-figures">'
            f'<span class="posture-figure"><b>{esc(s.grade)}</b><small>grade</small></span>'
            f'<span class="posture-figure"><b>{esc(score)}</b><small>score</small></span>'
            f'<span class="posture-figure"><b>{esc(percent(s.coverage))}</b><small>coverage</small></span>'
            f"</div><p>{esc(counts)}</p>{note}</div>")


def score_cards(rows: list[ScoreRow], *, href: Any = None) -> str:
    """Cards for ``by_checklist_item`` / ``by_stage`` rows; ``href(key)`` links a card."""
    if not rows:
        return "<p><em>No scores.</em></p>"
    return ('<div class="posture-cards">'
            + "".join(score_card(f"{r.key}. {r.label}", r, href(r.key) if href else None) for r in rows)
            + "</div>")


def score_counts_table(a: Assessment, dim: str, table_id: str) -> str:
    """The same groups as a table (counts per status), behind a disclosure under the cards."""
    rows: list[ScoreRow] = getattr(a.scores, dim)
    t = pd.DataFrame([{"key": r.key, "label": r.label, "grade": r.grade,
                       "score": r.score, "coverage": r.coverage, "pass": r.passed, "fail": r.fail,
                       "waived": r.waived, "not_assessed": r.not_assessed} for r in rows])
    if t.empty:
        return ""
    return (f'<details class="posture-rest"><summary>The same as a table</summary>'
            f"{html_table(t, table_id=table_id)}</details>")


def overall_html(a: Assessment) -> str:
    score, grade = overall(a)
    fails = int((a.findings["status"] == "fail").sum())
    na = int((a.findings["status"] == "not_assessed").sum())
    cov = percent(a.scores.overall.coverage)
    return (f'<div id="posture-overall"><span class="posture-grade">{esc(grade)}</span> '
            f'<span>overall score <strong id="posture-score">{esc(score)}</strong>/100 with '
            f"{esc(cov)} of results assessed; {fails} failing, {na} not assessed; data as of "
            f"{esc(a.as_of)}</span></div>")


def banners(a: Assessment, levels: str = "") -> list[str]:
    """Admonitions for what was not assessed: coverage gaps, missing attestations, unknown values."""
    gaps = a.list("coverage_gaps")
    na = int((a.findings["status"] == "not_assessed").sum())
    reasons = a.findings.loc[a.findings["status"] == "not_assessed", "evidence"].map(
        lambda e: str(e.get("not_assessed_reason", "")))
    manual = int(reasons.str.startswith("manual").sum())
    by_gap = int(reasons.str.startswith("coverage gap").sum())
    parts: list[str] = []
    if len(gaps) or by_gap:
        parts += ['!!! danger "Coverage gaps: part of the estate was not assessed"',
                  f"    {len(gaps)} coverage gap(s) left {by_gap} finding(s) **not assessed**. "
                  f"Unknown is not pass: see [Coverage gaps]({levels}coverage-gaps.md).", ""]
    if manual:
        parts += ['!!! warning "Manual evidence missing"',
                  f"    {manual} check(s) need an attestation (runbook, playbook, drill) and are "
                  "**not assessed** until the engagement records one: see "
                  f"[Waivers and attestations]({levels}waivers.md).", ""]
    if na - manual - by_gap > 0:
        parts += ['!!! note "Undecided"',
                  f"    {na - manual - by_gap} finding(s) are **not assessed** because a deciding "
                  "value was unknown in the snapshot.", ""]
    return parts


# --- trend ------------------------------------------------------------------------


def trend_rows(ws: Workspace, quarter: str, published: list[str]) -> pd.DataFrame:
    """Overall score per quarter: every published quarter up to this one, plus this one."""
    quarters = sorted({q for q in published if q <= quarter} | {quarter})
    rows = []
    for q in quarters:
        adir = ws.assessment_dir(q)
        if not (adir / "scores.json").exists():
            continue
        scores: Scores = AssessmentFiles.read_part(adir, "scores")
        row: dict[str, Any] = {"quarter": q, "grade": scores.overall.grade, "score": scores.overall.score,
                               "coverage": scores.overall.coverage}
        for item in scores.by_checklist_item:
            row[f"item {item.key}"] = item.score
        rows.append(row)
    return pd.DataFrame(rows)


def trend_svg(trend: pd.DataFrame) -> str:
    """An inline SVG line chart of the overall score (no script, no external asset).

    One quarter is a single labelled point; a quarter without a score (nothing
    assessed) is left out of the line and named in the caption, never drawn as 0.
    """
    if trend.empty:
        return ""
    scored = trend[trend["score"].notna()]
    w, h, pad, top = 520, 170, 40, 24
    n = len(trend)

    def x(i: int) -> float:
        return pad + (w - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)

    def y(s: float) -> float:
        return h - pad - (h - pad - top) * (float(s) / 100)

    pts = [(x(i), y(s), q, s) for i, (q, s) in enumerate(zip(trend["quarter"], trend["score"])) if pd.notna(s)]
    line = (f'<polyline points="{" ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)}" fill="none" '
            'stroke="#546e7a" stroke-width="2"/>') if len(pts) > 1 else ""
    marks = "".join(
        f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="#37474f"><title>{esc(q)}: {esc(number(s))}</title></circle>'
        f'<text x="{px:.1f}" y="{py - 10:.1f}" font-size="12" text-anchor="middle" fill="currentColor">'
        f"{esc(number(s))}</text>" for px, py, q, s in pts)
    labels = "".join(f'<text x="{x(i):.1f}" y="{h - 12}" font-size="12" text-anchor="middle" '
                     f'fill="currentColor">{esc(q)}</text>' for i, q in enumerate(trend["quarter"]))
    axis = "".join(f'<line x1="{pad}" y1="{y(v):.1f}" x2="{w - pad}" y2="{y(v):.1f}" stroke="#9e9e9e" '
                   f'stroke-opacity="{0.8 if v == 0 else 0.3}"/><text x="{pad - 6}" y="{y(v) + 4:.1f}" '
                   f'font-size="10" text-anchor="end" fill="currentColor">{v}</text>' for v in (0, 50, 100))
    missing = sorted(set(trend["quarter"]) - set(scored["quarter"]))
    note = f"<p><em>No score (nothing assessed): {esc(', '.join(missing))}.</em></p>" if missing else ""
    return (f'<div class="posture-trend"><svg role="img" aria-label="Overall score by quarter" '
            f'viewBox="0 0 {w} {h}" width="{w}" height="{h}">{axis}{line}{marks}{labels}</svg>{note}</div>')


# --- what changed -------------------------------------------------------------------


def previous_quarter(ws: Workspace, quarter: str, published: list[str]) -> str | None:
    """The latest published quarter before ``quarter`` that has an assessment."""
    earlier = [q for q in published if q < quarter and (ws.assessment_dir(q) / "findings.json").exists()]
    return max(earlier) if earlier else None


def changes(ws: Workspace, quarter: str, published: list[str]) -> tuple[str | None, dict[str, list[dict[str, Any]]]]:
    """(previous quarter, `checks.diff` of it against this one), or (None, {}) for a first quarter."""
    prev = previous_quarter(ws, quarter, published)
    if prev is None:
        return None, {}
    return prev, diff_dirs(ws.assessment_dir(prev), ws.assessment_dir(quarter))


def changes_html(prev: str | None, diff: dict[str, list[dict[str, Any]]], levels: str = "") -> str:
    """Counts per kind of change as tiles, each kind's findings behind a disclosure."""
    if prev is None:
        return "<p><em>The first published quarter: nothing to compare with yet.</em></p>"
    tiles = "".join(f'<div class="posture-delta"><b>{len(diff.get(k, []))}</b>{esc(words)}</div>'
                    for k, words in CHANGE_KINDS)
    parts = [f'<div class="posture-deltas">{tiles}</div>',
             "<p>A finding keeps its identity across quarters (check and resource; for an audit event, "
             "the check, signal, principal and path), so an event that recurs is still open, and one "
             "that was simply not seen again is listed as not recurring, not as resolved.</p>"]
    for kind, words in CHANGE_KINDS:
        rows = diff.get(kind, [])
        if not rows:
            continue
        t = pd.DataFrame({
            "severity": [severity_badge(r.get("severity")) for r in rows],
            "check": [check_link(r["check_id"], r.get("title"), levels) for r in rows],
            "resource": [esc(r["resource"]) for r in rows],
            "environment": [esc(r.get("environment")) for r in rows],
            "before": [esc(str(r.get("before") or "absent").replace("_", " ")) for r in rows],
            "after": [esc(str(r.get("after") or "absent").replace("_", " ")) for r in rows],
        })
        parts.append(f'<details class="posture-rest"><summary>{esc(words)} ({len(rows)})</summary>'
                     + html_table(t, table_id=f"t-changes-{slug(kind)}", css_class="posture-sortable",
                                  raw_columns=tuple(t.columns)) + "</details>")
    return "".join(parts)


# --- the page ---------------------------------------------------------------------


def overview_page(a: Assessment, trend: pd.DataFrame, prev: str | None,
                  diff: dict[str, list[dict[str, Any]]], top_risks: str) -> str:
    parts = [f"# {esc(a.client)}: secrets posture, {esc(a.quarter)}", "", *banners(a)]
    parts += [
        overall_html(a), "",
        f"<p>{esc(coverage_cap_sentence(a.thresholds))}</p>", "",
        "## Scores per checklist item", "",
        score_cards(a.scores.by_checklist_item), "",
        score_counts_table(a, "by_checklist_item", "t-scores-checklist"), "",
        "## Scores per review stage", "",
        score_cards(a.scores.by_stage, href=lambda k: f"findings/stage-{k}/"), "",
        score_counts_table(a, "by_stage", "t-scores-stage"), "",
        "## Trend across published quarters", "",
        trend_svg(trend), "",
        html_table(trend, table_id="t-trend") if len(trend) > 1 else "<p><em>First quarter.</em></p>", "",
        f"## What changed since {esc(prev)}" if prev else "## What changed", "",
        changes_html(prev, diff), "",
        "## Top risks", "",
        top_risks, "",
        "## Exit questions of the review", "",
    ]
    parts += ['<div class="posture-exits">' + "".join(exit_answer(a, s).html() for s in STAGES) + "</div>", ""]
    if a.scores.method:
        parts += ["## Scoring method", "", f'<div class="posture-method">{markdown_html(a.scores.method)}</div>', ""]
    return "\n".join(parts)
