"""Audit-log checks: anomaly signals (seed 001), orphaned and shared secrets, log health.

A store is "audit-covered" when at least one of its audit logs was parsed
(``audit_log`` rows). For a store without parsed logs every check here is
not_assessed: absence of signals in logs nobody read proves nothing.

AUD001-AUD010 share one shape (`signal_findings`): one failing row per signal
row, one passing row per audit-covered store without it. Facts the log shows
(denials, root use, drift, stale reads) come from ``audit_signal``; the five
anomalies that need a threshold are judged here, at assess time, from the
collector's measures (`checks.audit_signals`).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from checks.audit_signals import JUDGED, judged_signals, stale_against_metadata
from checks.catalog import CheckContext, check, emit, empty_result, na_if
from posture.model.vocabulary import HUMAN_AUTH_METHODS


def _covered_stores(ctx: CheckContext) -> pd.DataFrame:
    """Servers (vault clusters, aws accounts) with whether their audit logs were parsed."""
    s = ctx.frame("server")
    logs = ctx.frame("audit_log")
    window = logs.groupby("store").agg(first_at=("first_at", "min"), last_at=("last_at", "max"),
                                       lines=("lines", "sum"))
    s = s.assign(covered=s["store"].isin(set(logs["store"])))
    s = s.join(window, on="store")
    return s


#: The audit log each store kind has, and whether the kit can read it (a file it is given).
AUDIT_LOG_OF = {"vault": ("audit log", True), "aws": ("CloudTrail log", True),
                "azure": ("Azure Monitor diagnostic log", False), "gcp": ("Cloud Audit Logs", False),
                "kubernetes": ("API server audit log", False), "inventory": ("audit log", False)}


def no_log_reason(rows: pd.DataFrame) -> pd.Series:
    """Why an audit check could not judge a store's rows: which log nobody gave the kit.

    Vault's log is its audit device file and AWS's CloudTrail: configure them in the engagement.
    Azure, GCP and Kubernetes logs, and declared inventories, are not read by the kit at all, and
    the reason says so rather than asking for configuration that does not exist.
    """
    source = rows["source"].astype(str)
    log = source.map(lambda src: AUDIT_LOG_OF.get(src, ("audit log", True))[0])
    readable = source.map(lambda src: AUDIT_LOG_OF.get(src, ("audit log", True))[1]).astype(bool)
    store = rows["store"].astype(str)
    asked = "no " + log + " configured for store " + store
    unread = "the kit does not read the " + log + " of store " + store + ", so its audit signals are unknown"
    return asked.where(readable, unread).astype(object)


def judged(ctx: CheckContext) -> pd.DataFrame:
    """The snapshot's judged signals under this assessment's thresholds (computed once)."""
    if "audit_judged" not in ctx.cache:
        ctx.cache["audit_judged"] = judged_signals(ctx.frame, ctx.thresholds, ctx.business_timezone)
    return ctx.cache["audit_judged"]


def event_ids(sig: pd.DataFrame) -> pd.Series:
    """A signal finding's resource: ``store:signal:principal:path``, what the event is about.

    Not when it happened or from where: the same event recurring next quarter is
    then the same finding, still open (`checks.diff`), not one resolved and one
    new. Repeats within a quarter are numbered in time order (``#1``, ``#2``...).
    """
    def part(col: str) -> pd.Series:
        return sig[col].astype(object).where(sig[col].notna() & sig[col].astype(str).ne(""), "-").astype(str)

    key = sig["store"].astype(str) + ":" + sig["signal"].astype(str) + ":" + part("principal") + ":" + part("path")
    at = pd.to_datetime(sig["at"], utc=True, errors="coerce")
    nth = key.to_frame("key").assign(at=at).sort_values("at", kind="stable", na_position="last") \
        .groupby("key").cumcount().reindex(sig.index)
    return key.where(nth.eq(0), key + "#" + nth.astype(str))


def signal_findings(ctx: CheckContext, signal: str, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Audit signals of one kind (the general class: an event in the logs that is itself the
    finding): one failing row per signal, one passing row per audit-covered store without it,
    not_assessed for a store whose logs were not parsed. ``extra`` rows (judged at assess
    time) join the collected ones, except where a collected row has the same store, principal
    and path."""
    s = _covered_stores(ctx)
    sig = ctx.frame("audit_signal")
    sig = sig[sig["signal"].eq(signal)]
    if extra is not None and len(extra):
        seen = set(zip(sig["store"], sig["principal"], sig["path"]))
        extra = extra[[k not in seen for k in zip(extra["store"], extra["principal"], extra["path"])]]
        sig = pd.concat([sig, extra], ignore_index=True) if len(sig) else extra
    if signal in JUDGED:
        # Snapshots of audit collector 1.x carry these rows judged at collection: kept, never dropped.
        new = judged(ctx)
        new = new[new["signal"].eq(signal)]
        sig = pd.concat([sig, new], ignore_index=True) if len(sig) else new
    parts = []
    if len(sig):
        parts.append(emit(sig, False, resource=event_ids(sig), name=sig["principal"], path=sig["path"].fillna(""),
                          signal=sig["signal"], principal=sig["principal"],
                          remote_addr=sig["remote_addr"], at=sig["at"], count=sig["count"],
                          detail=sig["detail"]))
    quiet = s[~s["store"].isin(set(sig["store"]))]
    if len(quiet):
        parts.append(emit(quiet, na_if(~quiet["covered"], pd.Series(True, index=quiet.index)),
                          resource="audit:" + quiet["store"], name=quiet["store"], path="",
                          why_unknown=no_log_reason(quiet),
                          signal=signal, audit_logs_parsed=quiet["covered"],
                          audit_window_start=quiet["first_at"],
                          audit_window_end=quiet["last_at"], audit_lines=quiet["lines"]))
    return pd.concat(parts, ignore_index=True) if parts else empty_result()


@check("AUD001", "Secret read from a new source IP range", stage=5, item=5, anti_pattern="audit_signals",
       severity="medium", inputs=("access_event", "audit_signal", "audit_log", "server"),
       sources=("audit", "vault", "aws"), thresholds=("new_source_learn_days",), controls=("monitoring",),
       detects="Audit-log signal `new_source_ip`, judged from `access_event`: a principal using a source "
               "IP it had not used in its first `new_source_learn_days` days in the log. One failing row "
               "per signal, one passing row per audit-covered store without it.",
       why="A principal reading from a network it never used before is the first sign of a stolen "
           "credential being replayed elsewhere.",
       fix="Confirm with the owner; bind tokens to CIDRs (`token_bound_cidrs`) for services.")
def audit_signal_new_source_ip(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "new_source_ip")


@check("AUD002", "Secret read volume above {volume_spike_factor:g}x baseline", stage=5, item=5,
       anti_pattern="fm_anomaly", severity="medium",
       inputs=("access_event", "audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       thresholds=("volume_spike_factor", "volume_spike_window_days", "volume_spike_min_history_days",
                   "volume_spike_min_count"),
       controls=("monitoring",),
       detects="Audit-log signal `volume_spike`, judged from `access_event`: a path's requests on one day "
               "above `volume_spike_factor` x the mean of the previous `volume_spike_window_days` days, "
               "with at least `volume_spike_min_count` requests. One failing row per signal, one passing "
               "row per audit-covered store without it.",
       why="Seed 002: a service that reads secret X 1x/hour suddenly reading it 100x/hour is a pattern "
           "change or a compromise.",
       fix="Investigate the principal; alert on per-principal read rate.")
def audit_signal_volume_spike(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "volume_spike")


@check("AUD003", "Human read of secrets outside business hours "
       "({business_hours[0]:02d}:00-{business_hours[1]:02d}:00)", stage=5, item=5,
       anti_pattern="audit_signals", severity="low",
       inputs=("access_hour", "audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       thresholds=("business_hours", "off_hours_weekends"),
       controls=("monitoring",),
       detects="Audit-log signal `off_hours_human`, judged from `access_hour`: successful authenticated "
               "requests by a human auth method (failed logins are not reads) outside `business_hours` in the engagement's `business_timezone` (or on a weekend, "
               "with `off_hours_weekends`). One failing row per principal and local day, one passing row "
               "per audit-covered store without it.",
       why="Operators reading prod secrets should be an exception (seed 002); off-hours reads without "
           "an incident are worth a question.",
       fix="Require break-glass with a reason for off-hours production access.")
def audit_signal_off_hours_human(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "off_hours_human")


@check("AUD004", "Requests denied by policy", stage=5, item=2, anti_pattern="audit_signals",
       severity="medium", inputs=("audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       controls=("monitoring", "least_privilege"),
       detects="Audit-log signal `denied`: requests refused by policy, one failing row per principal x "
               "path, one passing row per audit-covered store without any. A refused login (a login "
               "path, or a request without a client token) is a failed login (AUD005), not a denial.",
       why="A service accessing secrets outside its policy scope is either misconfigured or probing.",
       fix="Fix the client or the policy; investigate repeated denials from one principal.")
def audit_signal_denied(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "denied")


@check("AUD005", "Burst of {failed_login_burst} or more failed logins from one source in an hour",
       stage=5, item=5, anti_pattern="audit_signals", severity="high",
       inputs=("login_hour", "audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       thresholds=("failed_login_burst",), controls=("monitoring", "identity"),
       detects="Audit-log signal `failed_logins`, judged from `login_hour`: at least `failed_login_burst` "
               "failed logins from one source address within one clock hour. One failing row per source "
               "and hour, one passing row per audit-covered store without it.",
       why="Multiple failed auth attempts from a single source is credential stuffing or a broken "
           "deployment with a stale secret.",
       fix="Block the source, check for a leaked secret_id/password, rotate.")
def audit_signal_failed_logins(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "failed_logins")


@check("AUD006", "Token created with a TTL above {long_ttl_token_hours} h", stage=5, item=3,
       anti_pattern="long_lived_tokens", severity="medium",
       inputs=("token_issue", "audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       thresholds=("long_ttl_token_hours",),
       controls=("monitoring", "rotation"),
       detects="Audit-log signal `long_ttl_token`, judged from `token_issue`: tokens issued with a TTL "
               "above `long_ttl_token_hours`, non-expiring root tokens and IAM access keys. One failing "
               "row per issuer x source x TTL x day, one passing row per audit-covered store without it.",
       why="Long-TTL token creation is how persistence is established after a compromise.",
       fix="Revoke the token; cap max_lease_ttl on the mount.")
def audit_signal_long_ttl_token(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "long_ttl_token")


@check("AUD007", "Root token used", stage=5, item=2, anti_pattern="audit_signals", severity="critical",
       inputs=("audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       controls=("monitoring", "emergency_access"),
       detects="Audit-log signal `root_token_use`: requests made with a root token (Vault) or by the AWS "
               "account root user, one failing row per principal x source x day, one passing row per "
               "audit-covered store without any.",
       why="Root use outside a documented break-glass event means someone holds a standing root "
           "credential.",
       fix="Revoke root tokens; require generate-root with quorum for emergencies.")
def audit_signal_root_token_use(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "root_token_use")


@check("AUD008", "Policy changed in the period", stage=5, item=5, anti_pattern="audit_signals",
       severity="low", inputs=("audit_signal", "audit_log", "server"), sources=("audit", "vault", "aws"),
       controls=("audit",),
       detects="Audit-log signal `policy_change`: a policy written or deleted in the period, one failing "
               "row per path x principal x day, one passing row per audit-covered store without any.",
       why="Policy changes are CRITICAL events in seed 001's log table: each must trace to an approved "
           "change (policy drift).",
       fix="Manage policies as code with review; reconcile every change with a ticket.")
def audit_signal_policy_change(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "policy_change")


@check("AUD009", "Auth method or role changed in the period", stage=5, item=5,
       anti_pattern="audit_signals", severity="low", inputs=("audit_signal", "audit_log", "server"),
       sources=("audit", "vault", "aws"), controls=("audit",),
       detects="Audit-log signal `auth_change`: an auth method, role or user changed in the period, one "
               "failing row per path x principal x day, one passing row per audit-covered store without "
               "any.",
       why="Changes to who can log in are as sensitive as policy changes.",
       fix="Manage auth configuration as code with review.")
def audit_signal_auth_change(ctx: CheckContext) -> pd.DataFrame:
    return signal_findings(ctx, "auth_change")


@check("AUD010", "Consumers still read a rotated secret's old version", stage=3, item=3,
       anti_pattern="fm_consumers", severity="high", inputs=("audit_signal", "secret", "audit_log", "server"),
       sources=("audit", "vault", "aws"), controls=("rotation", "monitoring"),
       detects="Audit-log signal `stale_version_read`: a consumer reading an older version after a newer "
               "one existed in the log, or (`kv_version_read` against the KV v2 metadata's current "
               "version) a version older than the current one, whenever it was rotated. One failing row "
               "per principal x path, one passing row per audit-covered store without any.",
       why="Seed 002: secret rotated but consumers not updated - an outage waiting for the old "
           "version's deletion, or an old credential still valid.",
       fix="Push rotations to all consumers (agent templates / ESO refresh); confirm zero use of the "
           "old version before revoking it.")
def audit_signal_stale_version_read(ctx: CheckContext) -> pd.DataFrame:
    reads = ctx.frame("audit_signal")
    reads = reads[reads["signal"].eq("kv_version_read")]
    return signal_findings(ctx, "stale_version_read", stale_against_metadata(reads, ctx.frame("secret")))


# --- access-event checks ------------------------------------------------------------------


_KV2 = re.compile(r"^(?P<mount>.+?/)(?:data|metadata)/(?P<rest>.*)$")


def secret_access(ctx: CheckContext) -> pd.DataFrame:
    """Access events joined to secrets: one row per (secret id, principal) with counts and last use.

    Vault KV v2 event paths (``secret/data/prod/db``) are matched to the secret's
    path (``secret/prod/db``); AWS events match on ARN, name or path. ``granted``
    counts the requests that succeeded: a refused read (403, an error) shows who
    tried, not who consumes the secret.
    """
    if "secret_access" in ctx.cache:
        return ctx.cache["secret_access"]
    ctx.cache["secret_access"] = out = _secret_access(ctx)
    return out


def _secret_access(ctx: CheckContext) -> pd.DataFrame:
    ev = ctx.frame("access_event")
    s = ctx.frame("secret")
    if not len(ev) or not len(s):
        return pd.DataFrame(columns=["secret_id", "principal", "auth_method", "count", "granted", "last_at"])
    reads = ev[ev["operation"].isin(["read", "GetSecretValue", "GetParameter", "GetParameters", "list"])
               | ev["operation"].str.startswith("Get")]
    p = reads["path"].astype(str)
    m = p.str.extract(_KV2)
    norm = np.where(m["mount"].notna(), m["mount"].fillna("") + m["rest"].fillna(""), p)
    count = pd.to_numeric(reads["count"], errors="coerce").fillna(0)
    errors = pd.to_numeric(reads["errors"], errors="coerce").fillna(0) if "errors" in reads.columns else 0
    reads = reads.assign(key=norm, last=reads["last_at"].fillna(reads["day"]), granted=(count - errors).clip(lower=0))
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
        auth_method=("auth_method", "first"), count=("count", "sum"), granted=("granted", "sum"),
        last_at=("last", "max"))


@check("AUD011", "Orphaned secret: no access for {orphaned_secret_days} days", stage=5, item=5, anti_pattern="orphaned",
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
    short = pd.Series(f"the audit logs cover fewer than {n} days, too short to call a secret unused",
                      index=s.index, dtype=object)
    reason = no_log_reason(s).where(first.isna(), short)
    return emit(s, na_if(unknown, ~orphan.fillna(False)), resource=s["id"], why_unknown=reason,
                last_access=last, days_since_access=since.round(1), audit_window_days=window_days.round(1))


@check("AUD012", "Secret shared between services", stage=2, item=2, anti_pattern="sharing_services",
       severity="medium", inputs=("secret", "access_event", "audit_log"), sources=("vault", "aws"),
       thresholds=("shared_secret_max_consumers",), controls=("identity", "least_privilege"),
       detects="A secret read successfully by more than `shared_secret_max_consumers` distinct service "
               "(non-human) principals in the audit period; a refused read does not make a consumer.",
       why="Seed 003: each service should have its own credentials with narrowly scoped "
           "permissions; a shared secret has no per-consumer audit trail or revocation.",
       fix="Issue one credential per service (dynamic roles per service) and narrow each policy.")
def secret_shared_between_services(ctx: CheckContext) -> pd.DataFrame:
    s = ctx.frame("secret")
    s = s[s["deleted_at"].isna()]
    acc = secret_access(ctx)
    if len(acc):
        # General class: a consumer is a service that read the secret successfully; refused reads are not use.
        acc = acc[~acc["auth_method"].fillna("").isin(HUMAN_AUTH_METHODS) & acc["granted"].gt(0)]
    limit = ctx.thresholds.shared_secret_max_consumers
    counts = acc.groupby("secret_id")["principal"].nunique() if len(acc) else pd.Series(dtype="int64")
    n = s["id"].map(counts).fillna(0).astype(int)
    shared = counts[counts > limit]
    names = (acc[acc["secret_id"].isin(shared.index)].groupby("secret_id")["principal"]
             .agg(lambda x: sorted(set(x))[:20]) if len(shared) else pd.Series(dtype=object))
    r = s["id"].map(names)
    covered = s["store"].isin(set(ctx.frame("audit_log")["store"]))
    return emit(s, na_if(~covered, n.le(limit)), service_readers=r, readers=n, why_unknown=no_log_reason(s))


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
