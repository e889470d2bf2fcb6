"""The access model as a matrix: principals x path prefixes, capability chips, grouped by environment.

A flat list of every grant is what the snapshot holds; a reader asks "who can
do what, where, and why". So each environment gets a matrix: one row per
principal, one column per path prefix (a Vault mount, an AWS service and
resource type), the capabilities granted there as chips, and the
justification the engagement records for those grants (or "missing" in red).
Wildcard grants and principals reaching several environments are highlighted
in colour *and* words. The flat list stays one click away.
"""

from __future__ import annotations

import re

import pandas as pd

from posture.report import Assessment, access_model, esc, html_table
from posture.report.format import chip, chips, gap, label
from posture.site.pages.common import filter_box, slug

#: Capabilities that change what is stored or who may do it (chips styled apart from reads).
WRITES = re.compile(r"^(create|update|delete|patch|sudo|root|\*|.*:(Put|Create|Delete|Update|\*).*)$")
#: A grant on a whole mount (``secret/*``, ``secret/data/*``), on everything, or on a whole service.
_MOUNT_WIDE = re.compile(r"^([^/*+:]+/)?(data/|metadata/|detailed-metadata/)?[*+]$|^arn:.*:\*$")
ENV_INTRO = {"unknown": "Paths the engagement's environment rules do not place: system, auth and identity "
                        "paths, and wildcards that name no environment."}


def path_prefix(path: str) -> str:
    """The matrix column of a path: its Vault mount (``secret/``), or an ARN's service and resource type."""
    if path.startswith("arn:"):
        parts = path.split(":", 5)
        service = parts[2] if len(parts) > 2 else "?"
        resource = parts[5] if len(parts) > 5 else ""
        head = resource.split("/", 1)[0] + "/" if "/" in resource else resource
        return f"{service} {head}".strip()
    if path.startswith(("*", "+")):
        return "*"
    return path.split("/", 1)[0] + "/"


def is_wildcard(path: str) -> bool:
    """A glob before the last segment (``secret/data/+/payments/*``): it reaches paths nobody listed.

    A trailing glob (``.../payments/*``, an ARN's ``-*`` suffix) is how a grant is scoped, not a finding.
    """
    return any(c in seg for seg in path.split("/")[:-1] for c in "*+")


def is_everything(path: str) -> bool:
    """A grant on everything, or on a whole mount or service (``*``, ``secret/data/*``, ``...:*``)."""
    return bool(_MOUNT_WIDE.search(path))


def _caps_html(caps: list[str], effects: set[str]) -> str:
    out = [chip(c, "chip-write" if WRITES.match(c) else "") for c in sorted(set(caps))]
    if "deny" in effects:
        out.insert(0, chip("deny", "chip-deny"))
    return '<span class="posture-chips">' + "".join(out) + "</span>"


def _cell(rows: pd.DataFrame) -> tuple[str, str]:
    """(css class, HTML) of one principal x prefix cell."""
    if rows.empty:
        return "", ""
    paths = sorted(set(rows["path"]))
    caps = [c for cs in rows["capabilities"] for c in cs]
    wild = any(map(is_wildcard, paths))
    every = any(map(is_everything, paths))
    css = "posture-cell-star" if every else "posture-cell-wild" if wild else ""
    marker = " <small>(whole mount)</small>" if every else " <small>(wildcard)</small>" if wild else ""
    title = esc("; ".join(paths[:20]) + (" …" if len(paths) > 20 else ""))
    return css, (f'<span title="{title}">{_caps_html(caps, set(rows["effect"]))}</span>'
                 f"<br><small>{len(paths)} path(s)</small>{marker}")


def _justification(rows: pd.DataFrame) -> str:
    given = sorted({j for j in rows["justification"] if isinstance(j, str) and j.strip()})
    lacking = int(rows["justification"].map(lambda j: not (isinstance(j, str) and j.strip())).sum())
    parts = [esc(j) for j in given]
    if lacking:
        parts.append(gap("missing" if lacking == len(rows) else f"missing for {lacking} of {len(rows)} grants"))
    return "<br>".join(parts)


def matrix_html(am: pd.DataFrame, env: str, cross: set[tuple[str, str]], table_id: str) -> str:
    """One environment's principals x prefixes, with policies, highlights and justification.

    Built here rather than by `html_table` because its cells carry their own
    highlight classes; every value in it is escaped all the same.
    """
    sub = am[am["environment"].astype(str) == env]
    sub = sub.assign(_prefix=sub["path"].map(path_prefix))
    prefixes = sorted(set(sub["_prefix"]), key=lambda p: (p == "*", p))
    rows = []
    for (store, pid), g in sub.groupby(["store", "principal_id"], sort=False):
        name = str(g["principal"].iloc[0])
        spans = (store, pid) in cross or any((store, p) in cross for p in g["policy_id"])
        who = (f"<strong>{esc(name)}</strong><br>{chip(g['principal_kind'].iloc[0])} {chip(store)}"
               f"<br><small>via</small> {chips(sorted(set(g['policy'])), limit=4)}"
               + ('<br><span class="posture-gap">⚠ reaches several environments</span>' if spans else ""))
        cells = []
        for prefix in prefixes:
            css, html = _cell(g[g["_prefix"] == prefix])
            cells.append(f'<td class="{css}">{html}</td>' if css else f"<td>{html}</td>")
        tr = '<tr class="posture-cross-env">' if spans else "<tr>"
        rows.append(((not spans, name.lower()),
                     f"{tr}<td>{who}</td>{''.join(cells)}<td>{_justification(g)}</td></tr>"))
    head = "".join(f"<th>{esc(h)}</th>" for h in (label("principal"), *prefixes, label("justification")))
    body = "".join(html for _, html in sorted(rows, key=lambda r: r[0]))
    return (f'<div class="posture-table-wrap"><table id="{esc(table_id)}" class="posture-table posture-matrix">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def legend() -> str:
    return ('<p class="posture-legend"><span class="legend-star">grant on everything or a whole mount</span>'
            '<span class="legend-wild">wildcard inside the path (reaches paths nobody listed)</span>'
            '<span class="legend-cross">principal reaching several environments</span>'
            "<span>write capabilities are tinted; hover a cell for its paths</span></p>")


def access_page(a: Assessment) -> str:
    am = access_model(a)
    cross_df = a.list("cross_env")
    cross = {(s, i) for s, i in zip(cross_df["store"], cross_df["id"])}
    missing = int(am["justification"].map(lambda j: not (isinstance(j, str) and j.strip())).sum()) if len(am) else 0
    envs = sorted({str(e) for e in am["environment"]}, key=lambda e: (e != "prod", e == "unknown", e))
    parts = ["# Access model", "",
             f"<p>Principals → permissions → secret paths → justification, from Vault policies and their "
             f"bindings and from IAM policies: {len(am)} grant(s) to {am['principal_id'].nunique() if len(am) else 0} "
             "principal(s). Each environment is a matrix of principals by path prefix; the justification "
             "comes from the engagement's <code>access_justifications</code>."
             + (f' <span class="posture-gap">{missing} grant(s) have no justification.</span>' if missing else "")
             + "</p>", "", legend(), ""]
    if am.empty:
        parts += ["<p><em>No access model could be derived from the snapshot.</em></p>", ""]
    for env in envs:
        n = int((am["environment"].astype(str) == env).sum())
        parts += [f"## {esc(env)} ({n} grant(s))", ""]
        if env in ENV_INTRO:
            parts += [f"<p>{esc(ENV_INTRO[env])}</p>", ""]
        parts += [matrix_html(am, env, cross, f"t-access-{slug(env)}"), ""]
    parts += ["## Every grant", "",
              f'<details class="posture-rest"><summary>All {len(am)} grant(s) as a list</summary>'
              + filter_box("t-access-model")
              + html_table(am, table_id="t-access-model", css_class="posture-sortable") + "</details>", "",
              "## Cross-environment reach", "",
              "<p>Policies or principals whose paths span production and non-production.</p>", "",
              html_table(cross_df, table_id="t-cross-env", css_class="posture-sortable") if len(cross_df)
              else "<p><em>None.</em></p>", ""]
    return "\n".join(parts)
