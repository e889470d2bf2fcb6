"""The GCP Secret Manager collector, driven end to end through Google's own SDKs (issue 16).

No GCP is reachable offline, so the official clients — ``google-cloud-secret-manager``,
``google-cloud-resource-manager`` and ``google-cloud-kms`` with ``transport="rest"``,
their proto-plus models doing all deserialisation — talk to a loopback HTTP server
(`gcp_api.GcpApiServer`) whose answers are built from Google's published REST
references (Secret Manager v1 ``projects.secrets.list`` / ``projects.secrets.versions.list``
/ ``projects.secrets.getIamPolicy``, Resource Manager v3 ``projects.get`` /
``projects.getIamPolicy``, Cloud KMS v1 ``cryptoKeys.get``; see that module for the URLs
and fields). Authentication is google-auth's real service-account flow:
``GOOGLE_APPLICATION_CREDENTIALS`` names a key file with a freshly generated RSA key
whose ``token_uri`` is the server's token endpoint, which verifies the signed JWT
assertion before issuing the access token every API call must carry.

Every secret has a canary value that only the value endpoint (``versions/*:access``)
would return; the guard test proves value and write operations are refused with no
request reaching the server, and `assert_no_canary` scans everything the kit wrote.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_no_canary
from gcp_api import Fault, GcpApiServer, GcpEstate, rsa_service_account
from ruamel.yaml import YAML

from checks.engine import run_assessment
from collectors.base import CollectContext
from collectors.gcp import guard as gcp_guard
from collectors.gcp.calls import GcpCalls
from collectors.gcp.collector import GcpCollector
from collectors.gcp.policy import role_definition
from posture.cli import main
from posture.model.engagement import Classification, Engagement, GcpStore, OwnerRule
from posture.model.errors import CollectionError, ReadOnlyViolation
from posture.model.records import RECORDS_BY_TABLE
from posture.model.snapshot import Snapshot, SnapshotSink
from posture.workspace import current_quarter

NOW = datetime.now(UTC).replace(microsecond=0)
PROD, PROD_NO = "acme-prod", "123456789012"
DEV, DEV_NO = "acme-dev", "210987654321"
GCP_CANARIES = tuple(f"CANARY-5e1f2a3b-gcp-value-{i}" for i in range(8))
APP_SA = f"serviceAccount:payments-api@{PROD}.iam.gserviceaccount.com"
COMPUTE_SA = f"serviceAccount:{PROD_NO}-compute@developer.gserviceaccount.com"
APPSPOT_SA = f"serviceAccount:{DEV}@appspot.gserviceaccount.com"
ACCESSOR = "roles/secretmanager.secretAccessor"
FAST = {"gcp_retry_deadline": 0.4, "gcp_retry_initial": 0.02, "gcp_page_size": 2}


def ts(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_name(project: str, location: str, ring: str, key: str) -> str:
    return f"projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{key}"


K_GLOBAL = key_name(PROD, "global", "prod-ring", "secrets-key")
K_EAST = key_name(PROD, "us-east1", "pci-ring", "pci-east")
K_WEST = key_name(PROD, "us-west1", "pci-ring", "pci-west")
K_CENTRAL = key_name(PROD, "us-central1", "reports-ring", "reports")


def crypto_key(name: str, rotation_days: int | None, protection: str = "SOFTWARE") -> dict[str, Any]:
    """A ``CryptoKey`` as cloudkms v1 ``cryptoKeys.get`` returns it."""
    out: dict[str, Any] = {
        "name": name, "purpose": "ENCRYPT_DECRYPT", "createTime": ts(500), "labels": {"owner": "security"},
        "primary": {"name": f"{name}/cryptoKeyVersions/4", "state": "ENABLED", "protectionLevel": protection,
                    "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION", "createTime": ts(40), "generateTime": ts(40)},
        "versionTemplate": {"protectionLevel": protection, "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION"},
        "destroyScheduledDuration": "2592000s",
    }
    if rotation_days:
        out["rotationPeriod"] = f"{rotation_days * 86400}s"
        out["nextRotationTime"] = ts(-20)
    return out


def versions(*states_ages: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"n": i + 1, "state": st, "createTime": ts(age)} for i, (st, age) in enumerate(states_ages)]


def rotation(days: int) -> dict[str, Any]:
    return {"rotation": {"rotationPeriod": f"{days * 86400}s", "nextRotationTime": ts(-5)},
            "topics": [{"name": f"projects/{PROD}/topics/secret-rotation"}]}


def estate() -> GcpEstate:
    """Two projects; each secret plants one problem or is its clean look-alike (see the tests)."""
    prod_owner = {"owner": "payments-team", "env": "prod"}
    secrets = [
        # clean: rotating, CMEK, one enabled version, read by its own service account
        {"project": PROD, "location": None, "id": "payments-db-password", "createTime": ts(400),
         "labels": prod_owner, **rotation(30),
         "replication": {"automatic": {"customerManagedEncryption": {"kmsKeyName": K_GLOBAL}}},
         "versions": versions(("DESTROYED", 400), ("DISABLED", 40), ("ENABLED", 10)),
         "iam": [{"role": ACCESSOR, "members": [APP_SA]}], "annotations": {"runbook": "wiki/rotate-db"}},
        # problems: no owner, no rotation, old, five enabled versions, no CMEK, public accessor
        {"project": PROD, "location": None, "id": "legacy-api-key", "createTime": ts(700),
         "replication": {"automatic": {}},
         "versions": versions(*[("ENABLED", 200 + d) for d in (400, 300, 250, 220, 0)]),
         "iam": [{"role": ACCESSOR, "members": ["allUsers", APP_SA]}]},
        # clean look-alike of the public grant: a team group whose name contains "all"; CMEK on every replica
        {"project": PROD, "location": None, "id": "pci-card-token", "createTime": ts(100),
         "labels": prod_owner, **rotation(90),
         "replication": {"userManaged": {"replicas": [
             {"location": "us-east1", "customerManagedEncryption": {"kmsKeyName": K_EAST}},
             {"location": "us-west1", "customerManagedEncryption": {"kmsKeyName": K_WEST}}]}},
         "versions": versions(("ENABLED", 20), ("ENABLED", 3)),
         "iam": [{"role": ACCESSOR, "members": ["group:allocation-team@acme.test"]}]},
        # a regional secret (projects.locations.secrets), its key on the secret itself; expires in 30 days
        {"project": PROD, "location": "us-central1", "id": "reports-webhook-secret", "createTime": ts(60),
         "labels": {"owner": "reports-team", "env": "prod"}, **rotation(30), "expireTime": ts(-30),
         "customerManagedEncryption": {"kmsKeyName": K_CENTRAL},
         "versions": versions(("ENABLED", 6))},
        # acme-dev: clean for default service accounts ...
        {"project": DEV, "location": None, "id": "dev-api-key", "createTime": ts(30),
         "labels": {"owner": "web-team", "env": "dev"}, **rotation(30), "replication": {"automatic": {}},
         "versions": versions(("ENABLED", 12))},
        # ... and readable by the App Engine default service account
        {"project": DEV, "location": None, "id": "dev-cache-token", "createTime": ts(30),
         "labels": {"owner": "web-team", "env": "dev"}, **rotation(30), "replication": {"automatic": {}},
         "versions": versions(("ENABLED", 12)), "iam": [{"role": ACCESSOR, "members": [APPSPOT_SA]}]},
    ]
    for i, s in enumerate(secrets):
        s["value"] = GCP_CANARIES[i]
    return GcpEstate(
        projects={
            PROD: {"number": PROD_NO, "labels": {"env": "prod"}, "parent": "folders/555", "iam": [
                {"role": "roles/editor", "members": [COMPUTE_SA]},
                {"role": "roles/secretmanager.viewer", "members": ["domain:acme.test"]},
                {"role": "roles/owner", "members": ["user:cto@acme.test"]}]},
            DEV: {"number": DEV_NO, "parent": "organizations/777",
                  "iam": [{"role": "roles/owner", "members": ["user:cto@acme.test"]}]},
        },
        # inherited bindings: a named on-call group on the folder, metadata-only for the whole domain
        folders={"folders/555": {"parent": "organizations/777",
                                 "iam": [{"role": ACCESSOR, "members": ["group:platform-oncall@acme.test"]}]}},
        organizations={"organizations/777": {"iam": [
            {"role": "roles/secretmanager.viewer", "members": ["domain:acme.test"]},
            {"role": "roles/owner", "members": ["user:cto@acme.test"]}]}},
        secrets=secrets,
        keys={K_GLOBAL: crypto_key(K_GLOBAL, 90, "HSM"), K_EAST: crypto_key(K_EAST, None),
              K_WEST: crypto_key(K_WEST, 90), K_CENTRAL: crypto_key(K_CENTRAL, 30)},
        canaries=GCP_CANARIES,
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    server = GcpApiServer(estate()).start()
    keyfile = tmp_path_factory.mktemp("gcp-credentials") / "assessor.json"
    sa = rsa_service_account(keyfile, server.token_uri, PROD)
    server.public_pem = sa["public_pem"]
    server.keyfile = keyfile  # type: ignore[attr-defined]
    server.private_key = sa["info"]["private_key"]  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture
def gcp_env(api: GcpApiServer, monkeypatch: pytest.MonkeyPatch) -> GcpApiServer:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(api.keyfile))  # type: ignore[attr-defined]
    for k in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(k, raising=False)
    api.faults.clear()
    with api.lock:
        api.log.clear()
    return api


def store(api: GcpApiServer, **kw: Any) -> GcpStore:
    base = dict(name="gcp-main", projects=[PROD, DEV], locations=["us-central1"], endpoint=api.url,
                concurrency=2, timeout=5)
    base.update(kw)
    return GcpStore(**base)


def engagement() -> Engagement:
    return Engagement(client="acme", classification=Classification(
        owners=[OwnerRule(owner="payments-team", pager="#payments-oncall", match=["*payments*"])]))


def collect(api: GcpApiServer, progress: Any = None, **options: Any) -> SnapshotSink:
    sink = SnapshotSink()
    ctx = CollectContext(engagement=engagement(), sink=sink, fingerprint=lambda v: "hmac256:x",
                         as_of=NOW, options={**FAST, **options}, progress=progress)
    GcpCollector(store(api), ctx).run()
    return sink


def assess(sink: SnapshotSink, only: list[str] | None = None) -> Any:
    records = [r for t in RECORDS_BY_TABLE for r in sink.rows(t)]
    a = run_assessment(Snapshot.from_records(records), engagement(), NOW, only=only)
    assert not a.errors, a.errors
    return a.findings


def status(findings: Any, check: str, needle: str) -> set[str]:
    f = findings[(findings["check_id"].astype(str) == check) & findings["resource"].str.contains(needle, regex=False)]
    return set(f["status"].astype(str))


def secret(sink: SnapshotSink, sid: str) -> Any:
    return next(r for r in sink.rows("secret") if r.name == sid)


# --- collection through the SDK ----------------------------------------------------------------


def test_collects_secret_metadata_through_the_sdk(gcp_env: GcpApiServer):
    from rich.progress import Progress

    progress = Progress(disable=True)
    sink = collect(gcp_env, progress)
    lines = {t.description: (t.completed, t.total) for t in progress.tasks}
    assert lines == {f"gcp gcp-main {PROD}": (4, 4), f"gcp gcp-main {DEV}": (2, 2)}, "one line per project"
    assert not sink.gaps(), [g.model_dump() for g in sink.gaps()]
    assert {r.name for r in sink.rows("secret")} == {s["id"] for s in gcp_env.estate.secrets}
    db = secret(sink, "payments-db-password")
    assert db.kind == "gcp_secret" and db.path == f"projects/{PROD}/secrets/payments-db-password"
    assert db.arn == f"projects/{PROD_NO}/secrets/payments-db-password" and db.account == PROD
    assert db.versions_by_state == {"DESTROYED": 1, "DISABLED": 1, "ENABLED": 1} and db.enabled_versions == 1
    assert db.version_count == 3 and db.current_version == 3
    assert db.rotation_enabled and db.rotation_interval_days == 30
    assert db.rotation_topics == [f"projects/{PROD}/topics/secret-rotation"]
    assert abs((db.last_rotated_at - (NOW - timedelta(days=10))).total_seconds()) < 2  # newest version
    assert db.replication == "automatic" and db.kms_key_ids == [K_GLOBAL] and db.customer_managed_key
    assert db.tags == {"owner": "payments-team", "env": "prod"} and db.custom_metadata == {"runbook": "wiki/rotate-db"}
    legacy = secret(sink, "legacy-api-key")
    assert legacy.enabled_versions == 5 and not legacy.rotation_enabled and legacy.customer_managed_key is False
    pci = secret(sink, "pci-card-token")
    assert pci.replication == "user_managed" and pci.replica_regions == ["us-east1", "us-west1"]
    assert pci.customer_managed_key and sorted(pci.kms_key_ids) == sorted([K_EAST, K_WEST])
    regional = secret(sink, "reports-webhook-secret")
    assert regional.path == f"projects/{PROD}/locations/us-central1/secrets/reports-webhook-secret"
    assert regional.region == "us-central1" and regional.kms_key_ids == [K_CENTRAL]
    assert regional.expires_at is not None and 59 * 86400 < regional.default_ttl <= 90 * 86400
    # CMEK keys
    keys = {k.arn: k for k in sink.rows("key")}
    assert set(keys) == {K_GLOBAL, K_EAST, K_WEST, K_CENTRAL}
    assert keys[K_GLOBAL].kind == "gcp_kms" and keys[K_GLOBAL].rotation_period_days == 90
    assert keys[K_GLOBAL].protection_level == "HSM" and keys[K_GLOBAL].latest_version == 4
    assert keys[K_EAST].rotation_enabled is False and keys[K_EAST].rotation_period_days is None
    # IAM: the secret's policy and the project's, with principals
    rules = {(r.policy_id.rsplit(":", 1)[-1], r.capabilities[0]): r.principals for r in sink.rows("policy_rule")}
    assert rules[(f"projects/{PROD}/secrets/legacy-api-key/iam", ACCESSOR)] == sorted(["allUsers", APP_SA])
    assert rules[(f"projects/{PROD}/iam", "roles/editor")] == [COMPUTE_SA]
    kinds = {p.name: p.kind for p in sink.rows("principal")}
    assert kinds["allUsers"] == "gcp_public" and kinds[COMPUTE_SA] == "gcp_service_account"
    assert kinds["domain:acme.test"] == "gcp_domain"
    assert {s.address: s.namespace for s in sink.rows("server")} == {PROD: PROD_NO, DEV: DEV_NO}
    assert {s.address: s.parents for s in sink.rows("server")} == {
        PROD: ["folders/555", "organizations/777"], DEV: ["organizations/777"]}
    assert rules[("folders/555/iam", ACCESSOR)] == ["group:platform-oncall@acme.test"]


def test_real_credential_flow_and_only_allowed_calls(gcp_env: GcpApiServer):
    before = gcp_env.token_requests
    gcp_guard.issued_permissions()
    collect(gcp_env)
    assert gcp_env.token_requests - before == 1, "one OAuth token exchange, shared by the three clients"
    paths = [p for _, p in gcp_env.api_requests()]
    assert paths and not [p for p in paths if p.endswith((":access", ":decrypt", ":encrypt", ":addVersion"))]
    assert all(m in ("GET", "POST") for m, _ in gcp_env.api_requests())
    assert sorted(p for m, p in gcp_env.api_requests() if m == "POST") == sorted([
        "/v3/folders/555:getIamPolicy", "/v3/organizations/777:getIamPolicy",  # each ancestor once
        f"/v3/projects/{PROD}:getIamPolicy", f"/v3/projects/{DEV}:getIamPolicy"])
    # every permission the collector used is in the printed role, and the role has no other
    assert set(gcp_guard.issued_permissions()) == set(role_definition()["includedPermissions"])


def test_generic_inventory_and_lifecycle_checks_score_gcp_items(gcp_env: GcpApiServer):
    f = assess(collect(gcp_env))
    assert status(f, "INV001", "legacy-api-key") == {"fail"}          # no owner label, no owner rule
    assert status(f, "INV001", "payments-db-password") == {"pass"}
    assert status(f, "INV003", "dev-api-key") == {"pass"}             # env label
    assert status(f, "LCY001", "legacy-api-key") == {"fail"}          # newest version 200 days old
    assert status(f, "LCY001", "payments-db-password") == {"pass"}
    assert status(f, "LCY002", "legacy-api-key") == {"fail"}
    assert status(f, "LCY002", "pci-card-token") == {"pass"}
    assert status(f, "INV001", K_GLOBAL) == {"pass"}                  # key labels owner=security


def test_gcp_checks_find_each_planted_problem_and_pass_each_look_alike(gcp_env: GcpApiServer):
    f = assess(collect(gcp_env))
    expect = {
        ("GSM001", "legacy-api-key"): "fail", ("GSM001", "payments-db-password"): "pass",
        ("GSM002", "legacy-api-key"): "fail", ("GSM002", "pci-card-token"): "pass",
        ("GSM002", "payments-db-password"): "pass",
        ("GSM003", "payments-db-password"): "fail",  # project roles/editor to the compute default SA
        ("GSM003", "dev-cache-token"): "fail", ("GSM003", "dev-api-key"): "pass",
        ("GSM004", "legacy-api-key"): "fail", ("GSM004", "pci-card-token"): "pass",
        ("GSM005", "legacy-api-key"): "fail", ("GSM005", "pci-card-token"): "pass",
        ("GSM005", "reports-webhook-secret"): "pass",
        ("GSM006", "pci-east"): "fail", ("GSM006", "secrets-key"): "pass",
    }
    got = {k: status(f, *k) for k in expect}
    assert got == {k: {v} for k, v in expect.items()}
    assert status(f, "GSM005", "dev-api-key") == set(), "internal secrets are not judged for CMEK"


# --- the read-only guard -------------------------------------------------------------------------


def test_guard_refuses_every_value_and_write_operation_before_sending(gcp_env: GcpApiServer):
    """Each refused call raises ReadOnlyViolation and no request (not even a token exchange) reaches the server."""
    from google.cloud import kms_v1, secretmanager_v1
    from google.iam.v1 import policy_pb2

    ctx = CollectContext(engagement=engagement(), sink=SnapshotSink(), fingerprint=lambda v: "x", as_of=NOW)
    import google.auth

    creds, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    calls = GcpCalls(store(gcp_env), ctx, creds, gcp_guard.ReadOnlyGuard())
    sm, rm, kms = calls.clients.secretmanager, calls.clients.resourcemanager, calls.clients.kms
    regional = calls.secrets_client("us-central1")
    name = f"projects/{PROD_NO}/secrets/legacy-api-key"
    attempts = {
        "AccessSecretVersion": lambda: sm.access_secret_version(name=f"{name}/versions/latest"),
        "AccessSecretVersion (regional)": lambda: regional.access_secret_version(
            name=f"projects/{PROD}/locations/us-central1/secrets/reports-webhook-secret/versions/1"),
        "AddSecretVersion": lambda: sm.add_secret_version(parent=name, payload={"data": b"x"}),
        "CreateSecret": lambda: sm.create_secret(parent=f"projects/{PROD}", secret_id="new",
                                                 secret={"replication": {"automatic": {}}}),
        "UpdateSecret": lambda: sm.update_secret(secret={"name": name, "labels": {"a": "b"}},
                                                 update_mask={"paths": ["labels"]}),
        "DeleteSecret": lambda: sm.delete_secret(name=name),
        "GetSecret": lambda: sm.get_secret(name=name),  # harmless, but not what the collector needs
        "GetSecretVersion": lambda: sm.get_secret_version(name=f"{name}/versions/1"),
        "DestroySecretVersion": lambda: sm.destroy_secret_version(name=f"{name}/versions/1"),
        "DisableSecretVersion": lambda: sm.disable_secret_version(name=f"{name}/versions/1"),
        "EnableSecretVersion": lambda: sm.enable_secret_version(name=f"{name}/versions/1"),
        "SetIamPolicy (secret)": lambda: sm.set_iam_policy(request={"resource": name, "policy": policy_pb2.Policy()}),
        "TestIamPermissions": lambda: sm.test_iam_permissions(request={"resource": name, "permissions": ["x"]}),
        "SetIamPolicy (project)": lambda: rm.set_iam_policy(request={"resource": f"projects/{PROD}",
                                                                     "policy": policy_pb2.Policy()}),
        "DeleteProject": lambda: rm.delete_project(name=f"projects/{PROD}"),
        "KMS Decrypt": lambda: kms.decrypt(name=K_GLOBAL, ciphertext=b"x"),
        "KMS Encrypt": lambda: kms.encrypt(name=K_GLOBAL, plaintext=b"x"),
        "KMS UpdateCryptoKey": lambda: kms.update_crypto_key(crypto_key={"name": K_GLOBAL},
                                                             update_mask={"paths": ["labels"]}),
        "KMS DestroyCryptoKeyVersion": lambda: kms.destroy_crypto_key_version(name=f"{K_GLOBAL}/cryptoKeyVersions/1"),
    }
    assert isinstance(sm, secretmanager_v1.SecretManagerServiceClient) and isinstance(kms, kms_v1.KeyManagementServiceClient)
    for label, attempt in attempts.items():
        with pytest.raises(ReadOnlyViolation, match="nothing was sent"):
            attempt()
        assert gcp_env.log == [], f"{label} reached the server"
    assert calls.guard.calls == 0


def test_guard_rejects_a_200_of_another_shape_before_the_sdk_reads_it_as_empty():
    op = next(o for o in gcp_guard.OPERATIONS if o.name == "ListSecrets")
    assert gcp_guard.body_problem(op, b'{"secrets": [], "nextPageToken": "", "totalSize": 0}') is None
    assert gcp_guard.body_problem(op, b"") is None
    assert "not JSON" in gcp_guard.body_problem(op, b"<html>Sign in</html>")
    assert "does not return" in gcp_guard.body_problem(op, b'{"items": []}')
    assert "not a JSON object" in gcp_guard.body_problem(op, b"[]")


# --- coverage gaps through the real SDK ----------------------------------------------------------

LEGACY = f"projects/{PROD}/secrets/legacy-api-key"


@pytest.mark.parametrize("fault, reason, scope, gone, still", [
    # 403 on one project's listing: that project's secrets are not assessed, the other project's are
    (Fault(rf"/v1/projects/{DEV}/secrets$", 403), "denied", f"projects/{DEV}/", ("GSM001", DEV),
     ("GSM001", "legacy-api-key")),
    # 429 on one secret's policy, after the retries: its access checks are not assessed, the others' are
    (Fault(r"legacy-api-key:getIamPolicy$", 429), "throttled", LEGACY, ("GSM002", "legacy-api-key"),
     ("GSM002", "pci-card-token")),
    # 5xx on one secret's versions: its version count is unknown, never zero
    (Fault(r"legacy-api-key/versions$", 503), "error", LEGACY, ("GSM004", "legacy-api-key"),
     ("GSM004", "pci-card-token")),
    # a 200 HTML page where the project policy belongs: every prod secret's readers are unknown
    (Fault(rf"/v3/projects/{PROD}:getIamPolicy$", "html", "POST"), "malformed", f"projects/{PROD}/",
     ("GSM003", "payments-db-password"), ("GSM003", "dev-api-key")),
    # a 200 JSON object of another API instead of the listing
    (Fault(rf"/v1/projects/{PROD}/locations/us-central1/secrets$", "foreign"), "malformed",
     f"projects/{PROD}/locations/us-central1/", ("GSM001", "us-central1"), ("GSM001", "pci-card-token")),
    # a redirect to the value endpoint is not followed
    (Fault(r"pci-card-token/versions$", "redirect"), "malformed", f"projects/{PROD}/secrets/pci-card-token",
     ("GSM004", "pci-card-token"), ("GSM004", "payments-db-password")),
    # paging cut short: page 2 of acme-prod's listing fails
    (Fault(rf"/v1/projects/{PROD}/secrets$", "later_pages"), "truncated", f"projects/{PROD}/",
     ("GSM001", f"projects/{PROD}/"), ("GSM001", "dev-api-key")),
    # a listing whose next page token never changes
    (Fault(rf"/v1/projects/{DEV}/secrets$", "loop"), "truncated", f"projects/{DEV}/", ("GSM001", DEV),
     ("GSM001", "pci-card-token")),
])
def test_failed_reads_are_scoped_gaps_and_dependent_checks_not_assessed(gcp_env, fault, reason, scope, gone, still):
    gcp_env.faults.append(fault)
    sink = collect(gcp_env)
    gaps = sink.gaps()
    assert [(g.reason, g.scope) for g in gaps] == [(reason, scope)], [g.model_dump() for g in gaps]
    assert gaps[0].tables and gaps[0].source == "gcp"
    assert not [p for _, p in gcp_env.api_requests() if p.endswith(":access")]
    f = assess(sink, only=[gone[0], still[0], "INV001", "LCY001"])
    hit = f[(f["check_id"].astype(str) == gone[0]) & f["resource"].str.contains(gone[1], regex=False)]
    assert len(hit) and set(hit["status"].astype(str)) == {"not_assessed"}, hit[["resource", "status"]]
    assert status(f, *still) <= {"pass", "fail"} and status(f, *still), "outside the gap's scope still judged"


def test_an_unread_ancestor_policy_leaves_every_secret_below_it_unknown(gcp_env: GcpApiServer):
    """The organization's policy is denied: each project under it gets its own gap, and no secret's
    readers are passed (a binding there could reach any of them)."""
    gcp_env.faults.append(Fault(r"/v3/organizations/777:getIamPolicy$", 403, "POST"))
    sink = collect(gcp_env)
    assert sorted((g.scope, g.reason, g.operation) for g in sink.gaps()) == [
        (f"projects/{DEV}/", "denied", "resourcemanager.organizations.getIamPolicy"),
        (f"projects/{PROD}/", "denied", "resourcemanager.organizations.getIamPolicy")]
    f = assess(sink, only=["GSM002", "GSM001"])
    assert status(f, "GSM002", "projects/") == {"not_assessed"}
    assert status(f, "GSM002", "legacy-api-key") == {"not_assessed"}
    assert status(f, "GSM001", "legacy-api-key") == {"fail"}, "the secrets themselves were read"
    reasons = set(f[f["check_id"].astype(str) == "GSM002"]["extra"].map(lambda e: e.get("not_assessed_reason", "")))
    assert all("organizations.getIamPolicy" in r or "IAM policy" in r for r in reasons), reasons


def test_later_page_failure_keeps_what_was_read(gcp_env: GcpApiServer):
    gcp_env.faults.append(Fault(rf"/v1/projects/{PROD}/secrets$", "later_pages"))
    sink = collect(gcp_env)
    names = {r.name for r in sink.rows("secret") if r.account == PROD and r.region == "global"}
    assert len(names) == 2, "page 1 (page size 2) is kept"
    (gap,) = sink.gaps()
    assert "page 2 failed (error" in gap.detail and "2 items read" in gap.detail


# --- the store cannot be read at all -------------------------------------------------------------


def test_no_credentials_is_one_line_collection_error(gcp_env: GcpApiServer, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(CollectionError) as e:
        collect(gcp_env)
    assert "no Google credentials found" in str(e.value) and "\n" not in str(e.value)
    assert gcp_env.log == []


def test_rejected_credentials_is_a_collection_error(gcp_env: GcpApiServer, tmp_path: Path, monkeypatch):
    other = tmp_path / "other.json"
    rsa_service_account(other, gcp_env.token_uri, PROD)  # a key the server does not know
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(other))
    with pytest.raises(CollectionError, match="credentials rejected"):
        collect(gcp_env)
    assert [p for _, p in gcp_env.api_requests()] == []


def test_unreachable_endpoint_is_a_collection_error(gcp_env: GcpApiServer):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    sink = SnapshotSink()
    ctx = CollectContext(engagement=engagement(), sink=sink, fingerprint=lambda v: "x", as_of=NOW, options=FAST)
    with pytest.raises(CollectionError, match="unreachable") as e:
        GcpCollector(store(gcp_env, endpoint=f"http://127.0.0.1:{closed}"), ctx).run()
    assert "\n" not in str(e.value) and not sink.rows("secret")


# --- the CLI: policy, collect, assess ----------------------------------------------------------


def test_policy_gcp_prints_a_custom_role_without_value_access(capsys):
    assert main(["policy", "gcp"]) == 0
    out, err = capsys.readouterr()
    role = YAML(typ="safe").load(out)
    assert set(role) == {"title", "description", "stage", "includedPermissions"}
    perms = set(role["includedPermissions"])
    assert {"secretmanager.secrets.list", "secretmanager.versions.list", "secretmanager.secrets.getIamPolicy",
            "resourcemanager.projects.getIamPolicy", "cloudkms.cryptoKeys.get"} <= perms
    assert "secretmanager.versions.access" not in perms and not any("useToDecrypt" in p for p in perms)
    assert "secretmanager.versions.access" in err and "gcloud iam roles create" in err


def test_collect_and_assess_through_the_cli(gcp_env: GcpApiServer, workspace: Path, capsys):
    quarter = current_quarter(date.today())
    doc = {
        "client": "acme",
        "stores": {"gcp": [{"name": "gcp-main", "projects": [PROD, DEV], "locations": ["us-central1"],
                            "endpoint": gcp_env.url, "concurrency": 2}]},
        "classification": {"owners": [{"owner": "payments-team", "pager": "#payments-oncall",
                                       "match": ["*payments*"]}]},
    }
    path = workspace / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True)
    YAML().dump(doc, path)
    assert main(["collect", "acme", "--quarter", quarter]) == 0
    assert main(["assess", "acme", "--quarter", quarter, "--no-notebooks"]) == 0
    adir = workspace / "evidence" / "acme" / quarter / "assessment"
    findings = json.loads((adir / "findings.json").read_text())["findings"]
    mine = [f for f in findings if f["source"] == "gcp"]

    def st(check: str, needle: str) -> set[str]:
        return {f["status"] for f in mine if f["check_id"] == check and needle in f["resource"]}

    assert st("INV001", "legacy-api-key") == {"fail"} and st("LCY001", "legacy-api-key") == {"fail"}
    assert st("LCY001", "payments-db-password") == {"pass"}
    assert st("GSM002", "legacy-api-key") == {"fail"} and st("GSM002", "pci-card-token") == {"pass"}
    assert st("GSM006", "pci-east") == {"fail"}
    manifest = json.loads((workspace / "evidence" / "acme" / quarter / "snapshot" / "manifest.json").read_text())
    assert manifest["collectors"]["gcp"] == GcpCollector.version and manifest["gaps"] == 0
    # no value, no token, no key material anywhere the kit wrote
    tokens = tuple(gcp_env.tokens)
    key_body = gcp_env.private_key.splitlines()[5]  # type: ignore[attr-defined]
    assert assert_no_canary(workspace, extra=GCP_CANARIES + tokens + (key_body,)) > 3
    out, err = capsys.readouterr()
    for needle in GCP_CANARIES + tokens:
        assert needle not in out + err
    assert not [p for _, p in gcp_env.api_requests() if p.endswith(":access")]


def test_gap_tables_decide_which_generic_checks_lose_their_verdict(gcp_env: GcpApiServer):
    """A policy read that failed leaves the access checks unknown but not the secret's rotation age;
    a listing that failed leaves every check over the project's secrets unknown."""
    gcp_env.faults.append(Fault(r"legacy-api-key:getIamPolicy$", 403))
    f = assess(collect(gcp_env), only=["GSM002", "LCY001"])
    assert status(f, "GSM002", "legacy-api-key") == {"not_assessed"}
    assert status(f, "LCY001", "legacy-api-key") == {"fail"}, "the secret table was read in full"
    gcp_env.faults[:] = [Fault(rf"/v1/projects/{DEV}/secrets$", 403)]
    f = assess(collect(gcp_env), only=["LCY001", "INV001"])
    assert status(f, "LCY001", DEV) == {"not_assessed"} and status(f, "INV001", DEV) == {"not_assessed"}
    assert status(f, "LCY001", "payments-db-password") == {"pass"}


def test_cli_unreachable_store_is_one_line_and_writes_no_snapshot(gcp_env: GcpApiServer, workspace: Path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    quarter = current_quarter(date.today())
    path = workspace / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True)
    YAML().dump({"client": "acme", "stores": {"gcp": [{"name": "gcp-main", "projects": [PROD],
                                                       "endpoint": f"http://127.0.0.1:{closed}"}]}}, path)
    capsys.readouterr()
    assert main(["collect", "acme", "--quarter", quarter]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: gcp store gcp-main: unreachable") and "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert not (workspace / "evidence" / "acme" / quarter / "snapshot" / "manifest.json").exists()


def test_thresholds_apply_at_assess_time_on_the_same_snapshot(gcp_env: GcpApiServer):
    """The collector records counts and words, not verdicts: new thresholds re-judge the same snapshot."""
    from posture.model.thresholds import Thresholds

    sink = collect(gcp_env)
    snap = Snapshot.from_records([r for t in RECORDS_BY_TABLE for r in sink.rows(t)])
    strict = run_assessment(snap, engagement(), NOW, only=["GSM004", "GSM002"]).findings
    assert status(strict, "GSM004", "legacy-api-key") == {"fail"}
    assert status(strict, "GSM002", "pci-card-token") == {"pass"}
    lenient = engagement().model_copy(update={"thresholds": Thresholds(
        gcp_max_enabled_versions=5, gcp_broad_group_words=["allocation"])})
    relaxed = run_assessment(snap, lenient, NOW, only=["GSM004", "GSM002"]).findings
    assert status(relaxed, "GSM004", "legacy-api-key") == {"pass"}
    assert status(relaxed, "GSM002", "pci-card-token") == {"fail"}, "group:allocation-team@ now counts as broad"
