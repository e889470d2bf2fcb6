"""EC2: secrets in instance user data and launch template versions, scanned in memory.

``DescribeInstances`` lists instances without their user data; one
``DescribeInstanceAttribute(userData)`` per instance returns it, base64 and
possibly gzip or a cloud-init MIME archive (`scanning.decode_base64_text`).
``DescribeLaunchTemplateVersions`` returns every version with its user data:
an old version still holds what it held, and anyone who may describe it reads
it. Only fingerprints of what `scanning` judges secret are kept.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.scanning import Findings, decode_base64_text, listed, scope_of

TABLES = ["source_finding"]


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """List instances and launch templates; each instance's user data and each template is a task."""
    scope = scope_of(acct, region, "ec2")
    reservations, ok_i = aws.pages(acct, region, "ec2", "DescribeInstances", "Reservations", tables=TABLES,
                                   scope=scope)
    templates, ok_t = aws.pages(acct, region, "ec2", "DescribeLaunchTemplates", "LaunchTemplates",
                                tables=TABLES, needs=("LaunchTemplateId",), scope=scope)
    listed(aws, acct, region, "ec2", ok_i and ok_t)
    for r in reservations:
        for i in r.get("Instances") or []:
            if i.get("InstanceId") and (i.get("State") or {}).get("Name") != "terminated":
                aws.submit(_user_data, aws, acct, region, i["InstanceId"])
    for t in templates:
        aws.submit(_template, aws, acct, region, t)


def _user_data(aws: AwsCalls, acct: Account, region: str, instance_id: str) -> None:
    resp = aws.call(acct, region, "ec2", "DescribeInstanceAttribute", what=instance_id, tables=TABLES,
                    scope=scope_of(acct, region, "ec2"), InstanceId=instance_id, Attribute="userData")
    if resp is None:
        return
    arn = f"arn:aws:ec2:{region}:{acct.id}:instance/{instance_id}"
    text = decode_base64_text((resp.get("UserData") or {}).get("Value"))
    Findings(aws, acct, region, "ec2_user_data", arn).text(f"{arn}#userData", text, "EC2 instance user data")


def _template(aws: AwsCalls, acct: Account, region: str, t: dict[str, Any]) -> None:
    tid = t["LaunchTemplateId"]
    versions, _ = aws.pages(acct, region, "ec2", "DescribeLaunchTemplateVersions", "LaunchTemplateVersions",
                            tables=TABLES, scope=scope_of(acct, region, "ec2"), LaunchTemplateId=tid)
    arn = f"arn:aws:ec2:{region}:{acct.id}:launch-template/{tid}"
    found = Findings(aws, acct, region, "launch_template", arn)
    for v in versions:
        text = decode_base64_text((v.get("LaunchTemplateData") or {}).get("UserData"))
        found.text(f"{arn}#version={v.get('VersionNumber')}", text, "launch template user data")
