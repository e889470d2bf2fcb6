"""RBAC as records: each (Cluster)Role a policy with its rules, each binding a policy whose rules
are the role's rules as granted to its subjects, in the binding's namespace or cluster-wide.

A RoleBinding that references a ClusterRole grants that role's rules in the
binding's namespace only; a ClusterRoleBinding grants them in every
namespace (``namespace`` None). Aggregated ClusterRoles are taken as the API
returns them: the aggregation controller has already filled their ``rules``.
Subjects are named ``user:<name>``, ``group:<name>`` and
``serviceaccount:<namespace>/<name>`` (also for a User subject spelled
``system:serviceaccount:<namespace>:<name>``, which is the same identity).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from collectors.kubernetes.client import KubeCalls
from collectors.kubernetes.guard import READS
from posture.model.records import Policy, PolicyRule, Principal

TABLES = ["policy", "policy_rule", "principal"]
_READ = {r.resource: r for r in READS}


def subject_name(s: Any, default_ns: str | None) -> str:
    kind = (getattr(s, "kind", "") or "").lower()
    parts = str(s.name or "").split(":")
    if kind == "user" and len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return f"serviceaccount:{parts[2]}/{parts[3]}"  # a service account named by its username
    if kind == "serviceaccount":
        return f"serviceaccount:{getattr(s, 'namespace', None) or default_ns or ''}/{s.name}"
    return f"{'group' if kind == 'group' else 'user'}:{s.name}"


def _rule_dict(r: Any) -> dict[str, Any]:
    return {"apiGroups": list(r.api_groups or []), "resources": list(r.resources or []),
            "resourceNames": list(r.resource_names or []), "verbs": list(r.verbs or []),
            "nonResourceURLs": list(r.non_resource_urls or [])}


def _rule_record(calls: KubeCalls, rid: str, pid: str, policy: str, r: Any, namespace: str | None,
                 principals: list[str], binding: str | None, role_ref: str | None) -> PolicyRule:
    groups, resources = list(r.api_groups or []), list(r.resources or [])
    verbs, names = list(r.verbs or []), list(r.resource_names or [])
    urls = list(r.non_resource_urls or [])
    where = namespace or "*"
    target = "|".join(resources) if resources else "urls:" + "|".join(urls)
    return PolicyRule(
        id=rid, store=calls.store.name, source="kubernetes", policy_id=pid, policy=policy,
        path=f"{where}/{target}", capabilities=verbs, wildcard="*" in resources or "*" in groups or "*" in verbs,
        wildcard_all="*" in resources and "*" in groups and "*" in verbs, principals=principals,
        api_groups=groups, resources=resources, resource_names=names, namespace=namespace,
        binding=binding, role_ref=role_ref, conditions={"nonResourceURLs": urls} if urls else {},
    )


def collect(calls: KubeCalls, namespaces: list[str] | None) -> dict[str, list[str]]:
    """Read roles, cluster roles and their bindings; return subject -> bound role policy ids."""
    store = calls.store.name
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    roles: dict[tuple[str | None, str], tuple[str, list[Any]]] = {}
    for ns in scopes:
        for role in calls.list(_READ["roles"], ns, TABLES).items or []:
            m = role.metadata
            pid = f"kubernetes:{store}:role/{m.namespace}/{m.name}"
            roles[(m.namespace, m.name)] = (pid, list(role.rules or []))
            _policy(calls, pid, m.name, "k8s_role", role.rules, m.namespace)
    for role in calls.list(_READ["clusterroles"], None, TABLES).items or []:
        m = role.metadata
        pid = f"kubernetes:{store}:clusterrole/{m.name}"
        roles[(None, m.name)] = (pid, list(role.rules or []))
        _policy(calls, pid, m.name, "k8s_clusterrole", role.rules, None)

    bound: dict[str, list[str]] = defaultdict(list)
    bindings: list[tuple[Any, str | None]] = []
    for ns in scopes:
        bindings += [(b, b.metadata.namespace) for b in calls.list(_READ["rolebindings"], ns, TABLES).items or []]
    bindings += [(b, None) for b in calls.list(_READ["clusterrolebindings"], None, TABLES).items or []]
    for b, ns in bindings:
        m, ref = b.metadata, b.role_ref
        cluster_ref = (ref.kind or "") == "ClusterRole"
        pid_role, rules = roles.get((None if cluster_ref else ns, ref.name), (None, []))
        kind = "k8s_rolebinding" if ns else "k8s_clusterrolebinding"
        bid = f"kubernetes:{store}:{'rolebinding/' + ns if ns else 'clusterrolebinding'}/{m.name}"
        subjects = [subject_name(s, ns) for s in b.subjects or []]
        calls.ctx.sink.add(Policy(
            id=bid, store=store, source="kubernetes", name=m.name, kind=kind, attached_to=pid_role,
            document=json.dumps({"roleRef": {"kind": ref.kind, "name": ref.name}, "subjects": subjects,
                                 "namespace": ns}, sort_keys=True),
        ))
        for i, r in enumerate(rules):
            calls.ctx.sink.add(_rule_record(calls, f"{bid}#{i}", bid, ref.name, r, ns, subjects, m.name, pid_role))
        for s in subjects:
            bound[s].append(pid_role or f"kubernetes:{store}:missing-role/{ref.kind}/{ref.name}")
    for s, pids in bound.items():
        if s.startswith("serviceaccount:"):
            continue  # service accounts get their row from the ServiceAccount list
        kind, _, name = s.partition(":")
        calls.ctx.sink.add(Principal(id=f"kubernetes:{store}:{s}", store=store, source="kubernetes", name=name,
                                     kind=f"k8s_{kind}", policies=sorted(set(pids))))
    return bound


def _policy(calls: KubeCalls, pid: str, name: str, kind: str, rules: Any, namespace: str | None) -> None:
    rules = list(rules or [])
    calls.ctx.sink.add(Policy(id=pid, store=calls.store.name, source="kubernetes", name=name, kind=kind,
                              document=json.dumps([_rule_dict(r) for r in rules], sort_keys=True)))
    for i, r in enumerate(rules):
        calls.ctx.sink.add(_rule_record(calls, f"{pid}#{i}", pid, name, r, namespace, [], None, None))
