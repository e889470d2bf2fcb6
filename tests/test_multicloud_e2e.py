"""A multi-cloud client end to end: Azure Key Vault, GCP Secret Manager, Kubernetes and a declared
inventory in one engagement, through every stage a consultant runs.

No Azure, GCP or Kubernetes API server runs offline, so each official SDK is driven through its own
HTTP transport against the loopback servers of the per-store tests, which answer with responses
built from the vendor's published API reference (tests/azure_api.py: Azure Key Vault REST 7.5 and
Azure Resource Manager; tests/gcp_api.py: Secret Manager v1, Resource Manager v3, Cloud KMS v1;
tests/k8s_api.py: Kubernetes API v1.30), deserialised by the SDKs' own models. ``collect``,
``assess`` with the notebooks, ``plan rotation``, ``inventory --export``, ``publish`` and
``verify`` run through the CLI; canary values planted in every store never reach any file.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from azure_api import AZURE_CANARIES, SUB
from conftest import assert_no_canary
from gcp_api import GcpApiServer, rsa_service_account
from k8s_api import CANARIES as K8S_CANARIES
from k8s_api import KubeApiServer
from test_azure_collector import start as start_azure
from test_gcp_collector import DEV, GCP_CANARIES, PROD
from test_gcp_collector import estate as gcp_estate

from posture.cli import main
from posture.workspace import current_quarter

pytestmark = pytest.mark.slow
INVENTORY_CANARY = "CANARY-3f9b7d21-declared-row-value"


def _run(mp: pytest.MonkeyPatch, *argv: str) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    mp.setattr(sys, "stdout", out)
    mp.setattr(sys, "stderr", err)
    rc = main(list(argv))
    mp.undo()
    return rc, out.getvalue() + err.getvalue()


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The three loopback servers, their credentials in the environment, and the engagement."""
    root = tmp_path / "ws"
    eng_dir = root / "engagements" / "globex"
    eng_dir.mkdir(parents=True)
    (tmp_path / "azure").mkdir()
    azure = start_azure(tmp_path / "azure")
    gcp = GcpApiServer(gcp_estate()).start()
    gcp.public_pem = rsa_service_account(tmp_path / "gcp.json", gcp.token_uri, PROD)["public_pem"]
    with KubeApiServer() as kube:
        kubeconfig = kube.kubeconfig(eng_dir / "kubeconfig")
        for k, v in azure.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "gcp.json"))
        monkeypatch.setenv("POSTURE_HOME", str(root))
        (eng_dir / "declared.csv").write_text(
            "id,name,secret_class,consumers,storage_today,rotation_frequency,owner_team,environment,"
            "last_rotated,expires,pager\n"
            "partner-api,Partner billing API key,api-key,billing-worker,wiki page,90d,team-billing,prod,"
            "2026-01-05,,billing-oncall\n"
            "hsm-signing,Release signing key,signing-key,release pipeline,CloudHSM,never,,prod,,,\n")
        (eng_dir / "engagement.yaml").write_text(
            "client: globex\nstores:\n"
            f"  azure:\n    - name: keyvaults\n      subscriptions: ['{SUB}']\n"
            f"      management_endpoint: {azure.management}\n      concurrency: 4\n"
            f"  gcp:\n    - name: secret-manager\n      projects: [{PROD}, {DEV}]\n"
            f"      locations: [us-central1]\n      endpoint: {gcp.url}\n      concurrency: 2\n"
            f"  kubernetes:\n    - name: cluster\n      kubeconfig: {kubeconfig.name}\n"
            "      secret_metadata: true\n      timeout: 5\n"
            "  inventory:\n    - name: declared\n      path: declared.csv\n"
            "classification:\n  owners:\n    - match: ['*payments*']\n      owner: team-payments\n"
            "      pager: payments-oncall\n")
        try:
            yield root
        finally:
            azure.stop()
            gcp.stop()


def test_multicloud_client_collects_assesses_plans_publishes_and_verifies(estate: Path):
    q = current_quarter(date.today())
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "collect", "globex", "-q", q)
    assert rc == 0, text
    snapshot = estate / "evidence" / "globex" / q / "snapshot"
    stores = json.loads((snapshot / "manifest.json").read_text())["stores"]
    assert stores == {"keyvaults": "azure", "secret-manager": "gcp", "cluster": "kubernetes",
                      "declared": "inventory"}
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "assess", "globex", "-q", q)  # with the notebooks
    assert rc == 0, text
    adir = estate / "evidence" / "globex" / q / "assessment"
    findings = json.loads((adir / "findings.json").read_text())["findings"]
    by_source: dict[str, set[str]] = {}
    for f in findings:
        by_source.setdefault(f["source"], set()).add(f["check_id"][:3])
    # each store is scored by its own checks and by the generic inventory/lifecycle ones
    assert {"AZK", "INV", "LCY"} <= by_source["azure"]
    assert {"GSM", "INV", "LCY"} <= by_source["gcp"]
    assert {"K8S", "INV"} <= by_source["kubernetes"]
    assert {"INV", "LCY"} <= by_source["inventory"]
    # no audit log of these stores is read: audit signals are unknown, and the reason says why
    aud = [f for f in findings if f["check_id"] == "AUD001" and f["source"] == "azure"]
    assert aud and {f["status"] for f in aud} == {"not_assessed"}
    assert "does not read the Azure Monitor diagnostic log" in json.dumps(aud)
    inventory = json.loads((adir / "inventory.json").read_text())
    rows = inventory if isinstance(inventory, list) else inventory["rows"]
    assert {r["source"] for r in rows} >= {"azure", "gcp", "kubernetes", "inventory"}
    declared = [r for r in rows if r["source"] == "inventory"]
    assert declared and all(r["provenance"] == "declared" for r in declared)
    assert all(r["provenance"] == "observed" for r in rows if r["source"] != "inventory")
    # each store's leak card names its own CLI, never another store's
    cards = json.loads((adir / "leak_cards.json").read_text())
    steps: dict[str, list[str]] = {}
    for c in cards:
        steps.setdefault(c["source"], []).append(c["revoke_first"])
    assert any("az keyvault secret" in s for s in steps["azure"]), steps["azure"]
    assert any("gcloud secrets versions" in s for s in steps["gcp"]), steps["gcp"]
    assert not any(w in s for src in ("azure", "gcp") for s in steps[src] for w in ("bao ", "aws ", "kubectl"))
    # who can read an Azure/GCP/declared secret is not computed per item: the card says so, never "nobody"
    for c in cards:
        if c["source"] in ("azure", "gcp", "inventory"):
            assert c["readers_unknown"] and not c["principals_can_read"], c
    assert any("see AZK006 and AZK007" in c["readers_unknown"] for c in cards if c["source"] == "azure")
    executed = sorted(p.name for p in (estate / "evidence" / "globex" / q / "notebooks").glob("*.ipynb"))
    assert len(executed) >= 7, executed

    ics = estate / "globex.ics"
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "plan", "rotation", "globex", "-q", q, "--format", "json", "--ics", str(ics))
    assert rc == 0, text
    plan = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert {i["store"] for i in plan["items"]} & {"keyvaults", "secret-manager", "declared"}
    assert ics.read_text().startswith("BEGIN:VCALENDAR")
    export = estate / "inventory-export.csv"
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "inventory", "globex", "-q", q, "--export", str(export))
    assert rc == 0, text
    assert "partner-api" in export.read_text()

    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "publish", "globex", "-q", q)
    assert rc == 0, text
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "verify", "globex", q)
    assert rc == 0, text
    site = estate / "site-export"
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _run(mp, "export-site", "globex", str(site))
    assert rc == 0, text
    pages = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    assert any("/checks/azk001/" in p.lower() for p in pages), sorted(pages)[:20]
    html = "\n".join(p.read_text() for p in site.rglob("*.html"))
    for needle in ("kv-payments-prod", "Partner billing API key", "Rotation calendar"):
        assert needle in html, needle

    canaries = (*AZURE_CANARIES, *GCP_CANARIES, *K8S_CANARIES, INVENTORY_CANARY)
    assert assert_no_canary(estate, extra=canaries) > 50
