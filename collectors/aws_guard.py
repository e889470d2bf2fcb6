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
- Every operation that passed is recorded (per guard and process-wide), so a
  test can prove the collector issued nothing the printed policy lacks.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from posture.model.errors import ReadOnlyViolation

# botocore endpoint prefix -> operations the collector may call. The IAM action
# is "<prefix>:<Operation>" for every entry (true for all of these services).
ALLOWED: dict[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity", "AssumeRole"}),
    "ec2": frozenset({"DescribeRegions"}),
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
        }
    ),
    "ssm": frozenset({"DescribeParameters", "ListTagsForResource"}),
    "acm": frozenset({"ListCertificates", "DescribeCertificate"}),
    "lambda": frozenset({"ListFunctions"}),
    "ecs": frozenset({"ListTaskDefinitions", "DescribeTaskDefinition"}),
    "cloudtrail": frozenset({"DescribeTrails", "GetTrailStatus", "GetEventSelectors"}),
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
)


def allowed_actions() -> list[str]:
    """Every allow-listed operation as an IAM action, sorted."""
    return sorted(f"{svc}:{op}" for svc, ops in ALLOWED.items() for op in ops)


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
        service = model.service_model.endpoint_prefix
        op = model.name
        if op not in ALLOWED.get(service, frozenset()):
            raise ReadOnlyViolation(
                f"refused {service}:{op}: not in the read-only allow-list (nothing was sent)"
            )
        action = f"{service}:{op}"
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

    ``sts:AssumeRole`` is only needed in the account the assessor starts from
    (to reach member accounts); everything else is granted in each account.
    ``cloudtrail_s3`` adds read access to those log prefixes (audit collector).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PostureReadOnlyMetadata",
                "Effect": "Allow",
                "Action": allowed_actions(),
                "Resource": "*",
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
