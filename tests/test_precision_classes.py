"""Findings a consultant can sign (issue 11, items 1, 4, 5, 7 and 9), class by class.

Each class is tested on the problem and on its clean look-alikes: configuration
kept in a store is inventoried, never scored (1); CA certificates are judged as
CAs, leaves as leaves (4); an OIDC trust with a wildcard subject fails like a
missing one (5); literal secrets in Lambda/ECS environments are findings and
benign variables are not (7); every not_assessed result names what is missing
(9). Unit cases run the engine on purpose-built snapshots; the moto and
OpenBao cases run the real collectors, plant canaries in every new source and
assert none reaches a written file.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import boto3
import pandas as pd
import pytest
import requests
from checks_cases import (
    ACCT,
    AS_OF,
    CASES,
    NOW,
    A,
    aserver,
    attest,
    cert,
    engagement,
    env_finding,
    kv,
    listing,
    oidc_role,
)
from conftest import CANARIES, assert_no_canary
from ruamel.yaml import YAML
from vault_fixtures import run_collector

from checks.catalog import load_catalog
from checks.engine import run_assessment
from checks.export import inventory_records
from checks.lifecycle_checks import key_strength
from checks.oidc_trust import subject_problem
from collectors.aws.acm import is_ca as acm_is_ca
from posture.cli import main
from posture.demo.estates.aws import ACCOUNT as MOTO_ACCOUNT
from posture.demo.estates.aws import _zip
from posture.model.engagement import Classification, Engagement, MatchRule
from posture.model.records import CoverageGap, Policy, Principal, Secret
from posture.model.secretlike import classify_value, name_class
from posture.model.snapshot import Snapshot

CATALOG = load_catalog()
GHA = "token.actions.githubusercontent.com"
AUD = {"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"}}
# Planted in the new sources below (SSM values, Lambda/ECS environments); never in any output.
PLANTED = (
    "CANARY-5e1f0a77-ssm-host-value", "CANARY-93c1d2e4-ssm-secret-value", "CANARY-0b7a6c55-lambda-password",
    "CANARY-d44e9f10-dsn-password", "CANARY-7a2b3c4d-callback-token", "CANARY-e6f5a4b3-webhook-token",
    "CANARY-11aa22bb-ecs-stripe-key",
)


def assess(records, eng=None, only=None):
    a = run_assessment(Snapshot.from_records(records), eng or engagement(), AS_OF, only=only)
    assert not a.errors, a.errors
    return a


def status_of(a, check_id: str, resource: str) -> set[str]:
    f = a.findings
    return set(f.loc[f["check_id"].astype(str).eq(check_id) & f["resource"].eq(resource), "status"].astype(str))


def ssm(name: str, ptype: str, **kw) -> Secret:
    """An SSM parameter as collectors.aws.ssm records it (name = path = the full name)."""
    arn = f"arn:aws:ssm:us-east-1:{ACCT}:parameter{name}"
    return Secret(id=arn, arn=arn, kind="ssm_parameter", path=name, name=name, parameter_type=ptype,
                  updated_at=NOW - timedelta(days=400), rotation_enabled=False, **A, **kw)


# --- 1. is a store item a secret at all? ---------------------------------------------------

@pytest.mark.parametrize("name", [
    "/prod/payments/db-password", "/prod/payments/db_passwd", "/prod/app/dbPassword", "/prod/app/STRIPE_KEY",
    "/prod/app/api-key", "/prod/app/apiKey/v2", "/prod/app/private-key", "/prod/app/github-token",
    "/prod/app/gcp-credentials", "/prod/app/sentry-dsn", "/prod/app/conn-string", "/prod/app/slack-webhook-url",
    "/prod/app/approle/secret-id", "/prod/secrets/stripe", "/prod/app/client_secret/prod",
])
def test_secret_names_read_as_words(name: str):
    assert name_class(name)[0] == "secret"


@pytest.mark.parametrize("name", [
    "/prod/payments/db-host", "/prod/payments/db_port", "/prod/payments/database-url-template",
    "/prod/api/base-url", "/prod/app/endpoint", "/prod/app/log-level", "/prod/app/LOG_LEVEL",
    "/prod/app/feature-flags/new-checkout-enabled", "/prod/app/ami", "/prod/app/region", "/prod/app/timeout",
    "/prod/app/dbHost", "/prod/app/api-key-id", "/prod/app/db-password-arn", "/prod/app/password-min-length",
    "/prod/app/public-key", "/prod/app/kms-key", "/prod/app/aws-access-key-id", "/prod/app/version",
    "/prod/config/stripe", "/prod/app/bucket", "/prod/app/sort-key", "/x/compass-name",
])
def test_configuration_names_read_as_words(name: str):
    assert name_class(name)[0] == "configuration"


def test_undecided_names_decide_nothing():
    assert name_class("/prod/payments/stripe") is None and name_class("/x/compass") is None


CONFIG = ["/prod/payments/db-host", "/prod/payments/db_port", "/prod/payments/database-url-template",
          "/prod/app/log-level", "/prod/app/feature-flags/new-checkout-enabled", "/prod/app/ami-id"]


def test_configuration_parameters_are_inventoried_never_scored():
    records = [aserver(), *(ssm(n, "String") for n in CONFIG),
               ssm("/prod/app/allowed-origins", "StringList"),
               ssm("/prod/payments/db-password", "String"),  # a secret stored in plain text
               ssm("/prod/payments/db-user", "SecureString"),  # encrypted on purpose: a secret
               ssm("/prod/payments/stripe", "String")]  # undecided: kept as a secret
    a = assess(records)
    inv = a.items.set_index("path")
    for n in CONFIG + ["/prod/app/allowed-origins"]:
        assert inv.loc[n, "item_class"] == "configuration", n
        assert not inv.loc[n, "critical"]
    assert inv.loc["/prod/payments/db-host", "classified_by"] == "SSM String with name word 'host'"
    assert inv.loc["/prod/app/allowed-origins", "classified_by"].startswith("SSM StringList")
    assert inv.loc["/prod/payments/db-user", ("item_class", "classified_by")].tolist() == [
        "secret", "SSM type SecureString"]
    assert inv.loc["/prod/payments/stripe", "item_class"] == "secret"
    config_ids = {r.id for r in records if isinstance(r, Secret) and r.path in CONFIG + ["/prod/app/allowed-origins"]}
    assert not config_ids & set(a.findings["resource"]), "a configuration item was scored"
    pw = ssm("/prod/payments/db-password", "String").id
    assert status_of(a, "AWS016", pw) == {"fail"} and status_of(a, "LCY002", pw) == {"fail"}
    assert status_of(a, "LCY007", pw) == {"fail"}  # a static prod DB password is still one
    rows = {r.path: r for r in inventory_records(a)}
    assert rows["/prod/payments/db-host"].item_class == "configuration"
    assert rows["/prod/payments/db-host"].classified_by == "SSM String with name word 'host'"


def test_engagement_rules_override_both_ways():
    eng = Engagement(client="acme", classification=Classification(
        configuration=[MatchRule(match=["/prod/legacy/*"]), MatchRule(match=["secret/*/settings/*"])],
        secrets=[MatchRule(match=["/prod/app/processor-endpoint"]), MatchRule(match=["/prod/legacy/keep-*"])]))
    records = [ssm("/prod/legacy/smtp-password", "String"), ssm("/prod/legacy/keep-password", "String"),
               ssm("/prod/app/processor-endpoint", "String"), kv("secret/prod/settings/theme")]
    inv = assess(records, eng).items.set_index("path")
    assert inv.loc["/prod/legacy/smtp-password", ["item_class", "classified_by"]].tolist() == [
        "configuration", "engagement rule classification.configuration[0]"]
    assert inv.loc["/prod/legacy/keep-password", ["item_class", "classified_by"]].tolist() == [
        "secret", "engagement rule classification.secrets[1]"]  # both match: a secret
    assert inv.loc["/prod/app/processor-endpoint", "item_class"] == "secret"
    assert inv.loc["secret/prod/settings/theme", ["item_class", "classified_by"]].tolist() == [
        "configuration", "engagement rule classification.configuration[1]"]


def test_store_kinds_are_secrets_unless_named_as_configuration():
    inv = assess([kv("secret/prod/payments/db-password"), CASES["AWS001"][0][0]]).items.set_index("kind")
    assert inv.loc["kv2", ["item_class", "classified_by"]].tolist() == ["secret", "Vault KV secret"]
    assert inv.loc["secretsmanager", ["item_class", "classified_by"]].tolist() == ["secret", "Secrets Manager secret"]
    # a setting kept in KV is configuration, with the rule that said so; a bundle name is not enough
    a = assess([kv("secret/prod/payments/db-host"), kv("secret/prod/payments/config")])
    got = dict(zip(a.items["path"], zip(a.items["item_class"], a.items["classified_by"])))
    assert got["secret/prod/payments/db-host"] == ("configuration", "Vault KV secret named as configuration ('host')")
    assert got["secret/prod/payments/config"] == ("secret", "Vault KV secret")
    assert status_of(a, "LCY002", kv("secret/prod/payments/db-host").id) == set()


@pytest.mark.parametrize("path, expected", [
    ("secret/prod/payments/db_password", "db-password"), ("secret/prod/payments/postgres", "db-password"),
    ("secret/prod/payments/pg-creds", "db-password"), ("secret/prod/payments/mysqlPassword", "db-password"),
    ("secret/prod/payments/db-host", "generic"), ("secret/prod/payments/db_port", "generic"),
    ("secret/prod/payments/database-url-template", "generic"), ("secret/prod/payments/dbHost", "generic"),
    ("secret/prod/payments/db-schema", "generic"),
])
def test_secret_types_are_whole_words_with_a_credential_word(path: str, expected: str):
    a = assess([kv(path)])
    assert a.items["secret_type"].tolist() == [expected]
    assert status_of(a, "LCY007", kv(path).id) == ({"fail"} if expected == "db-password" else set())


# --- 4. CA certificates judged as CAs ----------------------------------------------------------

def _ca(days_left: float, key: str = "rsa-4096", cid: str = "01", **kw):
    return cert(days_left, validity=3650, source="vault", is_ca=True, key_algorithm=key).model_copy(
        update={"id": f"vault:core:pki/cert/{cid}", "subject": f"Acme CA {cid}", **kw})


def test_ca_is_judged_as_a_ca_and_leaves_as_leaves():
    root = _ca(3000, cid="root")
    leaf_long = cert(200, validity=365, source="vault", is_ca=False).model_copy(update={"id": "vault:core:pki/cert/l1"})
    leaf_ok = cert(60, validity=90, source="vault").model_copy(update={"id": "vault:core:pki/cert/l2"})
    expiring, weak = _ca(100, cid="old"), _ca(3000, key="rsa-1024", cid="weak")
    unknown = _ca(3000, key=None, cid="nokey")
    a = assess([root, leaf_long, leaf_ok, expiring, weak, unknown])
    assert status_of(a, "LCY004", root.id) == set(), "a CA is not a leaf"
    assert status_of(a, "LCY004", leaf_long.id) == {"fail"} and status_of(a, "LCY004", leaf_ok.id) == {"pass"}
    assert status_of(a, "LCY009", root.id) == {"pass"}
    assert status_of(a, "LCY009", expiring.id) == {"fail"} and status_of(a, "LCY009", weak.id) == {"fail"}
    assert status_of(a, "LCY009", leaf_long.id) == set()
    assert status_of(a, "LCY009", unknown.id) == {"not_assessed"}
    reasons = a.not_assessed_reasons()
    assert any("key algorithm was not recorded" in r for r in reasons)


@pytest.mark.parametrize("alg, strong", [
    ("rsa-2048", True), ("RSA_4096", True), ("RSA_1024", False), ("EC_prime256v1", True), ("EC_secp384r1", True),
    ("ec-224", False), ("ellipticcurve-256", True), ("ed25519", True), ("dsa-2048", False), ("rsa", None), (None, None),
])
def test_key_strength(alg, strong):
    assert key_strength(alg, 2048) is strong


def test_acm_key_usages_mark_imported_cas():
    assert acm_is_ca({"KeyUsages": [{"Name": "CERTIFICATE_SIGNING"}, {"Name": "CRL_SIGNING"}]}) is True
    assert acm_is_ca({"KeyUsages": [{"Name": "DIGITAL_SIGNATURE"}, {"Name": "KEY_ENCIPHERMENT"}]}) is False
    assert acm_is_ca({"KeyAlgorithm": "RSA_2048"}) is None


@pytest.fixture(scope="module")
def pki_mounts(openbao):
    """A root CA mount with a leaf and a signed intermediate, and the intermediate's own mount."""
    s = requests.Session()
    s.headers["X-Vault-Token"] = openbao.root_token
    base = f"{openbao.address}/v1/"
    for m, ttl in (("precision-root", "87600h"), ("precision-int", "43800h")):
        s.post(base + f"sys/mounts/{m}", json={"type": "pki", "config": {"max_lease_ttl": ttl}}).raise_for_status()
    s.post(base + "precision-root/root/generate/internal",
           json={"common_name": "Precision Root CA", "ttl": "87000h"}).raise_for_status()
    csr = s.post(base + "precision-int/intermediate/generate/internal",
                 json={"common_name": "Precision Issuing CA"}).json()["data"]["csr"]
    signed = s.post(base + "precision-root/root/sign-intermediate",
                    json={"csr": csr, "ttl": "43000h", "format": "pem_bundle"}).json()["data"]["certificate"]
    s.post(base + "precision-int/intermediate/set-signed", json={"certificate": signed}).raise_for_status()
    for m in ("precision-root", "precision-int"):
        s.post(base + f"{m}/roles/web", json={"allowed_domains": "acme.test", "allow_subdomains": True,
                                               "max_ttl": "9000h"}).raise_for_status()
    s.post(base + "precision-root/issue/web", json={"common_name": "long.acme.test", "ttl": "8000h"}).raise_for_status()
    s.post(base + "precision-int/issue/web", json={"common_name": "short.acme.test", "ttl": "72h"}).raise_for_status()
    yield ["precision-root", "precision-int"]
    # the server is shared by the session: other tests collect every mount on it
    for m in ("precision-int", "precision-root"):
        s.delete(base + f"sys/mounts/{m}").raise_for_status()


@pytest.mark.parametrize("scan", [True, False], ids=["certs-detailed", "cert-by-cert"])
def test_openbao_pki_records_which_certificates_are_cas(openbao, pki_mounts, scan):
    sink, _ = run_collector(openbao.address, openbao.root_token, mounts=pki_mounts, options={"vault_scan": scan})
    assert sink.gaps() == []
    certs = {c.subject: c for c in sink.rows("certificate")}
    assert certs["Precision Root CA"].is_ca is True and certs["Precision Issuing CA"].is_ca is True
    assert certs["Precision Root CA"].key_algorithm == "rsa-2048"
    assert certs["long.acme.test"].is_ca is not True and certs["short.acme.test"].is_ca is not True
    f = assess(sink.rows("certificate"), only=["LCY004", "LCY009"]).findings
    by = {(str(c), r): str(st) for c, r, st in zip(f["check_id"], f["resource"], f["status"])}
    root, issuing = certs["Precision Root CA"].id, certs["Precision Issuing CA"].id
    assert ("LCY004", root) not in by and ("LCY004", issuing) not in by
    assert by[("LCY009", root)] == "pass" and by[("LCY009", issuing)] == "pass"
    assert by[("LCY004", certs["long.acme.test"].id)] == "fail"
    assert by[("LCY004", certs["short.acme.test"].id)] == "pass"


# --- 5. OIDC trust with a wildcard subject --------------------------------------------------

@pytest.mark.parametrize("sub", ["*", "repo:*", "repo:*/*", "repo:acme/*", "repo:acme/*:*", "repo:acme*",
                                 "repo:*/app:ref:refs/heads/main", "repo:acme/*:ref:refs/heads/*",
                                 "repo:acme/*:pull_request"])
def test_wildcard_subjects_fail_like_a_missing_one(sub: str):
    role = oidc_role({"StringLike": {f"{GHA}:sub": sub}, **AUD})
    assert status_of(assess([role], only=["AWS015"]), "AWS015", role.id) == {"fail"}


@pytest.mark.parametrize("cond", [
    {"StringLike": {f"{GHA}:sub": "repo:acme/app:ref:refs/heads/main"}, **AUD},
    {"StringLike": {f"{GHA}:sub": "repo:acme/app:environment:prod"}, **AUD},
    {"StringLike": {f"{GHA}:sub": "repo:acme/app:*"}, **AUD},
    {"StringLike": {f"{GHA}:sub": "repo:acme/*:ref:refs/heads/main"}, **AUD},
    {"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                      f"{GHA}:sub": ["repo:acme/app:ref:refs/heads/main", "repo:acme/api:environment:prod"]}},
    {"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com", f"{GHA}:sub": "repo:*"}},  # literal: matches nothing
])
def test_scoped_trusts_pass(cond: dict):
    role = oidc_role(cond)
    assert status_of(assess([role], only=["AWS015"]), "AWS015", role.id) == {"pass"}


@pytest.mark.parametrize("cond, why", [
    ({"StringLike": {f"{GHA}:sub": "repo:acme/app:ref:refs/heads/main"}}, "no audience"),
    ({"StringLike": {f"{GHA}:sub": "repo:acme/app:ref:refs/heads/main", f"{GHA}:aud": "*"}}, "audience '*'"),
    ({"StringNotLike": {f"{GHA}:sub": "repo:evil/*"}, **AUD}, "no subject"),
])
def test_audience_and_negations(cond: dict, why: str):
    role = oidc_role(cond)
    a = assess([role], only=["AWS015"])
    assert status_of(a, "AWS015", role.id) == {"fail"}
    assert any(why in p for p in a.evidence["AWS015"]["problems"].iloc[0])


def test_trust_statements_are_judged_apart():
    """The merged conditions show the scoped statement last; the document shows both."""
    arn = f"arn:aws:iam::{ACCT}:role/github-two"
    provider = f"arn:aws:iam::{ACCT}:oidc-provider/{GHA}"
    stmts = [{"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
              "Condition": {"StringLike": {f"{GHA}:sub": sub}, **AUD}}
             for sub in ("repo:*", "repo:acme/app:ref:refs/heads/main")]
    role = Principal(id=arn, arn=arn, name="github-two", kind="iam_role", trust_principals=[f"Federated:{provider}"],
                     trust_conditions={"StringLike": {f"{GHA}:sub": "repo:acme/app:ref:refs/heads/main"}, **AUD}, **A)
    doc = Policy(id=f"{arn}/trust", name="github-two", kind="trust", attached_to=arn,
                 document=json.dumps({"Version": "2012-10-17", "Statement": stmts}), **A)
    assert status_of(assess([role], only=["AWS015"]), "AWS015", arn) == {"pass"}  # merged view alone
    assert status_of(assess([role, doc], only=["AWS015"]), "AWS015", arn) == {"fail"}


def test_other_providers_need_only_a_non_trivial_subject():
    assert subject_problem("system:serviceaccount:payments:api", True, github=False) is None
    assert subject_problem("system:serviceaccount:payments:*", True, github=False) is None
    assert subject_problem("*", True, github=False)


# --- 7. secrets in compute environments ---------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("LOG_LEVEL", "debug"), ("AWS_REGION_NAME", "eu-west-1"), ("ORDERS_URL", "https://orders.internal/api/v1"),
    ("DB_SECRET_ARN", f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:prod/db-AbCdEf"),
    ("API_TOKEN", "${API_TOKEN}"), ("DATABASE_URL", "postgres://app:${PGPASSWORD}@db.internal/app"),
    ("DOCS_URL", "https://docs.example.com/page?id=12345678"), ("WEBHOOK_TIMEOUT", "30"),
])
def test_benign_variables_are_not_findings(name: str, value: str):
    assert classify_value(name, value) is None


@pytest.mark.parametrize("name, value, rule", [
    ("DATABASE_URL", "postgres://app:s3cr3t-Passw0rd@db.internal:5432/app", "Basic Auth Credentials"),
    ("AMQP_URL", "amqp://svc:Zx9-long-pass@mq.internal/", None),
    ("CALLBACK_URL", "https://partner.example/cb?token=9f8e7d6c5b4a3210abcd", "URL with a credential parameter"),
    ("BLOB_URL", "https://acct.blob.core.windows.net/c/x?sv=2022&sig=Ab3dEf6hIj9kLm2n", "URL with a credential parameter"),
    ("ALERT_WEBHOOK", "https://hooks.example.com/notify/abc123", "Webhook URL"),
])
def test_credential_urls_are_secrets(name: str, value: str, rule: str | None):
    found = classify_value(name, value)
    assert found is not None and (rule is None or found == rule)


def test_compute_environment_check_and_its_clean_regions():
    records = [aserver(), listing("lambda", "us-east-1"), listing("lambda", "eu-west-1"),
               listing("ecs", "us-east-1"), env_finding("DB_PASSWORD"),
               env_finding("STRIPE_API_KEY", detector="Stripe Access Key")]
    a = assess(records, only=["AWS020"])
    f = a.findings.set_index("resource")["status"].astype(str).to_dict()
    assert f[env_finding("DB_PASSWORD").id] == "fail" and f[env_finding("STRIPE_API_KEY").id] == "fail"
    assert f[f"aws:{ACCT}:eu-west-1:lambda:secrets"] == "pass" and f[f"aws:{ACCT}:us-east-1:ecs:secrets"] == "pass"
    assert f"aws:{ACCT}:us-east-1:lambda:secrets" not in f  # it has findings
    gap = CoverageGap(id="main:x:lambda", store="main", source="aws", tables=["source_finding"],
                      scope=f"{ACCT}/eu-west-1", service="lambda", operation="lambda:ListFunctions", reason="denied")
    a = assess([*records, gap], only=["AWS020"])
    na = a.findings[a.findings["status"].astype(str).eq("not_assessed")]
    assert list(na["resource"]) == [f"aws:{ACCT}:eu-west-1:lambda:secrets"]
    (why,) = a.not_assessed_reasons()
    assert why.startswith(f"coverage gap: denied on lambda:ListFunctions in {ACCT}/eu-west-1 of store main")


# --- 9. every not_assessed result names its missing input -------------------------------------------

@pytest.mark.parametrize("check_id", sorted(CASES))
def test_gap_reasons_name_the_operation_and_scope(check_id: str):
    c = CATALOG[check_id]
    first = CASES[check_id][1][0]
    gap = CoverageGap(id=f"{first.store}::t", store=first.store, source=first.source, tables=list(c.inputs),
                      scope="", operation="LIST everything", reason="denied")
    reasons = assess(CASES[check_id][1] + [gap], only=[check_id]).not_assessed_reasons()
    assert len(reasons) and all(r.startswith(f"coverage gap: denied on LIST everything in all of store {first.store}")
                                for r in reasons), reasons.tolist()


def test_check_given_reasons_reach_the_findings():
    c = cert(10, source="vault").model_copy(update={"not_after": None, "not_before": None})
    a = assess([c], only=["LCY003", "LCY004"])
    assert set(a.not_assessed_reasons()) == {
        "the certificate's expiry date (not_after) was not recorded",
        "the certificate's validity dates (not_before, not_after) were not recorded"}
    ev = a.evidence_records()
    assert all(e["not_assessed_reason"] for e in ev)


def test_manual_and_error_reasons():
    a = assess([], only=["OPS001"])
    (why,) = a.not_assessed_reasons()
    assert why == f"manual evidence: the engagement has no '{CATALOG['OPS001'].attestation}' attestation"
    a = assess([], engagement(attestations=[attest("time_to_revoke")]), only=["OPS006"])
    assert all(r.startswith("manual evidence: the 'time_to_revoke' attestation") for r in a.not_assessed_reasons())


def test_no_reason_is_the_old_vague_one():
    records = {(type(r).table, r.id): r for cid in CASES for r in CASES[cid][1]}
    a = run_assessment(Snapshot.from_records(list(records.values())), engagement(), AS_OF)
    reasons = a.not_assessed_reasons()
    assert len(reasons) and not any("None in the snapshot" in r for r in reasons)


# --- end to end on moto: collect, assess, no canary -----------------------------------------------

def _seed_moto(endpoint: str) -> dict[str, str]:
    kw = {"region_name": "us-east-1", "endpoint_url": endpoint}
    ssm_c, iam = boto3.client("ssm", **kw), boto3.client("iam", **kw)
    host, secret, pw, dsn, cb, hook, stripe = PLANTED
    for name, ptype, value in (
        ("/acme/prod/payments/db-host", "String", host), ("/acme/prod/payments/db_port", "String", "5432"),
        ("/acme/prod/payments/database-url-template", "String", host), ("/acme/prod/app/log-level", "String", "info"),
        ("/acme/prod/app/feature-flags/new-checkout-enabled", "String", "true"),
        ("/acme/prod/app/allowed-origins", "StringList", "https://a.acme.test,https://b.acme.test"),
        ("/acme/prod/legacy/smtp-password", "String", secret),  # the engagement: configuration
        ("/acme/prod/payments/db-password", "String", secret), ("/acme/prod/payments/api-key", "SecureString", secret),
    ):
        ssm_c.put_parameter(Name=name, Type=ptype, Value=value)
    oidc = iam.create_open_id_connect_provider(Url=f"https://{GHA}", ClientIDList=["sts.amazonaws.com"],
                                               ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
    provider = oidc["OpenIDConnectProviderArn"]
    trusts = {
        "gh-any-repo": {"StringLike": {f"{GHA}:sub": "repo:*"}, **AUD},
        "gh-whole-org": {"StringLike": {f"{GHA}:sub": "repo:acme/*"}, **AUD},
        "gh-no-audience": {"StringLike": {f"{GHA}:sub": "repo:acme/app:ref:refs/heads/main"}},
        "gh-main": {"StringLike": {f"{GHA}:sub": "repo:acme/app:ref:refs/heads/main"}, **AUD},
        "gh-env": {"StringLike": {f"{GHA}:sub": "repo:acme/app:environment:prod"}, **AUD},
        "gh-list": {"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                     f"{GHA}:sub": ["repo:acme/app:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main"]}},
    }
    arns = {}
    for name, cond in trusts.items():
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider},
                                                       "Action": "sts:AssumeRoleWithWebIdentity", "Condition": cond}]}
        arns[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
    lam_role = iam.create_role(RoleName="payments-fn", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    fn = boto3.client("lambda", **kw).create_function(
        FunctionName="payments-api", Runtime="python3.12", Role=lam_role, Handler="handler.handler",
        Code={"ZipFile": _zip()}, Environment={"Variables": {
            "LOG_LEVEL": "info", "AWS_REGION_NAME": "eu-west-1", "ORDERS_URL": "https://orders.internal/api",
            "DB_SECRET_ARN": f"arn:aws:secretsmanager:us-east-1:{MOTO_ACCOUNT}:secret:prod/db-AbCdEf",
            "API_TOKEN": "${API_TOKEN}", "DB_PASSWORD": pw,
            "DATABASE_URL": f"postgres://app:{dsn}@db.internal:5432/payments",
            "CALLBACK_URL": f"https://partner.example/cb?token={cb}",
            "ALERT_WEBHOOK_URL": f"https://hooks.example.com/notify/{hook}",
        }})["FunctionArn"]
    td = boto3.client("ecs", **kw).register_task_definition(family="payments-worker", containerDefinitions=[{
        "name": "worker", "image": "acme/worker:1", "memory": 256,
        "environment": [{"name": "STRIPE_API_KEY", "value": stripe}, {"name": "PORT", "value": "8080"}],
        "secrets": [{"name": "DB_PASSWORD",
                     "valueFrom": f"arn:aws:ssm:us-east-1:{MOTO_ACCOUNT}:parameter/acme/prod/payments/db-password"}],
    }])["taskDefinition"]["taskDefinitionArn"]
    return {"function": fn, "task": td, **arns}


def test_moto_estate_end_to_end(aws_env, workspace: Path, capsys):
    made = _seed_moto(aws_env.endpoint_url)
    doc = {"client": "acme", "stores": {"aws": [{"name": "main", "regions": ["us-east-1"],
                                                  "endpoint_url": aws_env.endpoint_url}]},
           "classification": {"configuration": [{"match": ["/acme/prod/legacy/*"]}],
                              "owners": [{"owner": "payments-team", "pager": "#payments", "match": ["*payments*"]}]}}
    path = workspace / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True)
    YAML().dump(doc, path)
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    assert main(["assess", "acme", "--quarter", "2026-Q4", "--no-notebooks"]) == 0
    printed = capsys.readouterr().out
    adir = workspace / "evidence" / "acme" / "2026-Q4" / "assessment"
    findings = json.loads((adir / "findings.json").read_text())["findings"]
    inventory = {r["path"]: r for r in json.loads((adir / "inventory.json").read_text())}

    def st(check: str, resource: str) -> set[str]:
        return {f["status"] for f in findings if f["check_id"] == check and f["resource"] == resource}

    param = f"arn:aws:ssm:us-east-1:{MOTO_ACCOUNT}:parameter"
    config = ["/acme/prod/payments/db-host", "/acme/prod/payments/db_port", "/acme/prod/payments/database-url-template",
              "/acme/prod/app/log-level", "/acme/prod/app/feature-flags/new-checkout-enabled",
              "/acme/prod/app/allowed-origins", "/acme/prod/legacy/smtp-password"]
    for n in config:
        assert inventory[n]["item_class"] == "configuration", n
        assert not [f for f in findings if f["resource"] == param + n], f"{n} was scored"
    assert inventory["/acme/prod/legacy/smtp-password"]["classified_by"] == "engagement rule classification.configuration[0]"
    assert st("AWS016", param + "/acme/prod/payments/db-password") == {"fail"}
    assert st("AWS016", param + "/acme/prod/payments/api-key") == {"pass"}
    # OIDC: wildcard subjects and a missing audience fail; scoped trusts pass
    for role in ("gh-any-repo", "gh-whole-org", "gh-no-audience"):
        assert st("AWS015", made[role]) == {"fail"}, role
    for role in ("gh-main", "gh-env", "gh-list"):
        assert st("AWS015", made[role]) == {"pass"}, role
    # compute environments: the literal secrets, nothing else
    env = {f["evidence"]["variable"] for f in findings if f["check_id"] == "AWS020" and f["status"] == "fail"}
    assert env == {"DB_PASSWORD", "DATABASE_URL", "CALLBACK_URL", "ALERT_WEBHOOK_URL", "STRIPE_API_KEY"}
    aws020 = next(f for f in findings if f["check_id"] == "AWS020" and f["status"] == "fail")
    assert "valueFrom" in aws020["remediation"] and aws020["evidence"]["fingerprint"].startswith("hmac256:")
    # not-assessed reasons: in the findings and on the CLI
    na = [f for f in findings if f["status"] == "not_assessed"]
    assert na and all(f["evidence"]["not_assessed_reason"] for f in na)
    assert not any("None in the snapshot" in f["evidence"]["not_assessed_reason"] for f in na)
    assert any(f["evidence"]["not_assessed_reason"].startswith("manual evidence: the engagement has no '")
               for f in na)
    flat = " ".join(printed.split())  # the console wraps long lines
    top = Counter((f["check_id"], f["evidence"]["not_assessed_reason"]) for f in na).most_common(1)[0][0]
    assert f"not assessed ({len(na)}), by check and missing input" in flat
    assert f"{top[0]} {' '.join(top[1].split())}" in flat
    assert_no_canary(workspace, extra=PLANTED)
    assert not any(c in printed for c in CANARIES + PLANTED)


def test_site_inventory_counts_configuration():
    """The evidence site's inventory page shows each item's class and the rule that decided."""
    from posture.site.pages import inventory_page

    rows = inventory_records(assess([ssm("/prod/payments/db-host", "String"),
                                     ssm("/prod/payments/db-password", "SecureString")]))
    page = inventory_page(SimpleNamespace(inventory=pd.DataFrame([r.model_dump() for r in rows])))  # type: ignore[arg-type]
    assert "1 secret(s) and 1 configuration item(s)" in page and "SSM String with name word" in page

