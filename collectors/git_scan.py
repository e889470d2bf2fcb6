"""The line scanner behind the git collector: detect-secrets plus a few config rules.

This module runs in worker processes, so it imports little and holds no
engagement state. Workers return raw matches to the parent, which turns each
value into a keyed fingerprint at once and drops it; nothing here writes.

Speed: detect-secrets runs ~27 plugins and ~10 filters per line through
dependency injection, a few thousand lines per second. Each plugin only ever
reports a line that one of its own regexes matches, so we ask that first
(a *gate*): the plugin's own denylist regexes, the high-entropy plugins' quoted
string regex plus their entropy limit, and for the keyword plugin a substring
test on its keyword list. Lines that pass a gate go through the unchanged
detect-secrets path (`_scan_line` + its filters), so results are identical to
the library's; `tests/test_git_collector.py` checks that on the estate.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

# detect-secrets plugin names that only say "something random-looking": a
# finding's primary detector is the most specific one that fired.
GENERIC_DETECTORS = ("Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String")

# Public prefixes that identify a credential type without revealing it.
PUBLIC_PREFIXES = (
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "github_pat_", "glpat-", "xoxb-", "xoxp-", "xoxa-", "sk_live_", "rk_live_", "sk_test_",
    "npm_", "pypi-", "SG.",
)

SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|credential|auth|_key$|^key$|dsn|conn(ection)?[_-]?str)",
    re.IGNORECASE,
)
PLACEHOLDER = re.compile(
    r"^(<.*>|\[.*\]|\*+|x{3,}|\.\.\.|changeme|change[-_]?me|change[-_]?this|replace[-_]?me|todo|tbd"
    r"|placeholder|example|sample|dummy|fake[-_\w]*|test|testing|none|null|nil|true|false|yes|no"
    r"|your[-_ ].*|.*[-_]here|redacted|secret|password|pass|token|empty|unset|default|localhost)$",
    re.IGNORECASE,
)
REFERENCE = re.compile(r"(\$\{|\{\{|\$\(|^\$[A-Za-z_]|^%\(|^@Microsoft\.KeyVault|^arn:aws:|^vault:)")


def is_secret_name(name: str) -> bool:
    """A variable name that says it holds a credential (DB_PASSWORD, STRIPE_KEY, ...)."""
    low = name.lower()
    if low.endswith(("file", "path", "name", "ref", "_id", "id")) or low.startswith("existing"):
        return False  # names a mounted file, a path or another secret: the good pattern
    return bool(SECRET_NAME.search(name))


def is_literal_value(value: str) -> bool:
    """A value written in the file: not empty, not a reference, not a placeholder or a path."""
    v = value.strip().strip("'\"").strip()
    if len(v) < 4 or REFERENCE.search(v) or PLACEHOLDER.match(v):
        return False
    if v.startswith(("/", "./", "~/", "file:")):
        return False
    return True


def shannon_entropy(data: str) -> float:
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def looks_real(value: str) -> bool:
    """A literal that looks like a real credential rather than a sample (for .env.example)."""
    v = value.strip().strip("'\"")
    classes = sum(bool(re.search(p, v)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return is_literal_value(v) and len(v) >= 8 and shannon_entropy(v) >= 3.0 and classes >= 2


def public_prefix(value: str) -> str | None:
    for p in PUBLIC_PREFIXES:
        if value.startswith(p):
            return p
    return None


# --- File classification --------------------------------------------------------

ENV_EXAMPLE = re.compile(r"(^|/)\.env\.(example|sample|template|dist|defaults)$|(^|/)env\.example$")
ENV_FILE = re.compile(r"(^|/)\.env(\.[\w.-]+)?$|(^|/)[\w.-]+\.env$")
KEY_FILE = re.compile(r"(^|/)(id_rsa|id_dsa|id_ecdsa|id_ed25519)$|\.(pem|key|ppk)$", re.IGNORECASE)
KEYSTORE_FILE = re.compile(r"\.(p12|pfx|jks|keystore)$", re.IGNORECASE)
CREDENTIAL_FILE = re.compile(r"(^|/)(\.npmrc|\.pypirc|\.git-credentials|\.pgpass|\.netrc|\.dockercfg)$")
PUBLIC_KEY_HINT = re.compile(r"(\.pub|cert|\.crt|ca-bundle|public)", re.IGNORECASE)


def file_kind(path: str) -> str | None:
    """Which 'should not be committed' rule a path falls under, if any."""
    if ENV_EXAMPLE.search(path):
        return "env-example"
    if ENV_FILE.search(path):
        return "env-file"
    if KEYSTORE_FILE.search(path):
        return "keystore-file"
    if KEY_FILE.search(path):
        return "private-key-file"
    if CREDENTIAL_FILE.search(path):
        return "credentials-file"
    return None


# --- Line rules for config files (value-bearing, fingerprinted) ----------------------

ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
NPMRC_LINE = re.compile(r"(?:_authToken|_auth|_password)\s*=\s*(.+?)\s*$")
PYPIRC_LINE = re.compile(r"^\s*password\s*[=:]\s*(.+?)\s*$", re.IGNORECASE)
GIT_CRED_LINE = re.compile(r"^\s*[a-z][a-z0-9+.-]*://[^:/@\s]+:([^@\s]+)@")
PGPASS_LINE = re.compile(r"^[^:#\s][^:]*:[^:]*:[^:]*:[^:]*:(.+)$")


@lru_cache(maxsize=4096)
def _line_rule_kind(path: str) -> str | None:
    base = path.rsplit("/", 1)[-1]
    if ENV_FILE.search(path) and not ENV_EXAMPLE.search(path):
        return "env"
    if base in (".npmrc", ".pypirc", ".git-credentials", ".pgpass"):
        return base
    return None


def line_rule_hits(path: str, line: str) -> list[tuple[str, str, str | None]]:
    """(detector, value, variable) for credential lines of config files detect-secrets misses.

    detect-secrets wants quotes around values in files it does not know, so an
    ``.env`` line ``DB_PASSWORD=hunter2`` goes unseen; these rules cover it.
    """
    kind = _line_rule_kind(path)
    if kind is None:
        return []
    out: list[tuple[str, str, str | None]] = []
    if kind == "env":
        m = ENV_LINE.match(line)
        if m and not line.lstrip().startswith("#"):
            name, value = m.group(1), m.group(2).split(" #", 1)[0].strip().strip("'\"")
            if is_secret_name(name) and is_literal_value(value):
                out.append(("env-literal", value, name))
    elif kind == ".npmrc":
        m = NPMRC_LINE.search(line)
        if m and is_literal_value(m.group(1)):
            out.append(("npmrc-credentials", m.group(1).strip("'\""), "_authToken"))
    elif kind == ".pypirc":
        m = PYPIRC_LINE.match(line)
        if m and is_literal_value(m.group(1)):
            out.append(("pypirc-credentials", m.group(1), "password"))
    elif kind == ".git-credentials":
        m = GIT_CRED_LINE.match(line)
        if m:
            out.append(("git-credentials", m.group(1), None))
    elif kind == ".pgpass":
        m = PGPASS_LINE.match(line)
        if m and not line.startswith("#") and m.group(1).strip() not in ("", "*"):
            out.append(("pgpass-credentials", m.group(1).strip(), None))
    return out


# --- detect-secrets engine ---------------------------------------------------------


@contextmanager
def detect_secrets_settings() -> Iterator[None]:
    """All plugins, default filters, no verification, file-exists filter off.

    History lines come from blobs, not files on disk: with the file-exists
    filter on, history would find nothing. Verification stays off because no
    value may leave the process.
    """
    from detect_secrets.settings import default_settings, get_filters

    with default_settings() as settings:
        settings.disable_filters(
            "detect_secrets.filters.common.is_invalid_file",
            "detect_secrets.filters.common.is_ignored_due_to_verification_policies",
        )
        get_filters.cache_clear()
        yield


KEYWORD_ATOMS = ("key", "pass", "pwd", "secret", "contrase")


def _keyword_gate() -> Callable[[str], bool] | None:
    """Substring gate for KeywordDetector, valid only while every keyword contains an atom."""
    from detect_secrets.plugins import keyword

    for word in keyword.DENYLIST:
        plain = word.replace("_?", "")
        if not any(a in plain for a in KEYWORD_ATOMS):
            return None  # the keyword list changed: no gate, scan every line
    atoms = KEYWORD_ATOMS

    def gate(line: str) -> bool:
        low = line.lower()
        return any(a in low for a in atoms)

    return gate


def _entropy_gate(plugin: object) -> Callable[[str], bool]:
    """Quoted strings whose entropy can exceed the plugin's limit.

    ``log2(distinct characters)`` bounds Shannon entropy from above, so most
    quoted words are ruled out without computing it; the rest use the plugin's
    own formula, so the decision is the plugin's.
    """
    findall = plugin.regex.findall  # type: ignore[attr-defined]
    limit = plugin.entropy_limit  # type: ignore[attr-defined]
    entropy = plugin.calculate_shannon_entropy  # type: ignore[attr-defined]
    log2 = math.log2

    def gate(line: str) -> bool:
        if "'" not in line and '"' not in line:
            return False
        for m in findall(line):
            s = m[1]
            if log2(len(set(s)) or 1) > limit and entropy(s) > limit:
                return True
        return False

    return gate


def _plugin_gate(plugin: object) -> Callable[[str], bool] | None:
    """A necessary condition for ``plugin`` to report anything on a line (None: always scan)."""
    from detect_secrets.plugins.base import RegexBasedDetector
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.keyword import KeywordDetector

    if isinstance(plugin, RegexBasedDetector):
        searches = [r.search for r in plugin.denylist]
        return lambda line: any(s(line) for s in searches)
    if isinstance(plugin, HighEntropyStringsPlugin):
        return _entropy_gate(plugin)
    if isinstance(plugin, KeywordDetector):
        return _keyword_gate()
    return None


def _combined_denylist(plugins: list[object]) -> re.Pattern[str] | None:
    """One alternation of every regex plugin's denylist: a line none of them matches skips them all."""
    from detect_secrets.plugins.base import RegexBasedDetector

    parts = []
    for p in plugins:
        if not isinstance(p, RegexBasedDetector):
            continue
        for r in p.denylist:
            if re.search(r"\\[1-9]|\(\?P=", r.pattern):
                return None  # a backreference cannot be renumbered safely
            if r.flags & ~(re.I | re.X | re.S | re.M | re.U):
                return None  # e.g. re.ASCII changes \w inside lookbehinds: keep per-plugin gates
            flags = "".join(f for f, bit in (("i", re.I), ("x", re.X), ("s", re.S), ("m", re.M)) if r.flags & bit)
            parts.append(f"(?{flags}:{r.pattern})" if flags else f"(?:{r.pattern})")
    try:
        return re.compile("|".join(parts)) if parts else None
    except re.error:
        return None


REFERENCE_KEY = re.compile(
    r"(secret|password|passwd|token|key)[_-]?(name|ref|key|keyref|id)$|^existing|^secrets?$", re.IGNORECASE
)
NAME_LIKE = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")
KEY_OF_LINE = re.compile(r"^\s*[-\s]*[\"']?([A-Za-z_][\w.-]*)[\"']?\s*[:=]")


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
    if m and REFERENCE_KEY.search(m.group(1)) and NAME_LIKE.match(value.strip("'\"")):
        return False
    return True


@dataclass
class Hit:
    detector: str
    value: str
    line: int
    variable: str | None = None


class LineScanner:
    """Scans (line number, text) lists of one file; must be used inside `detect_secrets_settings`."""

    def __init__(self, gated: bool = True) -> None:
        from detect_secrets.core import scan
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.settings import get_plugins

        self._scan = scan
        self.plugins = list(get_plugins())
        combined = _combined_denylist(self.plugins) if gated else None
        self.combined = combined.search if combined else None
        # (plugin, gate, covered by the combined regex)
        self.gated = [
            (p, _plugin_gate(p) if gated else None, combined is not None and isinstance(p, RegexBasedDetector))
            for p in self.plugins
        ]

    def file_skipped(self, path: str) -> bool:
        return self._scan._is_filtered_out(required_filter_parameters=["filename"], filename=path)

    def scan(self, path: str, lines: list[tuple[int, str]]) -> list[Hit]:
        from detect_secrets.util.code_snippet import get_code_snippet

        hits: list[Hit] = []
        texts: list[str] | None = None
        scan = self._scan
        for idx, (lineno, raw) in enumerate(lines):
            line = raw.rstrip()
            for detector, value, variable in line_rule_hits(path, line):
                hits.append(Hit(detector, value, lineno, variable))
            if len(line) > 4000:
                line = line[:4000]  # minified blobs: bounded work per line
            regex_hit = self.combined is None or self.combined(line) is not None
            todo = [
                p for p, gate, covered in self.gated
                if (regex_hit or not covered) and (gate is None or gate(line))
            ]
            if not todo:
                continue
            if texts is None:
                texts = [t.rstrip() for _, t in lines]
            context = get_code_snippet(texts, idx + 1)
            if scan._is_filtered_out(
                required_filter_parameters=["line"], filename=path, line=line, context=context
            ):
                continue
            for plugin in todo:
                for secret in scan._scan_line(
                    plugin=plugin, filename=path, line=line, line_number=lineno, context=context
                ):
                    if scan._is_filtered_out(
                        required_filter_parameters=["context"],
                        filename=path,
                        secret=secret.secret_value,
                        plugin=plugin,
                        line=line,
                        context=context,
                    ):
                        continue
                    value = secret.secret_value or ""
                    if secret.type == "Private Key":
                        value = _private_key_block(texts, idx) or value
                    elif len(value) < 8:
                        value = _full_match(plugin, line, value)
                    if secret.type in GENERIC_DETECTORS and not keep_generic_hit(line, value):
                        continue
                    hits.append(Hit(secret.type, value, lineno))
        return hits


def _full_match(plugin: object, line: str, value: str) -> str:
    """The whole token when a plugin's regex only captured its prefix (``ghp``).

    Otherwise every GitHub token would share one fingerprint and dedupe into one.
    """
    for regex in getattr(plugin, "denylist", ()):
        for m in regex.finditer(line):
            if value in m.group(0):
                return m.group(0).strip(" \t'\":=")
    return value


def _private_key_block(texts: list[str], start: int) -> str | None:
    """The whole PEM block from its BEGIN line, so two keys get two fingerprints."""
    block = []
    for t in texts[start : start + 200]:
        block.append(t.strip())
        if "-----END" in t:
            return "\n".join(block)
    return None


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


def _unquote_path(p: str) -> str:
    if p.startswith('"') and p.endswith('"'):
        raw = p[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        return raw.encode("latin-1", "replace").decode("utf-8", "replace")
    return p


@dataclass
class ChunkResult:
    """What one worker found in one chunk of commits (values still raw, in memory only)."""

    commits: int = 0
    lines: int = 0
    # (commit, author_ts, path, Hit)
    hits: list[tuple[str, int, str, Hit]] = field(default_factory=list)
    # (path, commit, author_ts, kind) for files that should never be committed
    files: list[tuple[str, str, int, str]] = field(default_factory=list)
    error: str | None = None


def scan_history_chunk(git_dir: str, commits: list[str], gated: bool = True) -> ChunkResult:
    """Stream ``git log -p -U0`` over ``commits`` and scan every added line."""
    with detect_secrets_settings():
        scanner = LineScanner(gated=gated)
        return _scan_history(git_dir, commits, scanner)


def _scan_history(git_dir: str, commits: list[str], scanner: LineScanner) -> ChunkResult:
    res = ChunkResult()
    cmd = git_cmd(
        git_dir, "log", "-p", "-U0", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
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
            path, in_hunk, skip_file = None, False, False
        elif raw.startswith(b"@@ "):
            in_hunk = True
            m = re.match(rb"@@ -\S+ \+(\d+)", raw)
            lineno = int(m.group(1)) if m else 0
        elif raw.startswith(b"+++ "):
            target = raw[4:].decode("utf-8", "replace").rstrip("\r\n")
            if target == "/dev/null":
                path = None
            else:
                path = _unquote_path(target)
                path = path[2:] if path.startswith("b/") else path
                _note_file(res, path, commit, ts)
                skip_file = scanner.file_skipped(path)
        elif raw.startswith(b"Binary files "):
            text = raw.decode("utf-8", "replace").rstrip("\n")
            m = re.match(r"Binary files (.+) and (.+) differ$", text)
            if m and m.group(2) != "/dev/null":
                target = _unquote_path(m.group(2))
                _note_file(res, target[2:] if target.startswith("b/") else target, commit, ts)
    flush()
    err = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0:
        res.error = err.splitlines()[-1] if err else f"git log exited {proc.returncode}"
    return res


def _note_file(res: ChunkResult, path: str, commit: str, ts: int) -> None:
    kind = file_kind(path)
    if kind and kind != "env-example":
        res.files.append((path, commit, ts, kind))


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
    import threading

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
