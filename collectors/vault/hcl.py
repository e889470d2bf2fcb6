"""Vault's text formats: HCL/JSON ACL policies, Go durations, and loose scalar shapes.

Policies arrive as documents (HCL or JSON) and become `PolicyRule` records here;
TTLs arrive as integers or Go duration strings ("768h0m0s"); lists arrive as
JSON arrays or comma-separated strings. Each has one parser, used by every
part of the Vault collector.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

from posture.model.acl import parse_pattern
from posture.model.errors import ConfigError
from posture.model.records import PolicyRule

# --- Go durations and loose scalars --------------------------------------------------

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int | None:
    """Seconds from an int or a Go duration string ("768h0m0s", "30m")."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return _parse_duration_str(str(value))


@lru_cache(maxsize=1024)
def _parse_duration_str(value: str) -> int | None:
    s = value.strip()
    if s.isdigit():
        return int(s)
    parts = _GO_DURATION.findall(s)
    if not parts:
        return None
    return int(sum(float(n) * _UNIT[u] for n, u in parts))


def as_int(v: Any) -> int | None:
    """An integer field that Vault may also send as a numeric string or a duration."""
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return parse_duration(v)


def as_strings(v: Any) -> list[str]:
    """A list field that Vault may also send as one comma-separated string."""
    if v is None or v == "":
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(x) for x in v]


def jsonable(v: Any) -> Any:
    """``v`` as plain JSON types (what a record field of type Any may hold)."""
    return orjson.loads(orjson.dumps(v, default=str))


# --- ACL policies ---------------------------------------------------------------------

_HCL_TOKEN = re.compile(
    r'(?P<ws>\s+|#[^\n]*|//[^\n]*|/\*.*?\*/)'
    r'|(?P<heredoc><<-?(?P<tag>\w+)\n.*?\n\s*(?P=tag))'
    r'|(?P<str>"(?:[^"\\]|\\.)*")'
    r'|(?P<punct>[{}\[\]=,:])'
    r'|(?P<word>[A-Za-z0-9_.\-+*/]+)',
    re.DOTALL,
)


def _hcl_tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _HCL_TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup != "tag" else "heredoc"
        if m.group("ws") is not None:
            continue
        if m.group("heredoc") is not None:
            out.append(("str", m.group("heredoc")))
        elif m.group("str") is not None:
            out.append(("str", orjson.loads(m.group("str").encode())))
        elif m.group("punct") is not None:
            out.append(("punct", m.group("punct")))
        else:
            out.append((kind or "word", m.group("word")))
    return out


class _HclParser:
    """Enough HCL for ACL policies: blocks with labels, attributes, lists, objects."""

    def __init__(self, text: str) -> None:
        self.toks = _hcl_tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end of policy")
        self.i += 1
        return tok

    def body(self, until: str | None = None) -> list[tuple[str, list[str], Any]]:
        items: list[tuple[str, list[str], Any]] = []
        while True:
            tok = self.peek()
            if tok is None:
                if until:
                    raise ValueError("unclosed block")
                return items
            if tok == ("punct", until):
                self.i += 1
                return items
            if tok == ("punct", ","):
                self.i += 1
                continue
            key = self.take()[1]
            labels: list[str] = []
            while (nxt := self.peek()) and nxt[0] == "str":
                labels.append(self.take()[1])
            nxt = self.take()
            if nxt[1] in ("=", ":"):
                items.append((key, labels, self.value()))
            elif nxt == ("punct", "{"):
                items.append((key, labels, self.body("}")))
            else:
                raise ValueError(f"unexpected {nxt[1]!r} after {key!r}")

    def value(self) -> Any:
        kind, tok = self.take()
        if kind == "str":
            return tok
        if tok == "[":
            vals = []
            while self.peek() != ("punct", "]"):
                if self.peek() == ("punct", ","):
                    self.i += 1
                    continue
                vals.append(self.value())
            self.i += 1
            return vals
        if tok == "{":
            return {k: v for k, _, v in self.body("}")}
        return tok


def parse_acl(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, attributes) of every ``path`` stanza, HCL or JSON. Raises ValueError."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            paths = doc.get("path", {})
            if isinstance(paths, list):  # [{"a/*": {...}}, ...]
                merged: dict[str, Any] = {}
                for p in paths:
                    merged.update(p)
                paths = merged
            return [(p, attrs if isinstance(attrs, dict) else {}) for p, attrs in paths.items()]
    rules = []
    for key, labels, val in _HclParser(text).body():
        if key == "path" and labels:
            attrs = {k: v for k, _, v in val} if isinstance(val, list) else dict(val or {})
            rules.append((labels[0], attrs))
    return rules


def policy_rules(store: str, policy_id: str, name: str, text: str) -> list[PolicyRule]:
    """The `PolicyRule` records of one ACL policy document. Raises ValueError.

    ``wildcard`` and ``sys_access`` come from `posture.model.acl.parse_pattern`,
    the server's own reading of a rule path: an inner ``*`` is a literal
    character, not a wildcard, and ``+/+`` reaches ``sys/``.
    """
    rows: list[PolicyRule] = []
    for n, (path, attrs) in enumerate(parse_acl(text)):
        try:
            pattern = parse_pattern(path)
        except ConfigError as e:  # a path the server refuses ('+*')
            raise ValueError(str(e)) from None
        caps = attrs.get("capabilities") or []
        if isinstance(caps, str):
            caps = [caps]
        caps = [str(c).lower() for c in caps]
        conditions = {
            k: v for k, v in attrs.items()
            if k != "capabilities" and v not in (None, "", [], {})
        }
        rows.append(
            PolicyRule(
                id=f"{policy_id}#{n}:{path}",
                store=store,
                source="vault",
                policy_id=policy_id,
                policy=name,
                path=path,
                capabilities=caps,
                effect="deny" if "deny" in caps else "allow",
                wildcard=pattern.is_wildcard,
                wildcard_all=path in ("*", "+/*", "/*"),
                sudo="sudo" in caps,
                sys_access=pattern.reaches("sys/"),
                conditions=jsonable(conditions),
            )
        )
    return rows
