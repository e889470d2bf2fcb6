"""The assessor's ClusterRole, derived from the guard's `READS` (what the collector lists, nothing else).

``get`` and ``list`` on each collection; Secrets only when the engagement asks
for Secret metadata. RBAC has no verb for "metadata only": ``list`` on secrets
lets the holder read every value, so the printed role says so, and the guard
is what keeps the kit itself to PartialObjectMetadataList.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict

from collectors.kubernetes.guard import READS

ROLE_NAME = "secrets-posture-assessor"

SECRETS_NOTE = (
    "list on secrets can read every Secret's data: the API server returns values to a plain list. "
    "The kit asks only for PartialObjectMetadataList (its guard refuses any other request on secrets "
    "before sending), but anyone holding this role's credential could read values. Grant it only for the "
    "assessment window, or omit --secret-metadata."
)


def cluster_role_yaml(secret_metadata: bool = False, subject: str = "User:secrets-posture-assessor") -> str:
    """The ClusterRole and a ClusterRoleBinding template, as YAML (two documents)."""
    by_group: dict[str, list[str]] = defaultdict(list)
    for r in READS:
        if r.secret_metadata_only and not secret_metadata:
            continue
        if not r.secret_metadata_only:
            by_group[r.group].append(r.resource)
    lines = ["# Read-only role for the Secrets Posture Kit (posture policy kubernetes).",
             "# get/list only; no watch, no write, no pods/exec, no secrets unless --secret-metadata."]
    if secret_metadata:
        lines += ["# WARNING: " + line for line in textwrap.wrap(SECRETS_NOTE, 88)]
    lines += ["apiVersion: rbac.authorization.k8s.io/v1", "kind: ClusterRole", "metadata:",
              f"  name: {ROLE_NAME}", "rules:"]
    for group in sorted(by_group, key=lambda g: (g != "", g)):
        lines += [f'  - apiGroups: ["{group}"]',
                  f"    resources: [{', '.join(sorted(set(by_group[group])))}]",
                  "    verbs: [get, list]"]
    if secret_metadata:  # list only: a get names one Secret and returns its data; the collector never gets one
        lines += ['  - apiGroups: [""]', "    resources: [secrets]", "    verbs: [list]"]
    kind, _, name = subject.partition(":")
    lines += ["---", "apiVersion: rbac.authorization.k8s.io/v1", "kind: ClusterRoleBinding", "metadata:",
              f"  name: {ROLE_NAME}", "roleRef:", "  apiGroup: rbac.authorization.k8s.io", "  kind: ClusterRole",
              f"  name: {ROLE_NAME}", "subjects:", f"  - kind: {kind or 'User'}", f"    name: {name or subject}"]
    if kind == "ServiceAccount":
        ns, _, sa = (name or "").partition("/")
        lines[-1] = f"    name: {sa or ns}"
        lines.append(f"    namespace: {ns if sa else 'default'}")
    else:
        lines.append("    apiGroup: rbac.authorization.k8s.io")
    return "\n".join(lines) + "\n"
