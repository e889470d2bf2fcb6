"""The account around the secrets (IAM, global): the root user, the password policy, server certificates.

- Root: the credential report's root row gives its keys, MFA and last use.
  A restricted report (or moto's) has no root row; then ``GetAccountSummary``
  still says whether root has access keys and MFA, and its last use stays
  unknown (``Principal.read_from = "account_summary"``, so the use check is
  not_assessed rather than passed). When neither can be read there is no root
  row at all, the gaps say why, and every root check is not_assessed.
- Hardware MFA: ``ListVirtualMFADevices`` (assigned ones); a virtual device
  assigned to root means root's MFA is not a hardware key.
- Password policy: ``GetAccountPasswordPolicy`` as a `Policy` of kind
  ``password_policy`` (its settings as the document). ``NoSuchEntity`` is an
  account without one: the document ``{}``, AWS's weak defaults.
- Server certificates: ``ListServerCertificates`` for expiry; one
  ``GetServerCertificate`` each for the public certificate body (its key
  algorithm and subject). IAM never returns the private key.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from collectors.aws.calls import CALL_FAILURES, GLOBAL_REGION, Account, AwsCalls
from posture.model.records import AccessKey, Certificate, Policy, Principal
from posture.model.timeutil import parse_utc

ROOT_ROW = "<root_account>"  # the credential report's name for the root user
ROOT_TABLES = ["principal", "access_key"]
IAM_SERVER_CERTIFICATE = "IAM_SERVER_CERTIFICATE"


def report_bool(v: str | None) -> bool | None:
    """A credential-report flag: None where the report has no value."""
    if v in (None, "", "N/A", "not_supported"):
        return None
    return str(v).lower() == "true"


def report_text(v: str | None) -> str | None:
    return None if v in (None, "", "N/A", "not_supported", "no_information") else v


def collect(aws: AwsCalls, acct: Account) -> None:
    """The account's password policy and server certificates (each server certificate is a task)."""
    _password_policy(aws, acct)
    certs, _ = aws.pages(acct, GLOBAL_REGION, "iam", "ListServerCertificates", "ServerCertificateMetadataList",
                         tables=["certificate"], needs=("ServerCertificateName", "Arn"))
    for c in certs:
        aws.submit(_server_certificate, aws, acct, c)


def root(aws: AwsCalls, acct: Account, row: dict[str, str] | None) -> None:
    """The root user from its report row, else from the account summary, else nothing (gaps say why)."""
    arn = f"arn:aws:iam::{acct.id}:root"
    virtual = _root_mfa_is_virtual(aws, acct, arn)
    if row:
        used = [t for t in (parse_utc(row.get("password_last_used")),
                            parse_utc(row.get("access_key_1_last_used_date")),
                            parse_utc(row.get("access_key_2_last_used_date"))) if t]
        mfa = report_bool(row.get("mfa_active"))
        aws.sink.add(Principal(
            id=arn, store=aws.store.name, source="aws", name=ROOT_ROW, kind="root",
            arn=arn, account=acct.id, created_at=parse_utc(row.get("user_creation_time")),
            password_enabled=report_bool(row.get("password_enabled")),
            password_last_used=parse_utc(row.get("password_last_used")),
            mfa_active=mfa, mfa_virtual=virtual if mfa else None, last_used_at=max(used) if used else None,
            read_from="credential_report",
        ))
        for n in (1, 2):
            if report_bool(row.get(f"access_key_{n}_active")):
                # The report is the only source of root keys; their ids are not exposed.
                aws.sink.add(AccessKey(
                    id=f"{arn}/access-key/{n}", store=aws.store.name, source="aws", principal=arn,
                    key_id=f"root-key-{n}", active=True, is_root=True,
                    created_at=parse_utc(row.get(f"access_key_{n}_last_rotated")),
                    last_used_at=parse_utc(row.get(f"access_key_{n}_last_used_date")),
                    last_used_service=report_text(row.get(f"access_key_{n}_last_used_service")),
                    account=acct.id,
                ))
        return
    summary = aws.call(acct, GLOBAL_REGION, "iam", "GetAccountSummary", tables=ROOT_TABLES,
                       what="the credential report has no root row", needs=("SummaryMap",))
    if summary is None:
        return
    facts = summary["SummaryMap"]
    mfa = _flag(facts.get("AccountMFAEnabled"))
    aws.sink.add(Principal(
        id=arn, store=aws.store.name, source="aws", name=ROOT_ROW, kind="root", arn=arn, account=acct.id,
        mfa_active=mfa, mfa_virtual=virtual if mfa else None, read_from="account_summary",
    ))
    if _flag(facts.get("AccountAccessKeysPresent")):
        aws.sink.add(AccessKey(
            id=f"{arn}/access-key/summary", store=aws.store.name, source="aws", principal=arn,
            key_id="root-key", active=True, is_root=True, account=acct.id,
        ))


def _flag(v: Any) -> bool | None:
    return None if v is None else bool(int(v))


def _root_mfa_is_virtual(aws: AwsCalls, acct: Account, root_arn: str) -> bool | None:
    """Is a virtual MFA device assigned to root? None when the devices could not be listed."""
    devices, complete = aws.pages(acct, GLOBAL_REGION, "iam", "ListVirtualMFADevices", "VirtualMFADevices",
                                  tables=["principal"], AssignmentStatus="Assigned")
    if not complete:
        return None
    return any((d.get("User") or {}).get("Arn") == root_arn
               or str(d.get("SerialNumber", "")).endswith(":mfa/root-account-mfa-device") for d in devices)


def _password_policy(aws: AwsCalls, acct: Account) -> None:
    pid = f"arn:aws:iam::{acct.id}:account-password-policy"
    client = aws.client(acct, "iam", GLOBAL_REGION)
    try:
        settings = client.get_account_password_policy().get("PasswordPolicy") or {}
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "NoSuchEntity":
            aws.gap(acct.id, "global", "iam", "iam:GetAccountPasswordPolicy", e, tables=["policy"])
            return
        settings = {}  # no policy set: AWS's defaults apply
    except CALL_FAILURES as e:
        aws.gap(acct.id, "global", "iam", "iam:GetAccountPasswordPolicy", e, tables=["policy"])
        return
    aws.sink.add(Policy(
        id=pid, store=aws.store.name, source="aws", name="account password policy", kind="password_policy",
        attached_to=f"aws-account:{acct.id}", document=json.dumps(settings, sort_keys=True),
    ))


def _server_certificate(aws: AwsCalls, acct: Account, meta: dict[str, Any]) -> None:
    name = meta["ServerCertificateName"]
    resp = aws.call(acct, GLOBAL_REGION, "iam", "GetServerCertificate", what=name, tables=["certificate"],
                    needs=("ServerCertificate",), ServerCertificateName=name)
    body = ((resp or {}).get("ServerCertificate") or {}).get("CertificateBody")
    subject, serial, not_before, not_after, algorithm = _public_facts(body)
    aws.sink.add(Certificate(
        id=meta["Arn"], store=aws.store.name, source="aws", arn=meta["Arn"], subject=subject or name,
        domains=[name], serial=serial, not_before=not_before or parse_utc(meta.get("UploadDate")),
        not_after=not_after or parse_utc(meta.get("Expiration")), key_algorithm=algorithm,
        type=IAM_SERVER_CERTIFICATE, managed_renewal=False, account=acct.id,
    ))


def _public_facts(pem: str | None) -> tuple[str | None, str | None, Any, Any, str | None]:
    """(subject, serial, not_before, not_after, key algorithm in ACM's spelling) of a public PEM
    certificate; the certificate's own dates are what IAM's listing repeats."""
    if not pem:
        return None, None, None, None, None
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None, None, None, None, None
    key = cert.public_key()
    algorithm = (f"RSA_{key.key_size}" if isinstance(key, rsa.RSAPublicKey)
                 else f"EC_{key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__)
    return (cert.subject.rfc4514_string(), format(cert.serial_number, "x"), cert.not_valid_before_utc,
            cert.not_valid_after_utc, algorithm)
