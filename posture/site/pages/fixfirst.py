"""The lists an engineer fixes from: one ranked fix-first list, per-owner and per-environment pages.

The rank is severity x environment x blast radius, so a critical finding on a
production secret that thirty principals can read comes before the same
finding on a sandbox token nobody can reach. Each row carries its owner, its
evidence, the fix and a link to its check's page; the offline filters narrow
it by environment, store, stage and severity.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from posture.model.vocabulary import SEVERITY_WEIGHT
from posture.report import Assessment, esc, html_table
from posture.report.format import gap
from posture.site.pages.common import (
    FINDINGS_PAGE,
    check_link,
    counts_line,
    evidence_html,
    facets_form,
    filter_box,
    findings_table,
    fix_html,
    owner_html,
    row_facets,
    severity_badge,
    sorted_findings,
    unique_slugs,
)

#: How much an environment multiplies a finding's severity: production and grants on every
#: environment most; an environment the rules cannot place like staging (it may be production).
ENV_WEIGHT = {"prod": 3.0, "production": 3.0, "all": 3.0, "*": 3.0, "staging": 2.0, "unknown": 2.0}
#: The rank in one sentence, for the page and the printable report.
RANK_RULE = ("Ranked by severity (critical 10, high 5, medium 3, low 1) × environment (production and "
             "all-environment grants 3, staging and unplaced 2, others 1) × blast radius (1 + half the log2 of "
             "1 + the principals that can reach the resource, so reach weighs in without drowning severity).")
NO_OWNER = "(no owner)"


def blast_radius(a: Assessment) -> dict[str, int]:
    """Resource id -> how many principals can reach it: a critical secret's readers (leak cards),
    a policy's bound principals, a principal's granted paths (the access model)."""
    out: dict[str, int] = {}
    am = a.list("access_model")
    if len(am):
        out.update(am.groupby("policy_id")["principal_id"].nunique().astype(int).to_dict())
        out.update(am.groupby("principal_id")["path"].nunique().astype(int).to_dict())
    for card in a.rows("leak_cards"):
        out[card.id] = len(set(card.principals_can_read) | set(card.principals_did_read))
    return out


def ranked_failures(a: Assessment) -> pd.DataFrame:
    """Failing findings, worst first, with ``reach`` (principals) and ``rank`` (the product)."""
    f = a.findings[a.findings["status"] == "fail"]
    if f.empty:
        return f.assign(reach=pd.Series(dtype=int), rank=pd.Series(dtype=float))
    reach = f["resource"].map(blast_radius(a)).fillna(0).astype(int)
    sev = f["severity"].map(SEVERITY_WEIGHT).fillna(0).astype(float)
    env = f["environment"].map(lambda e: ENV_WEIGHT.get(str(e).lower(), 1.0))
    rank = sev * env * (1 + (reach + 1).map(math.log2) / 2)
    out = f.assign(reach=reach, rank=rank.round(1))
    return out.sort_values(["rank", "severity_rank", "check_id", "resource"],
                           ascending=[False, True, True, True], kind="stable")


def _why(sev: str, env: str, reach: int) -> str:
    who = f"{reach} principal(s) can reach it" if reach else "no known reader"
    return f"{sev} × {env} × {who}"


def fix_first_table(f: pd.DataFrame, *, table_id: str, levels: str = "", limit: int | None = None) -> str:
    """The ranked rows: position, severity, finding and check link, owner, why ranked, evidence, fix."""
    if f.empty:
        return "<p><em>Nothing is failing.</em></p>"
    f = f.head(limit) if limit else f
    rows = pd.DataFrame({
        "#": [str(i) for i in range(1, len(f) + 1)],
        "severity": [severity_badge(s) for s in f["severity"]],
        "finding": [f"{check_link(c, t, levels)}<br><code>{esc(r)}</code>"
                    for c, t, r in zip(f["check_id"], f["title"], f["resource"])],
        "environment": [esc(e) for e in f["environment"]],
        "owner": [owner_html(o) for o in f["owner"]],
        "why ranked here": [esc(_why(s, e, n)) for s, e, n in zip(f["severity"], f["environment"], f["reach"])],
        "evidence": [evidence_html(e) for e in f["evidence"]],
        "remediation": [fix_html(r) for r in f["remediation"]],
    })
    controls = "" if limit else filter_box(table_id) + facets_form(table_id, f)
    return controls + html_table(rows, table_id=table_id, css_class="posture-sortable",
                                 raw_columns=tuple(rows.columns), row_attrs=row_facets(f),
                                 page_size=FINDINGS_PAGE, stack=True)


def fix_first_page(a: Assessment, levels: str = "../") -> str:
    f = ranked_failures(a)
    return "\n".join([
        "# Fix first", "",
        f"<p>{len(f)} failing finding(s), in the order to fix them. {esc(RANK_RULE)} Each links to "
        "its check's page (what it detects, why it matters, the controls it evidences). Narrow the "
        "list with the filters; they work offline.</p>", "",
        fix_first_table(f, table_id="t-fix-first", levels=levels), ""])


# --- per owner --------------------------------------------------------------------


def owner_key(owner: Any) -> str:
    return owner if isinstance(owner, str) and owner.strip() else NO_OWNER


def owner_slugs(a: Assessment) -> dict[str, str]:
    owners = sorted({owner_key(o) for o in a.findings["owner"]}, key=lambda o: (o == NO_OWNER, o.lower()))
    slugs = unique_slugs(owners)
    if NO_OWNER in slugs:
        slugs[NO_OWNER] = "unowned" if "unowned" not in slugs.values() else slugs[NO_OWNER]
    return slugs


def owners_index(a: Assessment, slugs: dict[str, str]) -> str:
    f = a.findings.assign(_owner=a.findings["owner"].map(owner_key))
    rows = []
    for owner, s in slugs.items():
        sub = f[f["_owner"] == owner]
        fails = sub[sub["status"] == "fail"]
        rows.append({
            "owner": f'<a href="{s}/">{gap("nobody: no owner is named") if owner == NO_OWNER else esc(owner)}</a>',
            "failing": str(len(fails)),
            "critical or high": str(int(fails["severity"].isin(("critical", "high")).sum())),
            "not assessed": str(int((sub["status"] == "not_assessed").sum())),
            "waived": str(int((sub["status"] == "waived").sum())),
            "passing": str(int((sub["status"] == "pass").sum())),
        })
    t = pd.DataFrame(rows)
    return "\n".join([
        "# Findings by owner", "",
        "<p>One page per owner with only what they must act on: their failing findings, ranked, and "
        "what could not be assessed. A finding without an owner is itself a stage-1 finding.</p>", "",
        html_table(t, table_id="t-owners", css_class="posture-sortable", raw_columns=tuple(t.columns))
        if len(t) else "<p><em>No findings.</em></p>", ""])


def owner_page(a: Assessment, owner: str, ranked: pd.DataFrame) -> str:
    mine = a.findings["owner"].map(owner_key) == owner
    f = a.findings[mine]
    fails = ranked[ranked["owner"].map(owner_key) == owner]
    na = sorted_findings(f[f["status"] == "not_assessed"])
    title = "Findings without an owner" if owner == NO_OWNER else f"Findings owned by {esc(owner)}"
    return "\n".join([
        f"# {title}", "",
        f"<p>{esc(counts_line(f))}.</p>", "",
        f"## Failing ({len(fails)})", "",
        fix_first_table(fails, table_id="t-owner-fail", levels="../../../"), "",
        f"## Not assessed ({len(na)})", "",
        "<p>Unknown is not pass: each says what was missing (a coverage gap, an unknown value, a "
        "missing attestation).</p>", "",
        findings_table(na, table_id="t-owner-na", levels="../../../",
                       columns=("severity", "check", "resource", "environment", "evidence"))
        if len(na) else "<p><em>Nothing left unassessed.</em></p>", ""])


def environments_page(a: Assessment) -> str:
    """Per environment: its counts, then (collapsed) its failing and not-assessed findings."""
    f = a.findings.assign(environment=a.findings["environment"].fillna("unknown").astype(str))
    envs = sorted(f["environment"].unique(), key=str.lower)
    parts = ["# Findings by environment", "",
             "<p>Every environment of the estate with what fails and what could not be assessed; open "
             "one to see its findings. Passing results are counted here and listed on each check's "
             "page.</p>", ""]
    for i, env in enumerate(envs):
        sub = f[f["environment"] == env]
        open_ = sorted_findings(sub[sub["status"].isin(("fail", "not_assessed"))])
        body = (findings_table(open_, table_id=f"t-env-{i}", levels="../../") if len(open_)
                else "<p><em>Nothing failing or left unassessed.</em></p>")
        parts += [f"## {esc(env)}", "",
                  f'<details class="posture-rest"><summary>{esc(counts_line(sub))}</summary>{body}</details>', ""]
    return "\n".join(parts)
