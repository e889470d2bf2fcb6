"""Audit-log analysis: pure, vectorised functions over access and signal frames.

The audit collector calls these on what it parsed to write its fact signals
(denials, root use, drift, stale version reads, revocations, policy usage, the
stage-5 metrics); the reporting layer calls the inventory joins on the
snapshot's ``access_event`` and ``audit_signal`` frames
(`posture.model.snapshot.Snapshot.frame`). No I/O here, and no threshold: the
anomalies that need one are judged at assess time (`checks.audit_signals`).

Every signal the collector writes is one `posture.model.records.AuditSignal` row;
`AUDIT_SIGNALS` documents what each ``signal`` value means, so a check can turn it
into a finding without re-reading this module.

Joining with the secret inventory: ``access_event.resource`` is the id the
secret would have in the ``secret`` table (``vault:<store>:<mount>/<path>``
with the KV v2 ``data/``/``metadata/`` segment removed; for AWS the ARN or
name of the resource). `last_access` and `orphaned_secrets` do that join.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from posture.model.acl import ACL, LISTING_CAPABILITIES, parse_pattern
from posture.model.records import SIGNAL_COLUMNS
from posture.model.vocabulary import AUDIT_SIGNALS

#: The failed-auth metric compares logins within this many hours of a rotation with the rest.
ROTATION_WINDOW_HOURS = 1
CAPABILITY_OF_OPERATION = {
    "read": "read", "list": "list", "create": "create", "update": "update",
    "delete": "delete", "patch": "patch",
}
KV2_SEGMENTS = ("data", "metadata", "delete", "undelete", "destroy", "subkeys")
NON_SECRET_PREFIXES = ("sys/", "auth/", "identity/", "cubbyhole/")


def empty_signals() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in SIGNAL_COLUMNS})


def _signals(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return empty_signals()
    return pd.DataFrame(rows, columns=list(SIGNAL_COLUMNS))


def _ts(value: Any) -> datetime | None:
    """A UTC datetime from a string/Timestamp/None (NaT -> None)."""
    if value is None:
        return None
    t = pd.Timestamp(value)
    if pd.isna(t):
        return None
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.to_pydatetime()


def _iso(value: Any) -> str | None:
    t = _ts(value)
    return t.isoformat() if t else None


# --- Paths and resources -----------------------------------------------------------


def vault_secret_path(path: str, kv_mounts: set[str] | None = None) -> str | None:
    """Logical secret path of a Vault API path, or None for system/auth paths.

    ``secret/data/prod/db`` -> ``secret/prod/db``; KV v1 and other engines keep
    their path. ``kv_mounts`` (KV mount points seen in the log, with a trailing
    slash, e.g. ``team/kv/``) handles nested mounts; without it, a first
    segment followed by a KV v2 segment is rewritten.
    """
    if path.startswith(NON_SECRET_PREFIXES):
        return None
    if kv_mounts:
        mount = max((m for m in kv_mounts if path.startswith(m)), key=len, default=None)
        if mount is not None:
            seg, _, rest = path[len(mount):].partition("/")
            return mount + rest if seg in KV2_SEGMENTS else path
    parts = path.split("/")
    if len(parts) >= 2 and parts[1] in KV2_SEGMENTS:
        rest = "/".join(parts[2:])
        return f"{parts[0]}/{rest}" if rest else f"{parts[0]}/"
    return path


# --- Access-based signals ----------------------------------------------------------


#: Login endpoints (``auth/<mount>/login``, ``auth/<mount>/login/<user>``): a refusal there is a failed login.
LOGIN_PATH = r"^auth/.+/login(?:/|$)"


def denied_requests(access: pd.DataFrame) -> pd.DataFrame:
    """`denied` signals: one per principal x path with a request refused by policy.

    General class: a denial is a policy decision about an authenticated caller.
    A refused login (a login path, or a request carrying no client token, auth
    method ``none``) is a failed login, judged by the failed-login burst
    (`failed_logins`), never a policy denial.
    """
    if access.empty:
        return empty_signals()
    login = access["path"].astype(str).str.match(LOGIN_PATH) | access["auth_method"].eq("none")
    d = access[(access["denied"] > 0) & ~login]
    if d.empty:
        return empty_signals()
    rows = []
    for (principal, path), g in d.groupby(["principal", "path"], sort=True):
        rows.append(
            {
                "signal": "denied", "principal": principal, "path": path,
                "remote_addr": g["remote_addr"].iloc[0], "at": _ts(g["first_at"].min()),
                "count": int(g["denied"].sum()),
                "detail": {
                    "operations": sorted(set(g["operation"])), "last_at": _iso(g["last_at"].max()),
                    "remote_addrs": sorted(set(g["remote_addr"].dropna()))[:10],
                    "days": int(g["day"].nunique()),
                },
            }
        )
    return _signals(rows)


# --- Event-list signals ------------------------------------------------------------


def root_token_use(root: pd.DataFrame) -> pd.DataFrame:
    """`root_token_use` signals (columns principal, remote_addr, day, count, first_at, last_at, paths)."""
    rows = [
        {
            "signal": "root_token_use", "principal": r.principal, "path": (sorted(r.paths) or [None])[0],
            "remote_addr": r.remote_addr, "at": _ts(r.first_at), "count": int(r.count),
            "detail": {"last_at": _iso(r.last_at), "paths": sorted(r.paths)[:20]},
        }
        for r in root.itertuples(index=False)
    ]
    return _signals(rows)


def drift(changes: pd.DataFrame) -> pd.DataFrame:
    """policy_change / auth_change / audit_change / mount_change signals, one per path x day."""
    if changes.empty:
        return empty_signals()
    c = changes.assign(day=changes["at"].dt.floor("D"))
    rows = []
    for (kind, path, principal, _day), g in c.groupby(["kind", "path", "principal", "day"], sort=True):
        rows.append(
            {
                "signal": kind, "principal": principal, "path": path,
                "remote_addr": g["remote"].iloc[0], "at": _ts(g["at"].min()), "count": len(g),
                "detail": {
                    "operations": sorted(set(g["operation"])),
                    "succeeded": int(g["succeeded"].sum()), "failed": int((~g["succeeded"]).sum()),
                    "last_at": _iso(g["at"].max()),
                },
            }
        )
    return _signals(rows)


def stale_version_reads(stale: pd.DataFrame) -> pd.DataFrame:
    """`stale_version_read` signals (principal, path, count, first_at, last_at, version_read,
    current_version, rotated_at, remote_addr)."""
    rows = [
        {
            "signal": "stale_version_read", "principal": r.principal, "path": r.path,
            "remote_addr": r.remote_addr, "at": _ts(r.first_at), "count": int(r.count),
            "detail": {
                "version_read": r.version_read, "current_version": r.current_version,
                "rotated_at": _iso(r.rotated_at), "last_at": _iso(r.last_at),
            },
        }
        for r in stale.itertuples(index=False)
    ]
    return _signals(rows)


def kv_version_reads(reads: pd.DataFrame) -> pd.DataFrame:
    """`kv_version_read` facts: per principal x KV v2 path, the versions read, how often, and when last.

    The log alone knows only the versions it shows; whether a read version is
    older than the current one is judged at assess time against the KV metadata
    (`checks.audit_signals.stale_against_metadata`).
    """
    if reads.empty:
        return empty_signals()
    rows = []
    for (principal, path), g in reads.groupby(["principal", "path"], sort=True):
        rows.append(
            {
                "signal": "kv_version_read", "principal": principal, "path": path,
                "remote_addr": g["remote_addr"].iloc[0], "at": _ts(g["first_at"].min()),
                "count": int(g["count"].sum()),
                "detail": {
                    "versions": {str(int(v)): int(c) for v, c in zip(g["version"], g["count"])},
                    "last_read_at": {str(int(v)): _iso(t) for v, t in zip(g["version"], g["last_at"])},
                    "oldest_version": int(g["version"].min()), "newest_version": int(g["version"].max()),
                    "last_at": _iso(g["last_at"].max()),
                },
            }
        )
    return _signals(rows)


def revocations(revs: pd.DataFrame) -> pd.DataFrame:
    """`metric:revocation_to_last_use` rows, plus `used_after_revocation` signals."""
    rows = []
    for r in revs.itertuples(index=False):
        at = _ts(r.at)
        before = _ts(r.last_use_before_at)
        after = _ts(r.last_attempt_at)
        last = after or before
        seconds = (last - at).total_seconds() if (last and at) else None
        rows.append(
            {
                "signal": "metric:revocation_to_last_use", "principal": r.principal,
                "path": r.kind, "remote_addr": r.remote, "at": at, "count": int(r.attempts_after),
                "detail": {
                    "credential_hmac": r.credential, "kind": r.kind,
                    "last_use_before_at": _iso(before), "last_attempt_after_at": _iso(after),
                    "seconds": seconds, "attempts_after": int(r.attempts_after),
                    "successes_after": int(r.successes_after),
                },
            }
        )
        if r.successes_after:
            rows.append(
                {
                    "signal": "used_after_revocation", "principal": r.principal, "path": r.kind,
                    "remote_addr": r.remote, "at": _ts(r.last_success_after_at),
                    "count": int(r.successes_after),
                    "detail": {"credential_hmac": r.credential, "revoked_at": _iso(at)},
                }
            )
    return _signals(rows)


# --- Least privilege ---------------------------------------------------------------


def vault_policy_usage(usage: pd.DataFrame) -> pd.DataFrame:
    """`policy_usage` signals from (policy, path, operation, count) of granted requests."""
    rows = []
    for policy, g in usage.groupby("policy", sort=True):
        used = (
            g.assign(capability=g["operation"].map(CAPABILITY_OF_OPERATION).fillna(g["operation"]))
            .groupby("path")
            .agg(capabilities=("capability", lambda s: sorted(set(s))), count=("count", "sum"))
            .sort_values("count", ascending=False)
        )
        rows.append(_usage_signal(None, policy, "vault_acl", used, int(g["count"].sum())))
    return _signals(rows)


def _usage_signal(
    principal: str | None, policy: str, kind: str, used: pd.DataFrame, total: int
) -> dict:
    """One `policy_usage` row: what ``policy`` was used for, busiest paths first (500 at most)."""
    return {
        "signal": "policy_usage", "principal": principal, "path": policy, "remote_addr": None,
        "at": None, "count": total,
        "detail": {
            "policy": policy, "kind": kind,
            "used": [
                {"path": p, "capabilities": c, "count": int(n)}
                for p, c, n in zip(used.index, used["capabilities"], used["count"])
            ][:500],
            "paths_used": len(used),
        },
    }


def aws_principal_usage(access: pd.DataFrame) -> pd.DataFrame:
    """`policy_usage` signals for AWS principals: actions x resources that succeeded."""
    if access.empty:
        return empty_signals()
    ok = access[access["count"] > access["errors"]]
    ok = ok[~ok["auth_method"].isin(["aws_service"])]
    rows = []
    for principal, g in ok.groupby("principal", sort=True):
        used = (
            g.groupby("path")
            .agg(capabilities=("operation", lambda s: sorted(set(s))), count=("count", "sum"))
            .sort_values("count", ascending=False)
        )
        rows.append(_usage_signal(principal, principal, "aws_principal", used, int(g["count"].sum())))
    return _signals(rows)


def _used_by_deciding_rule(
    used_by_policy: dict[str, list[dict[str, Any]]], policy_rules: pd.DataFrame
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Used paths per (store, policy, rule path) of the rule that granted them.

    The audit log names the granting policy; within it, the rule that decided is the one the
    ACL evaluator picks (Vault priority), so a broad rule shadowed by a narrower one is not
    credited with the narrower one's traffic.
    """
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    vault = policy_rules[policy_rules["source"].eq("vault") & policy_rules["policy"].isin(used_by_policy)]
    for (store, policy), rules in vault.groupby(["store", "policy"], sort=False):
        acl = ACL.from_records(rules.itertuples(index=False))
        for u in used_by_policy[policy]:
            listing = not LISTING_CAPABILITIES.isdisjoint(u["capabilities"])
            rule = acl.deciding_rule(u["path"], listing=listing)
            if rule is not None:
                out.setdefault((store, policy, rule), []).append(u)
    return out


def least_privilege(signals: pd.DataFrame, policy_rules: pd.DataFrame) -> pd.DataFrame:
    """Per policy rule: capabilities granted, used in the period, and a suggestion.

    ``signals`` is the ``audit_signal`` frame (its ``policy_usage`` rows);
    ``policy_rules`` the snapshot's ``policy_rule`` frame. A rule no request
    used is suggested for removal; a rule used with fewer capabilities than
    granted, for narrowing. Policies never seen in the log are reported as
    'unused in the period'.
    """
    cols = ["policy", "rule_path", "granted", "used", "unused", "requests", "used_paths", "suggestion"]
    if policy_rules.empty:
        return pd.DataFrame(columns=cols)
    usage = signals[signals["signal"] == "policy_usage"] if not signals.empty else signals
    used_by_policy: dict[str, list[dict[str, Any]]] = {}
    for d in usage.get("detail", pd.Series(dtype=object)):
        if isinstance(d, dict) and d.get("kind") == "vault_acl":
            used_by_policy.setdefault(d["policy"], []).extend(d.get("used") or [])
    decided = _used_by_deciding_rule(used_by_policy, policy_rules)
    rows = []
    for r in policy_rules.itertuples(index=False):
        if getattr(r, "effect", "allow") == "deny":
            continue
        granted = sorted(set(r.capabilities or []))
        vault_rule = r.source == "vault"
        used_entries = decided.get((r.store, r.policy, parse_pattern(r.path).path), []) if vault_rule else []
        used = sorted({c for u in used_entries for c in u["capabilities"]})
        n = sum(int(u["count"]) for u in used_entries)
        real = [c for c in granted if c not in ("deny", "sudo")]
        unused = [c for c in real if c not in used]
        if r.policy not in used_by_policy:
            suggestion = "policy unused in the period: confirm its holders still need it"
        elif not used_entries:
            suggestion = f"remove rule {r.path!r}: not used in the period"
        elif unused:
            suggestion = f"narrow {r.path!r} to {used} (unused: {unused})"
        else:
            suggestion = "keep: every granted capability was used"
        if used_entries and parse_pattern(r.path).is_wildcard:
            distinct = sorted({u["path"] for u in used_entries})
            if len(distinct) <= 5:
                suggestion += f"; wildcard used only for {distinct}"
        rows.append(
            {
                "policy": r.policy, "rule_path": r.path, "granted": granted, "used": used,
                "unused": unused, "requests": n,
                "used_paths": sorted({u["path"] for u in used_entries})[:20], "suggestion": suggestion,
            }
        )
    return pd.DataFrame(rows, columns=cols)


# --- Metrics -----------------------------------------------------------------------


def failed_auth_around_rotations(
    logins: pd.DataFrame, rotations: pd.DataFrame, window_hours: int = ROTATION_WINDOW_HOURS
) -> pd.DataFrame:
    """`metric:failed_auth_rate_around_rotation` (one row; empty when nothing to measure)."""
    if logins.empty:
        return empty_signals()
    hours = logins.groupby("hour").agg(ok=("ok", "sum"), failed=("failed", "sum"))
    in_window = pd.Series(False, index=hours.index)
    per_rotation = []
    if not rotations.empty:
        rot_hours = rotations["at"].dt.floor("h")
        idx = hours.index
        for at, rh in zip(rotations["at"], rot_hours):
            lo, hi = rh - pd.Timedelta(hours=window_hours), rh + pd.Timedelta(hours=window_hours)
            m = np.asarray((idx >= lo) & (idx <= hi), dtype=bool)
            in_window |= m
            sel = hours[m]
            per_rotation.append((at, int(sel["failed"].sum()), int(sel[["ok", "failed"]].sum().sum())))
    inside, outside = hours[in_window.to_numpy()], hours[~in_window.to_numpy()]

    def rate(x: pd.DataFrame) -> float | None:
        total = int(x["ok"].sum() + x["failed"].sum())
        return round(float(x["failed"].sum()) / total, 4) if total else None

    r_in, r_out = rate(inside), rate(outside)
    worst = sorted(per_rotation, key=lambda t: -t[1])[:20]
    return _signals(
        [
            {
                "signal": "metric:failed_auth_rate_around_rotation", "principal": None, "path": None,
                "remote_addr": None, "at": None, "count": len(rotations),
                "detail": {
                    "rotations": len(rotations), "window_hours": window_hours,
                    "attempts_in_window": int(inside[["ok", "failed"]].sum().sum()),
                    "failed_in_window": int(inside["failed"].sum()), "rate_in_window": r_in,
                    "attempts_outside": int(outside[["ok", "failed"]].sum().sum()),
                    "failed_outside": int(outside["failed"].sum()), "rate_outside": r_out,
                    "ratio": round(r_in / r_out, 2) if (r_in is not None and r_out) else None,
                    "worst_rotations": [
                        {"at": _iso(a), "failed": f, "attempts": t} for a, f, t in worst
                    ],
                },
            }
        ]
    )


def secret_fetches(access: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``access`` that are secret reads (Vault reads outside sys/auth/identity,
    AWS GetSecretValue / GetParameter*)."""
    if access.empty:
        return access
    from collectors.audit_parse import SECRET_READ_EVENTS

    op = access["operation"]
    path = access["path"].astype(str)
    vault_read = (op == "read") & ~path.str.startswith(NON_SECRET_PREFIXES)
    return access[vault_read | op.isin(SECRET_READ_EVENTS)]


def fetch_error_rate(access: pd.DataFrame) -> pd.DataFrame:
    """`metric:secret_fetch_error_rate` (one row; empty when there were no reads)."""
    f = secret_fetches(access)
    if f.empty:
        return empty_signals()
    total, errors, denied = int(f["count"].sum()), int(f["errors"].sum()), int(f["denied"].sum())
    by_day = f.groupby("day")[["count", "errors"]].sum()
    worst = f.groupby("principal")[["count", "errors"]].sum().sort_values("errors", ascending=False).head(10)
    return _signals(
        [
            {
                "signal": "metric:secret_fetch_error_rate", "principal": None, "path": None,
                "remote_addr": None, "at": None, "count": total,
                "detail": {
                    "fetches": total, "errors": errors, "denied": denied,
                    "error_rate": round(errors / total, 4), "denied_rate": round(denied / total, 4),
                    "worst_day_rate": round(float((by_day["errors"] / by_day["count"]).max()), 4),
                    "top_error_principals": {p: int(e) for p, e in zip(worst.index, worst["errors"]) if e},
                },
            }
        ]
    )


# --- Inventory joins ---------------------------------------------------------------


def last_access(access: pd.DataFrame) -> pd.DataFrame:
    """Per resource: last read, last access of any kind, reads and principals in the period."""
    cols = ["resource", "last_read_at", "last_access_at", "reads", "principals"]
    if access.empty or "resource" not in access:
        return pd.DataFrame(columns=cols)
    a = access[access["resource"].notna()]
    reads = secret_fetches(a)
    reads = reads[reads["count"] > reads["errors"]]
    out = a.groupby("resource").agg(last_access_at=("last_at", "max"), principals=("principal", "nunique"))
    r = reads.groupby("resource").agg(last_read_at=("last_at", "max"), reads=("count", "sum"))
    out = out.join(r, how="left").reset_index()
    out["reads"] = out["reads"].fillna(0).astype(int)
    return out[cols]


def orphaned_secrets(
    secrets: pd.DataFrame, access: pd.DataFrame, as_of: datetime, days: int = 90,
    log_start: datetime | None = None,
) -> pd.DataFrame:
    """Secrets with no successful read in ``days`` before ``as_of``, joined on id/arn/name.

    ``log_start`` (first audit event): when the log covers less than ``days``,
    a secret not read since ``log_start`` is reported with ``coverage_days`` so
    the reader knows the evidence is shorter than the threshold.
    """
    cols = ["id", "store", "path", "name", "last_read_at", "days_since_read", "coverage_days", "orphaned"]
    if secrets.empty:
        return pd.DataFrame(columns=cols)
    la = last_access(access).set_index("resource")["last_read_at"]
    s = secrets.copy()
    last = s["id"].map(la)
    for alt in ("arn", "name"):
        if alt in s:
            last = last.fillna(s[alt].map(la))
    s["last_read_at"] = pd.to_datetime(last, utc=True)
    as_of_ts = pd.Timestamp(as_of)
    as_of_ts = as_of_ts.tz_localize("UTC") if as_of_ts.tzinfo is None else as_of_ts
    s["days_since_read"] = (as_of_ts - s["last_read_at"]).dt.days
    start = pd.Timestamp(log_start) if log_start is not None else None
    s["coverage_days"] = (as_of_ts - start).days if start is not None else None
    cutoff = as_of_ts - pd.Timedelta(days=days)
    s["orphaned"] = s["last_read_at"].isna() | (s["last_read_at"] < cutoff)
    return s[cols]


def access_inventory(access: pd.DataFrame) -> pd.DataFrame:
    """Who read or listed what: principal x resource with counts, sources and first/last."""
    if access.empty:
        return pd.DataFrame(columns=["principal", "path", "operations", "count", "sources", "first_at", "last_at"])
    a = access[access["operation"].isin(["read", "list"]) | access["operation"].str.startswith("Get")]
    return (
        a.groupby(["principal", "path"])
        .agg(
            operations=("operation", lambda s: ", ".join(sorted(set(s)))), count=("count", "sum"),
            sources=("remote_addr", "nunique"), first_at=("first_at", "min"), last_at=("last_at", "max"),
        )
        .reset_index()
        .sort_values("count", ascending=False)
    )


def signal_summary(signals: pd.DataFrame) -> pd.DataFrame:
    """Counts per signal name with its meaning from `AUDIT_SIGNALS`."""
    if signals.empty:
        return pd.DataFrame(columns=["signal", "rows", "events", "meaning"])
    g = signals.groupby("signal").agg(rows=("signal", "size"), events=("count", "sum")).reset_index()
    g["meaning"] = g["signal"].map(AUDIT_SIGNALS).fillna("")
    return g.sort_values("rows", ascending=False)
