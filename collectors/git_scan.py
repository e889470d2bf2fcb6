"""The line scanner behind the git collector: token engines, file rules, one precision layer.

This module runs in worker processes, so it imports little and holds no
engagement state. Workers return raw matches to the parent, which turns each
value into a keyed fingerprint at once and drops it; nothing here writes.

`LineScanner` scans one file's lines (HEAD's whole file, or what one commit
added) with:

- the token engines (`collectors.git_engine`: detect-secrets, and any other
  `TokenEngine`), which know credential formats;
- the file rules: key/value credentials in each file's own syntax
  (`collectors.git_formats`), credential files, password hashes and private
  keys by content (`collectors.git_credfiles`);
- one precision layer over everything (`keep_token_hit`): samples, vendor
  examples, ciphertext, identifiers and high entropy in markup or lock files
  are no finding; a docstring is documentation.

Whether a name or value is secret-like is decided by `posture.model.secretlike`,
the one judge every collector shares.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from collectors.git_context import doc_comment_lines, entropy_is_noise, is_translation, path_context
from collectors.git_credfiles import (
    credential_file,
    credential_file_hits,
    key_block_hits,
    keystore_kind,
    password_hash_hits,
)
from collectors.git_engine import DetectSecretsEngine, Hit, TokenEngine, detect_secrets_settings
from collectors.git_formats import CODE_LIKE, format_of, keyvalue_hits, sql_pairs, url_hosts
from collectors.git_paths import new_path_of_binary_line, new_path_of_header, path_of_rename_line
from collectors.git_rules import SAFE_KINDS
from posture.model.secretlike import (
    GENERIC_DETECTORS,
    is_code_secret,
    is_documentation_host,
    is_encrypted_value,
    is_field_name_value,
    is_identifier_value,
    is_literal_value,
    is_path_like,
    is_prose,
    is_sample_value,
    names_a_secret_object,
    secret_pair,
)

# --- File classification --------------------------------------------------------

ENV_EXAMPLE = re.compile(r"(^|/)\.env\.(example|sample|template|dist|defaults)$|(^|/)env\.example$")
ENV_FILE = re.compile(r"(^|/)\.env(\.[^/]+)?$|(^|/)[^/]+\.env$")  # any name: spaces too
KEY_FILE = re.compile(r"(^|/)(id_rsa|id_dsa|id_ecdsa|id_ed25519)$|\.(pem|key|ppk)$", re.IGNORECASE)
KEYSTORE_FILE = re.compile(r"\.(p12|pfx|jks|keystore|jceks|bks)$", re.IGNORECASE)


def file_kind(path: str) -> str | None:
    """Which 'should not be committed' rule a path falls under by its name, if any."""
    if ENV_EXAMPLE.search(path):
        return "env-example"
    if ENV_FILE.search(path):
        return "env-file"
    if KEYSTORE_FILE.search(path):
        return "keystore-file"
    if credential_file(path) is not None:
        return "credentials-file"
    if KEY_FILE.search(path):
        return "private-key-file"
    return None


# --- Line rules (value-bearing, fingerprinted by the parent) ---------------------------


ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
LineRule = Callable[[str], list[tuple[str, str, str | None]]]


def _env_line(path: str, line: str) -> list[tuple[str, str, str | None]]:
    """``.env`` files: ``NAME=value`` with a credential name (``env-literal``), plus inline credentials."""
    out: list[tuple[str, str, str | None]] = []
    m = ENV_LINE.match(line)
    if m and not line.lstrip().startswith("#"):
        name, value = m.group(1), m.group(2).split(" #", 1)[0].strip().strip("'\"")
        if secret_pair(name, value):
            out.append(("env-literal", value, name))
    return out + keyvalue_hits(path, None, line)


@lru_cache(maxsize=8192)
def line_rule(path: str) -> LineRule:
    """The per-line file rules of ``path``: one choice per file, so the per-line cost is the rule's own.

    ``.env`` files (``env-literal``), credential files (their own rules), any
    other file by its key/value syntax (`collectors.git_formats`); password
    hashes in every file.
    """
    if ENV_FILE.search(path) and not ENV_EXAMPLE.search(path):
        return lambda line: _env_line(path, line) + password_hash_hits(line)
    if credential_file(path) is not None:
        return lambda line: credential_file_hits(path, line) + password_hash_hits(line)
    fmt = format_of(path)
    return lambda line: keyvalue_hits(path, fmt, line) + password_hash_hits(line)


def line_rule_hits(path: str, line: str) -> list[tuple[str, str, str | None]]:
    """(detector, value, variable) for the credentials of one line that only file rules see."""
    return line_rule(path)(line)


NAME_LIKE = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")
KEY_OF_LINE = re.compile(r"^\s*[-\s]*[\"']?([A-Za-z_][\w.-]*)[\"']?\s*[:=]")
SAFE_MANIFEST = re.compile(rf"^kind:\s*[\"']?({'|'.join(SAFE_KINDS)})\b|^\"?sops\"?:\s*\{{?\s*$")
VALUE_RULE = re.compile(r"-literal$|^(cli-password-flag|connection-string|url-credentials)$")


def keep_generic_hit(line: str, value: str) -> bool:
    """Posture's precision layer over detect-secrets' keyword/entropy detectors.

    Drops placeholders and references (``changeme``, ``${VAR}``) and YAML keys
    that *name* a secret rather than hold one (``existingSecret: ledger-db``,
    ``secretKeyRef``, ``secrets: inherit``): a lower-case name under a
    reference-style key is not a credential.
    """
    if not is_literal_value(value):
        return False
    m = KEY_OF_LINE.match(line)
    if m and names_a_secret_object(m.group(1)) and NAME_LIKE.match(value.strip("'\"")):
        return False
    return True


def keep_token_hit(path: str, line: str, hit: Hit) -> bool:
    """Whether an engine's match is a credential, not a sample, ciphertext, identifier or noise.

    General class: the false positives every token scanner shares: public IPs,
    samples and vendor examples (`is_sample_value`), SOPS / Ansible Vault
    ciphertext, PEM headers without a key, and for the keyword and entropy
    plugins prose, paths, field names, translation catalogues, quoted words in
    code (``'foobar'``), and high entropy alone outside production files or
    where digests and ids are everyday content (markup, templates, lock files,
    docs, UUIDs, SHAs); URL credentials for documentation hosts (``example.com``).
    """
    v = hit.value
    if hit.detector == "Public IP (ipv4)":
        return False
    if hit.detector == "Private Key":
        return "\n" in v  # `key_block` found a body; a bare BEGIN line is a header in code
    if is_sample_value(v) or is_encrypted_value(v):
        return False
    if hit.detector == "Basic Auth Credentials":
        hosts = url_hosts(line, v)
        return not (hosts and all(is_documentation_host(h) for h in hosts))
    if hit.detector not in GENERIC_DETECTORS:
        return True
    if is_translation(path) or not keep_generic_hit(line, v) or is_prose(v) or is_path_like(v) \
            or is_field_name_value(v):
        return False
    context = path_context(path)
    if hit.detector == "Secret Keyword":
        # in code and prose a quoted word is a label or a dummy ('foobar', 'secreto')
        return is_code_secret(v) if format_of(path) in CODE_LIKE or context != "production" else True
    # high entropy alone: only in production files where digests and ids are not everyday content
    return context == "production" and not entropy_is_noise(path) and not is_identifier_value(v)


class LineScanner:
    """Scans (line number, text) lists of one file; must be used inside `detect_secrets_settings`."""

    def __init__(self, gated: bool = True, engines: list[TokenEngine] | None = None) -> None:
        self.engines: list[TokenEngine] = engines if engines is not None else [DetectSecretsEngine(gated)]

    def file_skipped(self, path: str) -> bool:
        return any(e.file_skipped(path) for e in self.engines)

    def scan(self, path: str, lines: list[tuple[int, str]]) -> list[Hit]:
        texts = [t.rstrip() for _, t in lines]
        fmt = format_of(path)
        sealed = fmt in ("yaml", "json") and any(SAFE_MANIFEST.match(t) for t in texts)
        hits: list[Hit] = []
        for engine in self.engines:
            for hit in engine.scan(path, lines):
                idx = _index_of(lines, hit.line)
                line = texts[idx] if idx is not None else ""
                if keep_token_hit(path, line, hit) and not (sealed and hit.detector in GENERIC_DETECTORS):
                    hits.append(hit)
        rule = line_rule(path)
        for idx, (lineno, _) in enumerate(lines):
            line = texts[idx]
            found = rule(line if len(line) <= 4000 else line[:4000])
            if "PRIVATE KEY" in line or "PuTTY-User-Key" in line:
                found += key_block_hits(texts, idx)
            for detector, value, variable in found:
                if not (sealed and VALUE_RULE.search(detector)):
                    hits.append(Hit(detector, value, lineno, variable))
        if fmt == "sql":
            hits += [Hit("sql-literal", value, lineno, col) for lineno, col, value in sql_pairs(lines)
                     if secret_pair(col, value)]
        docs = doc_comment_lines(path, lines) if hits else set()
        for hit in hits:
            if hit.line in docs:
                hit.context = "documentation"
        return hits


def _index_of(lines: list[tuple[int, str]], lineno: int) -> int | None:
    """Index of ``lineno`` in ``lines`` (consecutive numbers within a hunk: usually direct)."""
    if not lines:
        return None
    guess = lineno - lines[0][0]
    if 0 <= guess < len(lines) and lines[guess][0] == lineno:
        return guess
    return next((i for i, (n, _) in enumerate(lines) if n == lineno), None)


# --- git plumbing -----------------------------------------------------------------


def git_cmd(git_dir: str, *args: str) -> list[str]:
    """A git command that never reads the user's config hooks, pager or credentials."""
    return [
        "git",
        "-c", "core.quotepath=off",
        "-c", "core.fsmonitor=false",
        "--no-pager",
        f"--git-dir={git_dir}",
        *args,
    ]


KEPT_GIT_VARS = ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH")


def git_env() -> dict[str, str]:
    """The caller's environment minus GIT_* redirections (GIT_DIR, GIT_INDEX_FILE, ...).

    SSH and TLS settings are kept so private clones work; nothing may prompt,
    so an unreachable or unauthorised URL fails fast instead of hanging.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in KEPT_GIT_VARS}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15")
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1", LC_ALL="C", GIT_ASKPASS="true")
    return env


@dataclass
class ChunkResult:
    """What one worker found in one chunk of commits or tree files (values still raw, in memory only)."""

    commits: int = 0
    lines: int = 0
    # (commit, author_ts, path, Hit); commit "" for HEAD's tree
    hits: list[tuple[str, int, str, Hit]] = field(default_factory=list)
    # (path, commit, author_ts, kind): files that should never be committed; kind by name
    # (env-file, private-key-file, ...) or by content (keystore-file); commit "" for HEAD's tree
    files: list[tuple[str, str, int, str]] = field(default_factory=list)
    renames: list[tuple[str, str]] = field(default_factory=list)  # (old path, new path)
    error: str | None = None


def scan_history_chunk(git_dir: str, commits: list[str], gated: bool = True) -> ChunkResult:
    """Stream ``git log -p -U0`` over ``commits`` and scan every added line."""
    with detect_secrets_settings():
        scanner = LineScanner(gated=gated)
        return _scan_history(git_dir, commits, scanner)


KEYSTORE_PEEK_LIMIT = 256 * 1024  # bytes; a keystore is small, a binary asset need not be read


def _scan_history(git_dir: str, commits: list[str], scanner: LineScanner) -> ChunkResult:
    res = ChunkResult()
    cmd = git_cmd(
        git_dir, "log", "-p", "-U0", "-M", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv",
        "--src-prefix=a/", "--dst-prefix=b/",  # what git_paths decodes, whatever diff.noprefix says
        "--no-walk=unsorted", "--stdin", "--format=%x01%H %at",
    )
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env()
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(("\n".join(commits) + "\n").encode())
    proc.stdin.close()

    commit, ts = "", 0
    path: str | None = None
    new_oid = ""
    rename_from: str | None = None
    binaries: list[tuple[str, str, int, str]] = []  # (path, commit, ts, blob) to peek at for keystores
    added: list[tuple[int, str]] = []
    lineno = 0
    in_hunk = False
    skip_file = False

    def flush() -> None:
        if path is not None and added and not skip_file:
            res.lines += len(added)
            for hit in scanner.scan(path, added):
                res.hits.append((commit, ts, path, hit))
        added.clear()

    for raw in proc.stdout:
        c = raw[:1]
        if in_hunk:
            if c == b"+":
                added.append((lineno, raw[1:].decode("utf-8", "replace").rstrip("\r\n")))
                lineno += 1
                continue
            if c in (b"-", b"\\", b" "):
                continue
        if c == b"\x01":
            flush()
            path, in_hunk = None, False
            sha, _, t = raw[1:].decode().strip().partition(" ")
            commit, ts = sha, int(t or 0)
            res.commits += 1
        elif raw.startswith(b"diff --git "):
            flush()
            path, in_hunk, skip_file, new_oid, rename_from = None, False, False, "", None
        elif raw.startswith(b"@@ "):
            in_hunk = True
            m = re.match(rb"@@ -\S+ \+(\d+)", raw)
            lineno = int(m.group(1)) if m else 0
        elif raw.startswith(b"index "):
            m = re.match(rb"index [0-9a-f]+\.\.([0-9a-f]+)", raw)
            new_oid = m.group(1).decode() if m else ""
        elif raw.startswith(b"rename from "):
            rename_from = path_of_rename_line(raw)
        elif raw.startswith(b"rename to "):
            target = path_of_rename_line(raw)
            if rename_from is not None and target is not None:
                res.renames.append((rename_from, target))
        elif raw.startswith(b"+++ "):
            path = new_path_of_header(raw)
            if path is not None:
                _note_file(res, path, commit, ts)
                skip_file = scanner.file_skipped(path)
        elif raw.startswith(b"Binary files "):
            target = new_path_of_binary_line(raw)
            if target is not None:
                _note_file(res, target, commit, ts)
                if new_oid and set(new_oid) != {"0"}:
                    binaries.append((target, commit, ts, new_oid))
    flush()
    err = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0:
        res.error = err.splitlines()[-1] if err else f"git log exited {proc.returncode}"
    _peek_keystores(git_dir, binaries, res)
    return res


def _peek_keystores(git_dir: str, binaries: list[tuple[str, str, int, str]], res: ChunkResult) -> None:
    """Binary files added in history that are keystores by content (JKS, PKCS#12), whatever their name."""
    small = {oid for oid, size in blob_sizes(git_dir, {b[3] for b in binaries}) if size <= KEYSTORE_PEEK_LIMIT}
    kinds = {oid: keystore_kind(data) for oid, data in read_blobs(git_dir, small)}
    for path, commit, ts, oid in binaries:
        if kinds.get(oid):
            res.files.append((path, commit, ts, "keystore-file"))


def _note_file(res: ChunkResult, path: str, commit: str, ts: int) -> None:
    kind = file_kind(path)
    if kind and kind != "env-example":
        res.files.append((path, commit, ts, kind))


def blob_sizes(git_dir: str, oids: Iterable[str]) -> list[tuple[str, int]]:
    """(oid, size) of each blob, through one ``git cat-file --batch-check``."""
    wanted = "\n".join(oids)
    if not wanted:
        return []
    proc = subprocess.run(git_cmd(git_dir, "cat-file", "--batch-check"), input=(wanted + "\n").encode(),
                          capture_output=True, env=git_env())
    out = []
    for line in proc.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "blob":
            out.append((parts[0], int(parts[2])))
    return out


def read_blobs(git_dir: str, blobs: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """(oid, content) for each blob, through one ``git cat-file --batch``."""
    oids = list(blobs)
    if not oids:
        return
    proc = subprocess.Popen(
        git_cmd(git_dir, "cat-file", "--batch"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git_env(),
    )
    assert proc.stdin and proc.stdout

    def feed() -> None:
        try:
            proc.stdin.write(("\n".join(oids) + "\n").encode())  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    for oid in oids:
        header = proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            continue
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)
        yield oid, data
    proc.wait()


def is_binary(data: bytes) -> bool:
    return b"\x00" in data[:8000]


def scan_tree_chunk(git_dir: str, entries: list[tuple[str, str]], gated: bool = True) -> ChunkResult:
    """Scan whole HEAD blobs ``(path, oid)``; line numbers are the file's own."""
    res = ChunkResult()
    with detect_secrets_settings():
        scanner = LineScanner(gated=gated)
        by_oid: dict[str, list[str]] = {}
        for path, oid in entries:
            by_oid.setdefault(oid, []).append(path)
        for oid, data in read_blobs(git_dir, by_oid):
            if is_binary(data):
                if keystore_kind(data):
                    res.files += [(path, "", 0, "keystore-file") for path in by_oid[oid]]
                continue
            text = data.decode("utf-8", "replace")
            lines = list(enumerate(text.splitlines(), start=1))
            for path in by_oid[oid]:
                if scanner.file_skipped(path):
                    continue
                res.lines += len(lines)
                for hit in scanner.scan(path, lines):
                    res.hits.append(("", 0, path, hit))
    return res

