"""Kingfisher as a second token engine: its provider rules over HEAD's tree and the whole history.

General class: provider token formats detect-secrets has no plugin for
(Anthropic, Hugging Face, Shopify, Doppler, Databricks, Postman, Grafana,
Atlassian, Heroku, GitHub fine-grained PATs, age keys, ...), wherever they sit
and whatever names them, a line with no credential-named key included. On
issue #13's probe of 27 such formats in keyword-less places, detect-secrets'
plugins and the kit's rules found 2 and Kingfisher 22 (BENCHMARKS.md).

Kingfisher (PyPI ``kingfisher-bin``, Apache-2.0, Vectorscan) is optional: it
runs when its binary is found (next to the interpreter or on PATH) unless the
``git_kingfisher`` option is False. It scans the repository's own objects,
once: HEAD's snapshot (``--git-history none --branch HEAD``: line numbers of
HEAD's files) when history is not scanned, else the history alone (each
blob at the commit that added it; a match is in HEAD's tree when HEAD holds
that blob at that path). It is
not a per-file `collectors.git_engine.TokenEngine`: a process per file would
pay its rule-database load every time, and its stdin mode copies the input
into a temporary file, which no value may reach.

Safety, whatever the version: live validation is always off
(``--no-validate``; validating would use the credential), no update check,
archives are not extracted to disk, binary files are left to the kit's own
keystore and key rules, output is JSON Lines read from a pipe;
each value goes to the caller as a `Hit` (fingerprinted at once, like every
engine's) and the rest of the record (snippet, validate command) is dropped;
stderr is read and discarded (a failure is reported by its exit code only).
Rules whose class the kit judges itself with its precision layer (private
keys by content, URL/curl/keyword credentials, JWTs, config passwords) are
excluded, so Kingfisher only adds provider formats.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from collectors.git_engine import Hit

#: Rules the kit covers with its own detectors and precision layer (keys by content, keyword/URL credentials).
EXCLUDED_RULES = (
    "betterleaks.private-key", "betterleaks.generic-credential-uri", "betterleaks.curl-auth-header",
    "betterleaks.curl-auth-user", "betterleaks.jwt", "betterleaks.jwt-base64", "betterleaks.hashicorp-tf-password",
    "betterleaks.nuget-config-password",
)
FINDINGS_EXIT = 200  # Kingfisher's exit code when it reports findings
TIMEOUT = 1800.0


def kingfisher_binary() -> str | None:
    """The ``kingfisher`` executable: the one installed beside this interpreter, else PATH's."""
    here = Path(sys.executable).parent / "kingfisher"
    return str(here) if here.is_file() else shutil.which("kingfisher")


def command(binary: str, git_dir: str, *, history: bool, all_refs: bool) -> list[str]:
    """One Kingfisher scan of ``git_dir``: HEAD's snapshot, or the history; never validating."""
    cmd = [binary, "scan", git_dir, "--no-validate", "--no-update-check", "--no-extract-archives",
           "--no-dedup", "--no-binary", "--format", "jsonl", "--quiet"]
    for rule in EXCLUDED_RULES:
        cmd += ["--exclude-rule", rule]
    if not history:
        cmd += ["--git-history", "none", "--branch", "HEAD"]
    elif not all_refs:
        cmd += ["--branch", "HEAD"]
    return cmd


@dataclass
class KingfisherResult:
    """Matches with raw values (in memory only): ``(commit, path, Hit)``, commit ``""`` for HEAD's tree."""

    hits: list[tuple[str, str, Hit]] = field(default_factory=list)
    error: str | None = None


def parse(stdout: bytes, *, tree: bool) -> list[tuple[str, str, Hit]]:
    """``(commit, path, Hit)`` per finding of a JSON Lines report; the summary record and excluded rules skipped."""
    out: list[tuple[str, str, Hit]] = []
    for raw in stdout.splitlines():
        if not raw.startswith(b"{"):
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        finding, rule = rec.get("finding"), rec.get("rule") or {}
        if not isinstance(finding, dict) or rule.get("id") in EXCLUDED_RULES:
            continue
        value, line = finding.get("snippet"), finding.get("line")
        meta = finding.get("git_metadata") or {}
        path = (meta.get("file") or {}).get("path") or finding.get("path") or ""
        path = path.removeprefix("./")
        commit = "" if tree else (meta.get("commit") or {}).get("id") or ""
        if not value or not isinstance(line, int) or not path or (not tree and not commit):
            continue
        out.append((commit, path, Hit(f"kingfisher:{rule.get('id', 'unknown')}", value, line)))
    return out


def _run(cmd: list[str], env: dict[str, str]) -> tuple[bytes, int]:
    # stdout is a pipe read in memory; stderr is read and dropped, never logged
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                          timeout=TIMEOUT)
    return proc.stdout, proc.returncode


def scan_repository(binary: str, git_dir: str, env: dict[str, str], *, history: bool,
                    all_refs: bool) -> KingfisherResult:
    """One Kingfisher run: every commit's blobs (``history``), else HEAD's snapshot alone.

    The history run also covers HEAD's files: each blob is reported at the
    commit that added it, with the blob's own line numbers, so the caller
    knows a match is in HEAD's tree when HEAD holds the same blob at that path
    (`blobs_at`); one run instead of two saves Kingfisher's start-up.
    """
    res = KingfisherResult()
    try:
        stdout, code = _run(command(binary, git_dir, history=history, all_refs=all_refs), env)
    except (OSError, subprocess.TimeoutExpired) as e:
        res.error = f"kingfisher did not run: {type(e).__name__}"
        return res
    if code not in (0, FINDINGS_EXIT):
        res.error = f"kingfisher exited {code}"
        return res
    res.hits = parse(stdout, tree=not history)
    return res


def blobs_at(git_cmd_prefix: list[str], env: dict[str, str], places: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The blob id of each ``(commit, path)``, through one ``git cat-file --batch-check``."""
    order = sorted(places)
    if not order:
        return {}
    spec = "".join(f"{c}:{p}\n" for c, p in order if "\n" not in p)
    proc = subprocess.run([*git_cmd_prefix, "cat-file", "--batch-check=%(objectname) %(objecttype)"],
                          input=spec.encode(), capture_output=True, env=env)
    out: dict[tuple[str, str], str] = {}
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    for place, line in zip((cp for cp in order if "\n" not in cp[1]), lines):
        oid, _, kind = line.partition(" ")
        if kind == "blob":
            out[place] = oid
    return out


class KingfisherScan:
    """Kingfisher over one repository in a background thread, beside the kit's own scan."""

    def __init__(self, binary: str, git_dir: str, env: dict[str, str], *, history: bool, all_refs: bool) -> None:
        self.result = KingfisherResult()
        self._thread = threading.Thread(
            target=self._work, args=(binary, git_dir, env, history, all_refs), daemon=True)

    def _work(self, binary: str, git_dir: str, env: dict[str, str], history: bool, all_refs: bool) -> None:
        self.result = scan_repository(binary, git_dir, env, history=history, all_refs=all_refs)

    def start(self) -> KingfisherScan:
        self._thread.start()
        return self

    def join(self) -> KingfisherResult:
        self._thread.join()
        return self.result
