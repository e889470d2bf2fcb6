"""Every place a secret hides in AWS, and the account around it, against moto (issue 14).

The exposure estate (``posture.demo.estates.aws_exposure``) plants one real
problem and one clean look-alike per place; it is collected and assessed once
through the CLI with every service, and the findings are judged against its
ground truth. Where moto lacks an API (Access Analyzer, the SageMaker
lifecycle-config listing, Beanstalk option settings) the coverage-gap path is
what is tested: a gap, scoped to the service, and the dependent results
not_assessed, never passed. Root without a credential-report row, an
Organization with an unreachable and a suspended account, and the scanners'
look-alikes are tested on their own.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from conftest import CANARIES, assert_no_canary, point_boto_at
from rich.progress import Progress

from collectors.aws import guard as aws_guard
from collectors.aws.collector import AwsCollector
from collectors.aws.scanning import decode_base64_text, judge, text_candidates
from collectors.base import CollectContext
from posture.cli import main
from posture.demo.estates.aws import ACCOUNT
from posture.demo.estates.aws_exposure import FORMAT_VALUES, ExposureEstate, seed_exposure
from posture.model.engagement import AwsStore, Engagement
from posture.model.snapshot import Snapshot, SnapshotSink

QUARTER = "2026-Q4"


@dataclass
class Assessed:
    estate: ExposureEstate
    root: Path
    snapshot: Snapshot
    findings: list[dict[str, Any]]
    output: str
    issued: set[str]

    def results(self, check_id: str, match: str = "") -> list[dict[str, Any]]:
        return [f for f in self.findings if f["check_id"] == check_id and match in f["resource"]]

    def statuses(self, check_ids: tuple[str, ...], match: str) -> set[str]:
        return {f["status"] for c in check_ids for f in self.results(c, match)}


@pytest.fixture(scope="module")
def exposure(moto_server, tmp_path_factory: pytest.TempPathFactory) -> Assessed:
    """Seed the exposure estate, then ``posture collect`` (every service) and ``posture assess`` once."""
    from collectors.aws.calls import SERVICES

    root = tmp_path_factory.mktemp("aws-exposure")
    with pytest.MonkeyPatch.context() as mp:
        point_boto_at(mp, moto_server.endpoint_url)
        mp.setenv("POSTURE_HOME", str(root))
        moto_server.reset()
        estate = seed_exposure(moto_server.endpoint_url, CANARIES)
        eng = root / "engagements" / "northwind" / "engagement.yaml"
        eng.parent.mkdir(parents=True)
        eng.write_text("client: northwind\nstores:\n  aws:\n    - name: main\n      regions: [us-east-1]\n"
                       f"      endpoint_url: {moto_server.endpoint_url}\n      concurrency: 6\n"
                       f"      services: [{', '.join(SERVICES)}]\n")
        aws_guard.reset_issued_operations()
        out, err = StringIO(), StringIO()
        mp.setattr(sys, "stdout", out)
        mp.setattr(sys, "stderr", err)
        assert main(["collect", "northwind", "-q", QUARTER]) == 0
        issued = set(aws_guard.issued_operations())
        assert main(["assess", "northwind", "-q", QUARTER, "--no-notebooks"]) == 0
    evidence = root / "evidence" / "northwind" / QUARTER
    findings = json.loads((evidence / "assessment" / "findings.json").read_text())["findings"]
    return Assessed(estate, root, Snapshot.load(evidence / "snapshot"), findings, out.getvalue() + err.getvalue(),
                    issued)


# --- the ground truth: every planted problem found, every look-alike left alone ---------------------

MOTO_LACKS = {"beanstalk"}  # moto answers DescribeConfigurationSettings with an HTML 500


def test_every_planted_problem_fails_and_no_look_alike_does(exposure: Assessed):
    missed, false = [], []
    for p in exposure.estate.planted:
        if p.key in MOTO_LACKS:
            continue
        got = exposure.statuses(p.ours, p.match)
        if p.problem and "fail" not in got:
            missed.append((p.key, got))
        if not p.problem and "fail" in got:
            false.append((p.key, got))
    assert not missed and not false, (missed, false)


def test_ground_truth_names_the_checks_the_catalog_cites(exposure: Assessed):
    """Each planted item's kit checks exist and cite, in ``references``, the Prowler checks it is compared with."""
    from checks.catalog import load_catalog

    catalog = load_catalog()
    for p in exposure.estate.planted:
        refs = {r.split()[1] for c in p.ours for r in catalog[c].references if r.startswith("Prowler ")}
        assert set(p.prowler) <= refs, (p.key, p.prowler, refs)


def test_look_alikes_judged_per_resource_pass(exposure: Assessed):
    """A clean resource the check judges one by one is a pass, not an absence."""
    for key in ("ssm-document-private", "lambda-cmk-clean", "eks-encrypted", "user-group-policy",
                "server-cert-current"):
        p = next(p for p in exposure.estate.planted if p.key == key)
        assert exposure.statuses(p.ours, p.match) == {"pass"}, key


def test_findings_keep_names_and_fingerprints_never_values(exposure: Assessed):
    rows = [r for r in exposure.snapshot.rows("source_finding") if r["category"] in (
        "config_definition", "published_output")]
    assert {r["refs"][0] for r in rows} == {
        "ec2_user_data", "launch_template", "codebuild_env", "codebuild_source", "batch_job_definition",
        "step_functions", "apigateway_stage", "glue_connection", "glue_job", "sagemaker_lifecycle",
        "cloudformation_output", "ssm_document"}
    for r in rows:
        assert r["fingerprint"].startswith("hmac256:") and r["detector"]
    by_place = {(r["refs"][0], r["variable"]): r for r in rows}
    gz = by_place[("ec2_user_data", "STRIPE_KEY")]
    assert gz["detector"] == "Stripe Access Key" and gz["public_prefix"] == "sk_live_"
    assert by_place[("cloudformation_output", "AdminPassword")]["detector"] == "Secret Keyword"
    assert by_place[("codebuild_source", "location")]["path"].endswith("#source=primary")
    assert ("launch_template", "API_TOKEN") in by_place  # found in version 1, which is no longer the default


def test_no_planted_value_reaches_any_output(exposure: Assessed):
    extra = tuple(v for v in exposure.estate.values if v not in CANARIES)
    assert set(FORMAT_VALUES.values()) <= set(extra)
    assert assert_no_canary(exposure.root, extra) >= 20
    for v in exposure.estate.values:
        assert v not in exposure.output


def test_every_issued_operation_is_allowed_and_printed(exposure: Assessed, capsys):
    assert exposure.issued <= set(aws_guard.allowed_actions())
    assert main(["policy", "aws"]) == 0
    out = capsys.readouterr()
    allow = {a for s in json.loads(out.out)["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    assert exposure.issued <= allow
    scanned = exposure.issued & set(aws_guard.SCANNED_VALUES)
    assert scanned == set(aws_guard.SCANNED_VALUES)  # the estate exercises every value-returning read
    for action in scanned:
        assert action in out.err


# --- where moto lacks an API: a gap scoped to the service, the dependent results not_assessed -------------

def test_unsupported_apis_are_service_scoped_gaps(exposure: Assessed):
    gaps = {g["operation"]: g for g in exposure.snapshot.rows("coverage_gap")}
    assert set(gaps) == {"accessanalyzer:ListAnalyzers", "sagemaker:ListNotebookInstanceLifecycleConfigs",
                         "elasticbeanstalk:DescribeConfigurationSettings"}
    for op, g in gaps.items():
        service = op.split(":")[0]
        assert g["scope"] == f"{ACCOUNT}/us-east-1/{service}" and g["reason"] in ("error", "malformed", "unsupported")
    assert gaps["accessanalyzer:ListAnalyzers"]["tables"] == ["cloud_resource"]
    (analyzer,) = exposure.results("AWS037")
    assert analyzer["status"] == "not_assessed" and "ListAnalyzers" in analyzer["evidence"]["not_assessed_reason"]
    beanstalk = exposure.results("AWS024", "elasticbeanstalk")
    assert [f["status"] for f in beanstalk] == ["not_assessed"]
    # a gap in one service leaves the others' verdicts in the region standing
    assert exposure.statuses(("AWS020",), "function:orders-legacy") == {"fail"}


def test_sagemaker_configs_named_by_notebook_instances_are_still_read(exposure: Assessed):
    assert exposure.statuses(("AWS024",), "research-setup") == {"fail"}
    mount = next(m for m in exposure.snapshot.rows("mount") if m["type"] == "sagemaker")
    assert mount["description"].startswith("listing incomplete")


def test_root_falls_back_to_the_account_summary(exposure: Assessed):
    (root,) = [p for p in exposure.snapshot.rows("principal") if p["kind"] == "root"]
    assert root["read_from"] == "account_summary" and root["mfa_active"] is False
    assert exposure.statuses(("AWS029", "AWS030"), ":root") == {"fail"}
    (use,) = exposure.results("AWS031")
    assert use["status"] == "not_assessed"
    assert "no root row" in use["evidence"]["not_assessed_reason"]


# --- root when nothing can be read: not_assessed with a gap, never a pass -------------------------

def _moto_auth(endpoint: str, count: str) -> None:
    r = requests.post(f"{endpoint}/moto-api/reset-auth", data=count.encode(), timeout=10)
    assert r.status_code == 200, r.text


def _assessor(endpoint: str, extra: list[dict[str, Any]]) -> dict[str, str]:
    """An IAM user with the printed policy plus ``extra`` statements; its access key."""
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint)
    iam.create_user(UserName="assessor")
    doc = aws_guard.iam_policy_document()
    doc["Statement"] += extra
    iam.put_user_policy(UserName="assessor", PolicyName="posture", PolicyDocument=json.dumps(doc))
    return iam.create_access_key(UserName="assessor")["AccessKey"]


def _ctx(sink: SnapshotSink) -> CollectContext:
    from datetime import UTC, datetime

    return CollectContext(engagement=Engagement(client="northwind"), sink=sink,
                          fingerprint=lambda v: "hmac256:test", as_of=datetime.now(UTC))


def test_root_unreadable_is_not_assessed_with_a_gap(aws_env):
    from checks.engine import run_assessment

    key = _assessor(aws_env.endpoint_url, [{"Effect": "Deny", "Action": "iam:GetAccountSummary", "Resource": "*"}])
    sink = SnapshotSink()
    store = AwsStore(name="main", regions=["us-east-1"], services=["iam"])
    with pytest.MonkeyPatch.context() as mp:
        point_boto_at(mp, aws_env.endpoint_url, key["AccessKeyId"], key["SecretAccessKey"])
        _moto_auth(aws_env.endpoint_url, "0")
        try:
            AwsCollector(store, _ctx(sink)).run()
        finally:
            _moto_auth(aws_env.endpoint_url, "inf")
    assert not [p for p in sink.rows("principal") if p.kind == "root"]
    (gap,) = [g for g in sink.gaps() if g.operation == "iam:GetAccountSummary"]
    assert gap.reason == "denied" and "no root row" in gap.detail and set(gap.tables) == {"principal", "access_key"}
    a = run_assessment(Snapshot.from_records(sink.rows("server") + sink.rows("principal") + sink.gaps()),
                       Engagement(client="northwind"), "2026-11-20", only=["AWS029", "AWS030", "AWS031"])
    assert set(a.findings["status"].astype(str)) == {"not_assessed"}


# --- an Organization: every account, a gap for the one that cannot be reached -------------------------

def test_organization_accounts_are_each_read_or_a_gap(aws_env):
    endpoint = aws_env.endpoint_url
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=endpoint)
    org.create_organization(FeatureSet="ALL")
    ids = {}
    for name in ("payments", "sandbox", "retired"):
        status = org.create_account(Email=f"{name}@northwind.example", AccountName=name)["CreateAccountStatus"]
        ids[name] = status["AccountId"]
    org.close_account(AccountId=ids["retired"])
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ids['payments']}:role/PostureAssessor",
                            RoleSessionName="seed")["Credentials"]
    member = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
              "aws_session_token": creds["SessionToken"]}
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint, **member).create_secret(
        Name="prod/payments/api-key", SecretString=CANARIES[1])
    miam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint, **member)
    miam.create_role(RoleName="PostureAssessor", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}))
    miam.put_role_policy(RoleName="PostureAssessor", PolicyName="posture",
                         PolicyDocument=json.dumps(aws_guard.iam_policy_document()))
    boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint).create_secret(
        Name="prod/shared/token", SecretString=CANARIES[1])
    key = _assessor(endpoint, [{"Effect": "Deny", "Action": "sts:AssumeRole",
                                "Resource": f"arn:aws:iam::{ids['sandbox']}:role/PostureAssessor"}])
    sink = SnapshotSink()
    store = AwsStore(name="main", regions=["us-east-1"], services=["secretsmanager"], organization=True)
    ctx = _ctx(sink)
    ctx.progress = Progress(disable=True)
    with pytest.MonkeyPatch.context() as mp:
        point_boto_at(mp, endpoint, key["AccessKeyId"], key["SecretAccessKey"])
        _moto_auth(endpoint, "0")
        try:
            collector = AwsCollector(store, ctx)
            collector.run()
        finally:
            _moto_auth(endpoint, "inf")
    assert sorted((s.account, s.name) for s in sink.rows("secret")) == sorted(
        [(ACCOUNT, "prod/shared/token"), (ids["payments"], "prod/payments/api-key")])
    assert sorted(s.address for s in sink.rows("server")) == sorted([ACCOUNT, ids["payments"]])  # one snapshot
    gaps = {g.scope: g for g in sink.gaps()}
    assert set(gaps) == {ids["sandbox"], ids["retired"]}
    assert gaps[ids["sandbox"]].operation == "sts:AssumeRole" and gaps[ids["sandbox"]].reason == "denied"
    assert gaps[ids["retired"]].reason == "unreachable" and "SUSPENDED" in gaps[ids["retired"]].detail
    issued = collector.guard.issued
    assert issued["organizations:ListAccounts"] == 1 and issued["sts:AssumeRole"] == 2  # payments, sandbox
    lines = {t.description: t for t in ctx.progress.tasks}
    reached = [d for d in lines if ids["payments"] in d or d.endswith(f" {ACCOUNT}")]
    assert len(reached) == 2 and all(lines[d].total == lines[d].completed >= 2 for d in reached)
    assert {d for d in lines if "not reached" in d} == {
        f"aws main {ids[n]}: not reached (coverage gap)" for n in ("sandbox", "retired")}
    for r in sink.rows("secret"):
        assert CANARIES[1] not in r.model_dump_json()


# --- the scanners' look-alikes ---------------------------------------------------------------------

def test_user_data_is_decoded_whatever_its_wrapping():
    script = "#!/bin/bash\nexport DB_PASSWORD=hunter2-long-enough\n"
    assert decode_base64_text(base64.b64encode(script.encode()).decode()) == script
    assert decode_base64_text(base64.b64encode(gzip.compress(script.encode())).decode()) == script
    mime = ("Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\n"
            "Content-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n"
            f"{base64.b64encode(script.encode()).decode()}\n--b--\n")
    assert "DB_PASSWORD=hunter2" in decode_base64_text(base64.b64encode(mime.encode()).decode())
    assert decode_base64_text("not base64 !!") in (None, "")
    assert decode_base64_text(base64.b64encode(b"\x00\x01binary").decode()) is None


@pytest.mark.parametrize("line, secret", [
    ("export DB_PASSWORD='Sup3r-S3cret-Passw0rd'", True),
    ("mysql --password R4nd0m-Pa55w0rd-Value -h db", True),
    ("aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", True),
    ("git clone https://deploy:Xk29sLq8Zpw@git.example.com/app.git", True),
    (f"LEGACY={FORMAT_VALUES['aws_key']}", True),
    ("-----BEGIN RSA PRIVATE KEY-----", True),
    ("export DB_PASSWORD=$(aws secretsmanager get-secret-value --secret-id prod/db --query SecretString)", False),
    ("export API_TOKEN={{ssm-secure:/prod/token}}", False),
    ("export API_TOKEN=${API_TOKEN}", False),
    ("export DB_HOST=orders-db.internal", False),
    ("IMAGE=1234.dkr.ecr.us-east-1.amazonaws.com/app@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b8", False),
    ("echo 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  app.tar.gz | sha256sum -c", False),
    ("password: changeme", False),
    ("export TOKEN_PATH=/run/secrets/token", False),
])
def test_script_lines_are_judged_by_name_and_format(line: str, secret: bool):
    text = line + ("\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----" if "BEGIN" in line else "")
    found = [judge(name, value, strict=True) for _, name, value in text_candidates(text)]
    assert any(found) is secret, found
