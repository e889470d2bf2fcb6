"""The Azure Key Vault collector, end to end through the official SDKs (issue #16).

No real Azure is reachable offline, so every test drives ``azure-identity``
(``DefaultAzureCredential`` -> ``EnvironmentCredential`` -> MSAL, a real client
credentials flow), ``azure-mgmt-keyvault``, ``azure-mgmt-authorization`` and
``azure-keyvault-secrets/-keys/-certificates`` through their real HTTP
transport (requests over TLS, a self-signed loopback certificate made with
``cryptography``) against `tests.azure_api.AzureLoopback`, which answers with
bodies built from Microsoft's published REST API reference (Key Vault data
plane 7.5: GetSecrets, GetSecretVersions, GetKeys, GetKeyVersions,
GetKeyRotationPolicy, GetCertificates, GetCertificatePolicy; ARM: Vaults -
List By Subscription / Get, Role Assignments - List For Scope, Role
Definitions - List / Get By Id; https://learn.microsoft.com/rest/api/keyvault/ and
https://learn.microsoft.com/rest/api/authorization/), deserialised by the
SDKs' own models. Key Vault's challenge authentication (401 +
``WWW-Authenticate: Bearer authorization=..., resource=...``) is answered as
the service does.

Canaries sit in the client secret, every access token issued, and the
value-returning answers the server would give (GetSecret ``value``, GetKey
``n``, GetCertificate ``cer``); no file the kit writes may contain one.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from azure_api import (
    AZURE_CANARIES,
    KV_ADMIN,
    KV_READER,
    OWNER,
    SECRETS_OFFICER,
    SECRETS_USER,
    SUB,
    TENANT,
    Assignment,
    AzureLoopback,
    Item,
    VaultSpec,
)
from conftest import assert_no_canary

from checks.engine import run_assessment
from collectors.azure.collector import AzureCollector
from collectors.azure.guard import ReadOnlyGuard
from collectors.base import CollectContext
from posture.cli import main
from posture.model.engagement import AzureStore, Engagement
from posture.model.errors import CollectionError, ReadOnlyViolation
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink

NOW = dt.datetime.now(dt.UTC)
QUARTER = f"{NOW.year}-Q{(NOW.month - 1) // 3 + 1}"
SP_APP = "aaaaaaaa-0000-0000-0000-000000000001"
USER_OPS = "bbbbbbbb-0000-0000-0000-000000000002"
GROUP_ALL = "cccccccc-0000-0000-0000-000000000003"
GROUP_META = "dddddddd-0000-0000-0000-000000000004"
SP_LEGACY = "eeeeeeee-0000-0000-0000-000000000005"
CUSTOM_META = "11111111-2222-3333-4444-555555555555"
MG = "/providers/Microsoft.Management/managementGroups/contoso"
ROTATE_90 = [{"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}},
             {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]
NOTIFY_ONLY = [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]


def days(n: float) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


def estate() -> tuple[list[VaultSpec], list[Assignment], dict[str, Any]]:
    """Two vaults: a well-kept RBAC one with problems in its items, and a legacy access-policy one."""
    prod = VaultSpec(
        "kv-payments-prod",
        secrets=[
            Item("db-password", created=days(-100), versions=3, tags={"owner": "payments-team", "env": "prod"}),
            Item("stripe-api-key", created=days(-10), expires=days(80), tags={"owner": "payments-team"}),
            Item("retired-token", enabled=False, created=days(-400)),
            Item("tls-api", managed=True, content_type="application/x-pkcs12"),
        ],
        keys=[Item("signing-key", created=days(-20), rotation=ROTATE_90, expiry_time="P1Y"),
              Item("legacy-key", created=days(-200), rotation=NOTIFY_ONLY),
              Item("no-policy-key", created=days(-30)),
              Item("tls-api", managed=True)],
        certificates=[Item("tls-api", created=days(-345), not_before=days(-345), expires=days(20),
                           subject="CN=api.payments.contoso.test", sans=["api.payments.contoso.test"]),
                      Item("partner-mtls", created=days(-345), not_before=days(-345), expires=days(15),
                           issuer="Unknown", auto_renew=False, subject="CN=partner.contoso.test")],
    )
    legacy = VaultSpec(
        "kv-legacy-dev", rbac=False, purge_protection=None, public_network_access=None, default_action=None,
        private_endpoints=0,
        access_policies=[
            {"tenantId": TENANT, "objectId": SP_LEGACY, "permissions": {"secrets": ["get", "list"], "keys": ["list"]}},
            {"tenantId": TENANT, "objectId": GROUP_META, "permissions": {"secrets": ["list"], "certificates": ["list"]}},
        ],
        secrets=[Item("app-config-secret", created=days(-5), expires=days(85))],
    )
    sub = f"/subscriptions/{SUB}"
    assignments = [
        Assignment(prod.arm_id(), SECRETS_USER, SP_APP),                 # the app: narrow, fine
        Assignment(sub, SECRETS_OFFICER, USER_OPS, "User"),               # inherited secret read: AZK007
        Assignment(sub, KV_READER, GROUP_META, "Group"),                  # metadata only: not a reader
        Assignment(sub, OWNER, USER_OPS, "User"),                         # control plane only: not a reader
        Assignment(MG, CUSTOM_META, GROUP_ALL, "Group"),                  # notDataActions remove getSecret
        Assignment(legacy.arm_id(), KV_ADMIN, GROUP_ALL, "Group"),        # ignored: legacy uses access policies
    ]
    custom = {CUSTOM_META: ("Secrets metadata auditor", {
        "actions": [], "notActions": [], "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"],
        "notDataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]})}
    return [prod, legacy], assignments, custom


def start(tmp: Path, **kw: Any) -> AzureLoopback:
    vaults, assignments, custom = estate()
    return AzureLoopback(tmp, vaults, assignments, custom, **kw).start()


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = start(tmp_path)
    for k, v in server.env().items():
        monkeypatch.setenv(k, v)
    yield server
    server.stop()


def collect(api: AzureLoopback, **store_kw: Any) -> tuple[SnapshotSink, AzureCollector]:
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="contoso"), sink=sink, fingerprint=lambda s: "fp",
                         as_of=NOW, options={"azure_retry_total": 1, "azure_retry_backoff": 0.0})
    store = AzureStore(name="az", subscriptions=[SUB], management_endpoint=api.management, **store_kw)
    c = AzureCollector(store, ctx)
    c.run()
    return sink, c


def by_id(sink: SnapshotSink, table: str) -> dict[str, Any]:
    return {r.id.rsplit("/", 1)[-1]: r for r in sink.rows(table)}


def assess(sink: SnapshotSink) -> Any:
    now = dt.datetime.now(dt.UTC)
    snap = Snapshot.from_records([r for t in sink.counts() for r in sink.rows(t)],
                                 Manifest(client="contoso", quarter=QUARTER, engagement_sha256="", started_at=now,
                                          finished_at=now))
    a = run_assessment(snap, Engagement(client="contoso"), NOW, only=["AZK*", "LCY*", "INV*"])
    assert not a.errors, a.errors
    return a.findings


def status(findings: Any, check: str, resource_part: str) -> set[str]:
    f = findings[(findings["check_id"].astype(str) == check) & findings["resource"].astype(str).str.contains(resource_part)]
    return set(f["status"].astype(str))


# --- collection -----------------------------------------------------------------------------------


def test_items_are_metadata_with_versions_rotation_and_certificate_policy(api: AzureLoopback):
    sink, collector = collect(api)
    assert not sink.gaps(), [(g.operation, g.reason, g.detail) for g in sink.gaps()]
    secrets = by_id(sink, "secret")
    assert set(secrets) == {"db-password", "stripe-api-key", "retired-token", "app-config-secret"}  # managed skipped
    db = secrets["db-password"]
    assert db.kind == "azure_keyvault_secret" and db.path == "kv-payments-prod/db-password"
    assert db.version_count == 3 and db.expires_at is None and db.enabled is True
    assert db.last_rotated_at.date() == days(-100).date() and db.created_at.date() == days(-160).date()
    assert db.tags == {"owner": "payments-team", "env": "prod"}
    assert secrets["stripe-api-key"].expires_at.date() == days(80).date()
    keys = by_id(sink, "key")
    assert set(keys) == {"signing-key", "legacy-key", "no-policy-key"}
    assert keys["signing-key"].rotation_enabled is True and keys["signing-key"].rotation_period_days == 90
    assert keys["legacy-key"].rotation_enabled is False and keys["legacy-key"].rotation_actions == [
        "notify before expiry P30D"]
    assert keys["no-policy-key"].rotation_enabled is False  # 404 KeyRotationPolicyNotFound: read, none
    certs = by_id(sink, "certificate")
    assert certs["tls-api"].managed_renewal is True and certs["tls-api"].key_algorithm == "RSA-2048"
    assert certs["partner-mtls"].managed_renewal is False and certs["partner-mtls"].issuer == "Unknown"
    vaults = by_id(sink, "cloud_resource")
    prod, legacy = vaults["kv-payments-prod"], vaults["kv-legacy-dev"]
    assert (prod.purge_protection, prod.rbac_authorization, prod.public_network_access) == (True, True, "Disabled")
    assert len(prod.private_endpoints) == 1
    # documented defaults when the Vaults API omits a property
    assert (legacy.purge_protection, legacy.rbac_authorization, legacy.public_network_access,
            legacy.network_default_action) == (False, False, "Enabled", "Allow")
    # every role definition came from the SDK's paging or Get By Id; the custom MG role was fetched by id
    assert collector.guard.issued["Role Definitions - Get By Id"] >= 1
    rules = sink.rows("policy_rule")
    mg = next(r for r in rules if r.path == MG)
    assert mg.not_capabilities == ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
    kinds = {p.name: p.kind for p in sink.rows("principal")}
    assert kinds[GROUP_ALL] == "azure_group" and kinds[USER_OPS] == "azure_user" and kinds[SP_LEGACY] == "azure_principal"
    assert api.count() > 20 and api.tokens_issued >= 2  # ARM token + Key Vault challenge token
    # the collector itself never asked for a value: every data-plane request is a listing or a policy
    data = [p for h, _, p in api.requests if h.startswith("kv-")]
    assert data and all(re.fullmatch(r"/(secrets|keys|certificates)(/[^/]+/(versions|rotationpolicy|policy))?", p)
                        for p in data), sorted(set(data))


def test_vault_filter_reads_only_the_named_vaults(api: AzureLoopback):
    sink, _ = collect(api, vaults=["KV-LEGACY-DEV"])
    assert [r.name for r in sink.rows("cloud_resource")] == ["kv-legacy-dev"]
    assert api.count("kv-payments-prod") == 0


def test_generic_and_azure_checks_score_the_snapshot(api: AzureLoopback):
    """The generic INV/LCY checks score Key Vault items with no Azure-specific code; AZK judge the rest."""
    sink, _ = collect(api)
    f = assess(sink)
    assert status(f, "LCY001", "secrets/db-password") == {"fail"}      # 100 days, db-password: 30
    assert status(f, "LCY001", "secrets/stripe-api-key") == {"pass"}
    assert status(f, "INV001", "secrets/db-password") == {"pass"}      # owner tag
    assert status(f, "INV001", "keys/legacy-key") == {"fail"}
    assert status(f, "INV003", "kv-payments-prod/secrets/db-password") == {"pass"}  # env from vault name / tag
    assert status(f, "LCY003", "certificates/partner-mtls") == {"fail"}  # 15 days, manual issuer
    assert status(f, "LCY003", "certificates/tls-api") == {"pass"}       # auto-renewed by Key Vault
    assert status(f, "AZK001", "kv-legacy-dev") == {"fail"} and status(f, "AZK001", "kv-payments-prod") == {"pass"}
    assert status(f, "AZK002", "kv-legacy-dev") == {"fail"} and status(f, "AZK002", "kv-payments-prod") == {"pass"}
    assert status(f, "AZK003", "kv-legacy-dev") == {"fail"} and status(f, "AZK003", "kv-payments-prod") == {"pass"}
    assert status(f, "AZK004", "secrets/db-password") == {"fail"}
    assert status(f, "AZK004", "secrets/retired-token") == {"pass"} and status(f, "AZK004", "stripe-api-key") == {"pass"}
    assert status(f, "AZK005", "keys/legacy-key") == {"fail"} and status(f, "AZK005", "keys/no-policy-key") == {"fail"}
    assert status(f, "AZK005", "keys/signing-key") == {"pass"}
    # readers: prod = the app SP + the ops user (subscription); the groups are metadata-only or ignored
    assert status(f, "AZK006", "kv-payments-prod") == {"pass"}
    assert status(f, "AZK007", "kv-payments-prod") == {"fail"}
    assert status(f, "AZK006", "kv-legacy-dev") == {"pass"} and status(f, "AZK007", "kv-legacy-dev") == {"pass"}
    ev = f[(f["check_id"].astype(str) == "AZK007") & f["resource"].str.contains("kv-payments-prod")]
    assert len(ev) == 1


# --- the read-only guard ----------------------------------------------------------------------------


def _guarded_clients(api: AzureLoopback) -> tuple[Any, dict[str, Any]]:
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="contoso"), sink=sink, fingerprint=lambda s: "fp", as_of=NOW)
    c = AzureCollector(AzureStore(name="az", subscriptions=[SUB], management_endpoint=api.management), ctx)
    from azure.keyvault.certificates import CertificateClient
    from azure.keyvault.keys import KeyClient
    from azure.keyvault.keys.crypto import (
        CryptographyClient,
        EncryptionAlgorithm,
        KeyWrapAlgorithm,
        SignatureAlgorithm,
    )
    from azure.keyvault.secrets import SecretClient
    from azure.mgmt.authorization import AuthorizationManagementClient

    cred = c.credential()
    url = api.url("kv-payments-prod")
    c.guard.add_host(url, "data")
    secrets = SecretClient(url, cred, transport=c.transport())
    keys = KeyClient(url, cred, transport=c.transport())
    certs = CertificateClient(url, cred, transport=c.transport())
    crypto = CryptographyClient(f"{url}/keys/signing-key/{'0' * 31}1", cred, transport=c.transport())
    auth = AuthorizationManagementClient(cred, SUB, transport=c.transport(), **{
        k: v for k, v in c._arm_kwargs().items() if k != "transport"})
    ops = {
        "getSecret": lambda: secrets.get_secret("db-password"),
        "getSecret version": lambda: secrets.get_secret("db-password", f"{'0' * 31}1"),
        "backupSecret": lambda: secrets.backup_secret("db-password"),
        "setSecret": lambda: secrets.set_secret("db-password", "x"),
        "deleteSecret": lambda: secrets.begin_delete_secret("db-password"),
        "getKey": lambda: keys.get_key("signing-key"),
        "backupKey": lambda: keys.backup_key("signing-key"),
        "releaseKey (export)": lambda: keys.release_key("signing-key", "attestation"),
        "decrypt": lambda: crypto.decrypt(EncryptionAlgorithm.rsa_oaep, b"x" * 256),
        "unwrapKey": lambda: crypto.unwrap_key(KeyWrapAlgorithm.rsa_oaep, b"x" * 256),
        "sign": lambda: crypto.sign(SignatureAlgorithm.rs256, b"x" * 32),
        "getCertificate": lambda: certs.get_certificate("tls-api"),
        "backupCertificate": lambda: certs.backup_certificate("tls-api"),
        "roleAssignment create": lambda: auth.role_assignments.create(
            f"/subscriptions/{SUB}", "00000000-0000-0000-0000-00000000beef",
            {"role_definition_id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{KV_ADMIN}",
             "principal_id": USER_OPS}),
    }
    return c.guard, ops


@pytest.mark.parametrize("op", ["getSecret", "getSecret version", "backupSecret", "setSecret", "deleteSecret",
                                "getKey", "backupKey", "releaseKey (export)", "decrypt", "unwrapKey", "sign",
                                "getCertificate", "backupCertificate", "roleAssignment create"])
def test_every_value_or_write_operation_is_refused_before_sending(api: AzureLoopback, op: str):
    _, ops = _guarded_clients(api)
    before_vault, before_arm = api.count("kv-payments-prod"), api.count("management")
    with pytest.raises(ReadOnlyViolation):
        ops[op]()
    assert api.count("kv-payments-prod") == before_vault == 0, "a value operation reached the vault"
    assert api.count("management") == before_arm


def test_token_requests_never_go_to_a_resource_host():
    g = ReadOnlyGuard()
    g.add_host("https://kv.vault.azure.net/", "data")
    g.add_host("https://management.azure.com", "management")
    assert g.check("POST", f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token").plane == "identity"
    for host in ("https://kv.vault.azure.net", "https://management.azure.com"):
        with pytest.raises(ReadOnlyViolation):
            g.check("POST", f"{host}/{TENANT}/oauth2/v2.0/token")
    assert g.check("GET", "https://kv.vault.azure.net/secrets/db/versions?api-version=7.5").name == "GetSecretVersions"
    with pytest.raises(ReadOnlyViolation, match="getSecret"):
        g.check("GET", "https://kv.vault.azure.net/secrets/versions")  # a secret named 'versions' is a value read


def test_printed_role_covers_what_was_issued_and_omits_values(api: AzureLoopback, capsys: pytest.CaptureFixture):
    _, collector = collect(api)
    assert main(["policy", "azure"]) == 0
    out = capsys.readouterr()
    role = json.loads(out.out)
    assert collector.guard.permissions() <= set(role["Actions"]) | set(role["DataActions"])
    assert not any("getSecret" in a or a.endswith("/*") or a == "*" for a in role["DataActions"])
    assert "Microsoft.KeyVault/vaults/secrets/getSecret/action" in role["NotDataActions"]
    assert "getSecret" in out.err


# --- coverage gaps through the real SDK ---------------------------------------------------------------


def _gaps(sink: SnapshotSink) -> dict[str, Any]:
    return {g.operation: g for g in sink.gaps()}


def test_denied_secrets_listing_is_a_vault_scoped_gap_and_not_assessed(api: AzureLoopback):
    api.fault("kv-payments-prod", "GET", r"^/secrets(\?|$)", 403,
              {"error": {"code": "Forbidden", "message": "Caller is not authorized", "innererror":
                         {"code": "ForbiddenByRbac"}}})
    sink, _ = collect(api)
    g = _gaps(sink)["GetSecrets"]
    assert g.reason == "denied" and g.tables == ["secret"] and g.scope.endswith("kv-payments-prod/secrets/")
    assert "kv-payments-prod" not in {r.mount for r in sink.rows("secret")}
    assert by_id(sink, "key")  # the rest of the vault was read
    f = assess(sink)
    assert status(f, "AZK004", "kv-payments-prod") == {"not_assessed"}
    assert status(f, "LCY001", "kv-payments-prod") == {"not_assessed"}
    assert status(f, "AZK004", "kv-legacy-dev") == {"pass"}  # the other vault is unaffected


def test_denied_subscription_is_a_gap_on_every_vault_table(api: AzureLoopback):
    api.fault("management", "GET", r"Microsoft\.KeyVault/vaults(\?|$)", 403,
              {"error": {"code": "AuthorizationFailed", "message": "does not have authorization"}})
    sink, _ = collect(api)
    g = _gaps(sink)["Vaults - List By Subscription"]
    assert g.reason == "denied" and g.scope == f"/subscriptions/{SUB}" and "cloud_resource" in g.tables
    assert not sink.rows("cloud_resource") and api.count("kv-payments-prod") == 0
    f = assess(sink)
    for check in ("AZK001", "AZK004", "LCY001"):
        assert status(f, check, "") == {"not_assessed"}, check


def test_role_definitions_listing_failure_falls_back_to_get_by_id(api: AzureLoopback):
    api.fault("management", "GET", r"/subscriptions/[^/]+/providers/Microsoft\.Authorization/roleDefinitions(\?|$)",
              500, {"error": {"code": "InternalServerError", "message": "boom"}}, {"Retry-After": "0"})
    sink, _ = collect(api)
    assert _gaps(sink)["Role Definitions - List"].tables == []
    f = assess(sink)
    assert status(f, "AZK007", "kv-payments-prod") == {"fail"}  # still judged: every role fetched by id


def test_throttled_after_retries_is_throttled(api: AzureLoopback):
    api.fault("kv-payments-prod", "GET", r"^/keys(\?|$)", 429,
              {"error": {"code": "Throttled", "message": "Too many requests"}}, {"Retry-After": "0"})
    sink, _ = collect(api)
    g = _gaps(sink)["GetKeys"]
    assert g.reason == "throttled" and g.tables == ["key"]
    assert status(assess(sink), "AZK005", "kv-payments-prod") == {"not_assessed"}


def test_server_error_is_error_and_scoped_to_the_item(api: AzureLoopback):
    api.fault("kv-payments-prod", "GET", r"^/certificates/tls-api/policy(\?|$)", 500,
              {"error": {"code": "InternalError", "message": "boom"}}, {"Retry-After": "0"})
    sink, _ = collect(api)
    g = _gaps(sink)["GetCertificatePolicy"]
    assert g.reason == "error" and g.scope.endswith("certificates/tls-api")
    f = assess(sink)
    assert status(f, "LCY003", "certificates/tls-api") == {"not_assessed"}
    assert status(f, "LCY003", "certificates/partner-mtls") == {"fail"}


@pytest.mark.parametrize("body", ["<html><body>Sign in to your proxy</body></html>", {"items": []}])
def test_malformed_200_is_malformed(api: AzureLoopback, body: Any):
    api.fault("management", "GET", r"kv-payments-prod/providers/Microsoft\.Authorization/roleAssignments(\?|$)", 200, body)
    sink, _ = collect(api)
    g = _gaps(sink)["Role Assignments - List For Scope"]
    assert g.reason == "malformed" and set(g.tables) == {"policy", "policy_rule", "principal"}
    f = assess(sink)
    assert status(f, "AZK006", "kv-payments-prod") == {"not_assessed"}
    assert status(f, "AZK007", "kv-payments-prod") == {"not_assessed"}
    assert status(f, "AZK006", "kv-legacy-dev") == {"pass"}


def test_paging_that_ends_early_is_truncated_and_keeps_what_was_read(api: AzureLoopback):
    api.fault("kv-payments-prod", "GET", r"^/secrets\?.*skiptoken=2", 500,
              {"error": {"code": "InternalError", "message": "boom"}}, {"Retry-After": "0"})
    sink, _ = collect(api)
    g = _gaps(sink)["GetSecrets"]
    assert g.reason == "truncated" and "after 1 page" in g.detail
    got = {r.name for r in sink.rows("secret") if r.mount == "kv-payments-prod"}
    assert got == {"db-password", "stripe-api-key"}  # the first page
    assert status(assess(sink), "LCY001", "secrets/db-password") == {"not_assessed"}


def test_no_usable_credential_is_one_collection_error(api: AzureLoopback, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "wrong-secret")
    with pytest.raises(CollectionError) as e:
        collect(api)
    assert "no usable Azure credential" in str(e.value) and "\n" not in str(e.value)
    assert api.count("management") == 0


def test_no_credential_at_all_is_one_collection_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture):
    import os

    for k in list(os.environ):
        if k.startswith(("AZURE_", "IDENTITY_", "MSI_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))  # no Azure CLI / azd profile, no shared token cache
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd or pwsh to run
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="contoso"), sink=sink, fingerprint=lambda s: "fp", as_of=NOW)
    with pytest.raises(CollectionError, match="no usable Azure credential") as e:
        AzureCollector(AzureStore(name="az", subscriptions=[SUB]), ctx).run()
    assert "\n" not in str(e.value) and not sink.counts()
    assert "EnvironmentCredential" not in capsys.readouterr().err  # the chain's warnings stay quiet


def test_unreachable_management_endpoint_is_one_collection_error(api: AzureLoopback):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="contoso"), sink=sink, fingerprint=lambda s: "fp", as_of=NOW,
                         options={"azure_retry_total": 0, "azure_retry_backoff": 0.0})
    c = AzureCollector(AzureStore(name="az", subscriptions=[SUB], management_endpoint=f"https://127.0.0.1:{port}"), ctx)
    with pytest.raises(CollectionError, match="could not reach the management endpoint"):
        c.run()


# --- the CLI, end to end ------------------------------------------------------------------------------


def test_cli_collect_and_assess_find_azure_problems_and_leak_nothing(api: AzureLoopback, workspace: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    eng = workspace / "engagements" / "contoso" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text("client: contoso\nstores:\n  azure:\n    - name: az\n"
                   f"      subscriptions: ['{SUB}']\n      management_endpoint: {api.management}\n      concurrency: 4\n")
    out, err = StringIO(), StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["collect", "contoso", "-q", QUARTER]) == 0
    assert main(["assess", "contoso", "-q", QUARTER, "--no-notebooks"]) == 0
    evidence = workspace / "evidence" / "contoso" / QUARTER
    findings = json.loads((evidence / "assessment" / "findings.json").read_text())["findings"]
    failing = {(f["check_id"], f["resource"].rsplit("/", 1)[-1]) for f in findings
               if f["status"] == "fail" and f["source"] == "azure"}
    for expected in [("AZK001", "kv-legacy-dev"), ("AZK002", "kv-legacy-dev"), ("AZK003", "kv-legacy-dev"),
                     ("AZK004", "db-password"), ("AZK005", "legacy-key"), ("AZK007", "kv-payments-prod"),
                     ("LCY001", "db-password"), ("INV001", "legacy-key"), ("LCY003", "partner-mtls")]:
        assert expected in failing, (expected, sorted(failing))
    assert ("AZK001", "kv-payments-prod") not in failing and ("LCY003", "tls-api") not in failing
    assert assert_no_canary(workspace, extra=AZURE_CANARIES) > 5
    assert not any(c in out.getvalue() + err.getvalue() for c in AZURE_CANARIES)
