"""The site branch and the records of what was published on it.

The site is a local git repository at ``sites/CLIENT/``; mike commits each
quarter as a version directory on ``gh-pages``. Beside the versions the branch
holds its own record of every publication, which is authoritative: a quarter
is published if the branch lists it in ``versions.json``, holds its version
directory, or names it in the publish log; no local file can say otherwise::

    gh-pages:QUARTER/...                     the pages (mike)
    gh-pages:index.html, versions.json, latest/   entry points (mike)
    gh-pages:manifests/QUARTER.json(.sig)    signed manifest of each quarter
    gh-pages:manifests/publish-log.jsonl     every publication, with manifest hashes

Outside the branch, ``sites/CLIENT/.posture/`` keeps the local record (a copy
of each manifest and of the publish log), so a deleted or rewritten branch is
seen as tampering, never as "nothing published". Publishing holds an exclusive
`flock` on ``sites/CLIENT/.posture/publish.lock`` from the first read of the
branch to the last write of the records; verifying holds it shared.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from posture.model.errors import PostureError
from posture.workspace import QUARTER_RE, Workspace

BRANCH = "gh-pages"
ALIAS = "latest"
MANIFESTS = "manifests"
BRANCH_LOG = f"{MANIFESTS}/publish-log.jsonl"


def git_env() -> dict[str, str]:
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


def run(cmd: list[str], cwd: Path, what: str, check: bool = True, *,
        env: dict[str, str] | None = None, data: bytes | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env or git_env(), input=data, capture_output=True,
                          check=False)
    if check and proc.returncode != 0:
        lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        detail = next((ln for ln in reversed(lines) if "error" in ln.lower()), lines[-1] if lines else "")
        raise PostureError(f"{what} failed: {detail.strip()[:300]}")
    return proc


def git(args: list[str], repo: Path, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
    return run(["git", *args], repo, f"git {args[0]}", check=check, **kw)


def ensure_repo(repo: Path) -> None:
    """Make ``repo`` a git repository; a failed `git init` (a full disk) leaves no ``.git`` behind."""
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".git-init-", dir=repo) as staging:
            git(["init", "-q", "-b", "main"], Path(staging))
            os.replace(Path(staging) / ".git", repo / ".git")


# --- the local record ------------------------------------------------------------------------


def state_dir(ws: Workspace) -> Path:
    return ws.site_dir / ".posture"


def manifest_path(ws: Workspace, quarter: str) -> Path:
    """The local copy of a quarter's manifest (the signed original is on the branch)."""
    return state_dir(ws) / "manifests" / f"{quarter}.json"


def publish_log_path(ws: Workspace) -> Path:
    return state_dir(ws) / "publish-log.jsonl"


def parse_log(text: str, where: str) -> list[dict[str, Any]]:
    """Publish-log lines; a line that is not a JSON object is tampering, named with its number."""
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            raise PostureError(f"{where}:{n}: not a publish-log entry")
        entries.append(entry)
    return entries


def local_log(ws: Workspace) -> list[dict[str, Any]]:
    p = publish_log_path(ws)
    return parse_log(p.read_text(encoding="utf-8"), str(p)) if p.exists() else []


def log_text(entries: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in entries)


@contextmanager
def site_lock(ws: Workspace, *, exclusive: bool, console: Console | None = None) -> Iterator[None]:
    """Hold the site's lock: exclusive to publish, shared to verify (which only reads).

    Two publishes at once each read ``versions.json`` before either commits,
    and the second commit drops the first quarter; the lock makes them take turns.
    """
    path = state_dir(ws) / "publish.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if console is not None:
                console.print(f"waiting for another publish of {ws.client} to finish", markup=False)
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # releases the lock


# --- the branch ------------------------------------------------------------------------------


@dataclass
class SiteState:
    """What the branch says was published (at one commit), and what of it could not be read."""

    head: str | None
    top: list[str] = field(default_factory=list)
    versions: list[dict[str, Any]] | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def quarters(self) -> list[str]:
        listed = {v.get("version") for v in self.versions or []}
        logged = {e.get("quarter") for e in self.log}
        return sorted(q for q in set(self.top) | listed | logged
                      if isinstance(q, str) and QUARTER_RE.match(q))

    @property
    def entry_points(self) -> list[str]:
        """Top-level names that are neither a version nor the manifests: index.html, versions.json, latest/..."""
        return [n for n in self.top if n != MANIFESTS and not QUARTER_RE.match(n)]

    def last_entry(self, quarter: str | None = None) -> dict[str, Any] | None:
        entries = [e for e in self.log if quarter is None or e.get("quarter") == quarter]
        return entries[-1] if entries else None


def read_blob(repo: Path, commit: str, path: str) -> bytes | None:
    proc = git(["cat-file", "blob", f"{commit}:{path}"], repo, check=False)
    return proc.stdout if proc.returncode == 0 else None


def read_site(ws: Workspace) -> SiteState:
    """The branch's head and its own record of published quarters (versions.json, publish log)."""
    repo = ws.site_dir
    if not (repo / ".git").exists():
        return SiteState(head=None)
    proc = git(["rev-parse", "--verify", "-q", f"refs/heads/{BRANCH}^{{commit}}"], repo, check=False)
    if proc.returncode != 0:
        return SiteState(head=None)
    state = SiteState(head=proc.stdout.decode().strip())
    state.top = git(["ls-tree", "-z", "--name-only", state.head], repo).stdout.decode(
        "utf-8", "surrogateescape").split("\0")[:-1]
    raw = read_blob(repo, state.head, "versions.json")
    try:
        versions = json.loads(raw) if raw is not None else None
    except ValueError:
        versions = None
    if isinstance(versions, list) and all(isinstance(v, dict) for v in versions):
        state.versions = versions
    else:
        state.problems.append("versions.json is " + ("missing" if raw is None else "not mike's version list"))
    raw = read_blob(repo, state.head, BRANCH_LOG)
    if raw is not None:
        try:
            state.log = parse_log(raw.decode("utf-8", "replace"), f"{BRANCH}:{BRANCH_LOG}")
        except PostureError as e:
            state.problems.append(str(e))
    return state


def published_quarters(ws: Workspace) -> list[str]:
    """Every quarter the branch records as published, by any of its three records."""
    return read_site(ws).quarters


def read_publish_log(ws: Workspace) -> list[dict[str, Any]]:
    """The site's publish log (the branch's, which is authoritative)."""
    return read_site(ws).log


def record_conflicts(ws: Workspace, site: SiteState) -> list[str]:
    """Where the local record and the branch disagree: the branch lost or rewrote publications.

    The local log may lag the branch by the last entries (a publish killed
    between the two writes); anything else means the branch was changed by hand.
    """
    local = local_log(ws)
    if site.head is None:
        return [f"the site branch {BRANCH} is gone, but {len(local)} publication(s) are recorded in "
                f"{publish_log_path(ws)}"] if local else []
    if local != site.log[:len(local)]:
        n = next((i for i, (a, b) in enumerate(zip(local, site.log)) if a != b), len(site.log))
        return [f"the branch's publish log differs from the local record {publish_log_path(ws)} "
                f"from entry {n + 1} on (publications removed or rewritten)"]
    return []


def tree_digests(repo: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """SHA-256 of every file under ``paths`` at ``commit`` (one git archive)."""
    if not paths:
        return {}
    proc = git(["archive", "--format=tar", commit, "--", *paths], repo, check=False)
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


def commit_files(repo: Path, files: dict[str, bytes], message: str) -> str:
    """Add ``files`` on top of the branch in one commit (plumbing: the work tree is never touched)."""
    parent = git(["rev-parse", BRANCH], repo).stdout.decode().strip()
    with tempfile.TemporaryDirectory(prefix="posture-index-") as tmp:
        env = {**git_env(), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(["read-tree", parent], repo, env=env)
        for path, data in files.items():
            blob = git(["hash-object", "-w", "--stdin"], repo, env=env, data=data).stdout.decode().strip()
            git(["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], repo, env=env)
        tree = git(["write-tree"], repo, env=env).stdout.decode().strip()
        commit = git(["commit-tree", tree, "-p", parent, "-m", message], repo, env=env).stdout.decode().strip()
        git(["update-ref", f"refs/heads/{BRANCH}", commit, parent], repo, env=env)
    return commit
