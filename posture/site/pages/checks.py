"""The catalog's pages and the stage pages: what each check detects, why, how to fix, and its results.

Catalog texts are the kit's own Markdown (backticks for names, lists): they are
rendered by `markdown_html`, which escapes first, so they read as prose with
code, never as literal ``**`` and backticks.
"""

from __future__ import annotations

import pandas as pd

from posture.model.assessment import CatalogEntry
from posture.report import CHECKLIST, STAGES, Assessment, esc, exit_answer, html_table
from posture.report.format import cell, chips, markdown_html
from posture.site.pages.common import counts_line, filter_box, severity_badge, slug, split_findings

FRAMEWORKS = {"soc2": "SOC 2", "iso27001": "ISO/IEC 27001:2022", "pci_dss": "PCI DSS v4.0",
              "nist_800_53": "NIST SP 800-53 r5"}


def controls_html(controls: dict[str, list[str]]) -> str:
    """Control mappings as one line per framework, identifiers as chips."""
    lines = [f'<div class="posture-kv"><span class="posture-k">{esc(FRAMEWORKS.get(k, k))}</span> '
             f"{chips(v, limit=12)}</div>" for k, v in controls.items() if v]
    return "".join(lines) or "<p><em>No control mapping.</em></p>"


def check_counts(f: pd.DataFrame, levels: str) -> pd.DataFrame:
    """Per check: its link, severity and how many results pass, fail, are waived or not assessed."""
    rows = []
    for (cid, title, sev), g in f.groupby(["check_id", "title", "severity"], sort=True):
        vc = g["status"].value_counts()
        rows.append({"check": f'<a href="{levels}checks/{slug(cid)}/">{esc(cid)}</a> {esc(title)}',
                     "severity": severity_badge(sev),
                     **{s: str(int(vc.get(s, 0))) for s in ("fail", "not_assessed", "waived", "pass")}})
    return pd.DataFrame(rows)


def stage_page(a: Assessment, stage: int, levels: str = "../../") -> str:
    f = a.findings[a.findings["stage"] == stage]
    counts = check_counts(f, levels)
    return "\n".join([
        f"# Stage {stage}: {STAGES[stage]}", "",
        exit_answer(a, stage).html(), "",
        "## Checks", "",
        html_table(counts, table_id=f"t-stage-{stage}-counts", css_class="posture-sortable",
                   raw_columns=tuple(counts.columns)) if len(counts) else "<p><em>No checks.</em></p>",
        "", f"## Findings ({esc(counts_line(f))})" if len(f) else "## Findings", "",
        split_findings(f, table_id=f"t-stage-{stage}-findings", levels=levels), ""])


def check_page(a: Assessment, entry: CatalogEntry, levels: str = "../../") -> str:
    f = a.findings[a.findings["check_id"] == entry.id]
    facts = "".join(f'<div class="posture-kv"><span class="posture-k">{esc(k)}</span> {v}</div>' for k, v in (
        ("Stage", esc(f"{entry.stage}: {entry.stage_name}")),
        ("Checklist item", esc(f"{entry.checklist_item}: {CHECKLIST[entry.checklist_item]}")),
        ("Anti-pattern", esc(entry.anti_pattern)),
        ("Severity", severity_badge(entry.severity)),
        ("Reads", chips(entry.inputs, limit=12)),
        ("Manual evidence", esc(f"needs the attestation '{entry.attestation}'") if entry.manual else cell(False)),
    ))
    th = pd.DataFrame([{"threshold": k, "value": v} for k, v in entry.thresholds.items()])
    return "\n".join([
        f"# {esc(entry.id)}: {esc(entry.title)}", "",
        f'<div class="posture-facts" id="t-check-meta">{facts}</div>', "",
        "## What it detects", "", markdown_html(entry.detects), "",
        "## Why it matters", "", markdown_html(entry.why), "",
        "## How to fix", "", markdown_html(entry.fix), "",
        "## Thresholds", "", html_table(th, table_id="t-check-thresholds") if len(th) else "<p><em>None.</em></p>", "",
        "## Control mappings", "", controls_html(entry.controls), "",
        f"## This quarter ({esc(counts_line(f))})" if len(f) else "## This quarter (no results)", "",
        split_findings(f, table_id="t-check-findings", levels=levels), ""])


def checks_index(a: Assessment) -> str:
    catalog = a.catalog
    if not catalog:
        return "# Checks\n\nThe catalog is empty.\n"
    fails = a.findings[a.findings["status"] == "fail"]["check_id"].value_counts()
    na = a.findings[a.findings["status"] == "not_assessed"]["check_id"].value_counts()
    rows = pd.DataFrame({
        "id": [f'<a href="{slug(c.id)}/">{esc(c.id)}</a>' for c in catalog],
        "title": [esc(c.title) for c in catalog],
        "stage": [esc(c.stage) for c in catalog],
        "severity": [severity_badge(c.severity) for c in catalog],
        "failing": [str(int(fails.get(c.id, 0))) for c in catalog],
        "not_assessed": [str(int(na.get(c.id, 0))) for c in catalog],
    })
    return "\n".join(["# Checks", "", "Every check of the catalog: what it detects, why, how to "
                      "fix it and the controls it evidences.", "", filter_box("t-checks"),
                      html_table(rows, table_id="t-checks", css_class="posture-sortable",
                                 raw_columns=tuple(rows.columns)), ""])
