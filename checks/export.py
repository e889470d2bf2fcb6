"""Write the assessment directory, atomically.

``evidence/CLIENT/QUARTER/assessment/`` gets findings (JSON, CSV, SARIF for
source findings, OSCAL assessment-results validated by compliance-trestle),
scores, the catalog, inventory, derived views, gaps, waivers, attestations and
a manifest with the SHA-256 of every file. Every JSON file is built through its
model in `posture.model.assessment` (the contract the reporting layer and the
site read back), so a row the writer gets wrong fails here, not in a notebook.
Built in a temporary sibling and swapped in: an error leaves the previous
assessment untouched.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pandas as pd
from pydantic import BaseModel, TypeAdapter

from checks.catalog import CHECKLIST, STAGES
from checks.engine import Assessment
from checks.policy_suggest import suggested_policy_rows
from checks.scoring import score
from checks.views import access_model, cross_env, frame_records, leak_cards, rotation_plan
from posture.model.assessment import (
    AccessRow,
    AssessmentFiles,
    AssessmentManifest,
    AttestationRow,
    CatalogEntry,
    CrossEnvRow,
    FileDigest,
    Finding,
    FindingsDocument,
    GapRow,
    InventoryRow,
    LeakCard,
    RotationRow,
    Scores,
    StatusCounts,
    WaiverRow,
    dumps,
)
from posture.model.fsutil import atomic_directory, sha256_file
from posture.model.snapshot import Snapshot

TOOL = "secrets-posture-kit"
FINDING_COLUMNS = tuple(Finding.model_fields)
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
NS = uuid.UUID("6f1f4f0e-8b0e-4d8a-9d43-5ad1c5a1e0b7")
M = TypeVar("M", bound=BaseModel)


def _none(v: Any) -> Any:
    return None if (v is None or (not isinstance(v, (list, dict)) and pd.isna(v))) else v


def _rows(model: type[M], records: list[dict[str, Any]]) -> list[M]:
    """Validate a view's rows against its contract model (one pass, in pydantic-core)."""
    return TypeAdapter(list[model]).validate_python(records)  # type: ignore[valid-type]


def finding_records(a: Assessment) -> list[Finding]:
    """findings.json rows, in a stable order (check id, resource)."""
    f = a.findings
    ev = a.evidence_records()
    names = a.resource_names()
    cat = a.catalog
    titles = {cid: c.title_for(a.thresholds) for cid, c in cat.items()}
    out = []
    for i, row in enumerate(f[["check_id", "status", "source", "store", "resource",
                               "environment", "owner", "waiver"]].itertuples(index=False)):
        c = cat[str(row.check_id)]
        out.append({
            "check_id": c.id, "name": c.name, "title": titles[c.id], "status": str(row.status),
            "severity": c.severity, "stage": c.stage, "stage_name": c.stage_name,
            "checklist_item": c.checklist_item, "checklist_text": c.checklist_text,
            "anti_pattern": c.anti_pattern, "source": str(row.source), "store": str(row.store),
            "resource": str(row.resource), "resource_name": _none(names[i]),
            "environment": str(row.environment), "owner": _none(row.owner), "evidence": ev[i],
            "remediation": c.fix, "controls": c.controls, "waiver": row.waiver,
        })
    out.sort(key=lambda r: (r["check_id"], r["resource"]))
    return _rows(Finding, out)


def findings_csv(rows: list[Finding]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(FINDING_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        d = r.model_dump(mode="json")
        w.writerow({k: (orjson.dumps(d[k]).decode() if k in ("evidence", "controls", "waiver")
                        else ("" if d[k] is None else d[k])) for k in FINDING_COLUMNS})
    return buf.getvalue().encode("utf-8")


def sarif(a: Assessment, rows: list[Finding]) -> dict[str, Any]:
    """SARIF 2.1.0 for source/CI findings (fail and waived), one run."""
    src = [r for r in rows if r.source == "git" and r.status in ("fail", "waived")]
    rule_ids = sorted({r.check_id for r in src} | {c.id for c in a.catalog.values() if "git" in c.sources})
    rules = []
    for rid in rule_ids:
        c = a.catalog[rid]
        rules.append({
            "id": c.id, "name": c.name,
            "shortDescription": {"text": c.title_for(a.thresholds)},
            "fullDescription": {"text": c.detects},
            "help": {"text": f"{c.why}\n\nFix: {c.fix}",
                     "markdown": f"**Why**: {c.why}\n\n**Fix**: {c.fix}"},
            "defaultConfiguration": {"level": SARIF_LEVEL[c.severity]},
            "properties": {"tags": ["security", "secrets", f"checklist-{c.checklist_item}"],
                           "security-severity": SECURITY_SEVERITY[c.severity],
                           "precision": "high"},
        })
    index = {rid: i for i, rid in enumerate(rule_ids)}
    results = []
    for r in src:
        ev = r.evidence
        file = ev.get("file") or ev.get("path") or r.resource_name or r.resource
        res: dict[str, Any] = {
            "ruleId": r.check_id, "ruleIndex": index[r.check_id],
            "level": SARIF_LEVEL[r.severity],
            "message": {"text": f"{r.title}: {file}" + (f" ({ev['detector']})" if ev.get("detector") else "")},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": str(file)},
                **({"region": {"startLine": int(ev["line"])}} if ev.get("line") else {}),
            }}],
            "properties": {"resource": r.resource, "store": r.store, "commit": ev.get("commit"),
                           "repo": ev.get("repo"), "environment": r.environment},
        }
        if ev.get("fingerprint"):
            res["partialFingerprints"] = {"secretFingerprint/v1": ev["fingerprint"]}
        if r.status == "waived" and r.waiver:
            w = r.waiver
            res["suppressions"] = [{"kind": "external", "status": "accepted",
                                    "justification": f"{w.reason} (approved by {w.approver}, "
                                                     f"expires {w.expires.isoformat()})"}]
        results.append(res)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "informationUri": "https://example.invalid/secrets-posture-kit",
                                "version": "0.1.0", "rules": rules}},
            "results": results,
            "columnKind": "utf16CodeUnits",
        }],
    }


def oscal_assessment_results(a: Assessment, rows: list[Finding], client: str, quarter: str,
                             generated_at: datetime) -> Any:
    """An OSCAL assessment-results document (compliance-trestle models, validated on construction).

    One OSCAL finding per check (target: the check id as objective, satisfied
    when it has no failing result), related to one observation per non-passing
    result.
    """
    from trestle.oscal import OSCAL_VERSION, common
    from trestle.oscal import assessment_results as ar

    def u(*parts: str) -> str:
        return str(uuid.uuid5(NS, "|".join((client, quarter) + parts)))

    observations = []
    by_check: dict[str, list[str]] = {}
    by_status: dict[str, dict[str, int]] = {}
    for r in rows:
        by_status.setdefault(r.check_id, {}).setdefault(r.status, 0)
        by_status[r.check_id][r.status] += 1
        if r.status == "pass":
            continue
        oid = u("obs", r.check_id, r.resource)
        by_check.setdefault(r.check_id, []).append(oid)
        observations.append(ar.Observation(
            uuid=oid, title=f"{r.check_id} {r.status}: {r.resource}"[:300],
            description=f"{r.title} - status {r.status} for {r.resource} "
                        f"({r.environment}, store {r.store}).",
            methods=["EXAMINE" if r.source == "engagement" else "TEST"],
            props=[common.Property(name="status", value=r.status, ns="https://example.invalid/posture"),
                   common.Property(name="severity", value=r.severity, ns="https://example.invalid/posture")],
            collected=generated_at,
        ))
    findings = []
    for cid, counts in sorted(by_status.items()):
        c = a.catalog[cid]
        fails = counts.get("fail", 0)
        state = "not-satisfied" if fails else "satisfied"
        controls = ", ".join(f"{k}: {' '.join(v)}" for k, v in c.controls.items() if v)
        findings.append(common.Finding(
            uuid=u("finding", cid), title=f"{cid} {c.title_for(a.thresholds)}"[:300],
            description=f"{c.detects} Results: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                        + f". Controls: {controls}.",
            target=common.FindingTarget(type="objective-id", target_id=cid.lower(),
                                        status=common.ObjectiveStatus(state=state)),
            related_observations=[common.RelatedObservation(observation_uuid=o) for o in by_check.get(cid, [])] or None,
        ))
    result = ar.Result(
        uuid=u("result"), title=f"Secrets posture assessment {client} {quarter}",
        description=f"Automated secrets-posture assessment of {client} for {quarter} as of "
                    f"{a.as_of.date().isoformat()}; {len(rows)} results over {len(by_status)} checks.",
        start=a.as_of.to_pydatetime(), end=generated_at,
        reviewed_controls=common.ReviewedControls(
            control_selections=[common.ControlSelection(include_all=common.IncludeAll())]),
        observations=observations or None, findings=findings or None,
    )
    return ar.AssessmentResults(
        uuid=u("ar"),
        metadata=common.Metadata(title=f"Secrets posture {client} {quarter}", last_modified=generated_at,
                                 version=quarter, oscal_version=OSCAL_VERSION),
        import_ap=ar.ImportAp(href="#secrets-posture-assessment-plan"),
        results=[result],
    )


def _gaps(a: Assessment) -> list[GapRow]:
    g = a.gaps
    if not len(g):
        return []
    recs = frame_records(g)
    for r in recs:
        r["dependent_checks"] = sorted(c.id for c in a.catalog.values() if set(c.inputs) & set(r["tables"]))
    return _rows(GapRow, recs)


def _waivers(a: Assessment) -> list[WaiverRow]:
    f = a.findings
    out = []
    for w in a.engagement.waivers:
        active = w.expires >= a.as_of.date()
        matched = f["waiver"].map(lambda d, w=w: bool(d) and d["check"] == w.check and d["resource"] == w.resource)
        out.append({"check": w.check, "resource": w.resource, "reason": w.reason, "approver": w.approver,
                    "expires": w.expires.isoformat(), "active": active,
                    "findings_waived": int((matched & f["status"].astype(str).eq("waived")).sum()),
                    "findings_failing_after_expiry": int((matched & f["status"].astype(str).eq("fail")).sum())})
    return _rows(WaiverRow, out)


def _attestations(a: Assessment) -> list[AttestationRow]:
    by_item = {c.attestation: c.id for c in a.catalog.values() if c.attestation}
    out = []
    for at in a.engagement.attestations:
        age = (a.as_of.date() - at.date).days
        out.append({"item": at.item, "evidence": at.evidence, "owner": at.owner, "date": at.date.isoformat(),
                    "scope": at.scope, "value": at.value, "age_days": age,
                    "stale": age > a.thresholds.attestation_max_age_days, "check_id": by_item.get(at.item)})
    for item, cid in sorted(by_item.items()):
        if not any(at.item == item for at in a.engagement.attestations):
            out.append({"item": item, "evidence": None, "owner": None, "date": None, "scope": None,
                        "value": None, "age_days": None, "stale": None, "check_id": cid, "missing": True})
    return _rows(AttestationRow, out)


def inventory_records(a: Assessment) -> list[InventoryRow]:
    it = a.items
    if not len(it):
        return []
    return _rows(InventoryRow, frame_records(it[list(InventoryRow.model_fields)]))


def contract_files(a: Assessment, snap: Snapshot, *, client: str, quarter: str,
                   generated_at: datetime) -> AssessmentFiles:
    """Every JSON file of the contract, built through its model (`posture.model.assessment`)."""
    am = access_model(a, snap)
    as_of = a.as_of.date()
    return AssessmentFiles(
        findings=FindingsDocument(
            client=client, quarter=quarter, as_of=as_of, generated_at=generated_at,
            thresholds=a.thresholds, business_timezone=a.engagement.business_timezone,
            counts=StatusCounts.model_validate(a.counts()), errors=a.errors, findings=finding_records(a)),
        scores=Scores.model_validate({"client": client, "quarter": quarter, "as_of": as_of,
                                      **score(a.findings, a.thresholds)}),
        catalog=[CatalogEntry.model_validate(c.doc(a.thresholds)) for c in a.catalog.values()],
        inventory=inventory_records(a),
        access_model=_rows(AccessRow, frame_records(am)),
        rotation_plan=_rows(RotationRow, frame_records(rotation_plan(a))),
        leak_cards=_rows(LeakCard, leak_cards(a, snap, am)),
        cross_env=_rows(CrossEnvRow, frame_records(cross_env(a, snap, am))),
        coverage_gaps=_gaps(a),
        waivers=_waivers(a),
        attestations=_attestations(a),
        suggested_policies=suggested_policy_rows(a, snap),
    )


def write_assessment(a: Assessment, snap: Snapshot, dest: Path, *, client: str, quarter: str,
                     generated_at: datetime | None = None) -> dict[str, Any]:
    """Write every file of the contract into ``dest`` atomically; returns the manifest."""
    generated_at = generated_at or datetime.now(UTC)
    contract = contract_files(a, snap, client=client, quarter=quarter, generated_at=generated_at)
    rows = contract.findings.findings
    oscal = oscal_assessment_results(a, rows, client, quarter, generated_at)
    files: dict[str, bytes] = {
        **contract.json_files(),
        "findings.csv": findings_csv(rows),
        "findings.sarif": dumps(sarif(a, rows)),
        "oscal-assessment-results.json": oscal.oscal_serialize_json_bytes(pretty=True, wrapped=True),
    }
    snap_manifest = snap.path / "manifest.json"
    with atomic_directory(dest) as tmp:
        digests = {}
        for name, data in files.items():
            (tmp / name).write_bytes(data)
            digests[name] = FileDigest(sha256=sha256_file(tmp / name), bytes=len(data))
        manifest = AssessmentManifest(
            client=client, quarter=quarter, as_of=contract.findings.as_of, generated_at=generated_at,
            files=digests,
            snapshot_manifest_sha256=sha256_file(snap_manifest) if snap_manifest.is_file() else None,
            stages={str(k): v for k, v in STAGES.items()},
            checklist={str(k): v for k, v in CHECKLIST.items()}).model_dump(mode="json")
        (tmp / "manifest.json").write_bytes(dumps(manifest))
    return manifest
