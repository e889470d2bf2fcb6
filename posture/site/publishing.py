"""Publish, export and serve a client's versioned evidence site.

The site lives in a local git repository at ``sites/CLIENT/``; mike commits
each quarter as a version directory on the ``gh-pages`` branch (no remote is
needed), with ``latest`` as a redirect alias and the Material version selector
(`posture.site.branch` describes the branch and its records).

Evidence is immutable: mike silently overwrites an existing version, so
`publish` refuses a quarter the branch already records unless ``force`` is
given, and a forced republish is appended to the publish log with who, when
and the old and new manifest hashes. Only an assessment made from the current
snapshot is published. At each publication the SHA-256 of every evidence file,
every page of the quarter and every entry point of the site is recorded in the
quarter's manifest, signed with the engagement's key (`posture.site.signing`);
`posture verify` (`posture.site.verify`) re-checks all of it.
"""

from __future__ import annotations

import getpass
import hashlib
import http.server
import io
import json
import os
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
from posture.model.fsutil import (
    atomic_directory,
    atomic_write_bytes,
    atomic_write_text,
    sha256_file,
)
from posture.site import signing
from posture.site.branch import (
    ALIAS,
    BRANCH,
    BRANCH_LOG,
    MANIFESTS,
    commit_files,
    ensure_repo,
    git,
    log_text,
    manifest_path,
    publish_log_path,
    published_quarters,
    read_site,
    record_conflicts,
    run,
    site_lock,
    tree_digests,
)
from posture.site.pages import SigningKeyInfo, build_docs
from posture.site.verify import chain_problems
from posture.workspace import Workspace, parse_quarter


def base_config_path() -> Path:
    """The shipped base ``mkdocs.yml`` (or ``$POSTURE_MKDOCS_BASE``)."""
    return Path(os.environ.get("POSTURE_MKDOCS_BASE") or assets.mkdocs_base())


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
    signing_key: str  # fingerprint of the public key that verifies it


def _ensure_notebooks(ws: Workspace, quarter: str, console: Console) -> None:
    nb = ws.notebooks_dir(quarter)
    if not nb.exists() or not any(nb.glob("*.ipynb")):
        from posture.notebooks import run_all

        run_all(ws, quarter, console)


def _refuse_broken_chain(ws: Workspace, quarter: str) -> dict[str, str]:
    """Publish only an assessment that exists, is intact, and was made from the current snapshot."""
    adir = ws.assessment_dir(quarter)
    if not (adir / "findings.json").exists():
        raise PostureError(f"{adir}: no assessment (run 'posture assess {ws.client} --quarter {quarter}')")
    problems = chain_problems(ws, quarter)
    if problems:
        raise IntegrityError(f"{ws.client} {quarter}: {problems[0]}")
    return {"snapshot_manifest_sha256": sha256_file(ws.snapshot_dir(quarter) / "manifest.json"),
            "assessment_manifest_sha256": sha256_file(adir / "manifest.json")}


def publish(ws: Workspace, quarter: str, force: bool = False,
            console: Console | None = None) -> PublishResult:
    """Build the quarter's site, deploy it with mike as version QUARTER (+ ``latest``), sign it.

    Holds the site's lock throughout, so concurrent publishes take turns
    instead of dropping each other's quarter.
    """
    console = console or Console(stderr=True)
    quarter = parse_quarter(quarter)
    chain = _refuse_broken_chain(ws, quarter)
    repo = ws.site_dir
    with site_lock(ws, exclusive=True, console=console):
        ensure_repo(repo)
        site = read_site(ws)
        changed = site.problems + record_conflicts(ws, site)
        if changed:
            raise IntegrityError(f"{ws.client}: the site was changed outside posture ({changed[0]}); "
                                 f"run 'posture verify {ws.client}'")
        existing = site.quarters
        if quarter in existing and not force:
            raise PostureError(
                f"{ws.client} {quarter} is already published and published evidence is immutable "
                "(use --force to republish; it is recorded in the publish log)"
            )
        _ensure_notebooks(ws, quarter, console)
        key, new_key = signing.signing_key(ws)
        public = SigningKeyInfo(signing.public_pem(key.public_key()).decode("ascii"),
                                signing.key_fingerprint(key.public_key()))
        message = f"posture publish {ws.client} {quarter}{' (forced)' if force else ''}"
        with tempfile.TemporaryDirectory(prefix="posture-site-") as tmpname:
            tmp = Path(tmpname)
            with console.status(f"building the {quarter} site"):
                docs = build_docs(ws, quarter, tmp / "docs", static=static_dir(),
                                  published=existing, history=site.log, signing_key=public)
                cfg = write_config(ws, quarter, docs.root, docs.nav, tmp / "mkdocs.yml")
            with console.status(f"deploying {quarter} with mike"):
                # `latest` follows the newest quarter, not the one published last
                aliases = [ALIAS] if quarter >= max(existing + [quarter]) else []
                run([sys.executable, "-m", "posture.site._deploy", str(cfg), quarter, BRANCH,
                     message, *aliases], repo, "mike deploy")
        deployed = git(["rev-parse", BRANCH], repo).stdout.decode().strip()
        if new_key:
            signing.save_key(ws, key)
        site_files = tree_digests(repo, deployed, [quarter])
        record = {
            "client": ws.client,
            "quarter": quarter,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "user": _user(),
            "commit": deployed,
            "evidence": docs.artefacts,
            "site": site_files,
            "root": tree_digests(repo, deployed, read_site(ws).entry_points),
            "chain": chain,
            "signing_key": public.fingerprint,
        }
        data = json.dumps(record, indent=1, sort_keys=True).encode("utf-8")
        new_sha = hashlib.sha256(data).hexdigest()
        previous = site.last_entry(quarter)
        old_sha = previous.get("new_manifest_sha256") if previous else None
        log = [*site.log, {
            "time": record["published_at"],
            "user": record["user"],
            "quarter": quarter,
            "action": "republish (--force)" if quarter in existing else "publish",
            "old_manifest_sha256": old_sha,
            "new_manifest_sha256": new_sha,
            "commit": deployed,
            "signing_key": public.fingerprint,
        }]
        head = commit_files(repo, {
            f"{MANIFESTS}/{quarter}.json": data,
            f"{MANIFESTS}/{quarter}.json.sig": key.sign(data),
            BRANCH_LOG: log_text(log).encode("utf-8"),
        }, f"{message}: signed manifest")
        atomic_write_bytes(manifest_path(ws, quarter), data)
        atomic_write_text(publish_log_path(ws), log_text(log))
    return PublishResult(quarter, repo, head, new_sha, quarter in existing, old_sha, len(site_files),
                         public.fingerprint)


def export_site(ws: Workspace, dest: Path) -> Path:
    """Write every published version as a plain folder (atomic), for any static host."""
    repo = ws.site_dir
    if not published_quarters(ws):
        raise PostureError(f"{ws.client}: nothing is published yet (run 'posture publish')")
    dest = dest.resolve()
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir())
                                                and not (dest / "versions.json").exists())):
        raise ConfigError(f"{dest}: exists and is not an earlier export; choose an empty or new folder")
    proc = git(["archive", "--format=tar", BRANCH], repo, check=False)
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
