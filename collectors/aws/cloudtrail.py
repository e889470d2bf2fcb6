"""CloudTrail: trails with logging status and what their event selectors record.

A trail is read in its home region only. Basic and advanced event selectors
both answer two questions the checks ask: are management events logged, and
do they include the reads of secrets (KMS and Secrets Manager events)?
"""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from posture.model.records import Trail


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """Describe the region's own trails; each trail's status and selectors are one task."""
    resp = aws.call(acct, region, "cloudtrail", "DescribeTrails", needs=("trailList",), includeShadowTrails=False)
    for t in (resp or {}).get("trailList", []):
        if t.get("HomeRegion", region) == region:
            aws.submit(_trail, aws, acct, region, t)


def _trail(aws: AwsCalls, acct: Account, region: str, t: dict[str, Any]) -> None:
    arn = t["TrailARN"]
    status = aws.call(acct, region, "cloudtrail", "GetTrailStatus", what=arn, needs=("IsLogging",), Name=arn)
    sel = aws.call(acct, region, "cloudtrail", "GetEventSelectors", what=arn, TrailName=arn)
    mgmt: bool | None = None
    secrets_events: bool | None = None
    rw: str | None = None
    excluded: list[str] = []
    if sel is not None:
        mgmt, secrets_events = False, False
        for s in sel.get("EventSelectors") or []:
            if s.get("IncludeManagementEvents", True):
                mgmt = True
                rw = s.get("ReadWriteType", "All")
                excluded = list(s.get("ExcludeManagementEventSources") or [])
                if rw == "All" and "kms.amazonaws.com" not in excluded:
                    secrets_events = True
        for a in sel.get("AdvancedEventSelectors") or []:
            fields = {f["Field"]: f for f in a.get("FieldSelectors", [])}
            if "Management" in (fields.get("eventCategory") or {}).get("Equals", []):
                mgmt = True
                src = fields.get("eventSource") or {}
                ro = fields.get("readOnly")
                rw = "All" if ro is None else ("ReadOnly" if "true" in ro.get("Equals", []) else "WriteOnly")
                excluded = list(src.get("NotEquals", []))
                if ro is None and not ({"kms.amazonaws.com", "secretsmanager.amazonaws.com"} & set(excluded)):
                    secrets_events = True
    aws.sink.add(Trail(
        id=arn, store=aws.store.name, source="aws", name=t["Name"], region=region, account=acct.id,
        is_multi_region=t.get("IsMultiRegionTrail"),
        is_logging=status.get("IsLogging") if status is not None else None,
        log_file_validation=t.get("LogFileValidationEnabled"),
        kms_key_id=t.get("KmsKeyId"), logs_management_events=mgmt, logs_secrets_events=secrets_events,
        s3_bucket=t.get("S3BucketName"), is_organization_trail=t.get("IsOrganizationTrail"),
        management_read_write=rw, excluded_event_sources=excluded,
    ))
