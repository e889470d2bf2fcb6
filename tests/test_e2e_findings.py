"""End to end: real OpenBao + moto + git estates -> collect -> assess -> key findings.

Uses the estate modules (posture/estates/*) with the canaries planted, the
real collectors, and `posture assess` through the CLI; then checks that the
planted problems surface as failing findings, that the good items pass, and
that no canary reached any file the kit wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CANARIES, assert_no_canary
from ruamel.yaml import YAML
from vault_fixtures import vault_estate  # noqa: F401 - session fixture

from posture.cli import main
from posture.demo.estates import aws as aws_estate
from posture.demo.estates import git as git_estate

pytestmark = pytest.mark.slow


@pytest.fixture
def assessed(workspace: Path, openbao, vault_estate, aws_env, tmp_path_factory, monkeypatch):  # noqa: F811
    repos = git_estate.seed_git_estate(tmp_path_factory.mktemp("repos"), CANARIES)
    aws_estate.seed(aws_env.endpoint_url, CANARIES)
    monkeypatch.setenv("VAULT_ADDR", openbao.address)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    doc = {
        "client": "acme",
        "stores": {
            "vault": [{"name": "core", "address": openbao.address, "audit_logs": [str(openbao.audit_log("file"))]}],
            "aws": [{"name": "main", "regions": ["us-east-1"], "endpoint_url": aws_env.endpoint_url}],
            "git": [{"name": "payments-api", "url": str(repos.payments)}],
        },
        "classification": {
            "owners": [{"owner": "payments-team", "pager": "#payments-oncall", "match": ["*payments*"]}],
        },
        "attestations": [{"item": "leak_playbook", "evidence": "https://wiki.acme.test/leak", "owner": "security",
                          "date": "2026-10-01"}],
    }
    path = workspace / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True)
    YAML().dump(doc, path)
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    assert main(["assess", "acme", "--quarter", "2026-Q4", "--as-of", "2026-11-20", "--no-notebooks"]) == 0
    adir = workspace / "evidence" / "acme" / "2026-Q4" / "assessment"
    findings = json.loads((adir / "findings.json").read_text())["findings"]
    return workspace, adir, findings


def statuses(findings, check_id, needle=""):
    return {f["status"] for f in findings if f["check_id"] == check_id and needle in f["resource"]}


def test_estate_to_findings(assessed):
    workspace, adir, findings = assessed
    by_source = {f["source"] for f in findings}
    assert {"vault", "aws", "git", "engagement"} <= by_source
    # Vault: the dev server is neither HA nor auto-unsealed, but has two audit devices
    assert statuses(findings, "VLT001") == {"fail"}
    assert statuses(findings, "VLT003") == {"fail"}
    assert statuses(findings, "VLT005") == {"pass"}
    # planted Vault problems
    assert "fail" in statuses(findings, "VLT006")  # wildcard policy
    assert "fail" in statuses(findings, "VLT016")  # legacy KV v1 mount
    assert "fail" in statuses(findings, "VLT010")  # long-TTL / never-expiring tokens
    assert "fail" in statuses(findings, "LCY001")  # overdue rotation
    # AWS: rotation, keys, OIDC trust
    assert "fail" in statuses(findings, "AWS006") or "fail" in statuses(findings, "AWS001")
    assert "fail" in statuses(findings, "AWS008")
    # git: planted leaks in the tree and in CI
    assert "fail" in statuses(findings, "SRC001")
    assert any(f["check_id"].startswith("CI") and f["status"] == "fail" for f in findings)
    # manual evidence: attested -> pass, the rest not assessed
    assert statuses(findings, "OPS003") == {"pass"}
    assert statuses(findings, "OPS001") == {"not_assessed"}
    scores = json.loads((adir / "scores.json").read_text())
    assert scores["overall"]["grade"] in ("C", "D", "F")
    sarif = json.loads((adir / "findings.sarif").read_text())
    assert sarif["runs"][0]["results"]
    from trestle.oscal.assessment_results import AssessmentResults

    assert AssessmentResults.oscal_read(adir / "oscal-assessment-results.json").results[0].findings
    cards = json.loads((adir / "leak_cards.json").read_text())
    assert any(c["pager"] == "#payments-oncall" for c in cards)
    assert_no_canary(workspace)
