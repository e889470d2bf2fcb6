"""What every page family shares: slugs, the docs folder, badges, filters and the findings table.

Each function returns an HTML (or Markdown) fragment built from the typed
assessment, with every client value escaped by `posture.report.format`, so the
same fragments serve the site and the printable report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from posture.report import esc, html_table
from posture.report.format import cell, inline_markdown, label, mapping

SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")
#: Findings in the order a reader works through them: failing first, passing last.
STATUS_ORDER = {"fail": 0, "not_assessed": 1, "waived": 2, "pass": 3}
#: The offline filters every findings list offers (row attributes).
FACETS = ("environment", "store", "stage", "severity", "status")
#: Rows per screen page of a findings list: its rows are tall (evidence, fix), phones are narrow.
FINDINGS_PAGE = 10


def slug(value: Any) -> str:
    """A file-name-safe slug for a client value (check ids, environments, owners)."""
    s = SLUG_RE.sub("-", str(value)).strip("-.").lower()
    return s[:60] or "none"


def unique_slugs(values: Iterable[Any]) -> dict[Any, str]:
    """One distinct slug per value (``a b`` and ``a-b`` must not share a page)."""
    out: dict[Any, str] = {}
    used: set[str] = set()
    for v in values:
        base = slug(v)
        s, n = base, 2
        while s in used:
            s, n = f"{base}-{n}", n + 1
        used.add(s)
        out[v] = s
    return out


def levels_for(rel: str) -> str:
    """The way up from a page's URL to the site root (``findings/stage-1.md`` -> ``../../``)."""
    parts = rel.removesuffix(".md").split("/")
    if parts[-1] == "index":
        parts = parts[:-1]
    return "../" * len(parts)


@dataclass
class Docs:
    """What the generator wrote: the docs folder, the nav, and the hashed artefacts."""

    root: Path
    nav: list[Any] = field(default_factory=list)
    artefacts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p


def status_badge(status: Any) -> str:
    return f'<span class="posture-badge status-{slug(status)}">{esc(str(status).replace("_", " "))}</span>'


def severity_badge(severity: Any) -> str:
    return f'<span class="posture-sev sev-{slug(severity)}">{esc(severity)}</span>'


def owner_html(owner: Any) -> str:
    """An owner, or the red gap that nobody owns it."""
    return cell(owner, "owner")


def check_link(check_id: Any, title: Any, levels: str) -> str:
    return f'<a href="{levels}checks/{slug(check_id)}/"><strong>{esc(check_id)}</strong></a> {esc(title)}'


def filter_box(table_id: str) -> str:
    return (f'<p><input class="posture-filter" type="search" placeholder="Filter rows" '
            f'aria-label="Filter rows" data-filter-for="{table_id}" '
            f'data-count="{table_id}-count"> <span id="{table_id}-count"></span></p>')


def facets_form(table_id: str, f: pd.DataFrame, facets: tuple[str, ...] = FACETS) -> str:
    """Drop-downs that narrow ``table_id`` to rows whose ``data-<facet>`` matches (posture.js)."""
    fields = []
    for facet in facets:
        if facet not in f.columns:
            continue
        values = sorted({str(v) for v in f[facet] if not pd.isna(v)}, key=str.lower)
        if len(values) < 2:
            continue
        opts = "".join(f'<option value="{esc(v)}">{esc(v.replace("_", " "))}</option>' for v in values)
        fields.append(f'<label>{esc(label(facet))}<select data-facet="{facet}">'
                      f'<option value="">all</option>{opts}</select></label>')
    if not fields:
        return ""
    return (f'<form class="posture-facets" data-facets-for="{table_id}" aria-label="Filter this list">'
            + "".join(fields) + "</form>")


def row_facets(f: pd.DataFrame, facets: tuple[str, ...] = FACETS) -> list[dict[str, str]]:
    cols = [c for c in facets if c in f.columns]
    return [{c: "" if pd.isna(v) else str(v) for c, v in zip(cols, rec)}
            for rec in f[cols].itertuples(index=False, name=None)]


def sorted_findings(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(_s=f["status"].map(STATUS_ORDER).fillna(4)).sort_values(
        ["_s", "severity_rank", "check_id", "resource"], kind="stable").drop(columns="_s")


def evidence_html(evidence: Any) -> str:
    """What the check saw, labelled; why a result is not assessed comes first."""
    if not isinstance(evidence, dict):
        return cell(evidence)
    reason = evidence.get("not_assessed_reason")
    rest = {k: v for k, v in evidence.items() if k != "not_assessed_reason"}
    head = f'<span class="posture-kv"><span class="posture-k">Why not assessed</span> {esc(reason)}</span>' if reason else ""
    return f'<span class="posture-evidence">{head}{mapping(rest) if rest or not head else ""}</span>'


def fix_html(remediation: Any) -> str:
    """The remediation with its commands as code (backticks in the kit's text)."""
    return f'<span class="posture-fix">{inline_markdown(remediation)}</span>'


def findings_table(f: pd.DataFrame, *, table_id: str, levels: str = "../", facets: bool = True,
                   columns: tuple[str, ...] = ("status", "severity", "check", "resource", "environment",
                                               "owner", "evidence", "remediation")) -> str:
    """Findings with their evidence and fix, filterable offline; paginated by posture.js."""
    if f.empty:
        return "<p><em>No findings.</em></p>"
    built = {
        "status": lambda: [status_badge(s) for s in f["status"]],
        "severity": lambda: [severity_badge(s) for s in f["severity"]],
        "check": lambda: [check_link(c, t, levels) for c, t in zip(f["check_id"], f["title"])],
        "resource": lambda: [esc(r) for r in f["resource"]],
        "environment": lambda: [esc(e) for e in f["environment"]],
        "owner": lambda: [owner_html(o) for o in f["owner"]],
        "evidence": lambda: [evidence_html(e) for e in f["evidence"]],
        "remediation": lambda: [fix_html(r) for r in f["remediation"]],
    }
    rows = pd.DataFrame({c: built[c]() for c in columns})
    controls = (filter_box(table_id) + facets_form(table_id, f)) if facets else filter_box(table_id)
    return controls + html_table(rows, table_id=table_id, css_class="posture-sortable",
                                 raw_columns=tuple(rows.columns), row_attrs=row_facets(f),
                                 page_size=FINDINGS_PAGE, stack=True)


def split_findings(f: pd.DataFrame, *, table_id: str, levels: str = "../") -> str:
    """Failing and not-assessed results in full; passing and waived ones behind a disclosure."""
    f = sorted_findings(f)
    open_ = f[f["status"].isin(("fail", "not_assessed"))]
    rest = f[~f["status"].isin(("fail", "not_assessed"))]
    parts = [findings_table(open_, table_id=table_id, levels=levels) if len(open_)
             else "<p><em>Nothing failing or left unassessed.</em></p>"]
    if len(rest):
        parts.append(f'<details class="posture-rest"><summary>{len(rest)} passing or waived result(s)</summary>'
                     + findings_table(rest, table_id=f"{table_id}-rest", levels=levels) + "</details>")
    return "\n\n".join(parts)


def counts_line(f: pd.DataFrame) -> str:
    """``3 failing, 1 not assessed, 12 passing`` for a set of findings."""
    vc = f["status"].value_counts()
    words = (("fail", "failing"), ("not_assessed", "not assessed"), ("waived", "waived"), ("pass", "passing"))
    return ", ".join(f"{int(vc.get(s, 0))} {w}" for s, w in words)
