"""Vault / OpenBao ACL evaluation: which capabilities a set of policy rules grants on a path.

One evaluator for every stage that asks "can these policies do X on path P": the checks,
the access model and the audit analysis. It follows the server's own code
(``vault/acl.go``, OpenBao ``internal/vault/policy/acl.go`` and ``policy.go``) and is tested
against ``sys/capabilities`` on a real OpenBao (``tests/test_acl.py``), because the
documented rules leave details open that decide real answers:

- a rule path is *exact*, a *prefix glob* (ends in ``*``; ``*`` anywhere else is a literal
  character) or a *segment wildcard* path (``+`` as a whole segment matches exactly one
  segment, possibly empty; a trailing ``*`` then still makes it a prefix);
- rules with the identical path string, across all policies of a token, are merged: the
  capabilities are unioned, and ``deny`` in either makes the merged rule deny everything;
- an exact rule wins outright; otherwise the matching wildcard rule of highest priority
  decides alone (see :meth:`PathPattern.priority`); a lower-priority rule granting more
  does not add to it;
- ``list`` (and OpenBao's ``scan``) requests are sent with a trailing slash and fall back to
  the path without it (exact rules, then, in OpenBao, wildcard rules);
- the ``root`` policy grants everything.

Pure: no I/O. Rules come parsed from the ``policy_rule`` snapshot table (``PolicyRule``);
HCL parsing stays in the collector.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

from posture.model.errors import ConfigError

DENY = "deny"
ROOT = "root"
#: Capabilities whose requests carry a trailing slash and get the list fallbacks.
LISTING_CAPABILITIES = frozenset({"list", "scan"})

PatternKind = Literal["exact", "prefix", "segment"]


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A policy rule path, classified the way the server stores it.

    ``parts`` are the ``/``-separated segments of the path without its trailing ``*``;
    ``is_prefix`` says the last part only has to be a prefix of the request's segment
    (and any segments may follow). ``regex`` is the same test compiled (a bare ``+`` is
    ``[^/]*``, the trailing ``*`` is ``.*``), so a lookup runs in C rather than per segment.
    """

    path: str
    kind: PatternKind
    parts: tuple[str, ...]
    is_prefix: bool
    regex: re.Pattern[str]

    @property
    def is_wildcard(self) -> bool:
        """True when it can match more than one path: a ``*`` prefix glob or a bare ``+`` segment
        (``a/+b`` is a segment path to the server but matches only itself)."""
        return self.is_prefix or "+" in self.parts

    def matches(self, path: str) -> bool:
        """Does this rule alone match the request ``path``? (No priority, no list fallback.)"""
        return self.regex.fullmatch(path) is not None

    def reaches(self, prefix: str) -> bool:
        """Can this rule match some path that starts with ``prefix``?

        What "does this rule touch anything under ``sys/``" or "under this mount" needs:
        ``+/+`` and ``s*`` reach ``sys/``, ``secret/+/db`` reaches ``secret/``.
        """
        want_parts = prefix.split("/")
        n = len(self.parts)
        for i, given in enumerate(want_parts):
            complete = i < len(want_parts) - 1  # a whole segment; the last one is partial
            if i >= n:  # longer than a non-prefix pattern (a prefix one returned below)
                return False
            want = self.parts[i]
            if want == "+":
                continue
            if self.is_prefix and i == n - 1:
                return given.startswith(want) or (not complete and want.startswith(given))
            if want != given and (complete or not want.startswith(given)):
                return False
        return True

    def priority(self) -> tuple[int, bool, int, int, str]:
        """Sort key among matching wildcard rules; the largest decides.

        The server's order (``CheckAllowedFromNonExactPaths``): a later first ``+``/``*``
        wins, then a non-prefix over a prefix, then fewer ``+`` segments, then the longer
        path (without the trailing ``*``), then the lexicographically larger one. For a
        segment path the "first wildcard" is the first ``+`` character anywhere in it, as the
        server computes it.
        """
        stem = "/".join(self.parts)
        if self.kind == "segment":
            first = self.path.find("+")
            plus = sum(1 for p in self.parts if p == "+")
        else:
            first, plus = len(stem), 0
        return (first, not self.is_prefix, -plus, len(stem), stem)


@lru_cache(maxsize=8192)
def parse_pattern(path: str) -> PathPattern:
    """Classify a policy rule path exactly as the server's policy parser does.

    A leading ``/`` is dropped; ``+*`` is rejected (the server refuses such a policy). A
    segment path is ``+`` itself, or has ``/+`` in it, or starts with ``+/``; an inner
    ``+`` or ``*`` otherwise is a literal character.
    """
    path = path.removeprefix("/")
    if "+*" in path:
        raise ConfigError(f"policy path {path!r}: '+*' is forbidden by Vault and OpenBao")
    segment = path == "+" or "/+" in path or path.startswith("+/")
    is_prefix = path.endswith("*")
    stem = path[:-1] if is_prefix else path
    kind: PatternKind = "segment" if segment else "prefix" if is_prefix else "exact"
    parts = tuple(stem.split("/"))
    regex = "/".join("[^/]*" if part == "+" else re.escape(part) for part in parts)
    regex += ".*" if is_prefix else ""
    return PathPattern(path=path, kind=kind, parts=parts, is_prefix=is_prefix,
                       regex=re.compile(regex, re.DOTALL))


#: Fills the free parts of a pattern when a concrete request path is needed; no real policy names it.
PROBE_SEGMENT = "__posture_probe__"


def common_path(a: PathPattern, b: PathPattern | None = None) -> str | None:
    """A request path that both patterns match (``b`` omitted: an example path of ``a``), or None.

    General class: "does this rule touch that family of paths, and what does the whole ACL
    grant there" - e.g. ``sys/*`` or ``+/+`` against ``sys/policies/acl/*``. A ``+`` takes
    the other pattern's literal segment where it has one, a free part `PROBE_SEGMENT`, so
    asking `ACL.capabilities` on the result applies priority and deny overlays as the server
    would for a path in the overlap. The result is checked against both patterns; None means
    they share no path (or none this construction finds: it never returns a wrong one).
    """
    b = a if b is None else b
    segs_a, tail_a = _segments_and_tail(a)
    segs_b, tail_b = _segments_and_tail(b)
    out: list[str] = []
    for x, y in zip(segs_a, segs_b):
        both = _meet(x, y)
        if both is None:
            return None
        out.append(both)
    n = min(len(segs_a), len(segs_b))
    rest_a, rest_b = segs_a[n:], segs_b[n:]
    if not rest_a and not rest_b:
        if (tail_a is None) != (tail_b is None):
            return None
        if tail_a is not None and tail_b is not None:
            longer, shorter = sorted((tail_a, tail_b), key=len, reverse=True)
            if not longer.startswith(shorter):
                return None
            out.append(longer + PROBE_SEGMENT)
    else:
        tail, rest, other_tail = (tail_a, rest_b, tail_b) if not rest_a else (tail_b, rest_a, tail_a)
        if tail is None:
            return None
        first = rest[0]
        if first != "+" and not first.startswith(tail):
            return None
        out.append(tail + PROBE_SEGMENT if first == "+" else first)
        out += [PROBE_SEGMENT if s == "+" else s for s in rest[1:]]
        if other_tail is not None:
            out.append(other_tail + PROBE_SEGMENT)
    path = "/".join(out)
    return path if a.matches(path) and b.matches(path) else None


def _segments_and_tail(p: PathPattern) -> tuple[tuple[str, ...], str | None]:
    """Whole segments, and for a prefix glob the text the rest of the path must start with."""
    return (p.parts[:-1], p.parts[-1]) if p.is_prefix else (p.parts, None)


def _meet(x: str, y: str) -> str | None:
    """One segment both pattern segments accept (``+`` is any one segment)."""
    if x == "+":
        return PROBE_SEGMENT if y == "+" else y
    return x if y in ("+", x) else None


@dataclass(frozen=True, slots=True)
class Rule:
    """One path rule of one policy: a path pattern and the capabilities it lists."""

    path: str
    capabilities: frozenset[str]

    @classmethod
    def of(cls, path: str, capabilities: Iterable[str]) -> Rule:
        """Build from any iterable of capability names (lists, numpy arrays from a frame)."""
        return cls(path, frozenset(str(c).lower() for c in capabilities))


class RuleRecord(Protocol):
    """What :meth:`ACL.from_records` reads: a ``PolicyRule`` or a ``policy_rule`` frame row."""

    policy: str
    path: str
    capabilities: Sequence[str]


def _merge(old: frozenset[str], new: frozenset[str]) -> frozenset[str]:
    """Same path in two policies: union, but ``deny`` on either side leaves only deny."""
    if DENY in old or DENY in new:
        return frozenset({DENY})
    return old | new


class ACL:
    """The merged rules of the policies attached to one token or identity."""

    __slots__ = ("_exact", "_wild", "_wild_rx", "root")

    def __init__(self, rules: Mapping[PathPattern, frozenset[str]], *, root: bool = False) -> None:
        """Prefer :meth:`from_rules` / :meth:`from_records`; ``rules`` are already merged.

        The wildcard rules are sorted by priority, highest first, and compiled into one
        alternation: the first alternative that matches the whole path is the deciding rule.
        """
        self.root = root
        self._exact = {pattern.path: caps for pattern, caps in rules.items() if pattern.kind == "exact"}
        self._wild = sorted(((pattern, caps) for pattern, caps in rules.items() if pattern.kind != "exact"),
                            key=lambda pc: pc[0].priority(), reverse=True)
        self._wild_rx = re.compile("|".join(f"({pattern.regex.pattern})" for pattern, _ in self._wild),
                                   re.DOTALL) if self._wild else None

    @classmethod
    def from_rules(cls, rules: Iterable[Rule], *, root: bool = False) -> ACL:
        """Merge rules from any number of policies (same path string: see :func:`_merge`)."""
        merged: dict[PathPattern, frozenset[str]] = {}
        for rule in rules:
            key = parse_pattern(rule.path)
            merged[key] = _merge(merged[key], rule.capabilities) if key in merged else rule.capabilities
        return cls(merged, root=root)

    @classmethod
    def from_records(cls, records: Iterable[RuleRecord], policies: Iterable[str] | None = None) -> ACL:
        """The ACL of a holder of ``policies`` (all records when None), from parsed rules.

        The records must be Vault rules (``source == "vault"``); the ``root`` policy among
        ``policies`` grants everything, as on the server.
        """
        wanted = None if policies is None else set(policies)
        chosen = [r for r in records if wanted is None or r.policy in wanted]
        return cls.from_rules((Rule.of(r.path, r.capabilities) for r in chosen),
                              root=wanted is not None and ROOT in wanted)

    def deciding_rule(self, path: str, *, listing: bool = False) -> str | None:
        """The rule path that decides a request on ``path`` (None: no rule matches).

        ``listing`` applies the list/scan fallbacks to the path without its trailing slash.
        """
        found = self._decide(path, listing)
        return found[0] if found else None

    def settled_prefix(self, path: str) -> str | None:
        """A prefix below which every (non-list) request is decided like ``path``, or None.

        When a plain prefix glob decides ``path`` and no exact rule lies under its stem and no
        wildcard rule of higher priority can match there, that rule decides every path under
        the stem: a scan over sorted paths may skip them all (a denied branch costs one lookup).
        """
        found = self._decide(path, False)
        if found is None or found[0] in self._exact:
            return None
        decider = parse_pattern(found[0])
        if decider.kind != "prefix":
            return None
        stem = "/".join(decider.parts)
        if any(p.startswith(stem) for p in self._exact):
            return None
        for pattern, _ in self._wild:
            if pattern.path == decider.path:
                return stem
            if pattern.reaches(stem):
                return None
        return None

    def _decide(self, path: str, listing: bool) -> tuple[str, frozenset[str]] | None:
        path = path.lstrip("/")
        if path in self._exact:
            return path, self._exact[path]
        trimmed = path.removesuffix("/")
        if listing and trimmed in self._exact:
            return trimmed, self._exact[trimmed]
        found = self._best_wildcard(path)
        if found is None and listing and path.endswith("/"):
            found = self._best_wildcard(trimmed)
        return found

    def _best_wildcard(self, path: str) -> tuple[str, frozenset[str]] | None:
        hit = self._wild_rx.fullmatch(path) if self._wild_rx else None
        if hit is None or hit.lastindex is None:
            return None
        pattern, caps = self._wild[hit.lastindex - 1]
        return pattern.path, caps

    def capabilities(self, path: str, *, listing: bool = True) -> frozenset[str]:
        """Capabilities granted on ``path``; empty when denied or unmatched; ``{"root"}`` for root.

        The default ``listing=True`` is what ``sys/capabilities`` answers (the server
        evaluates it as a list request, so the trailing-slash fallbacks apply).
        """
        if self.root:
            return frozenset({ROOT})
        found = self._decide(path, listing)
        caps = found[1] if found else frozenset()
        return frozenset() if DENY in caps else caps

    def allows(self, path: str, capability: str) -> bool:
        """Would a request needing ``capability`` on ``path`` pass the ACL?"""
        if self.root:
            return True
        return capability in self.capabilities(path, listing=capability in LISTING_CAPABILITIES)
