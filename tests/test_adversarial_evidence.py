"""Issue #12, evidence integrity and workflow honesty: each break reproduced, then held.

Against the real pieces: mike and git for the site (a published two-quarter
site from `sitekit`, copied before it is attacked), the real OpenBao dev server
for every collection, OpenSSL for a verifier that holds only the public key.
Tampering is done the way a person with write access to the site repository
would do it: a checkout of the site branch, an edit, a commit.

5. concurrent publishes lose a quarter; the branch's record is authoritative
6. verify checks the entry points, the publish log's hashes and a deleted branch
7. a stale assessment is neither published nor verified; re-collecting keeps the snapshot
8. every quarter is signed; a verifier without the private key can check it
9. nothing to collect is an error
12. a future quarter needs --as-of
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import assert_no_canary
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sitekit import build_snapshot, copy_workspace, published_ws  # noqa: F401  (fixture)
from vault_fixtures import make_token, put_policy, vault_estate, write_engagement  # noqa: F401

from posture.cli import main
from posture.model.errors import IntegrityError, PostureError
from posture.site import export_site, publish, published_quarters, read_publish_log, verify
from posture.site.branch import BRANCH, publish_log_path
from posture.site.signing import PRIVATE_NAME, PUBLIC_NAME, public_pem
from posture.workspace import Workspace, current_quarter

Q3, Q4 = "2026-Q3", "2026-Q4"
CLI = "import sys; from posture.cli import main; sys.exit(main(sys.argv[1:]))"


# --- helpers ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-c", "user.name=mallory", "-c", "user.email=m@example.test", *args],
                          cwd=repo, check=True, capture_output=True).stdout


def _head(ws: Workspace) -> str:
    return _git(ws.site_dir, "rev-parse", BRANCH).decode().strip()


def tamper(ws: Workspace, files: dict[str, bytes], message: str = "tamper") -> None:
    """Commit ``files`` (path -> new content) on the site branch from a checkout, as a person would."""
    repo = ws.site_dir
    _git(repo, "checkout", "-q", BRANCH)
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
        _git(repo, "add", "--", name)
    _git(repo, "commit", "-qm", message)


def branch_file(ws: Workspace, name: str) -> bytes:
    return _git(ws.site_dir, "show", f"{BRANCH}:{name}")


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    return err


@pytest.fixture
def site(published_ws, tmp_path, monkeypatch) -> Workspace:  # noqa: F811
    """A private copy of the published two-quarter site; POSTURE_HOME points at it."""
    ws = copy_workspace(published_ws, tmp_path / "ws")
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    return ws


# --- 5. concurrent publishes; the branch's record is authoritative ---------------------------


def _stderr_lines(proc: subprocess.Popen, lines: queue.Queue) -> None:
    for raw in proc.stderr:
        lines.put((proc.pid, raw.decode("utf-8", "replace")))


def test_two_concurrent_publishes_both_land(site):
    """Two `posture publish` processes for two quarters at once: both quarters end up published.

    Before the lock, each read versions.json before either committed and the
    second commit dropped the first quarter (both exited 0). The test holds the
    site's lock until both processes wait on it, then lets them race for it.
    """
    shutil.rmtree(site.site_dir)
    lock_path = site.site_dir / ".posture" / "publish.lock"
    lock_path.parent.mkdir(parents=True)
    env = dict(os.environ, POSTURE_HOME=str(site.root))
    lines: queue.Queue = queue.Queue()
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        procs = [subprocess.Popen([sys.executable, "-c", CLI, "publish", "acme", "-q", q], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for q in (Q3, Q4)]
        readers = [threading.Thread(target=_stderr_lines, args=(p, lines), daemon=True) for p in procs]
        for t in readers:
            t.start()
        waiting: set[int] = set()
        seen: list[str] = []
        deadline = time.monotonic() + 300
        while waiting != {p.pid for p in procs}:
            try:
                pid, line = lines.get(timeout=1)
            except queue.Empty:
                gone = [p.args[-1] for p in procs if p.poll() is not None]
                assert not gone and time.monotonic() < deadline, (
                    f"publish {gone or '(timeout)'} did not wait for the site lock: {''.join(seen)}")
                continue
            seen.append(line)
            if "waiting for another publish of acme" in line:
                waiting.add(pid)
        fcntl.flock(lock, fcntl.LOCK_UN)
    codes = [p.wait(timeout=600) for p in procs]
    for t in readers:
        t.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get()[1])
    assert codes == [0, 0], "".join(seen)
    assert published_quarters(site) == [Q3, Q4]
    versions = {v["version"]: v["aliases"] for v in json.loads(branch_file(site, "versions.json"))}
    assert versions == {Q3: [], Q4: ["latest"]}
    assert sorted(e["quarter"] for e in read_publish_log(site)) == [Q3, Q4]
    assert [r.quarter for r in verify(site)] == [Q3, Q4]


def test_a_quarter_on_the_branch_is_not_published_again_whatever_the_local_files_say(site, capsys):
    """The branch's record decides: without the local record, and with versions.json losing the
    quarter (the state the race left), publishing it again still needs --force."""
    head = _head(site)
    shutil.rmtree(site.site_dir / ".posture")
    with pytest.raises(PostureError, match="already published"):
        publish(site, Q3)
    versions = [v for v in json.loads(branch_file(site, "versions.json")) if v["version"] != Q3]
    tamper(site, {"versions.json": json.dumps(versions).encode()}, "the race's versions.json")
    assert Q3 in published_quarters(site)  # its version directory and the publish log still say so
    with pytest.raises(PostureError, match="already published"):
        publish(site, Q3)
    assert main(["verify", "acme"]) == 5
    assert "versions.json does not list 2026-Q3" in one_line_error(capsys)
    assert _git(site.site_dir, "rev-parse", f"{BRANCH}~1").decode().strip() == head


# --- 6. the entry points, the publish log, a deleted branch ----------------------------------


def _redirect_to(target: str) -> bytes:
    return (f'<!DOCTYPE html><html><head><meta http-equiv="refresh" content="1; url={target}" />'
            f'<script>window.location.replace("{target}")</script></head>'
            f'<body><a href="{target}">{target}</a></body></html>').encode()


@pytest.mark.parametrize("name, rewrite, expected", [
    ("latest/index.html", lambda data: _redirect_to("https://evil.example/"),
     "latest/index.html redirects to https://evil.example/, not ../2026-Q4/"),
    ("latest/index.html", lambda data: data.replace(b"2026-Q4", b"2026-Q3"),
     "latest/index.html redirects to ../2026-Q3/, not ../2026-Q4/"),
    ("index.html", lambda data: data.replace(b"Redirecting to", b"Moved to"),
     "entry point index.html changed"),
    ("index.html", lambda data: _redirect_to("2026-Q3/"), "index.html redirects to 2026-Q3/, not latest/"),
    ("versions.json", lambda data: json.dumps([{"version": Q4, "title": Q4, "aliases": []},
                                               {"version": Q3, "title": Q3, "aliases": ["latest"]}]).encode(),
     "versions.json gives 2026-Q4 the aliases [], not ['latest']"),
])
def test_verify_checks_the_entry_points(site, capsys, name, rewrite, expected):
    """What a reader opens first (the root page, latest/, versions.json) is verified like a page."""
    assert main(["verify", "acme"]) == 0
    capsys.readouterr()
    tamper(site, {name: rewrite(branch_file(site, name))})
    assert main(["verify", "acme"]) == 5
    assert expected in one_line_error(capsys)


def test_a_page_edited_together_with_its_manifest_does_not_verify(site, capsys):
    """Rewriting a page and every hash of it (manifest, local copy, both publish logs) breaks the
    signature; re-signing with another key is not the engagement's key."""
    page = f"{Q4}/index.html"
    forged_page = branch_file(site, page).replace(b"Top risks", b"No risks")
    manifest = json.loads(branch_file(site, f"manifests/{Q4}.json"))
    manifest["site"][page] = hashlib.sha256(forged_page).hexdigest()
    forged = json.dumps(manifest, indent=1, sort_keys=True).encode()
    log = read_publish_log(site)
    log[-1]["new_manifest_sha256"] = hashlib.sha256(forged).hexdigest()
    log_text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in log).encode()
    tamper(site, {page: forged_page, f"manifests/{Q4}.json": forged, "manifests/publish-log.jsonl": log_text})
    publish_log_path(site).write_bytes(log_text)
    (site.site_dir / ".posture" / "manifests" / f"{Q4}.json").write_bytes(forged)
    assert main(["verify", "acme", Q4]) == 5
    assert f"manifests/{Q4}.json: the signature does not verify" in one_line_error(capsys)

    mallory = Ed25519PrivateKey.generate()
    tamper(site, {f"manifests/{Q4}.json.sig": mallory.sign(forged),
                  f"{Q4}/signing-key.pem": public_pem(mallory.public_key())})
    assert main(["verify", "acme", Q4]) == 5
    assert "the signature does not verify with the engagement's key" in one_line_error(capsys)


def test_an_older_signed_manifest_put_back_is_caught_by_the_publish_log(site, capsys):
    """A forced republish, then the old pages with their old (validly signed) manifest restored:
    only the publish log's hash tells the manifest is not the current one."""
    before = _head(site)
    publish(site, Q3, force=True)
    verify(site)
    repo = site.site_dir
    _git(repo, "checkout", "-q", BRANCH)
    _git(repo, "rm", "-rq", "--", Q3)
    _git(repo, "checkout", before, "--", Q3, f"manifests/{Q3}.json", f"manifests/{Q3}.json.sig")
    _git(repo, "commit", "-qm", "the old Q3 back")
    assert main(["verify", "acme", Q3]) == 5
    assert f"manifests/{Q3}.json is not the manifest the publish log records" in one_line_error(capsys)


def test_deleting_the_site_branch_is_tampering_not_nothing_published(site, capsys):
    _git(site.site_dir, "branch", "-D", BRANCH)
    assert main(["verify", "acme"]) == 5
    err = one_line_error(capsys)
    assert f"the site branch {BRANCH} is gone" in err and "deleted" in err
    assert main(["publish", "acme", "-q", Q3]) == 5  # not onto a site that lost its history
    assert "changed outside posture" in one_line_error(capsys)
    shutil.rmtree(site.site_dir)  # the local record with it: the engagement's key still tells
    assert main(["verify", "acme"]) == 5
    assert "the published evidence was deleted" in one_line_error(capsys)


def test_a_publication_removed_from_the_branch_log_is_seen(site, capsys):
    log = branch_file(site, "manifests/publish-log.jsonl").splitlines(keepends=True)
    tamper(site, {"manifests/publish-log.jsonl": log[-1]})
    assert main(["verify", "acme"]) == 5
    assert "differs from the local record" in one_line_error(capsys)


def test_a_page_slipped_in_beside_the_manifests_is_seen(site, capsys):
    tamper(site, {"manifests/login.html": b"<form action='https://evil.example/'></form>"})
    assert main(["verify", "acme"]) == 5
    assert "manifests/login.html is not a manifest of a published quarter" in one_line_error(capsys)


# --- 7. stale assessments; re-collecting ----------------------------------------------------


def test_a_stale_assessment_is_refused_and_recollecting_keeps_the_snapshot(
        openbao, vault_estate, workspace, monkeypatch, capsys, tmp_path):  # noqa: F811
    """collect (with a token that cannot see the KV metadata), assess, collect again: the second
    collect keeps the first snapshot; forced, it replaces it, and the old assessment is refused."""
    put_policy(openbao, "adversarial-evidence-partial", (
        'path "auth/token/lookup-self" { capabilities = ["read"] }\n'
        'path "sys/mounts" { capabilities = ["read"] }\n'))
    partial = make_token(openbao, ["adversarial-evidence-partial"])
    write_engagement(workspace, openbao.address)
    q = current_quarter()
    ws = Workspace.resolve("acme")
    monkeypatch.setenv("VAULT_TOKEN", partial)
    assert main(["collect", "acme", "-q", q]) == 0
    assert main(["assess", "acme", "-q", q, "--no-notebooks"]) == 0
    first = (ws.snapshot_dir(q) / "manifest.json").read_bytes()
    capsys.readouterr()

    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    assert main(["collect", "acme", "-q", q]) == 1
    assert "already has a snapshot" in (err := one_line_error(capsys)) and "kept it" in err
    assert (ws.snapshot_dir(q) / "manifest.json").read_bytes() == first

    assert main(["collect", "acme", "-q", q, "--force"]) == 0
    assert f"replacing the {q} snapshot" in capsys.readouterr().err
    assert (ws.snapshot_dir(q) / "manifest.json").read_bytes() != first
    assert main(["publish", "acme", "-q", q]) == 5
    assert "the assessment was made from another snapshot" in one_line_error(capsys)
    assert not ws.site_dir.exists()

    assert main(["assess", "acme", "-q", q]) == 0  # with the notebooks
    assert main(["publish", "acme", "-q", q]) == 0
    assert main(["verify", "acme"]) == 0
    assert_no_canary(workspace, extra=(openbao.root_token, partial))


def test_verify_follows_the_chain_from_snapshot_to_pages(site, capsys):
    """The snapshot replaced after publishing: the evidence changed and the assessment no longer
    belongs to it, both named."""
    build_snapshot(site, Q4, fixed=False)
    assert main(["verify", "acme", Q4]) == 5
    err = one_line_error(capsys)
    assert "evidence snapshot/manifest.json changed" in err
    assert "the assessment was made from another snapshot" in err
    verify(site, Q3)  # the other quarter's chain is intact


# --- 8. signatures ---------------------------------------------------------------------------


def test_each_quarter_is_signed_and_checks_without_the_private_key(site, tmp_path, capsys):
    key_dir = site.engagement_dir
    private = key_dir / PRIVATE_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert PRIVATE_NAME in (key_dir / ".gitignore").read_text().splitlines()
    exported = export_site(site, tmp_path / "export")
    secret = private.read_bytes()
    assert not [p for p in exported.rglob("*") if p.is_file() and (
        b"PRIVATE KEY" in p.read_bytes() or secret.strip() in p.read_bytes())]
    public = (key_dir / PUBLIC_NAME).read_bytes()
    fingerprint = json.loads(branch_file(site, f"manifests/{Q4}.json"))["signing_key"]
    for q in (Q3, Q4):
        assert (exported / q / "signing-key.pem").read_bytes() == public
        page = (exported / q / "manifest" / "index.html").read_text()
        assert fingerprint in page and "BEGIN PUBLIC KEY" in page

    private.unlink()
    assert main(["verify", "acme"]) == 0
    if shutil.which("openssl"):  # a verifier with nothing but the exported site and OpenSSL
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(exported / Q4 / "signing-key.pem"),
                              "-outform", "DER"], check=True, capture_output=True).stdout
        assert fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()
        assert _openssl_verifies(exported, Q4)

    forged = branch_file(site, f"manifests/{Q4}.json").replace(b'"user": "', b'"user": "x')
    tamper(site, {f"manifests/{Q4}.json": forged})
    assert main(["verify", "acme"]) == 5
    assert "signature does not verify" in one_line_error(capsys)
    if shutil.which("openssl"):
        assert not _openssl_verifies(export_site(site, tmp_path / "export"), Q4)
    with pytest.raises(IntegrityError, match="restore the private key"):
        publish(site, Q3, force=True)  # a new key would orphan every signed quarter


def _openssl_verifies(exported: Path, quarter: str) -> bool:
    return subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                           str(exported / quarter / "signing-key.pem"), "-rawin",
                           "-in", str(exported / "manifests" / f"{quarter}.json"),
                           "-sigfile", str(exported / "manifests" / f"{quarter}.json.sig")],
                          capture_output=True, check=False).returncode == 0


# --- 9. nothing to collect; 12. a future quarter ---------------------------------------------


def test_collect_with_nothing_to_collect_is_an_error(openbao, workspace, monkeypatch, capsys):
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    path = workspace / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("client: acme\n")
    assert main(["collect", "acme"]) == 2
    assert "no stores configured" in one_line_error(capsys)
    write_engagement(workspace, openbao.address)
    assert main(["collect", "acme", "-s", "core", "-s", "nope"]) == 2
    assert "--store 'nope': no such store" in (err := one_line_error(capsys)) and "stores: core" in err
    assert not (workspace / "evidence").exists()


def test_a_future_quarter_needs_as_of(openbao, workspace, monkeypatch, capsys):
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    write_engagement(workspace, openbao.address)
    year = datetime.now(UTC).year + 1
    future = f"{year}-Q1"
    assert main(["collect", "acme", "-q", future]) == 2
    assert f"{future} has not started" in (err := one_line_error(capsys)) and "--as-of" in err
    assert main(["collect", "acme", "-q", future, "--as-of", f"{year}-04-01"]) == 2
    assert f"is not a day of {future}" in one_line_error(capsys)
    assert not (workspace / "evidence").exists()
    assert main(["collect", "acme", "-q", future, "--as-of", date(year, 1, 4).isoformat()]) == 0
    assert f"collecting {future} before it starts, for {year}-01-04" in capsys.readouterr().err
    assert (workspace / "evidence" / "acme" / future / "snapshot" / "manifest.json").is_file()
