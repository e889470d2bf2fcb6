"""Inventory and lifecycle checks over the classified items (see checks.classify)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.catalog import CheckContext, check, emit, na_if

ROTATION_META_KEYS = ("rotation", "rotation_policy", "rotation_days", "rotation_period", "rotated_by")
H, D = 3_600, 86_400


def _items(ctx: CheckContext, tables: tuple[str, ...]) -> pd.DataFrame:
    """Classified items of these tables (memoised per assessment: filtering a wide frame is costly)."""
    key = f"items:{','.join(tables)}"
    if key not in ctx.cache:
        it = ctx.items
        ctx.cache[key] = it if not len(it) else it[it["table"].isin(tables)]
    return ctx.cache[key]


# --- stage 1: inventory & classification ----------------------------------------------


@check("INV001", "Secret without a named owner", stage=1, item=3, anti_pattern="owners",
       severity="medium", inputs=("secret", "key", "certificate", "access_key"),
       sources=("vault", "aws"), controls=("ownership", "inventory"),
       detects="An inventoried secret, key, certificate or access key with no owner from the "
               "engagement's owner rules, its tags (owner/team) or its owning service.",
       why="Seed 000 stage 1 exit condition: owners named for each critical class. Without an "
           "owner nobody rotates it and nobody is paged when it leaks.",
       fix="Tag it (`owner=payments-team`) or add an owner rule with a pager to the engagement "
           "(`classification.owners`).")
def item_without_owner(ctx: CheckContext) -> pd.DataFrame:
    it = _items(ctx, ("secret", "key", "certificate", "access_key"))
    return emit(it, it["owner"].notna(), owner=it["owner"], environment=it["environment"])


@check("INV002", "Critical secret without a pager (who is paged at 3am?)", stage=1, item=3,
       anti_pattern="leak_response", severity="high", inputs=("secret", "key", "certificate", "access_key"),
       sources=("vault", "aws"), thresholds=("critical_environments", "critical_classes"),
       controls=("incident", "ownership"),
       detects="A critical item (production and confidential/regulated) whose owner has no pager "
               "in the engagement's owner rules.",
       why="Seed 000 stage 5 exit: 'If this key leaks at 3am, what is step 1-5 and who is paged?' "
           "The leak card needs a pager to be actionable (seed 001: contain within 15 minutes).",
       fix="Give the owner rule a `pager` (on-call rotation, channel or phone tree).")
def critical_without_pager(ctx: CheckContext) -> pd.DataFrame:
    it = _items(ctx, ("secret", "key", "certificate", "access_key"))
    it = it[it["critical"].astype(bool)] if len(it) else it
    return emit(it, it["pager"].notna(), owner=it["owner"], pager=it["pager"],
                data_class=it["data_class"], environment=it["environment"])


@check("INV003", "Secret whose environment cannot be determined", stage=1, item=2,
       anti_pattern="same_across_envs", severity="low", inputs=("secret", "key", "certificate"),
       sources=("vault", "aws"), controls=("inventory", "env_separation"),
       detects="An item that no rule, tag or path segment places in an environment.",
       why="Blast radius depends on environment; an item in no environment cannot be shown to be "
           "isolated from production.",
       fix="Put the environment in the path (`secret/prod/...`), tag it (`env=prod`) or add an "
           "environment rule.")
def environment_unknown(ctx: CheckContext) -> pd.DataFrame:
    it = _items(ctx, ("secret", "key", "certificate"))
    return emit(it, it["environment"].ne("unknown"), environment=it["environment"])


# --- stage 3: lifecycle & rotation ----------------------------------------------------


def _static_secrets(ctx: CheckContext) -> pd.DataFrame:
    it = _items(ctx, ("secret",))
    return it[~it["kind"].isin(["database_role"])] if len(it) else it


@check("LCY001", "Secret older than its type's rotation period", stage=3, item=3,
       anti_pattern="never_rotating", severity="high", inputs=("secret",), sources=("vault", "aws"),
       thresholds=("rotation_days",), controls=("rotation",),
       detects="A static secret whose last rotation (or last write, or creation) is older than "
               "`rotation_days` for its type: DB passwords 30 d, API keys 90 d, SSH 90 d, "
               "service tokens 24 h, encryption keys 90 d.",
       why="Seed 001 rotation table; seed 003: 'Never rotating secrets' - compromised credentials "
           "persist indefinitely.",
       fix="Rotate now (dual-account swap for DB passwords, overlap window for API keys), then "
           "automate it (Secrets Manager rotation, Vault database engine).")
def rotation_overdue(ctx: CheckContext) -> pd.DataFrame:
    it = _static_secrets(ctx)
    rd = ctx.thresholds.rotation_days
    maxd = it["secret_type"].map(rd).fillna(rd.get("generic", 90)).astype(float)
    age = pd.to_numeric(it["age_days"], errors="coerce")
    return emit(it, na_if(age.isna(), age.le(maxd)), secret_type=it["secret_type"],
                age_days=age, max_age_days=maxd, last_rotated_at=it["last_rotated_at"])


@check("LCY002", "Static secret without an automated rotation policy", stage=3, item=3,
       anti_pattern="no_rotation", severity="medium", inputs=("secret",), sources=("vault", "aws"),
       controls=("rotation",),
       detects="A static KV / SSM secret with no rotation enabled and no rotation policy recorded "
               "in its custom metadata (`rotation`, `rotation_days`, `rotated_by`).",
       why="Seed 001: 'No rotation policy' - automated rotation on schedule is the correct approach.",
       fix="Move it to a rotating store (database engine, Secrets Manager rotation), or record the "
           "schedule and the rotating job: `bao kv metadata put -custom-metadata rotation_days=90 ...`.")
def no_rotation_policy(ctx: CheckContext) -> pd.DataFrame:
    it = _static_secrets(ctx)
    it = it[~it["kind"].eq("secretsmanager")] if len(it) else it
    meta = it["tags"].map(lambda d: any(k.lower() in ROTATION_META_KEYS for k in (d or {})))
    ok = it["rotation_enabled"].astype("boolean").fillna(False).astype(bool) | meta.astype(bool)
    return emit(it, ok, rotation_enabled=it["rotation_enabled"], has_rotation_metadata=meta)


@check("LCY003", "TLS certificate expires within 60 days without managed renewal", stage=3,
       item=3, anti_pattern="rotation_table", severity="high", inputs=("certificate",),
       sources=("vault", "aws"), thresholds=("tls_renew_before_days",), controls=("certificates",),
       references=("AWS Config acm-certificate-expiration-check", "Prowler acm_certificates_expiration_check"),
       detects="A certificate expiring within `tls_renew_before_days` (or expired) that no managed "
               "renewal will replace.",
       why="Seed 001: TLS certificates rotate 60 days before expiry; an expired certificate is an "
           "outage, a rushed manual one a risk.",
       fix="Automate issuance (ACME / Vault PKI / ACM DNS validation) and alert on expiry.")
def certificate_expiring(ctx: CheckContext) -> pd.DataFrame:
    c = ctx.frame("certificate")
    c = c[~c["revoked"].astype("boolean").fillna(False).astype(bool)]
    left = -ctx.age_days(c["not_after"])
    managed = c["managed_renewal"].astype("boolean").fillna(False).astype(bool)
    ok = left.gt(ctx.thresholds.tls_renew_before_days) | (managed & left.gt(0))
    return emit(c, na_if(left.isna(), ok), name=c["subject"], path=c["arn"].fillna(c["id"]),
                not_after=c["not_after"], days_left=left.round(1), managed_renewal=c["managed_renewal"])


@check("LCY004", "PKI leaf certificate valid longer than 90 days", stage=3, item=3,
       anti_pattern="engine_ttl", severity="low", inputs=("certificate",), sources=("vault",),
       thresholds=("pki_leaf_max_days",), controls=("certificates",),
       detects="A Vault PKI leaf certificate whose validity exceeds `pki_leaf_max_days`.",
       why="Seed 001 engine table: 90-day leaf certificates; short validity is the revocation "
           "mechanism that actually works.",
       fix="Lower the PKI role's `max_ttl` to 90d (`bao write pki/roles/NAME max_ttl=2160h`).")
def pki_leaf_too_long(ctx: CheckContext) -> pd.DataFrame:
    c = ctx.frame("certificate")
    c = c[c["source"].eq("vault")]
    days = (pd.to_datetime(c["not_after"], utc=True) - pd.to_datetime(c["not_before"], utc=True)).dt.total_seconds() / D
    return emit(c, na_if(days.isna(), days.le(ctx.thresholds.pki_leaf_max_days)), name=c["subject"],
                path=c["id"], validity_days=days.round(1))


@check("LCY005", "Transit key not rotated within 90 days", stage=3, item=3,
       anti_pattern="rotation_table", severity="medium", inputs=("key",), sources=("vault",),
       thresholds=("transit_rotation_days",), controls=("key_management", "rotation"),
       detects="A transit key whose latest version is older than `transit_rotation_days`.",
       why="Seed 001: encryption keys rotate every 90 days (key versioning, rewrap).",
       fix="`bao write -f transit/keys/NAME/rotate`, or set `auto_rotate_period=2160h`.")
def transit_key_rotation(ctx: CheckContext) -> pd.DataFrame:
    k = ctx.frame("key")
    k = k[k["kind"].eq("transit")]
    age = ctx.age_days(k["last_rotated_at"].fillna(k["created_at"]))
    return emit(k, na_if(age.isna(), age.le(ctx.thresholds.transit_rotation_days)),
                age_days=age.round(1), latest_version=k["latest_version"])


@check("LCY006", "Token TTL above the service (24 h) or human (8 h) maximum", stage=3, item=3,
       anti_pattern="rotation_table", severity="medium", inputs=("token",), sources=("vault",),
       thresholds=("service_token_ttl_hours", "human_token_ttl_hours"), controls=("rotation", "identity"),
       detects="A non-root token created with a TTL above 24 h (service) or 8 h (human login).",
       why="Seed 001: service tokens rotate every 24 h by dynamic generation.",
       fix="Lower the issuing role's `token_ttl` / `token_max_ttl`; renew instead of long TTLs.")
def token_ttl_too_long(ctx: CheckContext) -> pd.DataFrame:
    t = ctx.frame("token")
    t = t[~t["root"].astype(bool)]
    human = t["path"].fillna("").str.contains("oidc|userpass|ldap|okta|github", case=False)
    t_ = ctx.thresholds
    limit = np.where(human, t_.human_token_ttl_hours * H, t_.service_token_ttl_hours * H)
    ttl = pd.to_numeric(t["creation_ttl"], errors="coerce")
    ok = ttl.gt(0) & ttl.le(limit)
    return emit(t, na_if(ttl.isna(), ok), name=t["display_name"], path=t["path"],
                creation_ttl_seconds=t["creation_ttl"], limit_seconds=limit)


@check("LCY007", "Static production database password (prefer dynamic credentials)", stage=3,
       item=3, anti_pattern="team_password", severity="low", inputs=("secret",),
       sources=("vault", "aws"), controls=("rotation", "identity"),
       detects="A production db-password stored as a static long-lived secret rather than issued "
               "by a dynamic database role.",
       why="Seed 002: DB passwords belong in Vault, preferably dynamic; the compromise window of a "
           "dynamic credential is its lifetime (1 h), not forever. Static ones end up shared.",
       fix="Enable the database secrets engine with a role per service "
           "(`default_ttl=1h max_ttl=24h`) and retire the static password.")
def static_prod_db_password(ctx: CheckContext) -> pd.DataFrame:
    it = _items(ctx, ("secret",))
    it = it[it["secret_type"].eq("db-password") & it["environment"].eq("prod")] if len(it) else it
    return emit(it, it["lifecycle_class"].ne("static-long-lived"), lifecycle_class=it["lifecycle_class"])


@check("LCY008", "Encryption or signing key stored as a static secret", stage=2, item=2,
       anti_pattern="fm_hsm", severity="medium", inputs=("secret", "key"), sources=("vault", "aws"),
       controls=("key_management",),
       detects="An encryption/signing key kept as a KV / Secrets Manager / SSM value instead of a "
               "non-extractable transit or KMS key.",
       why="Seed 002: KEKs belong in KMS/HSM, never extractable; a key stored as a value is "
           "copied to every consumer and cannot be rotated by versioning.",
       fix="Use Vault transit or KMS (encrypt/sign as a service); wrap DEKs with the KEK.")
def key_material_in_kv(ctx: CheckContext) -> pd.DataFrame:
    it = _items(ctx, ("secret", "key"))
    if len(it):
        it = it[it["secret_type"].isin(["encryption-key", "signing-key"]) | it["table"].eq("key")]
    return emit(it, it["table"].eq("key"), secret_type=it["secret_type"], stored_as=it["kind"])
