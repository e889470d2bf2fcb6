"""Default thresholds, taken from the seed documents; the engagement may override any.

Seed 001 "Rotation Strategy by Secret Type" gives the rotation ages, its
"Secret Engines" table the engine TTLs, its anti-pattern table the 30-day
bound on static tokens and its architecture table the audit-device count.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    ca_renew_before_days: int = Field(
        365, description="A CA certificate is replaced this many days before expiry: everything it "
                         "signed must be reissued under its successor first.")
    ca_min_rsa_bits: int = Field(2048, description="Smallest RSA key a CA certificate may have (NIST SP 800-57).")
    transit_rotation_days: int = Field(90, description="Transit key rotation every 90 d.")
    kms_rotation_days: int = Field(365, description="AWS KMS automatic rotation period ceiling.")
    access_key_max_days: int = Field(90, description="IAM access key age (CIS 1.14).")
    password_min_length: int = Field(14, description="IAM password policy minimum length (CIS 1.8).")
    password_reuse_prevention: int = Field(24, description="IAM password policy: passwords remembered (CIS 1.9).")
    password_max_age_days: int = Field(
        90, description="IAM password policy: longest password life (PCI DSS 8.3.9 for password-only logins).")
    root_use_days: int = Field(90, description="The root user is not used for this many days (CIS 1.7).")
    unused_credential_days: int = Field(45, description="Unused IAM credentials (CIS 1.12).")
    orphaned_secret_days: int = Field(90, description="No access in this many days (seed 001).")
    azure_max_secret_readers: int = Field(
        5, description="Azure Key Vault (#16): most principals that may read a vault's secret values.")
    min_audit_devices: int = Field(2, description="Dual audit devices (seed 001).")
    min_shamir_threshold: int = Field(3, description="Shamir 3-of-5 (seed 001).")
    min_shamir_shares: int = Field(5)
    # --- audit-log judgements (applied by the AUD checks to the collector's measures) ---
    new_source_learn_days: int = Field(
        7, description="A principal's first N days in the log teach its usual sources; later new ones are signals."
    )
    volume_spike_factor: float = Field(3.0, description="Access volume over N x baseline.")
    volume_spike_window_days: int = Field(14, description="Baseline: mean daily requests of the previous N days.")
    volume_spike_min_history_days: int = Field(3, description="No baseline before a path has N days of history.")
    volume_spike_min_count: int = Field(10, description="A spike day has at least N requests.")
    long_ttl_token_hours: int = Field(
        720,
        description="Tokens created with a TTL above this are 'unusually long' "
        "(30 days: seed 001's long-lived static token bound).",
    )
    business_hours: tuple[int, int] = Field(
        (7, 20), description="Local business hours [start, end), in the engagement's business_timezone."
    )
    off_hours_weekends: bool = Field(True, description="Human requests on a Saturday or Sunday are off-hours.")
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
    gcp_max_enabled_versions: int = Field(
        2, description="GCP (#16): ENABLED versions a Secret Manager secret may keep (current + one in rollover).")
    gcp_broad_group_words: list[str] = Field(
        default_factory=lambda: ["all", "everyone", "everybody", "staff", "employees", "company", "allusers"],
        description="GCP (#16): a group: member whose local part has one of these words is broad (the whole org).")
    rotation_overlap_days: dict[str, float] = Field(
        default_factory=lambda: {"db-password": 1, "api-key": 7, "encryption-key": 30, "signing-key": 7,
                                 "generic": 7},
        description="Rotation plan: days old and new stay valid together, per secret type (kit defaults: "
                    "the seeds name the window, not its length; TLS uses tls_renew_before_days, SSH "
                    "ssh_max_ttl_hours, dynamic credentials none).",
    )
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

    @field_validator("business_hours")
    @classmethod
    def _hours_of_a_day(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= v[0] < v[1] <= 24:
            raise ValueError("business_hours must be [start, end) with 0 <= start < end <= 24")
        return v
