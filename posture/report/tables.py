"""The tables the notebooks and the site show: scores, counts, top risks, per-stage findings.

Each takes the loaded `Assessment` (or its findings frame) and returns a
DataFrame ready for `html_table`; none changes a status or a score.
"""

from __future__ import annotations

import pandas as pd

from posture.model.assessment import AccessRow, ScoreRow
from posture.model.vocabulary import SEVERITIES, STATUSES
from posture.report.loader import Assessment, frame

#: The access model as a reader follows it: who, through which policy, may do what, where, and why.
ACCESS_MODEL_ORDER = ("principal", "principal_kind", "policy", "capabilities", "path", "environment",
                      "store", "justification", "principal_id", "via", "source", "policy_id", "effect")
assert set(ACCESS_MODEL_ORDER) == set(AccessRow.model_fields)
SCORE_COLUMNS = ["key", "label", "score", "pass", "fail", "waived", "not_assessed", "grade", "coverage"]


def overall(a: Assessment) -> tuple[float | None, str]:
    o = a.scores.overall
    return o.score, o.grade


def score_table(a: Assessment, dimension: str) -> pd.DataFrame:
    """``by_checklist_item`` / ``by_stage`` / ``by_environment`` / ``by_store`` as a table."""
    return frame(getattr(a.scores, dimension), ScoreRow)[SCORE_COLUMNS]


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


def access_model(a: Assessment) -> pd.DataFrame:
    """The written access model: principal → permissions → paths → justification."""
    return a.list("access_model")[list(ACCESS_MODEL_ORDER)]


def rotation_plan(a: Assessment) -> pd.DataFrame:
    """Next due date per item, soonest first (unknown dates first: they need a look)."""
    return a.list("rotation_plan").sort_values("next_due", kind="stable", na_position="first")


def leak_cards(a: Assessment) -> pd.DataFrame:
    return a.list("leak_cards")
