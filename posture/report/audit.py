"""The audit-activity notebook's tables and plots, from the snapshot's audit tables.

The collector records measures (``access_event``, ``access_hour``,
``login_hour``, ``token_issue``) and facts (``audit_signal``: denials, root use,
drift, policy usage, metrics); the anomalies that need a threshold are judged
by `checks.audit_signals.judged_signals` with the thresholds and business
timezone *the assessment recorded*, so the notebook shows the same volume
spikes, off-hours requests and bursts as the AUD findings, never a threshold
of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from checks.audit_signals import JUDGED, daily_path_volume, judged_signals
from collectors import audit_analysis as aa
from posture.model.snapshot import Snapshot
from posture.model.vocabulary import AUDIT_SIGNALS
from posture.report.html import esc
from posture.report.loader import Assessment
from posture.report.plots import plot_counts, plot_histogram, plot_lines, plot_volume

#: The seed-001 anomalies with the detail keys shown for each.
ANOMALIES = (
    ("new_source_ip", ("cidr", "new_cidr", "known_ips")),
    ("volume_spike", ("baseline", "ratio")),
    ("off_hours_human", ("local_day", "local_hours", "methods")),
    ("denied", ("operations", "last_at")),
    ("failed_logins", ("users", "succeeded_same_hour")),
    ("long_ttl_token", ("ttl_hours", "non_expiring", "policies")),
    ("root_token_use", ("last_at",)),
    ("used_after_revocation", ("revoked_at",)),
)
DRIFT = ("policy_change", "auth_change", "audit_change", "mount_change")
LOG_COLUMNS = ["store", "format", "path", "bytes", "lines", "events", "malformed", "duplicate_of",
               "first_at", "last_at"]


@dataclass
class AuditActivity:
    """A snapshot's audit tables with the signals as the assessment judged them."""

    assessment: Assessment
    access: pd.DataFrame
    signals: pd.DataFrame
    logs: pd.DataFrame
    secrets: pd.DataFrame
    policy_rules: pd.DataFrame

    @classmethod
    def load(cls, snapshot_dir: str | Path, assessment: Assessment) -> AuditActivity:
        snap = Snapshot.load(Path(snapshot_dir))
        t = assessment.files.findings
        collected = snap.frame("audit_signal")
        judged = judged_signals(snap.frame, t.thresholds, t.business_timezone)
        parts = [p for p in (collected[~collected["signal"].isin(JUDGED)], judged) if len(p)]
        signals = pd.concat(parts, ignore_index=True) if parts else collected
        return cls(assessment=assessment, access=snap.frame("access_event"), signals=signals,
                   logs=snap.frame("audit_log"), secrets=snap.frame("secret"),
                   policy_rules=snap.frame("policy_rule"))

    def intro_html(self, client: str, quarter: str) -> str:
        a, access = self.assessment, self.access
        requests = int(access["count"].sum()) if len(access) else 0
        return (f"<p>Client <strong>{esc(client)}</strong>, quarter <strong>{esc(quarter)}</strong>, "
                f"data as of {esc(a.as_of)}: {requests} requests in {len(access)} access rows, "
                f"{len(self.signals)} signal rows, from {len(self.logs)} log inputs.</p>")

    # --- inputs and access ------------------------------------------------------------

    def inputs(self) -> pd.DataFrame:
        """Every audit log read, with its line counts."""
        return self.logs[LOG_COLUMNS].sort_values(["store", "path"])

    def input_gaps(self) -> pd.DataFrame:
        """The assessment's coverage gaps that left the audit tables incomplete."""
        gaps = self.assessment.list("coverage_gaps")
        hit = gaps["tables"].map(lambda t: "access_event" in t)
        return gaps[hit.astype(bool)][["store", "scope", "operation", "reason", "detail"]]

    def access_inventory(self) -> pd.DataFrame:
        return aa.access_inventory(self.access)

    def requests_per_day(self) -> Figure | None:
        if self.access.empty:
            return None
        daily = self.access.groupby("day")[["count", "errors", "denied"]].sum()
        daily["ok"] = daily["count"] - daily["errors"]
        return plot_lines(daily[["ok", "errors", "denied"]], "Requests per day", "requests", area=True)

    def requests_by_auth_method(self) -> Figure | None:
        if self.access.empty:
            return None
        by = self.access.pivot_table(index="day", columns="auth_method", values="count", aggfunc="sum")
        return plot_lines(by.fillna(0), "Requests per day by auth method", "requests")

    def volume_against_baseline(self, n: int = 4) -> Figure | None:
        """The ``n`` busiest (store, path) pairs: daily requests, spike line, flagged spike days."""
        if self.access.empty:
            return None
        t = self.assessment.thresholds
        spikes = self.signals[self.signals["signal"].eq("volume_spike")]
        busiest = self.access.groupby(["store", "path"])["count"].sum().sort_values(ascending=False).head(n)
        panels = []
        for store, path in busiest.index:
            here = self.access[self.access["store"].eq(store) & self.access["path"].eq(path)]
            vol = daily_path_volume(here, t.volume_spike_window_days, t.volume_spike_min_history_days)
            hit = spikes[spikes["store"].eq(store) & spikes["path"].eq(path)]
            panels.append((f"{store}: {path}", vol.set_index("day"),
                           hit.assign(day=hit["at"]).set_index("day")[["count"]]))
        return plot_volume(panels, t.volume_spike_factor)

    # --- signals ------------------------------------------------------------------------

    def of(self, *names: str) -> pd.DataFrame:
        return self.signals[self.signals["signal"].isin(names)]

    def signal_summary(self) -> pd.DataFrame:
        return aa.signal_summary(self.signals)

    def signal_counts(self) -> Figure:
        """Rows per signal kind; every known kind is drawn, zeros included ("none seen" is evidence)."""
        seen = self.signals["signal"].value_counts()
        counts = seen.reindex(list(AUDIT_SIGNALS), fill_value=0)
        counts = pd.concat([counts, seen.drop(list(AUDIT_SIGNALS), errors="ignore")])
        counts = counts.sort_values(ascending=False, kind="stable")
        title = "Signal rows by kind" + ("" if len(self.signals) else " (no audit data in this snapshot)")
        return plot_counts(counts, title, xlabel="rows", horizontal=True)

    def detail_table(self, rows: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
        """Signal rows with chosen ``detail`` keys as columns (values escaped by `show`)."""
        out = []
        for r in rows.sort_values("at").itertuples(index=False):
            d = r.detail if isinstance(r.detail, dict) else {}
            out.append({"signal": r.signal, "store": r.store, "principal": r.principal, "path": r.path,
                        "source": r.remote_addr, "at": r.at, "count": r.count,
                        **{k: d.get(k) for k in keys}})
        return pd.DataFrame(out)

    def anomalies(self) -> list[tuple[str, str, pd.DataFrame]]:
        """(signal, its meaning, its rows) for each seed-001 anomaly, empty ones included."""
        return [(name, AUDIT_SIGNALS[name], self.detail_table(self.of(name), keys))
                for name, keys in ANOMALIES]

    def drift(self) -> pd.DataFrame:
        return self.detail_table(self.of(*DRIFT), ("operations", "succeeded", "failed"))

    def stale_version_reads(self) -> pd.DataFrame:
        return self.detail_table(self.of("stale_version_read"),
                                 ("version_read", "current_version", "rotated_at", "last_at"))

    # --- least privilege, orphans, metrics -------------------------------------------------

    def policy_usage(self) -> pd.DataFrame:
        """Per policy (or AWS principal), the paths and capabilities its grants were used for."""
        rows = []
        for r in self.of("policy_usage").itertuples(index=False):
            for u in (r.detail or {}).get("used", [])[:15]:
                rows.append({"store": r.store, "policy / principal": r.detail.get("policy"),
                             "path": u["path"], "capabilities used": ", ".join(u["capabilities"]),
                             "requests": u["count"]})
        return pd.DataFrame(rows)

    def least_privilege(self) -> pd.DataFrame:
        """A suggestion per policy rule (Vault collector): remove the unused, narrow the overbroad."""
        if self.policy_rules.empty:
            return pd.DataFrame()
        return aa.least_privilege(self.signals, self.policy_rules)

    def orphaned_secrets(self) -> pd.DataFrame:
        """Secrets without a successful read in the last ``orphaned_secret_days`` (the recorded threshold)."""
        a = self.assessment
        start = self.logs["first_at"].min() if len(self.logs) else None
        orph = aa.orphaned_secrets(self.secrets, self.access, pd.Timestamp(a.as_of, tz="UTC"),
                                   a.thresholds.orphaned_secret_days, start)
        return orph.sort_values(["orphaned", "days_since_read"], ascending=[False, False])

    def last_reads(self) -> pd.DataFrame:
        return aa.last_access(self.access).sort_values("last_read_at")

    def metrics(self) -> pd.DataFrame:
        """The stage-5 rates (failed auth around rotations, secret fetch errors), flattened."""
        m = self.of("metric:failed_auth_rate_around_rotation", "metric:secret_fetch_error_rate")
        return pd.DataFrame([{"store": r.store, "metric": r.signal.removeprefix("metric:"),
                              **{k: v for k, v in (r.detail or {}).items() if not isinstance(v, (list, dict))}}
                             for r in m.itertuples(index=False)])

    def revocations(self) -> pd.DataFrame:
        return self.detail_table(self.of("metric:revocation_to_last_use"),
                                 ("kind", "seconds", "attempts_after", "successes_after",
                                  "last_use_before_at", "last_attempt_after_at"))

    def revocation_hours(self) -> Figure | None:
        rev = self.revocations()
        if rev.empty or not rev["seconds"].notna().any():
            return None
        return plot_histogram(rev["seconds"].dropna() / 3600,
                              "Hours from revocation to last use of the revoked credential", "hours")
