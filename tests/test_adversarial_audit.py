"""Hostile audit logs (issue #12, item 13): a raw log's credentials never reach an output.

An OpenBao file audit device with ``log_raw = true`` writes client tokens,
accessors, request bodies (passwords, secret ids, tokens to revoke) and
response data (secret values, issued tokens, wrapping tokens) in clear. The
collector keys every credential it reads with the engagement's fingerprint
key, the moment it reads it, and never reads the rest: after ``posture
collect`` and ``posture assess`` no canary, token, accessor or secret id is in
any file of the workspace, while the analysis still works on the keyed values
(a revoked canary token presented again is recognised by its fingerprint).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import requests
from conftest import CANARIES, assert_no_canary

from collectors.audit import AuditCollector
from collectors.base import CollectContext
from posture.cli import main
from posture.demo.devservers import OpenBaoDevServer
from posture.demo.estates.audit import drive_openbao_traffic
from posture.model.engagement import Engagement
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink
from posture.workspace import Workspace, fingerprint

Q = "2026-Q4"
CANARY_TOKEN = "CANARY-5e1f09ab-raw-token"
CANARY_SECRET_ID = "CANARY-7d2c4e61-raw-secret-id"
CANARY_WRAPPED = "CANARY-90ab13cd-raw-wrapped"


@pytest.fixture(scope="module")
def raw_server(tmp_path_factory):
    """A dev server of its own whose only audit device logs in clear."""
    server = OpenBaoDevServer(workdir=tmp_path_factory.mktemp("openbao-raw"), audit_options={"log_raw": "true"})
    server.start()
    yield server
    server.stop()


def _call(server: OpenBaoDevServer, method: str, path: str, token: str | None = None, ok=(200, 204),
          headers: dict[str, str] | None = None, **kw) -> dict:
    r = requests.request(method, f"{server.address}/v1/{path}", timeout=10,
                         headers={"X-Vault-Token": server.root_token if token is None else token,
                                  **(headers or {})}, **kw)
    assert r.status_code in ok, (path, r.status_code, r.text[:200])
    return r.json() if r.content else {}


@pytest.fixture(scope="module")
def raw_traffic(raw_server) -> dict[str, str]:
    """Traffic carrying every kind of credential; returns the credentials that must never leak."""
    s = raw_server
    summary = drive_openbao_traffic(s.address, s.root_token, CANARIES, prefix="raw")
    secrets = {"root token": s.root_token, "revoked accessor": summary.revoked_accessor,
               "root accessor": _call(s, "GET", "auth/token/lookup-self")["data"]["accessor"]}
    # A canary token: created with its id, used, revoked by value, presented again.
    made = _call(s, "POST", "auth/token/create", json={"id": CANARY_TOKEN, "policies": ["default"], "ttl": "2h"})
    secrets["canary accessor"] = made["auth"]["accessor"]
    _call(s, "GET", "auth/token/lookup-self", token=CANARY_TOKEN)
    _call(s, "POST", "auth/token/revoke", json={"token": CANARY_TOKEN})
    _call(s, "GET", "auth/token/lookup-self", token=CANARY_TOKEN, ok=(403,))
    # A canary AppRole secret id, and a login with it.
    ar = summary.approle_mount
    _call(s, "POST", f"auth/{ar}/role/payments-api/custom-secret-id", json={"secret_id": CANARY_SECRET_ID})
    role_id = _call(s, "GET", f"auth/{ar}/role/payments-api/role-id")["data"]["role_id"]
    login = _call(s, "POST", f"auth/{ar}/login", token="", json={"role_id": role_id, "secret_id": CANARY_SECRET_ID})
    secrets["approle token"], secrets["approle accessor"] = login["auth"]["client_token"], login["auth"]["accessor"]
    # A response-wrapped canary, unwrapped with its wrapping token.
    wrap = _call(s, "POST", "sys/wrapping/wrap", json={"value": CANARY_WRAPPED}, headers={"X-Vault-Wrap-TTL": "5m"})
    secrets["wrapping token"], secrets["wrapping accessor"] = wrap["wrap_info"]["token"], wrap["wrap_info"]["accessor"]
    _call(s, "POST", "sys/wrapping/unwrap", token=secrets["wrapping token"])
    return secrets


def test_the_device_really_logs_in_clear(raw_server, raw_traffic):
    log = raw_server.audit_log("file").read_bytes()
    for needle in (*CANARIES[:3], CANARY_TOKEN, CANARY_SECRET_ID, CANARY_WRAPPED, *raw_traffic.values()):
        assert needle.encode() in log, needle  # else this module would prove nothing


def test_collect_and_assess_keep_no_raw_credential(raw_server, raw_traffic, tmp_path, monkeypatch):
    monkeypatch.setenv("POSTURE_HOME", str(tmp_path))
    monkeypatch.setenv("VAULT_TOKEN", raw_server.root_token)
    eng = tmp_path / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(f"client: acme\nstores:\n  vault:\n    - name: core\n      address: {raw_server.address}\n"
                   f"      audit_logs: [\"{raw_server.audit_log('file')}\"]\n")
    assert main(["collect", "acme", "-q", Q]) == 0
    assert main(["assess", "acme", "-q", Q, "--no-notebooks"]) == 0
    extra = (CANARY_TOKEN, CANARY_SECRET_ID, CANARY_WRAPPED, *raw_traffic.values())
    assert assert_no_canary(tmp_path / "evidence", extra=extra) > 20
    assert assert_no_canary(tmp_path / "engagements", extra=extra) >= 1

    snap = Snapshot.load(tmp_path / "evidence" / "acme" / Q / "snapshot")
    log = snap.frame("audit_log").iloc[0]
    assert log["unhashed_credentials"] > 10 and log["malformed"] == 0
    # Keyed, not dropped: the revoked canary token is known by its fingerprint, and seen again.
    key = Workspace.resolve("acme").fingerprint_key()
    keyed = fingerprint(key, CANARY_TOKEN)
    revs = [r for r in snap.rows("audit_signal") if r["signal"] == "metric:revocation_to_last_use"
            and r["detail"]["credential_hmac"] == keyed]
    assert revs and revs[0]["detail"]["attempts_after"] >= 1 and revs[0]["detail"]["successes_after"] == 0
    issued = {a for r in snap.rows("token_issue") for a in r["accessor_hmacs"]}
    assert fingerprint(key, raw_traffic["canary accessor"]) in issued
    assert not any(a.startswith("hmac-sha256:") for a in issued)  # nothing the device hashed


def test_crafted_credential_shapes_are_keyed_not_fatal(tmp_path: Path):
    """A crafted log whose credentials are numbers, lists or objects: keyed like any raw value."""
    entry = {"time": "2026-11-02T10:00:00Z", "type": "response",
             "auth": {"client_token": {"nested": CANARIES[0]}, "accessor": 12345, "display_name": "token",
                      "policies": ["default"]},
             "request": {"id": "r1", "operation": "update", "path": "auth/token/revoke", "remote_address": "10.0.0.1",
                         "data": {"token": [CANARIES[1]]}},
             "response": {"auth": {"accessor": CANARIES[2], "token_ttl": "forever", "token_policies": "root"}}}
    create = {**entry, "request": {**entry["request"], "id": "r2", "path": "auth/token/create", "data": None}}
    path = tmp_path / "crafted.log"
    path.write_bytes(orjson.dumps(entry) + b"\n" + orjson.dumps(create) + b"\n")
    eng = Engagement.model_validate({"client": "acme", "stores": {"vault": [{"name": "core", "audit_logs": [str(path)]}]}})
    sink = SnapshotSink()
    now = datetime.now(UTC)
    ctx = CollectContext(engagement=eng, sink=sink, fingerprint=lambda v: "hmac256:keyed", as_of=now)
    AuditCollector(eng.stores.vault[0], ctx).run()
    log = sink.rows("audit_log")[0]
    assert log.malformed == 0 and log.events == 2 and log.unhashed_credentials >= 3
    token = sink.rows("token_issue")[0]
    assert token.accessor_hmacs == ["hmac256:keyed"] and token.ttl_seconds is None and token.policies == []
    sink.write(tmp_path / "snapshot", Manifest(client="acme", quarter=Q, engagement_sha256="", started_at=now,
                                               finished_at=now))
    assert assert_no_canary(tmp_path / "snapshot") > 5
