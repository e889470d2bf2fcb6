"""Blind passes (issue #12, items 1-4): what the kit could not see is never a pass.

Each test reproduces a break against the real server (OpenBao dev server, moto)
and then holds; where a fault must be injected, `faultproxy.FaultProxy` sits on
loopback between the collector and the real server.

1. A 200 that is not the expected JSON (an SSO proxy's HTML page, a portal, a
   wrong URL, a body of the wrong shape) is a ``malformed`` gap on the tables
   its reader fills; a server whose every answer is such a page cannot be
   assessed (exit 3, one line). On AWS the same holds for botocore's reading
   of an HTML or foreign body, and throttling that outlasts the retries is
   ``throttled``.
2. A denied ``auth/token/lookup-accessor`` (it needs ``update``) is a gap on
   the token table: the token checks are not_assessed, not "no root token".
3. A store-level check (one row per store) is not_assessed when any gap of the
   store touches its inputs: one mount denied, or the server sealed mid-collect.
4. A KV name the kit cannot address (``CORP\\svc-backup``) is the same gap
   whether the mount is read by SCAN or by the LIST walk.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests
from conftest import CANARIES
from faultproxy import FaultProxy, Reply, Seen
from vault_fixtures import make_token, put_policy, run_collector, vault_estate, write_engagement  # noqa: F401

from checks.engine import Assessment, run_assessment
from collectors.aws.collector import AwsCollector
from collectors.base import CollectContext
from collectors.vault.guard import Guard
from collectors.vault.http import VaultHTTP
from collectors.vault.policy import assessor_policy, live_mounts
from posture.cli import main
from posture.model.engagement import AwsStore, Engagement
from posture.model.errors import CollectionError
from posture.model.snapshot import Snapshot, SnapshotSink

AS_OF = "2026-11-20"


# --- helpers -------------------------------------------------------------------------------------


def assess(sink: SnapshotSink, only: list[str] | None = None) -> Assessment:
    records = [r for table in sink.counts() for r in sink.rows(table)]
    return run_assessment(Snapshot.from_records(records), Engagement(client="acme"), AS_OF, only=only)


def verdicts(a: Assessment, check_id: str) -> list[tuple[str, str, str | None]]:
    """(resource, status, not_assessed_reason) of every row of one check."""
    f = a.findings
    reasons = a.not_assessed_reasons()
    rows = f[f["check_id"].astype(str) == check_id]
    return [(str(r), str(s), reasons.get(i)) for i, r, s in zip(rows.index, rows["resource"], rows["status"])]


def assert_blind(a: Assessment, check_id: str, operation: str) -> None:
    """The check has rows, none decided, each saying which gap left it unknown."""
    rows = verdicts(a, check_id)
    assert rows, f"{check_id}: no row at all (a missing table must still show)"
    assert {s for _, s, _ in rows} == {"not_assessed"}, (check_id, rows)
    assert any(operation in (why or "") for _, _, why in rows), (check_id, operation, rows)


def gaps_of(sink: SnapshotSink) -> set[tuple[str, str]]:
    return {(g.operation, g.reason) for g in sink.gaps()}


def _root(openbao) -> dict[str, str]:
    return {"X-Vault-Token": openbao.root_token}


def assessor_token(openbao, name: str, *, without_mounts: tuple[str, ...] = (),
                   without_paths: tuple[str, ...] = ()) -> str:
    """A token with the kit's own assessor policy for the live mounts, minus some mounts or stanzas."""
    http = VaultHTTP(openbao.address, guard=Guard(), token=openbao.root_token)
    try:
        mounts, problems = live_mounts(http)
    finally:
        http.close()
    text = assessor_policy([m for m in mounts if m.auth or m.path not in without_mounts], not_covered=problems)
    for path in without_paths:
        text, n = re.subn(rf'path "{re.escape(path)}" \{{[^}}]*\}}\n', "", text)
        assert n == 1, path
    put_policy(openbao, name, text)
    return make_token(openbao, [name])


@pytest.fixture
def proxy(openbao):
    with FaultProxy(openbao.address) as p:
        yield p


@pytest.fixture(scope="module")
def baseline(openbao, vault_estate):  # noqa: F811
    """The estate collected and assessed with nothing in the way: what the faults would hide."""
    sink, _ = run_collector(openbao.address, openbao.root_token)
    assert sink.gaps() == []
    return assess(sink)


# --- 1. a 200 that is not the expected JSON --------------------------------------------------------


def test_every_answer_html_is_a_store_that_cannot_be_assessed(openbao, vault_estate, proxy,  # noqa: F811
                                                             workspace, monkeypatch, capsys):
    """An SSO proxy answering everything with its sign-in page: exit 3, one line, nothing written.

    Before: exit 0, no gap, and the store checks passed on an empty snapshot.
    """
    proxy.substitute("*", "*", Reply.html())
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    write_engagement(workspace, proxy.address)
    assert main(["collect", "acme"]) == CollectionError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "cannot be assessed" in err and "sys/health" in err and "not JSON" in err
    assert openbao.root_token not in err
    assert not (workspace / "evidence").exists()


def test_html_on_every_read_after_login_leaves_nothing_passing(openbao, vault_estate, proxy, baseline):  # noqa: F811
    """Health and login reach the server, every other answer is the portal page: a gap per read,
    no record guessed, and not one Vault check passes."""
    login = {"/v1/sys/health", "/v1/auth/token/lookup-self"}
    proxy.substitute("*", "*", Reply.html(), when=lambda seen: seen.path not in login)
    sink, _ = run_collector(proxy.address, openbao.root_token)
    assert {r for _, r in gaps_of(sink)} == {"malformed"}
    ops = {op for op, _ in gaps_of(sink)}
    assert {"GET sys/seal-status", "GET sys/mounts", "GET sys/auth", "LIST sys/policies/acl", "GET sys/audit",
            "LIST auth/token/accessors", "LIST identity/entity/id", "LIST identity/group/id"} <= ops
    assert all(not sink.rows(t) for t in ("mount", "secret", "policy", "token", "audit_device", "principal"))
    a = assess(sink)
    vault = a.findings[a.findings["source"].astype(str) == "vault"]
    assert len(vault) and not (vault["status"].astype(str) == "pass").any()
    assert not (vault["status"].astype(str) == "fail").any()  # nothing seen, nothing claimed either
    assert (baseline.findings["status"].astype(str) == "pass").any()  # what was at stake


@pytest.mark.parametrize(("method", "path", "reply", "operation", "check_id"), [
    ("LIST", "/v1/sys/policies/acl", Reply.html(), "LIST sys/policies/acl", "VLT006"),
    ("GET", "/v1/sys/policies/acl/admin-wildcard", Reply.html(), "GET sys/policies/acl/admin-wildcard", "VLT006"),
    ("LIST", "/v1/sys/policies/acl", Reply.of_json({"data": {"keys": "admin-wildcard"}}),
     "LIST sys/policies/acl", "VLT006"),
    ("GET", "/v1/sys/policies/acl/admin-wildcard", Reply.of_json({"data": {"name": "admin-wildcard"}}),
     "GET sys/policies/acl/admin-wildcard", "VLT006"),
    ("GET", "/v1/sys/audit", Reply.html(), "GET sys/audit", "VLT004"),
    ("GET", "/v1/sys/audit", Reply.of_json({"data": None}), "GET sys/audit", "VLT004"),
    ("GET", "/v1/sys/mounts/database/tune", Reply.html(), "GET sys/mounts/database/tune", "VLT017"),
    ("LIST", "/v1/auth/token/accessors", Reply.html(), "LIST auth/token/accessors", "VLT009"),
    ("POST", "/v1/auth/token/lookup-accessor", Reply.html(), "POST auth/token/lookup-accessor", "VLT009"),
    ("LIST", "/v1/secret/metadata/", Reply.html(), "LIST secret/metadata/", "VLT020"),
    ("LIST", "/v1/pki/certs", Reply.html(), "LIST pki/certs", "LCY003"),
    ("GET", "/v1/transit/keys/legacy-signing", Reply.of_json({"data": {"type": "ed25519"}}),
     "GET transit/keys/legacy-signing", "VLT019"),
], ids=["policies-html", "policy-html", "policies-keys-string", "policy-no-text", "audit-html", "audit-null",
        "tune-html", "accessors-html", "lookup-html", "kv-listing-html", "pki-listing-html", "transit-no-keys"])
def test_malformed_answer_is_a_gap_and_its_checks_are_not_assessed(openbao, vault_estate, proxy, baseline,  # noqa: F811
                                                                   method, path, reply, operation, check_id):
    """Before: each of these read as "nothing there" (no policy, no device, no token ...) and the
    check passed or failed on it; an HTML 200 on LIST sys/policies/acl removed the critical
    wildcard-policy failure."""
    decided = {s for _, s, _ in verdicts(baseline, check_id)}
    assert decided & {"pass", "fail"}, (check_id, decided)  # the check decides on a clean read
    proxy.substitute(method, path, reply)
    sink, _ = run_collector(proxy.address, openbao.root_token, options={"vault_scan": False})
    assert proxy.substituted, "the fault was never injected"
    assert (operation, "malformed") in gaps_of(sink)
    assert_blind(assess(sink, only=[check_id]), check_id, operation)


def test_a_malformed_scan_falls_back_to_the_walk(openbao, vault_estate, proxy):  # noqa: F811
    """SCAN has a second way in: its malformed answer (keys without ``key_info``, once read as
    "no secrets") costs nothing as long as the walk reads it all."""
    clean, _ = run_collector(openbao.address, openbao.root_token, mounts=["secret"])
    proxy.substitute("SCAN", "/v1/secret/detailed-metadata/", Reply.of_json({"data": {"keys": ["a"]}}))
    sink, collector = run_collector(proxy.address, openbao.root_token, mounts=["secret"])
    assert proxy.substituted and collector.kv_mode["secret"] == "walk" and sink.gaps() == []
    assert {s.id for s in sink.rows("secret")} == {s.id for s in clean.rows("secret")} != set()


# --- 1. AWS: botocore's reading of an HTML or foreign body -----------------------------------------


def _target(action: str):
    """Match a JSON-protocol call by its X-Amz-Target header, a query-protocol one by its Action."""
    def when(seen: Seen) -> bool:
        headers = {k.lower(): v for k, v in seen.headers.items()}
        return headers.get("x-amz-target", "").endswith(f".{action}") or f"Action={action}&".encode() in seen.body
    return when


@pytest.fixture
def aws_proxy(aws_env):
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env.endpoint_url).create_secret(
        Name="prod/payments/db", SecretString=CANARIES[1])
    with FaultProxy(aws_env.endpoint_url) as p:
        yield p


def collect_aws(endpoint: str, services: list[str], **options: Any) -> SnapshotSink:
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="acme"), sink=sink, fingerprint=lambda v: "hmac256:test",
                         as_of=datetime.now(UTC), options=options)
    AwsCollector(AwsStore(name="main", regions=["us-east-1"], services=services, endpoint_url=endpoint), ctx).run()
    return sink


def _truncated(real: Reply) -> Reply:
    return Reply(real.status, real.body[: len(real.body) // 2], real.headers)


@pytest.mark.parametrize("reply", [
    Reply.html(),                                   # an SSO page with 200
    Reply.of_json({"SecretList": "oops"}),          # botocore's parser crashed on this
    Reply.of_json({"SecretList": [{"Name": "x"}]}),  # items without the ARN the reader needs
    Reply.of_json({}),                              # valid JSON, but no listing at all
    _truncated,                                     # the real answer cut short
], ids=["html", "list-is-a-string", "item-without-arn", "empty-object", "truncated"])
def test_aws_listing_that_is_not_the_answer_is_a_malformed_gap(aws_proxy, reply):
    """Before: an HTML 200 on ListSecrets left 0 secrets and 0 gaps; the wrong shape was a traceback."""
    aws_proxy.substitute("POST", "/", reply, when=_target("ListSecrets"))
    sink = collect_aws(aws_proxy.address, ["secretsmanager"])
    assert aws_proxy.substituted
    assert gaps_of(sink) == {("secretsmanager:ListSecrets", "malformed")}
    assert not sink.rows("secret")
    a = assess(sink)
    secret_checks = [c.id for c in a.catalog.values() if "aws" in c.sources and "secret" in c.inputs]
    assert secret_checks
    for check_id in secret_checks:
        assert_blind(a, check_id, "secretsmanager:ListSecrets")


def test_aws_query_protocol_html_is_a_malformed_gap(aws_proxy):
    """IAM speaks XML: botocore read a well-formed HTML page as an empty account."""
    aws_proxy.substitute("POST", "/", Reply.html(), when=_target("GetAccountAuthorizationDetails"))
    sink = collect_aws(aws_proxy.address, ["iam"])
    assert ("iam:GetAccountAuthorizationDetails", "malformed") in gaps_of(sink)
    detail = next(g.detail for g in sink.gaps() if g.operation == "iam:GetAccountAuthorizationDetails")
    assert "not XML" in detail or "not AWS's XML" in detail


def test_aws_throttling_after_retries_is_throttled(aws_proxy):
    """Was reason ``error`` with "throttled after retries" in the detail."""
    throttled = Reply(400, b'{"__type":"ThrottlingException","message":"Rate exceeded"}',
                      (("Content-Type", "application/x-amz-json-1.1"),))
    aws_proxy.substitute("POST", "/", throttled, when=_target("ListSecrets"))
    sink = collect_aws(aws_proxy.address, ["secretsmanager"], aws_max_attempts=2)
    assert gaps_of(sink) == {("secretsmanager:ListSecrets", "throttled")}
    assert len(aws_proxy.substituted) == 3  # botocore's max_attempts counts retries: 1 + 2, then given up


# --- 2. a denied per-item read -------------------------------------------------------------------


def test_denied_token_lookup_is_a_gap_not_an_estate_without_root_tokens(openbao, vault_estate, baseline):  # noqa: F811
    """The token may list accessors but not look them up (lookup-accessor needs ``update``).

    Before: 0 tokens, 0 gaps, and "root token exists" (critical) disappeared.
    """
    assert "fail" in {s for _, s, _ in verdicts(baseline, "VLT009")}  # the dev root token
    token = assessor_token(openbao, "blind-no-lookup", without_paths=("auth/token/lookup-accessor",))
    with FaultProxy(openbao.address) as counting:
        sink, _ = run_collector(counting.address, token, concurrency=1)
        lookups = counting.count("POST", "/v1/auth/token/lookup-accessor")
    assert ("POST auth/token/lookup-accessor", "denied") in gaps_of(sink)
    gap = next(g for g in sink.gaps() if g.operation == "POST auth/token/lookup-accessor")
    assert gap.tables == ["token"] and "403" in (gap.detail or "")
    assert not sink.rows("token")
    assert lookups == 1  # one policy decides every lookup: asked once, not once per token
    a = assess(sink, only=["VLT009", "VLT010", "LCY006"])
    for check_id in ("VLT009", "VLT010", "LCY006"):
        assert_blind(a, check_id, "POST auth/token/lookup-accessor")
    assert sink.rows("secret") and sink.rows("policy")  # the rest was read


# --- 3. store-level checks over gaps ---------------------------------------------------------------


def test_one_mount_denied_leaves_the_cross_env_store_check_not_assessed(openbao, vault_estate):  # noqa: F811
    """An engagement over ``secret/`` (prod, staging, dev) and ``apps/`` (staging, dev).

    Before: with ``secret/`` unreadable, "one Vault serves prod and non-prod" flipped from fail
    to pass on what ``apps/`` holds.
    """
    mounts = ["secret", "apps"]
    clean, _ = run_collector(openbao.address, openbao.root_token, mounts=mounts)
    assert {s for _, s, _ in verdicts(assess(clean, only=["VLT020"]), "VLT020")} == {"fail"}
    token = assessor_token(openbao, "blind-no-secret", without_mounts=("secret",))
    sink, _ = run_collector(openbao.address, token, mounts=mounts)
    assert {(g.operation, g.reason) for g in sink.gaps() if g.scope == "secret/"} >= {
        ("LIST secret/metadata/", "denied")}
    assert sink.rows("secret")  # the other mounts were read
    a = assess(sink, only=["VLT020"])
    assert_blind(a, "VLT020", "secret/metadata/")
    [row] = a.evidence_records()
    assert row["verdict_without_gap"] == "pass"  # what the gap would have hidden


def test_server_sealed_mid_collect_leaves_the_store_check_not_assessed(openbao, vault_estate, proxy):  # noqa: F811
    """From the first read of ``secret/`` on, every answer is 503 "Vault is sealed"."""
    sealed = threading.Event()

    def after_secret(seen: Seen) -> bool:
        if seen.path.startswith("/v1/secret/"):
            sealed.set()
        return sealed.is_set()

    proxy.substitute("*", "*", Reply.of_json({"errors": ["Vault is sealed"]}, status=503), when=after_secret)
    sink, _ = run_collector(proxy.address, openbao.root_token)
    sealed_gaps = [g for g in sink.gaps() if "sealed" in (g.detail or "")]
    assert sealed_gaps and any("secret" in g.tables for g in sealed_gaps)
    assert_blind(assess(sink, only=["VLT020"]), "VLT020", "coverage gap: error on ")  # whichever came first


# --- 4. names the kit cannot address ------------------------------------------------------------------

ODD_NAME = "CORP\\svc-backup"


@pytest.fixture(scope="module")
def odd_names(openbao):
    """A KV v2 mount holding a name with a backslash beside a plain one; removed afterwards."""
    base = f"{openbao.address}/v1"
    r = requests.post(f"{base}/sys/mounts/blind-kv", headers=_root(openbao), timeout=10,
                      json={"type": "kv", "options": {"version": "2"}})
    assert r.status_code == 204, r.text
    for name in (ODD_NAME, "ok/app"):
        requests.post(f"{base}/blind-kv/data/{quote(name, safe='/')}", headers=_root(openbao), timeout=10,
                      json={"data": {"v": CANARIES[0]}}).raise_for_status()
    yield "blind-kv"
    requests.delete(f"{base}/sys/mounts/blind-kv", headers=_root(openbao), timeout=10)


@pytest.mark.parametrize("scan", [True, False], ids=["scan", "walk"])
def test_unaddressable_kv_name_is_the_same_gap_by_scan_and_walk(openbao, odd_names, scan):
    """Before: SCAN dropped ``CORP\\svc-backup`` without a record or a gap; the walk recorded one."""
    sink, collector = run_collector(openbao.address, openbao.root_token, mounts=[odd_names],
                                    options={"vault_scan": scan})
    assert collector.kv_mode[odd_names] == ("scan" if scan else "walk")
    assert [(g.operation, g.reason, g.tables, g.scope) for g in sink.gaps()] == [
        (f"name blind-kv/{ODD_NAME}", "unsupported", ["secret"], "blind-kv/")]
    assert [s.path for s in sink.rows("secret")] == ["blind-kv/ok/app"]
    assert_blind(assess(sink, only=["LCY002"]), "LCY002", f"name blind-kv/{ODD_NAME}")


def test_walk_and_scan_record_identical_gaps(openbao, odd_names):
    gaps = []
    for scan in (True, False):
        sink, _ = run_collector(openbao.address, openbao.root_token, mounts=[odd_names],
                                options={"vault_scan": scan})
        gaps.append([g.model_dump() for g in sink.gaps()])
    assert gaps[0] == gaps[1]


# --- the collector's ACL flags use the server's reading of a path ------------------------------------


def test_policy_rule_flags_follow_the_servers_path_reading(openbao, vault_estate):  # noqa: F811
    """An inner ``*`` is a literal character (not a wildcard); ``+/+`` reaches ``sys/``; a rule on the
    exact path ``sys`` grants nothing under ``sys/``."""
    put_policy(openbao, "blind-path-flags", 'path "secret/data/a*b" { capabilities = ["read"] }\n'
                                            'path "+/+" { capabilities = ["read"] }\n'
                                            'path "sys" { capabilities = ["read"] }\n')
    try:
        sink, _ = run_collector(openbao.address, openbao.root_token, mounts=["secret"])
    finally:
        requests.delete(f"{openbao.address}/v1/sys/policies/acl/blind-path-flags", headers=_root(openbao),
                        timeout=10)
    rules = {r.path: r for r in sink.rows("policy_rule") if r.policy == "blind-path-flags"}
    assert (rules["secret/data/a*b"].wildcard, rules["secret/data/a*b"].sys_access) == (False, False)
    assert (rules["+/+"].wildcard, rules["+/+"].sys_access) == (True, True)
    assert (rules["sys"].wildcard, rules["sys"].sys_access) == (False, False)


def test_no_canary_or_token_in_gap_details(openbao, vault_estate, proxy):  # noqa: F811
    """Gap details name the operation and the problem, never the body they could not use."""
    proxy.substitute("GET", "/v1/sys/audit", Reply.html(f"<html>{CANARIES[0]} {openbao.root_token}</html>"))
    sink, _ = run_collector(proxy.address, openbao.root_token, mounts=["secret"])
    blob = " ".join(f"{g.operation} {g.detail}" for g in sink.gaps())
    assert "GET sys/audit" in blob and CANARIES[0] not in blob and openbao.root_token not in blob

