"""IAM policies (a secret's, a project's) as Policy, PolicyRule and Principal records.

One ``PolicyRule`` per binding: ``capabilities`` is the role, ``principals``
its members exactly as Google writes them (``user:``, ``serviceAccount:``,
``group:``, ``domain:``, ``allUsers``, ``allAuthenticatedUsers``, ...), and a
condition's expression in ``conditions``. A project binding applies to every
secret of the project, so its rule's path is ``projects/<id>/*``. Whether a
role reads values, or a member is broad, is judged by the checks, not here.
"""

from __future__ import annotations

import json
from typing import Any

from posture.model.records import Policy, PolicyRule, Principal
from posture.model.snapshot import SnapshotSink


def member_kind(member: str) -> str:
    """``gcp_<type>`` of an IAM member string (``serviceAccount:x`` -> ``gcp_service_account``)."""
    if member in ("allUsers", "allAuthenticatedUsers"):
        return "gcp_public"
    prefix = member.split(":", 1)[0] if ":" in member else "other"
    return {"user": "gcp_user", "serviceAccount": "gcp_service_account", "group": "gcp_group",
            "domain": "gcp_domain", "principal": "gcp_workload_identity",
            "principalSet": "gcp_workload_identity_set"}.get(prefix, "gcp_" + prefix.lower())


def bindings_of(policy: Any) -> list[dict[str, Any]]:
    """A ``google.iam.v1.Policy`` protobuf as plain bindings (role, members, condition)."""
    out = []
    for b in policy.bindings:
        cond = None
        if b.HasField("condition"):
            cond = {"title": b.condition.title, "expression": b.condition.expression}
        out.append({"role": b.role, "members": sorted(b.members), "condition": cond})
    return out


def add_policy(sink: SnapshotSink, store: str, *, policy_id: str, name: str, kind: str, attached_to: str,
               path: str, bindings: list[dict[str, Any]], wildcard: bool) -> None:
    """Write one IAM policy and its bindings as rules."""
    sink.add(Policy(id=policy_id, store=store, source="gcp", name=name, kind=kind, attached_to=attached_to,
                    document=json.dumps({"bindings": bindings}, sort_keys=True)))
    for i, b in enumerate(bindings):
        sink.add(PolicyRule(
            id=f"{policy_id}#{i}", store=store, source="gcp", policy_id=policy_id, policy=name, path=path,
            capabilities=[b["role"]], principals=list(b["members"]), wildcard=wildcard,
            wildcard_all=False, conditions=b["condition"] or {},
        ))


def add_principals(sink: SnapshotSink, store: str) -> None:
    """One principal per member of the store's policies, with the policies that name it."""
    held: dict[str, set[str]] = {}
    for r in sink.rows("policy_rule"):
        if isinstance(r, PolicyRule) and r.store == store and r.source == "gcp":
            for m in r.principals:
                held.setdefault(m, set()).add(r.policy_id)
    for member, policies in sorted(held.items()):
        sink.add(Principal(id=f"gcp:{store}:{member}", store=store, source="gcp", name=member,
                           kind=member_kind(member), policies=sorted(policies)))
