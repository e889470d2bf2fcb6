"""The versioned evidence site: publish, immutability, verify, export, escaping, offline."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest
from conftest import assert_no_canary
from sitekit import (  # noqa: F401  (published_ws is a fixture)
    HOSTILE_LINK,
    HOSTILE_SCRIPT,
    SEARCHABLE,
    copy_workspace,
    make_workspace,
    published_ws,
)

from posture.cli import main
from posture.model.errors import IntegrityError, PostureError
from posture.site import (
    export_site,
    publish,
    published_quarters,
    read_publish_log,
    serve_directory,
    verify,
)
from posture.site.publishing import BRANCH, manifest_path

Q3, Q4 = "2026-Q3", "2026-Q4"


@pytest.fixture(scope="module")
def exported(published_ws, tmp_path_factory) -> Path:
    return export_site(published_ws, tmp_path_factory.mktemp("export") / "site")


def test_two_quarters_are_versions_with_latest_on_the_newest(published_ws, exported):
    assert published_quarters(published_ws) == [Q3, Q4]
    versions = json.loads((exported / "versions.json").read_text())
    by = {v["version"]: v for v in versions}
    assert set(by) == {Q3, Q4}
    assert by[Q4]["aliases"] == ["latest"] and by[Q3]["aliases"] == []
    assert "2026-Q4" in (exported / "latest" / "index.html").read_text()  # redirect alias
    for q in (Q3, Q4):
        assert (exported / q / "index.html").exists()
        assert (exported / q / "search" / "search_index.json").exists()
    log = read_publish_log(published_ws)
    assert [e["action"] for e in log] == ["publish", "publish"]


def test_pages_cover_the_contract(published_ws, exported):
    site = exported / Q4
    for page in ("inventory", "findings/stage-1", "findings/stage-5", "findings/environments",
                 "findings/owners", "access-model", "rotation-plan", "leak-response",
                 "coverage-gaps", "waivers", "checks", "downloads", "manifest",
                 "notebooks/executive-summary", "notebooks/stage-3-lifecycle"):
        assert (site / page / "index.html").exists(), page
    catalog = json.loads((published_ws.assessment_dir(Q4) / "catalog.json").read_text())
    for entry in catalog:
        page = site / "checks" / entry["id"].lower() / "index.html"
        assert page.exists(), entry["id"]
    for name in ("findings.csv", "findings.json", "findings.sarif", "oscal-assessment-results.json"):
        assert (site / "downloads" / name).read_bytes() == (published_ws.assessment_dir(Q4) / name).read_bytes()
    scores = json.loads((published_ws.assessment_dir(Q4) / "scores.json").read_text())
    overview = (site / "index.html").read_text()
    assert f'id="posture-score">{scores["overall"]["score"]}<' in overview
    # trend lists both quarters on the newer overview, only the first on the older one
    assert "2026-Q3" in overview and "<svg" in overview
    assert "Coverage gaps: part of the estate was not assessed" in overview
    # missing attestations are reported apart from coverage gaps, with their own count
    findings = json.loads((published_ws.assessment_dir(Q4) / "findings.json").read_text())["findings"]
    manual = sum(1 for f in findings if f["status"] == "not_assessed"
                 and str(f["evidence"].get("not_assessed_reason", "")).startswith("manual"))
    assert manual and f"{manual} check(s) need an attestation" in overview
    assert SEARCHABLE in (site / "inventory" / "index.html").read_text()
    # notebook pages: inputs hidden, pandas/dataframe styling stripped, images local
    nb = (site / "notebooks" / "stage-1-inventory" / "index.html").read_text()
    assert "import json" not in nb and 'class="dataframe"' not in nb and 'border="1"' not in nb
    assert re.search(r'<img[^>]+src="[^"]*stage-1-inventory_files/[^"]+\.png"', nb)
    manifest = json.loads((site / "evidence-manifest.json").read_text())
    assert "assessment/findings.json" in manifest["artefacts"]
    assert_no_canary(exported)


def test_hostile_names_render_as_text(exported):
    bad = []
    for html in (exported / Q3).rglob("*.html"):
        text = html.read_text()
        if HOSTILE_SCRIPT in text or 'href="javascript:' in text.lower() or "<script>alert" in text:
            bad.append(html)
    assert bad == []
    inv = (exported / Q3 / "inventory" / "index.html").read_text()
    assert "&lt;script&gt;alert&#40;1&#41;&lt;/script&gt;" in inv
    assert "&#91;x&#93;&#40;javascript:alert&#40;1&#41;&#41;" in inv
    owners = (exported / Q3 / "findings" / "owners" / "index.html").read_text()
    assert "javascript:alert" in owners and "<a href=\"javascript" not in owners


_ATTR_URL = re.compile(r'(?:src|href|action|srcset|poster|data|formaction|content)\s*=\s*"([^"]*https?://[^"]*)"', re.IGNORECASE)
_CSS_URL = re.compile(r'(?:url\(\s*[\'"]?|@import\s+[\'"])(https?://[^\'")]+)', re.IGNORECASE)
_LOCAL = re.compile(r"https?://(127\.0\.0\.1|localhost)(:\d+)?(/|$)")
_XMLNS = re.compile(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"')


def test_no_external_url_is_loaded_or_linked(exported):
    """No HTML attribute or CSS url() points off the site; our own JS has no URL at all."""
    offenders = []
    for p in exported.rglob("*"):
        if p.suffix == ".html":
            text = _XMLNS.sub("", p.read_text())
            offenders += [(p, u) for u in _ATTR_URL.findall(text) if not _LOCAL.match(u)]
        elif p.suffix == ".css":
            offenders += [(p, u) for u in _CSS_URL.findall(p.read_text()) if not _LOCAL.match(u)]
    assert offenders == []
    for js in exported.rglob("posture.js"):
        assert "http" not in js.read_text()
    assert not list(exported.rglob("*.woff2")) and "fonts.googleapis" not in "".join(
        p.read_text() for p in (exported / Q4).glob("*.html"))


def test_republish_is_refused_without_force_and_recorded_with_it(published_ws, tmp_path, capsys):
    ws = copy_workspace(published_ws, tmp_path / "ws")
    head = subprocess.run(["git", "rev-parse", BRANCH], cwd=ws.site_dir, capture_output=True,
                          text=True, check=True).stdout
    with pytest.raises(PostureError, match="already published"):
        publish(ws, Q3)
    assert subprocess.run(["git", "rev-parse", BRANCH], cwd=ws.site_dir, capture_output=True,
                          text=True, check=True).stdout == head
    old = manifest_path(ws, Q3).read_bytes()
    result = publish(ws, Q3, force=True)
    assert result.forced and result.replaced_manifest_sha256
    log = read_publish_log(ws)
    last = log[-1]
    assert last["action"] == "republish (--force)" and last["quarter"] == Q3
    assert last["old_manifest_sha256"] == result.replaced_manifest_sha256
    assert last["new_manifest_sha256"] == result.manifest_sha256 and last["user"]
    assert manifest_path(ws, Q3).read_bytes() != old
    # the latest alias still points at the newest quarter
    assert published_quarters(ws) == [Q3, Q4]
    verify(ws)


def test_cli_publish_refusal_is_one_line(published_ws, tmp_path, monkeypatch, capsys):
    ws = copy_workspace(published_ws, tmp_path / "ws")
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    assert main(["publish", "acme", "--quarter", Q4]) == 1
    err = capsys.readouterr().err
    assert "already published" in err and "--force" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_verify_detects_tampered_evidence_and_pages(published_ws, tmp_path, monkeypatch, capsys):
    ws = copy_workspace(published_ws, tmp_path / "ws")
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    assert main(["verify", "acme"]) == 0
    assert "unchanged" in capsys.readouterr().out
    # evidence tampered on disk
    findings = ws.assessment_dir(Q3) / "findings.json"
    findings.write_text(findings.read_text().replace('"fail"', '"pass"'))
    with pytest.raises(IntegrityError, match=r"2026-Q3: evidence assessment/findings.json changed"):
        verify(ws, Q3)
    assert main(["verify", "acme", Q3]) == 5
    err = capsys.readouterr().err
    assert "findings.json changed" in err and "Traceback" not in err
    verify(ws, Q4)  # the other quarter is intact
    # a published page rewritten on the site branch
    repo = ws.site_dir
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)
    run("checkout", "-q", BRANCH)
    page = repo / Q4 / "index.html"
    page.write_text(page.read_text().replace("Top risks", "No risks"))
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "tamper")
    with pytest.raises(IntegrityError, match=r"2026-Q4: page 2026-Q4/index.html changed"):
        verify(ws, Q4)


def test_publish_without_assessment_is_refused(tmp_path):
    ws = make_workspace(tmp_path)
    with pytest.raises(PostureError, match="no assessment"):
        publish(ws, Q3)
    assert not ws.site_dir.exists()


def test_export_site_refuses_a_foreign_folder_and_replaces_an_earlier_export(published_ws, tmp_path):
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(PostureError, match="not an earlier export"):
        export_site(published_ws, foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    dest = tmp_path / "out"
    export_site(published_ws, dest)
    (dest / "stale.html").write_text("x")
    export_site(published_ws, dest)
    assert not (dest / "stale.html").exists() and (dest / Q4 / "index.html").exists()
    with pytest.raises(PostureError, match="nothing is published"):
        export_site(make_workspace(tmp_path / "empty"), tmp_path / "out2")


def test_served_over_http(exported):
    server = serve_directory(exported, 0)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{base}/versions.json") as r:
            assert {v["version"] for v in json.load(r)} == {Q3, Q4}
        with urllib.request.urlopen(f"{base}/{Q4}/search/search_index.json") as r:
            assert SEARCHABLE in r.read().decode()
    finally:
        server.shutdown()
        server.server_close()
