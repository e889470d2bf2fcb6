"""Default thresholds, taken from the seed documents; the engagement may override any.

Seed 001 "Rotation Strategy by Secret Type" gives the rotation ages, its
"Secret Engines" table the engine TTLs, its anti-pattern table the 30-day
bound on static tokens and its architecture table the audit-device count.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DAY = 86_400
HOUR = 3_600


class Thresholds(BaseModel):
    """Numbers the checks compare against. Unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    rotation_days: dict[str, int] = Field(
        default_factory=lambda: {
            "db-password": 30,
            "api-key": 90,
            "ssh": 90,
            "encryption-key": 90,
            "signing-key": 90,
            "token": 1,
            "oauth-client-secret": 90,
            "webhook-secret": 90,
            "generic": 90,
            "cloud-access-key": 90,
        },
        description="Maximum age in days since last rotation, per secret type (seed 001).",
    )
    tls_renew_before_days: int = Field(
        60, description="A TLS certificate must be renewed this many days before expiry."
    )
    static_token_max_days: int = Field(
        30, description="Long-lived static tokens beyond this are an anti-pattern (seed 001)."
    )
    service_token_ttl_hours: int = Field(24, description="Service tokens: 24 h (seed 001).")
    human_token_ttl_hours: int = Field(8, description="Human (OIDC) sessions: 8 h (seed 001).")
    approle_token_ttl_hours: int = Field(1, description="AppRole token_ttl 1 h (seed 001).")
    approle_token_max_ttl_hours: int = Field(4, description="AppRole token_max_ttl 4 h.")
    approle_secret_id_ttl_minutes: int = Field(10, description="AppRole secret_id_ttl 10 min.")
    database_default_ttl_hours: int = Field(1, description="Database engine: 1 h default.")
    database_max_ttl_hours: int = Field(24, description="Database engine: 24 h max.")
    pki_leaf_max_days: int = Field(90, description="PKI leaf certificates: 90 d.")
    transit_rotation_days: int = Field(90, description="Transit key rotation every 90 d.")
    kms_rotation_days: int = Field(365, description="AWS KMS automatic rotation period ceiling.")
    access_key_max_days: int = Field(90, description="IAM access key age (CIS 1.14).")
    unused_credential_days: int = Field(45, description="Unused IAM credentials (CIS 1.12).")
    orphaned_secret_days: int = Field(90, description="No access in this many days (seed 001).")
    min_audit_devices: int = Field(2, description="Dual audit devices (seed 001).")
    min_shamir_threshold: int = Field(3, description="Shamir 3-of-5 (seed 001).")
    min_shamir_shares: int = Field(5)
    volume_spike_factor: float = Field(3.0, description="Access volume over N x baseline.")
    long_ttl_token_hours: int = Field(
        720,
        description="Tokens created with a TTL above this are 'unusually long' "
        "(30 days: seed 001's long-lived static token bound).",
    )
    business_hours: tuple[int, int] = Field((7, 20), description="Local business hours [start, end).")
    failed_login_burst: int = Field(5, description="Failed logins from one source in an hour.")
    # --- added with the check catalog (issue 5) ---
    ssh_max_ttl_hours: int = Field(8, description="SSH engine: 30 min interactive, 8 h automation.")
    kubernetes_token_ttl_hours: int = Field(1, description="Kubernetes auth role ttl 1 h (seed 001).")
    shared_secret_max_consumers: int = Field(
        1, description="Distinct service principals that may read one secret (seed 003)."
    )
    shared_login_max_sources: int = Field(
        3, description="Distinct source IPs per day for one human login before it looks shared."
    )
    min_raft_peers: int = Field(3, description="HA raft needs a quorum of at least 3 voters.")
    attestation_max_age_days: int = Field(
        365, description="Manual evidence older than this is stale and fails."
    )
    time_to_revoke_minutes: float = Field(
        15, description="Leak containment target: 15 minutes (seed 001 emergency procedures)."
    )
    due_soon_days: int = Field(30, description="Rotation plan: items due within this are 'due soon'.")
    critical_environments: list[str] = Field(
        default_factory=lambda: ["prod"], description="Environments whose secrets are critical."
    )
    critical_classes: list[str] = Field(
        default_factory=lambda: ["confidential", "regulated"],
        description="Data classes whose secrets are critical (leak cards, pager check).",
    )
    min_coverage_for_grade: dict[str, float] = Field(
        default_factory=lambda: {"A": 0.9, "B": 0.75, "C": 0.5},
        description="Assessed share of results needed to reach a grade (scoring cap).",
    )
