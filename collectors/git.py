"""Source-control and CI collector: secrets in tree and history, risky files, CI credentials.

Reads one repository per git store, read-only: a local path is only read with
``git log`` / ``ls-tree`` / ``cat-file``; a clone URL is mirrored into a
temporary directory that is removed afterwards. What it writes:

- ``source_finding``: one row per (secret value, file, line): HEAD's line for
  a value still in the tree (with the commits that added it there), the line
  and commit of its first appearance for a value only in history
  (`collectors.git_findings`); one per risky file, one per build/deploy/CI
  rule hit. Each row carries its ``context`` (production, test_fixture,
  documentation, vendored: `collectors.git_context`). Never a value, never an
  unsalted hash; per-value views group rows by ``fingerprint``.
- ``ci_config``: one row per GitHub Actions workflow / GitLab CI file.
- ``repository``: one row per repository with its hygiene facts.

History is scanned as a stream of added lines (``git log -p -U0``), split
into chunks of commits spread over worker processes; each worker runs its
own ``git log`` so diff generation is parallel too. Merge commits add no
lines of their own (``git log -p`` shows no merge diff); what a branch added
is seen in the branch's commits.

Detector catalog (``source_finding.detector``, by ``category``):

- ``secret``: a detect-secrets type (``AWS Access Key``, ``Private Key``,
  ``GitHub Token``, ``Secret Keyword``, ...) or a posture rule: a key/value
  literal in a file's own syntax (``yaml-literal``, ``ini-literal``,
  ``json-literal``, ``xml-literal``, ``php-literal``, ``code-literal``,
  ``shell-literal``, ``sql-literal``, ...; `collectors.git_formats`),
  ``private-key`` (by content), ``cli-password-flag``, ``connection-string``,
  ``url-credentials``; ``detectors`` lists every rule that saw it there.
- ``config_env``: values of ``.env`` and credential files only their rules see:
  ``env-literal``, ``npmrc-credentials``, ``pypirc-credentials``,
  ``git-credentials``, ``pgpass-credentials``, ``netrc-credentials``,
  ``rails-master-key``, ``credentials-file-literal`` (`collectors.git_credfiles`).
- ``hash``: ``password-hash`` (crypt, bcrypt, argon2, ``{SSHA}``; crackable).
- ``file``: ``env-file``, ``private-key-file`` (by name or content),
  ``keystore-file`` (by name or magic bytes), ``credentials-file`` (committed now
  or ever), ``env-example-real-values``, ``env-not-ignored``.
- ``dockerfile``: ``dockerfile-secret-env``, ``dockerfile-secret-arg``,
  ``dockerfile-copy-secret-file``; ``compose``: ``compose-env-literal``;
  ``k8s``: ``k8s-secret-manifest`` (SealedSecret, ExternalSecret, SOPS are not);
  ``helm``: ``helm-values-literal``.
- ``ci``: ``ci-static-cloud-credentials``, ``ci-secrets-inherit``,
  ``ci-tojson-secrets``, ``ci-secret-echoed``, ``ci-variable-literal``.

Options (``ctx.options``): ``git_workers`` (default: usable cores),
``git_parallel_min_commits`` (150), ``git_clone_timeout`` (600 s),
``git_gated`` (True; False runs every detect-secrets plugin on every line),
``git_kingfisher`` (default: used when the ``kingfisher`` binary is installed;
False: never; True: a coverage gap when it is missing). Kingfisher adds its
provider token rules (``kingfisher:<rule id>`` detectors,
`collectors.git_kingfisher`), never validating.
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
from datetime import datetime, timezone
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import ClassVar

from collectors.base import CollectContext
from collectors.git_context import path_context
from collectors.git_credfiles import credential_file
from collectors.git_findings import PRIVATE_KEY_RULES, Location, Locations
from collectors.git_formats import format_of
from collectors.git_kingfisher import KingfisherResult, KingfisherScan, blobs_at, kingfisher_binary
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
    KEY_FILE,
    VALUE_RULE,
    ChunkResult,
    file_kind,
    git_cmd,
    git_env,
    is_binary,
    keep_token_hit,
    read_blobs,
    scan_history_chunk,
    scan_tree_chunk,
)
from posture.model.engagement import GitStore
from posture.model.records import CiConfig, Repository, SourceFinding
from posture.model.secretlike import GENERIC_DETECTORS, public_prefix

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

        locations, file_events, keystores = self._scan(git_dir, commits, tree)
        tree_paths = {p for p, _ in tree}
        blobs = self._rule_blobs(git_dir, tree)
        rule_hits, ci_facts, env_ok, precommit = self._rules(blobs)

        # ciphertext of a SealedSecret / SOPS file is no leak: drop what only value rules saw there
        flagged = {loc.path for loc in locations}
        safe = {p for p, t in blobs.items() if p in flagged and is_k8s_candidate(p) and is_encrypted_manifest(t)}
        locations = [loc for loc in locations if not (loc.path in safe and all(
            d in GENERIC_DETECTORS or VALUE_RULE.search(d) for d in loc.detectors))]
        self._emit_secrets(git_dir, locations)
        self._emit_files(tree, tree_paths, file_events, keystores, locations)
        self._emit_rules(rule_hits)
        if head and not env_ok:
            self._add_finding(SourceFinding(
                id=self._id(".gitignore", None, "#env-not-ignored"), store=store.name, source="git",
                repo=self.url, category="file", detector="env-not-ignored", path=".gitignore",
                in_tree=True, in_history_only=False, context="production",
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
        values = {loc.fingerprint for loc in locations if self._category(loc) in ("secret", "config_env")}
        in_tree = {loc.fingerprint for loc in locations if loc.in_tree and loc.fingerprint in values}
        ctx.sink.add(Repository(
            id=f"git:{store.name}", store=store.name, source="git", url=self.url, head=head,
            refs=len(refs), commits_scanned=self.commits_scanned, lines_scanned=self.lines_scanned,
            env_ignored=env_ok if head else None, precommit_scanner=bool(precommit),
            ci_scanner=any(f.secret_scanners for f in ci_facts),
            history_scanned=store.history, commits_total=total_commits,
            secrets_found=len(values), secrets_in_tree=len(in_tree),
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
        locations = Locations(self.ctx.fingerprint)
        file_events: dict[str, tuple[int, str, str]] = {}  # path -> (ts, commit, kind) of its first commit
        keystores: set[str] = set()
        chunk = max(25, min(400, len(commits) // (self.workers * 6) + 1))
        history_tasks = [commits[i : i + chunk] for i in range(0, len(commits), chunk)]
        tree_chunk = max(20, len(tree) // (self.workers * 4) + 1)
        tree_tasks = [tree[i : i + tree_chunk] for i in range(0, len(tree), tree_chunk)]
        progress = self.ctx.progress
        task = progress.add_task(
            f"git {self.store.name}: {len(commits)} commits, {len(tree)} files",
            total=len(commits) + len(tree),
        ) if progress else None

        kingfisher = self._start_kingfisher(git_dir, commits)

        def merge(kind: str, res: ChunkResult, size: int) -> None:
            if res.error:
                self._gap("git log -p", "error", res.error)
            self.lines_scanned += res.lines
            self.commits_scanned += res.commits
            locations.add(res.hits)
            locations.add_renames(res.renames)
            res.hits.clear()  # drop raw values as soon as they are fingerprinted
            for path, commit, ts, fkind in res.files:
                if fkind == "keystore-file" and file_kind(path) != "keystore-file":
                    keystores.add(path)  # a keystore by its magic bytes, whatever it is called
                known = file_events.get(path)
                if commit and (known is None or (ts, commit) < known[:2]):
                    file_events[path] = (ts, commit, file_kind(path) or fkind)
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
        if kingfisher is not None:
            self._merge_kingfisher(git_dir, kingfisher.join(), locations, dict(tree))
        return locations.resolve(), file_events, keystores

    def _start_kingfisher(self, git_dir: str, commits: list[str]) -> KingfisherScan | None:
        """Kingfisher's provider rules beside the kit's scan, when its binary is here (`collectors.git_kingfisher`).

        History is left to the kit alone when the store caps the commits
        (``max_commits``): Kingfisher has no such cap.
        """
        wanted = self.ctx.options.get("git_kingfisher")
        binary = kingfisher_binary() if wanted is not False else None
        if binary is None:
            if wanted:
                self._gap("kingfisher scan", "unsupported", "the kingfisher binary is not installed")
            return None
        history = bool(commits) and not self.store.max_commits
        return KingfisherScan(binary, git_dir, git_env(), history=history, all_refs=self.store.refs == "all").start()

    def _merge_kingfisher(self, git_dir: str, res: KingfisherResult, locations: Locations,
                          head_blobs: dict[str, str]) -> None:
        """Kingfisher's matches through the kit's precision layer, fingerprinted at once like every engine's.

        A history match whose blob is HEAD's blob at that path is also a
        match of HEAD's tree, at the same line. Kingfisher adds what the kit's
        own engines and rules missed: a line they already report keeps their
        finding (their value span, their detectors), and so does a value they
        already found at that path, so one credential never becomes two
        locations.
        """
        if res.error:
            self._gap("kingfisher scan", "error", res.error)
        kept = [(commit, path, hit) for commit, path, hit in res.hits if keep_token_hit(path, "", hit)]
        res.hits.clear()
        times = _author_times(git_dir, {c for c, _, _ in kept if c})
        blobs = blobs_at(git_cmd(git_dir), git_env(), {(c, p) for c, p, _ in kept if c and p in head_blobs})
        places = [(commit, path, hit) for commit, path, hit in kept]
        places += [("", path, hit) for commit, path, hit in kept
                   if commit and head_blobs.get(path) is not None and blobs.get((commit, path)) == head_blobs[path]]
        lines, values = locations.lines_seen(), locations.values_seen()
        fp = self.ctx.fingerprint
        hits = [(commit, times.get(commit, 0), path, hit) for commit, path, hit in places
                if (commit, path, hit.line) not in lines and (fp(hit.value), path) not in values]
        kept.clear()
        places.clear()
        res.hits.clear()
        locations.add(hits)
        hits.clear()  # drop raw values as soon as they are fingerprinted

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

    @staticmethod
    def _category(loc: Location) -> str:
        return loc.category(config_file=file_kind(loc.path) in ("credentials-file", "env-file"))

    def _emit_secrets(self, git_dir: str, locations: list[Location]) -> None:
        cache: dict[str, list[str]] = {}
        paths_of: dict[str, set[str]] = {}
        tree_of: dict[str, tuple[str, int]] = {}
        for loc in locations:
            paths_of.setdefault(loc.fingerprint, set()).add(loc.path)
            if loc.in_tree:
                tree_of[loc.fingerprint] = min(tree_of.get(loc.fingerprint, (loc.path, loc.line)), (loc.path, loc.line))
        for n, loc in enumerate(locations):
            ts, commit = loc.first or (0, "")
            rid = self._id(loc.path, loc.line, "@HEAD" if loc.in_tree else f"@{commit[:12]}")
            where = "still in HEAD" if loc.in_tree else "in history only"
            tree = tree_of.get(loc.fingerprint)
            self._add_finding(SourceFinding(
                id=rid, store=self.store.name, source="git", repo=self.url,
                category=self._category(loc), detector=loc.detector, path=loc.path, line=loc.line,
                commit=commit or None, author_date=_ts(ts), first_seen_commit=commit or None,
                first_seen_at=_ts(ts), last_seen_at=_ts(loc.last_ts),
                commits=len(loc.commits) or None, in_tree=loc.in_tree, in_history_only=not loc.in_tree,
                fingerprint=loc.fingerprint, variable=loc.variable, public_prefix=loc.prefix,
                context=loc.context or path_context(loc.path),
                # `--contains` walks history: bounded to the first REFS_LOOKUPS findings
                refs=self._refs_containing(git_dir, commit, cache) if commit and n < REFS_LOOKUPS else [],
                paths=sorted(paths_of[loc.fingerprint]), detectors=sorted(loc.detectors),
                tree_path=tree[0] if tree else None, tree_line=tree[1] if tree else None,
                message=f"{loc.detector} {where}, added in {len(loc.commits)} commit(s)",
            ))

    def _emit_files(self, tree, tree_paths, file_events, keystores: set[str], locations: list[Location]) -> None:
        # a private key by content, whatever the file is called: the key is the file (it starts on
        # line 1, or the file has no key/value syntax); a key inside a JSON or YAML file is a secret row
        key_paths = {loc.path: loc.first or (0, "") for loc in locations if loc.detectors & PRIVATE_KEY_RULES
                     and (loc.line == 1 or format_of(loc.path) is None or KEY_FILE.search(loc.path))}
        valued = {(loc.path, loc.in_tree) for loc in locations}
        seen: dict[str, str] = {}
        for path, _ in tree:
            kind = file_kind(path)
            if kind and kind != "env-example":
                seen[path] = kind
        for path, (_, _, kind) in file_events.items():
            seen.setdefault(path, kind)
        seen.update(dict.fromkeys(keystores, "keystore-file"))
        for path in key_paths:
            seen.setdefault(path, "private-key-file")
        for path, kind in sorted(seen.items()):
            in_tree = path in tree_paths
            if kind == "private-key-file" and not re.search(r"(^|/)id_(rsa|dsa|ecdsa|ed25519)$", path) \
                    and path not in key_paths:
                continue  # a certificate or public key with a .pem name
            if kind == "env-file" and path_context(path) != "production" and not {(path, True), (path, False)} & valued:
                continue  # an example .env of the docs or tests holding no credential
            if kind == "credentials-file" and not (credential_file(path) and credential_file(path).opaque):
                if (path, True) not in valued and (in_tree or (path, False) not in valued):
                    continue  # e.g. an .npmrc with only ${NPM_TOKEN}: fine
            ev = file_events.get(path)
            ts, commit = (ev[0], ev[1]) if ev else key_paths.get(path) or (0, "")
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
                context=path_context(path),
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
                context=path_context(h.path),
            ))


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _author_times(git_dir: str, commits: set[str]) -> dict[str, int]:
    """Author time of each commit, through one ``git log --no-walk --stdin``."""
    if not commits:
        return {}
    proc = subprocess.run(git_cmd(git_dir, "log", "--no-walk=unsorted", "--stdin", "--format=%H %at"),
                          input=("\n".join(sorted(commits)) + "\n").encode(), capture_output=True, env=git_env())
    out = {}
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        sha, _, ts = line.partition(" ")
        if ts.isdigit():
            out[sha] = int(ts)
    return out


def _run(git_dir: str, *args: str, raw: bool = False, cwd: str | None = None):
    """Run a read-only git command; None on failure."""
    proc = subprocess.run(git_cmd(git_dir, *args), capture_output=True, env=git_env(),
                          stdin=subprocess.DEVNULL, cwd=cwd)
    if proc.returncode != 0:
        return None
    return proc.stdout if raw else proc.stdout.decode("utf-8", "replace")
