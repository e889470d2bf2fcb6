"""SSM Parameter Store: every parameter's metadata, never its value.

``DescribeParameters`` gives type, KMS key, tier, version and modification
date; ``GetParameter(s)`` is not in the guard's allow-list. Tags cost one call
per parameter (SSM has no batch API) and paths carry the environment by
convention, so tags are opt-in (``ctx.options["aws_parameter_tags"]``).
"""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.documents import tags
from posture.model.records import Mount, Secret
from posture.model.timeutil import parse_utc


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """List the region's parameters; with tags on, each parameter is its own task."""
    params, complete = aws.pages(acct, region, "ssm", "DescribeParameters", "Parameters", needs=("Name",))
    aws.sink.add(Mount(
        id=f"aws:{acct.id}:{region}:ssm", store=aws.store.name, source="aws",
        path=f"{acct.id}/{region}/ssm", type="ssm_parameter_store",
        description=None if complete else "listing incomplete (see coverage gaps)",
    ))
    with_tags = bool(aws.ctx.options.get("aws_parameter_tags", False))
    for p in params:
        if with_tags:
            aws.submit(_parameter, aws, acct, region, p, True)
        else:
            _parameter(aws, acct, region, p, False)


def _parameter(aws: AwsCalls, acct: Account, region: str, p: dict[str, Any], with_tags: bool) -> None:
    name = p["Name"]
    arn = p.get("ARN") or f"arn:aws:ssm:{region}:{acct.id}:parameter/{name.lstrip('/')}"
    param_tags: dict[str, str] = {}
    if with_tags:
        t = aws.call(acct, region, "ssm", "ListTagsForResource", what=name, tables=["secret"],
                     needs=("TagList",), ResourceType="Parameter", ResourceId=name)
        param_tags = tags((t or {}).get("TagList"))
    modified = parse_utc(p.get("LastModifiedDate"))
    aws.sink.add(Secret(
        id=arn, store=aws.store.name, source="aws", kind="ssm_parameter",
        path=name, name=name, region=region, account=acct.id, arn=arn,
        description=p.get("Description"),
        updated_at=modified,
        last_rotated_at=modified,  # a parameter's value only changes by a new version
        current_version=p.get("Version"),
        kms_key_id=p.get("KeyId"),
        customer_managed_key=bool(p.get("KeyId")) and "alias/aws/" not in str(p.get("KeyId")),
        encrypted=p.get("Type") == "SecureString",
        parameter_type=p.get("Type"), tier=p.get("Tier"),
        rotation_enabled=False,  # Parameter Store has no rotation
        tags=param_tags,
    ))
