"""Azure Key Vault checks (issue #16): the vault around the items, and who can read secret values.

The generic INV*/LCY* checks score Key Vault secrets, keys and certificates
(owner, environment, rotation age, expiry) from the same tables as every other
store; these checks judge what only Key Vault has: recovery protection, the
network perimeter, the permission model, expiry attributes, key rotation
policies and the readers of secret values.

Who can read a vault's secret values (`secret_readers`) is decided per vault
from the rules that count for its permission model: with Azure RBAC
(``rbac_authorization``) the role assignments listed for it (vault scope and
every scope above), whose role's dataActions match
``Microsoft.KeyVault/vaults/secrets/getSecret/action`` (wildcards included)
and whose notDataActions do not; with access policies, the entries granting
``secrets:get`` (or ``all``). Key Vault ignores the other model's grants, so
they are never counted.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any

import pandas as pd

from checks.catalog import CheckContext, because, check, emit, na_if

GET_SECRET = "microsoft.keyvault/vaults/secrets/getsecret/action"
BROAD_PRINCIPALS = ("azure_group", "azure_foreign_group")
INHERITED_SCOPES = ("subscription", "management_group", "root")
AZURE = ("azure",)
REFS_POLICY = "Azure Policy built-in"


@lru_cache(maxsize=4096)
def _pattern(action: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in action.lower().split("*")) + "$")


def grants(actions: Any, not_actions: Any, wanted: str = GET_SECRET) -> bool:
    """True if an Azure permission block's data actions include ``wanted`` after its notDataActions.

    General class: Azure RBAC action matching: ``*`` matches any run of
    characters (``/`` included), case-insensitive; an action is granted when
    some action matches and no not-action does (``Microsoft.KeyVault/vaults/*/read``
    does not reach ``.../getSecret/action``; ``.../secrets/*`` minus
    ``.../getSecret/action`` is metadata only).
    """
    w = wanted.lower()
    return (any(_pattern(str(a)).match(w) for a in list(actions) if a) and
            not any(_pattern(str(a)).match(w) for a in list(not_actions) if a))


def scope_level(scope: str) -> str:
    """vault, resource_group, subscription, management_group or root, from an ARM scope."""
    s = (scope or "").strip().lower().rstrip("/")
    if not s:
        return "root"
    if s.startswith("/providers/microsoft.management/managementgroups/"):
        return "management_group"
    if "/providers/microsoft.keyvault/vaults/" in s:
        return "vault"
    if "/resourcegroups/" in s:
        return "resource_group"
    if s.startswith("/subscriptions/"):
        return "subscription"
    return "root"


def _vaults(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("cloud_resource")
    return r[r["kind"].eq("azure_key_vault") & r["source"].eq("azure")]


def _flag(s: pd.Series) -> pd.Series:
    return s.astype("boolean")


def secret_readers(ctx: CheckContext) -> pd.DataFrame:
    """One row per (vault, rule granting secret values under the vault's model): principal, kind, scope level.

    Also rows with ``unknown=True`` for role assignments whose role definition
    could not be read (their permissions, hence the verdict, are unknown).
    """
    key = "azure:secret_readers"
    if key in ctx.cache:
        return ctx.cache[key]
    v = _vaults(ctx)
    rules = ctx.frame("policy_rule")
    rules = rules[rules["source"].eq("azure")]
    principals = ctx.frame("principal")
    kinds = dict(zip(zip(principals["store"], principals["name"].astype(str).str.lower()), principals["kind"]))
    rbac = dict(zip(zip(v["store"], v["id"]), _flag(v["rbac_authorization"])))
    rows = []
    for r in rules.itertuples(index=False):
        cond = r.conditions if isinstance(r.conditions, dict) else {}
        kind = cond.get("kind")
        for vault in cond.get("applies_to") or []:
            model_rbac = rbac.get((r.store, vault))
            if model_rbac is None or model_rbac is pd.NA:
                continue
            if kind == "role_assignment" and bool(model_rbac):
                unknown = not cond.get("role_definition_read", True)
                if not unknown and not grants(r.capabilities, r.not_capabilities):
                    continue
            elif kind == "access_policy" and not bool(model_rbac):
                caps = {str(c).lower() for c in r.capabilities}
                if not caps & {"secrets:get", "secrets:all"}:
                    continue
                unknown = False
            else:
                continue
            for p in r.principals:
                rows.append({"store": r.store, "vault": vault, "rule": r.id, "principal": str(p).lower(),
                             "principal_kind": kinds.get((r.store, str(p).lower()), "azure_principal"),
                             "scope": r.path, "level": scope_level(r.path) if kind == "role_assignment" else "vault",
                             "role": r.policy, "unknown": unknown})
    out = pd.DataFrame(rows, columns=["store", "vault", "rule", "principal", "principal_kind", "scope", "level",
                                      "role", "unknown"])
    ctx.cache[key] = out
    return out


def _per_vault(ctx: CheckContext, v: pd.DataFrame, fn: Any) -> pd.Series:
    readers = secret_readers(ctx)
    groups = {k: g for k, g in readers.groupby(["store", "vault"])} if len(readers) else {}
    empty = readers.iloc[0:0]
    return pd.Series([fn(groups.get((s, i), empty)) for s, i in zip(v["store"], v["id"])], index=v.index,
                     dtype=object)


# --- the vault ---------------------------------------------------------------------------------


@check("AZK001", "Key vault without purge protection", stage=5, item=3, anti_pattern="azure_keyvault",
       severity="medium", inputs=("cloud_resource",), sources=AZURE, controls=("backup", "availability"),
       references=(f"{REFS_POLICY}: Key vaults should have deletion protection enabled", "CIS Azure 8.5",
                   "Microsoft cloud security benchmark DP-8"),
       detects="A Key Vault whose purge protection is off (enablePurgeProtection absent or false), so a "
               "deleted vault or item can be purged before its soft-delete retention ends.",
       why="Soft delete alone lets anyone with purge permission (or a compromised admin) destroy every "
           "secret, key and certificate for good; purge protection enforces the retention period, so a "
           "deletion is always recoverable (seed 001: revocation and recovery paths).",
       fix="`az keyvault update --name VAULT --enable-purge-protection true` (irreversible by design); "
           "keep soft-delete retention at 90 days.")
def keyvault_purge_protection(ctx: CheckContext) -> pd.DataFrame:
    """General class: recoverability of a secret store after deletion."""
    v = _vaults(ctx)
    pp, sd = _flag(v["purge_protection"]), _flag(v["soft_delete"])
    ok = pp.fillna(False).astype(bool) & ~sd.eq(False).fillna(False).astype(bool)
    return emit(v, na_if(pp.isna(), ok), path=v["id"], purge_protection=v["purge_protection"],
                soft_delete=v["soft_delete"], soft_delete_retention_days=v["soft_delete_retention_days"],
                why_unknown="the vault's purge protection setting was not read")


def _open_rule(rule: str) -> bool:
    """An IP rule that admits (almost) the whole internet: a prefix shorter than /8 (0.0.0.0/0, 0.0.0.0/1...)."""
    try:
        net = ipaddress.ip_network(str(rule).strip(), strict=False)
    except ValueError:
        return False
    return net.prefixlen < (8 if net.version == 4 else 16)


@check("AZK002", "Key vault reachable from public networks", stage=2, item=2, anti_pattern="azure_keyvault",
       severity="high", inputs=("cloud_resource",), sources=AZURE, controls=("public_access", "env_separation"),
       references=(f"{REFS_POLICY}: Azure Key Vault should disable public network access",
                   f"{REFS_POLICY}: Azure Key Vault should have firewall enabled", "CIS Azure 8.7"),
       detects="A Key Vault with public network access enabled whose firewall's default action is Allow, "
               "or whose IP rules admit the internet at large (a prefix shorter than /8, e.g. 0.0.0.0/0). "
               "Public access disabled (private endpoints only), or a Deny default with specific IP ranges "
               "or virtual networks, passes.",
       why="With an open endpoint the only control left is the credential: a leaked token or client "
           "secret works from anywhere. A network boundary limits where a stolen credential can be used.",
       fix="Add a private endpoint and `az keyvault update --name VAULT --public-network-access Disabled`, "
           "or `az keyvault update --default-action Deny` with `az keyvault network-rule add --ip-address "
           "CIDR` for the few egress ranges that need it.")
def keyvault_public_network(ctx: CheckContext) -> pd.DataFrame:
    """General class: a secret store's network perimeter (public endpoint x firewall default x rule breadth)."""
    v = _vaults(ctx)
    public = v["public_network_access"].fillna("Enabled").astype(str).str.lower().ne("disabled")
    allow = v["network_default_action"].fillna("Allow").astype(str).str.lower().eq("allow")
    wide = v["ip_rules"].map(lambda rules: any(_open_rule(r) for r in (rules if rules is not None else [])))
    ok = ~public | (~allow & ~wide.astype(bool))
    return emit(v, ok, path=v["id"], public_network_access=v["public_network_access"],
                default_action=v["network_default_action"], ip_rules=v["ip_rules"],
                private_endpoints=v["private_endpoints"].map(lambda p: len(p) if p is not None else 0))


@check("AZK003", "Key vault authorizes data access with access policies, not Azure RBAC", stage=2, item=2,
       anti_pattern="azure_keyvault", severity="medium", inputs=("cloud_resource",), sources=AZURE,
       controls=("least_privilege", "identity"),
       references=(f"{REFS_POLICY}: Azure Key Vault should use RBAC permission model", "CIS Azure 8.6"),
       detects="A Key Vault whose data plane is authorized by its access-policy list "
               "(enableRbacAuthorization false or absent) instead of Azure RBAC.",
       why="Access policies grant per vault and per object type only (every secret of the vault or none), "
           "cannot be scoped to one secret, and anyone with Contributor on the vault can add an access "
           "policy for themselves: management-plane write becomes secret read. RBAC separates the two and "
           "supports per-secret scope, PIM and conditions.",
       fix="Recreate the grants as role assignments (Key Vault Secrets User at the secret or vault scope), "
           "then `az keyvault update --name VAULT --enable-rbac-authorization true`.")
def keyvault_access_policies(ctx: CheckContext) -> pd.DataFrame:
    """General class: the authorization model of a secret store's data plane."""
    v = _vaults(ctx)
    rbac = _flag(v["rbac_authorization"])
    return emit(v, na_if(rbac.isna(), rbac.fillna(False)), path=v["id"], rbac_authorization=v["rbac_authorization"],
                why_unknown="the vault's permission model was not read")


# --- the items ---------------------------------------------------------------------------------


@check("AZK004", "Enabled Key Vault secret without an expiry date", stage=3, item=3, anti_pattern="azure_keyvault",
       severity="medium", inputs=("secret",), sources=AZURE, controls=("rotation",),
       references=(f"{REFS_POLICY}: Key Vault secrets should have an expiration date", "CIS Azure 8.3/8.4"),
       detects="An enabled Key Vault secret with no expiry attribute (exp). A disabled secret cannot be read "
               "and passes; so does one with an expiry, however far (LCY001 judges its age).",
       why="Key Vault's expiry is the hook its near-expiry events and rotation automation hang on; a secret "
           "without one never signals that it is due, so it lives until someone remembers it "
           "(seed 003: never rotating secrets).",
       fix="Set an expiry matching the rotation period: `az keyvault secret set-attributes --vault-name VAULT "
           "--name NAME --expires 2026-03-31T00:00:00Z`, and subscribe rotation to the SecretNearExpiry event.")
def keyvault_secret_without_expiry(ctx: CheckContext) -> pd.DataFrame:
    """General class: a stored secret with no end of life."""
    s = ctx.frame("secret")
    s = s[s["kind"].eq("azure_keyvault_secret")]
    enabled = _flag(s["enabled"])
    ok = s["expires_at"].notna() | enabled.eq(False).fillna(False).astype(bool)
    return emit(s, na_if(enabled.isna() & s["expires_at"].isna(), ok), enabled=s["enabled"],
                expires_at=s["expires_at"], why_unknown="the secret's enabled attribute was not reported")


@check("AZK005", "Key Vault key without a rotation policy that rotates it", stage=3, item=3,
       anti_pattern="azure_keyvault", severity="medium", inputs=("key",), sources=AZURE,
       controls=("key_management", "rotation"),
       references=((f"{REFS_POLICY}: Keys should have a rotation policy ensuring that their rotation is "
                    "scheduled within the specified number of days after creation"), "CIS Azure 8.8"),
       detects="An enabled Key Vault key whose rotation policy has no Rotate action (no policy, or a "
               "Notify-only one). A policy that could not be read is not_assessed.",
       why="Seed 001: encryption keys rotate every 90 days. Key Vault rotates a key only by its rotation "
           "policy; a Notify action only sends an event, it rotates nothing.",
       fix="`az keyvault key rotation-policy update --vault-name VAULT --name KEY --value "
           "'{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Rotate\"}}],"
           "\"attributes\":{\"expiryTime\":\"P1Y\"}}'`.")
def keyvault_key_rotation_policy(ctx: CheckContext) -> pd.DataFrame:
    """General class: automated rotation of a managed key."""
    k = ctx.frame("key")
    k = k[k["kind"].eq("azure_keyvault_key")]
    rot = _flag(k["rotation_enabled"])
    disabled = _flag(k["enabled"]).eq(False).fillna(False).astype(bool)
    unknown = rot.isna() & ~disabled
    return emit(k, na_if(unknown, rot.fillna(False).astype(bool) | disabled), rotation_enabled=k["rotation_enabled"],
                rotation_actions=k["rotation_actions"], rotation_period_days=k["rotation_period_days"],
                enabled=k["enabled"], why_unknown="the key's rotation policy could not be read")


# --- who can read secret values ----------------------------------------------------------------


@check("AZK006", "Key vault secret values readable by more than {azure_max_secret_readers} principals or by groups",
       stage=2, item=2, anti_pattern="azure_keyvault", severity="high",
       inputs=("cloud_resource", "policy_rule", "principal"), sources=AZURE, thresholds=("azure_max_secret_readers",),
       controls=("least_privilege", "identity"),
       references=("Microsoft cloud security benchmark PA-7", "CIS Azure 8.6"),
       detects="A Key Vault whose secret values (getSecret) can be read, under its own permission model, by "
               "more than `azure_max_secret_readers` principals, or by a group (membership the assessment "
               "does not read, so the number of people is unbounded). Metadata-only roles (Key Vault Reader), "
               "roles whose notDataActions remove getSecret, and grants of the model the vault does not use "
               "are not readers.",
       why="Seed 001: least privilege at identity + path + operation. Every reader of a vault reads every "
           "secret in it; the more principals (or a group anyone can be added to), the larger the set of "
           "credentials whose leak leaks the vault.",
       fix="Grant Key Vault Secrets User per workload identity at the secret (or vault) scope, remove group "
           "and human grants of secret read (use PIM for break-glass), split vaults per application.")
def keyvault_broad_readers(ctx: CheckContext) -> pd.DataFrame:
    """General class: the breadth of read access to secret values (count and unbounded principals)."""
    v = _vaults(ctx)
    limit = ctx.thresholds.azure_max_secret_readers
    known = _per_vault(ctx, v, lambda g: g[~g["unknown"].astype(bool)])
    count = known.map(lambda g: g["principal"].nunique())
    groups = known.map(lambda g: sorted(set(g.loc[g["principal_kind"].isin(BROAD_PRINCIPALS), "principal"])))
    unknown = _per_vault(ctx, v, lambda g: bool(g["unknown"].astype(bool).any())).astype(bool)
    rbac_na = _flag(v["rbac_authorization"]).isna()
    bad = count.gt(limit) | groups.map(bool)
    ok = ~bad
    why = because((rbac_na, "the vault's permission model was not read"),
                  (unknown, "a role assignment's role definition could not be read"))
    return emit(v, na_if(rbac_na | (unknown & ~bad), ok), path=v["id"], readers=count, limit=limit,
                group_readers=groups, readers_list=known.map(lambda g: sorted(set(g["principal"]))),
                why_unknown=why)


@check("AZK007", "Key vault secret values readable through a subscription or management-group role assignment",
       stage=2, item=2, anti_pattern="azure_keyvault", severity="high",
       inputs=("cloud_resource", "policy_rule", "principal"), sources=AZURE, controls=("least_privilege",),
       references=("Microsoft cloud security benchmark PA-7", "Azure RBAC best practices: assign at the narrowest scope"),
       detects="An RBAC Key Vault whose secret values can be read by a principal through a role assignment made "
               "at a subscription, management group or root scope (inherited by every vault below it). A "
               "metadata-only or control-plane role at that scope (Reader, Owner: no data actions) is not "
               "a reader; neither is a secret-read grant at the vault or resource group.",
       why="An assignment high in the hierarchy grants every current and future vault of the subscription: "
           "a new vault holding production secrets is readable the moment it is created.",
       fix="Remove the subscription / management-group assignment of Key Vault Secrets User / Officer / "
           "Administrator (or a custom role with getSecret) and grant it per vault or per secret.")
def keyvault_inherited_readers(ctx: CheckContext) -> pd.DataFrame:
    """General class: secret read granted at a scope wider than the store (inherited grants)."""
    v = _vaults(ctx)
    high = _per_vault(ctx, v, lambda g: sorted(set(
        g.loc[g["level"].isin(INHERITED_SCOPES) & ~g["unknown"].astype(bool), "principal"])))
    unknown = _per_vault(ctx, v, lambda g: bool((g["unknown"].astype(bool) & g["level"].isin(INHERITED_SCOPES)).any()))
    unknown = unknown.astype(bool)
    rbac_na = _flag(v["rbac_authorization"]).isna()
    bad = high.map(bool)
    why = because((rbac_na, "the vault's permission model was not read"),
                  (unknown, "a role assignment's role definition could not be read"))
    return emit(v, na_if(rbac_na | (unknown & ~bad), ~bad), path=v["id"], inherited_readers=high,
                rbac_authorization=v["rbac_authorization"], why_unknown=why)
