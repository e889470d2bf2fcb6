"""Quarter-over-quarter: new, resolved, changed, still-open and not-recurring findings.

Findings are matched on (check_id, resource), their stable identity: for an
audit event the resource is its store, signal, principal and path, never its
time (`checks.audit_checks.event_ids`), so a recurrence matches. "Open" means
fail or waived.
- new:          open now, absent or passing before
- resolved:     open before, passing now (or the resource is gone)
- not_recurred: an audit event open before and not seen this quarter: an event
                that did not happen again is not a fix, so it is not "resolved"
- changed:      present in both with a different status (e.g. fail -> waived,
                pass -> not_assessed), not already counted as new/resolved
- still_open:   open in both quarters
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from posture.model.errors import PostureError

OPEN = ("fail", "waived")
KINDS = ("new", "resolved", "not_recurred", "changed", "still_open")


def is_event(finding: dict[str, Any]) -> bool:
    """A finding about something that happened (an audit signal seen at a time), not a state."""
    evidence = finding.get("evidence") or {}
    return "signal" in evidence and evidence.get("at") is not None


def load_findings(assessment_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    p = assessment_dir / "findings.json"
    if not p.is_file():
        raise PostureError(f"{assessment_dir}: no assessment here (run 'posture assess' for that quarter)")
    try:
        doc = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as e:
        raise PostureError(f"{p}: unreadable findings: {e}") from None
    return {(r["check_id"], r["resource"]): r for r in doc.get("findings", [])}


def diff_findings(before: dict[tuple[str, str], dict[str, Any]],
                  after: dict[tuple[str, str], dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}

    def brief(r: dict[str, Any], prev: str | None, now: str | None) -> dict[str, Any]:
        return {"check_id": r["check_id"], "title": r.get("title"), "resource": r["resource"],
                "severity": r.get("severity"), "environment": r.get("environment"),
                "owner": r.get("owner"), "before": prev, "after": now}

    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        sb, sa = (b or {}).get("status"), (a or {}).get("status")
        if sa in OPEN and sb in OPEN:
            out["still_open"].append(brief(a, sb, sa))  # type: ignore[arg-type]
            if sa != sb:
                out["changed"].append(brief(a, sb, sa))  # type: ignore[arg-type]
        elif sa in OPEN:
            out["new"].append(brief(a, sb, sa))  # type: ignore[arg-type]
        elif sb in OPEN and a is None and is_event(b):  # type: ignore[arg-type]
            out["not_recurred"].append(brief(b, sb, sa))  # type: ignore[arg-type]
        elif sb in OPEN and (sa == "pass" or a is None):
            out["resolved"].append(brief(b, sb, sa))  # type: ignore[arg-type]
        elif a is not None and b is not None and sa != sb:
            out["changed"].append(brief(a, sb, sa))
    return out


def diff_dirs(before_dir: Path, after_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return diff_findings(load_findings(before_dir), load_findings(after_dir))
