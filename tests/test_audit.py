"""Audit-log collector: real OpenBao audit logs, CloudTrail files, signals, notebook.

Real logs come from traffic driven at the session's OpenBao dev server (its
two file audit devices). The collector writes facts and measures; `signals`
adds the anomalies the AUD checks judge from them under the engagement's
thresholds, as ``posture assess`` does. History-dependent signals (new source IP after the
learning period, volume spikes, off-hours humans) use the synthetic Vault
log generator, whose entries follow the format asserted against the real log
here. Every test that writes output checks that no canary leaked.
"""

from __future__ import annotations

import gzip
import shutil
import textwrap
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pandas as pd
import pytest
from conftest import CANARIES, assert_no_canary

from collectors import audit_analysis as aa
from checks.audit_signals import cidr_of, judged_signals
from collectors.audit import AUDIT_TABLES, AuditCollector, AuditLogS3Guard
from collectors.base import CollectContext
from posture.model.acl import parse_pattern
from posture.model.engagement import Engagement
from posture.model.errors import ReadOnlyViolation
from posture.demo.estates.audit import (
    cloudtrail_records,
    drive_openbao_traffic,
    write_cloudtrail,
    write_vault_audit_log,
)
from posture.model.vocabulary import AUDIT_SIGNALS
from posture.model.records import AuditSignal, PolicyRule
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink
from posture.model.thresholds import Thresholds

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
PREFIX = "t7"


class Collected(SnapshotSink):
    """A collector's sink and the engagement it ran for (whose thresholds `signals` judges with)."""

    def __init__(self, engagement: Engagement) -> None:
        super().__init__()
        self.engagement = engagement


def collect(
    kind: str, patterns: list[str], *, thresholds: dict | None = None, tz: str = "UTC",
    extra: dict | None = None,
) -> Collected:
    """Run the audit collector on one store and return its sink."""
    key = "audit_logs" if kind == "vault" else "cloudtrail_logs"
    store = {"name": "core" if kind == "vault" else "main", key: patterns, **(extra or {})}
    eng = Engagement.model_validate(
        {"client": "acme", "stores": {kind: [store]}, "thresholds": thresholds or {}, "business_timezone": tz}
    )
    sink = Collected(eng)
    ctx = CollectContext(engagement=eng, sink=sink, fingerprint=lambda v: "x", as_of=datetime.now(timezone.utc))
    AuditCollector(getattr(eng.stores, kind)[0], ctx).run()
    return sink


def write_snapshot(sink: SnapshotSink, dest: Path) -> Path:
    now = datetime.now(timezone.utc)
    sink.write(dest, Manifest(client="acme", quarter="2026-Q4", engagement_sha256="", started_at=now, finished_at=now))
    return dest


def judged(frame, thresholds: Thresholds, tz: str) -> list[AuditSignal]:
    """The AUD checks' judged signals of a snapshot, as records."""
    j = judged_signals(frame, thresholds, tz)
    return [AuditSignal(id=r.id, store=r.store, source="audit", signal=r.signal, principal=r.principal,
                        path=r.path, remote_addr=r.remote_addr, at=None if pd.isna(r.at) else r.at.to_pydatetime(),
                        count=int(r.count), detail=r.detail) for r in j.itertuples(index=False)]


def signals(sink: Collected, name: str | None = None) -> list:
    """Signal rows as an assessment sees them: the collector's facts plus the judged anomalies."""
    snap = Snapshot.from_records([r for t in AUDIT_TABLES for r in sink.rows(t)])
    rows = sink.rows("audit_signal") + judged(snap.frame, sink.engagement.thresholds,
                                              sink.engagement.business_timezone)
    return [s for s in rows if name is None or s.signal == name]


# --- Real OpenBao traffic -------------------------------------------------------------


@pytest.fixture(scope="module")
def real(openbao):
    """Traffic driven once at the real server; its audit log path; the summary."""
    summary = drive_openbao_traffic(openbao.address, openbao.root_token, CANARIES, prefix=PREFIX)
    return openbao, summary


@pytest.fixture(scope="module")
def real_sink(real) -> SnapshotSink:
    server, _ = real
    return collect("vault", [str(server.audit_log("file"))], thresholds={"long_ttl_token_hours": 24})


def test_real_log_is_hmacd_and_has_no_canary(real):
    server, summary = real
    data = server.audit_log("file").read_bytes()
    assert summary.reads >= 10 and b"hmac-sha256:" in data
    for c in CANARIES:
        assert c.encode() not in data  # the server itself never logged a value


def test_real_access_inventory(real, real_sink):
    _, s = real
    rows = real_sink.rows("access_event")
    app = f"{s.approle_mount}-payments-api"
    reads = [r for r in rows if r.principal == app and r.path == f"{s.kv_mount}/data/prod/payments/stripe-api-key"]
    assert {r.remote_addr for r in reads} == {"127.0.0.1", s.second_source}
    assert sum(r.count for r in reads) == 6
    assert all(r.auth_method == "approle" and r.operation == "read" for r in reads)
    assert reads[0].resource == f"vault:core:{s.kv_mount}/prod/payments/stripe-api-key"
    alice = [r for r in rows if r.principal == f"{s.userpass_mount}-alice"]
    assert {r.auth_method for r in alice} == {"userpass"}
    assert any(r.operation == "list" for r in alice)
    la = aa.last_access(pd.DataFrame([r.model_dump() for r in rows]))
    assert f"vault:core:{s.kv_mount}/prod/payments/stripe-api-key" in set(la["resource"])
    log = real_sink.rows("audit_log")[0]
    assert log.malformed == 0 and log.events and log.lines == log.events + log.skipped


def test_real_denied_reads(real, real_sink):
    _, s = real
    denied = {(x.principal, x.path): x for x in signals(real_sink, "denied")}
    alice = f"{s.userpass_mount}-alice"
    assert (alice, f"{s.kv_mount}/data/staging/payments/db-password") in denied
    assert (alice, f"{s.kv_mount}/data/dev/shared/api-key") in denied
    assert (alice, f"{s.kv_mount}/data/prod/payments/db-password") not in denied


def test_real_failed_login_burst(real, real_sink):
    _, s = real
    bursts = signals(real_sink, "failed_logins")
    mine = [b for b in bursts if b.remote_addr == s.failed_login_source]
    assert mine and mine[0].count >= s.failed_logins and mine[0].detail["users"]["bob"] >= s.failed_logins
    assert set(mine[0].detail["users"]) == {"bob"} and mine[0].detail["succeeded_same_hour"] == 0
    # alice's single successful login is no burst.
    assert not [b for b in bursts if "alice" in b.detail["users"]]
    # Above the threshold only: with a higher burst limit it does not fire.
    server, _ = real
    calm = collect("vault", [str(server.audit_log("file"))], thresholds={"failed_login_burst": 50})
    assert not signals(calm, "failed_logins")


def test_real_token_ttls_root_use_and_drift(real, real_sink):
    _, s = real
    longs = {x.detail["token_display_name"] for x in signals(real_sink, "long_ttl_token")}
    assert f"token-{PREFIX}-long" in longs
    assert f"token-{PREFIX}-short" not in longs and f"token-{PREFIX}-revoked" not in longs
    roots = signals(real_sink, "root_token_use")
    assert any(r.principal == "token" and r.remote_addr == "127.0.0.1" for r in roots)
    assert not any(r.principal.endswith("-alice") for r in roots)
    changes = {(x.signal, x.path) for x in real_sink.rows("audit_signal")}
    assert ("policy_change", f"sys/policies/acl/{PREFIX}-app-read") in changes
    assert ("auth_change", f"auth/{s.userpass_mount}/users/bob") in changes
    assert ("auth_change", f"sys/auth/{s.userpass_mount}") in changes
    assert not any(sig == "policy_change" and "login" in path for sig, path in changes)


def test_real_stale_version_and_revocation(real, real_sink):
    _, s = real
    stale = [x for x in signals(real_sink, "stale_version_read") if x.path == s.rotated_path]
    assert stale and stale[0].principal == s.stale_reader
    assert stale[0].detail["version_read"] == 1 and stale[0].detail["current_version"] >= 2
    # The fresh reads of the rotated secret by alice are not stale.
    assert not [x for x in stale if x.principal.endswith("-alice")]
    revs = [x for x in signals(real_sink, "metric:revocation_to_last_use") if x.path == "vault_token_accessor"]
    presented = [x for x in revs if x.detail["attempts_after"] >= 1]
    assert presented and presented[0].detail["seconds"] >= 0
    assert presented[0].detail["successes_after"] == 0
    assert not signals(real_sink, "used_after_revocation")


def test_real_least_privilege(real, real_sink):
    _, s = real
    usage = {x.path: x for x in signals(real_sink, "policy_usage")}
    broad = usage[f"{PREFIX}-ci-broad"]
    assert {u["path"] for u in broad.detail["used"]} == {
        f"{s.kv_mount}/data/prod/payments/stripe-api-key", f"{s.kv_mount}/data/prod/payments/db-password"
    }
    rules = [
        PolicyRule(id=f"r{i}", store="core", source="vault", policy_id=p, policy=p, path=path, capabilities=caps)
        for i, (p, path, caps) in enumerate(
            [
                (f"{PREFIX}-ci-broad", f"{s.kv_mount}/data/*", ["create", "read", "update", "delete", "list"]),
                (f"{PREFIX}-ci-broad", f"{s.kv_mount}/metadata/*", ["list", "read", "delete"]),
                ("never-used", "secret/data/*", ["read"]),
            ]
        )
    ]
    sig = pd.DataFrame([x.model_dump() for x in real_sink.rows("audit_signal")])
    lp = aa.least_privilege(sig, pd.DataFrame([r.model_dump() for r in rules])).set_index("rule_path")
    data_rule = lp.loc[f"{s.kv_mount}/data/*"]
    assert data_rule["used"] == ["read"] and set(data_rule["unused"]) == {"create", "update", "delete", "list"}
    assert data_rule["suggestion"].startswith("narrow")
    assert lp.loc[f"{s.kv_mount}/metadata/*"]["suggestion"].startswith("remove rule")
    assert "unused in the period" in lp.loc["secret/data/*"]["suggestion"]


def test_real_metrics(real_sink):
    fetch = signals(real_sink, "metric:secret_fetch_error_rate")[0].detail
    assert fetch["errors"] >= 3 and fetch["denied"] >= 2 and 0 < fetch["error_rate"] < 1
    rot = signals(real_sink, "metric:failed_auth_rate_around_rotation")[0].detail
    assert rot["rotations"] >= 1 and rot["failed_in_window"] >= 6


def _tz_where(hour_utc: datetime, business: bool) -> str:
    """An IANA zone in which ``hour_utc`` is (or is not) within 7-20 local."""
    for off in range(-12, 15):
        name = f"Etc/GMT{'+' if off <= 0 else '-'}{abs(off)}" if off else "UTC"
        h = hour_utc.astimezone(ZoneInfo(name)).hour
        if (7 <= h < 20) == business and (7 <= (hour_utc + timedelta(hours=1)).astimezone(ZoneInfo(name)).hour < 20) == business:
            return name
    raise AssertionError("no zone found")


def test_real_off_hours_human_depends_on_business_timezone(real, real_sink):
    server, s = real
    alice = f"{s.userpass_mount}-alice"
    first = min(r.first_at for r in real_sink.rows("access_event") if r.principal == alice)
    weekdays = {"off_hours_weekends": False}
    night = collect("vault", [str(server.audit_log("file"))], tz=_tz_where(first, business=False), thresholds=weekdays)
    day = collect("vault", [str(server.audit_log("file"))], tz=_tz_where(first, business=True), thresholds=weekdays)
    assert any(x.principal == alice for x in signals(night, "off_hours_human"))
    assert not any(x.principal == alice for x in signals(day, "off_hours_human"))
    # Services are never "off hours": only human auth methods count.
    assert not any("approle" in (x.principal or "") for x in signals(night, "off_hours_human"))


def test_mirror_audit_device_is_not_double_counted(real, real_sink):
    server, _ = real
    both = collect("vault", [str(server.audit_log("file")), str(server.audit_log("file2"))])
    logs = sorted(both.rows("audit_log"), key=lambda r: r.path)
    assert logs[1].duplicate_of == str(server.audit_log("file")) and logs[0].duplicate_of is None
    one = collect("vault", [str(server.audit_log("file"))])
    total = lambda sink: sum(r.count for r in sink.rows("access_event"))
    assert total(both) == total(one)


def test_malformed_lines_counted_and_gzip_read(real, tmp_path: Path):
    server, _ = real
    lines = server.audit_log("file").read_bytes().splitlines(keepends=True)
    bad = [b"not json at all\n", b'{"time":"2026-11-23T10:00:00Z","type":"response","request":\n', b"\x00\xff\xfe\n"]
    mixed = lines[:10] + bad + lines[10:]
    plain = tmp_path / "mixed.log"
    plain.write_bytes(b"".join(mixed))
    gz = tmp_path / "rotated" / "audit.log.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(b"".join(lines)))
    a = collect("vault", [str(plain)])
    log = a.rows("audit_log")[0]
    assert log.malformed == 3 and log.malformed_lines == [11, 12, 13]
    b = collect("vault", [str(gz.parent)])
    glog = b.rows("audit_log")[0]
    assert glog.malformed == 0 and glog.events == log.events and glog.path.endswith(".gz")
    assert sum(r.count for r in a.rows("access_event")) == sum(r.count for r in b.rows("access_event"))
    # A truncated gzip (rotation cut mid-write): the readable part counts, the tail is malformed.
    cut = tmp_path / "cut" / "audit.log.gz"
    cut.parent.mkdir()
    whole = gzip.compress(b"".join(lines))
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    t = collect("vault", [str(cut)])
    tlog = t.rows("audit_log")[0]
    assert tlog.malformed >= 1 and 0 < tlog.events < log.events and not t.gaps()


def test_missing_log_is_a_coverage_gap(tmp_path: Path):
    sink = collect("vault", [str(tmp_path / "nope" / "*.log")])
    gaps = sink.gaps()
    assert len(gaps) == 1 and gaps[0].reason == "not_found" and "access_event" in gaps[0].tables
    assert not sink.rows("access_event")


def test_progress_bar_counts_bytes(real):
    from rich.progress import Progress

    server, _ = real
    eng = Engagement.model_validate({"client": "acme", "stores": {"vault": [{"name": "core", "audit_logs": [str(server.audit_log("file"))]}]}})
    with Progress(disable=True) as progress:
        ctx = CollectContext(engagement=eng, sink=SnapshotSink(), fingerprint=lambda v: "x",
                             as_of=datetime.now(timezone.utc), progress=progress)
        AuditCollector(eng.stores.vault[0], ctx).run()
        task = progress.tasks[0]
        assert task.total == server.audit_log("file").stat().st_size and task.completed == task.total


# --- Synthetic history (format checked against the real log) --------------------------


def test_synthetic_entries_match_real_format(real, tmp_path: Path):
    server, _ = real
    real_resp = next(
        orjson.loads(line) for line in server.audit_log("file").read_bytes().splitlines()
        if b'"type":"response"' in line and b'"remote_address"' in line and b'"policy_results"' in line
    )
    path = tmp_path / "syn.log"
    write_vault_audit_log(path, CANARIES, START, days=2, events_per_day=5, anomalies=False)
    syn = next(orjson.loads(line) for line in path.read_bytes().splitlines() if b'"type":"response"' in line)
    assert set(syn) <= set(real_resp) | {"error"}
    for section in ("auth", "request"):
        assert set(syn[section]) <= set(real_resp[section]) | {"metadata", "entity_id", "token_ttl", "client_token_accessor"}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("synthetic")
    write_vault_audit_log(root / "anomalies" / "vault.log", CANARIES, START, days=21, events_per_day=100)
    write_vault_audit_log(root / "calm" / "vault.log", CANARIES, START, days=21, events_per_day=100, anomalies=False)
    return root / "anomalies" / "vault.log", root / "calm" / "vault.log"


def test_history_signals_fire_on_anomalies_only(synthetic):
    noisy, calm = synthetic
    a = collect("vault", [str(noisy)])
    c = collect("vault", [str(calm)])
    last = START + timedelta(days=20)
    new_ip = signals(a, "new_source_ip")
    assert [(x.principal, x.remote_addr, x.detail["new_cidr"]) for x in new_ip] == [
        ("approle-payments-api", "203.0.113.50", True)
    ]
    spikes = signals(a, "volume_spike")
    assert [(x.path, x.at.date()) for x in spikes] == [
        ("secret/data/prod/payments/db-password", (last - timedelta(days=2)).date())
    ]
    assert spikes[0].detail["ratio"] > 3
    off = signals(a, "off_hours_human")
    assert {(x.principal, x.detail["local_hours"][0]) for x in off} >= {("userpass-alice", 3)}
    assert all(x.at.date() == last.date() for x in off)
    bursts = signals(a, "failed_logins")
    assert [(x.remote_addr, x.count) for x in bursts] == [("198.51.100.7", 8)]
    assert [x.principal for x in signals(a, "denied")] == ["approle-web"]
    assert [x.path for x in signals(a, "policy_change")] == ["sys/policies/acl/payments-prod-read"]
    for name in ("new_source_ip", "volume_spike", "off_hours_human", "failed_logins", "denied", "policy_change"):
        assert not signals(c, name), name


def test_spike_factor_threshold_is_respected(synthetic):
    noisy, _ = synthetic
    assert not signals(collect("vault", [str(noisy)], thresholds={"volume_spike_factor": 50}), "volume_spike")


def test_orphaned_secrets_join(synthetic):
    noisy, _ = synthetic
    sink = collect("vault", [str(noisy)])
    access = pd.DataFrame([r.model_dump() for r in sink.rows("access_event")])
    secrets = pd.DataFrame(
        [
            {"id": "vault:core:secret/prod/payments/db-password", "store": "core", "path": "secret/prod/payments/db-password", "name": "db-password"},
            {"id": "vault:core:secret/prod/orphaned/legacy-batch-token", "store": "core", "path": "secret/prod/orphaned/legacy-batch-token", "name": "legacy-batch-token"},
        ]
    )
    out = aa.orphaned_secrets(secrets, access, START + timedelta(days=21), days=90, log_start=START).set_index("id")
    assert not out.loc["vault:core:secret/prod/payments/db-password", "orphaned"]
    assert out.loc["vault:core:secret/prod/orphaned/legacy-batch-token", "orphaned"]
    assert out.loc["vault:core:secret/prod/orphaned/legacy-batch-token", "coverage_days"] == 21


def test_path_helpers():
    assert aa.vault_secret_path("secret/data/prod/db") == "secret/prod/db"
    assert aa.vault_secret_path("secret/metadata/prod/") == "secret/prod/"
    assert aa.vault_secret_path("legacy/prod/db") == "legacy/prod/db"
    assert aa.vault_secret_path("sys/policies/acl/x") is None
    assert aa.vault_secret_path("team/kv/data/app/db", {"team/kv/", "secret/"}) == "team/kv/app/db"
    assert aa.vault_secret_path("legacy/data/x", {"legacy/x/"}) == "legacy/x"  # unknown mount: heuristic
    assert parse_pattern("secret/data/+/payments/*").matches("secret/data/prod/payments/db")
    assert not parse_pattern("secret/data/+/payments/*").matches("secret/data/prod/web/db")
    assert parse_pattern("secret/data/prod/db").matches("secret/data/prod/db")
    assert not parse_pattern("secret/data/prod/db").matches("secret/data/prod/db2")
    assert cidr_of("10.1.2.3") == "10.1.2.0/24" and cidr_of("secretsmanager.amazonaws.com") is None
    assert set(AUDIT_SIGNALS) >= {
        "new_source_ip", "volume_spike", "off_hours_human", "denied", "failed_logins", "long_ttl_token",
        "root_token_use", "policy_change", "auth_change", "stale_version_read", "policy_usage",
    }


# --- CloudTrail ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trail(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cloudtrail")
    write_cloudtrail(root / "noisy", cloudtrail_records(CANARIES, START))
    write_cloudtrail(root / "calm", cloudtrail_records(CANARIES, START, anomalies=False), compress=False)
    return root / "noisy", root / "calm"


def test_cloudtrail_signals(trail, tmp_path: Path):
    noisy, calm = trail
    a = collect("aws", [str(noisy)])
    c = collect("aws", [str(calm) + "/**/*.json"])
    role = "arn:aws:iam::123456789012:role/payments-app"
    got = Counter(x.signal for x in signals(a))
    for name in ("new_source_ip", "volume_spike", "off_hours_human", "denied", "failed_logins", "root_token_use",
                 "long_ttl_token", "policy_change", "auth_change", "audit_change", "stale_version_read",
                 "metric:revocation_to_last_use", "metric:secret_fetch_error_rate", "policy_usage"):
        assert got[name] >= 1, name
    assert [(x.principal, x.remote_addr) for x in signals(a, "new_source_ip")] == [(role, "203.0.113.77")]
    assert [x.principal for x in signals(a, "denied")] == ["arn:aws:iam::123456789012:role/reporting"]
    assert [x.principal for x in signals(a, "stale_version_read")] == ["arn:aws:iam::123456789012:role/legacy-batch"]
    assert signals(a, "off_hours_human")[0].detail["methods"] == ["sso"]
    rev = signals(a, "metric:revocation_to_last_use")[0].detail
    assert rev["credential_hmac"] == "AKIAEXAMPLEOLDKEY1" and rev["attempts_after"] == 1 and rev["seconds"] == 3600
    usage = {x.principal: x for x in signals(a, "policy_usage")}
    assert usage[role].detail["used"][0]["capabilities"] == ["GetSecretValue", "RotateSecret"]
    for name in ("new_source_ip", "volume_spike", "off_hours_human", "denied", "failed_logins", "root_token_use",
                 "long_ttl_token", "policy_change", "audit_change", "stale_version_read"):
        assert not signals(c, name), name
    assert sum(r.events or 0 for r in c.rows("audit_log")) > 300
    out = write_snapshot(a, tmp_path / "snap")
    assert assert_no_canary(out) >= 3  # the PutParameter value was never copied


def test_cloudtrail_malformed_and_json_lines(tmp_path: Path):
    (tmp_path / "broken.json").write_bytes(b'{"Records": [ {"eventTime": ')
    records = cloudtrail_records(CANARIES, START, days=2, anomalies=False)
    lines = [orjson.dumps(r) for r in records] + [b"{oops", orjson.dumps({"eventName": "NoTime"})]
    (tmp_path / "lake.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    sink = collect("aws", [str(tmp_path / "*.json*")])
    logs = {Path(r.path).name: r for r in sink.rows("audit_log")}
    assert logs["broken.json"].malformed == 1 and logs["broken.json"].events == 0
    assert logs["lake.jsonl"].malformed == 2 and logs["lake.jsonl"].events == len(records)


def test_cloudtrail_from_s3_through_the_guard(trail, aws_env):
    import boto3

    noisy, _ = trail
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="acme-trail")
    files = sorted(p for p in noisy.rglob("*.gz"))
    for p in files:
        s3.put_object(Bucket="acme-trail", Key=str(p.relative_to(noisy)), Body=p.read_bytes())
    sink = collect("aws", ["s3://acme-trail/AWSLogs/"])
    assert len(sink.rows("audit_log")) == len(files) and not sink.gaps()
    local = collect("aws", [str(noisy)])
    assert Counter(x.signal for x in signals(sink)) == Counter(x.signal for x in signals(local))
    missing = collect("aws", ["s3://no-such-bucket/x/"])
    assert [g.reason for g in missing.gaps()] == ["not_found"]
    guard = AuditLogS3Guard()
    client = guard.install(boto3.client("s3", region_name="us-east-1"))
    with pytest.raises(ReadOnlyViolation):
        client.put_object(Bucket="acme-trail", Key="x", Body=b"x")
    with pytest.raises(ReadOnlyViolation):
        client.delete_object(Bucket="acme-trail", Key=files[0].name)


# --- End to end ------------------------------------------------------------------------


def test_posture_collect_end_to_end(real, workspace: Path, monkeypatch: pytest.MonkeyPatch):
    from posture.cli import main

    server, s = real
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    eng = workspace / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(
        textwrap.dedent(
            f"""\
            client: acme
            stores:
              vault:
                - name: core
                  address: {server.address}
                  audit_logs: ["{server.workdir}/*.log"]
            thresholds:
              long_ttl_token_hours: 24
            """
        )
    )
    assert main(["collect", "acme", "-q", "2026-Q4", "--store", "core"]) == 0
    snap = Snapshot.load(workspace / "evidence" / "acme" / "2026-Q4" / "snapshot")
    assert snap.manifest.collectors.get("audit") == AuditCollector.version
    ae = snap.frame("access_event")
    assert (ae["principal"] == f"{s.userpass_mount}-alice").any()
    sig = snap.frame("audit_signal")
    names = set(sig["signal"]) | {x.signal for x in judged(snap.frame, Thresholds(long_ttl_token_hours=24), "UTC")}
    assert {"denied", "failed_logins", "long_ttl_token", "policy_change"} <= names
    assert len(snap.frame("audit_log")) == 2
    assert assert_no_canary(workspace) > 5


def test_notebook_executes(trail, synthetic, tmp_path: Path):
    import papermill as pm

    noisy, _ = trail
    vault_log, _ = synthetic
    sink = collect("vault", [str(vault_log)])
    aws = collect("aws", [str(noisy)])
    for table in AUDIT_TABLES:
        for r in aws.rows(table):
            sink.add(r)
    snap = write_snapshot(sink, tmp_path / "snapshot")
    from checks.engine import run_assessment
    from checks.export import write_assessment

    loaded = Snapshot.load(snap)  # the notebook judges with the assessment's recorded thresholds
    write_assessment(run_assessment(loaded, None, "2026-10-22"), loaded, tmp_path / "assessment",
                     client="acme", quarter="2026-Q4")
    out = tmp_path / "out" / "audit-activity.ipynb"
    out.parent.mkdir()
    nb = Path(__file__).resolve().parents[1] / "notebooks" / "audit-activity.ipynb"
    pm.execute_notebook(
        str(nb), str(out), kernel_name="python3", progress_bar=False, cwd=str(nb.parent),
        parameters={"client": "acme", "quarter": "2026-Q4", "snapshot_dir": str(snap),
                    "assessment_dir": str(tmp_path / "assessment"), "as_of": "2026-10-22",
                    "thresholds": "{}"},
    )
    text = out.read_text()
    assert "image/png" in text and "volume_spike" in text and "approle-payments-api" in text
    assert assert_no_canary(tmp_path) >= 5
    shutil.rmtree(snap)
