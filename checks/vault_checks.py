"""Vault / OpenBao checks: architecture (seed 001), policies, auth roles, tokens, engines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.catalog import (
    CheckContext,
    because,
    check,
    emit,
    empty_result,
    list_len,
    na_if,
    stores_of,
)
from checks.vault_reach import (
    EnvironmentReach,
    per_policy,
    root_equivalent_grants,
    root_equivalent_paths_text,
    vault_rules,
)
from posture.model.vocabulary import HUMAN_AUTH_METHODS

AUTO_UNSEAL = ("awskms", "gcpckms", "azurekeyvault", "transit", "pkcs11", "ocikms", "kmip")
H, D = 3_600, 86_400


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


# --- architecture -----------------------------------------------------------------


@check("VLT001", "Vault is not HA with integrated (raft) storage", stage=2, item=2,
       anti_pattern="arch_ha", severity="medium", inputs=("server",), sources=("vault",),
       thresholds=("min_raft_peers",), controls=("availability",),
       detects="A Vault/OpenBao cluster without HA mode on integrated raft storage with a voter quorum.",
       why="If the secret store is down every application that fetches secrets at start is down "
           "(seed 002: 'Vault unreachable = total outage'). Raft gives leader election with no "
           "external dependency.",
       fix="Run 3 or 5 raft voters (`storage \"raft\"`, `ha_storage` not needed), spread across "
           "zones; give clients a local cache with a short TTL.")
def vault_not_ha_raft(ctx: CheckContext) -> pd.DataFrame:
    s = stores_of(ctx, "vault")
    ha = s["ha_enabled"].astype("boolean")
    raft = s["storage_type"].eq("raft")
    peers = _num(s["raft_peers"])
    ok = ha.fillna(False) & raft & peers.ge(ctx.thresholds.min_raft_peers)
    unknown = ha.isna() | s["storage_type"].isna() | (ha.fillna(False) & raft & peers.isna())
    return emit(s, na_if(unknown, ok), name=s["address"], path="sys/",
                ha_enabled=s["ha_enabled"], storage_type=s["storage_type"], raft_peers=s["raft_peers"])


@check("VLT002", "Single unseal key holder (Shamir below {min_shamir_threshold}-of-{min_shamir_shares})", stage=2, item=3,
       anti_pattern="single_unseal", severity="high", inputs=("server",), sources=("vault",),
       thresholds=("min_shamir_threshold", "min_shamir_shares"), controls=("split_knowledge",),
       detects="A Shamir-sealed cluster whose unseal threshold or share count is below 3-of-5.",
       why="With one key holder (1-of-1) recovery depends on one person: a bus factor of 1, and "
           "no split knowledge or dual control over the master key.",
       fix="Re-key to at least 3-of-5 (`bao operator rekey -key-shares=5 -key-threshold=3`) with "
           "PGP-encrypted shares, or migrate to auto-unseal with a cloud KMS / HSM.")
def single_unseal_key_holder(ctx: CheckContext) -> pd.DataFrame:
    s = stores_of(ctx, "vault")
    t = ctx.thresholds
    seal = s["seal_type"].fillna("")
    auto = seal.isin(AUTO_UNSEAL)
    thr, shares = _num(s["seal_threshold"]), _num(s["seal_shares"])
    ok = auto | (thr.ge(t.min_shamir_threshold) & shares.ge(t.min_shamir_shares))
    unknown = s["seal_type"].isna() | (~auto & (thr.isna() | shares.isna()))
    return emit(s, na_if(unknown, ok), name=s["address"], path="sys/",
                seal_type=s["seal_type"], seal_threshold=s["seal_threshold"], seal_shares=s["seal_shares"])


@check("VLT003", "No auto-unseal with a cloud KMS or HSM", stage=2, item=3,
       anti_pattern="arch_unseal", severity="medium", inputs=("server",), sources=("vault",),
       controls=("key_management", "availability"),
       detects="A cluster sealed with Shamir keys rather than an external KMS/HSM (auto-unseal).",
       why="Manual unseal blocks automated restarts and keeps the key-encryption key's shares with "
           "people instead of an HSM (seed 002: 'HSM not used for KEK').",
       fix="Configure a `seal \"awskms\"` (or gcpckms / azurekeyvault / pkcs11) stanza and migrate "
           "with `bao operator unseal -migrate`.")
def no_auto_unseal(ctx: CheckContext) -> pd.DataFrame:
    s = stores_of(ctx, "vault")
    ok = s["seal_type"].isin(AUTO_UNSEAL)
    return emit(s, na_if(s["seal_type"].isna(), ok), name=s["address"], path="sys/", seal_type=s["seal_type"])


def _audit_counts(ctx: CheckContext) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    s = stores_of(ctx, "vault")
    a = ctx.frame("audit_device")
    a = a[a["enabled"].fillna(True).astype(bool)]
    n = s["store"].map(a.groupby("store").size()).fillna(0).astype(int)
    types = s["store"].map(a.groupby("store")["type"].agg(lambda x: sorted(set(x))))
    types = types.map(lambda v: v if isinstance(v, list) else [])
    return s, n, types


@check("VLT004", "No audit device configured", stage=5, item=5, anti_pattern="no_audit",
       severity="critical", inputs=("server", "audit_device"), sources=("vault",),
       controls=("audit",),
       detects="A cluster with no enabled audit device.",
       why="Without an audit device nobody can say who read which secret: zero visibility, and "
           "no evidence for SOC 2 / PCI access logging.",
       fix="`bao audit enable file file_path=/var/log/openbao/audit.log` and a second device "
           "(syslog or socket) so one failing device does not block requests.")
def no_audit_device(ctx: CheckContext) -> pd.DataFrame:
    s, n, types = _audit_counts(ctx)
    return emit(s, n.gt(0), name=s["address"], path="sys/audit", audit_devices=n, types=types)


@check("VLT005", "Fewer than {min_audit_devices} audit devices", stage=5, item=5, anti_pattern="arch_audit",
       severity="medium", inputs=("server", "audit_device"), sources=("vault",),
       thresholds=("min_audit_devices",), controls=("audit", "availability"),
       detects="A cluster with fewer enabled audit devices than `min_audit_devices` (2).",
       why="Vault refuses every request when all audit devices fail; with a single device a full "
           "disk is an outage. Dual devices (file + syslog) prevent it.",
       fix="Enable a second audit device of a different type (syslog, socket or a second file on "
           "another volume).")
def single_audit_device(ctx: CheckContext) -> pd.DataFrame:
    s, n, types = _audit_counts(ctx)
    return emit(s, n.ge(ctx.thresholds.min_audit_devices), name=s["address"], path="sys/audit",
                audit_devices=n, types=types, required=ctx.thresholds.min_audit_devices)


# --- policies ---------------------------------------------------------------------


def _acl_policies(ctx: CheckContext) -> pd.DataFrame:
    """Vault ACL policies, without ``root`` (it is everything by definition)."""
    p = ctx.frame("policy")
    return p[p["kind"].eq("vault_acl") & ~p["name"].isin(["root"])]


def _vault_policies(ctx: CheckContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    p = _acl_policies(ctx)
    r = ctx.frame("policy_rule")
    r = r[r["source"].eq("vault") & r["effect"].eq("allow")]
    caps = r["capabilities"].map(lambda c: [x for x in c if x != "deny"])
    r = r.assign(caps=caps)[list_len(caps).gt(0)]
    return p, r


def _per_policy(p: pd.DataFrame, r: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """For each policy: sorted list of rule paths where ``mask`` holds."""
    hits = r[mask].groupby("policy_id")["path"].agg(lambda x: sorted(set(x))[:20])
    return p["id"].map(hits).map(lambda v: v if isinstance(v, list) else [])


@check("VLT006", "Wildcard policy (path \"*\")", stage=2, item=2, anti_pattern="wildcard",
       severity="critical", inputs=("policy", "policy_rule"), sources=("vault",),
       controls=("least_privilege",),
       detects='A Vault ACL policy with an allow rule on path "*" (everything).',
       why="A `path \"*\"` grant is over-permissioned by construction and violates least privilege: "
           "every secret of every environment, plus sys/.",
       fix="Replace it with explicit path rules per service, e.g. "
           '`path "secret/data/prod/payments/*" { capabilities = ["read"] }`.')
def wildcard_policy(ctx: CheckContext) -> pd.DataFrame:
    p, r = _vault_policies(ctx)
    paths = _per_policy(p, r, r["wildcard_all"].astype(bool) | r["path"].isin(["*", "+/*"]))
    return emit(p, list_len(paths).eq(0), path=p["name"], wildcard_paths=paths)


@check("VLT007", "Policy grants sudo or sys/ access", stage=2, item=2, anti_pattern="wildcard",
       severity="high", inputs=("policy", "policy_rule"), sources=("vault",),
       controls=("least_privilege", "emergency_access"),
       detects="A Vault ACL policy (other than root) that, after rule priority and deny overlays, "
               "grants `sudo` anywhere, or one of these root-equivalent paths: "
               + root_equivalent_paths_text() + ". A rule such as `sys/*` or `+/+` counts "
               "when it reaches one of them. Self-service paths (the built-in `default` policy's "
               "`sys/capabilities-self`, `sys/leases/renew`, `sys/leases/lookup`, `sys/renew`, "
               "`sys/tools/hash`, `sys/wrapping/*`, `sys/control-group/request`, "
               "`sys/internal/ui/resultant-acl`, `auth/token/*-self`, `cubbyhole/*`) do not count.",
       why="Writing policies, auth methods, mounts, audit devices, identities or token roles lets "
           "the holder grant itself anything or act unseen; seal, step-down, rekey, rotate and "
           "generate-root control the service itself, and raw storage or a raft snapshot is every "
           "secret at once. `sudo` is what root-protected endpoints demand. Standing grants of these "
           "are long-lived admin credentials; admin should be break-glass.",
       fix="Move the listed paths into a break-glass policy bound only to a time-boxed, audited role; "
           'deny them explicitly in service policies (`path "sys/*" { capabilities = ["deny"] }` '
           "next to the self-service paths the service needs).")
def policy_sys_or_sudo(ctx: CheckContext) -> pd.DataFrame:
    """General class: standing root-equivalent rights, however the rule is spelled
    (`checks.vault_reach.root_equivalent_grants`); self-service system paths are not admin."""
    p = _acl_policies(ctx)
    found = per_policy(p, vault_rules(ctx), lambda _store, rules: root_equivalent_grants(rules))
    paths = pd.Series([f[0][:20] for f in found], index=p.index, dtype=object)
    reached = pd.Series([f[1] for f in found], index=p.index, dtype=object)
    return emit(p, list_len(paths).eq(0), path=p["name"], privileged_paths=paths, root_equivalent=reached)


@check("VLT008", "Policy grants access to secrets of two or more environments", stage=2, item=2,
       anti_pattern="fm_cross_env", severity="high", inputs=("policy", "policy_rule", "secret"),
       sources=("vault",), controls=("env_separation", "least_privilege"),
       detects="A Vault ACL policy that, after rule priority and deny overlays, grants a capability "
               "on the secret values (read, create, update, patch, delete) of two or more "
               "environments. An environment is reached through a secret of the inventory whose exact "
               "API path (`<mount>data/<name>` on KV v2) the policy grants, or through an environment "
               "the rule path itself names (`secret/data/prod/*`). An engine-wide grant "
               "(`secret/data/*`) reaches every environment the engine holds. Secrets without an "
               "environment (`shared/`, `common/`) count as none unless the engagement's "
               "classification maps them.",
       why="Seed 002: 'Different ACLs; no cross-env reads.' A dev identity holding such a policy "
           "turns a dev compromise into a prod compromise.",
       fix="Split the policy per environment (`payments-prod-read`, `payments-dev-read`) and bind "
           "each only to that environment's identities; or deny the other environments' branches "
           '(`path "secret/data/prod/*" { capabilities = ["deny"] }`).')
def cross_env_policy(ctx: CheckContext) -> pd.DataFrame:
    """General class: one policy spanning environments, judged by what its ACL grants on the
    secrets present and on the environments its rules name (`checks.vault_reach.EnvironmentReach`).
    A pass that a secret listing gap could hide is not_assessed."""
    p = _acl_policies(ctx)
    rules = vault_rules(ctx)
    reach = EnvironmentReach(ctx, rules)
    judged = per_policy(p, rules, lambda store, g: (reach.reach(store, g), reach.unseen(store, g)))
    found = pd.Series([j[0] for j in judged], index=p.index, dtype=object)
    why = pd.Series([j[1] for j in judged], index=p.index, dtype=object)
    envs = found.map(sorted)
    spans = list_len(envs).ge(2)
    return emit(p, na_if(~spans & why.notna(), ~spans), path=p["name"], why_unknown=why,
                environments=envs, rules_by_environment=found)


# --- tokens -----------------------------------------------------------------------


@check("VLT009", "Root token exists", stage=2, item=2, anti_pattern="long_lived_tokens",
       severity="critical", inputs=("token",), sources=("vault",),
       controls=("least_privilege", "emergency_access"),
       detects="A live token carrying the root policy.",
       why="A root token bypasses every policy and never expires by default: the highest-value "
           "long-lived admin credential there is.",
       fix="Revoke it (`bao token revoke -accessor ...`); generate root only for break-glass with "
           "`bao operator generate-root` and revoke it when done.")
def root_token(ctx: CheckContext) -> pd.DataFrame:
    t = ctx.frame("token")
    root = t["root"].astype(bool) | t["policies"].map(lambda p: "root" in p)
    return emit(t, ~root, name=t["display_name"], path=t["path"], policies=t["policies"],
                creation_time=t["creation_time"])


@check("VLT010", "Long-lived static token (> {static_token_max_days} days or no expiry)", stage=3, item=3,
       anti_pattern="long_lived_tokens", severity="high", inputs=("token", "auth_role"),
       sources=("vault",), thresholds=("static_token_max_days",), controls=("rotation", "identity"),
       detects="A token whose creation TTL exceeds `static_token_max_days` or that never expires, or "
               "a periodic token (renewed forever, each renewal resetting its TTL to the period) "
               "without an explicit max TTL at or below `static_token_max_days`; and an auth or "
               "token role that issues such periodic tokens. A token created from a token role "
               "takes the role's period and explicit max TTL.",
       why="Long-lived static tokens are stale credentials without accountability; a leak stays "
           "valid for months. A periodic token has no max TTL at all unless `explicit_max_ttl` "
           "caps it: a short period only means it must be renewed often, not that it ends.",
       fix="Issue tokens from an auth method (AppRole, Kubernetes, JWT/OIDC) with short TTLs; set "
           "`max_lease_ttl` on the token auth mount; give periodic roles a "
           "`token_explicit_max_ttl` (`bao write auth/token/roles/NAME token_explicit_max_ttl=720h`); "
           "revoke the long-lived ones.")
def long_lived_token(ctx: CheckContext) -> pd.DataFrame:
    """General class: a token whose life has no bound within the threshold - a zero or long
    creation TTL, or a periodic one without a bounded explicit max TTL - and the roles that mint
    periodic ones. A token whose period or cap could not be read is not_assessed, never a pass."""
    limit = ctx.thresholds.static_token_max_days * D
    t = ctx.frame("token")
    roles = ctx.frame("auth_role")
    token_roles = roles[roles["method"].eq("token")].drop_duplicates(["store", "name"])
    token_roles = token_roles.set_index(["store", "name"])
    key = pd.MultiIndex.from_arrays([t["store"], t["role"]])

    def of_role(column: str) -> pd.Series:
        return pd.Series(_num(token_roles[column]).reindex(key).to_numpy(), index=t.index)

    has_role = t["role"].notna()
    missing_role = has_role & ~pd.Series(key.isin(token_roles.index), index=t.index)
    own_period, own_cap = _num(t["period"]), _num(t["explicit_max_ttl"])
    # a token from a role shows period 0 and no cap: the role's apply
    period = own_period.where(own_period.gt(0) | ~has_role, of_role("period"))
    cap = own_cap.where(own_cap.gt(0) | ~has_role, of_role("token_explicit_max_ttl"))
    creation = _num(t["creation_ttl"])
    ok, unknown = _lifetime_bounded(period, cap, creation, limit)
    why = because(
        (missing_role, "the token role " + t["role"].fillna("") + " was not read, so the token's period "
                       "and explicit max TTL are unknown"),
        (period.isna(), "the token lookup did not say whether the token is periodic"),
        (period.gt(0), "periodic token whose explicit max TTL could not be read"),
        (creation.isna(), "the token's creation TTL could not be read"))
    tokens = emit(t, na_if(unknown, ok), name=t["display_name"], path=t["path"], why_unknown=why,
                  creation_ttl_seconds=t["creation_ttl"], expire_time=t["expire_time"],
                  period_seconds=period, explicit_max_ttl_seconds=cap, token_role=t["role"])
    rp = _num(roles["period"])
    r = roles[rp.gt(0) | rp.isna()]
    r_period, r_cap = _num(r["period"]), _num(r["token_explicit_max_ttl"])
    ok, unknown = _lifetime_bounded(r_period, r_cap, pd.Series(np.nan, index=r.index), limit)
    folder = r["method"].map(lambda m: "roles/" if m == "token" else "role/")
    issued = emit(r, na_if(unknown, ok), path=r["mount"] + folder + r["name"],
                  why_unknown=because((r_period.isna(), "the role's token_period could not be read"),
                                      (r_cap.isna(), "the role's token_explicit_max_ttl could not be read")),
                  period_seconds=r["period"], explicit_max_ttl_seconds=r["token_explicit_max_ttl"],
                  method=r["method"])
    parts = [x for x in (tokens, issued) if len(x)]
    return pd.concat(parts, ignore_index=True) if parts else empty_result()


def _lifetime_bounded(period: pd.Series, cap: pd.Series, creation: pd.Series,
                      limit: int) -> tuple[pd.Series, pd.Series]:
    """(ok, unknown) for token lifetimes: periodic ones need an explicit cap in (0, limit],
    others a creation TTL in (0, limit]; a creation TTL of 0 or above the limit fails whatever
    else is unknown, and a cap in (0, limit] bounds a token whatever its period."""
    long = creation.eq(0) | creation.gt(limit)
    bounded = cap.gt(0) & cap.le(limit)
    periodic, plain = period.gt(0), period.eq(0)
    short = creation.gt(0) & creation.le(limit)
    ok = ~long & ((periodic & bounded) | (plain & short) | (period.isna() & bounded))
    unknown = ~long & ~ok & ((periodic & cap.isna()) | (plain & creation.isna()) | period.isna())
    return ok, unknown


# --- auth roles -------------------------------------------------------------------


def _roles(ctx: CheckContext, methods: tuple[str, ...]) -> pd.DataFrame:
    r = ctx.frame("auth_role")
    return r[r["method"].isin(methods)]


@check("VLT011", "AppRole TTLs or secret-id limits above seed defaults", stage=3, item=3,
       anti_pattern="engine_ttl", severity="medium", inputs=("auth_role",), sources=("vault",),
       thresholds=("approle_token_ttl_hours", "approle_token_max_ttl_hours",
                   "approle_secret_id_ttl_minutes"), controls=("rotation", "identity"),
       detects="An AppRole with token_ttl > 1 h, token_max_ttl > 4 h, a secret_id that never "
               "expires or is reusable without limit, or bind_secret_id disabled.",
       why="AppRole is machine login; its secret_id is a secret-zero. Long TTLs and reusable "
           "secret_ids turn it into a static credential.",
       fix="`bao write auth/approle/role/NAME token_ttl=1h token_max_ttl=4h secret_id_ttl=10m "
           "secret_id_num_uses=1` and deliver secret_ids by response wrapping.")
def approle_ttl_too_long(ctx: CheckContext) -> pd.DataFrame:
    r = _roles(ctx, ("approle",))
    t = ctx.thresholds
    ttl, mx = _num(r["token_ttl"]), _num(r["token_max_ttl"])
    sid, uses = _num(r["secret_id_ttl"]), _num(r["secret_id_num_uses"])
    problems = pd.DataFrame({
        "token_ttl": ttl.eq(0) | ttl.gt(t.approle_token_ttl_hours * H),
        "token_max_ttl": mx.eq(0) | mx.gt(t.approle_token_max_ttl_hours * H),
        "secret_id_ttl": sid.eq(0) | sid.gt(t.approle_secret_id_ttl_minutes * 60),
        "secret_id_num_uses": uses.eq(0),
        "bind_secret_id": r["bind_secret_id"].astype("boolean").eq(False).fillna(False),
    }, index=r.index).fillna(False)
    bad = problems.apply(lambda row: [k for k, v in row.items() if v], axis=1) if len(r) else pd.Series(dtype=object)
    unknown = ttl.isna() & mx.isna() & sid.isna()
    return emit(r, na_if(unknown, list_len(bad).eq(0)), path=r["mount"] + "role/" + r["name"],
                violations=bad, token_ttl=r["token_ttl"], token_max_ttl=r["token_max_ttl"],
                secret_id_ttl=r["secret_id_ttl"], secret_id_num_uses=r["secret_id_num_uses"])


@check("VLT012", "Human login session longer than {human_token_ttl_hours} h", stage=2, item=2,
       anti_pattern="engine_ttl", severity="medium", inputs=("auth_role",), sources=("vault",),
       thresholds=("human_token_ttl_hours",), controls=("identity", "mfa"),
       detects="An OIDC / userpass / LDAP role whose token TTL exceeds `human_token_ttl_hours` "
               "(0 means the 32-day system default).",
       why="Operator access to production should be time-boxed (seed 002 'Operator access'); a "
           "multi-day human token outlives the reason it was granted.",
       fix="Set `ttl=8h` (or less) on the role and `token_max_ttl` on the mount; prefer OIDC with "
           "MFA at the IdP over userpass.")
def human_session_too_long(ctx: CheckContext) -> pd.DataFrame:
    r = _roles(ctx, HUMAN_AUTH_METHODS)
    ttl = _num(r["token_ttl"])
    ok = ttl.gt(0) & ttl.le(ctx.thresholds.human_token_ttl_hours * H)
    return emit(r, na_if(ttl.isna(), ok), path=r["mount"] + "role/" + r["name"],
                method=r["method"], token_ttl=r["token_ttl"])


@check("VLT013", "Kubernetes role not bound to a service account and namespace", stage=2,
       item=2, anti_pattern="shared_accounts", severity="high", inputs=("auth_role",),
       sources=("vault",), thresholds=("kubernetes_token_ttl_hours",),
       controls=("identity", "least_privilege"),
       detects="A Kubernetes auth role bound to '*' service accounts or namespaces, or with a token "
               "TTL above `kubernetes_token_ttl_hours`.",
       why="A wildcard binding lets any pod in the cluster assume the role: a shared identity with "
           "no per-service audit trail.",
       fix="Bind `bound_service_account_names=<sa>` and `bound_service_account_namespaces=<ns>` "
           "exactly, `ttl=1h`.")
def kubernetes_role_unbound(ctx: CheckContext) -> pd.DataFrame:
    r = _roles(ctx, ("kubernetes",))
    wild = (r["bound_service_account_names"].map(lambda v: not v or "*" in v)
            | r["bound_service_account_namespaces"].map(lambda v: not v or "*" in v))
    ttl = _num(r["token_ttl"])
    long = ttl.eq(0) | ttl.gt(ctx.thresholds.kubernetes_token_ttl_hours * H)
    return emit(r, ~(wild.astype(bool) | long.fillna(False)), path=r["mount"] + "role/" + r["name"],
                service_accounts=r["bound_service_account_names"],
                namespaces=r["bound_service_account_namespaces"], token_ttl=r["token_ttl"])


@check("VLT014", "JWT/OIDC workload role without bound claims", stage=4, item=4,
       anti_pattern="fm_ci", severity="high", inputs=("auth_role",), sources=("vault",),
       controls=("ci", "identity"),
       detects="A JWT role (CI / workload federation) with no bound audience, subject or claims.",
       why="Without bound claims any token from the issuer (any repository on GitHub, any "
           "project on GitLab) can log in: federation without a trust boundary.",
       fix="Set `bound_audiences` and `bound_claims` (e.g. `repository`, `ref`, `environment`) "
           "or `bound_subject` on the role.")
def jwt_role_unbound(ctx: CheckContext) -> pd.DataFrame:
    r = _roles(ctx, ("jwt",))
    bound = (list_len(r["bound_audiences"]).gt(0) & (r["bound_subject"].notna()
             | r["bound_claims"].map(lambda d: bool(d))))
    return emit(r, bound, path=r["mount"] + "role/" + r["name"], bound_audiences=r["bound_audiences"],
                bound_subject=r["bound_subject"], bound_claim_keys=r["bound_claims"].map(lambda d: sorted(d or {})))


@check("VLT015", "Auth method allows tokens beyond {static_token_max_days} days", stage=3, item=3,
       anti_pattern="long_lived_tokens", severity="medium", inputs=("auth_method",),
       sources=("vault",), thresholds=("static_token_max_days",), controls=("rotation",),
       detects="An auth method whose max_lease_ttl is 0 (the 32-day system default) or above "
               "`static_token_max_days`.",
       why="The mount's max TTL bounds every token it issues; without it roles can mint long-lived "
           "tokens.",
       fix="`bao auth tune -max-lease-ttl=24h <path>` (and lower per role).")
def auth_method_max_ttl(ctx: CheckContext) -> pd.DataFrame:
    a = ctx.frame("auth_method")
    mx = _num(a["max_lease_ttl"])
    ok = mx.gt(0) & mx.le(ctx.thresholds.static_token_max_days * D)
    return emit(a, na_if(mx.isna(), ok), name=a["path"], method=a["type"], max_lease_ttl=a["max_lease_ttl"])


# --- engines ----------------------------------------------------------------------


@check("VLT016", "KV version 1 mount (no versioning)", stage=3, item=3, anti_pattern="engine_ttl",
       severity="low", inputs=("mount",), sources=("vault",), controls=("rotation",),
       detects="A KV secrets engine mounted as version 1.",
       why="KV v2 keeps versions, so a rotation can be rolled back and 'previous' kept during the "
           "overlap window; KV v1 overwrites in place.",
       fix="`bao kv enable-versioning <mount>` (upgrades in place).")
def kv_v1_mount(ctx: CheckContext) -> pd.DataFrame:
    m = ctx.frame("mount")
    m = m[m["type"].isin(["kv", "generic"])]
    v = _num(m["kv_version"])
    return emit(m, na_if(v.isna(), v.ge(2)), name=m["path"], kv_version=m["kv_version"])


@check("VLT017", "Database credentials TTL above {database_default_ttl_hours} h default / {database_max_ttl_hours} h max", stage=3, item=3,
       anti_pattern="engine_ttl", severity="medium", inputs=("mount", "secret"), sources=("vault",),
       thresholds=("database_default_ttl_hours", "database_max_ttl_hours"), controls=("rotation",),
       detects="A database secrets engine or role whose default TTL exceeds 1 h or max TTL 24 h "
               "(0 inherits the 32-day system default).",
       why="Dynamic credentials are only short-lived if their TTL is short: the compromise window "
           "is the lifetime, not forever (seed 002).",
       fix="`bao write database/roles/NAME default_ttl=1h max_ttl=24h`; tune the mount likewise.")
def database_ttl_too_long(ctx: CheckContext) -> pd.DataFrame:
    t = ctx.thresholds
    m = ctx.frame("mount")
    m = m[m["type"].eq("database")]
    s = ctx.frame("secret")
    s = s[s["kind"].eq("database_role") & s["source"].eq("vault")]
    parts = []
    for df, dcol, mcol in ((m, "default_lease_ttl", "max_lease_ttl"), (s, "default_ttl", "max_ttl")):
        if len(df):
            d, x = _num(df[dcol]), _num(df[mcol])
            ok = d.gt(0) & d.le(t.database_default_ttl_hours * H) & x.gt(0) & x.le(t.database_max_ttl_hours * H)
            parts.append(emit(df, na_if(d.isna() | x.isna(), ok), default_ttl=df[dcol], max_ttl=df[mcol]))
    return pd.concat(parts, ignore_index=True) if parts else empty_result()


@check("VLT018", "SSH engine certificate TTL above {ssh_max_ttl_hours} h", stage=3, item=3, anti_pattern="engine_ttl",
       severity="low", inputs=("mount",), sources=("vault",), thresholds=("ssh_max_ttl_hours",),
       controls=("rotation",),
       detects="An SSH secrets engine whose max lease TTL exceeds 8 h (seed 001: 30 min interactive, "
               "8 h automation).",
       why="SSH certificates need no revocation only because they expire quickly.",
       fix="`bao secrets tune -max-lease-ttl=8h ssh/` and `ttl=30m` on interactive roles.")
def ssh_ttl_too_long(ctx: CheckContext) -> pd.DataFrame:
    m = ctx.frame("mount")
    m = m[m["type"].eq("ssh")]
    x = _num(m["max_lease_ttl"])
    ok = x.gt(0) & x.le(ctx.thresholds.ssh_max_ttl_hours * H)
    return emit(m, na_if(x.isna(), ok), name=m["path"], max_lease_ttl=m["max_lease_ttl"])


@check("VLT019", "Transit key is exportable", stage=2, item=2, anti_pattern="fm_hsm",
       severity="high", inputs=("key",), sources=("vault",), controls=("key_management",),
       detects="A transit (encryption-as-a-service) key created with exportable=true.",
       why="A key-encryption key must never be extractable (seed 002 storage table); an exportable "
           "key can be copied out and used outside the audit trail.",
       fix="Create a new non-exportable key, rewrap data (`transit/rewrap`), retire the old one.")
def transit_key_exportable(ctx: CheckContext) -> pd.DataFrame:
    k = ctx.frame("key")
    k = k[k["kind"].eq("transit")]
    exp = k["exportable"].astype("boolean")
    return emit(k, na_if(exp.isna(), ~exp.fillna(False)), exportable=k["exportable"])


@check("VLT020", "One Vault serves prod and non-prod secrets", stage=2, item=2,
       anti_pattern="arch_ns", severity="medium", inputs=("server", "secret"), sources=("vault",),
       controls=("env_separation",),
       detects="A Vault cluster (without a per-environment namespace) holding both production and "
               "non-production secrets.",
       why="Seed 002: 'Dev vault separate from prod vault' - a shared vault with path separation "
           "means one ACL bug is a cross-environment leak.",
       fix="Separate clusters per environment (or at least one namespace per environment with "
           "its own policies and auth mounts).")
def shared_vault_across_envs(ctx: CheckContext) -> pd.DataFrame:
    s = stores_of(ctx, "vault")
    it = ctx.items
    it = it[it["table"].eq("secret") & it["source"].eq("vault")] if len(it) else it
    envs = it.groupby("store")["environment"].agg(lambda x: sorted(set(x) - {"unknown"})) if len(it) else pd.Series(dtype=object)
    e = s["store"].map(envs).map(lambda v: v if isinstance(v, list) else [])
    mixed = e.map(lambda v: "prod" in v and len(v) > 1)
    ok = ~mixed.astype(bool) | s["namespace"].fillna("").ne("")
    return emit(s, ok, name=s["address"], path="sys/", environments=e, namespace=s["namespace"])
