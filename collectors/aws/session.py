"""Reaching AWS: the base session, assumed-role sessions per account, the regions to read.

boto3's own credential chain (profile, SSO, environment, instance role) gives
the base session. Each engagement account is reached by assume-role with
refreshable credentials, so long runs survive the one-hour session expiry;
with ``organization: true`` the accounts are the organization's
(``organizations:ListAccounts``). Every STS and Organizations client carries
the read-only guard like every other client.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import botocore.session
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import NoCredentialsError, ProfileNotFound

from collectors.aws.calls import (
    CALL_FAILURES,
    GLOBAL_REGION,
    TABLES,
    Account,
    AwsCalls,
    classify_error,
    one_line,
)
from posture.model.engagement import AwsAccount
from posture.model.errors import CollectionError
from posture.model.timeutil import parse_utc


class Sessions:
    """Sessions and regions for one AWS store."""

    def __init__(self, aws: AwsCalls) -> None:
        self.aws = aws
        self.store = aws.store

    def base(self) -> boto3.Session:
        """The session the assessor starts from (the store's profile, else the default chain)."""
        try:
            return boto3.Session(profile_name=self.store.profile) if self.store.profile else boto3.Session()
        except ProfileNotFound as e:
            raise CollectionError(f"aws store {self.store.name}: {e}") from None

    def session_name(self) -> str:
        """The RoleSessionName: client and date, so CloudTrail shows whose assessment it was."""
        raw = f"posture-{self.aws.ctx.engagement.client}-{self.aws.ctx.as_of:%Y%m%d}"
        return re.sub(r"[^\w+=,.@-]", "-", raw)[:64]

    def _sts(self, session: boto3.Session) -> Any:
        sts = session.client("sts", region_name=self._home_region(session), endpoint_url=self.aws.endpoint_url,
                             config=self.aws.config)
        return self.aws.install(sts)

    def _assumed(self, base: boto3.Session, account: AwsAccount) -> boto3.Session:
        """A session whose credentials re-assume the role before they expire."""
        sts = self._sts(base)
        params: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": self.session_name()}
        if account.external_id:
            params["ExternalId"] = account.external_id

        def fetch() -> dict[str, str]:
            c = sts.assume_role(**params)["Credentials"]
            return {
                "access_key": c["AccessKeyId"],
                "secret_key": c["SecretAccessKey"],
                "token": c["SessionToken"],
                "expiry_time": parse_utc(c["Expiration"]).isoformat(),  # type: ignore[union-attr]
            }

        creds = RefreshableCredentials.create_from_metadata(fetch(), fetch, "sts-assume-role")
        bs = botocore.session.get_session()
        bs._credentials = creds  # the documented way to hand botocore ready credentials
        return boto3.Session(botocore_session=bs, region_name=self._home_region(base))

    def _home_region(self, base: boto3.Session) -> str:
        if isinstance(self.store.regions, list) and self.store.regions:
            return self.store.regions[0]
        return base.region_name or GLOBAL_REGION

    def _identity(self, session: boto3.Session) -> str:
        """The account id behind ``session`` (GetCallerIdentity needs no permission)."""
        return str(self._sts(session).get_caller_identity()["Account"])

    def accounts(self, base: boto3.Session) -> tuple[list[Account], list[str]]:
        """The accounts to read, and the ids of those that could not be reached.

        The caller's own account; or each configured role's; or, with
        ``organization``, every account of the organization: the caller's own
        with its own session, every other by ``organization_role`` (an
        ``accounts`` entry with the same id overrides its role). An account
        whose role cannot be assumed, or that is not ACTIVE, is a gap over
        every table, never skipped; only when none can be reached does the
        store fail.
        """
        targets = list(self.store.accounts)
        accounts: list[Account] = []
        if not targets or self.store.organization:
            try:
                own_id = self._identity(base)
            except NoCredentialsError:
                raise
            except CALL_FAILURES as e:
                raise CollectionError(f"aws store {self.store.name}: cannot authenticate: {one_line(e)}") from None
            own = Account(id=own_id, name=own_id, session=base)
            if not self.store.organization:
                return [own], []
            accounts.append(own)
            targets, unreached = self._organization(own, targets)
        else:
            unreached = []
        failures: list[str] = []
        for a in targets:
            label = a.id or a.role_arn.split(":")[4]
            try:
                session = self._assumed(base, a)
                acct_id = self._identity(session)
            except NoCredentialsError:
                raise
            except CALL_FAILURES as e:
                failures.append(f"{a.role_arn}: {one_line(e)}")
                unreached.append(label)
                self.aws.sink.gap(
                    store=self.store.name, source="aws", tables=TABLES["sts"], scope=label,
                    service="sts", operation="sts:AssumeRole", reason=classify_error(e)[0],
                    detail=f"{a.role_arn}: {one_line(e)}",
                )
                continue
            accounts.append(Account(id=acct_id, name=a.name or acct_id, session=session))
        if not accounts:
            raise CollectionError(
                f"aws store {self.store.name}: no account could be reached: {failures[0]}"
                + (f" (+{len(failures) - 1} more)" if len(failures) > 1 else "")
            )
        return accounts, unreached

    def _organization(self, own: Account, explicit: list[AwsAccount]) -> tuple[list[AwsAccount], list[str]]:
        """The organization's other ACTIVE accounts as assume-role targets (``ListAccounts``, paginated),
        and the ids of those that are not ACTIVE.

        A listing that fails is a gap scoped ``organization`` (the accounts it
        would have named are missing, so every check says so); a suspended or
        closing account is a gap scoped to its id.
        """
        items, _ = self.aws.pages(own, GLOBAL_REGION, "organizations", "ListAccounts", "Accounts",
                                  tables=TABLES["sts"], needs=("Id",), scope="organization")
        by_id = {a.id: a for a in explicit if a.id and a.id != own.id}
        targets = [a for a in explicit if not a.id]
        inactive: list[str] = []
        for item in items:
            aid = str(item["Id"])
            if aid == own.id:
                continue
            status = str(item.get("Status") or "ACTIVE")
            if status != "ACTIVE":
                by_id.pop(aid, None)
                inactive.append(aid)
                self.aws.sink.gap(
                    store=self.store.name, source="aws", tables=TABLES["sts"], scope=aid,
                    service="organizations", operation="organizations:ListAccounts", reason="unreachable",
                    detail=f"account {aid} is {status} in the organization: not assessed",
                )
                continue
            targets.append(by_id.pop(aid, None) or AwsAccount(
                id=aid, role_arn=f"arn:aws:iam::{aid}:role/{self.store.organization_role}",
                external_id=self.store.organization_external_id, name=item.get("Name") or None,
            ))
        return targets + list(by_id.values()), inactive  # with configured accounts the listing did not name

    def regions(self, acct: Account) -> list[str]:
        """The configured regions, or every enabled one for ``regions: all``."""
        if self.store.regions != "all":
            return list(self.store.regions)
        home = acct.session.region_name or GLOBAL_REGION
        resp = self.aws.call(acct, home, "ec2", "DescribeRegions", needs=("Regions",), AllRegions=False)
        if resp is None:
            return [home]  # the gap is recorded; collect what we can reach
        return sorted(r["RegionName"] for r in resp.get("Regions", []))
