"""Every catalog entry passes, fails and is not_assessed on purpose-built snapshots."""

from __future__ import annotations

import pandas as pd
import pytest
from checks_cases import AS_OF, CASES, attest, engagement

from checks.catalog import AP, CHECKLIST, CONTROLS, STAGES, load_catalog
from checks.engine import run_assessment
from posture.model.records import CoverageGap
from posture.model.snapshot import Snapshot

CATALOG = load_catalog()
AUTOMATED = sorted(c.id for c in CATALOG.values() if not c.manual)
MANUAL = sorted(c.id for c in CATALOG.values() if c.manual)


def statuses(records, check_id, eng=None) -> pd.DataFrame:
    a = run_assessment(Snapshot.from_records(records), eng or engagement(), AS_OF, only=[check_id])
    assert not a.errors, a.errors
    f = a.findings
    assert set(f["check_id"].astype(str)) <= {check_id}
    return f


def test_every_automated_check_has_a_case():
    assert sorted(CASES) == AUTOMATED


@pytest.mark.parametrize("check_id", AUTOMATED)
def test_check_passes(check_id):
    f = statuses(CASES[check_id][0], check_id)
    assert len(f) >= 1, "a pass case must produce at least one result"
    assert set(f["status"].astype(str)) == {"pass"}, f[["resource", "status"]]


@pytest.mark.parametrize("check_id", AUTOMATED)
def test_check_fails(check_id):
    f = statuses(CASES[check_id][1], check_id)
    assert (f["status"].astype(str) == "fail").any(), f[["resource", "status"]]


@pytest.mark.parametrize("check_id", AUTOMATED)
def test_check_not_assessed_under_coverage_gap(check_id):
    c = CATALOG[check_id]
    records = CASES[check_id][1]
    first = records[0]
    gap = CoverageGap(id=f"{first.store}::test", store=first.store, source=first.source,
                      tables=list(c.inputs), operation="LIST everything", reason="denied")
    f = statuses(records + [gap], check_id)
    assert len(f) >= 1
    assert set(f["status"].astype(str)) == {"not_assessed"}, f[["resource", "status"]]
    assert set(f["note"]) == {"coverage_gap"}


@pytest.mark.parametrize("check_id", MANUAL)
def test_manual_check_needs_attestation(check_id):
    c = CATALOG[check_id]
    f = statuses([], check_id)
    assert list(f["status"].astype(str)) == ["not_assessed"] and list(f["note"]) == ["manual"]
    value = 10.0 if c.thresholds[1:] else None
    f = statuses([], check_id, engagement(attestations=[attest(c.attestation, value=value)]))
    assert list(f["status"].astype(str)) == ["pass"]
    f = statuses([], check_id, engagement(attestations=[attest(c.attestation, age_days=800, value=value)]))
    assert list(f["status"].astype(str)) == ["fail"], "a stale attestation fails"


def test_time_to_revoke_above_target_fails_and_missing_value_is_not_assessed():
    f = statuses([], "OPS006", engagement(attestations=[attest("time_to_revoke", value=45)]))
    assert list(f["status"].astype(str)) == ["fail"]
    f = statuses([], "OPS006", engagement(attestations=[attest("time_to_revoke")]))
    assert list(f["status"].astype(str)) == ["not_assessed"]


def test_catalog_entries_are_complete_and_documented():
    assert len(CATALOG) >= 60
    names = [c.name for c in CATALOG.values()]
    assert len(names) == len(set(names))
    for c in CATALOG.values():
        doc = c.doc()
        assert c.id[:3] in {"INV", "VLT", "AWS", "SRC", "CI0", "AUD", "OPS", "LCY", "K8S", "GSM", "AZK"}
        assert doc["stage"] in STAGES and doc["checklist_item"] in CHECKLIST
        assert len(c.detects) > 20 and len(c.why) > 20 and len(c.fix) > 15, c.id
        for fw in ("soc2", "iso27001", "pci_dss", "nist_800_53"):
            assert doc["controls"][fw], (c.id, fw)
        assert c.inputs or c.manual
    # every checklist item, every stage and every seeded anti-pattern is evidenced by some check
    assert {c.checklist_item for c in CATALOG.values()} == set(CHECKLIST)
    assert {c.stage for c in CATALOG.values()} == set(STAGES)
    assert set(AP.values()) <= {c.anti_pattern for c in CATALOG.values()}
    assert set(CONTROLS)  # bundles exist


def test_aws_coverage_names_prowler_config_equivalents():
    refs = " ".join(r for c in CATALOG.values() for r in c.references)
    for needle in ("secretsmanager", "kms", "access-keys-rotated", "ssm_parameter", "acm"):
        assert needle in refs.lower(), needle


@pytest.mark.parametrize("which", ["empty", "pass", "fail"])
def test_no_check_raises_on_whole_estates(which):
    """All checks together over an empty snapshot and over every case merged (one record per id)."""
    records = {} if which == "empty" else {
        (type(r).table, r.id): r for cid in AUTOMATED for r in CASES[cid][0 if which == "pass" else 1]}
    a = run_assessment(Snapshot.from_records(list(records.values())), engagement(), AS_OF)
    assert not a.errors, a.errors
    assert set(a.findings["check_id"].astype(str)) >= set(MANUAL)


def test_history_check_is_not_assessed_when_history_was_not_scanned():
    from checks_cases import repo

    f = statuses([repo(history_scanned=False)], "SRC002")
    assert set(f["status"].astype(str)) == {"not_assessed"}
    f = statuses([repo(commits_scanned=5, commits_total=12)], "SRC002")
    assert set(f["status"].astype(str)) == {"not_assessed"}


def test_key_files_are_not_reported_as_env_files():
    from checks_cases import finding, repo

    key = finding("keys/id_rsa", category="file", detector="private-key-file")
    assert set(statuses([repo(), key], "SRC003")["status"].astype(str)) == {"pass"}
    assert "fail" in set(statuses([repo(), key], "SRC009")["status"].astype(str))
