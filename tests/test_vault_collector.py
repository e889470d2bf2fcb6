"""The Vault/OpenBao collector against a real OpenBao seeded with the Acme estate."""

from __future__ import annotations

import io
import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import requests
from conftest import CANARIES, assert_no_canary
from vault_fixtures import (
    FP_KEY,
    make_token,
    put_policy,
    rows,
    run_collector,
    vault_estate,  # noqa: F401 - fixture
    write_engagement,
)

from collectors.base import CollectContext
from collectors.vault.collector import VaultCollector
from collectors.vault.hcl import parse_acl, parse_duration
from posture.cli import main
from posture.demo.devservers import OpenBaoDevServer, free_port
from posture.model.engagement import Engagement, VaultStore
from posture.model.errors import CollectionError
from posture.model.snapshot import Snapshot, SnapshotSink
from posture.workspace import fingerprint

DAY = 86400


@pytest.fixture(scope="module")
def collected(openbao, vault_estate):  # noqa: F811
    return run_collector(openbao.address, openbao.root_token)


def V(path: str) -> str:
    return f"vault:core:{path}"


def test_server_record(collected):
    sink, _ = collected
    (server,) = sink.rows("server")
    assert server.id == "vault:core:server"
    assert (server.product, server.sealed, server.initialized) == ("openbao", False, True)
    assert (server.seal_type, server.seal_threshold, server.seal_shares) == ("shamir", 1, 1)
    assert server.storage_type == "inmem" and server.ha_enabled is False and server.raft_peers is None
    assert server.version and server.version.startswith("2.")
    assert set(server.not_applicable) == {
        "sys/internal/counters/activity", "sys/policies/egp", "sys/policies/rgp",
        "sys/replication/status", "sys/license/status",
    }


def test_root_collection_has_no_gaps_and_uses_scan(collected):
    sink, collector = collected
    assert sink.gaps() == []
    assert collector.kv_mode["secret"] == "scan" and collector.kv_mode["apps"] == "scan"


def test_mounts_with_effective_ttls(collected):
    m = rows(collected[0], "mount")
    assert (m[V("secret/")].type, m[V("secret/")].kv_version) == ("kv", 2)
    assert (m[V("legacy/")].kv_version, m[V("apps/")].kv_version) == (1, 2)
    # config says 0 ("system default"); tune gives the effective 768 h
    assert m[V("transit/")].max_lease_ttl == 768 * 3600
    assert m[V("pki/")].max_lease_ttl == 87600 * 3600
    assert m[V("database/")].type == "database" and m[V("database/")].seal_wrap is False
    assert m[V("sys/")].max_lease_ttl is None  # system mounts are not tuned


def test_auth_methods_and_roles(collected):
    sink = collected[0]
    methods = {r.path: r.type for r in sink.rows("auth_method")}
    assert {"approle/": "approle", "userpass/": "userpass", "jwt/": "jwt", "kubernetes/": "kubernetes",
            "token/": "token"}.items() <= {k.removeprefix("auth/"): v for k, v in methods.items()}.items()
    roles = rows(sink, "auth_role")
    good = roles[V("auth/approle/role/payments-prod")]
    assert (good.method, good.token_ttl, good.token_max_ttl) == ("approle", 3600, 4 * 3600)
    assert (good.secret_id_ttl, good.secret_id_num_uses) == (600, 1)
    assert good.secret_id_bound_cidrs == ["10.20.0.0/16"] and good.token_bound_cidrs == ["10.20.0.0/16"]
    assert good.policies == ["payments-prod-read"] and good.bind_secret_id is True
    bad = roles[V("auth/approle/role/ci-legacy")]
    assert (bad.token_ttl, bad.token_max_ttl, bad.secret_id_ttl, bad.secret_id_num_uses) == (
        768 * 3600, 8760 * 3600, 0, 0)
    assert bad.secret_id_bound_cidrs == [] and bad.token_bound_cidrs == [] and bad.policies == ["admin-wildcard"]
    jwt = roles[V("auth/jwt/role/github-deploy")]
    assert jwt.bound_claims == {"repository": "acme/payments-api", "ref": "refs/heads/main"}
    assert jwt.bound_audiences == ["https://github.com/acme"] and jwt.token_ttl == 900
    k8s = roles[V("auth/kubernetes/role/any-namespace")]
    assert k8s.bound_service_account_names == ["*"] and k8s.bound_service_account_namespaces == ["*"]
    assert roles[V("auth/kubernetes/role/payments-api")].bound_service_account_namespaces == ["payments-prod"]
    tr = roles[V("auth/token/roles/ci-runner")]
    assert (tr.method, tr.orphan, tr.period, tr.policies) == ("token", True, DAY, ["ci-deployer"])
    assert roles[V("auth/userpass/users/alice")].token_ttl == 8 * 3600
    assert roles[V("auth/userpass/users/bob")].policies == ["admin-wildcard"]


def test_policies_parsed(collected):
    sink = collected[0]
    policies = rows(sink, "policy")
    assert {"admin-wildcard", "payments-prod-read", "ci-deployer", "deny-legacy", "ops-sys", "default"} <= {
        p.name for p in policies.values()}
    assert "root" not in {p.name for p in policies.values()}
    by_policy: dict[str, list] = {}
    for r in sink.rows("policy_rule"):
        by_policy.setdefault(r.policy, []).append(r)
    (admin,) = by_policy["admin-wildcard"]
    assert (admin.path, admin.wildcard_all, admin.wildcard, admin.sudo, admin.sys_access) == ("*", True, True, True, True)
    (deny,) = by_policy["deny-legacy"]
    assert deny.effect == "deny" and deny.capabilities == ["deny"]
    least = {r.path: r for r in by_policy["payments-prod-read"]}
    assert set(least) == {"secret/data/prod/payments/*", "secret/metadata/prod/payments/*"}
    assert least["secret/data/prod/payments/*"].capabilities == ["read"]
    assert not any(r.sudo or r.wildcard_all or r.sys_access for r in least.values())
    ci = {r.path: r for r in by_policy["ci-deployer"]}
    assert ci["secret/data/+/payments/*"].wildcard is True
    assert ci["transit/encrypt/payments-card"].wildcard is False
    (sysr, _) = sorted(by_policy["ops-sys"], key=lambda r: r.path, reverse=True)
    assert sysr.path == "sys/*" and sysr.sys_access and sysr.sudo


def test_audit_devices(collected):
    devices = rows(collected[0], "audit_device")
    assert set(devices) == {V("sys/audit/file/"), V("sys/audit/file2/")}
    assert devices[V("sys/audit/file/")].type == "file"
    assert devices[V("sys/audit/file/")].options["file_path"].endswith("file.log")


def test_kv_metadata_never_values(collected):
    secrets = rows(collected[0], "secret")
    kv2 = {r.path for r in secrets.values() if r.kind == "kv2" and r.mount in ("secret/", "apps/")}
    assert kv2 >= {
        "secret/prod/payments/db-password", "secret/prod/payments/stripe-api-key",
        "secret/prod/platform/tls-private-key", "secret/prod/orphaned/legacy-batch-token",
        "secret/staging/payments/db-password", "secret/staging/payments/stripe-api-key",
        "secret/dev/payments/db-password", "secret/dev/shared/api-key",
        "apps/staging/web/session-key", "apps/dev/web/session-key",
    }
    db = secrets[V("secret/prod/payments/db-password")]
    assert (db.current_version, db.oldest_version, db.version_count) == (3, 1, 3)
    assert (db.max_versions, db.delete_version_after) == (5, 2160 * 3600)
    assert db.custom_metadata == {"owner": "payments-team", "env": "prod", "type": "db-password"}
    assert db.created_at <= db.last_rotated_at <= db.updated_at
    assert secrets[V("secret/dev/shared/api-key")].version_count == 4
    assert secrets[V("secret/prod/orphaned/legacy-batch-token")].custom_metadata == {}
    kv1 = {r.name: r for r in secrets.values() if r.kind == "kv1"}
    assert set(kv1) == {"config", "keys/signing", "prod/app/db-password", "dev/app/api-key"}
    assert all(r.created_at is None and r.version_count is None for r in kv1.values())


def test_transit_pki_database(collected):
    sink = collected[0]
    keys = rows(sink, "key")
    card = keys[V("transit/keys/payments-card")]
    assert (card.latest_version, card.rotation_enabled, card.rotation_period_days) == (3, True, 30)
    assert card.exportable is False and card.deletion_allowed is False and card.spec == "aes256-gcm96"
    assert len(card.version_created_at) == 3 and card.version_created_at[-1] == card.last_rotated_at
    legacy = keys[V("transit/keys/legacy-signing")]
    assert (legacy.latest_version, legacy.rotation_enabled, legacy.exportable, legacy.deletion_allowed) == (
        1, False, True, True)
    assert legacy.usage == "sign" and legacy.created_at is not None
    certs = {c.subject: c for c in sink.rows("certificate")}
    assert set(certs) == {"Acme Root CA", "api.acme.test", "www.acme.test"}
    now = datetime.now(UTC)
    assert timedelta(days=2) < certs["api.acme.test"].not_after - now <= timedelta(days=3)
    assert certs["api.acme.test"].domains == ["api.acme.test"]
    assert certs["www.acme.test"].issuer == "CN=Acme Root CA"
    db = rows(sink, "secret")
    ro, admin = db[V("database/roles/payments-readonly")], db[V("database/roles/payments-admin")]
    assert (ro.kind, ro.default_ttl, ro.max_ttl) == ("database_role", 3600, DAY)
    assert (admin.default_ttl, admin.max_ttl) == (720 * 3600, 8760 * 3600)


def test_tokens_store_keyed_accessor_fingerprint_only(collected, vault_estate):  # noqa: F811
    tokens = rows(collected[0], "token")
    want = fingerprint(FP_KEY, vault_estate.long_ttl_token_accessor)
    (long_ttl,) = [t for t in tokens.values() if t.accessor_hash == want]
    assert long_ttl.display_name == "token-legacy-batch-job" and long_ttl.policies == ["admin-wildcard"]
    assert long_ttl.creation_ttl == 768 * 3600 and long_ttl.root is False
    assert any(t.root and "root" in t.policies for t in tokens.values())
    (periodic,) = [t for t in tokens.values() if t.display_name == "token-ci-periodic"]
    assert periodic.orphan is True and periodic.policies == ["ci-deployer", "default"]
    dumped = orjson.dumps([t.model_dump(mode="json") for t in tokens.values()])
    assert vault_estate.long_ttl_token_accessor.encode() not in dumped


def test_identity(collected):
    principals = {p.name: p for p in collected[0].rows("principal")}
    alice, team = principals["alice"], principals["payments-team"]
    assert alice.kind == "vault_entity" and alice.policies == ["payments-prod-read"]
    assert alice.aliases == ["auth/userpass/alice"]
    assert team.kind == "vault_group" and alice.id.rsplit("/", 1)[1] in team.members
    assert principals["platform-admins"].policies == ["admin-wildcard"]


def test_no_canary_or_token_in_records(collected, openbao):
    sink = collected[0]
    blob = b"".join(orjson.dumps(r.model_dump(mode="json")) for t in sink.counts() for r in sink.rows(t))
    for needle in CANARIES + (openbao.root_token,):
        assert needle.encode() not in blob


def test_walk_fallback_matches_scan(openbao, vault_estate, collected):  # noqa: F811
    """Without SCAN / certs/detailed (HashiCorp Vault), the concurrent walk yields the same rows."""
    walked, collector = run_collector(openbao.address, openbao.root_token, options={"vault_scan": False},
                                      concurrency=4)
    assert collector.kv_mode["secret"] == "walk" and walked.gaps() == []
    scan = {r.id: r.model_dump() for r in collected[0].rows("secret")}
    walk = {r.id: r.model_dump() for r in walked.rows("secret")}
    assert walk == scan
    by_serial = lambda s: {c.serial: (c.subject, c.not_after, c.domains) for c in s.rows("certificate")}
    assert by_serial(walked) == by_serial(collected[0])


def test_mount_filter(openbao, vault_estate):  # noqa: F811
    sink, _ = run_collector(openbao.address, openbao.root_token, mounts=["legacy"])
    assert {m.path for m in sink.rows("mount")} == {"legacy/"}
    assert {s.kind for s in sink.rows("secret")} == {"kv1"}


def test_restricted_token_records_gaps_and_still_writes(openbao, vault_estate, workspace: Path, monkeypatch, capsys):  # noqa: F811
    put_policy(openbao, "posture-partial", (
        'path "auth/token/lookup-self" { capabilities = ["read"] }\n'
        'path "sys/mounts" { capabilities = ["read"] }\n'
        'path "sys/auth" { capabilities = ["read"] }\n'
        'path "secret/metadata/*" { capabilities = ["read", "list"] }\n'
    ))
    monkeypatch.setenv("VAULT_TOKEN", make_token(openbao, ["posture-partial"]))
    write_engagement(workspace, openbao.address)
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    err = capsys.readouterr().err
    assert "coverage gap(s)" in err
    snap = Snapshot.load(workspace / "evidence/acme/2026-Q4/snapshot")
    gaps = snap.gaps
    by_op = {r.operation: r for r in gaps.itertuples()}
    assert by_op["GET sys/audit"].reason == "denied" and by_op["GET sys/audit"].tables == ["audit_device"]
    assert by_op["LIST legacy/"].scope == "legacy/" and by_op["LIST legacy/"].reason == "denied"
    assert by_op["LIST transit/keys"].tables == ["key"]
    assert by_op["LIST auth/token/accessors"].tables == ["token"]
    assert by_op["GET sys/mounts/secret/tune"].tables == ["mount"]
    assert not any(op.startswith(("LIST secret/", "GET secret/", "SCAN secret/")) for op in by_op)
    secrets = snap.frame("secret")
    assert "secret/prod/payments/db-password" in set(secrets["path"])  # the walk went on
    assert snap.manifest.gaps == len(gaps) >= 10
    assert_no_canary(workspace)


@pytest.mark.parametrize("case", ["bad_token", "unreachable", "tls"])
def test_unassessable_store_is_one_line_error_and_no_snapshot(case, openbao, vault_estate, workspace, monkeypatch, capsys):  # noqa: F811
    address = {
        "bad_token": openbao.address,
        "unreachable": f"http://127.0.0.1:{free_port()}",
        "tls": openbao.address.replace("http://", "https://"),
    }[case]
    monkeypatch.setenv("VAULT_TOKEN", "s.not-a-real-token-4711" if case == "bad_token" else openbao.root_token)
    write_engagement(workspace, address)
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == CollectionError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and err.startswith("error: vault store 'core'")
    assert {"bad_token": "token rejected", "unreachable": "connection refused", "tls": "TLS"}[case] in err
    assert "not-a-real-token" not in err and openbao.root_token not in err
    assert not (workspace / "evidence").exists() or not any((workspace / "evidence").rglob("manifest.json"))


def test_timeout_is_one_line_error(workspace, monkeypatch, capsys):
    """A server that accepts and never answers: bounded by the store's timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    try:
        monkeypatch.setenv("VAULT_TOKEN", "t")
        write_engagement(workspace, f"http://127.0.0.1:{port}").write_text(
            f"client: acme\nstores:\n  vault:\n    - name: core\n      address: http://127.0.0.1:{port}\n"
            "      timeout: 0.3\n      retries: 1\n")
        assert main(["collect", "acme"]) == CollectionError.exit_code
        err = capsys.readouterr().err.strip()
        assert "timed out" in err and err.count("\n") == 0
    finally:
        sock.close()


@pytest.fixture(scope="module")
def private_bao():
    """A second OpenBao this module may throttle."""
    with OpenBaoDevServer(audit_devices=()) as bao:
        yield bao


def test_rate_limit_429_is_retried_with_backoff(private_bao):
    root = {"X-Vault-Token": private_bao.root_token}
    for i in range(30):
        requests.post(f"{private_bao.address}/v1/secret/data/app/s{i}", headers=root,
                      json={"data": {"v": CANARIES[0]}}, timeout=10).raise_for_status()
    r = requests.post(f"{private_bao.address}/v1/sys/quotas/rate-limit/tight", headers=root,
                      json={"rate": 25, "interval": "1s"}, timeout=10)
    assert r.status_code == 204
    try:
        sink, collector = run_collector(private_bao.address, private_bao.root_token, concurrency=8, retries=8,
                                        options={"vault_scan": False})
    finally:
        requests.delete(f"{private_bao.address}/v1/sys/quotas/rate-limit/tight", headers=root, timeout=10)
    assert collector.http.retried > 0  # the quota answered 429 ...
    assert sink.gaps() == []  # ... and backing off got everything
    assert {s.name for s in sink.rows("secret")} == {f"app/s{i}" for i in range(30)}


def test_sealed_server_is_one_line_error(workspace, monkeypatch, capsys):
    with OpenBaoDevServer(audit_devices=()) as bao:
        r = requests.put(f"{bao.address}/v1/sys/seal", headers={"X-Vault-Token": bao.root_token}, timeout=60)
        assert r.status_code == 204
        monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
        write_engagement(workspace, bao.address)
        assert main(["collect", "acme"]) == CollectionError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.endswith("server is sealed") and err.count("\n") == 0
    assert not (workspace / "evidence").exists()


def test_collect_end_to_end_via_cli(openbao, vault_estate, workspace: Path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    write_engagement(workspace, openbao.address)
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    out = capsys.readouterr().out
    assert "no coverage gaps" in out
    snap_dir = workspace / "evidence/acme/2026-Q4/snapshot"
    snap = Snapshot.load(snap_dir)
    assert snap.manifest.collectors == {"vault": "1.0.0"} and snap.manifest.stores == {"core": "vault"}
    assert snap.manifest.gaps == 0
    assert snap.manifest.files["secret.jsonl"].rows >= 16
    secrets = snap.frame("secret").set_index("id")
    assert secrets.loc[V("secret/prod/payments/db-password"), "version_count"] == 3
    assert str(secrets["created_at"].dtype).startswith("datetime64")
    assert assert_no_canary(workspace, extra=(openbao.root_token,)) >= 20
    manifest = json.loads((snap_dir / "manifest.json").read_text())
    assert manifest["client"] == "acme"


def test_parsers():
    assert parse_duration("768h0m0s") == 768 * 3600 and parse_duration("0s") == 0
    assert parse_duration(90) == 90 and parse_duration(None) is None
    rules = parse_acl(
        '# c\npath "a/*" {\n capabilities = ["read", "list"] // x\n allowed_parameters = { "k" = [] }\n}\n'
        '/* block */ path "b/+/c" { capabilities = ["deny"] }\n'
    )
    assert rules == [("a/*", {"capabilities": ["read", "list"], "allowed_parameters": {"k": []}}),
                     ("b/+/c", {"capabilities": ["deny"]})]
    assert parse_acl('{"path": {"x/*": {"capabilities": ["read"]}}}') == [("x/*", {"capabilities": ["read"]})]
    with pytest.raises(ValueError):
        parse_acl('path "x" { capabilities = ["read"]')


def test_progress_bar_advances(openbao, vault_estate):  # noqa: F811
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(file=io.StringIO()), disable=False)
    ctx = CollectContext(engagement=Engagement(client="acme"), sink=SnapshotSink(),
                         fingerprint=lambda v: fingerprint(FP_KEY, v), as_of=datetime.now(UTC),
                         progress=progress)
    VaultCollector(VaultStore(name="core", address=openbao.address), ctx,
                   env={"VAULT_TOKEN": openbao.root_token}).run()
    (task,) = progress.tasks
    assert task.total and task.completed == task.total and task.total > 40
    assert threading.active_count() < 50


def test_approle_login_and_bad_secret_id(openbao, vault_estate):  # noqa: F811
    from posture.model.engagement import VaultAuth

    root = {"X-Vault-Token": openbao.root_token}
    base = f"{openbao.address}/v1/auth/approle/role/posture-assessor"
    requests.post(base, headers=root, json={"token_policies": ["admin-wildcard"], "token_ttl": "10m",
                                            "secret_id_num_uses": 1, "secret_id_ttl": "5m"},
                  timeout=10).raise_for_status()
    role_id = requests.get(f"{base}/role-id", headers=root, timeout=10).json()["data"]["role_id"]
    secret_id = requests.post(f"{base}/secret-id", headers=root, timeout=10).json()["data"]["secret_id"]
    store = VaultStore(name="core", address=openbao.address, auth=VaultAuth(method="approle"))
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="acme"), sink=sink,
                         fingerprint=lambda v: fingerprint(FP_KEY, v), as_of=datetime.now(UTC))
    VaultCollector(store, ctx, env={"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id}).run()
    assert sink.gaps() == [] and V("secret/prod/payments/db-password") in rows(sink, "secret")
    # the single-use secret-id is spent now: the next login fails in one line, without the ids
    with pytest.raises(CollectionError, match="login at auth/approle failed") as e:
        VaultCollector(store, ctx, env={"VAULT_ROLE_ID": role_id, "VAULT_SECRET_ID": secret_id}).run()
    assert secret_id not in str(e.value) and role_id not in str(e.value)


def test_jwt_login(openbao, vault_estate):  # noqa: F811
    """CI-style assessor login with a signed JWT (RS256, built here with cryptography)."""
    import base64
    import time

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from posture.model.engagement import VaultAuth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    root = {"X-Vault-Token": openbao.root_token}
    api = f"{openbao.address}/v1"
    if "jwt-assessor/" not in requests.get(f"{api}/sys/auth", headers=root, timeout=10).json()["data"]:
        requests.post(f"{api}/sys/auth/jwt-assessor", headers=root, json={"type": "jwt"},
                      timeout=10).raise_for_status()
    requests.post(f"{api}/auth/jwt-assessor/config", headers=root, timeout=10,
                  json={"jwt_validation_pubkeys": [pub], "bound_issuer": "https://ci.acme.test"}).raise_for_status()
    requests.post(f"{api}/auth/jwt-assessor/role/posture", headers=root, timeout=10, json={
        "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["posture"],
        "token_policies": ["admin-wildcard"], "token_ttl": "10m"}).raise_for_status()

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    now = int(time.time())
    claims = {"iss": "https://ci.acme.test", "sub": "assessor", "aud": "posture", "iat": now,
              "nbf": now - 5, "exp": now + 300}
    signing_input = b64(b'{"alg":"RS256","typ":"JWT"}') + b"." + b64(json.dumps(claims).encode())
    token = (signing_input + b"." + b64(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))).decode()

    store = VaultStore(name="core", address=openbao.address,
                       auth=VaultAuth(method="jwt", mount="jwt-assessor", role="posture"))
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="acme"), sink=sink,
                         fingerprint=lambda v: fingerprint(FP_KEY, v), as_of=datetime.now(UTC))
    VaultCollector(store, ctx, env={"VAULT_JWT": token}).run()
    assert sink.gaps() == []
    assert rows(sink, "auth_role")[V("auth/jwt-assessor/role/posture")].bound_audiences == ["posture"]
    with pytest.raises(CollectionError, match="JWT login needs"):
        VaultCollector(store, ctx, env={}).run()
