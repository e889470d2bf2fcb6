"""Token engines: lines in, (rule, line number, value) out; detect-secrets is the first.

An engine knows credential *formats* (an AWS key id, a GitHub token, a PEM
block). It is handed one file's lines at a time (HEAD's whole file, or the
lines one commit added) and returns `Hit` rows; the caller turns each value
into a keyed fingerprint at once and drops it, so an engine never writes,
logs or keeps a value. Anything that speaks `TokenEngine` can sit beside
detect-secrets in `collectors.git_scan.LineScanner`.

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
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from collectors.git_credfiles import key_block


@dataclass
class Hit:
    """One match: the rule that fired, the line, and the value (in memory only, fingerprinted by the caller)."""

    detector: str
    value: str
    line: int
    variable: str | None = None
    context: str | None = None  # overrides the path's context (a docstring is documentation)


class TokenEngine(Protocol):
    """A credential-format engine: ``scan(path, [(line number, text)]) -> [Hit]``."""

    name: str

    def file_skipped(self, path: str) -> bool:
        """The engine reads nothing of this file (a lock file, an image)."""
        ...

    def scan(self, path: str, lines: list[tuple[int, str]]) -> list[Hit]:
        """Matches on ``lines`` of ``path``; line numbers are the caller's."""
        ...


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


def _filter_gate(filter_fn: object) -> Callable[[str, object], bool] | None:
    """A necessary condition for a detect-secrets line filter to drop a line (None: always ask it).

    ``is_indirect_reference`` needs an opening and a closing bracket on the line
    (its regex ends in ``[\\[\\(][^\\v]*[\\]\\)]``); most lines have none, and its
    backtracking regex is the costliest step of a gated line. ``is_line_allowlisted``
    needs ``pragma`` on the line or the line before (every one of its regexes
    spells ``pragma: allowlist secret`` in some comment syntax).
    """
    path = getattr(filter_fn, "path", "")
    if path == "detect_secrets.filters.heuristic.is_indirect_reference":
        return lambda line, _: ("(" in line or "[" in line) and (")" in line or "]" in line)
    if path == "detect_secrets.filters.allowlist.is_line_allowlisted":
        return lambda line, context: "pragma" in line or "pragma" in context.previous_line  # type: ignore[attr-defined]
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


class DetectSecretsEngine:
    """detect-secrets' plugins and filters as a library; must be used inside `detect_secrets_settings`."""

    name = "detect-secrets"

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
        self.line_filters = [(f, _filter_gate(f) if gated else None) for f in scan.get_filters_with_parameter("line")]

    def _line_filtered(self, path: str, line: str, context: object) -> bool:
        """detect-secrets' line filters (``_is_filtered_out(["line"])``), each asked only when it can match."""
        from detect_secrets.util.inject import call_function_with_arguments

        for fn, gate in self.line_filters:
            if gate is not None and not gate(line, context):
                continue
            try:
                if call_function_with_arguments(fn, filename=path, line=line, context=context):
                    return True
            except TypeError:  # the library skips filters it cannot call with these arguments
                pass
        return False

    def file_skipped(self, path: str) -> bool:
        return self._scan._is_filtered_out(required_filter_parameters=["filename"], filename=path)

    def scan(self, path: str, lines: list[tuple[int, str]]) -> list[Hit]:
        from detect_secrets.util.code_snippet import get_code_snippet

        hits: list[Hit] = []
        texts: list[str] | None = None
        scan = self._scan
        for idx, (lineno, raw) in enumerate(lines):
            line = raw.rstrip()
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
            if self._line_filtered(path, line, context):
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
                        value = key_block(texts, idx) or value
                    elif len(value) < 8:
                        value = _full_match(plugin, line, value)
                    hits.append(Hit(secret.type, value, lineno))
        return hits


def _full_match(plugin: object, line: str, value: str) -> str:
    """The whole token when a plugin's regex only captured its prefix (``ghp``).

    Otherwise every GitHub token would share one fingerprint and dedupe into one.
    """
    for regex in getattr(plugin, "denylist", ()):
        for m in regex.finditer(line):
            # only a capture at the start of the match is a prefix (``ghp``); a later one is the secret
            if value in m.group(0) and (not m.lastindex or m.start(1) == m.start(0)):
                return m.group(0).strip(" \t'\":=")
    return value
