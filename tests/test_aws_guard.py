"""The read-only guard: refuses before sending, passes the allow-list, prints its policy."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from conftest import CANARIES

from collectors.aws import guard as aws_guard
from collectors.aws.guard import ReadOnlyGuard, allowed_actions, iam_policy_document
from posture.model.errors import ReadOnlyViolation

CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens: a request that got out would fail to connect


def _guarded(service: str, endpoint: str, guard: ReadOnlyGuard, sent: list[str]):
    client = boto3.client(service, region_name="us-east-1", endpoint_url=endpoint,
                          config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    guard.install(client)
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    return client


@pytest.mark.parametrize(
    "service, op, params",
    [
        ("secretsmanager", "get_secret_value", {"SecretId": "prod/payments/db-password"}),
        ("secretsmanager", "batch_get_secret_value", {"SecretIdList": ["a"]}),
        ("secretsmanager", "put_secret_value", {"SecretId": "x", "SecretString": CANARIES[1]}),
        ("secretsmanager", "delete_secret", {"SecretId": "x"}),
        ("ssm", "get_parameter", {"Name": "/prod/db", "WithDecryption": True}),
        ("ssm", "get_parameters", {"Names": ["/prod/db"], "WithDecryption": True}),
        ("ssm", "get_parameters_by_path", {"Path": "/prod", "WithDecryption": True}),
        ("kms", "decrypt", {"CiphertextBlob": b"x"}),
        ("kms", "enable_key_rotation", {"KeyId": "k"}),
        ("iam", "create_access_key", {"UserName": "u"}),
        ("lambda", "get_function", {"FunctionName": "f"}),
        ("ec2", "get_password_data", {"InstanceId": "i-0123456789abcdef0"}),
        ("ec2", "get_launch_template_data", {"InstanceId": "i-0123456789abcdef0"}),
        ("cloudformation", "get_template", {"StackName": "orders"}),
        ("glue", "get_connection", {"Name": "db", "HidePassword": False}),
        ("apigateway", "get_api_key", {"apiKey": "k", "includeValue": True}),
        ("organizations", "create_account", {"Email": "new@example.com", "AccountName": "x"}),
    ],
)
def test_guard_refuses_before_anything_is_sent(service: str, op: str, params: dict):
    guard, sent = ReadOnlyGuard(), []
    client = _guarded(service, CLOSED_PORT, guard, sent)
    with pytest.raises(ReadOnlyViolation, match="not in the read-only allow-list") as e:
        getattr(client, op)(**params)
    assert sent == [] and guard.calls == 0
    assert e.value.exit_code == 4
    for c in CANARIES:
        assert c not in str(e.value)


def test_allowed_operations_pass_and_are_counted(aws_env):
    guard, sent = ReadOnlyGuard(), []
    raw = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=aws_env.endpoint_url)
    raw.create_secret(Name="prod/app/token", SecretString=CANARIES[1])
    client = _guarded("secretsmanager", aws_env.endpoint_url, guard, sent)
    aws_guard.reset_issued_operations()
    names = [s["Name"] for p in client.get_paginator("list_secrets").paginate() for s in p["SecretList"]]
    assert names == ["prod/app/token"]
    assert guard.issued == {"secretsmanager:ListSecrets": 1}
    assert aws_guard.issued_operations() == {"secretsmanager:ListSecrets": 1}
    assert len(sent) == 1
    with pytest.raises(ReadOnlyViolation):
        client.get_secret_value(SecretId="prod/app/token")
    assert len(sent) == 1  # the refused call never reached moto


def test_every_allow_listed_operation_exists_in_botocore():
    """A typo in the allow-list would silently leave the collector unable to read."""
    session = boto3.Session(region_name="us-east-1")
    for service, ops in aws_guard.ALLOWED.items():
        model = session.client(service, aws_access_key_id="x", aws_secret_access_key="x").meta.service_model
        assert model.service_name == service
        missing = ops - set(model.operation_names)
        assert not missing, (service, missing)
        # the printed action's prefix is the service's IAM prefix (its signing name; API Gateway: HTTP verbs)
        for op in ops:
            assert aws_guard.iam_action(service, op).split(":")[0] == model.signing_name, (service, op)


def test_policy_document_is_exactly_the_allow_list():
    doc = iam_policy_document()
    assert doc["Version"] == "2012-10-17"
    allow = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    deny = [s for s in doc["Statement"] if s["Effect"] == "Deny"]
    assert len(allow) == 3 and len(deny) == 1
    granted = [a for s in allow for a in s["Action"]]
    assert sorted(granted) == allowed_actions() == sorted(set(allowed_actions())) and len(granted) == len(set(granted))
    assert set(granted) == {aws_guard.iam_action(svc, op) for svc, ops in aws_guard.ALLOWED.items() for op in ops}
    # the value-returning actions stand apart, each named in SCANNED_VALUES, and nothing else does
    metadata, scanned, apigw = allow
    assert not set(metadata["Action"]) & set(aws_guard.SCANNED_VALUES)
    assert set(scanned["Action"]) | set(apigw["Action"]) == set(aws_guard.SCANNED_VALUES)
    assert "ScansInMemory" in scanned["Sid"] and "ScansInMemory" in apigw["Sid"]
    assert metadata["Resource"] == scanned["Resource"] == "*"
    assert apigw["Action"] == ["apigateway:GET"] and all("/restapis" in r for r in apigw["Resource"])
    assert "secretsmanager:GetSecretValue" in deny[0]["Action"] and "kms:Decrypt" in deny[0]["Action"]
    assert not set(granted) & set(deny[0]["Action"])
    writes = ("Put", "Create", "Delete", "Update", "Decrypt", "Encrypt", "Tag", "Untag", "Enable",
              "Disable", "Rotate", "Attach", "Detach", "Set", "Start", "Stop", "Register")
    for action in granted:
        op = action.split(":", 1)[1]
        if op != "GenerateCredentialReport":  # builds the report; changes no resource
            assert not op.startswith(writes), action
        assert not op.startswith("Get") or op in {
            "GetResourcePolicy", "GetKeyRotationStatus", "GetKeyPolicy", "GetCredentialReport",
            "GetAccountAuthorizationDetails", "GetPolicyVersion", "GetOpenIDConnectProvider",
            "GetTrailStatus", "GetEventSelectors", "GetCallerIdentity",
            # issue 14: account settings and the public certificate body (metadata) ...
            "GetAccountSummary", "GetAccountPasswordPolicy", "GetServerCertificate",
            # ... and definitions whose values are scanned in memory (SCANNED_VALUES)
            "GetDocument", "GetConnections", "GetJobs",
        }, action


def test_policy_grants_exactly_the_configured_cloudtrail_prefixes(workspace, capsys):
    """`posture policy aws CLIENT` adds list/get on the engagement's s3:// log prefixes only."""
    import json

    from collectors.audit import S3_READ_OPERATIONS
    from posture.cli import main

    eng = workspace / "engagements" / "acme"
    eng.mkdir(parents=True)
    (eng / "engagement.yaml").write_text(
        "client: acme\nstores:\n  aws:\n    - name: main\n"
        "      cloudtrail_logs: [s3://trail-bucket/AWSLogs/1111/, /var/log/local]\n"
    )
    assert main(["policy", "aws", "acme"]) == 0
    doc = json.loads(capsys.readouterr().out)
    s3 = [s for s in doc["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
    assert {a for s in s3 for a in s["Action"]} == {"s3:ListBucket", "s3:GetObject"}
    # ListObjectsV2 is authorised by s3:ListBucket; GetObject by s3:GetObject
    assert S3_READ_OPERATIONS == {"ListObjectsV2", "GetObject"}
    assert {s["Resource"] for s in s3} == {
        "arn:aws:s3:::trail-bucket", "arn:aws:s3:::trail-bucket/AWSLogs/1111/*"}
    assert main(["policy", "aws"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert not [s for s in plain["Statement"] if any(a.startswith("s3:") for a in s["Action"])]
