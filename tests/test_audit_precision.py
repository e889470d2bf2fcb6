"""Audit checks on clean look-alikes: refused logins and refused reads are not findings of the wrong class.

One OpenBao-format file audit log (response entries as OpenBao writes them,
HMAC'd values) holds, at 03:00 UTC, a burst of failed userpass logins by carol
(no client token), a policy denial of a service token, and a service reading a
secret that a second service was refused. The log goes through the real audit
collector, then the real assessment:

- AUD004 fails on the service's denial only: a refused login is a failed login;
- AUD003 sees no human read: failed logins are not reads;
- AUD012 counts one consumer: a refused read does not make a consumer;
- AUD010 judges the version read against the KV metadata's current version,
  though the log never shows the newer version;
- a store without a log is not assessed, and the reason names the missing log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from checks_cases import AS_OF, NOW, engagement, kv, vserver

from checks.engine import run_assessment
from collectors.audit import AUDIT_TABLES, AuditCollector
from collectors.base import CollectContext
from posture.model.engagement import Engagement
from posture.model.records import Server
from posture.model.snapshot import Snapshot, SnapshotSink

SECRET = "secret/prod/orders/api-key"
DENIED = "1 error occurred:\n\t* permission denied\n\n"


def _entry(at: datetime, path: str, op: str, *, who: tuple[str, str] | None, error: str | None = None,
           mount_type: str = "kv") -> bytes:
    """One OpenBao response entry; ``who`` is (display name, role) of the token, None for a login."""
    req = {"id": f"r-{at.timestamp()}-{path}", "operation": op, "path": path, "remote_address": "10.0.0.9",
           "mount_type": mount_type, "mount_point": path.split("/", 1)[0] + "/", "namespace": {"id": "root"}}
    auth: dict = {"token_type": "default"}
    if who:
        name, role = who
        auth = {"client_token": f"hmac-sha256:tok-{role}", "accessor": f"hmac-sha256:acc-{role}",
                "display_name": name, "metadata": {"role_name": role}, "policies": ["default", role],
                "token_type": "service"}
        req["client_token"] = auth["client_token"]
    resp: dict = {"mount_type": mount_type}
    if not error and op == "read":
        resp["data"] = {"data": {"value": "hmac-sha256:v"}, "metadata": {"version": 1}}
    e = {"time": at.strftime("%Y-%m-%dT%H:%M:%S.000000000Z"), "type": "response", "auth": auth,
         "request": req, "response": resp}
    if error:
        e["error"] = error
    return orjson.dumps(e) + b"\n"


def _log(path: Path) -> Path:
    night = (NOW - timedelta(days=2)).replace(hour=3, minute=0, second=0, microsecond=0)
    lines = [_entry(night + timedelta(minutes=m), "auth/userpass/login/carol", "update", who=None,
                    error=DENIED, mount_type="userpass") for m in range(3)]
    lines.append(_entry(night + timedelta(minutes=10), "secret/data/prod/payments/db", "read",
                        who=("approle", "web"), error=DENIED))
    lines.append(_entry(night + timedelta(minutes=20), "secret/data/prod/orders/api-key", "read",
                        who=("approle", "orders")))
    lines.append(_entry(night + timedelta(minutes=21), "secret/data/prod/orders/api-key", "read",
                        who=("approle", "billing"), error=DENIED))
    path.write_bytes(b"".join(lines))
    return path


def _assess(tmp_path: Path, current_version: int = 1, written_days_ago: float = 5):
    log = _log(tmp_path / "audit.log")
    eng = Engagement.model_validate({"client": "acme", "stores": {"vault": [{"name": "core", "audit_logs": [str(log)]}]}})
    sink = SnapshotSink()
    ctx = CollectContext(engagement=eng, sink=sink, fingerprint=lambda v: "x", as_of=datetime.now(UTC))
    AuditCollector(eng.stores.vault[0], ctx).run()
    records = [r for t in AUDIT_TABLES for r in sink.rows(t)]
    unlogged = Server(id="vault:edge", address="https://edge.acme.test", product="openbao", store="edge",
                      source="vault")
    records += [vserver(), unlogged, kv(SECRET, current_version=current_version,
                                            updated_at=NOW - timedelta(days=written_days_ago))]
    a = run_assessment(Snapshot.from_records(records), engagement(), AS_OF,
                       only=["AUD003", "AUD004", "AUD005", "AUD010", "AUD012"])
    assert not a.errors, a.errors
    return a


def test_refused_logins_and_reads_are_not_denials_human_reads_or_consumers(tmp_path: Path):
    a = _assess(tmp_path)
    f = a.findings.assign(status=a.findings["status"].astype(str), check_id=a.findings["check_id"].astype(str))
    core = f[f["store"].eq("core")]

    def of(check: str):
        return core[core["check_id"].eq(check)]

    denied = of("AUD004")
    failing = set(denied.loc[denied["status"].eq("fail"), "resource"])
    assert failing == {"core:denied:approle-web:secret/data/prod/payments/db",
                       "core:denied:approle-billing:secret/data/prod/orders/api-key"}, failing
    assert not any("login" in r for r in failing)
    assert set(of("AUD003")["status"]) == {"pass"}, of("AUD003")[["resource", "status"]]
    shared = of("AUD012")
    assert list(shared["status"]) == ["pass"], shared[["resource", "status"]]


def test_store_without_a_log_names_the_missing_log(tmp_path: Path):
    a = _assess(tmp_path)
    f = a.findings
    na = f["status"].astype(str).eq("not_assessed") & f["store"].eq("edge")
    assert na.sum() >= 3
    reasons = set(a.not_assessed_reasons().reindex(f.index[na]))
    assert reasons == {"no audit log configured for store edge"}, reasons


def test_read_of_a_version_older_than_the_kv_metadata_current_one_is_stale(tmp_path: Path):
    """The log shows only version 1; the metadata says 2 is current: the read is stale anyway."""
    def aud010(current: int, written_days_ago: float = 5):
        a = _assess(tmp_path / f"{current}-{written_days_ago}", current_version=current,
                    written_days_ago=written_days_ago)
        f = a.findings[a.findings["check_id"].astype(str).eq("AUD010") & a.findings["store"].eq("core")]
        return dict(zip(f["resource"], f["status"].astype(str)))

    for d in ("1-5", "2-5", "2-1"):
        (tmp_path / d).mkdir()
    assert aud010(1) == {"audit:core": "pass"}
    assert aud010(2) == {"core:stale_version_read:approle-orders:secret/data/prod/orders/api-key": "fail"}
    # the reads (two days ago) came before version 2 was written (one day ago): not stale then
    assert aud010(2, written_days_ago=1) == {"audit:core": "pass"}
