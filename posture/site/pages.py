"""Generate one quarter's evidence-site pages (Markdown + escaped HTML tables).

Every value that came from a client's estate goes through `posture.report.esc`
(HTML and Markdown escaped) or `html_table` (which does the same per cell):
pages are built from strings the kit wrote around escaped values, never from
a client's text as markup. Executed notebooks are converted with nbconvert to
Markdown with inputs hidden; their outputs are the kit's own escaped tables.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from posture.model.fsutil import sha256_file
from posture.report import (
    CHECKLIST,
    STAGES,
    Assessment,
    esc,
    exit_answer,
    html_table,
    overall,
    score_table,
    status_counts,
    top_risks,
)
from posture.workspace import Workspace

DOWNLOADS = (
    "findings.json",
    "findings.csv",
    "findings.sarif",
    "oscal-assessment-results.json",
    "scores.json",
    "catalog.json",
    "inventory.json",
)
NOTEBOOK_TITLES = {
    "executive-summary": "Executive summary",
    "stage-1-inventory": "Stage 1: Inventory",
    "stage-2-access": "Stage 2: Access",
    "stage-3-lifecycle": "Stage 3: Lifecycle",
    "stage-4-developer-ci": "Stage 4: Developer & CI",
    "stage-5-verification": "Stage 5: Verification",
    "audit-activity": "Audit activity",
}
SLUG_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(value: Any) -> str:
    """A file-name-safe slug for a client value (check ids, environments, owners)."""
    s = SLUG_RE.sub("-", str(value)).strip("-.").lower()
    return s[:60] or "none"


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


def _status_html(status: Any) -> str:
    s = esc(status)
    return f'<span class="posture-badge status-{slug(status)}">{s}</span>'


def _controls_html(controls: Any) -> str:
    if not isinstance(controls, dict):
        return esc(controls)
    return "<br>".join(f"{esc(k)}: {esc(', '.join(map(str, v)) if isinstance(v, list) else v)}"
                       for k, v in controls.items() if v)


def _evidence_html(evidence: Any) -> str:
    if isinstance(evidence, dict):
        return "<br>".join(f"{esc(k)} = {esc(json.dumps(v, default=str) if not isinstance(v, str) else v)}"
                           for k, v in evidence.items())
    return esc(evidence)


def _score_cell(score: Any) -> str:
    try:
        v = float(score)
    except (TypeError, ValueError):
        v = float("nan")
    if math.isnan(v):  # nothing could be assessed, which is not a score of zero
        return '<span class="posture-unknown">N/A</span>'
    cls = "posture-pass" if v >= 80 else ("posture-unknown" if v >= 60 else "posture-fail")
    return f'<span class="{cls}">{esc(round(v))}</span>'


def findings_html(f: pd.DataFrame, *, table_id: str, levels: str = "../") -> str:
    """Findings with their evidence, remediation and control mappings, escaped."""
    if f.empty:
        return "<p><em>No findings.</em></p>"
    rows = pd.DataFrame({
        "status": [_status_html(s) for s in f["status"]],
        "severity": [esc(s) for s in f["severity"]],
        "check": [f'<a href="{levels}checks/{slug(c)}/">{esc(c)}</a> {esc(t)}'
                  for c, t in zip(f["check_id"], f["title"])],
        "resource": [esc(r) for r in f["resource"]],
        "environment": [esc(e) for e in f["environment"]],
        "owner": [esc(o) for o in f["owner"]],
        "evidence": [f'<span class="posture-evidence">{_evidence_html(e)}</span>' for e in f["evidence"]],
        "remediation": [esc(r) for r in f["remediation"]],
        "controls": [_controls_html(c) for c in f["controls"]],
    })
    return _filter_box(table_id) + html_table(
        rows, table_id=table_id, css_class="posture-sortable", raw_columns=tuple(rows.columns)
    )


def _filter_box(table_id: str) -> str:
    return (f'<p><input class="posture-filter" type="search" placeholder="Filter rows" '
            f'aria-label="Filter rows" data-filter-for="{table_id}" '
            f'data-count="{table_id}-count"> <span id="{table_id}-count"></span></p>')


def _sorted_findings(f: pd.DataFrame) -> pd.DataFrame:
    order = {"fail": 0, "not_assessed": 1, "waived": 2, "pass": 3}
    return f.assign(_s=f["status"].map(order).fillna(4)).sort_values(
        ["_s", "severity_rank", "check_id", "resource"], kind="stable").drop(columns="_s")


# --- trend ------------------------------------------------------------------------


def trend_rows(ws: Workspace, quarter: str, published: list[str]) -> pd.DataFrame:
    """Overall score per quarter: every published quarter up to this one, plus this one."""
    quarters = sorted({q for q in published if q <= quarter} | {quarter})
    rows = []
    for q in quarters:
        p = ws.assessment_dir(q) / "scores.json"
        if not p.exists():
            continue
        doc = json.loads(p.read_text(encoding="utf-8"))
        o = doc.get("overall") or {}
        row: dict[str, Any] = {"quarter": q, "score": o.get("score"), "grade": o.get("grade")}
        for item in doc.get("by_checklist_item") or []:
            row[f"item {item.get('key')}"] = item.get("score")
        rows.append(row)
    return pd.DataFrame(rows)


def trend_svg(trend: pd.DataFrame) -> str:
    """A small inline SVG line chart of the overall score (no script, no external asset)."""
    if trend.empty:
        return ""
    w, h, pad = 480, 160, 30
    n = len(trend)
    pts = []
    for i, (q, s) in enumerate(zip(trend["quarter"], trend["score"])):
        x = pad + (w - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        y = h - pad - (h - 2 * pad) * (float(s or 0) / 100)
        pts.append((x, y, q, s))
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in pts)
    marks = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#37474f"><title>{esc(q)}: {esc(s)}</title></circle>'
        f'<text x="{x:.1f}" y="{h - 8}" font-size="11" text-anchor="middle" fill="currentColor">{esc(q)}</text>'
        f'<text x="{x:.1f}" y="{y - 8:.1f}" font-size="11" text-anchor="middle" fill="currentColor">{esc(s)}</text>'
        for x, y, q, s in pts
    )
    return (f'<div class="posture-trend"><svg role="img" aria-label="Overall score by quarter" '
            f'viewBox="0 0 {w} {h}" width="{w}" height="{h}">'
            f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#9e9e9e"/>'
            f'<polyline points="{line}" fill="none" stroke="#546e7a" stroke-width="2"/>'
            f"{marks}</svg></div>")


# --- pages ------------------------------------------------------------------------


def overview_page(a: Assessment, trend: pd.DataFrame) -> str:
    score, grade = overall(a)
    gaps = a.list("coverage_gaps")
    na = int((a.findings["status"] == "not_assessed").sum())
    fails = int((a.findings["status"] == "fail").sum())
    parts = [f"# {esc(a.client)}: secrets posture, {esc(a.quarter)}", ""]
    reasons = a.findings.loc[a.findings["status"] == "not_assessed", "evidence"].map(
        lambda e: str((e or {}).get("not_assessed_reason", "")) if isinstance(e, dict) else "")
    manual = int(reasons.str.startswith("manual").sum())
    by_gap = int(reasons.str.startswith("coverage gap").sum())
    if len(gaps) or by_gap:
        parts += ['!!! danger "Coverage gaps: part of the estate was not assessed"',
                  f"    {len(gaps)} coverage gap(s) left {by_gap} finding(s) **not assessed**. "
                  "Unknown is not pass: see [Coverage gaps](coverage-gaps.md).", ""]
    if manual:
        parts += ['!!! warning "Manual evidence missing"',
                  f"    {manual} check(s) need an attestation (runbook, playbook, drill) and are "
                  "**not assessed** until the engagement records one: see "
                  "[Waivers and attestations](waivers.md).", ""]
    if na - manual - by_gap > 0:
        parts += ['!!! note "Undecided"',
                  f"    {na - manual - by_gap} finding(s) are **not assessed** because a deciding "
                  "value was unknown in the snapshot.", ""]
    parts += [
        f'<div id="posture-overall"><span class="posture-grade">{esc(grade)}</span> '
        f'<span>overall score <strong id="posture-score">{esc(score)}</strong>/100; '
        f"{fails} failing, {na} not assessed, data as of {esc(a.as_of)}</span></div>",
        "",
        "## Scores per checklist item",
        "",
        _scores_html(a, "by_checklist_item", "scores-checklist"),
        "",
        "## Scores per review stage",
        "",
        _scores_html(a, "by_stage", "scores-stage"),
        "",
        "## Trend across published quarters",
        "",
        trend_svg(trend),
        "",
        html_table(trend, table_id="t-trend") if not trend.empty else "<p><em>First quarter.</em></p>",
        "",
        "## Top risks",
        "",
        html_table(top_risks(a, 10), table_id="t-top-risks") if (a.findings["status"] == "fail").any()
        else "<p><em>No failing finding.</em></p>",
        "",
        "## Exit questions of the review",
        "",
    ]
    for s in STAGES:
        ans = exit_answer(a, s)
        parts += [ans.html(), ""]
    method = a.scores.get("method")
    if method:
        parts += ["## Scoring method", "", f"<p>{esc(method)}</p>", ""]
    return "\n".join(parts)


def _scores_html(a: Assessment, dim: str, table_id: str) -> str:
    t, table_id = score_table(a, dim), f"t-{table_id}"
    if t.empty:
        return "<p><em>No scores.</em></p>"
    t = t.assign(score=[_score_cell(s) for s in t["score"]],
                 label=[esc(x) for x in t["label"]], key=[esc(x) for x in t["key"]])
    for c in t.columns.drop(["score", "label", "key"]):
        t[c] = [esc(x) for x in t[c]]
    return html_table(t, table_id=table_id, raw_columns=tuple(t.columns))


def inventory_page(a: Assessment) -> str:
    inv = a.inventory
    cols = [c for c in ("id", "name", "source", "store", "kind", "environment", "secret_type",
                        "owner", "data_class", "lifecycle_class", "age_days", "last_rotated_at",
                        "expires_at") if c in inv.columns]
    body = (_filter_box("t-inventory") + html_table(inv[cols], table_id="t-inventory",
                                                   css_class="posture-sortable")
            if not inv.empty else "<p><em>The inventory is empty.</em></p>")
    return "\n".join([
        "# Inventory", "",
        f"{len(inv)} item(s): every secret, key, certificate and credential collected this "
        "quarter, with its environment, type, owner, data class and lifecycle class. Click a "
        "column to sort; type to filter.", "", body, ""])


def stage_page(a: Assessment, stage: int) -> str:
    f = _sorted_findings(a.findings[a.findings["stage"] == stage])
    counts = status_counts(f, "check_id")
    return "\n".join([
        f"# Stage {stage}: {STAGES[stage]}", "",
        exit_answer(a, stage).html(), "",
        "## Checks", "",
        html_table(counts, table_id=f"t-stage-{stage}-counts") if len(counts) else "<p><em>No checks.</em></p>",
        "", "## Findings", "",
        findings_html(f, table_id=f"t-stage-{stage}-findings"), ""])


def grouped_page(a: Assessment, by: str, title: str, intro: str) -> str:
    parts = [f"# {title}", "", intro, ""]
    f = a.findings
    keys = sorted(f[by].fillna("").astype(str).unique())
    for i, k in enumerate(keys):
        sub = _sorted_findings(f[f[by].fillna("").astype(str) == k])
        label = k or "(none)"
        nfail = int((sub["status"] == "fail").sum())
        parts += [f"## {esc(label)}", "",
                  f"{len(sub)} finding(s), {nfail} failing.", "",
                  findings_html(sub, table_id=f"t-{by}-{i}"), ""]
    return "\n".join(parts)


def list_page(title: str, intro: str, df: pd.DataFrame, table_id: str, *, loud: bool = False) -> str:
    parts, table_id = [f"# {title}", ""], f"t-{table_id}"
    if loud and len(df):
        parts += [f'!!! danger "{len(df)} item(s)"', f"    {intro}", ""]
    else:
        parts += [intro, ""]
    if df.empty:
        parts += ["<p><em>None.</em></p>"]
    else:
        flat = df.map(lambda v: json.dumps(v, default=str) if isinstance(v, (list, dict)) else v)
        parts += [_filter_box(table_id), html_table(flat, table_id=table_id, css_class="posture-sortable")]
    return "\n".join(parts) + "\n"


def leak_cards_page(a: Assessment) -> str:
    cards = a.list("leak_cards")
    parts = ["# Leak-response cards", "",
             "If this key leaks at 3am: what to revoke first, in what order, who owns it and who "
             "is paged. One card per critical secret.", "",
             exit_answer(a, 5).html(), ""]
    if cards.empty:
        return "\n".join(parts + ["<p><em>No cards.</em></p>", ""])
    for _, card in cards.iterrows():
        title = card.get("resource", card.get("id", "card"))
        parts.append(f'<div class="posture-card"><h3>{esc(title)}</h3><dl>')
        for k, v in card.items():
            if isinstance(v, float) and pd.isna(v):
                continue
            if isinstance(v, list):
                val = "<ol>" + "".join(f"<li>{esc(x)}</li>" for x in v) + "</ol>"
            else:
                val = esc(v)
            parts.append(f"<dt>{esc(k)}</dt><dd>{val}</dd>")
        parts.append("</dl></div>")
    return "\n".join(parts) + "\n"


def check_page(a: Assessment, entry: dict[str, Any]) -> str:
    cid = entry.get("id", "")
    f = _sorted_findings(a.findings[a.findings["check_id"] == cid])
    counts = f["status"].value_counts()
    meta = pd.DataFrame([
        {"field": "id", "value": cid},
        {"field": "name", "value": entry.get("name")},
        {"field": "stage", "value": f"{entry.get('stage')}: {entry.get('stage_name', '')}"},
        {"field": "checklist item", "value": f"{entry.get('checklist_item')}: "
                                              f"{CHECKLIST.get(entry.get('checklist_item'), '')}"},
        {"field": "anti-pattern", "value": entry.get("anti_pattern")},
        {"field": "severity", "value": entry.get("severity")},
        {"field": "inputs", "value": ", ".join(map(str, entry.get("inputs") or []))},
    ])
    thresholds = entry.get("thresholds") or {}
    th = pd.DataFrame([{"threshold": k, "value": json.dumps(v) if not isinstance(v, str) else v}
                       for k, v in (thresholds.items() if isinstance(thresholds, dict) else [])])
    return "\n".join([
        f"# {esc(cid)}: {esc(entry.get('title', ''))}", "",
        html_table(meta, table_id="t-check-meta"), "",
        "## What it detects", "", f"<p>{esc(entry.get('detects', ''))}</p>", "",
        "## Why it matters", "", f"<p>{esc(entry.get('why', ''))}</p>", "",
        "## How to fix", "", f"<p>{esc(entry.get('fix', ''))}</p>", "",
        "## Thresholds", "", html_table(th) if len(th) else "<p><em>None.</em></p>", "",
        "## Control mappings", "", f"<p>{_controls_html(entry.get('controls') or {})}</p>", "",
        f"## This quarter ({', '.join(f'{k}: {v}' for k, v in counts.items()) or 'no results'})", "",
        findings_html(f, table_id="t-check-findings", levels="../../"), ""])


def checks_index(catalog: pd.DataFrame) -> str:
    if catalog.empty:
        return "# Checks\n\nThe catalog is empty.\n"
    rows = pd.DataFrame({
        "id": [f'<a href="{slug(i)}/">{esc(i)}</a>' for i in catalog["id"]],
        "title": [esc(t) for t in catalog.get("title", "")],
        "stage": [esc(s) for s in catalog.get("stage", "")],
        "severity": [esc(s) for s in catalog.get("severity", "")],
    })
    return "\n".join(["# Checks", "", "Every check of the catalog: what it detects, why, how to "
                      "fix it and the controls it evidences.", "", _filter_box("t-checks"),
                      html_table(rows, table_id="t-checks", css_class="posture-sortable",
                                 raw_columns=tuple(rows.columns)), ""])


# --- notebooks ----------------------------------------------------------------------

_DF_CLASS = re.compile(r'\s+class="dataframe"')
_BORDER = re.compile(r'\s+border="1"')
_STYLE_SCOPED = re.compile(r"<style scoped>.*?</style>", re.DOTALL)


def notebook_markdown(ipynb: Path, out_dir: Path) -> tuple[str, list[Path]]:
    """Executed notebook → Markdown with inputs hidden, images written beside it."""
    import nbformat
    from nbconvert import MarkdownExporter

    nb = nbformat.read(ipynb, as_version=4)
    exporter = MarkdownExporter(exclude_input=True, exclude_input_prompt=True,
                                exclude_output_prompt=True)
    files_dir = f"{ipynb.stem}_files"
    body, resources = exporter.from_notebook_node(nb, resources={"output_files_dir": files_dir})
    written = []
    for name, data in (resources.get("outputs") or {}).items():
        p = out_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        written.append(p)
    body = _STYLE_SCOPED.sub("", body)
    body = _DF_CLASS.sub("", body)
    body = _BORDER.sub("", body)
    return body, written


# --- the whole docs folder ----------------------------------------------------------


def build_docs(
    ws: Workspace,
    quarter: str,
    dest: Path,
    *,
    static: Path,
    published: list[str],
    history: list[dict[str, Any]],
) -> Docs:
    """Write every page of ``quarter`` into ``dest`` (a fresh docs_dir)."""
    a = Assessment.load(ws.assessment_dir(quarter))
    docs = Docs(dest)
    shutil.copytree(static, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("overrides", "mkdocs.yml", "__pycache__", "__init__.py"))

    trend = trend_rows(ws, quarter, published)
    docs.write("index.md", overview_page(a, trend))
    docs.write("inventory.md", inventory_page(a))
    stage_nav = []
    for s in STAGES:
        docs.write(f"findings/stage-{s}.md", stage_page(a, s))
        stage_nav.append({f"Stage {s}: {STAGES[s]}": f"findings/stage-{s}.md"})
    docs.write("findings/environments.md", grouped_page(
        a, "environment", "Findings by environment",
        "Every finding grouped by the environment of its resource."))
    docs.write("findings/owners.md", grouped_page(
        a, "owner", "Findings by owner", "Every finding grouped by the owner of its resource; "
        "(none) means nobody is named, itself a stage-1 finding."))
    access = list_page(
        "Access model", "Principals → permissions → secret paths → justification, from Vault "
        "policies and their bindings and from IAM policies.", a.list("access_model"), "access-model")
    access += "\n" + list_page(
        "Cross-environment reach", "Policies or principals whose paths span production and "
        "non-production.", a.list("cross_env"), "cross-env").replace("# ", "## ", 1)
    docs.write("access-model.md", access)
    docs.write("rotation-plan.md", list_page(
        "Rotation plan", "Next due date per item, from its type and age (seed thresholds, "
        "overridable per engagement).", a.list("rotation_plan"), "rotation-plan"))
    docs.write("leak-response.md", leak_cards_page(a))
    docs.write("coverage-gaps.md", list_page(
        "Coverage gaps", "These parts of the estate could not be read. Every check that depends "
        "on them is not assessed; unknown is never a pass.", a.list("coverage_gaps"),
        "coverage-gaps", loud=True))
    docs.write("waivers.md", list_page(
        "Waivers", "Accepted risks with their approver and expiry. An expired waiver no longer "
        "applies.", a.list("waivers"), "waivers")
        + "\n" + list_page("Attestations", "Manual evidence for what no API shows.",
                           a.list("attestations"), "attestations").replace("# Attestations", "## Attestations", 1))

    # one page per check, from the catalog
    docs.write("checks/index.md", checks_index(a.catalog))
    by_stage: dict[Any, list[Any]] = {}
    for entry in a.catalog.to_dict("records") if not a.catalog.empty else []:
        rel = f"checks/{slug(entry.get('id'))}.md"
        docs.write(rel, check_page(a, entry))
        by_stage.setdefault(entry.get("stage"), []).append({f"{entry.get('id')}": rel})
    check_nav: list[Any] = ["checks/index.md"] + [
        {f"Stage {s}": pages} for s, pages in sorted(by_stage.items(), key=lambda kv: str(kv[0]))]

    # executed notebooks
    nb_nav: list[Any] = []
    nb_dir = ws.notebooks_dir(quarter)
    nb_files = sorted(nb_dir.glob("*.ipynb")) if nb_dir.exists() else []
    order = list(NOTEBOOK_TITLES)
    nb_files.sort(key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem))
    for nb in nb_files:
        body, _ = notebook_markdown(nb, dest / "notebooks")
        docs.write(f"notebooks/{nb.stem}.md", body)
        nb_nav.append({NOTEBOOK_TITLES.get(nb.stem, nb.stem): f"notebooks/{nb.stem}.md"})

    # downloads + manifest
    dl = dest / "downloads"
    dl.mkdir(exist_ok=True)
    for nb in nb_files:
        shutil.copy2(nb, dl / nb.name)
    for name in DOWNLOADS:
        src = ws.assessment_dir(quarter) / name
        if src.exists():
            shutil.copy2(src, dl / name)
    docs.artefacts = evidence_artefacts(ws, quarter)
    dl_rows = pd.DataFrame([
        {"file": f'<a href="../downloads/{esc(p.name)}">{esc(p.name)}</a>',
         "bytes": esc(p.stat().st_size), "sha256": esc(sha256_file(p))}
        for p in sorted(dl.iterdir())])
    docs.write("downloads.md", "\n".join([
        "# Downloads", "", "Findings as CSV and JSON, SARIF for code scanners, the OSCAL "
        "assessment results, and the executed notebooks.", "",
        html_table(dl_rows, table_id="t-downloads", raw_columns=tuple(dl_rows.columns)), ""]))
    (dest / "evidence-manifest.json").write_text(json.dumps(
        {"client": ws.client, "quarter": quarter, "artefacts": docs.artefacts}, indent=1,
        sort_keys=True), encoding="utf-8")
    docs.write("manifest.md", manifest_page(quarter, docs.artefacts, history))

    docs.nav = [
        {"Overview": "index.md"},
        {"Inventory": "inventory.md"},
        {"Findings": stage_nav + [{"By environment": "findings/environments.md"},
                                  {"By owner": "findings/owners.md"}]},
        {"Access model": "access-model.md"},
        {"Rotation plan": "rotation-plan.md"},
        {"Leak-response cards": "leak-response.md"},
        {"Coverage gaps": "coverage-gaps.md"},
        {"Waivers and attestations": "waivers.md"},
        {"Checks": check_nav},
        {"Notebooks": nb_nav or ["index.md"]},
        {"Downloads": "downloads.md"},
        {"Evidence manifest": "manifest.md"},
    ]
    return docs


def evidence_artefacts(ws: Workspace, quarter: str) -> dict[str, dict[str, Any]]:
    """SHA-256 and size of every evidence file of the quarter (snapshot, assessment, notebooks)."""
    out: dict[str, dict[str, Any]] = {}
    base = ws.quarter_dir(quarter)
    for sub in ("snapshot", "assessment", "notebooks"):
        d = base / sub
        if not d.exists():
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                out[str(p.relative_to(base))] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    return out


def manifest_page(quarter: str, artefacts: dict[str, dict[str, Any]],
                  history: list[dict[str, Any]]) -> str:
    rows = pd.DataFrame([{"artefact": k, "bytes": v["bytes"], "sha256": v["sha256"]}
                         for k, v in sorted(artefacts.items())])
    hist = pd.DataFrame(history)
    return "\n".join([
        "# Evidence manifest", "",
        f"SHA-256 of every artefact behind quarter {esc(quarter)}: the snapshot, the assessment "
        "and the executed notebooks. `posture verify` re-hashes them, and the published pages, "
        "against the manifest recorded at publication. The same list is in "
        '<a href="../evidence-manifest.json">evidence-manifest.json</a>.', "",
        _filter_box("t-manifest"),
        html_table(rows, table_id="t-manifest", css_class="posture-sortable") if len(rows)
        else "<p><em>No artefacts.</em></p>", "",
        "## Publication history", "",
        "Every publication of this client's site, including forced republications.", "",
        html_table(hist, table_id="t-publish-log") if len(hist) else "<p><em>First publication.</em></p>",
        ""])
