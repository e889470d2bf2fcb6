"""Assessment export (contract files, OSCAL via trestle, SARIF) and the CLI commands."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from checks_cases import (
    AS_OF,
    NOW,
    PROD_DB,
    audit_dev,
    ci,
    engagement,
    finding,
    kv,
    repo,
    role,
    sm,
    vpolicy,
    vserver,
)
from conftest import assert_no_canary

from checks.engine import run_assessment
from checks.export import write_assessment
from posture.cli import main
from posture.model.engagement import Waiver
from posture.model.records import CoverageGap
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink
from posture.workspace import Workspace

CONTRACT = ("findings.json", "findings.csv", "findings.sarif", "oscal-assessment-results.json", "scores.json",
            "catalog.json", "inventory.json", "access_model.json", "rotation_plan.json", "leak_cards.json",
            "cross_env.json", "coverage_gaps.json", "waivers.json", "attestations.json", "manifest.json",
            "suggested_policies.json")


def estate(fixed: bool = False) -> list:
    recs = [vserver(seal_type="shamir", seal_threshold=1, seal_shares=1) if not fixed else vserver(),
            *audit_dev(2 if fixed else 1),
            *vpolicy("payments-read", [("secret/data/prod/payments/*", ["read"])]),
            role("approle", "payments", token_ttl=3600, token_max_ttl=14400, secret_id_ttl=600,
                 secret_id_num_uses=1, bind_secret_id=True),
            kv(PROD_DB, updated_at=NOW - timedelta(days=5 if fixed else 100)),
            sm("prod/payments/api_key"), repo(), ci(static_cloud_credentials=[] if fixed else ["aws-access-key-id"]),
            CoverageGap(id="main::ssm", store="main", source="aws", tables=["secret"], scope="111122223333/eu-west-1",
                        operation="ssm:DescribeParameters", reason="denied")]
    if not fixed:
        recs.append(finding("src/settings.py", line=12))
    return recs


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    snap = Snapshot.from_records(estate())
    w = Waiver(check="VLT005", resource="*", reason="second device in Q1", approver="ciso@acme.test",
               expires=AS_OF + timedelta(days=40))
    a = run_assessment(snap, engagement(waivers=[w]), AS_OF)
    dest = tmp_path_factory.mktemp("assess") / "assessment"
    manifest = write_assessment(a, snap, dest, client="acme", quarter="2026-Q4",
                                generated_at=datetime(2026, 11, 21, tzinfo=UTC))
    return a, dest, manifest


def load(dest: Path, name: str):
    return json.loads((dest / name).read_text(encoding="utf-8"))


def test_contract_files_and_manifest_hashes(written):
    a, dest, manifest = written
    assert sorted(p.name for p in dest.iterdir()) == sorted(CONTRACT)
    for name, entry in manifest["files"].items():
        data = (dest / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    doc = load(dest, "findings.json")
    assert {doc["client"], doc["quarter"], doc["as_of"]} == {"acme", "2026-Q4", "2026-11-20"}
    keys = {"check_id", "name", "title", "status", "severity", "stage", "stage_name", "checklist_item",
            "checklist_text", "anti_pattern", "source", "store", "resource", "resource_name", "environment",
            "owner", "evidence", "remediation", "controls", "waiver"}
    assert all(set(r) == keys for r in doc["findings"])
    by = {(r["check_id"], r["resource"]): r for r in doc["findings"]}
    lcy = by[("LCY001", f"vault:core:{PROD_DB}")]
    assert lcy["status"] == "fail" and lcy["evidence"]["age_days"] == 100.5 and lcy["evidence"]["max_age_days"] == 30
    assert lcy["owner"] == "payments-team" and lcy["environment"] == "prod"
    assert by[("VLT005", "vault:core")]["status"] == "waived"
    assert by[("VLT005", "vault:core")]["waiver"]["approver"] == "ciso@acme.test"
    assert by[("VLT002", "vault:core")]["controls"]["pci_dss"] == ["3.6.1.2", "3.7.6"]
    assert by[("OPS003", "attestation:leak_playbook")]["status"] == "not_assessed"
    with open(dest / "findings.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(doc["findings"]) and json.loads(rows[0]["controls"])["soc2"]
    scores = load(dest, "scores.json")
    assert scores["overall"]["grade"] in "ABCDF" and len(scores["by_checklist_item"]) == 5
    assert [c["id"] for c in load(dest, "catalog.json")] == sorted(a.catalog)
    inv = load(dest, "inventory.json")
    assert {"table", "id", "environment", "secret_type", "owner", "data_class", "lifecycle_class", "age_days",
            "last_rotated_at", "expires_at"} <= set(inv[0])
    gaps = load(dest, "coverage_gaps.json")
    assert gaps[0]["id"] == "main::ssm" and "AWS016" in gaps[0]["dependent_checks"]
    assert load(dest, "waivers.json")[0]["findings_waived"] == 1
    assert any(x.get("missing") and x["item"] == "leak_playbook" for x in load(dest, "attestations.json"))
    cards = load(dest, "leak_cards.json")
    assert any(c["id"] == f"vault:core:{PROD_DB}" and c["pager"] == "#payments-oncall" for c in cards)
    assert load(dest, "rotation_plan.json")[0]["status"] == "overdue"
    assert any(r["principal"] == "approle:payments" for r in load(dest, "access_model.json"))
    assert_no_canary(dest)


def test_files_match_the_published_schema(written):
    """`posture schema --assessment` describes exactly what the exporter writes."""
    import jsonschema

    from posture.model.assessment import contract_schema

    _, dest, _ = written
    schema = contract_schema()
    for name, part in schema["properties"].items():
        jsonschema.Draft202012Validator({**part, "$defs": schema["$defs"]}).validate(load(dest, name))


def test_oscal_validates_with_trestle(written):
    from trestle.oscal.assessment_results import AssessmentResults

    _, dest, _ = written
    ar = AssessmentResults.oscal_read(dest / "oscal-assessment-results.json")
    raw = load(dest, "oscal-assessment-results.json")
    assert raw["assessment-results"]["metadata"]["oscal-version"].startswith("1.")
    res = ar.results[0]
    states = {f.target.target_id: f.target.status.state.value for f in res.findings}
    assert states["vlt002"] == "not-satisfied" and states["vlt001"] == "satisfied"
    obs = {o.uuid for o in res.observations}
    for f in res.findings:
        for ro in f.related_observations or []:
            assert ro.observation_uuid in obs


def test_sarif_has_source_findings_only(written):
    _, dest, _ = written
    s = load(dest, "findings.sarif")
    assert s["version"] == "2.1.0" and s["$schema"].endswith("sarif-2.1.0.json")
    run = s["runs"][0]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert results and all(r["ruleId"] in rules for r in results)
    assert all(r["ruleId"].startswith(("SRC", "CI")) for r in results)
    src = next(r for r in results if r["ruleId"] == "SRC001")
    loc = src["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "src/settings.py" and loc["region"]["startLine"] == 12
    assert src["partialFingerprints"]["secretFingerprint/v1"].startswith("hmac256:")
    assert src["level"] == "error"


def test_failed_export_leaves_previous_assessment(written, tmp_path, monkeypatch):
    a, dest, _ = written
    snap = Snapshot.from_records(estate())
    target = tmp_path / "assessment"
    write_assessment(a, snap, target, client="acme", quarter="2026-Q4")
    before = (target / "manifest.json").read_bytes()
    import checks.export as ex

    monkeypatch.setattr(ex, "sarif", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_assessment(a, snap, target, client="acme", quarter="2026-Q4")
    assert (target / "manifest.json").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".assessment")]


# --- CLI --------------------------------------------------------------------------------


def write_snapshot(ws: Workspace, quarter: str, records: list) -> None:
    sink = SnapshotSink()
    for r in records:
        sink.add(r)
    sink.write(ws.snapshot_dir(quarter), Manifest(client="acme", quarter=quarter, engagement_sha256="x",
                                                  started_at=NOW, finished_at=NOW, stores={"core": "vault"}))


def test_cli_assess_diff_and_checks(workspace: Path, capsys):
    assert main(["init", "acme"]) == 0
    ws = Workspace.resolve("acme")
    capsys.readouterr()
    assert main(["assess", "acme", "--quarter", "2026-Q3", "--no-notebooks"]) == 1
    err = capsys.readouterr().err
    assert "no snapshot" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    write_snapshot(ws, "2026-Q3", estate())
    write_snapshot(ws, "2026-Q4", estate(fixed=True))
    assert main(["assess", "acme", "--quarter", "2026-Q3", "--as-of", "2026-09-30", "--no-notebooks"]) == 0
    out = capsys.readouterr()
    assert "Final review checklist" in out.out and "grade" in out.out
    assert "COVERAGE GAP" in out.err
    assert main(["assess", "acme", "--quarter", "2026-Q4", "--as-of", "2026-11-20", "--no-notebooks"]) == 0
    capsys.readouterr()
    assert (ws.assessment_dir("2026-Q4") / "findings.json").is_file()
    assert main(["diff", "acme", "2026-Q3", "2026-Q4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    resolved = {(r["check_id"], r["resource"]) for r in d["resolved"]}
    assert ("VLT002", "vault:core") in resolved and ("CI001", "git:app:.github/workflows/deploy.yml") in resolved
    assert any(r["check_id"] == "SRC001" for r in d["resolved"])
    assert main(["diff", "acme", "2026-Q3", "2026-Q4"]) == 0
    assert "resolved" in capsys.readouterr().out
    assert main(["diff", "acme", "2026-Q3", "2025-Q1"]) == 1
    assert main(["assess", "acme", "--quarter", "2026-Q3", "--as-of", "yesterday", "--no-notebooks"]) == 2
    capsys.readouterr()
    assert main(["checks"]) == 0
    listing = capsys.readouterr().out
    assert "VLT006" in listing and "wildcard_policy" in listing
    assert main(["checks", "VLT006"]) == 0
    doc = capsys.readouterr().out
    assert "## Why it matters" in doc and "nist_800_53" in doc and 'path "*"' in doc
    assert main(["checks", "rotation_overdue", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "LCY001"
    assert main(["checks", "--thresholds"]) == 0
    th = json.loads(capsys.readouterr().out)
    assert th["rotation_days"]["db-password"] == 30 and th["tls_renew_before_days"] == 60
    assert main(["checks", "NOPE999"]) == 2
    assert_no_canary(workspace)
