"""The assessor's Azure custom role, derived from the guard's allow-list (`posture policy azure`).

Actions: the control-plane reads (vaults, role assignments, role
definitions). DataActions: exactly the data-plane permissions of the allowed
Key Vault operations: secret *metadata* (``secrets/readMetadata/action``),
keys, key rotation policies, certificates. ``secrets/getSecret/action`` (the
value) and every other value-returning data action (key export, decrypt,
unwrap, sign, backup) are absent, and listed as NotDataActions as a second fence.
"""

from __future__ import annotations

from typing import Any

from collectors.azure.guard import ALLOWED

#: Data actions that return or use secret material: never granted.
VALUE_DATA_ACTIONS = (
    "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "Microsoft.KeyVault/vaults/secrets/backup/action",
    "Microsoft.KeyVault/vaults/keys/release/action",  # secure key release: the key export path
    "Microsoft.KeyVault/vaults/keys/decrypt/action",
    "Microsoft.KeyVault/vaults/keys/unwrap/action",
    "Microsoft.KeyVault/vaults/keys/sign/action",
    "Microsoft.KeyVault/vaults/keys/backup/action",
    "Microsoft.KeyVault/vaults/certificates/backup/action",
)


def role_definition(subscriptions: list[str] | None = None) -> dict[str, Any]:
    """The custom role JSON (``az role definition create --role-definition @role.json``)."""
    actions = sorted({r.permission for r in ALLOWED if r.plane == "management" and r.permission})
    data = sorted({r.permission for r in ALLOWED if r.plane == "data" and r.permission})
    assert not set(data) & set(VALUE_DATA_ACTIONS)
    scopes = [f"/subscriptions/{s}" for s in subscriptions or []] or ["/subscriptions/<subscription-id>"]
    return {
        "Name": "Secrets Posture Kit assessor (read-only)",
        "IsCustom": True,
        "Description": "Reads Key Vault properties, role assignments and secret/key/certificate metadata; "
                       "never secret values or key material.",
        "Actions": actions,
        "NotActions": [],
        "DataActions": data,
        "NotDataActions": list(VALUE_DATA_ACTIONS),
        "AssignableScopes": scopes,
    }


def role_note() -> str:
    return (
        "Why this role: the collector lists secrets, keys and certificates as metadata only (attributes, tags,\n"
        "versions, rotation and certificate policies); it never calls getSecret, so the role grants\n"
        "secrets/readMetadata/action and not secrets/getSecret/action (Key Vault Secrets User would let the\n"
        "assessor read every value). Value-returning data actions are also listed as NotDataActions.\n"
        "Assign it at each subscription (role assignments above it are listed from the vault, read-only).\n"
        "Vaults on the access-policy model ignore RBAC data actions: give the assessor an access policy with\n"
        "secrets: list; keys: list, getrotationpolicy; certificates: list, get (no secret 'get'):\n"
        "  az keyvault set-policy -n VAULT --object-id ASSESSOR --secret-permissions list \\\n"
        "    --key-permissions list getrotationpolicy --certificate-permissions list get\n"
    )
