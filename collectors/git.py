"""Source-control and CI collector: secrets in tree and history, risky files, CI credentials.

Reads one repository per git store, read-only: a local path is only read with
``git log`` / ``ls-tree`` / ``cat-file``; a clone URL is mirrored into a
temporary directory that is removed afterwards. What it writes:

- ``source_finding``: one row per distinct secret (deduplicated by keyed
  fingerprint across every commit and path it appears in, with first/last
  seen and whether it is still in HEAD's tree), one per risky file, one per
  build/deploy/CI rule hit. Never a value, never an unsalted hash.
- ``ci_config``: one row per GitHub Actions workflow / GitLab CI file.
- ``repository``: one row per repository with its hygiene facts.

History is scanned as a stream of added lines (``git log -p -U0``), split
into chunks of commits spread over worker processes; each worker runs its
own ``git log`` so diff generation is parallel too. Merge commits add no
lines of their own (``git log -p`` shows no merge diff); what a branch added
is seen in the branch's commits.

Detector catalog (``source_finding.detector``, by ``category``):

- ``secret``: a detect-secrets type (``AWS Access Key``, ``Private Key``,
  ``GitHub Token``, ``Secret Keyword``, ...) - one row per distinct value;
  ``detectors`` lists every plugin/rule that saw it.
- ``config_env``: ``env-literal`` (``.env`` ``NAME=value``), ``npmrc-credentials``,
  ``pypirc-credentials``, ``git-credentials``, ``pgpass-credentials`` - values
  only these rules see (detect-secrets wants quotes).
- ``file``: ``env-file``, ``private-key-file``, ``keystore-file``,
  ``credentials-file`` (committed now or ever), ``env-example-real-values``,
  ``env-not-ignored``.
- ``dockerfile``: ``dockerfile-secret-env``, ``dockerfile-secret-arg``,
  ``dockerfile-copy-secret-file``; ``compose``: ``compose-env-literal``;
  ``k8s``: ``k8s-secret-manifest`` (SealedSecret, ExternalSecret, SOPS are not);
  ``helm``: ``helm-values-literal``.
- ``ci``: ``ci-static-cloud-credentials``, ``ci-secrets-inherit``,
  ``ci-tojson-secrets``, ``ci-secret-echoed``, ``ci-variable-literal``.

Options (``ctx.options``): ``git_workers`` (default: usable cores),
``git_parallel_min_commits`` (150), ``git_clone_timeout`` (600 s),
``git_gated`` (True; False runs every detect-secrets plugin on every line).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import ClassVar

from collectors.base import CollectContext
from collectors.git_rules import (
    CiFacts,
    RuleHit,
    compose_rules,
    dockerfile_rules,
    env_example_rules,
    env_ignored,
    github_actions_rules,
    gitlab_ci_rules,
    helm_rules,
    is_compose,
    is_dockerfile,
    is_github_workflow,
    is_gitlab_ci,
    is_helm_values,
    is_encrypted_manifest,
    is_k8s_candidate,
    k8s_rules,
    precommit_scanners,
)
from collectors.git_scan import (
    ENV_EXAMPLE,
    GENERIC_DETECTORS,
    ChunkResult,
    Hit,
    file_kind,
    git_cmd,
    git_env,
    is_binary,
    public_prefix,
    read_blobs,
    scan_history_chunk,
    scan_tree_chunk,
)
from posture.model.engagement import GitStore
from posture.model.records import CiConfig, Repository, SourceFinding

TABLES = ["source_finding", "ci_config", "repository"]
REFS_LOOKUPS = 300
RULE_FILE_LIMIT = 2 * 1024 * 1024  # bytes; larger YAML/Dockerfiles are not config
URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://|^[\w.-]+@[\w.-]+:")


def redact_url(url: str) -> str:
    """Drop any user:password@ from a URL, so a token in a clone URL is never stored."""
    return re.sub(r"\b([a-z][a-z0-9+.-]*://)[^/@\s'\"]*@", r"\1***@", url)


class RepoUnavailable(Exception):
    def __init__(self, operation: str, reason: str, detail: str):
        super().__init__(detail)
        self.operation, self.reason, self.detail = operation, reason, detail


@dataclass
class SecretAgg:
    """One secret value (known only by fingerprint) across every place it was seen."""

    fingerprint: str
    detectors: set[str] = field(default_factory=set)
    first: tuple[int, str, str, int] | None = None  # (ts, commit, path, line)
    last_ts: int | None = None
    commits: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    variable: str | None = None
    prefix: str | None = None
    tree: tuple[str, int] | None = None

    def add(self, commit: str, ts: int, path: str, hit: Hit, prefix: str | None) -> None:
        self.detectors.add(hit.detector)
        self.variable = self.variable or hit.variable
        self.prefix = self.prefix or prefix
        self.paths.add(path)
        if commit:
            self.commits.add(commit)
            key = (ts, commit, path, hit.line)
            if self.first is None or key < self.first:
                self.first = key
            self.last_ts = max(self.last_ts or ts, ts)
        elif self.tree is None or (path, hit.line) < self.tree:
            self.tree = (path, hit.line)

    @property
    def detector(self) -> str:
        """Most telling detector: a detect-secrets type, then a posture rule, then a generic one."""
        def rank(d: str) -> tuple[int, str]:
            return (2 if d in GENERIC_DETECTORS else 1 if d[:1].islower() else 0, d)

        return min(self.detectors, key=rank)

    @property
    def category(self) -> str:
        rule_only = all(
            "-" in d and d[0].islower() for d in self.detectors
        )  # our rule names are kebab-case; detect-secrets names are Title Case
        return "config_env" if rule_only else "secret"


def _ts(ts: int | None) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts else None


class GitCollector:
    """Collector for one `GitStore` (local path or clone URL)."""

    source: ClassVar[str] = "git"
    version: ClassVar[str] = "1.0.0"

    def __init__(self, store: GitStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        self.url = redact_url(store.url)
        self.workers = int(ctx.options.get("git_workers") or _cpu_count())
        self.gated = bool(ctx.options.get("git_gated", True))
        self._ids: set[str] = set()
        self.lines_scanned = 0
        self.commits_scanned = 0

    # --- entry point -------------------------------------------------------------

    def run(self) -> None:
        try:
            if shutil.which("git") is None:
                raise RepoUnavailable("git --version", "unsupported", "the git command is not installed")
            with self._git_dir() as git_dir:
                self._collect(git_dir)
        except RepoUnavailable as e:
            self.ctx.sink.gap(
                store=self.store.name, source="git", tables=TABLES, scope=self.url,
                operation=e.operation, reason=e.reason, detail=redact_url(e.detail),
            )

    @contextmanager
    def _git_dir(self) -> Iterator[str]:
        url = self.store.url
        path = Path(url).expanduser()
        if not URL_RE.match(url) or path.exists():
            if not path.exists():
                raise RepoUnavailable("open", "not_found", f"{url}: no such directory")
            proc = subprocess.run(
                ["git", "-C", str(path), "rev-parse", "--absolute-git-dir"],
                capture_output=True, stdin=subprocess.DEVNULL,
                # never walk up into an enclosing repository: the path itself must be one
                env={**git_env(), "GIT_CEILING_DIRECTORIES": str(path.resolve().parent)},
            )
            out = proc.stdout.decode().strip() if proc.returncode == 0 else None
            if not out or not path.is_dir():
                why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
                hint = f" ({why[-1]})" if why and "dubious ownership" in why[-1] else ""
                raise RepoUnavailable("open", "not_found", f"{self.url}: not a git repository{hint}")
            yield out
            return
        tmp = tempfile.mkdtemp(prefix="posture-git-")
        try:
            target = os.path.join(tmp, "mirror.git")
            timeout = float(self.ctx.options.get("git_clone_timeout", 600))
            try:
                proc = subprocess.run(
                    ["git", "clone", "--mirror", "--quiet", "--", url, target],
                    capture_output=True, env=git_env(), timeout=timeout, stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                raise RepoUnavailable("git clone --mirror", "timeout",
                                      f"{self.url}: clone did not finish in {timeout:.0f}s") from None
            if proc.returncode != 0:
                msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
                raise RepoUnavailable(
                    "git clone --mirror", "unreachable",
                    f"{self.url}: cannot clone: {msg[-1] if msg else 'git clone failed'}",
                )
            yield target
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # --- collection ------------------------------------------------------------------

    def _collect(self, git_dir: str) -> None:
        store, ctx = self.store, self.ctx
        head = _run(git_dir, "rev-parse", "--verify", "-q", "HEAD^{commit}")
        head = head.strip() if head else None
        refs_out = _run(git_dir, "for-each-ref", "--format=%(refname)") or ""
        refs = [r for r in refs_out.splitlines() if r]
        tree = self._tree(git_dir, head) if head else []

        commits: list[str] = []
        total_commits = 0
        if head or refs:
            rev = ["--all"] if store.refs == "all" else ["HEAD"]
            limit = [f"--max-count={store.max_commits}"] if store.max_commits else []
            listing = _run(git_dir, "rev-list", "--no-merges", *limit, *rev)
            if listing is None:
                self._gap("git rev-list", "error", "cannot list commits")
            commits = (listing or "").split()
            total_commits = len(commits)
        if not store.history:
            commits = []

        aggs, file_events = self._scan(git_dir, commits, tree)
        tree_paths = {p for p, _ in tree}
        blobs = self._rule_blobs(git_dir, tree)
        rule_hits, ci_facts, env_ok, precommit = self._rules(blobs)

        flagged = {p for a in aggs.values() for p in a.paths}
        safe = {p for p, t in blobs.items() if p in flagged and is_k8s_candidate(p) and is_encrypted_manifest(t)}
        for fp, agg in list(aggs.items()):
            if agg.detectors <= set(GENERIC_DETECTORS) and agg.paths <= safe:
                del aggs[fp]  # ciphertext of a SealedSecret / SOPS file, not a leak
        self._emit_secrets(git_dir, aggs)
        self._emit_files(tree, tree_paths, file_events, blobs, aggs)
        self._emit_rules(rule_hits)
        if head and not env_ok:
            self._add_finding(SourceFinding(
                id=self._id(".gitignore", None, "#env-not-ignored"), store=store.name, source="git",
                repo=self.url, category="file", detector="env-not-ignored", path=".gitignore",
                in_tree=True, in_history_only=False,
                message=".env is not covered by the root .gitignore",
            ))
        for facts in ci_facts:
            ctx.sink.add(CiConfig(
                id=f"git:{store.name}:{facts.path}", store=store.name, source="git", repo=self.url,
                path=facts.path, provider=facts.provider, uses_oidc=facts.uses_oidc,
                static_cloud_credentials=facts.static_cloud_credentials,
                secrets_inherit=facts.secrets_inherit, to_json_secrets=facts.to_json_secrets,
                secrets_echoed=facts.secrets_echoed, secret_scanner=bool(facts.secret_scanners),
                secret_refs=facts.secret_refs, oidc_providers=facts.oidc_providers,
                id_token_write=facts.id_token_write, secret_scanners=facts.secret_scanners,
            ))
        secrets = [a for a in aggs.values()]
        ctx.sink.add(Repository(
            id=f"git:{store.name}", store=store.name, source="git", url=self.url, head=head,
            refs=len(refs), commits_scanned=self.commits_scanned, lines_scanned=self.lines_scanned,
            env_ignored=env_ok if head else None, precommit_scanner=bool(precommit),
            ci_scanner=any(f.secret_scanners for f in ci_facts),
            history_scanned=store.history, commits_total=total_commits,
            secrets_found=len(secrets), secrets_in_tree=sum(1 for a in secrets if a.tree),
            secret_scanners=sorted(set(precommit) | {s for f in ci_facts for s in f.secret_scanners}),
        ))

    def _gap(self, operation: str, reason: str, detail: str) -> None:
        self.ctx.sink.gap(store=self.store.name, source="git", tables=TABLES, scope=self.url,
                          operation=operation, reason=reason, detail=detail)

    def _tree(self, git_dir: str, head: str) -> list[tuple[str, str]]:
        out = _run(git_dir, "ls-tree", "-r", "-z", "--full-tree", head, raw=True)
        if out is None:
            self._gap("git ls-tree HEAD", "error", "cannot list HEAD's tree")
            return []
        entries = []
        for rec in out.split(b"\0"):
            if not rec:
                continue
            meta, _, path = rec.partition(b"\t")
            mode, kind, oid = meta.split()
            if kind == b"blob" and mode != b"120000":
                entries.append((path.decode("utf-8", "replace"), oid.decode()))
        return entries

    # --- the scan (tree + history), spread over processes ------------------------------

    def _scan(self, git_dir: str, commits: list[str], tree: list[tuple[str, str]]):
        aggs: dict[str, SecretAgg] = {}
        file_events: dict[str, tuple[int, str, str]] = {}  # path -> (ts, commit, kind)
        chunk = max(25, min(400, len(commits) // (self.workers * 6) + 1))
        history_tasks = [commits[i : i + chunk] for i in range(0, len(commits), chunk)]
        tree_chunk = max(20, len(tree) // (self.workers * 4) + 1)
        tree_tasks = [tree[i : i + tree_chunk] for i in range(0, len(tree), tree_chunk)]
        progress = self.ctx.progress
        task = progress.add_task(
            f"git {self.store.name}: {len(commits)} commits, {len(tree)} files",
            total=len(commits) + len(tree),
        ) if progress else None

        def merge(kind: str, res: ChunkResult, size: int) -> None:
            if res.error:
                self._gap("git log -p", "error", res.error)
            self.lines_scanned += res.lines
            self.commits_scanned += res.commits
            for commit, ts, path, hit in res.hits:
                fp = self.ctx.fingerprint(hit.value)
                agg = aggs.setdefault(fp, SecretAgg(fp))
                agg.add(commit, ts, path, hit, public_prefix(hit.value))
            for path, commit, ts, fkind in res.files:
                if path not in file_events or (ts, commit) < file_events[path][:2]:
                    file_events[path] = (ts, commit, fkind)
            res.hits.clear()  # drop raw values as soon as they are fingerprinted
            if progress and task is not None:
                progress.advance(task, size)

        # a process pool costs ~0.1 s per worker: not worth it for a small repository
        threshold = int(self.ctx.options.get("git_parallel_min_commits", 150))
        small = len(commits) < threshold and len(tree) < threshold * 20
        if self.workers <= 1 or small:
            jobs = [("tree", scan_tree_chunk, e) for e in tree_tasks]
            jobs += [("history", scan_history_chunk, cs) for cs in history_tasks]
            for kind, fn, part in jobs:
                try:
                    merge(kind, fn(git_dir, part, self.gated), len(part))
                except (OSError, ValueError) as e:  # a failed chunk is a gap, not a crash
                    self._gap(f"scan {kind} chunk", "error", f"{type(e).__name__}: {e}")
        else:
            # fork: workers inherit the imported scanner and need no importable __main__
            method = "fork" if "fork" in get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(max_workers=self.workers, mp_context=get_context(method)) as pool:
                futures = {pool.submit(scan_tree_chunk, git_dir, e, self.gated): ("tree", len(e)) for e in tree_tasks}
                futures.update({
                    pool.submit(scan_history_chunk, git_dir, cs, self.gated): ("history", len(cs))
                    for cs in history_tasks
                })
                for fut in as_completed(futures):
                    kind, size = futures[fut]
                    try:
                        merge(kind, fut.result(), size)
                    except Exception as e:  # noqa: BLE001 - a failed chunk is a gap, not a crash
                        self._gap(f"scan {kind} chunk", "error", f"{type(e).__name__}: {e}")
        return aggs, file_events

    # --- rule files of HEAD ------------------------------------------------------------

    def _rule_blobs(self, git_dir: str, tree: list[tuple[str, str]]) -> dict[str, str]:
        wanted = {}
        for path, oid in tree:
            base = path.rsplit("/", 1)[-1]
            if (
                is_dockerfile(path) or is_compose(path) or is_github_workflow(path) or is_gitlab_ci(path)
                or is_k8s_candidate(path) or ENV_EXAMPLE.search(path)
                or path in (".gitignore", ".pre-commit-config.yaml")
                or file_kind(path) in ("private-key-file", "credentials-file")
                or base == "Chart.yaml"
            ):
                wanted[oid] = wanted.get(oid, []) + [path]
        texts: dict[str, str] = {}
        for oid, data in read_blobs(git_dir, wanted):
            if len(data) > RULE_FILE_LIMIT or is_binary(data):
                continue
            for path in wanted[oid]:
                texts[path] = data.decode("utf-8", "replace")
        return texts

    def _rules(self, blobs: dict[str, str]) -> tuple[list[RuleHit], list[CiFacts], bool, list[str]]:
        hits: list[RuleHit] = []
        ci: list[CiFacts] = []
        for path, text in sorted(blobs.items()):
            if is_dockerfile(path):
                hits += dockerfile_rules(path, text)
            elif is_compose(path):
                hits += compose_rules(path, text)
            elif is_github_workflow(path):
                facts, h = github_actions_rules(path, text)
                ci.append(facts)
                hits += h
            elif is_gitlab_ci(path):
                facts, h = gitlab_ci_rules(path, text)
                ci.append(facts)
                hits += h
            elif ENV_EXAMPLE.search(path):
                hits += env_example_rules(path, text)
            elif is_helm_values(path):
                hits += helm_rules(path, text)
            elif is_k8s_candidate(path) and "Secret" in text and "kind" in text:
                hits += k8s_rules(path, text)
        ok = env_ignored(blobs.get(".gitignore"))
        pre = precommit_scanners(blobs[".pre-commit-config.yaml"]) if ".pre-commit-config.yaml" in blobs else []
        return hits, ci, ok, pre

    # --- records ------------------------------------------------------------------------

    def _id(self, path: str, line: int | None, suffix: str) -> str:
        base = f"git:{self.store.name}:{path}:{line or 0}{suffix}"
        rid, n = base, 1
        while rid in self._ids:
            n += 1
            rid = f"{base}.{n}"
        self._ids.add(rid)
        return rid

    def _add_finding(self, f: SourceFinding) -> None:
        self.ctx.sink.add(f)

    def _refs_containing(self, git_dir: str, commit: str, cache: dict[str, list[str]]) -> list[str]:
        if commit not in cache:
            out = _run(git_dir, "for-each-ref", "--contains", commit, "--format=%(refname)") or ""
            cache[commit] = [r for r in out.splitlines() if r][:20]
        return cache[commit]

    def _emit_secrets(self, git_dir: str, aggs: dict[str, SecretAgg]) -> None:
        cache: dict[str, list[str]] = {}
        ordered = sorted(aggs.values(), key=lambda a: (a.first or (0, "", "", 0), a.tree or ("", 0)))
        for n, agg in enumerate(ordered):
            in_tree = agg.tree is not None
            if agg.first:
                ts, commit, path, line = agg.first
                rid = self._id(path, line, f"@{commit[:12]}")
            else:
                ts, commit = 0, ""
                path, line = agg.tree  # type: ignore[misc]
                rid = self._id(path, line, "@HEAD")
            where = "still in HEAD" if in_tree else "in history only"
            self._add_finding(SourceFinding(
                id=rid, store=self.store.name, source="git", repo=self.url,
                category=agg.category, detector=agg.detector, path=path, line=line,
                commit=commit or None, author_date=_ts(ts), first_seen_commit=commit or None,
                first_seen_at=_ts(ts), last_seen_at=_ts(agg.last_ts),
                commits=len(agg.commits) or None, in_tree=in_tree, in_history_only=not in_tree,
                fingerprint=agg.fingerprint, variable=agg.variable, public_prefix=agg.prefix,
                # `--contains` walks history: bounded to the first REFS_LOOKUPS findings
                refs=self._refs_containing(git_dir, commit, cache) if commit and n < REFS_LOOKUPS else [],
                paths=sorted(agg.paths), detectors=sorted(agg.detectors),
                tree_path=agg.tree[0] if agg.tree else None, tree_line=agg.tree[1] if agg.tree else None,
                message=f"{agg.detector} {where}, added in {len(agg.commits)} commit(s)",
            ))

    def _emit_files(self, tree, tree_paths, file_events, blobs, aggs) -> None:
        key_paths = {p for a in aggs.values() if "Private Key" in a.detectors for p in a.paths}
        seen: dict[str, str] = {}
        for path, _ in tree:
            kind = file_kind(path)
            if kind and kind != "env-example":
                seen[path] = kind
        for path, (_, _, kind) in file_events.items():
            seen.setdefault(path, kind)
        for path, kind in sorted(seen.items()):
            in_tree = path in tree_paths
            if kind == "private-key-file" and not re.search(r"(^|/)id_(rsa|dsa|ecdsa|ed25519)$", path):
                text = blobs.get(path) if in_tree else None
                holds_key = ("PRIVATE KEY" in text) if text is not None else path in key_paths
                if not holds_key:
                    continue  # a certificate or public key with a .pem name
            if kind == "credentials-file" and in_tree:
                if not any(path in a.paths and a.tree for a in aggs.values()):
                    continue  # e.g. an .npmrc with only ${NPM_TOKEN}: fine
            if kind == "credentials-file" and not in_tree:
                if not any(path in a.paths for a in aggs.values()):
                    continue
            ev = file_events.get(path)
            ts, commit = (ev[0], ev[1]) if ev else (0, "")
            what = {
                "env-file": ".env file committed",
                "private-key-file": "private key committed",
                "keystore-file": "keystore committed",
                "credentials-file": "credentials file with credentials committed",
            }[kind]
            self._add_finding(SourceFinding(
                id=self._id(path, None, f"#{kind}"), store=self.store.name, source="git",
                repo=self.url, category="file", detector=kind, path=path,
                commit=commit or None, author_date=_ts(ts), first_seen_commit=commit or None,
                first_seen_at=_ts(ts), in_tree=in_tree, in_history_only=not in_tree,
                message=f"{what}; {'still in HEAD' if in_tree else 'deleted, still in history'}",
            ))

    def _emit_rules(self, hits: list[RuleHit]) -> None:
        for h in hits:
            fp = self.ctx.fingerprint(h.value) if h.value else None
            self._add_finding(SourceFinding(
                id=self._id(h.path, h.line, f"#{h.detector}"), store=self.store.name, source="git",
                repo=self.url, category=h.category, detector=h.detector, path=h.path, line=h.line,
                in_tree=True, in_history_only=False, fingerprint=fp, variable=h.variable,
                public_prefix=public_prefix(h.value) if h.value else None, message=h.message,
            ))


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _run(git_dir: str, *args: str, raw: bool = False, cwd: str | None = None):
    """Run a read-only git command; None on failure."""
    proc = subprocess.run(git_cmd(git_dir, *args), capture_output=True, env=git_env(),
                          stdin=subprocess.DEVNULL, cwd=cwd)
    if proc.returncode != 0:
        return None
    return proc.stdout if raw else proc.stdout.decode("utf-8", "replace")
