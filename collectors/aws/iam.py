"""IAM (global): users, groups, roles, policies, access keys, OIDC providers.

``GetAccountAuthorizationDetails`` gives every user, group, role and local
policy with their documents in a few pages; the credential report adds
password/MFA/key-usage facts. AWS-managed policies are read only when
something attaches them. The root user, the password policy and server
certificates are `account`'s.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import Any

from collectors.aws import account
from collectors.aws.account import ROOT_ROW, report_bool, report_text
from collectors.aws.calls import CALL_FAILURES, GLOBAL_REGION, Account, AwsCalls
from collectors.aws.documents import add_policy, document, listify, principals, tags
from posture.model.records import AccessKey, Principal
from posture.model.timeutil import parse_utc


def collect(aws: AwsCalls, acct: Account) -> None:
    """Read the account's IAM once (IAM is global: no region loop)."""
    region = GLOBAL_REGION
    aws.submit(account.collect, aws, acct)
    report = _credential_report(aws, acct)
    details: dict[str, list[Any]] = {"UserDetailList": [], "GroupDetailList": [],
                                     "RoleDetailList": [], "Policies": []}
    client = aws.client(acct, "iam", region)
    try:
        for page in client.get_paginator("get_account_authorization_details").paginate(
            Filter=["User", "Role", "Group", "LocalManagedPolicy"]
        ):
            for k, items in details.items():
                items.extend(page.get(k, []))
    except CALL_FAILURES as e:
        aws.gap(acct.id, "global", "iam", "iam:GetAccountAuthorizationDetails", e)

    # Managed policies: local ones carry their versions; AWS ones only if attached.
    for p in details["Policies"]:
        doc = next((v.get("Document") for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
        name = p.get("PolicyName") or p["Arn"].rsplit("/", 1)[-1]
        add_policy(aws.sink, aws.store.name, p["Arn"], name, "iam_managed", doc, None)
    attached = {
        ap["PolicyArn"]
        for kind in ("UserDetailList", "GroupDetailList", "RoleDetailList")
        for e in details[kind]
        for ap in e.get("AttachedManagedPolicies", [])
    }
    local = {p["Arn"] for p in details["Policies"]}
    aws_managed = attached - local
    if aws_managed:
        pols, _ = aws.pages(acct, region, "iam", "ListPolicies", "Policies",
                            tables=["policy", "policy_rule"], Scope="AWS", OnlyAttached=True)
        for p in pols:
            if p["Arn"] in aws_managed:
                aws.submit(_aws_managed_policy, aws, acct, p)

    groups_of: dict[str, list[str]] = {}
    for u in details["UserDetailList"]:
        groups_of[u["Arn"]] = list(u.get("GroupList", []))
    for g in details["GroupDetailList"]:
        pids = _inline(aws, g["Arn"], g.get("GroupPolicyList", []))
        pids += [ap["PolicyArn"] for ap in g.get("AttachedManagedPolicies", [])]
        members = sorted(a for a, gs in groups_of.items() if g["GroupName"] in gs)
        aws.sink.add(Principal(
            id=g["Arn"], store=aws.store.name, source="aws", name=g["GroupName"], kind="iam_group",
            arn=g["Arn"], account=acct.id, created_at=parse_utc(g.get("CreateDate")),
            policies=pids, members=members,
        ))
    key_users: list[str] = []
    for u in details["UserDetailList"]:
        row = report.get(u["UserName"], {})
        pids = _inline(aws, u["Arn"], u.get("UserPolicyList", []))
        pids += [ap["PolicyArn"] for ap in u.get("AttachedManagedPolicies", [])]
        last_used = [t for t in (parse_utc(row.get("password_last_used")),
                                 parse_utc(row.get("access_key_1_last_used_date")),
                                 parse_utc(row.get("access_key_2_last_used_date"))) if t]
        aws.sink.add(Principal(
            id=u["Arn"], store=aws.store.name, source="aws", name=u["UserName"], kind="iam_user",
            arn=u["Arn"], account=acct.id, created_at=parse_utc(u.get("CreateDate")),
            policies=pids, groups=list(u.get("GroupList", [])),
            password_enabled=report_bool(row.get("password_enabled")),
            password_last_used=parse_utc(row.get("password_last_used")),
            password_last_changed=parse_utc(row.get("password_last_changed")),
            mfa_active=report_bool(row.get("mfa_active")),
            last_used_at=max(last_used) if last_used else None,
            tags=tags(u.get("Tags")),
        ))
        if not row or any(row.get(f"access_key_{n}_last_rotated") not in (None, "", "N/A") for n in (1, 2)):
            key_users.append(u["UserName"])
    for name in key_users:
        aws.submit(_access_keys, aws, acct, name, report.get(name, {}))
    for r in details["RoleDetailList"]:
        _role(aws, acct, r)
    account.root(aws, acct, report.get(ROOT_ROW))
    _oidc(aws, acct)


def _credential_report(aws: AwsCalls, acct: Account) -> dict[str, dict[str, str]]:
    """The credential report by user name (`ROOT_ROW` for root); {} on a gap."""
    client = aws.client(acct, "iam", GLOBAL_REGION)
    try:
        delay = 0.1
        for _ in range(25):  # AWS builds the report in seconds; poll with backoff up to ~1 min
            if client.generate_credential_report().get("State") == "COMPLETE":
                break
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raw = client.get_credential_report()["Content"]
    except CALL_FAILURES as e:
        op = "iam:GetCredentialReport" if "GetCredentialReport" in str(e) else "iam:GenerateCredentialReport"
        aws.gap(acct.id, "global", "iam", op, e, tables=["principal", "access_key"])
        return {}
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    return {row["user"]: row for row in csv.DictReader(io.StringIO(text))}


def _inline(aws: AwsCalls, owner_arn: str, items: list[dict[str, Any]]) -> list[str]:
    """Record a principal's inline policies; their ids for ``Principal.policies``."""
    ids = []
    for p in items:
        pid = f"{owner_arn}/inline/{p['PolicyName']}"
        add_policy(aws.sink, aws.store.name, pid, p["PolicyName"], "iam_inline", p.get("PolicyDocument"), owner_arn)
        ids.append(pid)
    return ids


def _aws_managed_policy(aws: AwsCalls, acct: Account, p: dict[str, Any]) -> None:
    resp = aws.call(acct, GLOBAL_REGION, "iam", "GetPolicyVersion", what=p["Arn"],
                    tables=["policy", "policy_rule"], needs=("PolicyVersion",), PolicyArn=p["Arn"],
                    VersionId=p["DefaultVersionId"])
    doc = resp["PolicyVersion"].get("Document") if resp else None
    add_policy(aws.sink, aws.store.name, p["Arn"], p["PolicyName"], "iam_managed", doc, None)


def _access_keys(aws: AwsCalls, acct: Account, user: str, row: dict[str, str]) -> None:
    resp = aws.call(acct, GLOBAL_REGION, "iam", "ListAccessKeys", what=user,
                    tables=["access_key"], needs=("AccessKeyMetadata",), UserName=user)
    if resp is None:
        return
    keys = sorted(resp.get("AccessKeyMetadata", []),
                  key=lambda k: parse_utc(k.get("CreateDate")) or datetime.min.replace(tzinfo=UTC))
    slots = {n: parse_utc(row.get(f"access_key_{n}_last_rotated")) for n in (1, 2)}
    for i, k in enumerate(keys):
        created = parse_utc(k.get("CreateDate"))
        # The report numbers keys 1/2 by creation; match on the creation time, else order.
        n = next((n for n, t in slots.items() if t and created and abs((t - created).total_seconds()) < 2), i + 1)
        principal = f"arn:aws:iam::{acct.id}:user/{user}"
        aws.sink.add(AccessKey(
            id=f"arn:aws:iam::{acct.id}:user/{user}/access-key/{k['AccessKeyId']}",
            store=aws.store.name, source="aws", principal=principal, key_id=k["AccessKeyId"],
            active=k.get("Status") == "Active", created_at=created,
            last_used_at=parse_utc(row.get(f"access_key_{n}_last_used_date")),
            last_used_service=report_text(row.get(f"access_key_{n}_last_used_service")),
            last_used_region=report_text(row.get(f"access_key_{n}_last_used_region")),
            account=acct.id,
        ))


def _role(aws: AwsCalls, acct: Account, r: dict[str, Any]) -> None:
    arn = r["Arn"]
    pids = _inline(aws, arn, r.get("RolePolicyList", []))
    pids += [ap["PolicyArn"] for ap in r.get("AttachedManagedPolicies", [])]
    trust = document(r.get("AssumeRolePolicyDocument"))
    trust_principals: list[str] = []
    trust_conditions: dict[str, Any] = {}
    if trust is not None:
        add_policy(aws.sink, aws.store.name, f"{arn}/trust", r["RoleName"], "trust", trust, arn,
                   default_resource=arn)
        for st in listify(trust.get("Statement")):
            if isinstance(st, dict) and str(st.get("Effect", "Allow")).lower() == "allow":
                trust_principals += principals(st.get("Principal"))
                for op, cond in (st.get("Condition") or {}).items():
                    trust_conditions.setdefault(op, {}).update(cond if isinstance(cond, dict) else {})
    last = (r.get("RoleLastUsed") or {}).get("LastUsedDate")
    aws.sink.add(Principal(
        id=arn, store=aws.store.name, source="aws", name=r["RoleName"], kind="iam_role",
        arn=arn, account=acct.id, created_at=parse_utc(r.get("CreateDate")), policies=pids,
        trust_principals=sorted(set(trust_principals)), trust_conditions=trust_conditions,
        last_used_at=parse_utc(last), tags=tags(r.get("Tags")),
        max_session_seconds=r.get("MaxSessionDuration"),
    ))


def _oidc(aws: AwsCalls, acct: Account) -> None:
    resp = aws.call(acct, GLOBAL_REGION, "iam", "ListOpenIDConnectProviders", tables=["principal"],
                    needs=("OpenIDConnectProviderList",))
    for p in (resp or {}).get("OpenIDConnectProviderList", []):
        arn = p["Arn"]
        d = aws.call(acct, GLOBAL_REGION, "iam", "GetOpenIDConnectProvider", what=arn,
                     tables=["principal"], OpenIDConnectProviderArn=arn)
        if d is None:
            continue
        url = d.get("Url") or arn.split("oidc-provider/", 1)[-1]
        aws.sink.add(Principal(
            id=arn, store=aws.store.name, source="aws", name=url, kind="oidc_provider",
            arn=arn, account=acct.id, created_at=parse_utc(d.get("CreateDate")),
            aliases=list(d.get("ClientIDList", [])), tags=tags(d.get("Tags")),
        ))
