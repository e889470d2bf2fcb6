"""The assessment as DataFrames, and the tables and answers the notebooks show.

Notebooks stay thin: they call these functions and display the result. Every
value that came from a client's estate may be hostile (a secret can be named
``<script>``), so anything rendered goes through `html_table` / `esc`, which
escape HTML *and* the Markdown link syntax; nothing here builds markup from
raw strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from posture.model.errors import PostureError
from posture.model.thresholds import Thresholds
from posture.model.vocabulary import AUDIT_SIGNALS, CHECKLIST, SEVERITIES, STAGES, STATUSES, critical_mask  # noqa: F401 (AUDIT_SIGNALS: for notebooks)

EXIT_QUESTIONS = {
    1: "Can we name owners for each critical class, and is every critical item classified "
    "(public / internal / confidential / regulated)?",
    2: "Is there a written access model (principals → permissions → secret paths → "
    "justification) with no 'everyone read/write production'?",
    3: "Is there a rotation runbook outline, and an order of operations for at least one "
    "critical path?",
    4: "Is there a clear developer story: clone → authenticate → least-privilege creds → "
    "never paste prod keys locally?",
    5: "If this key leaks at 3am, what are steps 1-5 and who is paged?",
}

# Lists the checks helper writes beside findings.json; missing ones load empty.
LIST_FILES = (
    "inventory",
    "access_model",
    "rotation_plan",
    "leak_cards",
    "cross_env",
    "coverage_gaps",
    "waivers",
    "attestations",
)

# Characters that Markdown (and its extensions: attr_list, tables) gives meaning to.
_MD_ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+!|~"}
_ENTITIES = {**_MD_ENTITIES, "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}


def esc(value: Any) -> str:
    """Escape a value for HTML and Markdown: it renders as exactly its text.

    ``[x](javascript:alert(1))`` cannot become a link and ``<script>`` cannot
    become a tag, whether the result lands in raw HTML or in a Markdown line.
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    # one pass, so the entities html.escape would produce are never re-escaped
    return "".join(_ENTITIES.get(c, c) for c in value).replace("\n", "<br>")


def html_table(
    df: pd.DataFrame,
    *,
    table_id: str | None = None,
    css_class: str | None = None,
    max_rows: int | None = None,
    raw_columns: tuple[str, ...] = (),
) -> str:
    """An HTML table with every cell escaped; no blank lines (safe inside Markdown).

    ``raw_columns`` hold markup the kit itself produced (e.g. links it built
    from escaped values) and are passed through.
    """
    attrs = ""
    if table_id:
        attrs += f' id="{esc(table_id)}"'
    if css_class:
        attrs += f' class="{esc(css_class)}"'
    rows = df if max_rows is None else df.head(max_rows)
    parts = [f"<table{attrs}>", "<thead><tr>"]
    parts += [f"<th>{esc(c)}</th>" for c in df.columns]
    parts.append("</tr></thead><tbody>")
    for rec in rows.itertuples(index=False, name=None):
        cells = []
        for col, v in zip(df.columns, rec):
            cells.append(f"<td>{v if col in raw_columns else esc(v)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    if max_rows is not None and len(df) > max_rows:
        parts.append(f"<p><em>{len(df) - max_rows} more rows not shown.</em></p>")
    return "".join(parts)


def show(df: pd.DataFrame, **kw: Any) -> Any:
    """Display helper for notebooks: an escaped table as an IPython HTML object."""
    from IPython.display import HTML

    if df.empty:
        return HTML("<p><em>None.</em></p>")
    return HTML(html_table(df, **kw))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as e:
        raise PostureError(f"{path}: not valid JSON ({e})") from None


def _frame(rows: Any) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    if isinstance(rows, dict):  # tolerate {"items": [...]} wrappers
        rows = next((v for v in rows.values() if isinstance(v, list)), [])
    return pd.DataFrame.from_records(rows)


@dataclass
class Assessment:
    """One quarter's assessment directory, loaded."""

    path: Path
    client: str
    quarter: str
    as_of: str
    generated_at: str
    findings: pd.DataFrame
    scores: dict[str, Any]
    catalog: pd.DataFrame
    lists: dict[str, pd.DataFrame] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> Assessment:
        path = Path(path)
        doc = _read_json(path / "findings.json")
        if doc is None:
            raise PostureError(f"{path}: no findings.json here (run 'posture assess' first)")
        findings = pd.DataFrame.from_records(doc.get("findings") or [])
        for col in ("check_id", "title", "status", "severity", "stage", "checklist_item",
                    "resource", "resource_name", "environment", "owner", "store", "source",
                    "stage_name", "checklist_text", "anti_pattern", "remediation", "name"):
            if col not in findings.columns:
                findings[col] = pd.Series(dtype="object")
        for col in ("evidence", "controls"):
            if col not in findings.columns:
                findings[col] = pd.Series(dtype="object")
        if "waiver" not in findings.columns:
            findings["waiver"] = None
        findings["stage"] = pd.to_numeric(findings["stage"], errors="coerce").astype("Int64")
        findings["checklist_item"] = pd.to_numeric(
            findings["checklist_item"], errors="coerce"
        ).astype("Int64")
        findings["environment"] = findings["environment"].fillna("unknown")
        findings["owner"] = findings["owner"].fillna("")
        findings["severity_rank"] = findings["severity"].map(
            {s: i for i, s in enumerate(SEVERITIES)}
        ).fillna(len(SEVERITIES)).astype(int)
        scores = _read_json(path / "scores.json") or {}
        catalog = _frame(_read_json(path / "catalog.json"))
        lists = {name: _frame(_read_json(path / f"{name}.json")) for name in LIST_FILES}
        return cls(
            path=path,
            client=str(doc.get("client", "")),
            quarter=str(doc.get("quarter", "")),
            as_of=str(doc.get("as_of", "")),
            generated_at=str(doc.get("generated_at", "")),
            findings=findings,
            scores=scores,
            catalog=catalog,
            lists=lists,
            manifest=_read_json(path / "manifest.json") or {},
        )

    def list(self, name: str) -> pd.DataFrame:
        return self.lists.get(name, pd.DataFrame())

    @property
    def inventory(self) -> pd.DataFrame:
        return self.list("inventory")


# --- scores ------------------------------------------------------------------


def overall(a: Assessment) -> tuple[float | None, str]:
    o = a.scores.get("overall") or {}
    return o.get("score"), str(o.get("grade", "?"))


def score_table(a: Assessment, dimension: str) -> pd.DataFrame:
    """``by_checklist_item`` / ``by_stage`` / ``by_environment`` / ``by_store`` as a table."""
    rows = a.scores.get(dimension) or []
    cols = ["key", "label", "score", "pass", "fail", "waived", "not_assessed"]
    df = pd.DataFrame.from_records(rows)
    for c in cols:
        if c not in df.columns:
            df[c] = pd.Series(dtype="object")
    extra = [c for c in ("grade", "coverage") if c in df.columns]
    return df[cols + extra]


def status_counts(findings: pd.DataFrame, by: str) -> pd.DataFrame:
    """Findings counted per ``by`` value and status (columns in a fixed order)."""
    if findings.empty:
        return pd.DataFrame(columns=[by, *STATUSES, "total"])
    t = pd.crosstab(findings[by].fillna("unknown"), findings["status"])
    for s in STATUSES:
        if s not in t.columns:
            t[s] = 0
    t = t[list(STATUSES)]
    t["total"] = t.sum(axis=1)
    return t.reset_index().rename(columns={"index": by})


def severity_counts(findings: pd.DataFrame) -> pd.DataFrame:
    fails = findings[findings["status"] == "fail"]
    counts = fails["severity"].value_counts()
    return pd.DataFrame({"severity": list(SEVERITIES),
                         "failing": [int(counts.get(s, 0)) for s in SEVERITIES]})


def top_risks(a: Assessment, n: int = 10) -> pd.DataFrame:
    """The ``n`` worst open findings: failing, by severity then stage."""
    f = a.findings[a.findings["status"] == "fail"]
    f = f.sort_values(["severity_rank", "stage", "check_id", "resource"], kind="stable")
    return f[["severity", "check_id", "title", "resource", "environment", "owner"]].head(n)


def stage_findings(a: Assessment, stage: int, status: str | None = None) -> pd.DataFrame:
    f = a.findings[a.findings["stage"] == stage]
    if status:
        f = f[f["status"] == status]
    return f.sort_values(["severity_rank", "check_id", "resource"], kind="stable")


def findings_brief(f: pd.DataFrame) -> pd.DataFrame:
    return f[["status", "severity", "check_id", "title", "resource", "environment", "owner"]]


def check_summary(a: Assessment, stage: int) -> pd.DataFrame:
    """Per check in ``stage``: how many resources pass, fail, are waived or not assessed."""
    f = stage_findings(a, stage)
    if f.empty:
        return pd.DataFrame(columns=["check_id", "title", "severity", *STATUSES])
    t = pd.crosstab([f["check_id"], f["title"], f["severity"]], f["status"])
    for s in STATUSES:
        if s not in t.columns:
            t[s] = 0
    return t[list(STATUSES)].reset_index()


# --- exit questions -------------------------------------------------------------


@dataclass
class ExitAnswer:
    """A stage's exit question answered from the data: yes, no or unknown, and why."""

    stage: int
    question: str
    answer: str  # "yes" | "no" | "unknown"
    reasons: list[str]
    detail: pd.DataFrame

    def html(self) -> str:
        colour = {"yes": "pass", "no": "fail"}.get(self.answer, "unknown")
        items = "".join(f"<li>{esc(r)}</li>" for r in self.reasons)
        return (
            f'<div class="posture-exit posture-{colour}"><p><strong>Exit question (stage '
            f"{self.stage}):</strong> {esc(self.question)}</p><p><strong>Answer: "
            f"{esc(self.answer.upper())}</strong></p><ul>{items}</ul></div>"
        )

    def _repr_html_(self) -> str:  # notebooks display it directly
        return self.html()


def _col(df: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in df.columns), None)


def _unknown_reason(a: Assessment, stage: int) -> str | None:
    na = stage_findings(a, stage, "not_assessed")
    if na.empty:
        return None
    checks = ", ".join(sorted(na["check_id"].dropna().astype(str).unique())[:8])
    return f"{len(na)} finding(s) of this stage could not be assessed ({checks})"


def _critical_inventory(a: Assessment) -> pd.DataFrame:
    """Critical items, as the assessment decided them (`vocabulary.critical_mask`)."""
    inv = a.inventory
    if inv.empty:
        return inv
    if "critical" in inv.columns:
        return inv[inv["critical"].fillna(False).astype(bool)]
    t, na = Thresholds(), pd.Series("", index=inv.index)  # an inventory written without the flag
    return inv[critical_mask(inv.get("environment", na), inv.get("data_class", na),
                             inv.get("table", na), t.critical_environments, t.critical_classes)]


def exit_stage1(a: Assessment) -> ExitAnswer:
    """Owners named for every critical class, and every critical item classified."""
    crit = _critical_inventory(a)
    reasons: list[str] = []
    if a.inventory.empty:
        return ExitAnswer(1, EXIT_QUESTIONS[1], "unknown",
                          ["the inventory is empty: nothing was collected"], pd.DataFrame())
    cls_col = _col(crit, "secret_type", "kind")
    owner = crit["owner"].fillna("").astype(str).str.strip() if "owner" in crit else pd.Series("", index=crit.index)
    unowned = crit[owner == ""]
    dclass = crit["data_class"] if "data_class" in crit.columns else pd.Series(None, index=crit.index)
    unclassified = crit[dclass.isna() | (dclass.astype(str) == "")]
    classes = sorted(crit[cls_col].dropna().astype(str).unique()) if cls_col else []
    missing_classes = sorted(unowned[cls_col].dropna().astype(str).unique()) if cls_col else []
    reasons.append(f"{len(crit)} critical item(s) (confidential, regulated or prod) in "
                   f"{len(classes)} class(es): {', '.join(classes) or 'none'}")
    if missing_classes:
        reasons.append("classes with an item that has no owner: " + ", ".join(missing_classes))
    if len(unclassified):
        reasons.append(f"{len(unclassified)} critical item(s) have no data class")
    unknown = _unknown_reason(a, 1)
    detail_cols = [c for c in ("id", "name", "secret_type", "environment", "owner", "data_class")
                   if c in crit.columns]
    detail = pd.concat([unowned, unclassified]).drop_duplicates(subset=["id"] if "id" in crit else None)
    detail = detail[detail_cols] if detail_cols else detail
    if missing_classes or len(unclassified):
        answer = "no"
    elif unknown:
        answer, reasons = "unknown", reasons + [unknown]
    else:
        answer = "yes"
        reasons.append("every critical class has a named owner")
    return ExitAnswer(1, EXIT_QUESTIONS[1], answer, reasons, detail)


def access_model(a: Assessment) -> pd.DataFrame:
    """The written access model: principal → permissions → paths → justification."""
    am = a.list("access_model")
    if am.empty:
        return am
    order = [c for c in ("principal", "principal_kind", "auth", "policy", "permissions",
                         "capabilities", "path", "paths", "environment", "environments",
                         "store", "justification") if c in am.columns]
    rest = [c for c in am.columns if c not in order]
    return am[order + rest]


def exit_stage2(a: Assessment) -> ExitAnswer:
    am = access_model(a)
    broad = stage_findings(a, 2, "fail")
    broad = broad[broad["severity"].isin(("critical", "high"))]
    cross = a.list("cross_env")
    reasons = [f"the access model has {len(am)} row(s) "
               f"({am[_col(am, 'principal') or am.columns[0]].nunique() if not am.empty else 0} principal(s))"]
    if not broad.empty:
        reasons.append(f"{len(broad)} critical/high access finding(s) fail, e.g. "
                       + "; ".join(f"{r.check_id} on {r.resource}" for r in broad.head(3).itertuples()))
    if not cross.empty:
        reasons.append(f"{len(cross)} policy/principal reach(es) span prod and non-prod")
    unknown = _unknown_reason(a, 2)
    if am.empty:
        answer = "unknown" if unknown else "no"
        reasons.append("no access model could be derived")
    elif not broad.empty:
        answer = "no"
    elif unknown:
        answer = "unknown"
        reasons.append(unknown)
    else:
        answer = "yes"
        reasons.append("no critical/high over-broad grant was found")
    return ExitAnswer(2, EXIT_QUESTIONS[2], answer, reasons, findings_brief(broad))


def rotation_plan(a: Assessment) -> pd.DataFrame:
    rp = a.list("rotation_plan")
    if rp.empty:
        return rp
    due = _col(rp, "next_due", "next_due_at", "due_at", "next_rotation_at")
    return rp.sort_values(due, kind="stable", na_position="first") if due else rp


def _attested(a: Assessment, *words: str) -> pd.DataFrame:
    att = a.list("attestations")
    if att.empty or "item" not in att.columns:
        return pd.DataFrame()
    item = att["item"].astype(str).str.lower()
    mask = pd.Series(False, index=att.index)
    for w in words:
        mask |= item.str.contains(w, regex=False)
    if "status" in att.columns:
        mask &= ~att["status"].astype(str).isin(("missing", "expired", "not_assessed"))
    for flag in ("missing", "stale"):  # a missing or stale attestation is no evidence
        if flag in att.columns:
            mask &= ~att[flag].fillna(False).astype(bool)
    if "evidence" in att.columns:
        mask &= att["evidence"].notna() & (att["evidence"].astype(str) != "")
    return att[mask]


def exit_stage3(a: Assessment) -> ExitAnswer:
    rp = rotation_plan(a)
    runbooks = _attested(a, "rotation", "runbook", "revocation")
    reasons = [f"the rotation plan has {len(rp)} item(s)"]
    owner_col = _col(rp, "owner")
    unowned = rp[rp[owner_col].fillna("").astype(str).str.strip() == ""] if owner_col else rp.iloc[0:0]
    if len(unowned):
        reasons.append(f"{len(unowned)} planned rotation(s) have no owner")
    if "status" in rp.columns:
        reasons.append(f"{int((rp['status'] == 'overdue').sum())} item(s) are overdue")
    elif "overdue" in rp.columns:
        reasons.append(f"{int(rp['overdue'].fillna(False).astype(bool).sum())} item(s) are overdue")
    if runbooks.empty:
        reasons.append("no rotation/revocation runbook is attested")
    else:
        reasons.append("runbook attested: " + ", ".join(runbooks["item"].astype(str).unique()))
    if rp.empty:
        answer = "unknown" if _unknown_reason(a, 3) else "no"
    elif runbooks.empty or len(unowned):
        answer = "no"
    else:
        answer = "yes"
    return ExitAnswer(3, EXIT_QUESTIONS[3], answer, reasons, unowned)


DEVELOPER_STORY = (
    ("I clone the repo", 1, "no secret in source control or public artefacts"),
    ("I authenticate", 4, "CI and local dev use identity (OIDC), not static credentials"),
    ("I get least-privilege creds", 2, "identity + path + operation least privilege"),
    ("I never paste prod keys locally", 4, "no static prod credentials on dev/CI paths"),
)


def exit_stage4(a: Assessment) -> ExitAnswer:
    f4 = stage_findings(a, 4)
    rows, reasons = [], []
    any_fail = any_unknown = False
    for step, item, meaning in DEVELOPER_STORY:
        f = pd.concat([f4[f4["checklist_item"] == item],
                       a.findings[(a.findings["checklist_item"] == item) & (a.findings["stage"] == 4)]])
        f = f.drop_duplicates(subset=["check_id", "resource"])
        fails = int((f["status"] == "fail").sum())
        na = int((f["status"] == "not_assessed").sum())
        any_fail |= fails > 0
        any_unknown |= na > 0
        verdict = "broken" if fails else ("unknown" if na or f.empty else "holds")
        rows.append({"step": step, "means": meaning, "failing": fails, "not_assessed": na,
                     "verdict": verdict})
    story = pd.DataFrame(rows)
    reasons += [f"{r['step']}: {r['verdict']} ({r['failing']} failing)" for r in rows]
    answer = "no" if any_fail else ("unknown" if any_unknown or f4.empty else "yes")
    return ExitAnswer(4, EXIT_QUESTIONS[4], answer, reasons, story)


def leak_cards(a: Assessment) -> pd.DataFrame:
    return a.list("leak_cards")


def _steps_of(card: pd.Series) -> list[str]:
    for name in ("steps", "revoke_order", "actions"):
        v = card.get(name)
        if isinstance(v, list) and v:
            return [str(x) for x in v]
        if isinstance(v, str) and v:
            return [s for s in v.splitlines() if s.strip()]
    return [str(card[c]) for c in sorted(card.index) if c.startswith("step") and pd.notna(card[c])]


def _pager_of(card: pd.Series) -> str:
    for name in ("paged", "pager", "who_is_paged", "page"):
        v = card.get(name)
        # the exporter writes "UNKNOWN - nobody is paged ..." rather than leaving it empty
        if isinstance(v, str) and v.strip() and not v.strip().upper().startswith("UNKNOWN"):
            return v.strip()
    return ""


def exit_stage5(a: Assessment) -> ExitAnswer:
    cards = leak_cards(a)
    playbook = _attested(a, "leak", "playbook")
    reasons = [f"{len(cards)} leak-response card(s)"]
    incomplete = []
    for _, card in cards.iterrows():
        steps, pager = _steps_of(card), _pager_of(card)
        owner = str(card.get("owner") or "")
        if len(steps) < 5 or not pager or owner in ("", "UNOWNED"):
            incomplete.append({
                "resource": card.get("resource", card.get("id", "")),
                "owner": owner or "(nobody)",
                "steps": len(steps),
                "paged": pager or "(nobody)",
            })
    if incomplete:
        reasons.append(f"{len(incomplete)} card(s) lack five steps, an owner or a person to page")
    reasons.append("leak playbook attested" if not playbook.empty else "no leak playbook is attested")
    if cards.empty or incomplete or playbook.empty:
        answer = "no"
    else:
        answer = "yes"
    return ExitAnswer(5, EXIT_QUESTIONS[5], answer, reasons, pd.DataFrame(incomplete))


EXITS = {1: exit_stage1, 2: exit_stage2, 3: exit_stage3, 4: exit_stage4, 5: exit_stage5}


def exit_answer(a: Assessment, stage: int) -> ExitAnswer:
    return EXITS[stage](a)


# --- plots ------------------------------------------------------------------------

STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "waived": "#f9a825",
                  "not_assessed": "#757575"}


def plot_status_bars(counts: pd.DataFrame, by: str, title: str):
    """Stacked horizontal bars of status counts; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, max(1.6, 0.45 * max(len(counts), 1) + 1)))
    left = pd.Series(0, index=range(len(counts)), dtype=float)
    labels = counts[by].astype(str).tolist() if len(counts) else []
    for s in STATUSES:
        vals = counts[s].astype(float).reset_index(drop=True) if len(counts) else pd.Series(dtype=float)
        ax.barh(labels, vals, left=left[: len(vals)], color=STATUS_COLOURS[s], label=s)
        left = left[: len(vals)] + vals
    ax.set_title(title)
    ax.set_xlabel("findings")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_scores(table: pd.DataFrame, title: str):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, max(1.6, 0.45 * max(len(table), 1) + 1)))
    labels = [str(x)[:48] for x in table["label"].fillna(table["key"]).tolist()]
    scores = pd.to_numeric(table["score"], errors="coerce").fillna(0).tolist()
    ax.barh(labels, scores, color=["#2e7d32" if s >= 80 else "#f9a825" if s >= 60 else "#c62828"
                                   for s in scores])
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (0-100)")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
