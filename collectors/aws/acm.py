"""ACM: certificates of every key type, with expiry, renewal, use and whether each is a CA."""

from __future__ import annotations

from typing import Any

from collectors.aws.calls import Account, AwsCalls
from posture.model.records import Certificate
from posture.model.timeutil import parse_utc

# ListCertificates returns only RSA_2048 unless asked for the others.
KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]


def collect(aws: AwsCalls, acct: Account, region: str) -> None:
    """List the region's certificates; each is described in its own task."""
    certs, _ = aws.pages(acct, region, "acm", "ListCertificates", "CertificateSummaryList",
                         needs=("CertificateArn",), Includes={"keyTypes": KEY_TYPES})
    for c in certs:
        aws.submit(_certificate, aws, acct, region, c)


def _certificate(aws: AwsCalls, acct: Account, region: str, c: dict[str, Any]) -> None:
    arn = c["CertificateArn"]
    resp = aws.call(acct, region, "acm", "DescribeCertificate", what=arn, needs=("Certificate",),
                    CertificateArn=arn)
    if resp is None:
        return
    d = resp["Certificate"]
    aws.sink.add(Certificate(
        id=arn, store=aws.store.name, source="aws", serial=d.get("Serial"),
        subject=d.get("Subject"), domains=list(d.get("SubjectAlternativeNames") or [d.get("DomainName")]),
        issuer=d.get("Issuer"), not_before=parse_utc(d.get("NotBefore")), not_after=parse_utc(d.get("NotAfter")),
        region=region, arn=arn, in_use=bool(d.get("InUseBy")),
        renewal_eligible=(d["RenewalEligibility"] == "ELIGIBLE") if d.get("RenewalEligibility") else None,
        managed_renewal=d.get("Type") == "AMAZON_ISSUED" if d.get("Type") else None,
        revoked=d.get("Status") == "REVOKED" or bool(d.get("RevokedAt")),
        key_algorithm=d.get("KeyAlgorithm"), status=d.get("Status"), type=d.get("Type"),
        account=acct.id, is_ca=is_ca(d),
    ))


def is_ca(d: dict[str, Any]) -> bool | None:
    """A CA certificate by its key usages (``CERTIFICATE_SIGNING``); None when ACM lists none.

    General class: CA certificates imported into ACM, judged as CAs (LCY009)
    rather than as leaves. ACM reports key usages for imported certificates;
    without them nothing says what the certificate is.
    """
    usages = [u.get("Name") for u in d.get("KeyUsages") or [] if isinstance(u, dict)]
    return "CERTIFICATE_SIGNING" in usages if usages else None
