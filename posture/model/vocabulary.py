"""The kit's vocabulary: every name that more than one stage uses, defined once.

Stages and checklist items come from the review method (seed 000's five stages
and its final checklist); severities and their weights drive scoring; statuses
are the four outcomes of a check; gap reasons say why a read failed; audit
signal names are what the audit collector measures and the AUD checks judge.
Collectors, checks, notebooks and the site import these names (or read
``catalog.json``), never copy them.
"""

from __future__ import annotations

from typing import Literal, get_args

import pandas as pd

# Seed 000's review workflow.
STAGES: dict[int, str] = {
    1: "Inventory & classification",
    2: "Storage & access model",
    3: "Lifecycle & rotation",
    4: "Developer & CI ergonomics",
    5: "Verification & operations",
}

# Seed 000, "Final Review Checklist".
CHECKLIST: dict[int, str] = {
    1: "No production secrets in source control or public artifacts",
    2: "Least privilege enforced at identity + path + operation level",
    3: "Rotation and revocation paths documented with owners",
    4: "CI and local dev paths do not encourage static prod credentials",
    5: "Audit/logging aligned with organizational requirements",
}

#: Stores whose secrets, keys and certificates the generic inventory, owner, rotation, TTL and
#: environment checks score (git findings and audit logs are judged by their own checks).
ITEM_SOURCES: tuple[str, ...] = ("vault", "aws", "azure", "gcp", "kubernetes", "inventory")

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
SEVERITY_WEIGHT: dict[str, int] = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}

#: A check's outcome for one resource, worst first (the order tables use).
Status = Literal["fail", "not_assessed", "waived", "pass"]
STATUSES: tuple[Status, ...] = get_args(Status)

#: Why a read could not be used; every value is documented in `GAP_REASONS`.
GapReason = Literal[
    "denied", "not_found", "timeout", "throttled", "error", "unsupported", "unreachable",
    "malformed", "truncated", "excluded",
]
GAP_REASONS: dict[str, str] = {
    "denied": "the credential is not allowed to read it (401/403, AccessDenied)",
    "not_found": "the endpoint or resource does not exist (404)",
    "timeout": "no answer in time",
    "throttled": "the server kept refusing with rate limits after the retries (429, Throttling)",
    "error": "the server answered with an error (5xx) or the client failed",
    "unsupported": "the server does not offer this API (405/501, missing API)",
    "unreachable": "the server or file could not be reached at all",
    "malformed": "an answer that is not the expected shape (an HTML page, wrong JSON)",
    "truncated": "an answer cut short (a page limit or a cap), so the table is incomplete",
    "excluded": "the engagement leaves it out on purpose (e.g. list_tokens: false)",
}
assert set(GAP_REASONS) == set(get_args(GapReason))

#: Auth methods a person logs in with (Vault methods; AWS console, SSO and SAML).
#: Everything else (approle, kubernetes, jwt, aws, cert, token, ...) is a workload.
HUMAN_AUTH_METHODS: frozenset[str] = frozenset(
    {"userpass", "oidc", "ldap", "okta", "github", "radius", "console", "sso", "saml"}
)

#: Audit signals: facts the collector writes to ``audit_signal``, and the anomalies the
#: AUD checks judge at assess time from the measure tables and the engagement's thresholds.
AuditSignalName = Literal[
    "new_source_ip",
    "volume_spike",
    "off_hours_human",
    "denied",
    "failed_logins",
    "long_ttl_token",
    "root_token_use",
    "policy_change",
    "auth_change",
    "audit_change",
    "mount_change",
    "stale_version_read",
    "used_after_revocation",
    "policy_usage",
    "kv_version_read",
    "metric:failed_auth_rate_around_rotation",
    "metric:secret_fetch_error_rate",
    "metric:revocation_to_last_use",
]
#: What each signal means (shown with every AUD finding). "Judged" ones exist only in an
#: assessment: a threshold change followed by ``posture assess`` re-judges the same snapshot.
AUDIT_SIGNALS: dict[str, str] = {
    "new_source_ip": (
        "Judged from access_event: a principal used a source IP it had not used during its "
        "first new_source_learn_days of activity in the log. detail.new_cidr is true when the "
        "whole /24 (IPv4) or /64 (IPv6) is new for it too (seed 001: 'secret accessed from new "
        "IP/CIDR range')."
    ),
    "volume_spike": (
        "Judged from access_event: a path's requests on one day exceeded volume_spike_factor x "
        "its baseline (mean of the previous volume_spike_window_days days, at least "
        "volume_spike_min_history_days of history, baseline floored at 1) and numbered at least "
        "volume_spike_min_count (seed 001: '>3x baseline')."
    ),
    "off_hours_human": (
        "Judged from access_hour: requests by a human auth method (userpass, oidc, ldap, okta, "
        "github, radius; AWS console/SSO/SAML) outside business_hours in business_timezone, or "
        "on a weekend (off_hours_weekends); one row per principal and local day."
    ),
    "denied": (
        "Requests refused with 'permission denied' (Vault) or AccessDenied-like codes "
        "(CloudTrail): access attempted outside the policy scope; one row per principal x path."
    ),
    "failed_logins": (
        "Judged from login_hour: at least failed_login_burst failed logins from one source "
        "address within one UTC clock hour (any user); detail.succeeded_same_hour counts "
        "successes in that hour."
    ),
    "long_ttl_token": (
        "Judged from token_issue: tokens created with a TTL above long_ttl_token_hours, "
        "non-expiring root tokens, or IAM access keys (non-expiring credentials); one row per "
        "token_issue row (creator x source x path x TTL x day; count is how many tokens)."
    ),
    "root_token_use": (
        "A request made with a token carrying the 'root' policy (Vault) or by the AWS account "
        "root user; one row per principal x source x day."
    ),
    "policy_change": "A policy was written or deleted in the period (drift): Vault sys/policy*, IAM/KMS/resource policies.",
    "auth_change": "An auth method, role or user was enabled, changed or removed; IAM users, keys, roles, MFA, IdPs.",
    "audit_change": "An audit device or trail was changed, stopped or removed.",
    "mount_change": "A secrets engine was mounted, tuned or unmounted.",
    "stale_version_read": (
        "A consumer read an older KV v2 version (or AWSPREVIOUS / a pinned versionId) after a "
        "newer version existed: it has not picked up a rotation."
    ),
    "used_after_revocation": "A revoked credential was used successfully after its revocation.",
    "kv_version_read": (
        "Rotation evidence: per principal and KV v2 path, the versions read in the period "
        "(detail.versions). AUD010 compares them with the secret's current version from the KV "
        "metadata (`secret.current_version`)."
    ),
    "policy_usage": (
        "Least-privilege evidence: for a Vault policy (granting_policies of successful "
        "requests) or an AWS principal, the paths/resources and capabilities/actions actually "
        "used in the period. Compare with policy_rule via `least_privilege`."
    ),
    "metric:failed_auth_rate_around_rotation": (
        "Stage-5 metric: failed-login rate within +/- one hour (detail.window_hours) of secret "
        "rotations vs the rate outside those windows."
    ),
    "metric:secret_fetch_error_rate": "Stage-5 metric: share of secret reads that failed (and were denied).",
    "metric:revocation_to_last_use": (
        "Stage-5 metric, one row per revocation seen: seconds from the revocation to the last "
        "presentation of the revoked credential (negative = last use was before it)."
    ),
}
assert set(AUDIT_SIGNALS) == set(get_args(AuditSignalName))

#: Tables whose rows are identities, not secrets: never "critical items".
IDENTITY_TABLES: tuple[str, ...] = ("auth_role", "principal", "token")


def critical_mask(environment: pd.Series, data_class: pd.Series, table: pd.Series,
                  critical_environments: list[str], critical_classes: list[str]) -> pd.Series:
    """The one "critical item" rule: a secret (not an identity) of a critical
    environment whose data class is critical. Leak cards, the pager check and
    stage 1's exit question all use this."""
    return (environment.isin(critical_environments) & data_class.isin(critical_classes)
            & ~table.isin(IDENTITY_TABLES))
