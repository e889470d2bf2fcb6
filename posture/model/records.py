"""The snapshot's typed records: one pydantic model per table.

Every collector emits these and every check reads them (as DataFrames), so this
module is the contract between collection and evaluation. Records hold
metadata only: there is deliberately no field that could carry a secret value.
A source-code or configuration finding keeps a location and a keyed
fingerprint (HMAC), never the matched text.

Conventions:
- ``store`` is the engagement's name for the store (``core``, ``main``, ...),
  ``source`` the kind of store (``vault``, ``aws``, ``git``, ``audit``).
- ``id`` is unique within its table across the whole snapshot.
- Times are timezone-aware UTC datetimes; durations are whole seconds.
  ``None`` always means "not known", never zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from posture.model.vocabulary import AuditSignalName, GapReason

Source = Literal["vault", "aws", "git", "audit", "azure", "gcp", "kubernetes", "inventory"]


class Record(BaseModel):
    """Base of every snapshot row."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    table: ClassVar[str] = ""
    id: str = Field(description="Unique id of the resource within its table.")
    store: str = Field(description="Engagement name of the store it came from.")
    source: Source


# --- Server and configuration -------------------------------------------------


class Server(Record):
    """One secret-store server or account: seal, HA and storage posture."""

    table: ClassVar[str] = "server"
    address: str | None = None
    product: str | None = Field(None, description="openbao, vault, aws-account, ...")
    version: str | None = None
    initialized: bool | None = None
    sealed: bool | None = None
    seal_type: str | None = Field(None, description="shamir, awskms, transit, pkcs11, ...")
    seal_threshold: int | None = None
    seal_shares: int | None = None
    ha_enabled: bool | None = None
    storage_type: str | None = None
    raft_peers: int | None = None
    namespace: str | None = None
    not_applicable: list[str] = Field(
        default_factory=list,
        description="Endpoints this product does not have (recorded, not failures).",
    )
    # GCP (#16)
    parents: list[str] | None = Field(
        None, description="GCP project: the folders and organization above it, nearest first (None: not read).")


class Mount(Record):
    """A secrets engine mount (Vault) or an engine-like service (AWS)."""

    table: ClassVar[str] = "mount"
    path: str
    type: str
    kv_version: int | None = None
    default_lease_ttl: int | None = None
    max_lease_ttl: int | None = None
    seal_wrap: bool | None = None
    local: bool | None = None
    description: str | None = None


class AuthMethod(Record):
    table: ClassVar[str] = "auth_method"
    path: str
    type: str
    default_lease_ttl: int | None = None
    max_lease_ttl: int | None = None
    description: str | None = None


class AuthRole(Record):
    """A role/user of an auth method: AppRole, userpass, JWT/OIDC, Kubernetes, token."""

    table: ClassVar[str] = "auth_role"
    mount: str
    method: str = Field(description="approle, userpass, jwt, oidc, kubernetes, token, ...")
    name: str
    policies: list[str] = Field(default_factory=list)
    token_ttl: int | None = None
    token_max_ttl: int | None = None
    token_type: str | None = None
    token_bound_cidrs: list[str] = Field(default_factory=list)
    secret_id_ttl: int | None = None
    secret_id_num_uses: int | None = None
    secret_id_bound_cidrs: list[str] = Field(default_factory=list)
    bind_secret_id: bool | None = None
    bound_claims: dict[str, Any] = Field(default_factory=dict)
    bound_audiences: list[str] = Field(default_factory=list)
    bound_subject: str | None = None
    bound_service_account_names: list[str] = Field(default_factory=list)
    bound_service_account_namespaces: list[str] = Field(default_factory=list)
    orphan: bool | None = None
    renewable: bool | None = None
    period: int | None = Field(
        None, description="token_period: the tokens it issues are periodic (renew forever) when > 0.")
    token_explicit_max_ttl: int | None = Field(
        None, description="Hard cap on the life of the tokens it issues, periodic ones included; 0 = none.")


class AuditDevice(Record):
    table: ClassVar[str] = "audit_device"
    path: str
    type: str
    enabled: bool = True
    options: dict[str, str] = Field(default_factory=dict)


class Trail(Record):
    """A CloudTrail trail."""

    table: ClassVar[str] = "trail"
    name: str
    region: str
    account: str | None = None
    is_multi_region: bool | None = None
    is_logging: bool | None = None
    log_file_validation: bool | None = None
    kms_key_id: str | None = None
    logs_management_events: bool | None = None
    logs_secrets_events: bool | None = Field(
        None, description="Management events of Secrets Manager and KMS are recorded."
    )
    s3_bucket: str | None = None
    # AWS collector (#3)
    is_organization_trail: bool | None = None
    management_read_write: str | None = Field(None, description="All, ReadOnly or WriteOnly.")
    excluded_event_sources: list[str] = Field(default_factory=list)


# --- Policies and principals ---------------------------------------------------


class Policy(Record):
    """A policy document: Vault ACL, IAM inline/managed, key or resource policy."""

    table: ClassVar[str] = "policy"
    name: str
    kind: str = Field(description="vault_acl, iam_managed, iam_inline, kms_key, secret_resource, trust")
    attached_to: str | None = None
    document: str | None = Field(None, description="The policy text (HCL or JSON). No values.")


class PolicyRule(Record):
    """One path rule (Vault) or one statement x action x resource (IAM), parsed."""

    table: ClassVar[str] = "policy_rule"
    policy_id: str
    policy: str
    path: str = Field(description="Vault path pattern or IAM resource ARN pattern.")
    capabilities: list[str] = Field(
        default_factory=list, description="Vault capabilities or IAM actions."
    )
    effect: Literal["allow", "deny"] = "allow"
    wildcard: bool = Field(False, description="Path has a * or + segment, or is a bare *.")
    wildcard_all: bool = Field(False, description='Path is "*" (everything).')
    sudo: bool = False
    sys_access: bool = False
    principals: list[str] = Field(default_factory=list)
    conditions: dict[str, Any] = Field(default_factory=dict)
    # AWS collector (#3): IAM statement shape
    not_action: bool = Field(False, description="capabilities are a NotAction list.")
    not_resource: bool = Field(False, description="path is a NotResource entry.")
    sid: str | None = None
    # Kubernetes (#16): an RBAC rule's shape and, for a bound rule, where it applies
    api_groups: list[str] = Field(default_factory=list, description="RBAC apiGroups ('' = core).")
    resources: list[str] = Field(default_factory=list, description="RBAC resources (secrets, *, ...).")
    resource_names: list[str] = Field(default_factory=list, description="RBAC resourceNames (empty = any).")
    namespace: str | None = Field(None, description="Kubernetes: namespace the rule applies in; None = cluster-wide.")
    binding: str | None = Field(None, description="Kubernetes: the (Cluster)RoleBinding granting it to principals.")
    role_ref: str | None = Field(None, description="Kubernetes: policy id of the (Cluster)Role the rule comes from.")
    # Azure (#16)
    not_capabilities: list[str] = Field(
        default_factory=list, description="Azure role notDataActions: data actions the rule's wildcards exclude.")


class Principal(Record):
    """An identity: Vault entity/group, IAM user/role/group, OIDC provider."""

    table: ClassVar[str] = "principal"
    name: str
    kind: str = Field(description="vault_entity, vault_group, iam_user, iam_role, iam_group, oidc_provider, root")
    arn: str | None = None
    account: str | None = None
    created_at: datetime | None = None
    policies: list[str] = Field(default_factory=list, description="Policy ids bound to it.")
    groups: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    password_enabled: bool | None = None
    password_last_used: datetime | None = None
    mfa_active: bool | None = None
    trust_principals: list[str] = Field(default_factory=list)
    trust_conditions: dict[str, Any] = Field(default_factory=dict)
    last_used_at: datetime | None = None
    disabled: bool | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # AWS collector (#3)
    password_last_changed: datetime | None = None
    max_session_seconds: int | None = None
    # AWS account and root (#14)
    mfa_virtual: bool | None = Field(None, description="Its MFA device is virtual (root: not a hardware key).")
    read_from: str | None = Field(
        None, description="root: credential_report, or account_summary when the report has no root row "
                          "(keys and MFA known, use unknown).")
    # Kubernetes (#16): service accounts and their legacy token Secrets
    namespace: str | None = None
    secret_refs: list[str] = Field(default_factory=list, description="ServiceAccount.secrets: Secret names it lists.")
    token_secrets: list[str] | None = Field(
        None, description="Secrets annotated kubernetes.io/service-account.name for it (legacy long-lived tokens); "
                          "None: Secret metadata was not read.")


class AccessKey(Record):
    """A long-lived cloud access key (IAM user key, root key)."""

    table: ClassVar[str] = "access_key"
    principal: str
    key_id: str = Field(description="Public key id (AKIA...), not a secret.")
    active: bool = True
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    is_root: bool = False
    # AWS collector (#3)
    last_used_region: str | None = None
    account: str | None = None


class Token(Record):
    """A Vault token, seen through its accessor's lookup."""

    table: ClassVar[str] = "token"
    accessor_hash: str = Field(description="Keyed fingerprint of the accessor.")
    display_name: str | None = None
    policies: list[str] = Field(default_factory=list)
    ttl: int | None = None
    explicit_max_ttl: int | None = None
    period: int | None = Field(
        None, description="Renewal period of a periodic token; 0 = not periodic. A token created from a "
        "token role shows neither the role's period nor its explicit max TTL: see role.")
    role: str | None = Field(None, description="Token role it was created from (auth/token/create/<role>).")
    creation_time: datetime | None = None
    creation_ttl: int | None = None
    expire_time: datetime | None = None
    orphan: bool | None = None
    root: bool = False
    renewable: bool | None = None
    type: str | None = None
    path: str | None = None
    entity_id: str | None = None


# --- Secrets, keys, certificates ----------------------------------------------


class Secret(Record):
    """A stored secret's metadata: Vault KV, AWS Secrets Manager, SSM parameter."""

    table: ClassVar[str] = "secret"
    kind: str = Field(description="kv1, kv2, secretsmanager, ssm_parameter, database_role")
    path: str = Field(description="Full path or name, as the store shows it.")
    mount: str | None = None
    name: str
    region: str | None = None
    account: str | None = None
    arn: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_rotated_at: datetime | None = None
    last_accessed_at: datetime | None = None
    deleted_at: datetime | None = None
    current_version: int | None = None
    oldest_version: int | None = None
    version_count: int | None = None
    max_versions: int | None = None
    delete_version_after: int | None = None
    rotation_enabled: bool | None = None
    rotation_interval_days: int | None = None
    rotation_schedule: str | None = None
    next_rotation_at: datetime | None = None
    kms_key_id: str | None = None
    encrypted: bool | None = Field(None, description="SecureString / KMS-encrypted.")
    parameter_type: str | None = None
    tier: str | None = None
    owning_service: str | None = None
    replica_regions: list[str] = Field(default_factory=list)
    has_resource_policy: bool | None = None
    default_ttl: int | None = None
    max_ttl: int | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    custom_metadata: dict[str, str] = Field(default_factory=dict)
    # AWS collector (#3)
    description: str | None = None
    rotation_function: str | None = Field(None, description="Rotation Lambda ARN (Secrets Manager).")
    customer_managed_key: bool | None = Field(None, description="Encrypted under a customer KMS key, not aws/*.")
    primary_region: str | None = None
    # Azure (#16)
    expires_at: datetime | None = Field(None, description="Key Vault: the secret's expiry attribute (None: none set).")
    not_before: datetime | None = None
    enabled: bool | None = None
    content_type: str | None = None
    # GCP (#16): Secret Manager (expires_at also holds a GCP secret's expireTime)
    enabled_versions: int | None = Field(None, description="Versions in state ENABLED (None: versions not listed).")
    versions_by_state: dict[str, int] = Field(default_factory=dict, description="ENABLED/DISABLED/DESTROYED: count.")
    rotation_topics: list[str] = Field(default_factory=list, description="Pub/Sub topics rotation notices go to.")
    replication: str | None = Field(None, description="automatic or user_managed.")
    kms_key_ids: list[str] = Field(default_factory=list, description="Every CMEK key of the secret's replicas.")
    # Declared inventory (#17)
    declared: bool = Field(False, description="Declared in an inventory file, not observed in a store.")
    consumers: list[str] = Field(default_factory=list, description="Declared: who uses it (services, teams).")
    storage: str | None = Field(None, description="Declared: where it is kept today (wiki, HSM, 1Password, ...).")
    pager: str | None = Field(None, description="Declared: who is paged when it leaks.")
    declared_ref: str | None = Field(
        None, description="Declared: id of the observed item this row adds owner, pager, consumers to.")


class Key(Record):
    """An encryption or signing key: Vault transit, AWS KMS."""

    table: ClassVar[str] = "key"
    name: str
    kind: str = Field(description="transit, kms")
    region: str | None = None
    account: str | None = None
    arn: str | None = None
    manager: str | None = Field(None, description="CUSTOMER or AWS")
    state: str | None = None
    spec: str | None = None
    usage: str | None = None
    created_at: datetime | None = None
    last_rotated_at: datetime | None = None
    latest_version: int | None = None
    min_decryption_version: int | None = None
    rotation_enabled: bool | None = None
    rotation_period_days: int | None = None
    exportable: bool | None = None
    deletion_allowed: bool | None = None
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    # AWS collector (#3)
    rotation_supported: bool | None = Field(None, description="Automatic rotation is possible for this key.")
    next_rotation_at: datetime | None = None
    origin: str | None = None
    multi_region: bool | None = None
    deletion_at: datetime | None = None
    description: str | None = None
    # Vault collector (#2)
    version_created_at: list[datetime] = Field(
        default_factory=list, description="Creation time of each key version, oldest first (transit)."
    )
    # Azure (#16)
    expires_at: datetime | None = None
    not_before: datetime | None = None
    enabled: bool | None = None
    version_count: int | None = None
    rotation_actions: list[str] = Field(
        default_factory=list, description="Key Vault rotation policy lifetime actions, e.g. 'rotate after P90D'.")
    # GCP (#16)
    protection_level: str | None = Field(None, description="Cloud KMS: SOFTWARE, HSM, EXTERNAL, EXTERNAL_VPC.")
    # Declared inventory (#17)
    declared: bool = Field(False, description="Declared in an inventory file, not observed in a store.")
    consumers: list[str] = Field(default_factory=list, description="Declared: who uses it (services, teams).")
    storage: str | None = Field(None, description="Declared: where it is kept today (wiki, HSM, 1Password, ...).")
    pager: str | None = Field(None, description="Declared: who is paged when it leaks.")


class Certificate(Record):
    """A TLS certificate: Vault PKI, AWS ACM."""

    table: ClassVar[str] = "certificate"
    serial: str | None = None
    subject: str | None = None
    domains: list[str] = Field(default_factory=list)
    issuer: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    region: str | None = None
    arn: str | None = None
    in_use: bool | None = None
    renewal_eligible: bool | None = None
    managed_renewal: bool | None = None
    revoked: bool | None = None
    key_algorithm: str | None = None
    is_ca: bool | None = Field(
        None, description="A CA certificate (BasicConstraints CA / key usage certificate signing); None: not known.")
    # AWS collector (#3)
    status: str | None = None
    type: str | None = Field(None, description="ACM: AMAZON_ISSUED, IMPORTED, PRIVATE.")
    account: str | None = None
    # Azure (#16)
    enabled: bool | None = None
    name: str | None = Field(None, description="Key Vault: the certificate's name in its vault.")
    # Declared inventory (#17)
    declared: bool = Field(False, description="Declared in an inventory file, not observed in a store.")
    consumers: list[str] = Field(default_factory=list, description="Declared: who uses it (services, teams).")
    storage: str | None = Field(None, description="Declared: where it is kept today (wiki, HSM, 1Password, ...).")
    pager: str | None = Field(None, description="Declared: who is paged when it leaks.")
    tags: dict[str, str] = Field(default_factory=dict, description="Declared: owner, environment.")
    rotation_interval_days: int | None = Field(None, description="Declared: days between renewals.")


# --- Source control, CI, configuration ------------------------------------------


class SourceFinding(Record):
    """A secret or risky file found in source, CI or cloud configuration.

    Keeps the location, the detector and a keyed fingerprint; never the value.
    One row per (value, location): the same value in two files or on two lines
    is two rows with one fingerprint, so per-value views group by fingerprint.
    A value still in HEAD's tree has HEAD's line; a value only in history has
    the line and commit where it was first added.
    """

    table: ClassVar[str] = "source_finding"
    repo: str
    category: str = Field(description="secret, hash, file, dockerfile, compose, k8s, helm, ci, config_env, "
                                      "config_definition, published_output")
    detector: str = Field(description="detect-secrets plugin or the rule that fired")
    path: str
    line: int | None = None
    commit: str | None = None
    author_date: datetime | None = None
    first_seen_commit: str | None = None
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    commits: int | None = None
    in_tree: bool | None = Field(None, description="Still present in HEAD's tree.")
    in_history_only: bool | None = None
    fingerprint: str | None = Field(None, description="HMAC-SHA256 under the engagement key.")
    variable: str | None = Field(None, description="Variable or key name, never its value.")
    public_prefix: str | None = Field(None, description="A public prefix such as AKIA, if any.")
    refs: list[str] = Field(default_factory=list)
    message: str | None = None
    paths: list[str] = Field(default_factory=list, description="Every path this value was seen at.")
    detectors: list[str] = Field(default_factory=list, description="Every detector that fired on it here.")
    tree_path: str | None = Field(None, description="Where the value is in HEAD's tree, if still there "
                                                     "(this location, or another for a history-only row).")
    tree_line: int | None = None
    context: str = Field("production", description="production, test_fixture, documentation or vendored: "
                                                   "the part of the repository the location belongs to.")


class CloudResource(Record):
    """A cloud resource or regional control the checks judge that holds no secret itself.

    Lambda functions (what encrypts their environment), EKS clusters (are
    Kubernetes secrets envelope-encrypted with KMS), IAM Access Analyzer per
    region (is an analyzer active) and SSM documents (who they are shared with).
    """

    table: ClassVar[str] = "cloud_resource"
    kind: str = Field(description="lambda_function, eks_cluster, access_analyzer, ssm_document")
    name: str
    arn: str | None = None
    account: str | None = None
    region: str | None = None
    kms_key_id: str | None = Field(None, description="The customer KMS key protecting it; None: AWS's own key or none.")
    encrypted: bool | None = Field(None, description="EKS: Kubernetes secrets are envelope-encrypted with KMS.")
    enabled: bool | None = Field(None, description="Access Analyzer: an active analyzer covers the region.")
    shared_with: list[str] = Field(
        default_factory=list, description="SSM document: account ids it is shared with ('all': public).")
    has_environment: bool | None = Field(None, description="Lambda: the function has environment variables.")
    # Kubernetes (#16): workloads (pods, pod templates) and secret-manager integrations
    namespace: str | None = None
    service_account: str | None = None
    secret_env: list[str] = Field(
        default_factory=list, description="Workload: Secrets consumed as environment variables (secret or secret/key).")
    secret_files: list[str] = Field(default_factory=list, description="Workload: Secrets mounted as files.")
    secret_integrations: list[str] = Field(
        default_factory=list, description="Workload: vault-agent (injector annotation), secrets-store-csi (CSI volume).")
    objects: int | None = Field(
        None, description="Integration: objects of the custom resource listed; None: not installed.")
    # Azure (#16): Key Vault vault properties (kind azure_key_vault)
    soft_delete: bool | None = None
    soft_delete_retention_days: int | None = None
    purge_protection: bool | None = None
    rbac_authorization: bool | None = Field(None, description="Azure RBAC decides data access (else access policies).")
    public_network_access: str | None = Field(None, description="Enabled or Disabled.")
    network_default_action: str | None = Field(None, description="Firewall default action: Allow or Deny.")
    network_bypass: str | None = None
    ip_rules: list[str] = Field(default_factory=list)
    virtual_network_rules: list[str] = Field(default_factory=list)
    private_endpoints: list[str] = Field(default_factory=list, description="Approved private endpoint connections.")


class CiConfig(Record):
    """One CI workflow or pipeline file and what it does with credentials."""

    table: ClassVar[str] = "ci_config"
    repo: str
    path: str
    provider: str = Field(description="github_actions, gitlab_ci")
    uses_oidc: bool = False
    static_cloud_credentials: list[str] = Field(
        default_factory=list, description="e.g. aws-access-key-id, credentials_json, creds"
    )
    secrets_inherit: bool = False
    to_json_secrets: bool = False
    secrets_echoed: bool = False
    secret_scanner: bool = False
    secret_refs: list[str] = Field(default_factory=list, description="Names of secrets referenced.")
    oidc_providers: list[str] = Field(default_factory=list, description="aws, gcp, azure, vault, gitlab")
    id_token_write: bool | None = Field(None, description="Grants permissions id-token: write (GitHub) or id_tokens (GitLab).")
    secret_scanners: list[str] = Field(default_factory=list, description="gitleaks, trufflehog, ...")


class Repository(Record):
    """A scanned repository and its hygiene facts."""

    table: ClassVar[str] = "repository"
    url: str
    head: str | None = None
    refs: int | None = None
    commits_scanned: int | None = None
    lines_scanned: int | None = None
    env_ignored: bool | None = Field(None, description=".env is covered by .gitignore")
    precommit_scanner: bool | None = None
    ci_scanner: bool | None = None
    history_scanned: bool | None = None
    commits_total: int | None = Field(None, description="Non-merge commits on the scanned refs.")
    secrets_found: int | None = Field(None, description="Distinct secrets (by fingerprint), tree and history.")
    secrets_in_tree: int | None = None
    secret_scanners: list[str] = Field(default_factory=list, description="Scanners in pre-commit or CI.")


# --- Audit ----------------------------------------------------------------------


class AccessEvent(Record):
    """Aggregated access: one identity x path x operation x source IP x day."""

    table: ClassVar[str] = "access_event"
    principal: str
    auth_method: str | None = None
    path: str
    operation: str
    remote_addr: str | None = None
    day: datetime
    count: int
    errors: int = 0
    denied: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    resource: str | None = Field(
        None,
        description="Join key with the secret table: its id (vault:<store>:<mount>/<path>, "
        "KV v2 data/ removed) or, for AWS, the ARN or name. None for sys/ and auth/ paths.",
    )


class AccessHour(Record):
    """Requests by a human auth method per UTC clock hour: identity x path x operation x source x hour.

    Only human methods (`vocabulary.HUMAN_AUTH_METHODS`) are measured by the hour,
    and in UTC: the off-hours check converts ``hour`` to the business timezone at
    assess time, so a changed timezone or ``business_hours`` re-judges the same snapshot.
    """

    table: ClassVar[str] = "access_hour"
    principal: str
    auth_method: str
    path: str
    operation: str
    remote_addr: str | None = None
    hour: datetime = Field(description="Start of the UTC clock hour.")
    count: int


class LoginHour(Record):
    """Login attempts per source address x auth mount x user x UTC clock hour."""

    table: ClassVar[str] = "login_hour"
    remote_addr: str | None = None
    mount: str = Field(description="Vault auth mount; AWS: 'console' or the service refusing the credential.")
    user: str = Field(description="User named by the login ('' when the login names none).")
    hour: datetime = Field(description="Start of the UTC clock hour.")
    succeeded: int = 0
    failed: int = 0


class TokenIssue(Record):
    """Credentials issued, per creator x source x issuing path x display name x TTL x policies x UTC day.

    Vault tokens (logins, ``auth/token/create``), AWS STS sessions and IAM access
    keys. The TTL is measured, not judged: the long-TTL check compares it with
    ``long_ttl_token_hours`` at assess time.
    """

    table: ClassVar[str] = "token_issue"
    principal: str = Field(description="Who logged in or created the token.")
    remote_addr: str | None = None
    path: str = Field(description="Issuing request: auth/<mount>/login, auth/token/create, sts:AssumeRole:<role>, ...")
    display_name: str | None = None
    ttl_seconds: int | None = Field(None, description="TTL granted; None when the log does not say.")
    non_expiring: bool = Field(False, description="A root token without TTL, or an IAM access key.")
    policies: list[str] = Field(default_factory=list)
    day: datetime
    count: int
    first_at: datetime | None = None
    last_at: datetime | None = None
    accessor_hmacs: list[str] = Field(
        default_factory=list,
        description="The first accessors issued, keyed: Vault's own HMAC, or the engagement's fingerprint "
        "when the log is raw (log_raw); AWS access key ids (identifiers, not secrets).",
    )


class AuditSignal(Record):
    """A signal from audit logs, with its evidence in ``detail``.

    The collector writes the facts the log shows (denials, root use, drift, stale
    version reads, revocations, policy usage, stage-5 metrics). The judged
    anomalies (new source, volume spike, off-hours, failed-login burst, long-TTL
    token) are computed by the AUD checks at assess time from the measure tables
    (``access_event``, ``access_hour``, ``login_hour``, ``token_issue``) and the
    engagement's thresholds, in this same shape.
    """

    table: ClassVar[str] = "audit_signal"
    signal: AuditSignalName = Field(description="One of vocabulary.AUDIT_SIGNALS.")
    principal: str | None = None
    path: str | None = None
    remote_addr: str | None = None
    at: datetime | None = None
    count: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @staticmethod
    def unique_ids(
        store: str, rows: Iterable[tuple[str, str | None, str | None, str | None, datetime | None]]
    ) -> list[str]:
        """Row ids from (signal, principal, path, remote_addr, at): what the row is about;
        a repeat of the same key is numbered (``#1``, ``#2``...) in order."""
        used: dict[str, int] = {}
        out = []
        for signal, principal, path, remote, at in rows:
            key = (f"{store}:{signal}:{principal or '-'}:{path or '-'}:{remote or '-'}:"
                   f"{at.isoformat() if at else '-'}")
            n = used.get(key, 0)
            used[key] = n + 1
            out.append(key if n == 0 else f"{key}#{n}")
        return out


#: What a signal row says, beyond the record's id/store/source (frames of signals use these columns).
SIGNAL_COLUMNS: tuple[str, ...] = tuple(f for f in AuditSignal.model_fields if f not in Record.model_fields)


class AuditLog(Record):
    """One audit log input that was parsed, with its counts."""

    table: ClassVar[str] = "audit_log"
    path: str
    format: str = Field(description="vault_file, cloudtrail")
    lines: int = 0
    malformed: int = 0
    bytes: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    events: int | None = Field(None, description="Events analysed (Vault: response entries).")
    skipped: int | None = Field(
        None, description="Entries not analysed: Vault request entries, CloudTrail events of other services."
    )
    malformed_lines: list[int] = Field(
        default_factory=list, description="Line numbers of the first malformed lines (never their text)."
    )
    duplicate_of: str | None = Field(
        None, description="Another input carrying the same events (a mirror audit device); not re-counted."
    )
    unhashed_credentials: int | None = Field(
        None, description="Credentials the log held in clear (a log_raw device, or a crafted log): each was "
        "keyed with the engagement's fingerprint on read and never stored.",
    )


# --- Coverage -------------------------------------------------------------------


class CoverageGap(Record):
    """Something that could not be read. Checks over ``tables`` become not_assessed.

    ``scope`` narrows the gap: a mount path, ``account/region``, a repository.
    An empty scope means the whole store.
    """

    table: ClassVar[str] = "coverage_gap"
    tables: list[str] = Field(description="Snapshot tables made incomplete by this gap.")
    scope: str = ""
    service: str | None = None
    operation: str = Field(description="The request, e.g. 'LIST secret/metadata/' or 'kms:ListKeys'.")
    reason: GapReason = Field(description="Why: one of vocabulary.GAP_REASONS.")
    detail: str | None = None


ALL_RECORDS: tuple[type[Record], ...] = (
    Server,
    Mount,
    AuthMethod,
    AuthRole,
    AuditDevice,
    Trail,
    Policy,
    PolicyRule,
    Principal,
    AccessKey,
    Token,
    Secret,
    Key,
    Certificate,
    SourceFinding,
    CloudResource,
    CiConfig,
    Repository,
    AccessEvent,
    AccessHour,
    LoginHour,
    TokenIssue,
    AuditSignal,
    AuditLog,
    CoverageGap,
)

RECORDS_BY_TABLE: dict[str, type[Record]] = {r.table: r for r in ALL_RECORDS}
