"""KMS: keys with their rotation, aliases, policy and tags.

AWS-managed keys rotate yearly by AWS; only symmetric AWS_KMS-origin keys
can rotate automatically, so others are recorded as not rotating rather than
asked. Key policies and tags are read for customer-managed keys only.
"""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from collectors.aws.documents import add_policy, tags
from posture.model.records import Key
from posture.model.timeutil import parse_utc


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """List keys and aliases; each key's details are their own task."""
    keys, _ = aws.pages(acct, region, "kms", "ListKeys", "Keys", needs=("KeyId",))
    aliases, _ = aws.pages(acct, region, "kms", "ListAliases", "Aliases", tables=["key"], needs=("AliasName",))
    by_key: dict[str, list[str]] = {}
    for a in aliases:
        if a.get("TargetKeyId"):
            by_key.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
    for k in keys:
        aws.submit(_key, aws, acct, region, k, sorted(by_key.get(k["KeyId"], [])))


def _key(aws: AwsCalls, acct: Account, region: str, k: dict[str, Any], aliases: list[str]) -> None:
    key_id = k["KeyId"]
    resp = aws.call(acct, region, "kms", "DescribeKey", what=key_id, needs=("KeyMetadata",), KeyId=key_id)
    if resp is None:
        return
    m = resp["KeyMetadata"]
    arn = m.get("Arn") or k.get("KeyArn")
    customer = m.get("KeyManager") == "CUSTOMER"
    spec = m.get("KeySpec") or m.get("CustomerMasterKeySpec")
    state = m.get("KeyState")
    rotation_supported = (
        spec == "SYMMETRIC_DEFAULT" and m.get("Origin", "AWS_KMS") == "AWS_KMS"
        and state not in ("PendingDeletion", "PendingImport")
    )
    rotation_enabled: bool | None = None
    period: int | None = None
    next_rotation = None
    key_tags: dict[str, str] = {}
    if not customer:
        rotation_enabled, period = True, 365  # AWS rotates AWS-managed keys yearly
    elif rotation_supported:
        rot = aws.call(acct, region, "kms", "GetKeyRotationStatus", what=key_id, needs=("KeyRotationEnabled",),
                       KeyId=key_id)
        if rot is not None:
            rotation_enabled = bool(rot.get("KeyRotationEnabled"))
            period = rot.get("RotationPeriodInDays") or (365 if rotation_enabled else None)
            next_rotation = parse_utc(rot.get("NextRotationDate"))
    else:
        rotation_enabled = False  # asymmetric/HMAC/imported keys cannot rotate automatically
    if customer:
        pol = aws.call(acct, region, "kms", "GetKeyPolicy", what=key_id,
                       tables=["policy", "policy_rule"], needs=("Policy",), KeyId=key_id, PolicyName="default")
        if pol is not None and pol.get("Policy"):
            add_policy(aws.sink, aws.store.name, f"{arn}/key-policy", aliases[0] if aliases else key_id,
                       "kms_key", pol["Policy"], arn, default_resource=arn)
        t = aws.call(acct, region, "kms", "ListResourceTags", what=key_id, tables=["key"], needs=("Tags",),
                     KeyId=key_id)
        if t is not None:
            key_tags = tags(t.get("Tags"))
    aws.sink.add(Key(
        id=arn, store=aws.store.name, source="aws", kind="kms",
        name=aliases[0] if aliases else key_id, region=region, account=acct.id, arn=arn,
        manager=m.get("KeyManager"), state=state, spec=spec, usage=m.get("KeyUsage"),
        created_at=parse_utc(m.get("CreationDate")),
        rotation_enabled=rotation_enabled, rotation_period_days=period,
        rotation_supported=rotation_supported, next_rotation_at=next_rotation,
        origin=m.get("Origin"), multi_region=m.get("MultiRegion"),
        deletion_at=parse_utc(m.get("DeletionDate")), description=m.get("Description") or None,
        aliases=aliases, tags=key_tags,
    ))
