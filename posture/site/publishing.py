"""Publish, export, serve and verify a client's versioned evidence site.

The site lives in a local git repository at ``sites/CLIENT/``; mike commits
each quarter as a version directory on the ``gh-pages`` branch (no remote is
needed), with ``latest`` as a redirect alias and the Material version selector.

Evidence is immutable: mike silently overwrites an existing version, so
`publish` refuses a quarter that is already on the branch unless ``force`` is
given, and a forced republish is appended to the publish log with who, when
and the old and new manifest hashes. At each publication the SHA-256 of every
evidence file and every published page is recorded in
``sites/CLIENT/.posture/manifests/QUARTER.json``; `verify` re-hashes both.
"""

from __future__ import annotations

import getpass
import hashlib
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from ruamel.yaml import YAML

from posture import assets
from posture.model.errors import ConfigError, IntegrityError, PostureError
from posture.model.fsutil import atomic_directory, atomic_write_text, sha256_file
from posture.site.pages import build_docs, evidence_artefacts
from posture.workspace import Workspace, parse_quarter

BRANCH = "gh-pages"
ALIAS = "latest"



def base_config_path() -> Path:
    """The shipped base ``mkdocs.yml`` (or ``$POSTURE_MKDOCS_BASE``)."""
    return Path(os.environ.get("POSTURE_MKDOCS_BASE") or assets.mkdocs_base())


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # mike runs `mkdocs` from PATH: make it this interpreter's (the venv may not be activated)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("NO_MKDOCS_2_WARNING", "1")
    # mike commits with git; a CI runner may have no identity configured.
    env.setdefault("GIT_AUTHOR_NAME", "posture")
    env.setdefault("GIT_AUTHOR_EMAIL", "posture@localhost")
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    return env


def _run(cmd: list[str], cwd: Path, what: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=_git_env(), capture_output=True, check=False)
    if check and proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        detail = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
        raise PostureError(f"{what} failed: {detail.strip()[:300]}")
    return proc


def _git(args: list[str], repo: Path, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["git", *args], repo, f"git {args[0]}", check=check)


def ensure_repo(repo: Path) -> None:
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        _git(["init", "-q", "-b", "main"], repo)


def published_versions(ws: Workspace) -> list[dict[str, Any]]:
    """The branch's ``versions.json`` (what mike has deployed), or ``[]``."""
    repo = ws.site_dir
    if not (repo / ".git").exists():
        return []
    proc = _git(["show", f"{BRANCH}:versions.json"], repo, check=False)
    if proc.returncode != 0:
        return []
    return json.loads(proc.stdout)


def published_quarters(ws: Workspace) -> list[str]:
    return sorted(v["version"] for v in published_versions(ws))


def _state_dir(ws: Workspace) -> Path:
    return ws.site_dir / ".posture"


def manifest_path(ws: Workspace, quarter: str) -> Path:
    return _state_dir(ws) / "manifests" / f"{quarter}.json"


def publish_log_path(ws: Workspace) -> Path:
    return _state_dir(ws) / "publish-log.jsonl"


def read_publish_log(ws: Workspace) -> list[dict[str, Any]]:
    p = publish_log_path(ws)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


def write_config(ws: Workspace, quarter: str, docs_dir: Path, nav: list[Any], dest: Path) -> Path:
    """The client's mkdocs.yml: the base config with its docs_dir, nav and names."""
    yaml = YAML(typ="safe")
    base = base_config_path()
    if not base.exists():
        raise ConfigError(f"{base}: the base mkdocs.yml is missing")
    cfg = yaml.load(base.read_text(encoding="utf-8"))
    theme = dict(cfg.get("theme") or {})
    if theme.get("custom_dir"):
        theme["custom_dir"] = str((base.parent / theme["custom_dir"]).resolve())
    theme["font"] = False
    cfg.update({
        "site_name": f"{ws.client}: secrets posture evidence",
        "docs_dir": str(docs_dir),
        "site_dir": str(dest.parent / "site-build"),
        "theme": theme,
        "nav": nav,
    })
    cfg.pop("exclude_docs", None)
    cfg.setdefault("extra", {}).setdefault("version", {})["provider"] = "mike"
    buf = io.StringIO()
    YAML().dump(cfg, buf)
    dest.write_text(buf.getvalue(), encoding="utf-8")
    return dest


def static_dir() -> Path:
    yaml = YAML(typ="safe")
    base = base_config_path()
    cfg = yaml.load(base.read_text(encoding="utf-8")) if base.exists() else {}
    return base.parent / str((cfg or {}).get("docs_dir", "."))


@dataclass
class PublishResult:
    quarter: str
    repo: Path
    commit: str
    manifest_sha256: str
    forced: bool
    replaced_manifest_sha256: str | None
    files: int


def _branch_files(repo: Path, prefix: str) -> dict[str, str]:
    """SHA-256 of every file under ``prefix/`` on the site branch (via git archive)."""
    proc = subprocess.run(["git", "archive", "--format=tar", BRANCH, prefix], cwd=repo,
                          capture_output=True, env=_git_env(), check=False)
    if proc.returncode != 0:
        return {}
    out: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for m in tar.getmembers():
            if m.isfile():
                f = tar.extractfile(m)
                assert f is not None
                out[m.name] = hashlib.sha256(f.read()).hexdigest()
    return out


def _ensure_notebooks(ws: Workspace, quarter: str, console: Console) -> None:
    nb = ws.notebooks_dir(quarter)
    if not nb.exists() or not any(nb.glob("*.ipynb")):
        from posture.notebooks import run_all

        run_all(ws, quarter, console)


def _check_assessment(ws: Workspace, quarter: str) -> None:
    """The assessment must exist and match its own manifest before it is published."""
    adir = ws.assessment_dir(quarter)
    if not (adir / "findings.json").exists():
        raise PostureError(f"{adir}: no assessment (run 'posture assess {ws.client} --quarter {quarter}')")
    mpath = adir / "manifest.json"
    if not mpath.exists():
        return
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    for name, entry in (manifest.get("files") or {}).items():
        p = adir / name
        if not p.exists() or sha256_file(p) != entry.get("sha256"):
            raise IntegrityError(f"{p}: does not match the assessment manifest; re-run 'posture assess'")


def publish(ws: Workspace, quarter: str, force: bool = False,
            console: Console | None = None) -> PublishResult:
    """Build the quarter's site and deploy it with mike as version QUARTER (+ ``latest``)."""
    console = console or Console(stderr=True)
    quarter = parse_quarter(quarter)
    _check_assessment(ws, quarter)
    existing = published_quarters(ws)
    old_manifest = manifest_path(ws, quarter)
    if quarter in existing and not force:
        raise PostureError(
            f"{ws.client} {quarter} is already published and published evidence is immutable "
            "(use --force to republish; it is recorded in the publish log)"
        )
    _ensure_notebooks(ws, quarter, console)
    repo = ws.site_dir
    ensure_repo(repo)
    history = read_publish_log(ws)
    with tempfile.TemporaryDirectory(prefix="posture-site-") as tmpname:
        tmp = Path(tmpname)
        with console.status(f"building the {quarter} site"):
            docs = build_docs(ws, quarter, tmp / "docs", static=static_dir(),
                              published=existing, history=history)
            cfg = write_config(ws, quarter, docs.root, docs.nav, tmp / "mkdocs.yml")
        with console.status(f"deploying {quarter} with mike"):
            # `latest` follows the newest quarter, not the one published last
            aliases = [ALIAS] if quarter >= max(existing + [quarter]) else []
            message = f"posture publish {ws.client} {quarter}{' (forced)' if force else ''}"
            _run([sys.executable, "-m", "posture.site._deploy", str(cfg), quarter, BRANCH,
                  message, *aliases], repo, "mike deploy")
    commit = _git(["rev-parse", BRANCH], repo).stdout.decode().strip()
    site_files = _branch_files(repo, quarter)
    record = {
        "client": ws.client,
        "quarter": quarter,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "user": _user(),
        "commit": commit,
        "evidence": docs.artefacts,
        "site": site_files,
    }
    text = json.dumps(record, indent=1, sort_keys=True)
    new_sha = hashlib.sha256(text.encode()).hexdigest()
    old_sha = sha256_file(old_manifest) if old_manifest.exists() else None
    atomic_write_text(old_manifest, text)
    entry = {
        "time": record["published_at"],
        "user": record["user"],
        "quarter": quarter,
        "action": "republish (--force)" if quarter in existing else "publish",
        "old_manifest_sha256": old_sha,
        "new_manifest_sha256": new_sha,
        "commit": commit,
    }
    log = publish_log_path(ws)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
    return PublishResult(quarter, repo, commit, new_sha, quarter in existing, old_sha, len(site_files))


@dataclass
class VerifyResult:
    quarter: str
    checked: int
    changes: list[str]


def verify(ws: Workspace, quarter: str | None = None) -> list[VerifyResult]:
    """Re-hash evidence and published pages against the recorded manifests.

    Raises `IntegrityError` (one line, listing the first changes) on any
    mismatch; returns one result per quarter otherwise.
    """
    quarters = [parse_quarter(quarter)] if quarter else published_quarters(ws)
    if not quarters:
        raise PostureError(f"{ws.client}: nothing is published yet (run 'posture publish')")
    results = []
    for q in quarters:
        mpath = manifest_path(ws, q)
        if not mpath.exists():
            raise IntegrityError(f"{ws.client} {q}: no recorded manifest at {mpath}")
        rec = json.loads(mpath.read_text(encoding="utf-8"))
        changes: list[str] = []
        now = evidence_artefacts(ws, q)
        for name, entry in sorted(rec.get("evidence", {}).items()):
            cur = now.get(name)
            if cur is None:
                changes.append(f"evidence {name} is missing")
            elif cur["sha256"] != entry["sha256"]:
                changes.append(f"evidence {name} changed")
        for name in sorted(set(now) - set(rec.get("evidence", {}))):
            changes.append(f"evidence {name} was added")
        site = _branch_files(ws.site_dir, q)
        for name, digest in sorted(rec.get("site", {}).items()):
            if name not in site:
                changes.append(f"page {name} is missing")
            elif site[name] != digest:
                changes.append(f"page {name} changed")
        for name in sorted(set(site) - set(rec.get("site", {}))):
            changes.append(f"page {name} was added")
        results.append(VerifyResult(q, len(rec.get("evidence", {})) + len(rec.get("site", {})), changes))
    bad = [(r.quarter, c) for r in results for c in r.changes]
    if bad:
        shown = "; ".join(f"{q}: {c}" for q, c in bad[:5])
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        raise IntegrityError(f"{ws.client}: {len(bad)} artefact(s) differ from the recorded "
                             f"manifest: {shown}{more}")
    return results


def export_site(ws: Workspace, dest: Path) -> Path:
    """Write every published version as a plain folder (atomic), for any static host."""
    repo = ws.site_dir
    if not published_quarters(ws):
        raise PostureError(f"{ws.client}: nothing is published yet (run 'posture publish')")
    dest = dest.resolve()
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir())
                                                and not (dest / "versions.json").exists())):
        raise ConfigError(f"{dest}: exists and is not an earlier export; choose an empty or new folder")
    proc = subprocess.run(["git", "archive", "--format=tar", BRANCH], cwd=repo,
                          capture_output=True, env=_git_env(), check=False)
    if proc.returncode != 0:
        raise PostureError(f"git archive failed: {proc.stderr.decode('utf-8', 'replace').strip()[:300]}")
    with atomic_directory(dest) as tmp, tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(tmp, filter="data")
    return dest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_directory(root: Path, port: int = 8000, host: str = "127.0.0.1"
                    ) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``root`` on loopback (search and the version selector need HTTP)."""
    handler = partial(_QuietHandler, directory=str(root))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve(ws: Workspace, port: int = 8000, console: Console | None = None) -> None:
    """Export to a temporary folder and serve it until interrupted."""
    console = console or Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="posture-serve-") as tmp:
        root = export_site(ws, Path(tmp) / "site")
        try:
            server = serve_directory(root, port)
        except OSError as e:
            raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
        console.print(f"serving {ws.client}'s site at http://127.0.0.1:{server.server_port}/ "
                      "(Ctrl-C to stop)")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            thread.join()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            server.server_close()
