"""OIDC trust judged value by value: which subjects and audiences a role's trust admits.

Pure functions over an IAM trust document (or a role's merged trust
conditions), used by AWS015. IAM ``StringLike`` wildcards are evaluated as IAM
does (``*`` crosses ``/`` and ``:``), and a pattern is judged by the subjects
it admits, not by how it is spelled.
"""

from __future__ import annotations

import json
import re

GITHUB_OIDC = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
# Subjects no trust should admit when it names one organisation: any repository, any branch.
_PROBES = ("repo:{org}/zz-probe-repo:ref:refs/heads/zz-probe", "repo:{org}/zz-probe-repo:environment:zz-probe",
           "repo:{org}/zz-probe-repo:pull_request")


def _like(pattern: str) -> re.Pattern[str]:
    """IAM ``StringLike``: ``*`` any run (across ``/`` and ``:``), ``?`` one character."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern),
                      re.DOTALL)


def subject_problem(pattern: str, like: bool, github: bool) -> str | None:
    """Why an OIDC ``sub`` condition value admits too much; None if it is scoped.

    General class: wildcard subjects. A ``StringEquals`` value is literal. For
    GitHub (``repo:ORG/REPO:...``) the organisation must be literal, and a
    wildcard repository needs a literal branch or environment; elsewhere a
    pattern of wildcards and separators only admits every subject.
    """
    if not like or not any(ch in pattern for ch in "*?"):
        return None
    if not github:
        return f"subject {pattern!r} admits every subject" if re.fullmatch(r"[*?:/]*", pattern) else None
    m = re.match(r"repo:([^/:*?]+)/", pattern)
    if not m:
        return f"subject {pattern!r} admits repositories of any organisation"
    rx = _like(pattern)
    if any(rx.fullmatch(probe.format(org=m.group(1))) for probe in _PROBES):
        return f"subject {pattern!r} admits every repository of {m.group(1)} on any branch or environment"
    return None


def _statements(doc: object, trust_principals: list[str], merged: dict) -> list[tuple[str, dict]]:
    """(OIDC provider host, condition block) per Allow statement federating an OIDC provider.

    From the trust document when there is one (statements stay apart), else from
    the role's merged ``trust_conditions``.
    """
    def host(principal: str) -> str:
        return principal.split("oidc-provider/", 1)[-1] if "oidc-provider/" in principal else principal

    try:
        stmts = json.loads(doc).get("Statement", []) if isinstance(doc, str) and doc.strip() else None
    except (ValueError, AttributeError):
        stmts = None
    if stmts is None:
        return [(host(str(x).removeprefix("Federated:")), merged or {}) for x in trust_principals
                if "oidc" in str(x) or "token.actions" in str(x)]
    out = []
    for st in stmts if isinstance(stmts, list) else [stmts]:
        if not isinstance(st, dict) or str(st.get("Effect", "Allow")).lower() != "allow":
            continue
        fed = (st.get("Principal") or {}).get("Federated") if isinstance(st.get("Principal"), dict) else None
        for f in fed if isinstance(fed, list) else [fed] if fed else []:
            if "oidc" in str(f) or "token.actions" in str(f):
                out.append((host(str(f)), st.get("Condition") or {}))
    return out


def oidc_trust_problems(doc: object, trust_principals: list[str], merged: dict) -> list[str]:
    """Every reason the role's OIDC trust admits too much (empty: scoped)."""
    problems: list[str] = []
    for provider, cond in _statements(doc, trust_principals, merged):
        github = provider.startswith(GITHUB_OIDC)
        subs: list[tuple[str, bool]] = []
        auds: list[tuple[str, bool]] = []
        for op, block in (cond.items() if isinstance(cond, dict) else []):
            if "Not" in op or not isinstance(block, dict):
                continue  # a negation scopes nothing
            for key, vals in block.items():
                for v in vals if isinstance(vals, list) else [vals]:
                    if key.endswith(":sub"):
                        subs.append((str(v), "Like" in op))
                    elif key.endswith(":aud"):
                        auds.append((str(v), "Like" in op))
        if not subs:
            problems.append(f"{provider}: no subject (sub) condition")
        problems += [f"{provider}: {why}" for v, like in subs if (why := subject_problem(v, like, github))]
        if github and not auds:
            problems.append(f"{provider}: no audience (aud) condition")
        elif github:
            problems += [f"{provider}: audience {v!r} is not {GITHUB_AUDIENCE}" for v, like in auds
                         if v != GITHUB_AUDIENCE]
    return problems
