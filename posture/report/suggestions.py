"""The least-privilege suggestions (``suggested_policies`` view) as tables for the notebooks and the site.

Each suggestion is the policy one identity needs in one environment, from the audit log
(`checks.policy_suggest`). The summary says how much each would remove from today's grants;
the detail keeps the policy text for the reviewer (paths and capabilities, never a value).
"""

from __future__ import annotations

import pandas as pd

from posture.report.loader import Assessment

SUMMARY_COLUMNS = ["name", "identity", "environment", "access_level", "source", "rules", "observed_paths",
                   "requests", "current_policies", "removals", "no_longer_reachable_total", "denied_requests",
                   "cross_environment", "complete"]


def suggestions(a: Assessment) -> pd.DataFrame:
    """Every suggestion, widest cut first (most grants removed, then most secrets no longer reachable)."""
    s = a.list("suggested_policies")
    if s.empty:
        return s
    s = s.assign(removals=s["removed"].map(len), denied_requests=s["denied"].map(len),
                 complete=s["coverage_gaps"].map(lambda g: not len(g)) & s["covers_all_observed"])
    return s.sort_values(["removals", "no_longer_reachable_total", "name"],
                         ascending=[False, False, True]).reset_index(drop=True)


def suggestions_table(a: Assessment) -> pd.DataFrame:
    """One row per suggestion: what it grants, what it takes away, whether it is complete."""
    s = suggestions(a)
    return s[SUMMARY_COLUMNS] if not s.empty else pd.DataFrame(columns=SUMMARY_COLUMNS)


def suggestion_changes(a: Assessment) -> pd.DataFrame:
    """One row per change a suggestion makes to today's grants (rule removed or narrowed, policy unused)."""
    rows = []
    for r in suggestions(a).itertuples(index=False):
        for line in r.removed:
            rows.append({"name": r.name, "identity": r.identity, "change": line})
        for p in r.unused_policies:
            rows.append({"name": r.name, "identity": r.identity,
                         "change": f"policy {p}: no rule of it decided any request in the window"})
    return pd.DataFrame(rows, columns=["name", "identity", "change"])
