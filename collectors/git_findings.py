"""From raw matches to findings: one per (value, file, line), HEAD's line for what is still there.

Workers return matches with raw values; `Locations.add` fingerprints each
value at once (the collector's keyed HMAC) and keeps only the fingerprint.
Matches of several rules on one value at one line become one location with
every rule in ``detectors``; when one rule saw a longer span of the same
credential than another (``Bearer x`` and ``x``), the most specific rule's
value is the one fingerprinted.

`Locations.resolve` then decides what each location is:

- in HEAD's tree: one location per (fingerprint, path, HEAD line); the commits
  that added the value at that path (or at a path renamed into it) give its
  first and last seen dates;
- history only: the value is no longer at that path (nor at a path it was
  renamed to): one location per line of the first commit that added it there.

Per-value views (how many distinct secrets, where one value is reused) group
these locations by fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from collectors.git_engine import Hit
from posture.model.secretlike import GENERIC_DETECTORS, public_prefix

#: Rules over credential and ``.env`` files: their rows are configuration credentials (``config_env``).
CONFIG_ENV_RULES = frozenset({
    "env-literal", "npmrc-credentials", "pypirc-credentials", "git-credentials", "pgpass-credentials",
    "netrc-credentials", "rails-master-key", "credentials-file-literal", "url-credentials",
    "cli-password-flag", "connection-string",
})
HASH_RULES = frozenset({"password-hash"})
PRIVATE_KEY_RULES = frozenset({"Private Key", "private-key"})


def detector_rank(d: str) -> tuple[int, str]:
    """Most telling detector first: a detect-secrets type, then a posture rule, then a generic one."""
    return (2 if d in GENERIC_DETECTORS else 1 if d[:1].islower() else 0, d)


@dataclass
class Location:
    """One secret value (known only by fingerprint) at one place."""

    fingerprint: str
    path: str
    line: int
    in_tree: bool
    detectors: set[str] = field(default_factory=set)
    variable: str | None = None
    prefix: str | None = None
    context: str | None = None  # a rule's override of the path's context (docstring)
    commits: set[str] = field(default_factory=set)
    first: tuple[int, str] | None = None  # (author ts, commit)
    last_ts: int | None = None

    def saw(self, detectors: Iterable[str], variable: str | None, prefix: str | None, context: str | None) -> None:
        self.detectors.update(detectors)
        self.variable = self.variable or variable
        self.prefix = self.prefix or prefix
        self.context = self.context or context

    def added_in(self, ts: int, commit: str) -> None:
        self.commits.add(commit)
        if self.first is None or (ts, commit) < self.first:
            self.first = (ts, commit)
        self.last_ts = max(self.last_ts or ts, ts)

    @property
    def detector(self) -> str:
        return min(self.detectors, key=detector_rank)

    def category(self, config_file: bool) -> str:
        """``hash`` for a password hash, ``config_env`` for credential/.env file rules alone, else ``secret``."""
        if self.detectors & HASH_RULES:
            return "hash"
        if config_file and self.detectors <= CONFIG_ENV_RULES:
            return "config_env"
        return "secret"


@dataclass
class _Seen:
    """One fingerprinted match in history: (ts, commit, line, detectors, variable, prefix, context)."""

    ts: int
    commit: str
    line: int
    detectors: set[str]
    variable: str | None
    prefix: str | None
    context: str | None


def _merge_line(hits: list[Hit]) -> list[tuple[Hit, set[str]]]:
    """Matches of one line grouped by credential: a value and every value around or inside it are one."""
    groups: list[tuple[Hit, set[str], list[str]]] = []
    # the most specific rule first; among equals the narrowest span (``x`` inside ``Password=x;``)
    for hit in sorted(hits, key=lambda h: (detector_rank(h.detector), len(h.value))):
        for i, (best, detectors, values) in enumerate(groups):
            if any(hit.value in v or v in hit.value for v in values):
                detectors.add(hit.detector)
                values.append(hit.value)
                if best.variable is None and hit.variable:
                    groups[i] = (Hit(best.detector, best.value, best.line, hit.variable, best.context or hit.context),
                                 detectors, values)
                break
        else:
            groups.append((hit, {hit.detector}, [hit.value]))
    return [(best, detectors) for best, detectors, _ in groups]


class Locations:
    """Every location of every value seen by the scan, fingerprinted as it arrives."""

    def __init__(self, fingerprint: Callable[[str], str]) -> None:
        self.fingerprint = fingerprint
        self.tree: dict[tuple[str, str, int], Location] = {}
        self.history: dict[tuple[str, str], list[_Seen]] = {}
        self.renames: dict[str, set[str]] = {}

    def add(self, hits: list[tuple[str, int, str, Hit]]) -> None:
        """Fingerprint a chunk's matches (``(commit, ts, path, hit)``; commit ``""`` for HEAD)."""
        by_line: dict[tuple[str, int, str, int], list[Hit]] = {}
        for commit, ts, path, hit in hits:
            by_line.setdefault((commit, ts, path, hit.line), []).append(hit)
        for (commit, ts, path, line), group in by_line.items():
            for best, detectors in _merge_line(group):
                fp = self.fingerprint(best.value)
                prefix = public_prefix(best.value)
                if not commit:
                    loc = self.tree.setdefault((fp, path, line), Location(fp, path, line, in_tree=True))
                    loc.saw(detectors, best.variable, prefix, best.context)
                else:
                    self.history.setdefault((fp, path), []).append(
                        _Seen(ts, commit, line, detectors, best.variable, prefix, best.context))

    def lines_seen(self) -> set[tuple[str, str, int]]:
        """``(commit, path, line)`` of every match so far (commit ``""`` for HEAD's tree)."""
        out = {("", path, line) for _, path, line in self.tree}
        out.update((s.commit, path, s.line) for (_, path), seen in self.history.items() for s in seen)
        return out

    def values_seen(self) -> set[tuple[str, str]]:
        """``(fingerprint, path)`` of every match so far, in HEAD's tree or in history."""
        return {(fp, path) for fp, path, _ in self.tree} | set(self.history)

    def add_renames(self, renames: Iterable[tuple[str, str]]) -> None:
        for old, new in renames:
            self.renames.setdefault(old, set()).add(new)

    def _descendants(self, path: str) -> set[str]:
        out, todo = {path}, [path]
        while todo and len(out) < 1000:
            for new in self.renames.get(todo.pop(), ()):
                if new not in out:
                    out.add(new)
                    todo.append(new)
        return out

    def resolve(self) -> list[Location]:
        """Tree locations with their history, plus one location per line of each history-only value."""
        in_tree: dict[tuple[str, str], list[Location]] = {}
        for loc in self.tree.values():
            in_tree.setdefault((loc.fingerprint, loc.path), []).append(loc)
        out = list(self.tree.values())
        for (fp, path), seen in self.history.items():
            seen.sort(key=lambda s: (s.ts, s.commit, s.line))  # chunks arrive in any order
            targets = [loc for p in self._descendants(path) for loc in in_tree.get((fp, p), [])]
            if targets:
                for loc in targets:
                    for s in seen:
                        loc.added_in(s.ts, s.commit)
                        loc.saw((), s.variable, s.prefix, None)
                continue
            first = min((s.ts, s.commit) for s in seen)
            by_line: dict[int, Location] = {}
            for s in seen:
                if (s.ts, s.commit) == first:
                    loc = by_line.setdefault(s.line, Location(fp, path, s.line, in_tree=False))
                    loc.saw(s.detectors, s.variable, s.prefix, s.context)
            for loc in by_line.values():
                for s in seen:
                    loc.added_in(s.ts, s.commit)
                    loc.saw(s.detectors, None, None, None)
            out += by_line.values()
        return sorted(out, key=lambda loc: (loc.first or (0, ""), loc.path, loc.line, loc.detector, loc.fingerprint))
