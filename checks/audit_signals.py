"""Judged audit anomalies: the engagement's thresholds applied to the audit measures.

The audit collector records facts and measures only: ``access_event`` (identity
x path x operation x source x day), ``access_hour`` (human requests per UTC
hour), ``login_hour`` (successes and failures per source x user x hour) and
``token_issue`` (credentials issued per day with their TTL). The five anomalies
that need a threshold are judged here, at assess time, so a changed threshold
followed by ``posture assess`` re-judges the same snapshot:

- ``new_source_ip``: a source first used after ``new_source_learn_days``;
- ``volume_spike``: a path's day above ``volume_spike_factor`` x its baseline;
- ``off_hours_human``: human requests outside ``business_hours`` (local time);
- ``failed_logins``: at least ``failed_login_burst`` failures from one source in an hour;
- ``long_ttl_token``: a credential issued with a TTL above ``long_ttl_token_hours``.

Rows have `AuditSignal`'s shape (meanings in `posture.model.vocabulary.AUDIT_SIGNALS`)
and its ids, so a judged finding keys like a collected one. `judged_signals` runs
all five over a snapshot; the AUD checks and the reporting layer call it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from posture.model.records import SIGNAL_COLUMNS, AuditSignal
from posture.model.thresholds import Thresholds

JUDGED = ("new_source_ip", "volume_spike", "off_hours_human", "failed_logins", "long_ttl_token")
JUDGED_COLUMNS = ["id", "store", "source", *SIGNAL_COLUMNS]


def _rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Signal rows as a frame: ``at`` as UTC timestamps, missing names as None (not NaN)."""
    out = pd.DataFrame(rows, columns=list(SIGNAL_COLUMNS))
    out["at"] = pd.to_datetime(out["at"], utc=True)
    for c in ("principal", "path", "remote_addr"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _none(v: Any) -> Any:
    """A frame cell as a plain value: NaN/NA -> None."""
    return None if v is None or (np.isscalar(v) and pd.isna(v)) else v


def _iso(ts: Any) -> str | None:
    return None if pd.isna(ts) else pd.Timestamp(ts).isoformat()


def cidr_of(addr: str) -> str | None:
    """/24 for IPv4, /64 for IPv6, None when ``addr`` is not an IP (e.g. a service name)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


# --- from access_event ------------------------------------------------------------------


def new_source_ips(access: pd.DataFrame, learn_days: int) -> pd.DataFrame:
    """`new_source_ip` rows of one store's ``access_event`` frame (see `AUDIT_SIGNALS`)."""
    a = access[access["remote_addr"].notna()]
    if a.empty:
        return _rows([])
    ips = pd.Series(a["remote_addr"].unique())
    cidrs = dict(zip(ips, ips.map(cidr_of)))
    a = a.assign(cidr=a["remote_addr"].map(cidrs), first=a["first_at"].fillna(a["day"]))
    a = a[a["cidr"].notna()]
    if a.empty:
        return _rows([])
    per = (
        a.groupby(["principal", "remote_addr"], sort=False)
        .agg(first_at=("first", "min"), count=("count", "sum"), cidr=("cidr", "first"))
        .reset_index()
    )
    per["learn_end"] = per.groupby("principal")["first_at"].transform("min") + pd.Timedelta(days=learn_days)
    known = per[per["first_at"] < per["learn_end"]]
    new = per[per["first_at"] >= per["learn_end"]]
    known_cidrs = set(zip(known["principal"], known["cidr"]))
    known_ips = known.groupby("principal")["remote_addr"].nunique()
    return _rows([
        {
            "signal": "new_source_ip", "principal": r.principal, "path": None, "remote_addr": r.remote_addr,
            "at": r.first_at, "count": int(r.count),
            "detail": {
                "cidr": r.cidr, "new_cidr": (r.principal, r.cidr) not in known_cidrs,
                "known_ips": int(known_ips.get(r.principal, 0)), "learn_days": learn_days,
                "learn_end": _iso(r.learn_end),
            },
        }
        for r in new.itertuples(index=False)
    ])


def daily_path_volume(access: pd.DataFrame, window: int, min_history: int) -> pd.DataFrame:
    """Per path and day: requests, baseline (mean of the previous ``window`` days) and ratio.

    Days without requests count as zero from the path's first day to the last
    day of the log; there is no baseline before ``min_history`` days of history.
    """
    cols = ["path", "day", "count", "baseline", "ratio"]
    if access.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    daily = access.groupby(["path", "day"])["count"].sum()
    pv = daily.unstack("day", fill_value=0).astype(float)
    days = pd.date_range(pv.columns.min(), pv.columns.max(), freq="D")
    pv = pv.reindex(columns=days, fill_value=0.0)
    first = daily.reset_index().groupby("path")["day"].min()
    before_first = pd.DataFrame(
        np.asarray(days)[None, :] < first.reindex(pv.index).to_numpy()[:, None],
        index=pv.index, columns=days,
    )
    pv = pv.mask(before_first)
    base = pv.T.shift(1).rolling(window, min_periods=min_history).mean().T
    out = pd.DataFrame({"count": pv.stack(), "baseline": base.stack(future_stack=True)}).reset_index()
    out.columns = cols[:4]
    out["ratio"] = out["count"] / out["baseline"].clip(lower=1.0)
    return out


def volume_spikes(access: pd.DataFrame, factor: float, window: int, min_history: int,
                  min_count: int) -> pd.DataFrame:
    """`volume_spike` rows of one store's ``access_event`` frame (see `AUDIT_SIGNALS`).

    Only paths with a day of at least ``min_count`` requests can spike, so the
    baseline is computed for those alone (the dense path x day grid of every
    path would grow with the inventory).
    """
    if access.empty:
        return _rows([])
    total = access.groupby("path", sort=False)["count"].sum()
    access = access[access["path"].isin(total.index[total >= min_count])]
    busiest = access.groupby(["path", "day"], sort=False)["count"].sum().groupby(level="path", sort=False).max()
    access = access[access["path"].isin(busiest.index[busiest >= min_count])]
    vol = daily_path_volume(access, window, min_history)
    if vol.empty:
        return _rows([])
    hit = vol[vol["baseline"].notna() & (vol["count"] >= min_count) & (vol["ratio"] > factor)]
    if hit.empty:
        return _rows([])
    top = (
        access.groupby(["path", "day", "principal"])["count"].sum().reset_index()
        .sort_values("count", ascending=False)
    )
    rows = []
    for r in hit.itertuples(index=False):
        who = top[(top["path"] == r.path) & (top["day"] == r.day)].head(5)
        rows.append({
            "signal": "volume_spike", "principal": who["principal"].iloc[0] if len(who) else None,
            "path": r.path, "remote_addr": None, "at": r.day, "count": int(r.count),
            "detail": {
                "baseline": round(float(r.baseline), 2), "ratio": round(float(r.ratio), 2),
                "factor": factor, "window_days": window,
                "top_principals": {p: int(c) for p, c in zip(who["principal"], who["count"])},
            },
        })
    return _rows(rows)


# --- from access_hour, login_hour, token_issue ----------------------------------------------


def off_hours(hours: pd.DataFrame, timezone: str, business_hours: tuple[int, int],
              weekends: bool) -> pd.DataFrame:
    """`off_hours_human` rows of one store's ``access_hour`` frame: one per principal and local day."""
    if hours.empty:
        return _rows([])
    local = hours["hour"].dt.tz_convert(timezone)
    h = local.dt.hour
    off = (h < business_hours[0]) | (h >= business_hours[1])
    if weekends:
        off |= local.dt.day_of_week >= 5
    x = hours[off].assign(local_day=local[off].dt.strftime("%Y-%m-%d"), local_hour=h[off])
    rows = []
    for (principal, day), g in x.groupby(["principal", "local_day"], sort=True):
        paths = g.groupby("path")["count"].sum().sort_values(ascending=False)
        sources = g["remote_addr"].dropna()
        rows.append({
            "signal": "off_hours_human", "principal": principal, "path": paths.index[0],
            "remote_addr": g["remote_addr"].iloc[0], "at": g["hour"].min(), "count": int(g["count"].sum()),
            "detail": {
                "local_day": day, "timezone": timezone, "business_hours": list(business_hours),
                "local_hours": sorted({int(v) for v in g["local_hour"]}),
                "methods": sorted(set(g["auth_method"])),
                "paths": {p: int(c) for p, c in paths.head(10).items()},
                "remote_addrs": sorted(set(sources))[:10],
            },
        })
    return _rows(rows)


def failed_login_bursts(logins: pd.DataFrame, burst: int) -> pd.DataFrame:
    """`failed_logins` rows of one store's ``login_hour`` frame: sources with a burst in an hour."""
    if logins.empty:
        return _rows([])
    logins = logins.assign(source=logins["remote_addr"].fillna("-"))
    agg = logins.groupby(["source", "hour"]).agg(failed=("failed", "sum"), ok=("succeeded", "sum")).reset_index()
    rows = []
    for r in agg[agg["failed"] >= burst].itertuples(index=False):
        part = logins[(logins["source"] == r.source) & (logins["hour"] == r.hour)]
        users = part.groupby("user")["failed"].sum().sort_values(ascending=False)
        mounts = sorted(set(part["mount"]))
        rows.append({
            "signal": "failed_logins", "principal": users.index[0] if len(users) else None,
            "path": f"auth/{mounts[0]}/login" if len(mounts) == 1 else "auth/*/login",
            "remote_addr": None if r.source == "-" else r.source, "at": r.hour, "count": int(r.failed),
            "detail": {
                "threshold": burst, "users": {u: int(c) for u, c in users.head(20).items()},
                "mounts": mounts, "succeeded_same_hour": int(r.ok),
            },
        })
    return _rows(rows)


def long_ttl_tokens(tokens: pd.DataFrame, long_ttl_hours: int) -> pd.DataFrame:
    """`long_ttl_token` rows of one store's ``token_issue`` frame: one per row above the threshold."""
    if tokens.empty:
        return _rows([])
    ttl = pd.to_numeric(tokens["ttl_seconds"], errors="coerce")
    long = tokens[tokens["non_expiring"].fillna(False).astype(bool) | ttl.gt(long_ttl_hours * 3600)]
    return _rows([
        {
            "signal": "long_ttl_token", "principal": r.principal, "path": r.path, "remote_addr": r.remote_addr,
            "at": r.first_at if pd.notna(r.first_at) else r.day, "count": int(r.count),
            "detail": {
                "ttl_hours": round(r.ttl_seconds / 3600, 2) if pd.notna(r.ttl_seconds) else None,
                "non_expiring": bool(r.non_expiring), "threshold_hours": long_ttl_hours,
                "policies": list(r.policies), "token_display_name": _none(r.display_name),
                "accessor_hmacs": list(r.accessor_hmacs),
            },
        }
        for r in long.itertuples(index=False)
    ])


# --- from kv_version_read facts and the KV metadata -----------------------------------------

_KV2_PATH = r"^(?P<mount>.+?/)(?:data|metadata)/(?P<rest>.*)$"


def stale_against_metadata(version_reads: pd.DataFrame, secrets: pd.DataFrame) -> pd.DataFrame:
    """`stale_version_read` rows from the KV metadata: reads of a version older than the current one.

    General class: a consumer that has not picked up a rotation reads a version
    below the secret's current version, whenever the rotation happened (before
    the log window too). The current version is the KV v2 metadata's
    (``secret.current_version``), not the newest one the log happens to show.
    A read counts once the current version existed (last read after the
    metadata's ``updated_at``, or that time unknown): a consumer that read v1
    while v1 was current and moved to v2 after the rotation is not stale.
    Rows keep the ``store`` and ``source`` columns of the facts.
    """
    cols = ["store", "source", *SIGNAL_COLUMNS]
    kv = secrets[secrets["current_version"].notna()] if "current_version" in secrets.columns else secrets.iloc[0:0]
    if version_reads.empty or kv.empty:
        return pd.DataFrame(columns=cols)
    m = version_reads["path"].astype(str).str.extract(_KV2_PATH)
    reads = version_reads.assign(key=(m["mount"] + m["rest"]).where(m["mount"].notna()))
    current = kv[["store", "path", "current_version", "updated_at"]].rename(columns={"path": "key"}) \
        .drop_duplicates(["store", "key"])
    j = reads.merge(current, on=["store", "key"], how="inner")
    rows = []
    for r in j.itertuples(index=False):
        now = int(r.current_version)
        since = pd.to_datetime(r.updated_at, utc=True) if pd.notna(r.updated_at) else None
        last = r.detail.get("last_read_at") or {}
        old = {int(v): int(c) for v, c in (r.detail.get("versions") or {}).items()
               if int(v) < now and (since is None or last.get(v) is None
                                    or pd.to_datetime(last[v], utc=True) > since)}
        if not old:
            continue
        rows.append({
            "store": r.store, "source": r.source, "signal": "stale_version_read", "principal": r.principal,
            "path": r.path, "remote_addr": r.remote_addr, "at": r.at, "count": sum(old.values()),
            "detail": {"version_read": min(old), "current_version": now, "current_from": "kv_metadata",
                       "last_at": r.detail.get("last_at")},
        })
    out = pd.DataFrame(rows, columns=cols)
    out["at"] = pd.to_datetime(out["at"], utc=True)
    return out


# --- all of them over a snapshot ------------------------------------------------------------


def _per_store(df: pd.DataFrame, *counts: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """One store's rows at a time, its ``counts`` columns numeric (an object column would
    make every group-by fall back to Python)."""
    if not len(df):
        return iter(())
    df = df.assign(**{c: pd.to_numeric(df[c], errors="coerce").fillna(0) for c in counts})
    return iter(df.groupby("store", sort=True))


def judged_signals(frame: Callable[[str], pd.DataFrame], thresholds: Thresholds,
                   business_timezone: str) -> pd.DataFrame:
    """Every judged signal of a snapshot (``frame`` gives its tables), per store, with row ids."""
    t = thresholds
    parts: list[tuple[str, pd.DataFrame]] = []
    for store, access in _per_store(frame("access_event"), "count"):
        parts.append((store, new_source_ips(access, t.new_source_learn_days)))
        parts.append((store, volume_spikes(access, t.volume_spike_factor, t.volume_spike_window_days,
                                           t.volume_spike_min_history_days, t.volume_spike_min_count)))
    for store, hours in _per_store(frame("access_hour"), "count"):
        parts.append((store, off_hours(hours, business_timezone, tuple(t.business_hours), t.off_hours_weekends)))
    for store, logins in _per_store(frame("login_hour"), "succeeded", "failed"):
        parts.append((store, failed_login_bursts(logins, t.failed_login_burst)))
    for store, tokens in _per_store(frame("token_issue"), "count"):
        parts.append((store, long_ttl_tokens(tokens, t.long_ttl_token_hours)))
    out = []
    for store, p in parts:
        if p.empty:
            continue
        ats = [None if pd.isna(a) else a.to_pydatetime() for a in p["at"]]
        ids = AuditSignal.unique_ids(store, zip(p["signal"], p["principal"], p["path"], p["remote_addr"], ats))
        out.append(p.assign(id=ids, store=store, source="audit")[JUDGED_COLUMNS])
    if not out:
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in JUDGED_COLUMNS})
        empty["at"] = pd.Series(dtype="datetime64[ns, UTC]")
        return empty
    return pd.concat(out, ignore_index=True)
