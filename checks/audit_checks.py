"""Audit-log checks: anomaly signals (seed 001), orphaned and shared secrets, log health.

A store is "audit-covered" when at least one of its audit logs was parsed
(``audit_log`` rows). For a store without parsed logs every check here is
not_assessed: absence of signals in logs nobody read proves nothing.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from posture.model.vocabulary import HUMAN_AUTH_METHODS
from checks.catalog import AP, CheckContext, check, emit, empty_result, na_if



def _covered_stores(ctx: CheckContext) -> pd.DataFrame:
    """Servers (vault clusters, aws accounts) with whether their audit logs were parsed."""
    s = ctx.frame("server")
    logs = ctx.frame("audit_log")
    window = logs.groupby("store").agg(first_at=("first_at", "min"), last_at=("last_at", "max"),
                                       lines=("lines", "sum"))
    s = s.assign(covered=s["store"].isin(set(logs["store"])))
    s = s.join(window, on="store")
    return s


# (signal, title, severity, stage, item, anti-pattern, thresholds, controls, why, fix)
SIGNALS = (
    ("new_source_ip", "Secret read from a new source IP range", "medium", 5, 5, "audit_signals", (),
     ("monitoring",), "A principal reading from a network it never used before is the first sign of "
     "a stolen credential being replayed elsewhere.",
     "Confirm with the owner; bind tokens to CIDRs (`token_bound_cidrs`) for services."),
    ("volume_spike", "Secret read volume above 3x baseline", "medium", 5, 5, "fm_anomaly",
     ("volume_spike_factor",), ("monitoring",), "Seed 002: a service that reads secret X 1x/hour "
     "suddenly reading it 100x/hour is a pattern change or a compromise.",
     "Investigate the principal; alert on per-principal read rate."),
    ("off_hours_human", "Human read of secrets outside business hours", "low", 5, 5, "audit_signals",
     ("business_hours",), ("monitoring",), "Operators reading prod secrets should be an exception "
     "(seed 002); off-hours reads without an incident are worth a question.",
     "Require break-glass with a reason for off-hours production access."),
    ("denied", "Requests denied by policy", "medium", 5, 2, "audit_signals", (),
     ("monitoring", "least_privilege"), "A service accessing secrets outside its policy scope is "
     "either misconfigured or probing.",
     "Fix the client or the policy; investigate repeated denials from one principal."),
    ("failed_logins", "Burst of failed logins from one source", "high", 5, 5, "audit_signals",
     ("failed_login_burst",), ("monitoring", "identity"), "Multiple failed auth attempts from a "
     "single source is credential stuffing or a broken deployment with a stale secret.",
     "Block the source, check for a leaked secret_id/password, rotate."),
    ("long_ttl_token", "Token created with an unusually long TTL", "medium", 5, 3,
     "long_lived_tokens", ("long_ttl_token_hours",), ("monitoring", "rotation"),
     "Long-TTL token creation is how persistence is established after a compromise.",
     "Revoke the token; cap max_lease_ttl on the mount."),
    ("root_token_use", "Root token used", "critical", 5, 2, "audit_signals", (),
     ("monitoring", "emergency_access"), "Root use outside a documented break-glass event means "
     "someone holds a standing root credential.",
     "Revoke root tokens; require generate-root with quorum for emergencies."),
    ("policy_change", "Policy changed in the period", "low", 5, 5, "audit_signals", (),
     ("audit",), "Policy changes are CRITICAL events in seed 001's log table: each must trace to "
     "an approved change (policy drift).",
     "Manage policies as code with review; reconcile every change with a ticket."),
    ("auth_change", "Auth method or role changed in the period", "low", 5, 5, "audit_signals", (),
     ("audit",), "Changes to who can log in are as sensitive as policy changes.",
     "Manage auth configuration as code with review."),
    ("stale_version_read", "Consumers still read a rotated secret's old version", "high", 3, 3,
     "fm_consumers", (), ("rotation", "monitoring"),
     "Seed 002: secret rotated but consumers not updated - an outage waiting for the old version's "
     "deletion, or an old credential still valid.",
     "Push rotations to all consumers (agent templates / ESO refresh); confirm zero use of the old "
     "version before revoking it."),
)


def _signal_check(signal: str):
    def fn(ctx: CheckContext) -> pd.DataFrame:
        s = _covered_stores(ctx)
        sig = ctx.frame("audit_signal")
        sig = sig[sig["signal"].eq(signal)]
        parts = []
        if len(sig):
            parts.append(emit(sig, False, name=sig["principal"], path=sig["path"].fillna(""),
                              signal=sig["signal"], principal=sig["principal"],
                              remote_addr=sig["remote_addr"], at=sig["at"], count=sig["count"],
                              detail=sig["detail"]))
        quiet = s[~s["store"].isin(set(sig["store"]))]
        if len(quiet):
            parts.append(emit(quiet, na_if(~quiet["covered"], pd.Series(True, index=quiet.index)),
                              resource="audit:" + quiet["store"], name=quiet["store"], path="",
                              signal=signal, audit_logs_parsed=quiet["covered"],
                              audit_window_start=quiet["first_at"],
                              audit_window_end=quiet["last_at"], audit_lines=quiet["lines"]))
        return pd.concat(parts, ignore_index=True) if parts else empty_result()

    fn.__name__ = f"signal_{signal}"
    return fn


for _i, (_sig, _title, _sev, _stage, _item, _ap, _thr, _ctl, _why, _fix) in enumerate(SIGNALS, start=1):
    check(f"AUD{_i:03d}", _title, stage=_stage, item=_item, anti_pattern=_ap, severity=_sev,
          inputs=("audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
          thresholds=_thr, controls=_ctl,
          detects=f"Audit-log signal `{_sig}` ({AP['audit_signals']}); one failing row per signal, "
                  "one passing row per audit-covered store without it.",
          why=_why, fix=_fix, name=f"audit_signal_{_sig}")(_signal_check(_sig))


# --- access-event checks ------------------------------------------------------------------


_KV2 = re.compile(r"^(?P<mount>.+?/)(?:data|metadata)/(?P<rest>.*)$")


def secret_access(ctx: CheckContext) -> pd.DataFrame:
    """Access events joined to secrets: one row per (secret id, principal) with counts and last use.

    Vault KV v2 event paths (``secret/data/prod/db``) are matched to the secret's
    path (``secret/prod/db``); AWS events match on ARN, name or path.
    """
    if "secret_access" in ctx.cache:
        return ctx.cache["secret_access"]
    ctx.cache["secret_access"] = out = _secret_access(ctx)
    return out


def _secret_access(ctx: CheckContext) -> pd.DataFrame:
    ev = ctx.frame("access_event")
    s = ctx.frame("secret")
    if not len(ev) or not len(s):
        return pd.DataFrame(columns=["secret_id", "principal", "auth_method", "count", "last_at"])
    reads = ev[ev["operation"].isin(["read", "GetSecretValue", "GetParameter", "GetParameters", "list"])
               | ev["operation"].str.startswith("Get")]
    p = reads["path"].astype(str)
    m = p.str.extract(_KV2)
    norm = np.where(m["mount"].notna(), m["mount"].fillna("") + m["rest"].fillna(""), p)
    reads = reads.assign(key=norm, last=reads["last_at"].fillna(reads["day"]))
    keys = pd.concat([
        pd.DataFrame({"key": s["path"], "secret_id": s["id"], "store": s["store"]}),
        pd.DataFrame({"key": s["arn"], "secret_id": s["id"], "store": s["store"]}).dropna(),
        pd.DataFrame({"key": s["name"], "secret_id": s["id"], "store": s["store"]})[s["source"].eq("aws")],
    ]).drop_duplicates(["key", "store"])
    # audit rows carry the secret store's name, so the join is on (path, store);
    # collectors that already resolved the secret id put it in ``resource``
    j = reads.merge(keys, on=["key", "store"], how="inner")
    if "resource" in reads.columns and reads["resource"].notna().any():
        direct = reads[reads["resource"].isin(set(s["id"]))].assign(secret_id=lambda d: d["resource"])
        j = pd.concat([j, direct[j.columns.intersection(direct.columns)]], ignore_index=True)
        j = j.drop_duplicates(subset=[c for c in ("id", "secret_id") if c in j.columns])
    return j.groupby(["secret_id", "principal"], as_index=False).agg(
        auth_method=("auth_method", "first"), count=("count", "sum"), last_at=("last", "max"))


@check("AUD011", "Orphaned secret: no access for 90 days", stage=5, item=5, anti_pattern="orphaned",
       severity="low", inputs=("secret", "access_event", "audit_log"), sources=("vault", "aws"),
       thresholds=("orphaned_secret_days",), controls=("unused_credentials", "inventory"),
       detects="A secret with no read in the audit logs for `orphaned_secret_days` (the logs must "
               "cover that long; otherwise not assessed).",
       why="Seed 001 compliance reporting: orphaned secrets are live credentials nobody needs and "
           "nobody watches.",
       fix="Find the owner; delete or disable it (keep metadata) after confirming no consumer.")
def orphaned_secret(ctx: CheckContext) -> pd.DataFrame:
    s = ctx.frame("secret")
    s = s[s["deleted_at"].isna() & ~s["kind"].eq("database_role")]
    acc = secret_access(ctx)
    last = s["id"].map(acc.groupby("secret_id")["last_at"].max()) if len(acc) else pd.Series(pd.NaT, index=s.index)
    last = pd.to_datetime(last, utc=True)
    own = pd.to_datetime(s["last_accessed_at"], utc=True)
    last = pd.concat([last, own], axis=1).max(axis=1)
    logs = ctx.frame("audit_log")
    window = logs.groupby("store")["first_at"].min().to_dict() if len(logs) else {}
    first = pd.to_datetime(s["store"].map(lambda st: window.get(st, pd.NaT)), utc=True)
    n = ctx.thresholds.orphaned_secret_days
    window_days = ctx.age_days(first)
    since = ctx.age_days(last)
    created = ctx.age_days(s["created_at"])
    recent = since.le(n) | created.le(n)
    orphan = last.isna() & window_days.ge(n) | since.gt(n)
    unknown = ~recent.fillna(False) & ~orphan.fillna(False)
    return emit(s, na_if(unknown, ~orphan.fillna(False)), resource=s["id"],
                last_access=last, days_since_access=since.round(1), audit_window_days=window_days.round(1))


@check("AUD012", "Secret shared between services", stage=2, item=2, anti_pattern="sharing_services",
       severity="medium", inputs=("secret", "access_event", "audit_log"), sources=("vault", "aws"),
       thresholds=("shared_secret_max_consumers",), controls=("identity", "least_privilege"),
       detects="A secret read by more than `shared_secret_max_consumers` distinct service "
               "(non-human) principals in the audit period.",
       why="Seed 003: each service should have its own credentials with narrowly scoped "
           "permissions; a shared secret has no per-consumer audit trail or revocation.",
       fix="Issue one credential per service (dynamic roles per service) and narrow each policy.")
def secret_shared_between_services(ctx: CheckContext) -> pd.DataFrame:
    s = ctx.frame("secret")
    s = s[s["deleted_at"].isna()]
    acc = secret_access(ctx)
    if len(acc):
        acc = acc[~acc["auth_method"].fillna("").isin(HUMAN_AUTH_METHODS)]
    limit = ctx.thresholds.shared_secret_max_consumers
    counts = acc.groupby("secret_id")["principal"].nunique() if len(acc) else pd.Series(dtype="int64")
    n = s["id"].map(counts).fillna(0).astype(int)
    shared = counts[counts > limit]
    names = (acc[acc["secret_id"].isin(shared.index)].groupby("secret_id")["principal"]
             .agg(lambda x: sorted(set(x))[:20]) if len(shared) else pd.Series(dtype=object))
    r = s["id"].map(names)
    covered = s["store"].isin(set(ctx.frame("audit_log")["store"]))
    return emit(s, na_if(~covered, n.le(limit)), service_readers=r, readers=n)


@check("AUD013", "Human login shared from many source IPs", stage=2, item=2,
       anti_pattern="shared_accounts", severity="medium", inputs=("access_event", "audit_log"),
       sources=("vault", "aws"), thresholds=("shared_login_max_sources",), controls=("identity",),
       detects="A human-method identity (userpass, LDAP, OIDC) used from more than "
               "`shared_login_max_sources` source IPs on one day.",
       why="Seed 000: shared 'team password'; seed 001: shared accounts leave no audit trail per "
           "consumer.",
       fix="One identity per person via SSO (OIDC) with MFA; disable the shared account.")
def shared_human_login(ctx: CheckContext) -> pd.DataFrame:
    ev = ctx.frame("access_event")
    ev = ev[ev["auth_method"].fillna("").isin(HUMAN_AUTH_METHODS)]
    if not len(ev):
        return empty_result()
    g = ev.groupby(["store", "source", "principal", ev["day"].dt.date])["remote_addr"].nunique()
    g = g.groupby(level=[0, 1, 2]).max().reset_index(name="max_sources_per_day")
    g["id"] = "principal:" + g["store"] + ":" + g["principal"].astype(str)
    return emit(g, g["max_sources_per_day"].le(ctx.thresholds.shared_login_max_sources),
                name=g["principal"], path=g["principal"], max_sources_per_day=g["max_sources_per_day"])


@check("AUD014", "Audit log has malformed or unparseable lines", stage=5, item=5,
       anti_pattern="no_audit", severity="medium", inputs=("audit_log",), sources=("audit", "vault", "aws"),
       controls=("audit",),
       detects="An audit log input with malformed lines.",
       why="Evidence that cannot be parsed is evidence lost; truncation or tampering shows first "
           "as malformed lines.",
       fix="Check log shipping/rotation (partial writes), and the audit device's format options.")
def audit_log_malformed(ctx: CheckContext) -> pd.DataFrame:
    a = ctx.frame("audit_log")
    bad = pd.to_numeric(a["malformed"], errors="coerce").fillna(0)
    return emit(a, bad.eq(0), name=a["path"], malformed=a["malformed"], lines=a["lines"])
