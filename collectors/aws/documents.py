"""Shapes several AWS services share: tag lists and policy documents.

Secrets Manager resource policies, KMS key policies and IAM policies all
become one `Policy` row plus one `PolicyRule` per statement and resource, so
the checks read every AWS policy the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from posture.model.records import Policy, PolicyRule
from posture.model.snapshot import SnapshotSink


def tags(items: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    """A tag list as a dict (``Key``/``Value`` or KMS's ``TagKey``/``TagValue``)."""
    out: dict[str, str] = {}
    for t in items or []:
        k = t.get("Key", t.get("TagKey"))
        if k is not None:
            out[str(k)] = str(t.get("Value", t.get("TagValue", "")))
    return out


def listify(v: Any) -> list[Any]:
    """A policy field that may be one value or a list, as a list."""
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def document(doc: Any) -> dict[str, Any] | None:
    """A policy document as a dict (botocore decodes IAM's; others arrive as JSON text)."""
    if doc is None:
        return None
    if isinstance(doc, dict):
        return doc
    try:
        text = doc if doc.lstrip().startswith("{") else unquote(doc)
        parsed = json.loads(text)
        return parsed if isinstance(parsed, dict) else None
    except (ValueError, AttributeError):
        return None


def principals(p: Any) -> list[str]:
    """Flatten a statement's Principal into ``TYPE:value`` strings (``*`` stays ``*``)."""
    if p is None:
        return []
    if p == "*":
        return ["*"]
    if isinstance(p, dict):
        return [f"{kind}:{v}" for kind, vals in sorted(p.items()) for v in listify(vals)]
    return [str(x) for x in listify(p)]


def add_policy(sink: SnapshotSink, store: str, policy_id: str, name: str, kind: str, doc: Any,
               attached_to: str | None, default_resource: str = "*") -> None:
    """One `Policy` row and a `PolicyRule` per (statement, resource); an unparsable document keeps only the row."""
    parsed = document(doc)
    sink.add(Policy(
        id=policy_id, store=store, source="aws", name=name, kind=kind,
        attached_to=attached_to,
        document=json.dumps(parsed, sort_keys=True) if parsed is not None else None,
    ))
    if parsed is None:
        return
    for i, st in enumerate(listify(parsed.get("Statement"))):
        if not isinstance(st, dict):
            continue
        not_action = "NotAction" in st
        actions = [str(a) for a in listify(st.get("NotAction" if not_action else "Action"))]
        not_resource = "NotResource" in st
        resources = [str(r) for r in listify(st.get("NotResource" if not_resource else "Resource"))]
        if not resources:
            resources = [default_resource]
        for j, res in enumerate(resources):
            sink.add(PolicyRule(
                id=f"{policy_id}#{i}.{j}", store=store, source="aws",
                policy_id=policy_id, policy=name, path=res, capabilities=actions,
                effect="deny" if str(st.get("Effect", "Allow")).lower() == "deny" else "allow",
                wildcard="*" in res or any("*" in a for a in actions) or not_action or not_resource,
                wildcard_all=res == "*" and not not_resource,
                principals=principals(st.get("Principal", st.get("NotPrincipal"))),
                conditions=st.get("Condition") or {},
                not_action=not_action, not_resource=not_resource, sid=st.get("Sid"),
            ))
