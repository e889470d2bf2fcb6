"""The custom IAM role ``posture policy gcp`` prints, derived from the guard's allow-list.

The role holds exactly the permissions of `collectors.gcp.guard.OPERATIONS`,
so what the client grants and what the collector can call are one list; it
holds no permission that reads or adds a value (`VALUE_PERMISSIONS`).
The YAML is what ``gcloud iam roles create ROLE_ID --organization=ORG --file=FILE``
(or ``--project=P``) reads: ``title``, ``description``, ``stage``,
``includedPermissions``.
"""

from __future__ import annotations

import json

from collectors.gcp.guard import OPERATIONS, VALUE_PERMISSIONS, permissions

ROLE_ID = "postureAssessor"
TITLE = "Secrets Posture Kit assessor (read-only metadata)"


def role_definition() -> dict[str, object]:
    perms = permissions()
    assert not set(perms) & set(VALUE_PERMISSIONS), "the assessor role must not read values"
    return {
        "title": TITLE,
        "description": "Lists Secret Manager secrets and versions (metadata only), reads their IAM policies, "
                       "the IAM policies of their projects, folders and organization, and the CMEK keys' "
                       "settings. Never reads a secret value.",
        "stage": "GA",
        "includedPermissions": perms,
    }


def role_yaml() -> str:
    """The role as YAML (strings JSON-quoted, which YAML reads as they are)."""
    d = role_definition()
    lines = [f"title: {json.dumps(d['title'])}", f"description: {json.dumps(d['description'])}",
             f"stage: {json.dumps(d['stage'])}", "includedPermissions:"]
    lines += [f"- {p}" for p in d["includedPermissions"]]  # type: ignore[union-attr]
    return "\n".join(lines) + "\n"


def role_note() -> str:
    """What stderr says beside the role: how to grant it, and what it leaves out on purpose."""
    used = sorted({f"{op.method} {op.path.replace('{id}', '*')}" for op in OPERATIONS})
    return "\n".join([
        "Create it once on the organization and grant it there (it then covers every project, folder and key):",
        f"  gcloud iam roles create {ROLE_ID} --organization=ORG_ID --file=role.yaml",
        (f"  gcloud organizations add-iam-policy-binding ORG_ID --member=serviceAccount:ASSESSOR "
         f"--role=organizations/ORG_ID/roles/{ROLE_ID}"),
        "Granted on projects only (--project=PROJECT), the folder and organization reads are denied: every",
        "secret's inherited readers then show as coverage gaps (not assessed), never as passed.",
        "Left out on purpose: " + ", ".join(VALUE_PERMISSIONS) + " (they read or add secret values or use keys);",
        "secretmanager.versions.access is what roles/secretmanager.secretAccessor grants: never grant it to the",
        "assessor. The collector's guard refuses any other request before it is sent; it calls only:",
        *[f"  {u}" for u in used],
    ]) + "\n"
