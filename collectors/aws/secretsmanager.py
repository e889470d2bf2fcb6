"""Secrets Manager: every secret's metadata and resource policy, never its value.

``ListSecrets`` carries rotation, KMS key, replication, dates and tags; one
``GetResourcePolicy`` per primary secret adds its policy. ``GetSecretValue``
is not in the guard's allow-list.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.documents import add_policy, tags
from posture.model.records import Mount, Secret
from posture.model.timeutil import parse_utc


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """List the region's secrets (deleted-pending included); each secret's policy is its own task."""
    items, complete = aws.pages(acct, region, "secretsmanager", "ListSecrets", "SecretList",
                                needs=("ARN", "Name"), IncludePlannedDeletion=True)
    aws.sink.add(Mount(
        id=f"aws:{acct.id}:{region}:secretsmanager", store=aws.store.name, source="aws",
        path=f"{acct.id}/{region}/secretsmanager", type="secretsmanager",
        description=None if complete else "listing incomplete (see coverage gaps)",
    ))
    for s in items:
        aws.submit(_secret, aws, acct, region, s)


def _secret(aws: AwsCalls, acct: Account, region: str, s: dict[str, Any]) -> None:
    arn = s["ARN"]
    rules = s.get("RotationRules") or {}
    replica = bool(s.get("PrimaryRegion")) and s.get("PrimaryRegion") != region
    # A replica's policy lives with its primary (and AWS refuses the call on replicas).
    resp = None if replica else aws.call(
        acct, region, "secretsmanager", "GetResourcePolicy", what=s.get("Name"),
        tables=["policy", "policy_rule"], needs=("ARN",), SecretId=arn)
    has_policy: bool | None = None
    if resp is not None:
        has_policy = bool(resp.get("ResourcePolicy"))
        if has_policy:
            add_policy(aws.sink, aws.store.name, f"{arn}/resource-policy", s["Name"], "secret_resource",
                       resp["ResourcePolicy"], arn, default_resource=arn)
    schedule = rules.get("ScheduleExpression")
    if schedule and rules.get("Duration"):
        schedule = f"{schedule} (window {rules['Duration']})"
    aws.sink.add(Secret(
        id=arn, store=aws.store.name, source="aws", kind="secretsmanager",
        path=s["Name"], name=s["Name"], region=region, account=acct.id, arn=arn,
        description=s.get("Description"),
        created_at=parse_utc(s.get("CreatedDate")),
        updated_at=parse_utc(s.get("LastChangedDate")),
        last_rotated_at=parse_utc(s.get("LastRotatedDate")),
        last_accessed_at=parse_utc(s.get("LastAccessedDate")),
        deleted_at=parse_utc(s.get("DeletedDate")),
        version_count=len(s.get("SecretVersionsToStages") or {}) or None,
        rotation_enabled=bool(s.get("RotationEnabled", False)),
        rotation_interval_days=rules.get("AutomaticallyAfterDays"),
        rotation_schedule=schedule,
        rotation_function=s.get("RotationLambdaARN") or None,
        next_rotation_at=parse_utc(s.get("NextRotationDate")),
        kms_key_id=s.get("KmsKeyId") or "alias/aws/secretsmanager",
        customer_managed_key=bool(s.get("KmsKeyId")) and "alias/aws/" not in str(s.get("KmsKeyId")),
        encrypted=True,
        owning_service=s.get("OwningService"),
        primary_region=s.get("PrimaryRegion"),
        replica_regions=sorted(r.get("Region") for r in s.get("ReplicationStatus") or [] if r.get("Region")),
        has_resource_policy=has_policy,
        tags=tags(s.get("Tags")),
    ))


def link_replicas(aws: AwsCalls) -> None:
    """Fill primaries' ``replica_regions`` from the replicas seen in other regions.

    ListSecrets shows a replica (with ``PrimaryRegion``) in its own region but
    not the replication status on the primary; linking them here saves a
    DescribeSecret per secret. Only collected regions can be linked.
    """
    rows = [r for r in aws.sink.rows("secret") if isinstance(r, Secret) and r.store == aws.store.name
            and r.kind == "secretsmanager"]
    by_arn = {r.arn: r for r in rows}
    for r in rows:
        if r.primary_region and r.region and r.primary_region != r.region and r.arn:
            primary = by_arn.get(r.arn.replace(f":{r.region}:", f":{r.primary_region}:", 1))
            if primary is not None and r.region not in primary.replica_regions:
                primary.replica_regions = sorted([*primary.replica_regions, r.region])
