"""Scores per checklist item, stage, environment, store and overall; and the grade.

The method is fixed (``METHOD`` is written into scores.json verbatim) so that
quarters are comparable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from checks.catalog import CHECKLIST, SEVERITY_WEIGHT, STAGES
from posture.model.thresholds import Thresholds

GRADE_BANDS = (("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0))
GRADE_ORDER = ("A", "B", "C", "D", "F")

METHOD = """\
**How the score is computed (stable across quarters).**

1. Each (check, resource) result is `pass`, `fail`, `waived` or `not_assessed`.
2. For every check, the *pass ratio* is passes / (passes + fails) over its
   assessed results in the group (an item, stage, environment or store).
   `waived` (an approved, unexpired accepted risk) and `not_assessed`
   (coverage gap, unknown value, or missing manual attestation) count neither
   for nor against.
3. The group score is the severity-weighted mean of those pass ratios, x 100:
   weights critical 10, high 5, medium 3, low 1, info 0. Each check counts
   once per group whatever its number of resources, so a large inventory does
   not drown a single critical architecture finding.
4. Grade bands: A >= 90, B >= 80, C >= 70, D >= 60, else F.
5. **Coverage cap.** Coverage is the share of results that were assessed
   (pass + fail + waived over all results). Unknown is not pass: a grade of A
   needs coverage >= 90 %, B >= 75 %, C >= 50 %; below 50 % the grade is at most D.
   Coverage and the cap are reported next to every score.
6. A group with no assessed result has no score (`null`) and grade `N/A`.
"""


def grade_for(score: float | None, coverage: float, caps: dict[str, float]) -> str:
    if score is None:
        return "N/A"
    g = next((name for name, floor in GRADE_BANDS if score >= floor), "F")
    allowed = next((name for name in ("A", "B", "C") if coverage >= caps.get(name, 0.0)), "D")
    return max(g, allowed, key=GRADE_ORDER.index)


def _group_scores(f: pd.DataFrame, by: str | None, caps: dict[str, float]) -> pd.DataFrame:
    """One row per group value: counts, score, coverage, grade (numpy bincount, no Python loops)."""
    n = len(f)
    if by is None:
        gcodes, gkeys = np.zeros(n, dtype=np.int64), np.array(["overall"], dtype=object)
    else:
        col = f[by]
        if isinstance(col.dtype, pd.CategoricalDtype):
            gcodes = col.cat.codes.to_numpy().astype(np.int64)
            gkeys = np.asarray(col.cat.categories.astype(str), dtype=object)
        else:
            gcodes, uniq = pd.factorize(col)
            gkeys = np.asarray([str(u) for u in uniq], dtype=object)
    cc = f["check_id"].cat.codes.to_numpy().astype(np.int64)
    cats = f["check_id"].cat.categories
    nchk = max(len(cats), 1)
    # weight per check = its severity's weight (first severity seen for that check)
    wchk = np.zeros(nchk)
    if n:
        sev = f["severity"].cat
        w_by_code = np.array([SEVERITY_WEIGHT[str(c)] for c in sev.categories], dtype=float)
        wchk[cc] = w_by_code[sev.codes.to_numpy()]  # constant per check
    st = f["status"].cat.codes.to_numpy() if n else np.array([], dtype=np.int8)  # pass, fail, waived, n/a
    ng = max(len(gkeys), 1)
    key = gcodes * nchk + cc
    size = ng * nchk
    counts = np.stack([np.bincount(key[st == k], minlength=size) for k in range(4)]).reshape(4, ng, nchk)
    p, fl = counts[0], counts[1]
    assessed = p + fl
    ratio = np.divide(p, assessed, out=np.zeros_like(p, dtype=float), where=assessed > 0)
    ww = np.where(assessed > 0, wchk[None, :], 0.0)
    num, den = (ww * ratio).sum(axis=1), ww.sum(axis=1)
    score = np.where(den > 0, np.round(100 * num / np.where(den > 0, den, 1), 1), np.nan)
    totals = counts.sum(axis=2)
    all_ = totals.sum(axis=0)
    coverage = np.round(np.divide(totals[:3].sum(axis=0), all_, out=np.zeros(ng), where=all_ > 0), 4)
    g = pd.DataFrame({"pass": totals[0], "fail": totals[1], "waived": totals[2], "not_assessed": totals[3],
                      "score": score, "coverage": coverage}, index=pd.Index(gkeys[:ng], dtype=object))
    g = g[all_ > 0]
    g.loc[(g["pass"] + g["fail"]) == 0, "score"] = np.nan
    g["grade"] = [grade_for(None if pd.isna(x) else float(x), float(c), caps)
                  for x, c in zip(g["score"], g["coverage"])]
    return g


def _rows(g: pd.DataFrame, labels: dict[Any, str] | None = None, order: list[Any] | None = None) -> list[dict[str, Any]]:
    out = []
    keys = order if order is not None else sorted(g.index)
    for k in keys:
        key_s = str(k)
        if key_s not in g.index:
            row = {"pass": 0, "fail": 0, "waived": 0, "not_assessed": 0, "score": None,
                   "coverage": 0.0, "grade": "N/A"}
        else:
            r = g.loc[key_s]
            row = {"pass": int(r["pass"]), "fail": int(r["fail"]), "waived": int(r["waived"]),
                   "not_assessed": int(r["not_assessed"]),
                   "score": None if pd.isna(r["score"]) else float(r["score"]),
                   "coverage": float(r["coverage"]), "grade": r["grade"]}
        out.append({"key": k, "label": (labels or {}).get(k, key_s), **row})
    return out


def score(findings: pd.DataFrame, thresholds: Thresholds | None = None) -> dict[str, Any]:
    """scores.json: overall, by checklist item, stage, environment and store, plus the method."""
    t = thresholds or Thresholds()
    caps = t.min_coverage_for_grade
    f = findings
    overall = _group_scores(f, None, caps)
    o = _rows(overall, order=["overall"])[0] if len(overall) else {
        "score": None, "grade": "N/A", "coverage": 0.0, "pass": 0, "fail": 0, "waived": 0, "not_assessed": 0}
    o.pop("key", None)
    o.pop("label", None)
    return {
        "overall": o,
        "by_checklist_item": _rows(_group_scores(f, "checklist_item", caps), CHECKLIST, list(CHECKLIST)),
        "by_stage": _rows(_group_scores(f, "stage", caps), STAGES, list(STAGES)),
        "by_environment": _rows(_group_scores(f, "environment", caps)),
        "by_store": _rows(_group_scores(f, "store", caps)),
        "method": METHOD,
    }
