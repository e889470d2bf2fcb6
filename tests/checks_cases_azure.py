"""Azure Key Vault check cases (AZK*): each passing set holds the clean look-alikes of its problem.

Records are what `collectors.azure` writes (ids are ARM resource ids; rules carry
``conditions.kind`` and ``conditions.applies_to``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from posture.model.records import CloudResource, Key, PolicyRule, Principal, Secret

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
Z = {"store": "az", "source": "azure"}
SUB = "00000000-0000-0000-0000-0000000000a1"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-secrets"
GET = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
META = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"


def vault(name: str = "kv-prod", **kw) -> CloudResource:
    vid = f"{RG}/providers/Microsoft.KeyVault/vaults/{name}"
    base = {"soft_delete": True, "purge_protection": True, "rbac_authorization": True,
            "public_network_access": "Disabled", "network_default_action": "Deny", "soft_delete_retention_days": 90}
    base.update(kw)
    return CloudResource(id=vid, kind="azure_key_vault", name=name, arn=vid, account=SUB, region="westeurope",
                         **Z, **base)


def vid(name: str = "kv-prod") -> str:
    return f"{RG}/providers/Microsoft.KeyVault/vaults/{name}"


def assignment(n: int, scope: str, data: list[str], not_data: list[str] | None = None, role: str = "Key Vault Secrets User",
               vaults: tuple[str, ...] = ("kv-prod",), principal_type: str = "ServicePrincipal",
               read: bool = True) -> PolicyRule:
    return PolicyRule(id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/a{n}", policy_id=f"azure:az:role/{role}",
                      policy=role, path=scope, capabilities=data, not_capabilities=not_data or [],
                      principals=[f"p{n}"], **Z,
                      conditions={"kind": "role_assignment", "applies_to": [vid(v) for v in vaults],
                                  "principal_type": principal_type, "role_definition_read": read})


def access_policy(n: int, caps: list[str], name: str = "kv-prod") -> PolicyRule:
    return PolicyRule(id=f"{vid(name)}/accessPolicies/p{n}", policy_id=f"{vid(name)}#accessPolicies",
                      policy="access policies", path=vid(name), capabilities=caps, principals=[f"p{n}"], **Z,
                      conditions={"kind": "access_policy", "applies_to": [vid(name)]})


def principal(n: int, kind: str = "azure_service_principal") -> Principal:
    return Principal(id=f"azure:az:principal/p{n}", name=f"p{n}", kind=kind, **Z)


def kv_secret(name: str, **kw) -> Secret:
    base = {"enabled": True, "expires_at": NOW + timedelta(days=60), "created_at": NOW - timedelta(days=10),
            "last_rotated_at": NOW - timedelta(days=10)}
    base.update(kw)
    return Secret(id=f"{vid()}/secrets/{name}", kind="azure_keyvault_secret", path=f"kv-prod/{name}", name=name,
                  mount="kv-prod", **Z, **base)


def kv_key(name: str, **kw) -> Key:
    base = {"enabled": True, "rotation_enabled": True, "rotation_actions": ["rotate after create P90D"],
            "rotation_period_days": 90, "created_at": NOW - timedelta(days=10)}
    base.update(kw)
    return Key(id=f"{vid()}/keys/{name}", kind="azure_keyvault_key", name=f"kv-prod/{name}", **Z, **base)


SUB_SCOPE = f"/subscriptions/{SUB}"
MG_SCOPE = "/providers/Microsoft.Management/managementGroups/contoso"
VAULT_SCOPE = vid()

CASES: dict[str, tuple[list, list]] = {
    "AZK001": ([vault()], [vault(purge_protection=False)]),
    "AZK002": (
        # private only; public but firewall Deny with specific ranges; public disabled with an open rule left over
        [vault(), vault("kv-fw", public_network_access="Enabled", network_default_action="Deny",
                        ip_rules=["203.0.113.0/24", "198.51.100.7/32"]),
         vault("kv-off", public_network_access="Disabled", network_default_action="Allow")],
        [vault(public_network_access="Enabled", network_default_action="Allow"),
         vault("kv-wide", public_network_access="Enabled", network_default_action="Deny", ip_rules=["0.0.0.0/0"])]),
    "AZK003": ([vault()], [vault(rbac_authorization=False)]),
    "AZK004": ([kv_secret("db-password"), kv_secret("old-api-key", enabled=False, expires_at=None)],
               [kv_secret("db-password", expires_at=None)]),
    "AZK005": ([kv_key("signing"), kv_key("retired", enabled=False, rotation_enabled=False, rotation_actions=[])],
               [kv_key("signing", rotation_enabled=False, rotation_actions=["notify before expiry P30D"],
                       rotation_period_days=None)]),
    "AZK006": (
        [vault(), vault("kv-ap", rbac_authorization=False),
         assignment(1, VAULT_SCOPE, [GET, META]),
         # a group with a metadata-only role, a role whose notDataActions remove getSecret: not readers
         assignment(2, VAULT_SCOPE, ["Microsoft.KeyVault/vaults/*/read", META], role="Key Vault Reader",
                    principal_type="Group"),
         assignment(3, VAULT_SCOPE, ["Microsoft.KeyVault/vaults/secrets/*"], [GET], role="custom metadata",
                    principal_type="Group"),
         # an access policy with secrets:get on an RBAC vault is ignored by Key Vault
         access_policy(4, ["secrets:get", "secrets:list"]),
         # an access-policy vault: list only is no reader
         access_policy(5, ["secrets:list"], name="kv-ap"),
         principal(1), principal(2, "azure_group"), principal(3, "azure_group"), principal(4), principal(5)],
        [vault(), *[assignment(i, VAULT_SCOPE, ["Microsoft.KeyVault/vaults/*"], role="Key Vault Administrator")
                    for i in range(10, 16)], *[principal(i) for i in range(10, 16)],
         vault("kv-ap", rbac_authorization=False), access_policy(20, ["secrets:get"], name="kv-ap"),
         principal(20, "azure_group")]),
    "AZK007": (
        [vault(), assignment(1, VAULT_SCOPE, [GET]), assignment(2, RG, [GET]),
         # control-plane and metadata roles at the subscription are not secret readers
         assignment(3, SUB_SCOPE, [], role="Owner"), assignment(4, SUB_SCOPE, [META], role="Key Vault Reader"),
         principal(1), principal(2), principal(3), principal(4)],
        [vault(), assignment(1, SUB_SCOPE, ["Microsoft.KeyVault/vaults/secrets/*"], role="Key Vault Secrets Officer"),
         vault("kv-dev"), assignment(2, MG_SCOPE, [GET], vaults=("kv-dev",)), principal(1), principal(2)]),
}
