"""The AWS collector's read-only guard and the assessor policy derived from it.

One allow-list, three uses:

- `ReadOnlyGuard.check` is registered on every boto3 client's ``before-call``
  event. botocore emits it after building the request and before sending it,
  so an operation outside the list raises `ReadOnlyViolation` and nothing
  leaves the process: ``GetSecretValue``, ``GetParameter``/``GetParameters``
  (with or without decryption: the collector only ever needs
  ``DescribeParameters``), ``Decrypt`` and every write are simply absent.
- `iam_policy_document` turns the same list into the least-privilege IAM
  policy the client grants the assessor (``posture policy aws`` prints it),
  plus an explicit deny of the value-reading actions as a second fence.
- Every operation that passed is recorded (per guard and process-wide) as the
  IAM action it needs, so a test can prove the collector issued nothing the
  printed policy lacks.

Some allowed operations return values someone wrote into a definition
(environment variables, user data, stack outputs, ...): AWS offers no way to
list those definitions without them. `SCANNED_VALUES` names each one; the
printed policy grants them in a statement of their own, and the collector
scans their answers in memory, keeps a keyed fingerprint of what is secret
and drops the rest (`collectors.aws.scanning`).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from posture.model.errors import ReadOnlyViolation

# boto3 service name -> operations the collector may call.
ALLOWED: dict[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity", "AssumeRole"}),
    "organizations": frozenset({"ListAccounts"}),
    "ec2": frozenset({"DescribeRegions", "DescribeInstances", "DescribeInstanceAttribute",
                      "DescribeLaunchTemplates", "DescribeLaunchTemplateVersions"}),
    "secretsmanager": frozenset({"ListSecrets", "GetResourcePolicy"}),
    "kms": frozenset(
        {"ListKeys", "DescribeKey", "GetKeyRotationStatus", "GetKeyPolicy", "ListAliases", "ListResourceTags"}
    ),
    "iam": frozenset(
        {
            "GenerateCredentialReport",  # builds the report server-side; changes no resource
            "GetCredentialReport",
            "GetAccountAuthorizationDetails",
            "ListAccessKeys",
            "ListPolicies",
            "GetPolicyVersion",
            "ListOpenIDConnectProviders",
            "GetOpenIDConnectProvider",
            "GetAccountSummary",
            "GetAccountPasswordPolicy",
            "ListVirtualMFADevices",
            "ListServerCertificates",
            "GetServerCertificate",  # the public certificate body; IAM never returns the private key
        }
    ),
    "ssm": frozenset({"DescribeParameters", "ListTagsForResource", "ListDocuments", "GetDocument",
                      "DescribeDocumentPermission"}),
    "acm": frozenset({"ListCertificates", "DescribeCertificate"}),
    "lambda": frozenset({"ListFunctions"}),
    "ecs": frozenset({"ListTaskDefinitions", "DescribeTaskDefinition"}),
    "cloudtrail": frozenset({"DescribeTrails", "GetTrailStatus", "GetEventSelectors"}),
    "codebuild": frozenset({"ListProjects", "BatchGetProjects"}),
    "batch": frozenset({"DescribeJobDefinitions"}),
    "stepfunctions": frozenset({"ListStateMachines", "DescribeStateMachine"}),
    "apigateway": frozenset({"GetRestApis", "GetStages"}),
    "elasticbeanstalk": frozenset({"DescribeEnvironments", "DescribeConfigurationSettings"}),
    "glue": frozenset({"GetConnections", "GetJobs"}),
    "sagemaker": frozenset({"ListNotebookInstanceLifecycleConfigs", "DescribeNotebookInstanceLifecycleConfig",
                            "ListNotebookInstances"}),
    "cloudformation": frozenset({"DescribeStacks"}),
    "eks": frozenset({"ListClusters", "DescribeCluster"}),
    "accessanalyzer": frozenset({"ListAnalyzers"}),
}

#: IAM action prefix where it is not the boto3 service name (botocore's signing name).
IAM_PREFIX: dict[str, str] = {"stepfunctions": "states", "accessanalyzer": "access-analyzer"}

#: API Gateway authorises its REST management API by HTTP method on resource paths.
APIGATEWAY_PATHS: dict[str, str] = {"GetRestApis": "/restapis", "GetStages": "/restapis/*/stages"}

#: Allowed actions whose answers carry values, and which values: scanned in memory, fingerprinted, dropped.
SCANNED_VALUES: dict[str, str] = {
    "lambda:ListFunctions": "Lambda environment variables",
    "ecs:DescribeTaskDefinition": "ECS container environment variables",
    "ec2:DescribeInstanceAttribute": "EC2 instance user data (the userData attribute only)",
    "ec2:DescribeLaunchTemplateVersions": "launch template user data",
    "codebuild:BatchGetProjects": "CodeBuild plaintext environment variables, inline buildspecs, source URLs",
    "batch:DescribeJobDefinitions": "Batch container environments and parameters",
    "states:DescribeStateMachine": "Step Functions definitions",
    "apigateway:GET": "API Gateway stage variables (GetStages; GetRestApis is metadata)",
    "elasticbeanstalk:DescribeConfigurationSettings": "Elastic Beanstalk option settings",
    "glue:GetConnections": "Glue connection properties, passwords included (HidePassword=false)",
    "glue:GetJobs": "Glue job arguments",
    "sagemaker:DescribeNotebookInstanceLifecycleConfig": "SageMaker notebook lifecycle scripts",
    "cloudformation:DescribeStacks": "CloudFormation stack outputs and parameters",
    "ssm:GetDocument": "SSM document content",
}

# Value-reading actions denied outright in the printed policy (defence in depth:
# even if another policy of the assessor's role grants them).
DENIED_ACTIONS: tuple[str, ...] = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "kms:Decrypt",
    "kms:GenerateDataKey*",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "ec2:GetPasswordData",
    "cloudformation:GetTemplate",
    "glue:GetConnection",
)


def iam_action(service: str, op: str) -> str:
    """The IAM action that authorises ``service``'s ``op`` (``apigateway:GET``, ``states:...``)."""
    if service == "apigateway":
        return "apigateway:GET"
    return f"{IAM_PREFIX.get(service, service)}:{op}"


def allowed_actions() -> list[str]:
    """Every IAM action the allow-list needs, sorted."""
    return sorted({iam_action(svc, op) for svc, ops in ALLOWED.items() for op in ops})


def scanned_values_note() -> str:
    """The plain-words account of `SCANNED_VALUES` that ``posture policy aws`` prints beside the policy."""
    lines = ["These allowed actions return values someone wrote into a definition; the collector scans",
             "them in memory, keeps only the name, location and a keyed fingerprint of what is secret,",
             "and drops the values:"]
    lines += [f"  {action:<50} {what}" for action, what in sorted(SCANNED_VALUES.items())]
    return "\n".join(lines) + "\n"


_global_lock = threading.Lock()
_global_issued: Counter[str] = Counter()


def issued_operations() -> Counter[str]:
    """Operations (``service:Operation``) every guard in this process let through."""
    with _global_lock:
        return Counter(_global_issued)


def reset_issued_operations() -> None:
    with _global_lock:
        _global_issued.clear()


class ReadOnlyGuard:
    """A botocore ``before-call`` hook enforcing `ALLOWED`, and a call counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.issued: Counter[str] = Counter()

    def check(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        op = model.name
        if op not in ALLOWED.get(service, frozenset()):
            raise ReadOnlyViolation(
                f"refused {service}:{op}: not in the read-only allow-list (nothing was sent)"
            )
        action = iam_action(service, op)
        with self._lock:
            self.issued[action] += 1
        with _global_lock:
            _global_issued[action] += 1

    def install(self, client: Any) -> Any:
        """Register on one client's event system; returns the client."""
        client.meta.events.register("before-call", self.check, unique_id="posture-read-only-guard")
        return client

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(self.issued.values())


def s3_log_statements(prefixes: list[str]) -> list[dict[str, Any]]:
    """Read access to exactly the CloudTrail log prefixes (``s3://bucket/prefix``) configured.

    The audit collector reads them with ``ListObjectsV2`` and ``GetObject`` only.
    """
    out: list[dict[str, Any]] = []
    for n, url in enumerate(sorted(set(prefixes))):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        out.append({
            "Sid": f"PostureCloudTrailList{n}", "Effect": "Allow", "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        })
        out.append({
            "Sid": f"PostureCloudTrailRead{n}", "Effect": "Allow", "Action": ["s3:GetObject"],
            "Resource": f"arn:aws:s3:::{bucket}/{prefix}*",
        })
    return out


def iam_policy_document(cloudtrail_s3: list[str] | None = None) -> dict[str, Any]:
    """The least-privilege IAM policy for exactly the guard's allow-list.

    Three allow statements: metadata-only actions; the actions whose answers
    carry values the collector scans in memory and drops (`SCANNED_VALUES`,
    in a statement named for it); API Gateway's ``GET``, limited to the REST
    API list and stages (so it cannot read API keys). ``sts:AssumeRole`` (and
    ``organizations:ListAccounts``) are only needed in the account the
    assessor starts from; everything else is granted in each account.
    ``cloudtrail_s3`` adds read access to those log prefixes (audit collector).
    """
    actions = allowed_actions()
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PostureReadOnlyMetadata",
                "Effect": "Allow",
                "Action": [a for a in actions if a not in SCANNED_VALUES],
                "Resource": "*",
            },
            {
                "Sid": "PostureReadsDefinitionsScansInMemoryKeepsOnlyFingerprints",
                "Effect": "Allow",
                "Action": [a for a in actions if a in SCANNED_VALUES and not a.startswith("apigateway:")],
                "Resource": "*",
            },
            {
                "Sid": "PostureApiGatewayStagesScansInMemoryKeepsOnlyFingerprints",
                "Effect": "Allow",
                "Action": ["apigateway:GET"],
                "Resource": [f"arn:aws:apigateway:*::{path}" for path in sorted(set(APIGATEWAY_PATHS.values()))],
            },
            {
                "Sid": "PostureNeverReadsValues",
                "Effect": "Deny",
                "Action": list(DENIED_ACTIONS),
                "Resource": "*",
            },
            *s3_log_statements(cloudtrail_s3 or []),
        ],
    }
