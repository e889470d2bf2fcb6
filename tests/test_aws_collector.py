"""AWS collector against moto's threaded server (the HTTP path), end to end.

The Northwind estate (``posture.demo.estates.aws``) is seeded once per module with
freezegun back-dating, collected once through ``posture collect`` and the
snapshot on disk is what the table tests read. Denied services, bad
credentials and the read-only guard are exercised against the same server
with moto's IAM enforcement switched on.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from conftest import CANARIES, assert_no_canary, point_boto_at
from rich.progress import Progress

from collectors.aws import guard as aws_guard
from collectors.aws.calls import SERVICES
from collectors.aws.collector import AwsCollector
from collectors.base import CollectContext
from posture.cli import main
from posture.demo.estates.aws import ACCOUNT, AwsEstate, seed
from posture.model.engagement import AwsStore, Engagement
from posture.model.errors import CollectionError, ConfigError, ReadOnlyViolation
from posture.model.secretlike import classify_value as classify_env_value
from posture.model.snapshot import Snapshot, SnapshotSink

QUARTER = "2026-Q4"
REGIONS = ["us-east-1", "eu-west-1"]
#: Every service moto implements: moto has no Access Analyzer and no ListNotebookInstanceLifecycleConfigs,
#: whose gap paths tests/test_aws_exposure.py covers.
MOTO_SERVICES = [s for s in SERVICES if s not in ("accessanalyzer", "sagemaker")]


def _engagement(root: Path, endpoint: str, extra: str = "") -> Path:
    path = root / "engagements" / "northwind" / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "client: northwind\n"
        "stores:\n"
        "  aws:\n"
        "    - name: main\n"
        f"      regions: [{', '.join(REGIONS)}]\n"
        f"      endpoint_url: {endpoint}\n"
        "      concurrency: 6\n" + extra
    )
    return path


@dataclass
class Collected:
    estate: AwsEstate
    root: Path
    snapshot: Snapshot
    exit_code: int
    output: str
    issued: dict[str, int]
    seeded_at: datetime

    def rows(self, table: str, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.snapshot.rows(table) if all(r.get(k) == v for k, v in match.items())]

    def one(self, table: str, **match: Any) -> dict[str, Any]:
        rows = self.rows(table, **match)
        assert len(rows) == 1, (table, match, rows)
        return rows[0]


@pytest.fixture(scope="module")
def northwind(moto_server, tmp_path_factory: pytest.TempPathFactory) -> Collected:
    """Seed Northwind, then run ``posture collect`` once; everything below reads the result."""
    import sys
    from io import StringIO

    root = tmp_path_factory.mktemp("aws-workspace")
    with pytest.MonkeyPatch.context() as mp:
        point_boto_at(mp, moto_server.endpoint_url)
        mp.setenv("POSTURE_HOME", str(root))
        moto_server.reset()
        now = datetime.now(UTC)
        estate = seed(moto_server.endpoint_url, CANARIES)
        _engagement(root, moto_server.endpoint_url, extra=f"      services: [{', '.join(MOTO_SERVICES)}]\n")
        aws_guard.reset_issued_operations()
        out, err = StringIO(), StringIO()
        mp.setattr(sys, "stdout", out)
        mp.setattr(sys, "stderr", err)
        code = main(["collect", "northwind", "-q", QUARTER])
        issued = dict(aws_guard.issued_operations())
    snap = Snapshot.load(root / "evidence" / "northwind" / QUARTER / "snapshot")
    return Collected(estate, root, snap, code, out.getvalue() + err.getvalue(), issued, now)


def _age_days(ts: str | None, now: datetime) -> float:
    assert ts is not None
    return (now - datetime.fromisoformat(ts)).total_seconds() / 86400


# --- end to end ----------------------------------------------------------------------------


def test_collect_writes_a_complete_snapshot_without_gaps(northwind: Collected):
    assert northwind.exit_code == 0, northwind.output
    m = northwind.snapshot.manifest
    assert m.collectors == {"aws": AwsCollector.version}
    assert m.stores == {"main": "aws"}
    assert m.gaps == 0, northwind.snapshot.rows("coverage_gap")
    assert "no coverage gaps" in northwind.output
    rows = {name.removesuffix(".jsonl"): e.rows for name, e in m.files.items()}
    assert rows["secret"] == 9 + 5  # Secrets Manager (incl. replica, deleted) + SSM parameters
    assert rows["key"] == 5 and rows["certificate"] == 3 and rows["trail"] == 2
    assert rows["access_key"] == 4 and rows["source_finding"] == 3
    assert rows["principal"] == 5 + 2 + 4 + 1 + 1  # users, groups, roles, OIDC provider, root (account summary)
    # Secrets Manager and SSM listings, and each other regional service's (GetAccountAuthorizationDetails is global)
    listed = {"lambda", "ecs", "ec2", "codebuild", "batch", "stepfunctions", "apigateway", "elasticbeanstalk",
              "glue", "cloudformation", "eks", "ssm-documents"}
    assert {r["type"] for r in northwind.rows("mount")} == {"secretsmanager", "ssm_parameter_store", *listed}
    assert rows["server"] == 1 and rows["mount"] == 4 + len(listed) * len(REGIONS)
    assert rows["cloud_resource"] == 1  # the Lambda function (what encrypts its environment)


def test_no_canary_in_any_output(northwind: Collected):
    assert len(northwind.estate.values) >= 10
    assert set(northwind.estate.values) <= set(CANARIES)
    scanned = assert_no_canary(northwind.root)
    assert scanned >= 20  # every table, the manifest, the engagement
    for c in CANARIES:
        assert c not in northwind.output


def test_every_issued_operation_is_in_the_guard_and_the_printed_policy(northwind: Collected, capsys):
    issued = set(northwind.issued)
    # the run covered every service moto implements (an Organization is test_aws_exposure.py's), so this is
    # the collector's real operation set: the IAM action of every allowed operation of those services
    ran = [s for s in MOTO_SERVICES if s != "ec2"] + ["sts"]
    assert {op.split(":")[0] for op in issued} == {aws_guard.iam_action(s, "x").split(":")[0] for s in ran} | {"ec2"}
    assert issued <= set(aws_guard.allowed_actions())
    assert main(["policy", "aws"]) == 0  # the policy exactly as `posture policy aws` prints it
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert doc == aws_guard.iam_policy_document()
    allow = {a for s in doc["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    deny = next(s for s in doc["Statement"] if s["Effect"] == "Deny")
    assert issued <= allow
    assert not issued & set(deny["Action"])
    # the value-returning actions the run used are named, with what they return, beside the policy
    scanned = issued & set(aws_guard.SCANNED_VALUES)
    assert {"lambda:ListFunctions", "ecs:DescribeTaskDefinition", "cloudformation:DescribeStacks"} <= scanned
    assert all(a in out.err for a in scanned) and "keyed fingerprint" in out.err
    assert "secretsmanager:GetSecretValue" not in issued and "ssm:GetParameter" not in issued


# --- Secrets Manager ----------------------------------------------------------------------------


def test_secrets_manager_metadata(northwind: Collected):
    now, est = northwind.seeded_at, northwind.estate
    sm = northwind.rows("secret", kind="secretsmanager")
    assert sorted((r["name"], r["region"]) for r in sm) == sorted(
        [(n, f["region"]) for n, f in est.secrets.items()] + [("prod/shared/jwt-signing-key", "eu-west-1")]
    )
    db = northwind.one("secret", name="prod/payments/db-password", kind="secretsmanager")
    assert db["id"] == db["arn"] == est.secrets["prod/payments/db-password"]["arn"]
    assert db["rotation_enabled"] is True and db["rotation_interval_days"] == 30
    assert 399 <= _age_days(db["created_at"], now) <= 401
    assert 19 <= _age_days(db["last_rotated_at"], now) <= 21
    assert db["kms_key_id"] == est.keys["prod-payments"]["arn"] and db["customer_managed_key"] is True
    assert db["tags"] == {"env": "prod", "secret_type": "db-password", "owner": "payments"}
    assert db["has_resource_policy"] is False and db["deleted_at"] is None
    assert db["account"] == ACCOUNT and db["encrypted"] is True

    stripe = northwind.one("secret", name="prod/payments/stripe-api-key")
    assert stripe["rotation_enabled"] is False and stripe["last_rotated_at"] is None
    assert stripe["kms_key_id"] == "alias/aws/secretsmanager" and stripe["customer_managed_key"] is False
    assert 299 <= _age_days(stripe["created_at"], now) <= 301

    staging = northwind.one("secret", name="staging/orders/db-password")
    assert staging["rotation_interval_days"] == 90 and 99 <= _age_days(staging["last_rotated_at"], now) <= 101

    deleted = northwind.one("secret", name="dev/old/service-token")
    assert deleted["deleted_at"] is not None

    jwt = northwind.rows("secret", name="prod/shared/jwt-signing-key")
    primary = next(r for r in jwt if r["region"] == "us-east-1")
    replica = next(r for r in jwt if r["region"] == "eu-west-1")
    assert primary["replica_regions"] == ["eu-west-1"]
    assert replica["primary_region"] == "us-east-1" and replica["has_resource_policy"] is None


def test_secret_resource_policy_is_parsed(northwind: Collected):
    ftp = northwind.one("secret", name="prod/legacy/ftp-password")
    assert ftp["has_resource_policy"] is True
    pol = northwind.one("policy", id=f"{ftp['arn']}/resource-policy")
    assert pol["kind"] == "secret_resource" and pol["attached_to"] == ftp["arn"]
    rule = northwind.one("policy_rule", policy_id=pol["id"])
    assert rule["principals"] == ["*"] and rule["capabilities"] == ["secretsmanager:GetSecretValue"]
    assert rule["effect"] == "allow" and rule["wildcard_all"] is True


# --- SSM ------------------------------------------------------------------------------------


def test_ssm_parameters_without_values(northwind: Collected):
    params = northwind.rows("secret", kind="ssm_parameter")
    assert {p["name"]: (p["parameter_type"], p["encrypted"], p["region"]) for p in params} == {
        n: (f["type"], f["type"] == "SecureString", f["region"]) for n, f in northwind.estate.parameters.items()
    }
    good = northwind.one("secret", name="/prod/payments/db-password", kind="ssm_parameter")
    assert good["kms_key_id"] == "alias/prod-payments" and good["customer_managed_key"] is True
    assert good["tags"] == {}  # parameter tags are opt-in (one call each)
    assert good["current_version"] == 1 and good["tier"] == "Standard"
    bad = northwind.one("secret", name="/prod/eu/smtp-password")
    assert bad["parameter_type"] == "String" and bad["encrypted"] is False
    assert 399 <= _age_days(bad["updated_at"], northwind.seeded_at) <= 401
    assert bad["id"] == f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/prod/eu/smtp-password"


# --- KMS ------------------------------------------------------------------------------------


def test_kms_keys_rotation_and_policies(northwind: Collected):
    est, now = northwind.estate, northwind.seeded_at
    keys = {r["name"]: r for r in northwind.rows("key")}
    assert set(keys) == {f"alias/{a}" for a in est.keys}
    pay = keys["alias/prod-payments"]
    assert pay["manager"] == "CUSTOMER" and pay["state"] == "Enabled" and pay["spec"] == "SYMMETRIC_DEFAULT"
    # moto 5.2 ignores RotationPeriodInDays (AWS would report 180); 365 is AWS's default period
    assert pay["rotation_enabled"] is True and pay["rotation_period_days"] == 365
    assert 499 <= _age_days(pay["created_at"], now) <= 501
    assert pay["tags"] == {"env": "prod"} and pay["aliases"] == ["alias/prod-payments"]
    legacy = keys["alias/legacy-data"]
    assert legacy["rotation_enabled"] is False and legacy["rotation_supported"] is True
    signing = keys["alias/prod-signing"]
    assert signing["rotation_supported"] is False and signing["rotation_enabled"] is False
    assert signing["usage"] == "SIGN_VERIFY" and signing["spec"] == "RSA_2048"
    assert keys["alias/prod-eu-data"]["region"] == "eu-west-1"
    assert keys["alias/prod-eu-data"]["rotation_period_days"] == 365
    policies = northwind.rows("policy", kind="kms_key")
    assert len(policies) == 5 and all(p["document"] for p in policies)
    assert {p["attached_to"] for p in policies} == {k["arn"] for k in keys.values()}


# --- IAM ------------------------------------------------------------------------------------


def test_iam_users_mfa_and_access_keys(northwind: Collected):
    now = northwind.seeded_at
    users = {r["name"]: r for r in northwind.rows("principal", kind="iam_user")}
    assert set(users) == set(northwind.estate.users)
    assert (users["alice"]["password_enabled"], users["alice"]["mfa_active"]) == (True, True)
    assert (users["bob"]["password_enabled"], users["bob"]["mfa_active"]) == (True, False)
    assert users["ci-deployer"]["password_enabled"] is False
    assert sorted(users["bob"]["groups"]) == ["admins", "developers"]
    assert 599 <= _age_days(users["alice"]["created_at"], now) <= 601
    keys = {r["key_id"]: r for r in northwind.rows("access_key")}
    expected = {k["id"]: (u, k) for u, f in northwind.estate.users.items() for k in f["keys"]}
    assert set(keys) == set(expected)
    for key_id, (user, facts) in expected.items():
        row = keys[key_id]
        assert row["principal"] == f"arn:aws:iam::{ACCOUNT}:user/{user}"
        assert row["active"] is facts["active"] and row["is_root"] is False
        assert facts["age_days"] - 1 <= _age_days(row["created_at"], now) <= facts["age_days"] + 1
        assert row["last_used_at"] is None  # moto stamps use only under IAM enforcement


def test_iam_groups_roles_and_policies(northwind: Collected):
    admins = northwind.one("principal", kind="iam_group", name="admins")
    assert admins["members"] == [f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/bob"]
    admin_policy = northwind.one("policy", id=admins["policies"][0])
    assert admin_policy["kind"] == "iam_managed"
    assert northwind.one("policy_rule", policy_id=admin_policy["id"])["wildcard_all"] is True

    legacy = northwind.one("principal", kind="iam_role", name="legacy-admin")
    assert legacy["trust_principals"] == [f"AWS:arn:aws:iam::{ACCOUNT}:root"]
    (inline_id,) = legacy["policies"]
    rule = northwind.one("policy_rule", policy_id=inline_id)
    assert rule["capabilities"] == ["*"] and rule["path"] == "*" and rule["wildcard_all"] is True
    assert northwind.one("policy", id=inline_id)["kind"] == "iam_inline"

    oidc = northwind.estate.roles["__oidc__"]["arn"]
    gh = northwind.one("principal", kind="iam_role", name="github-deploy")
    assert gh["trust_principals"] == [f"Federated:{oidc}"]
    assert gh["trust_conditions"]["StringLike"] == {
        "token.actions.githubusercontent.com:sub": "repo:northwind/payments-api:ref:refs/heads/main"
    }
    anyrepo = northwind.one("principal", kind="iam_role", name="github-any-repo")
    assert "StringLike" not in anyrepo["trust_conditions"]
    trust = northwind.one("policy", id=f"{anyrepo['arn']}/trust")
    assert trust["kind"] == "trust"
    provider = northwind.one("principal", kind="oidc_provider")
    assert provider["name"] == "token.actions.githubusercontent.com" and provider["aliases"] == ["sts.amazonaws.com"]
    dev = northwind.one("policy_rule", policy_id=f"arn:aws:iam::{ACCOUNT}:group/developers/inline/dev-secrets")
    assert dev["wildcard"] is True and dev["wildcard_all"] is False
    assert dev["capabilities"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]


# --- ACM, configuration, CloudTrail ------------------------------------------------------------------


def test_acm_certificates(northwind: Collected):
    certs = {r["domains"][0]: r for r in northwind.rows("certificate")}
    assert set(certs) == set(northwind.estate.certificates)
    api = certs["api.northwind.example"]
    days_left = -_age_days(api["not_after"], northwind.seeded_at)
    assert 19 <= days_left <= 21 and api["type"] == "IMPORTED" and api["managed_renewal"] is False
    assert api["in_use"] is False and api["region"] == "us-east-1"
    issued = certs["eu.northwind.example"]
    assert issued["type"] == "AMAZON_ISSUED" and issued["managed_renewal"] is True and issued["region"] == "eu-west-1"


def test_secrets_in_lambda_and_ecs_environment_are_fingerprinted(northwind: Collected):
    key = bytes.fromhex((northwind.root / "engagements" / "northwind" / ".fingerprint-key").read_text())
    findings = {r["id"]: r for r in northwind.rows("source_finding")}
    assert set(findings) == set(northwind.estate.env_findings)
    for fid, value in northwind.estate.env_findings.items():
        f = findings[fid]
        assert f["category"] == "config_env" and f["source"] == "aws"
        assert f["fingerprint"] == "hmac256:" + hmac.new(key, value.encode(), sha256).hexdigest()
        assert f["variable"] == fid.rsplit("#env:", 1)[1]
    by_var = {f["variable"]: f for f in findings.values()}
    assert by_var["LEGACY_AWS_ACCESS_KEY_ID"]["detector"] == "AWS Access Key"
    assert by_var["LEGACY_AWS_ACCESS_KEY_ID"]["public_prefix"] == "AKIA"
    assert by_var["DB_PASSWORD"]["detector"] == "Secret Keyword"
    assert by_var["STRIPE_API_KEY"]["path"].endswith("#container=api")


def test_cloudtrail_trails(northwind: Collected):
    trails = {r["name"]: r for r in northwind.rows("trail")}
    org, dbg = trails["northwind-org-trail"], trails["eu-debug-trail"]
    assert (org["is_multi_region"], org["log_file_validation"], org["is_logging"]) == (True, True, True)
    assert org["kms_key_id"] == northwind.estate.keys["prod-payments"]["arn"]
    assert org["logs_management_events"] is True and org["logs_secrets_events"] is True
    assert (dbg["is_multi_region"], dbg["log_file_validation"], dbg["is_logging"]) == (False, False, False)
    assert dbg["logs_management_events"] is True and dbg["logs_secrets_events"] is False
    assert dbg["management_read_write"] == "WriteOnly" and dbg["region"] == "eu-west-1"


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("LOG_LEVEL", "info", None),
        ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:1:secret:x", None),
        ("API_TOKEN", "{{resolve:secretsmanager:prod/x}}", None),
        ("SERVICE_URL", "https://orders.internal/api", None),
        ("DB_PASSWORD", "hunter2-long-enough", "Secret Keyword"),
        ("SOME_ID", "AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
        ("BLOB", "q8Zr3Lx0VbW1nT7yKc2Pj5Hs9Dm4Gf6A", "High Entropy String"),
        ("GREETING", "hello world and more", None),
    ],
)
def test_env_value_rules(name: str, value: str, expected: str | None):
    assert classify_env_value(name, value) == expected


# --- failures: denied services, bad credentials ---------------------------------------------------


def _moto_auth(endpoint: str, count: str) -> None:
    r = requests.post(f"{endpoint}/moto-api/reset-auth", data=count.encode(), timeout=10)
    assert r.status_code == 200, r.text


def test_denied_service_becomes_a_coverage_gap(aws_env, workspace: Path, capsys):
    """Assume-role into a role whose policy denies KMS, with moto enforcing IAM."""
    endpoint = aws_env.endpoint_url
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint)
    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint)
    sm.create_secret(Name="prod/app/token", SecretString=CANARIES[1])
    boto3.client("kms", region_name="us-east-1", endpoint_url=endpoint).create_key()
    iam.create_user(UserName="assessor")
    iam.put_user_policy(UserName="assessor", PolicyName="assume", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="assessor")["AccessKey"]
    doc = aws_guard.iam_policy_document()
    doc["Statement"].append({"Effect": "Deny", "Action": "kms:*", "Resource": "*"})
    role = iam.create_role(RoleName="PostureAssessor", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/assessor"},
            "Condition": {"StringEquals": {"sts:ExternalId": "northwind-q4"}}}]}))["Role"]
    iam.put_role_policy(RoleName="PostureAssessor", PolicyName="posture", PolicyDocument=json.dumps(doc))
    _engagement(workspace, endpoint, extra=(
        "      services: [secretsmanager, kms, ssm]\n"
        "      accounts:\n"
        f"        - role_arn: {role['Arn']}\n"
        "          external_id: northwind-q4\n"
    ))
    with pytest.MonkeyPatch.context() as mp:
        point_boto_at(mp, endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        _moto_auth(endpoint, "0")
        try:
            code = main(["collect", "northwind", "-q", QUARTER])
        finally:
            _moto_auth(endpoint, "inf")
    out = capsys.readouterr()
    assert code == 0, out.err
    snap = Snapshot.load(workspace / "evidence" / "northwind" / QUARTER / "snapshot")
    gaps = {(g["scope"], g["operation"]): g for g in snap.rows("coverage_gap")}
    assert set(gaps) == {(f"{ACCOUNT}/{r}", "kms:ListKeys") for r in REGIONS} | {
        (f"{ACCOUNT}/{r}", "kms:ListAliases") for r in REGIONS}
    g = gaps[(f"{ACCOUNT}/us-east-1", "kms:ListKeys")]
    assert g["reason"] == "denied" and g["service"] == "kms" and g["tables"] == ["key", "policy", "policy_rule"]
    assert snap.rows("key") == []
    assert [s["name"] for s in snap.rows("secret")] == ["prod/app/token"]  # the rest was still read
    assert "coverage gap" in out.err and "kms:ListKeys" in out.err
    assert_no_canary(workspace)


def test_bad_credentials_are_one_line_and_write_nothing(aws_env, workspace: Path, capsys):
    _engagement(workspace, aws_env.endpoint_url)
    with pytest.MonkeyPatch.context() as mp:
        point_boto_at(mp, aws_env.endpoint_url, "AKIAUNKNOWNKEY000000", "wrong")
        _moto_auth(aws_env.endpoint_url, "0")
        try:
            code = main(["collect", "northwind", "-q", QUARTER])
        finally:
            _moto_auth(aws_env.endpoint_url, "inf")
    err = capsys.readouterr().err.strip()
    assert code == CollectionError.exit_code
    assert err.startswith("error: aws store main: cannot authenticate:") and "\n" not in err
    assert "Traceback" not in err
    assert not (workspace / "evidence").exists()


def test_missing_credentials_are_one_line(aws_env, workspace: Path, capsys, tmp_path: Path):
    _engagement(workspace, aws_env.endpoint_url)
    with pytest.MonkeyPatch.context() as mp:
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(k, raising=False)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        mp.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for k in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                  "AWS_WEB_IDENTITY_TOKEN_FILE"):
            mp.delenv(k, raising=False)
        code = main(["collect", "northwind", "-q", QUARTER])
    err = capsys.readouterr().err.strip()
    assert code == CollectionError.exit_code and "\n" not in err
    assert "no AWS credentials found" in err
    assert not (workspace / "evidence").exists()


def test_unknown_profile_is_one_line(aws_env, workspace: Path, capsys):
    _engagement(workspace, aws_env.endpoint_url, extra="      profile: no-such-profile\n")
    assert main(["collect", "northwind", "-q", QUARTER]) == CollectionError.exit_code
    err = capsys.readouterr().err.strip()
    assert "no-such-profile" in err and "\n" not in err


def _ctx(sink: SnapshotSink) -> CollectContext:
    return CollectContext(engagement=Engagement(client="northwind"), sink=sink,
                          fingerprint=lambda v: "hmac256:test", as_of=datetime.now(UTC))


def test_write_outside_allow_list_aborts_the_run(aws_env, monkeypatch: pytest.MonkeyPatch):
    """If the collector ever issued a non-allow-listed call, the guard stops the run."""
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env.endpoint_url).create_secret(
        Name="x", SecretString=CANARIES[1])
    allowed = dict(aws_guard.ALLOWED)
    allowed["secretsmanager"] = frozenset({"ListSecrets"})  # GetResourcePolicy now forbidden
    monkeypatch.setattr(aws_guard, "ALLOWED", allowed)
    sink = SnapshotSink()
    store = AwsStore(name="main", regions=["us-east-1"], services=["secretsmanager"])
    with pytest.raises(ReadOnlyViolation, match="secretsmanager:GetResourcePolicy"):
        AwsCollector(store, _ctx(sink)).run()


def test_all_regions_assume_role_and_retry_configuration(aws_env):
    """``regions: all`` reads the enabled regions; account sessions come from assume-role."""
    sink = SnapshotSink()
    store = AwsStore(name="main", regions="all", services=["cloudtrail"], concurrency=16,
                     accounts=[{"role_arn": f"arn:aws:iam::{ACCOUNT}:role/PostureAssessor", "name": "payments"}])
    ctx = _ctx(sink)
    ctx.progress = Progress(disable=True)
    collector = AwsCollector(store, ctx)
    assert collector.config.retries == {"mode": "adaptive", "max_attempts": 8}
    assert collector._session_name().startswith("posture-northwind-")
    collector.run()
    (task,) = ctx.progress.tasks
    assert task.total == task.completed >= 1 + len(REGIONS)  # the bar follows the fan-out
    issued = collector.guard.issued
    assert issued["sts:AssumeRole"] == 1 and issued["ec2:DescribeRegions"] == 1
    regions = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws_env.endpoint_url).describe_regions()
    assert issued["cloudtrail:DescribeTrails"] == len(regions["Regions"]) > 10
    (server,) = sink.rows("server")
    assert server.namespace == "payments" and server.address == ACCOUNT
    assert sink.gaps() == []


def test_parameter_tags_are_opt_in(aws_env):
    ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url=aws_env.endpoint_url)
    ssm.put_parameter(Name="/prod/api/token", Type="SecureString", Value=CANARIES[3],
                      Tags=[{"Key": "env", "Value": "prod"}])
    store = AwsStore(name="main", regions=["us-east-1"], services=["ssm"])
    for opt, tags, calls in ((False, {}, 0), (True, {"env": "prod"}, 1)):
        sink = SnapshotSink()
        ctx = _ctx(sink)
        ctx.options["aws_parameter_tags"] = opt
        collector = AwsCollector(store, ctx)
        collector.run()
        (param,) = sink.rows("secret")
        assert param.tags == tags and param.parameter_type == "SecureString" and param.encrypted is True
        assert collector.guard.issued["ssm:ListTagsForResource"] == calls
        assert CANARIES[3] not in param.model_dump_json()


def test_unknown_service_name_is_a_config_error(aws_env):
    store = AwsStore(name="main", regions=["us-east-1"], services=["secrets-manager"])
    with pytest.raises(ConfigError, match="unknown service.*secrets-manager"):
        AwsCollector(store, _ctx(SnapshotSink()))


def test_accounts_are_reached_by_assume_role_and_kept_apart(aws_env):
    """Two accounts (moto keys its backends by the assumed role's account)."""
    other = "111122223333"
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=aws_env.endpoint_url)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{other}:role/Seeder", RoleSessionName="seed")["Credentials"]
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env.endpoint_url,
                 aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                 aws_session_token=creds["SessionToken"]).create_secret(Name="prod/other/key", SecretString=CANARIES[1])
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env.endpoint_url).create_secret(
        Name="prod/main/key", SecretString=CANARIES[1])
    sink = SnapshotSink()
    store = AwsStore(name="main", regions=["us-east-1"], services=["secretsmanager"], accounts=[
        {"role_arn": f"arn:aws:iam::{ACCOUNT}:role/PostureAssessor"},
        {"role_arn": f"arn:aws:iam::{other}:role/PostureAssessor", "external_id": "northwind-q4"},
    ])
    collector = AwsCollector(store, _ctx(sink))
    collector.run()
    assert sorted((s.account, s.name) for s in sink.rows("secret")) == [(other, "prod/other/key"),
                                                                         (ACCOUNT, "prod/main/key")]
    assert sorted(s.address for s in sink.rows("server")) == sorted([ACCOUNT, other])
    assert collector.guard.issued["sts:AssumeRole"] == 2 and sink.gaps() == []
