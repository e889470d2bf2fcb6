"""The five stages' exit questions (seed 000), answered yes, no or unknown from the data.

"Unknown" is an answer of its own: a stage whose findings could not be
assessed, or whose evidence is empty, never answers "yes".
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from posture.report.html import esc
from posture.report.loader import Assessment
from posture.report.tables import access_model, findings_brief, rotation_plan, stage_findings

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

DEVELOPER_STORY = (
    ("I clone the repo", 1, "no secret in source control or public artefacts"),
    ("I authenticate", 4, "CI and local dev use identity (OIDC), not static credentials"),
    ("I get least-privilege creds", 2, "identity + path + operation least privilege"),
    ("I never paste prod keys locally", 4, "no static prod credentials on dev/CI paths"),
)


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


def _unknown_reason(a: Assessment, stage: int) -> str | None:
    na = stage_findings(a, stage, "not_assessed")
    if na.empty:
        return None
    checks = ", ".join(sorted(na["check_id"].dropna().astype(str).unique())[:8])
    return f"{len(na)} finding(s) of this stage could not be assessed ({checks})"


def _blank(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.strip() == ""


def exit_stage1(a: Assessment) -> ExitAnswer:
    """Owners named for every critical class, and every critical item classified."""
    inv = a.inventory
    if inv.empty:
        return ExitAnswer(1, EXIT_QUESTIONS[1], "unknown",
                          ["the inventory is empty: nothing was collected"], pd.DataFrame())
    crit = inv[inv["critical"]]  # as the assessment decided (`vocabulary.critical_mask`)
    unowned = crit[_blank(crit["owner"])]
    unclassified = crit[_blank(crit["data_class"])]
    classes = sorted(crit["secret_type"].dropna().astype(str).unique())
    missing_classes = sorted(unowned["secret_type"].dropna().astype(str).unique())
    reasons = [f"{len(crit)} critical item(s) (confidential, regulated or prod) in "
               f"{len(classes)} class(es): {', '.join(classes) or 'none'}"]
    if missing_classes:
        reasons.append("classes with an item that has no owner: " + ", ".join(missing_classes))
    if len(unclassified):
        reasons.append(f"{len(unclassified)} critical item(s) have no data class")
    unknown = _unknown_reason(a, 1)
    detail = pd.concat([unowned, unclassified]).drop_duplicates(subset=["id"])
    detail = detail[["id", "name", "secret_type", "environment", "owner", "data_class"]]
    if missing_classes or len(unclassified):
        answer = "no"
    elif unknown:
        answer, reasons = "unknown", reasons + [unknown]
    else:
        answer = "yes"
        reasons.append("every critical class has a named owner")
    return ExitAnswer(1, EXIT_QUESTIONS[1], answer, reasons, detail)


def exit_stage2(a: Assessment) -> ExitAnswer:
    am = access_model(a)
    broad = stage_findings(a, 2, "fail")
    broad = broad[broad["severity"].isin(("critical", "high"))]
    cross = a.list("cross_env")
    reasons = [f"the access model has {len(am)} row(s) ({am['principal'].nunique()} principal(s))"]
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


def _attested(a: Assessment, *words: str) -> pd.DataFrame:
    """Attestations whose item names one of ``words``, recorded with evidence and not stale."""
    att = a.list("attestations")
    item = att["item"].str.lower()
    mask = pd.Series(False, index=att.index)
    for w in words:
        mask |= item.str.contains(w, regex=False)
    # a missing or stale attestation is no evidence
    mask &= ~att["missing"].astype(bool) & ~att["stale"].fillna(False).astype(bool)
    return att[mask & ~_blank(att["evidence"])]


def exit_stage3(a: Assessment) -> ExitAnswer:
    rp = rotation_plan(a)
    runbooks = _attested(a, "rotation", "runbook", "revocation")
    reasons = [f"the rotation plan has {len(rp)} item(s)"]
    unowned = rp[_blank(rp["owner"])]
    if len(unowned):
        reasons.append(f"{len(unowned)} planned rotation(s) have no owner")
    reasons.append(f"{int((rp['status'] == 'overdue').sum())} item(s) are overdue")
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


def exit_stage4(a: Assessment) -> ExitAnswer:
    f4 = stage_findings(a, 4)
    rows, reasons = [], []
    any_fail = any_unknown = False
    for step, item, meaning in DEVELOPER_STORY:
        f = f4[f4["checklist_item"] == item].drop_duplicates(subset=["check_id", "resource"])
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


def exit_stage5(a: Assessment) -> ExitAnswer:
    cards = a.rows("leak_cards")
    playbook = _attested(a, "leak", "playbook")
    reasons = [f"{len(cards)} leak-response card(s)"]
    incomplete = [{"resource": c.id, "owner": c.owner or "(nobody)", "steps": len(c.steps),
                   "paged": c.pager or "(nobody)"}
                  for c in cards if len(c.steps) < 5 or not c.pager or not c.owner]
    if incomplete:
        reasons.append(f"{len(incomplete)} card(s) lack five steps, an owner or a person to page")
    reasons.append("leak playbook attested" if not playbook.empty else "no leak playbook is attested")
    answer = "no" if not cards or incomplete or playbook.empty else "yes"
    return ExitAnswer(5, EXIT_QUESTIONS[5], answer, reasons, pd.DataFrame(incomplete))


EXITS = {1: exit_stage1, 2: exit_stage2, 3: exit_stage3, 4: exit_stage4, 5: exit_stage5}


def exit_answer(a: Assessment, stage: int) -> ExitAnswer:
    return EXITS[stage](a)


def exit_table(a: Assessment) -> pd.DataFrame:
    """Every stage's question, answer and reasons, one row each (the executive summary)."""
    rows = []
    for stage in EXITS:
        ans = exit_answer(a, stage)
        rows.append({"stage": stage, "question": ans.question, "answer": ans.answer,
                     "why": "; ".join(ans.reasons)})
    return pd.DataFrame(rows)
