"""The assessment contract: every JSON file `posture assess` writes, as typed models.

The exporter (`checks.export`) builds these models and writes them; the
reporting layer (`posture.report`), the notebooks and the site read the same
models back. A key exists because a field here declares it, so no reader
chooses between spellings, and a file that does not match is an error naming
the file and the field, never a table that silently reads as empty (an
unreadable assessment is not an assessment with no findings).
``posture schema --assessment`` prints the JSON Schema.

One model per file of ``evidence/CLIENT/QUARTER/assessment/``: `FindingsDocument`
(findings.json, with the thresholds the checks applied), `Scores`,
`CatalogEntry` rows, and the derived views (`InventoryRow`, `AccessRow`,
`RotationRow`, `LeakCard`, `CrossEnvRow`, `GapRow`, `WaiverRow`,
`AttestationRow`); `AssessmentFiles` is all of them together, and
`AssessmentManifest` the hashes written last.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter, ValidationError

from posture.model.errors import PostureError
from posture.model.records import CoverageGap
from posture.model.thresholds import Thresholds
from posture.model.vocabulary import CHECKLIST, STAGES, Severity, Status


def _iso(value: datetime) -> str:
    return value.isoformat()


#: A point in time, written ISO 8601 with its offset (``+00:00``), as the snapshot writes it.
Timestamp = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]
StageNumber = Annotated[int, Field(ge=min(STAGES), le=max(STAGES))]
ChecklistNumber = Annotated[int, Field(ge=min(CHECKLIST), le=max(CHECKLIST))]
#: ``checks.scoring`` grade bands; ``N/A`` when nothing in the group was assessed.
Grade = Literal["A", "B", "C", "D", "F", "N/A"]
#: Rotation-plan state of an item, most urgent first.
RotationStatus = Literal["overdue", "due_soon", "unknown", "ok", "dynamic"]


class ContractModel(BaseModel):
    """Unknown keys are rejected: a field the writer adds must be declared here first."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class StatusCounts(ContractModel):
    """Results per status (``pass`` is a Python keyword, hence the alias)."""

    passed: int = Field(alias="pass")
    fail: int
    waived: int
    not_assessed: int


# --- findings.json ------------------------------------------------------------------


class FindingWaiver(ContractModel):
    """The engagement waiver that matched a failing result (``active``: unexpired on the as-of date)."""

    check: str
    resource: str
    reason: str
    approver: str
    expires: date
    active: bool


class Finding(ContractModel):
    """One (check, resource) result with the check's catalog text beside it."""

    check_id: str
    name: str
    title: str
    status: Status
    severity: Severity
    stage: StageNumber
    stage_name: str
    checklist_item: ChecklistNumber
    checklist_text: str
    anti_pattern: str
    source: str
    store: str
    resource: str
    resource_name: str | None
    environment: str
    owner: str | None
    evidence: dict[str, Any] = Field(description="What the check saw; never a secret value.")
    remediation: str
    controls: dict[str, list[str]]
    waiver: FindingWaiver | None


class FindingsDocument(ContractModel):
    """findings.json: the quarter, what the checks judged with, and every result.

    ``thresholds`` and ``business_timezone`` are the engagement's as applied, so
    a reader that shows a judgement (a spike line, an orphan cut-off) uses the
    same numbers as the findings, whatever the engagement file says today.
    """

    client: str
    quarter: str
    as_of: date
    generated_at: Timestamp
    thresholds: Thresholds
    business_timezone: str
    counts: StatusCounts
    errors: list[str] = Field(description="Checks that raised (their results are not_assessed).")
    findings: list[Finding]


# --- scores.json, catalog.json ------------------------------------------------------------


class Score(StatusCounts):
    """A group's score (null when nothing was assessed), its coverage and its capped grade."""

    score: float | None
    grade: Grade
    coverage: float = Field(ge=0, le=1)


class ScoreRow(Score):
    """One checklist item, stage, environment or store (``key``) with its label."""

    key: int | str
    label: str


class Scores(ContractModel):
    client: str
    quarter: str
    as_of: date
    overall: Score
    by_checklist_item: list[ScoreRow]
    by_stage: list[ScoreRow]
    by_environment: list[ScoreRow]
    by_store: list[ScoreRow]
    method: str = Field(description="How the score is computed (stable across quarters), Markdown.")


class CatalogEntry(ContractModel):
    """A check as the catalog documents it (``posture checks ID`` and the site's check page)."""

    id: str
    name: str
    title: str
    stage: StageNumber
    stage_name: str
    checklist_item: ChecklistNumber
    checklist_text: str
    anti_pattern: str
    severity: Severity
    detects: str
    why: str
    fix: str
    thresholds: dict[str, Any] = Field(description="The thresholds it compares against, as applied.")
    controls: dict[str, list[str]]
    inputs: list[str]
    sources: list[str]
    manual: bool
    attestation: str | None
    references: list[str]


# --- the derived views ------------------------------------------------------------------


class InventoryRow(ContractModel):
    """One credential-like item with its classification and age. A ``configuration`` item
    (a hostname, a flag kept in a store) is inventoried but never scored by secret checks."""

    table: str
    id: str
    store: str
    source: str
    kind: str | None
    name: str | None
    path: str | None
    item_class: Literal["secret", "configuration"]
    classified_by: str = Field(description="The rule that decided the item class (engagement rule, type, "
                                           "store kind or name word).")
    environment: str
    secret_type: str
    owner: str | None
    pager: str | None
    data_class: str
    lifecycle_class: str
    critical: bool = Field(description="`vocabulary.critical_mask` as the assessment applied it.")
    age_days: float | None
    last_rotated_at: Timestamp | None
    expires_at: Timestamp | None
    # Declared inventory (#17)
    provenance: Literal["observed", "declared"] = Field(
        "observed", description="observed: read from a store; declared: only an inventory file says it exists.")
    declared_in: str | None = Field(
        None, description="The inventory row (store:row id) that declared the item or added owner, pager, "
                          "consumers to an observed one.")


class AccessRow(ContractModel):
    """The access model: a principal, through a binding, may use these capabilities on a path."""

    principal: str
    principal_kind: str
    principal_id: str
    via: Literal["auth_role", "principal", "token", "attachment", "resource_policy"]
    store: str
    source: str
    policy: str
    policy_id: str
    path: str
    capabilities: list[str]
    effect: Literal["allow", "deny"]
    environment: str
    justification: str | None = Field(description="To be supplied by the owner at review.")


class RotationRow(ContractModel):
    """When an item is next due for rotation, from its type's maximum age (or TLS expiry)."""

    id: str
    table: str
    store: str
    name: str | None
    path: str | None
    environment: str
    secret_type: str
    lifecycle_class: str
    owner: str | None
    last_rotated_at: Timestamp | None
    max_age_days: float
    next_due: Timestamp | None = Field(description="Null for dynamic credentials and unknown ages.")
    days_until_due: float | None
    status: RotationStatus
    method: str
    # --- the rotation planner (`posture plan rotation`): seed method, sequence, overlap, revocation ---
    pager: str | None = Field(None, description="Who is paged for it (the owner rule's pager).")
    rotation_method: str = Field("", description="`checks.rotation_steps` method key (dual-account, "
                                                 "overlap-window, tls-renewal, ssh-ca, dynamic, key-versioning...).")
    due_basis: str = Field("", description="What the due date is counted from: last rotated, created, "
                                           "certificate expiry, or unknown.")
    overlap_days: float | None = Field(None, description="How long old and new stay valid together; null: none.")
    overlap_window: str = Field("", description="The overlap window in words (seed method).")
    steps: list[str] = Field(default_factory=list, description="The order of operations, numbered (seeds).")
    revocation_path: str = Field("", description="How to invalidate it now if compromised.")
    seed: str = Field("", description="The seed sections the method and steps come from.")


#: How a card's null owner and pager read to a person (its steps, the site's card).
UNOWNED = "UNOWNED"
NOBODY_PAGED = "UNKNOWN - nobody is paged (add a pager to the owner rule)"


class LeakCard(ContractModel):
    """Seed 001's emergency steps made concrete for one critical secret."""

    id: str
    name: str | None
    store: str
    source: str
    path: str | None
    environment: str
    secret_type: str
    data_class: str
    lifecycle_class: str
    owner: str | None = Field(description="Null: nobody owns it.")
    pager: str | None = Field(description="Null: nobody is paged.")
    revoke_first: str
    principals_can_read: list[str]
    readers_unknown: str | None = Field(
        None, description="Why principals_can_read is not known for this item's store (empty then means "
                          "not computed, never nobody); null when it was computed.")
    principals_did_read: list[str]
    tokens_to_revoke: list[str]
    steps: list[str]
    target_minutes: float


class CrossEnvRow(ContractModel):
    """A policy or principal whose allowed paths span production and non-production."""

    kind: Literal["policy", "principal"]
    id: str
    name: str
    store: str
    environments: list[str]
    prod_paths: list[str]
    nonprod_paths: list[str]


class SuggestedPolicyRow(ContractModel):
    """A least-privilege policy suggested for one identity in one environment (`checks.policy_suggest`).

    ``document`` is the policy (Vault HCL or IAM JSON): paths and capabilities only, never a value.
    """

    identity: str
    store: str
    source: Literal["vault", "aws"]
    auth_method: str | None
    name: str = Field(description="{service}-{access-level}, or {service}-{environment}-{access-level}.")
    environment: str
    access_level: Literal["read", "write", "admin"]
    format: Literal["hcl", "iam_json"]
    document: str
    rules: int
    observed_paths: int
    requests: int
    first_at: str | None
    last_at: str | None
    current_policies: list[str]
    removed: list[str] = Field(description="Today's rules to remove or narrow, one line each.")
    unused_policies: list[str]
    no_longer_reachable: list[str] = Field(description="Secrets readable today the suggestion no longer reaches "
                                                       "(first 50).")
    no_longer_reachable_total: int
    reach_probed: int = Field(0, description="Secrets of the store checked for the count above (at most 5000).")
    denied: list[str]
    left_out: list[str]
    collapsed: dict[str, list[str]]
    cross_environment: bool
    covers_all_observed: bool
    coverage_gaps: list[str] = Field(description="Why the suggestion may be incomplete (unknown is not unused).")


class GapRow(CoverageGap):
    """A coverage gap of the snapshot and the checks it left not assessed."""

    dependent_checks: list[str]


class WaiverRow(ContractModel):
    """An engagement waiver and what it did this quarter."""

    check: str
    resource: str
    reason: str
    approver: str
    expires: date
    active: bool
    findings_waived: int
    findings_failing_after_expiry: int


class AttestationRow(ContractModel):
    """Manual evidence recorded in the engagement, or (``missing``) one the catalog asks for."""

    item: str
    evidence: str | None
    owner: str | None
    date: date | None
    scope: str | None
    value: float | None
    age_days: int | None
    stale: bool | None
    check_id: str | None
    missing: bool = False


# --- the files together -------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """The contract's JSON layout: indented, keys sorted (stable bytes for the manifest)."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        if path.name == "findings.json":
            raise PostureError(f"{path.parent}: no findings.json here (run 'posture assess' first)") from None
        raise PostureError(f"{path.parent}: no {path.name} (an incomplete assessment; run "
                           "'posture assess' again)") from None
    except orjson.JSONDecodeError as e:
        raise PostureError(f"{path}: not valid JSON ({e})") from None


class AssessmentFiles(ContractModel):
    """Every JSON file of the contract, one field per file (``<field>.json``)."""

    findings: FindingsDocument
    scores: Scores
    catalog: list[CatalogEntry]
    inventory: list[InventoryRow]
    access_model: list[AccessRow]
    rotation_plan: list[RotationRow]
    leak_cards: list[LeakCard]
    cross_env: list[CrossEnvRow]
    coverage_gaps: list[GapRow]
    waivers: list[WaiverRow]
    attestations: list[AttestationRow]
    suggested_policies: list[SuggestedPolicyRow] = Field(
        default_factory=list, description="Least-privilege policies suggested from the audit logs.")

    def json_files(self) -> dict[str, bytes]:
        """File name -> bytes, as the exporter writes them."""
        doc = self.model_dump(mode="json")
        return {f"{name}.json": dumps(doc[name]) for name in type(self).model_fields}

    @classmethod
    def read(cls, directory: Path) -> AssessmentFiles:
        """Load and validate every file; `PostureError` names the first file and field that fail."""
        directory = Path(directory)
        docs = {name: _read_json(directory / f"{name}.json") for name in cls.model_fields}
        try:
            return cls.model_validate(docs)
        except ValidationError as e:
            raise _contract_error(directory, e) from None

    @classmethod
    def read_part(cls, directory: Path, name: str) -> Any:
        """One file (``scores``, ``catalog``...) validated alone, e.g. another quarter's scores."""
        directory = Path(directory)
        adapter = TypeAdapter(cls.model_fields[name].annotation)
        try:
            return adapter.validate_python(_read_json(directory / f"{name}.json"))
        except ValidationError as e:
            raise _contract_error(directory, e, name) from None


def _contract_error(directory: Path, e: ValidationError, name: str | None = None) -> PostureError:
    """One line: the file, the field and what is wrong with it."""
    err = e.errors()[0]
    where = list(err["loc"])
    name = name or str(where.pop(0))
    field = ".".join(str(x) for x in where) or "(top level)"
    return PostureError(f"{directory / f'{name}.json'}: does not match the assessment contract at "
                        f"{field}: {err['msg']} (re-run 'posture assess')")


#: The view files beside findings.json: file stem -> row model (a table each).
VIEWS: dict[str, type[BaseModel]] = {
    "inventory": InventoryRow,
    "access_model": AccessRow,
    "rotation_plan": RotationRow,
    "leak_cards": LeakCard,
    "cross_env": CrossEnvRow,
    "coverage_gaps": GapRow,
    "waivers": WaiverRow,
    "attestations": AttestationRow,
    "suggested_policies": SuggestedPolicyRow,
}


class FileDigest(ContractModel):
    sha256: str
    bytes: int


class AssessmentManifest(ContractModel):
    """manifest.json: the SHA-256 of every file above and of the snapshot manifest it came from."""

    client: str
    quarter: str
    as_of: date
    generated_at: Timestamp
    files: dict[str, FileDigest]
    snapshot_manifest_sha256: str | None
    stages: dict[str, str]
    checklist: dict[str, str]


def contract_schema() -> dict[str, Any]:
    """JSON Schema of the assessment directory: one property per JSON file."""
    files = AssessmentFiles.model_json_schema(by_alias=True)
    manifest = AssessmentManifest.model_json_schema(by_alias=True)
    defs = {**files.pop("$defs", {}), **manifest.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Secrets Posture Kit assessment",
        "description": "evidence/CLIENT/QUARTER/assessment/: one JSON file per property.",
        "type": "object",
        "properties": {**{f"{name}.json": s for name, s in files["properties"].items()},
                       "manifest.json": manifest},
        "$defs": defs,
    }
