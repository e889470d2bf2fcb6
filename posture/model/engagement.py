"""The engagement file: what to assess, how to connect, how to classify.

Loaded from YAML and validated by pydantic. A mistake is reported as one line
``FILE:LINE: field.path: message`` (exit code 2), because a consultant fixing a
client's config wants the line, not a traceback.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from posture.model.bounded_yaml import YamlInputError, load_bounded_yaml
from posture.model.errors import ConfigError
from posture.model.fsutil import input_text, read_input_file
from posture.model.thresholds import Thresholds

CLIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
CLIENT_NAME_RULE = "1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, no '..'"
# An engagement file is hand-written and small; anything beyond these is a mistake or an attack.
MAX_ENGAGEMENT_BYTES = 1 << 20
MAX_ENGAGEMENT_DEPTH = 32
MAX_ENGAGEMENT_NODES = 200_000


def client_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a client name, or None.

    The name becomes a directory under engagements/, evidence/ and sites/ and
    part of the site's title: a path separator, ``..``, a YAML comment or a
    control character in it would write outside the workspace or change what
    the engagement file says, so only a plain lowercase name passes.
    """
    if not CLIENT_NAME.match(name) or ".." in name:
        return f"not a client name ({CLIENT_NAME_RULE})"
    return None


def check_client_name(name: str) -> str:
    """``name`` if it is a valid client name; otherwise `ConfigError` (exit 2)."""
    problem = client_name_problem(name)
    if problem:
        raise ConfigError(f"{name!r}: {problem}")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VaultAuth(_Strict):
    """How the assessor authenticates. Secrets come from the environment, never the file."""

    method: Literal["token", "approle", "jwt"] = "token"
    mount: str | None = Field(None, description="Auth mount path; defaults to the method name.")
    token_env: str = Field("VAULT_TOKEN", description="Environment variable holding the token.")
    role_id: str | None = None
    role_id_env: str = "VAULT_ROLE_ID"
    secret_id_env: str = "VAULT_SECRET_ID"
    role: str | None = Field(None, description="JWT role name.")
    jwt_env: str = "VAULT_JWT"


class VaultStore(_Strict):
    name: str
    address: str | None = Field(None, description="Defaults to $VAULT_ADDR.")
    namespace: str | None = Field(None, description="Defaults to $VAULT_NAMESPACE.")
    auth: VaultAuth = Field(default_factory=VaultAuth)
    ca_cert: str | None = Field(None, description="Defaults to $VAULT_CACERT.")
    skip_verify: bool | None = Field(None, description="Defaults to $VAULT_SKIP_VERIFY.")
    concurrency: int = Field(16, ge=1, le=256)
    timeout: float = Field(10.0, gt=0)
    retries: int = Field(4, ge=0, le=20)
    mounts: list[str] | None = Field(None, description="Only these mounts (default: all).")
    list_tokens: bool = Field(True, description="Enumerate token accessors (needs sudo).")
    audit_logs: list[str] = Field(
        default_factory=list, description="Paths or globs of file audit device logs."
    )


class AwsAccount(_Strict):
    id: str | None = None
    role_arn: str
    external_id: str | None = None
    name: str | None = None


class AwsStore(_Strict):
    name: str
    profile: str | None = None
    regions: list[str] | Literal["all"] = Field(default_factory=lambda: ["us-east-1"])
    accounts: list[AwsAccount] = Field(
        default_factory=list, description="Assume-role into these; empty means the caller's."
    )
    organization: bool = Field(
        False, description="Read every account of the AWS Organization (organizations:ListAccounts from the "
                           "management or delegated administrator account), assuming organization_role in each.")
    organization_role: str = Field(
        "PostureAssessor", description="Role name assumed in each member account: arn:aws:iam::<id>:role/<name>.")
    organization_external_id: str | None = Field(None, description="ExternalId for organization_role.")
    endpoint_url: str | None = Field(None, description="moto / LocalStack; or $AWS_ENDPOINT_URL.")
    concurrency: int = Field(8, ge=1, le=64)
    services: list[str] | None = Field(None, description="Restrict to these services.")
    cloudtrail_logs: list[str] = Field(
        default_factory=list, description="Local paths/globs or s3://bucket/prefix."
    )


class GitStore(_Strict):
    name: str
    url: str = Field(description="Local path or clone URL (read-only).")
    history: bool = True
    refs: Literal["all", "head"] = "all"
    max_commits: int | None = Field(None, ge=1)


class AzureStore(_Strict):
    """Azure Key Vault: vaults of the subscriptions named, read with ``DefaultAzureCredential``.

    Credentials follow the SDK's default chain (environment, workload identity,
    managed identity, Azure CLI); none of them belongs in this file.
    """

    name: str
    subscriptions: list[str] = Field(description="Subscription ids whose key vaults are assessed.")
    vaults: list[str] | None = Field(None, description="Only these vault names (default: every vault found).")
    tenant_id: str | None = Field(None, description="Defaults to the credential's tenant.")
    authority_host: str | None = Field(None, description="Sovereign cloud login host; default public Azure.")
    management_endpoint: str | None = Field(
        None, description="Azure Resource Manager endpoint (default https://management.azure.com).")
    concurrency: int = Field(8, ge=1, le=64)
    timeout: float = Field(30.0, gt=0)


class GcpStore(_Strict):
    """GCP Secret Manager of the projects named, read with Application Default Credentials."""

    name: str
    projects: list[str] = Field(description="Project ids whose secrets are assessed.")
    locations: list[str] = Field(
        default_factory=list, description="Regional Secret Manager locations to read besides the global one.")
    endpoint: str | None = Field(None, description="API endpoint override (private or emulated endpoint).")
    concurrency: int = Field(8, ge=1, le=64)
    timeout: float = Field(30.0, gt=0)


class KubernetesStore(_Strict):
    """A Kubernetes cluster: RBAC, service accounts, pods; Secret objects only as metadata, if asked."""

    name: str
    kubeconfig: str | None = Field(None, description="Defaults to $KUBECONFIG or ~/.kube/config; in-cluster "
                                                     "config when running in a pod.")
    context: str | None = Field(None, description="kubeconfig context (default: the current one).")
    namespaces: list[str] | None = Field(None, description="Only these namespaces (default: all).")
    secret_metadata: bool = Field(
        False, description="List Secret objects as metadata only (PartialObjectMetadataList). The assessor's "
                           "RBAC 'list' on secrets could read values; the guard never requests them.")
    timeout: float = Field(30.0, gt=0)


class InventoryStore(_Strict):
    """A declared inventory: a CSV or YAML file of secrets held outside any store the kit reads.

    Columns follow the review method's stage-1 table. Its items are declared,
    not observed, and are marked so wherever they appear.
    """

    name: str
    path: str = Field(description="CSV or YAML file, relative to the engagement file or absolute.")


#: Every kind of store an engagement can name, in collection order (``Stores`` has one list each).
STORE_KINDS = ("vault", "aws", "git", "azure", "gcp", "kubernetes", "inventory")


class Stores(_Strict):
    vault: list[VaultStore] = Field(default_factory=list)
    aws: list[AwsStore] = Field(default_factory=list)
    git: list[GitStore] = Field(default_factory=list)
    azure: list[AzureStore] = Field(default_factory=list)
    gcp: list[GcpStore] = Field(default_factory=list)
    kubernetes: list[KubernetesStore] = Field(default_factory=list)
    inventory: list[InventoryStore] = Field(default_factory=list)

    def by_source(self) -> list[tuple[str, list[Any]]]:
        """(source, stores) in collection order: every store kind, one place."""
        return [(source, getattr(self, source)) for source in STORE_KINDS]

    def all(self) -> list[Any]:
        return [s for _, group in self.by_source() for s in group]


class MatchRule(_Strict):
    """Matches an item by glob on its path/name, or by tag / custom-metadata values."""

    match: list[str] = Field(default_factory=list, description="fnmatch globs on path or name")
    tags: dict[str, str] = Field(default_factory=dict, description="tag or metadata key: value")
    stores: list[str] = Field(default_factory=list, description="Only items from these stores")


class EnvironmentRule(MatchRule):
    environment: str


class SecretTypeRule(MatchRule):
    type: str


class OwnerRule(MatchRule):
    owner: str
    pager: str | None = Field(None, description="Who is paged when this owner's secret leaks.")


class ClassRule(MatchRule):
    data_class: Literal["public", "internal", "confidential", "regulated"] = Field(alias="class")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Classification(_Strict):
    """How items are classified. ``configuration`` / ``secrets`` decide whether a store item
    is a secret at all (before the kit's defaults: SSM type, store kind, name words); an item
    both lists match is a secret, because a hidden secret costs more than a noisy one."""

    environments: list[EnvironmentRule] = Field(default_factory=list)
    secret_types: list[SecretTypeRule] = Field(default_factory=list)
    owners: list[OwnerRule] = Field(default_factory=list)
    classes: list[ClassRule] = Field(default_factory=list)
    configuration: list[MatchRule] = Field(
        default_factory=list,
        description="Store items that hold configuration, not secrets: inventoried, never scored "
                    "by secret checks.",
    )
    secrets: list[MatchRule] = Field(
        default_factory=list,
        description="Store items that are secrets whatever their name or type says.",
    )
    environment_tag_keys: list[str] = Field(
        default_factory=lambda: ["env", "environment", "stage"],
        description="Tag / metadata keys read as the environment.",
    )
    owner_tag_keys: list[str] = Field(default_factory=lambda: ["owner", "team"])
    type_tag_keys: list[str] = Field(default_factory=lambda: ["secret_type", "type"])


class Waiver(_Strict):
    """An accepted risk. Expired waivers stop applying."""

    check: str = Field(description="Check id, e.g. VLT003, or a glob such as 'AWS*'.")
    resource: str = Field("*", description="Glob on the finding's resource id.")
    reason: str
    approver: str
    expires: date


class Attestation(_Strict):
    """Manual evidence for what no API shows (runbooks, playbooks, drills)."""

    item: str = Field(description="Attestation key the catalog asks for, e.g. 'leak_playbook'.")
    evidence: str = Field(description="Link or reference to the evidence.")
    owner: str
    date: date
    scope: str = Field("*", description="Glob of resources or classes it covers.")
    value: float | None = Field(None, description="A measured figure, e.g. minutes to revoke.")


class AccessJustification(_Strict):
    """Why a grant of the access model exists, as its owner states it at review.

    Fills the access model's justification column for every grant whose policy,
    principal and path match the globs (first match wins); a grant no entry
    matches shows its justification as missing.
    """

    policy: str = Field("*", description="Glob on the policy name.")
    principal: str = Field("*", description="Glob on the principal name.")
    path: str = Field("*", description="Glob on the granted path.")
    justification: str
    approver: str | None = Field(None, description="Who accepted the justification.")


class Engagement(_Strict):
    client: str
    description: str | None = None
    stores: Stores = Field(default_factory=Stores)
    classification: Classification = Field(default_factory=Classification)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    waivers: list[Waiver] = Field(default_factory=list)
    attestations: list[Attestation] = Field(default_factory=list)
    access_justifications: list[AccessJustification] = Field(
        default_factory=list, description="Why grants exist (the access model's justification column).")
    business_timezone: str = "UTC"

    @field_validator("client")
    @classmethod
    def _client_is_a_name(cls, v: str) -> str:
        problem = client_name_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("stores")
    @classmethod
    def _unique_store_names(cls, v: Stores) -> Stores:
        seen: set[str] = set()
        for s in v.all():
            if s.name in seen:
                raise ValueError(f"store name {s.name!r} is used twice")
            seen.add(s.name)
        return v


class LoadedEngagement(BaseModel):
    """An engagement with where it came from and the hash of its bytes."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engagement: Engagement
    path: Path
    sha256: str


def _line_of(doc: Any, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node on ``loc`` that ruamel knows about."""
    node, line = doc, None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            try:
                line = node.lc.key(key)[0] + 1
            except (KeyError, TypeError):
                pass
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            try:
                line = node.lc.item(key)[0] + 1
            except (KeyError, TypeError):
                pass
            node = node[key]
        else:
            break
    return line


def _loc_str(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_engagement(text: str, path: Path) -> Engagement:
    try:
        doc = load_bounded_yaml(
            text, max_depth=MAX_ENGAGEMENT_DEPTH, max_nodes=MAX_ENGAGEMENT_NODES
        )
    except YamlInputError as e:
        line = f":{e.line}" if e.line else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {e.message}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}:1: the engagement must be a mapping with at least 'client'")
    try:
        return Engagement.model_validate(_plain(doc))
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = _line_of(doc, loc)
        where = f"{path}:{line}" if line else str(path)
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{where}: {_loc_str(loc)}: {err['msg']}{more}") from None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_engagement(path: Path) -> LoadedEngagement:
    raw = read_input_file(path, MAX_ENGAGEMENT_BYTES, "engagement file")
    return LoadedEngagement(
        engagement=parse_engagement(input_text(path, raw), path),
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
