"""Inventory and lifecycle checks over the classified items (see checks.classify)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from checks.catalog import CheckContext, because, check, emit, na_if
from posture.model.vocabulary import ITEM_SOURCES

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
       sources=ITEM_SOURCES, controls=("ownership", "inventory"),
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
       sources=ITEM_SOURCES, thresholds=("critical_environments", "critical_classes"),
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
       sources=ITEM_SOURCES, controls=("inventory", "env_separation"),
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
       anti_pattern="never_rotating", severity="high", inputs=("secret",), sources=ITEM_SOURCES,
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
                age_days=age, max_age_days=maxd, last_rotated_at=it["last_rotated_at"],
                why_unknown="the store recorded no creation, update or rotation date for this secret")


@check("LCY002", "Static secret without an automated rotation policy", stage=3, item=3,
       anti_pattern="no_rotation", severity="medium", inputs=("secret",), sources=ITEM_SOURCES,
       controls=("rotation",),
       detects="A static secret (Vault KV, SSM, Key Vault, Secret Manager, Kubernetes, declared) with no "
               "rotation enabled and no rotation policy recorded in its tags, labels or custom metadata "
               "(`rotation`, `rotation_days`, `rotated_by`).",
       why="Seed 001: 'No rotation policy' - automated rotation on schedule is the correct approach.",
       fix="Move it to a rotating store (database engine, Secrets Manager rotation, Secret Manager "
           "rotation schedule), or record the schedule and the rotating job where the store keeps "
           "metadata: `bao kv metadata put -custom-metadata rotation_days=90 ...`, a Key Vault tag or a "
           "label `rotation_days=90`, the declared inventory's `rotation_frequency`.")
def no_rotation_policy(ctx: CheckContext) -> pd.DataFrame:
    it = _static_secrets(ctx)
    it = it[~it["kind"].eq("secretsmanager")] if len(it) else it
    meta = it["tags"].map(lambda d: any(k.lower() in ROTATION_META_KEYS for k in (d or {})))
    ok = it["rotation_enabled"].astype("boolean").fillna(False).astype(bool) | meta.astype(bool)
    return emit(it, ok, rotation_enabled=it["rotation_enabled"], has_rotation_metadata=meta)


@check("LCY003", "TLS certificate expires within {tls_renew_before_days} days without managed renewal", stage=3,
       item=3, anti_pattern="rotation_table", severity="high", inputs=("certificate",),
       sources=ITEM_SOURCES, thresholds=("tls_renew_before_days",), controls=("certificates",),
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
                not_after=c["not_after"], days_left=left.round(1), managed_renewal=c["managed_renewal"],
                why_unknown="the certificate's expiry date (not_after) was not recorded")


@check("LCY004", "PKI leaf certificate valid longer than {pki_leaf_max_days} days", stage=3, item=3,
       anti_pattern="engine_ttl", severity="low", inputs=("certificate",), sources=("vault",),
       thresholds=("pki_leaf_max_days",), controls=("certificates",),
       detects="A Vault PKI leaf certificate whose validity exceeds `pki_leaf_max_days`. A CA "
               "certificate (`is_ca`: BasicConstraints CA) is no leaf: LCY009 judges it.",
       why="Seed 001 engine table: 90-day leaf certificates; short validity is the revocation "
           "mechanism that actually works.",
       fix="Lower the PKI role's `max_ttl` to 90d (`bao write pki/roles/NAME max_ttl=2160h`).")
def pki_leaf_too_long(ctx: CheckContext) -> pd.DataFrame:
    """General class: leaf validity. A CA certificate (``is_ca``) is judged as a CA by LCY009:
    its long validity is its job, not a TTL mistake."""
    c = ctx.frame("certificate")
    c = c[c["source"].eq("vault") & ~_is_ca(c)]
    days = (pd.to_datetime(c["not_after"], utc=True) - pd.to_datetime(c["not_before"], utc=True)).dt.total_seconds() / D
    return emit(c, na_if(days.isna(), days.le(ctx.thresholds.pki_leaf_max_days)), name=c["subject"],
                path=c["id"], validity_days=days.round(1), is_ca=c["is_ca"],
                why_unknown="the certificate's validity dates (not_before, not_after) were not recorded")


@check("LCY005", "Transit key not rotated within {transit_rotation_days} days", stage=3, item=3,
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
                age_days=age.round(1), latest_version=k["latest_version"],
                why_unknown="the transit key's creation and latest version dates were not recorded")


@check("LCY006", "Token TTL above the service ({service_token_ttl_hours} h) or human ({human_token_ttl_hours} h) maximum", stage=3, item=3,
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
                creation_ttl_seconds=t["creation_ttl"], limit_seconds=limit,
                why_unknown="the token lookup returned no creation TTL")


@check("LCY007", "Static production database password (prefer dynamic credentials)", stage=3,
       item=3, anti_pattern="team_password", severity="low", inputs=("secret",),
       sources=ITEM_SOURCES, controls=("rotation", "identity"),
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
       anti_pattern="fm_hsm", severity="medium", inputs=("secret", "key"), sources=ITEM_SOURCES,
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


def _is_ca(c: pd.DataFrame) -> pd.Series:
    return c["is_ca"].astype("boolean").fillna(False).astype(bool)


_RSA_BITS = re.compile(r"rsa[-_ ]?(\d+)", re.IGNORECASE)
_EC_BITS = re.compile(r"(?:ellipticcurve|ecdsa|ec|p|prime|secp)[-_ ]?(?:prime|secp)?(\d{3})", re.IGNORECASE)


def key_strength(alg: object, min_rsa_bits: int) -> bool | None:
    """True if ``alg`` (``rsa-2048``, ``RSA_4096``, ``EC_prime256v1``, ``ec-384``, ``ed25519``)
    is strong, False if weak, None if not recorded or not recognised.

    General class: public-key strength: RSA below ``min_rsa_bits``, elliptic
    curves below 256 bits and DSA are weak; Ed25519/Ed448 are strong.
    """
    if not isinstance(alg, str) or not alg.strip():
        return None
    a = alg.lower()
    if "ed25519" in a or "ed448" in a:
        return True
    if "dsa" in a and "ecdsa" not in a:
        return False
    m = _RSA_BITS.search(a)
    if m:
        return int(m.group(1)) >= min_rsa_bits
    m = _EC_BITS.search(a)
    if m:
        return int(m.group(1)) >= 256
    return None


@check("LCY009", "CA certificate expiring within {ca_renew_before_days} days or with a weak key", stage=3,
       item=3, anti_pattern="rotation_table", severity="high", inputs=("certificate",),
       sources=ITEM_SOURCES, thresholds=("ca_renew_before_days", "ca_min_rsa_bits"),
       controls=("certificates", "key_management"),
       detects="A CA certificate (Vault PKI issuer, imported ACM CA) that expires within "
               "`ca_renew_before_days`, or whose key is weak (RSA below `ca_min_rsa_bits`, an "
               "elliptic curve below 256 bits, DSA).",
       why="A CA's validity is long by design (LCY004 judges leaves), so its risks are different: "
           "when it expires every certificate it signed fails at once, and a weak CA key lets "
           "anyone who breaks it mint certificates for any name the CA is trusted for.",
       fix="Plan the CA rollover a year ahead: generate the successor (`bao write pki/root/rotate/internal` "
           "or a new intermediate), cross-sign, reissue leaves, then retire the old issuer; use RSA-3072+ "
           "or P-256+ keys for new CAs.")
def ca_certificate_horizon(ctx: CheckContext) -> pd.DataFrame:
    """General class: CA certificates judged as CAs (expiry horizon and key strength), not as leaves."""
    c = ctx.frame("certificate")
    c = c[_is_ca(c) & ~c["revoked"].astype("boolean").fillna(False).astype(bool)]
    t = ctx.thresholds
    left = -ctx.age_days(c["not_after"])
    strong = c["key_algorithm"].map(lambda a: key_strength(a, t.ca_min_rsa_bits)).astype("boolean")
    ok = left.gt(t.ca_renew_before_days) & strong.fillna(True)
    weak = ~strong.fillna(True)
    unknown = (left.isna() | strong.isna()) & ~weak & ~left.le(t.ca_renew_before_days).fillna(False)
    why = because((left.isna(), "the CA certificate's expiry date (not_after) was not recorded"),
                  (strong.isna(), "the CA certificate's key algorithm was not recorded or is not recognised: "
                   + c["key_algorithm"].fillna("none").astype(str)))
    return emit(c, na_if(unknown, ok), name=c["subject"], path=c["arn"].fillna(c["id"]), why_unknown=why,
                not_after=c["not_after"], days_left=left.round(1), key_algorithm=c["key_algorithm"],
                key_strong=strong)


@check("LCY010", "Enabled secret or key past its expiry date", stage=3, item=3, anti_pattern="rotation_table",
       severity="medium", inputs=("secret", "key"), sources=ITEM_SOURCES, controls=("rotation", "inventory"),
       detects="A secret or key with an expiry date (Key Vault `expires`, Secret Manager `expireTime`, a "
               "declared inventory's `expires`) that has passed while the item is still enabled. Items "
               "without an expiry are not in scope (AZK004 asks for one); disabled items pass.",
       why="Seed 001: rotation happens before expiry, on schedule. An expired credential that is still "
           "enabled is either an outage waiting to be noticed (consumers fail) or a stale record of a "
           "credential rotated elsewhere; either way the inventory no longer says what is in use.",
       fix="Rotate it now (new version with a new expiry, consumers moved, old version disabled), or "
           "disable it and correct the inventory if it was already replaced.")
def expired_but_enabled(ctx: CheckContext) -> pd.DataFrame:
    """General class: any item whose own expiry is in the past and that nothing disabled."""
    it = _items(ctx, ("secret", "key"))
    it = it[it["expires_at"].notna()] if len(it) else it
    enabled = pd.concat([ctx.frame(t).set_index("id")["enabled"] for t in ("secret", "key")])
    enabled = enabled[~enabled.index.duplicated()]
    it = it[it["id"].map(enabled).astype("boolean").fillna(True).astype(bool).to_numpy()]
    left = -ctx.age_days(it["expires_at"])
    return emit(it, left.gt(0), expires_at=it["expires_at"], days_left=left.round(1),
                environment=it["environment"])

