"""Definitions AWS returns with their values in them, scanned in memory and dropped.

Instance user data, launch templates, build projects, job definitions, state
machines, stage variables, option settings, connection properties, lifecycle
scripts, stack outputs and SSM documents reach the collector with whatever
their authors wrote into them. This module breaks such an answer into
``(name, value)`` candidates, asks `posture.model.secretlike` (the one judge)
which are secrets, and keeps for each only the name, the location, the
detector, the public prefix and a keyed fingerprint. The value never leaves
the function that found it.

Candidates, by shape of the answer:

- definitions as data (`Findings.definition`): ``{name: n, value: v}`` items
  (`named_items`) judged like environment variables, then every other string
  leaf under its key (`leaves`);
- scripts and documents (`text_candidates`): shell, PowerShell and YAML
  assignments, ``--flag value`` arguments, and any token in a known
  credential format or a URL carrying credentials. An unnamed token must
  have a known format: a random-looking checksum or image digest is not a
  secret without a name that says so.
"""

from __future__ import annotations

import base64
import binascii
import email
import gzip
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from collectors.aws.calls import Account, AwsCalls
from posture.model.records import Mount, SourceFinding
from posture.model.secretlike import (
    classify_value,
    credential_pattern,
    credential_url,
    public_prefix,
)

MAX_TEXT = 1_000_000  # characters of one script or document scanned (user data is at most 16 KB)

# A value: quoted, or unquoted up to a shell/YAML/JSON delimiter, keeping ${...}, {{...}} and $(...) whole
# (a reference is only recognised complete).
_VALUE = r"""("[^"\n]*"|'[^'\n]*'|(?:\$\{[^}\n]*\}|\{\{[^}\n]*\}\}|\$\([^)\n]*\)|[^\s;&|#,}"'])+)"""
_ASSIGNMENT = re.compile(
    r"""(?:^|[\s;&|(`{,])(?:export\s+|set\s+|local\s+|readonly\s+|declare\s+(?:-\w+\s+)*|\$env:|\$)?"""
    r"""["']?([A-Za-z_][\w.-]{1,80})["']?\s*(?:=|:=|:(?=\s))\s*""" + _VALUE
)
_FLAG = re.compile(r"""(?:^|\s)--?([A-Za-z][\w-]{1,60})(?:=|\s+)(?!-)""" + _VALUE)
_CONFIGURE_SET = re.compile(r"""configure\s+set\s+([\w.]+)\s+("[^"\n]*"|'[^'\n]*'|\S+)""")
_TOKEN = re.compile(r"""[^\s"'`<>()\[\]{},;]{12,}""")
_NAME_PREFIX = re.compile(r"^[A-Za-z_][\w.-]*=")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----")
_NAMED_PAIR = (("name", "value"), ("Name", "Value"), ("Key", "Value"), ("OptionName", "Value"),
               ("ParameterKey", "ParameterValue"), ("OutputKey", "OutputValue"))


def _unquote(v: str) -> str:
    v = v.strip()
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'" else v


def decode_base64_text(data: str | bytes | None) -> str | None:
    """Base64 user data or script content as text: gunzipped if gzip, MIME parts joined.

    General class: encoded scripts (EC2 user data, launch templates, SageMaker
    lifecycle configs). cloud-init multipart archives are MIME; each part is
    decoded by its own transfer encoding. None when it is not base64 or not text.
    """
    if not data:
        return None
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return None
    text = raw.decode("utf-8", "replace")
    if "\x00" in text:
        return None
    if text.lstrip().lower().startswith(("content-type: multipart", "mime-version")):
        parts = []
        for part in email.message_from_string(text).walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                if payload[:2] == b"\x1f\x8b":
                    try:
                        payload = gzip.decompress(payload)
                    except (OSError, EOFError):
                        continue
                parts.append(payload.decode("utf-8", "replace"))
        text = "\n".join(parts) or text
    return text[:MAX_TEXT]


def text_candidates(text: str) -> Iterator[tuple[int, str, str]]:
    """``(line, name, value)`` for each assignment, flag, PEM private key and token of ``text``.

    ``name`` is ``""`` for a bare token or key block; `judge` keeps those only
    with a known credential format or a credential-carrying URL. A token's
    ``NAME=`` prefix is cut, so an assignment and its token are one value.
    """
    lines = text[:MAX_TEXT].splitlines()
    for n, line in enumerate(lines, 1):
        if len(line) > 4000:
            line = line[:4000]  # minified blobs: bounded work per line
        if _PEM_BEGIN.search(line):
            block = [line.strip()]
            for later in lines[n:n + 200]:
                block.append(later.strip())
                if "-----END" in later:
                    break
            yield n, "", "\n".join(block)
            continue
        for rx in (_ASSIGNMENT, _FLAG, _CONFIGURE_SET):
            for m in rx.finditer(line):
                yield n, m.group(1), _unquote(m.group(2))
        for m in _TOKEN.finditer(line):
            yield n, "", _NAME_PREFIX.sub("", m.group(0))


def named_items(obj: Any) -> Iterator[tuple[str, str]]:
    """``(name, value)`` of every ``{name: n, value: v}`` item in a JSON-like structure.

    General class: environment lists as data (``environment``/``env`` of job
    and task definitions, Step Functions overrides, Beanstalk option settings)
    in any of AWS's spellings (`_NAMED_PAIR`).
    """
    if isinstance(obj, dict):
        for k_name, k_value in _NAMED_PAIR:
            if isinstance(obj.get(k_name), str) and isinstance(obj.get(k_value), str):
                yield obj[k_name], obj[k_value]
                break
        for v in obj.values():
            yield from named_items(_parsed(v))
    elif isinstance(obj, list):
        for v in obj:
            yield from named_items(_parsed(v))


def leaves(obj: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """``(key, value)`` for every string leaf of a JSON-like structure, named by its key.

    A string that is itself JSON is walked too; a multi-line string is a
    script and yields its own `text_candidates`.
    """
    obj = _parsed(obj)
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from leaves(v, key)
    elif isinstance(obj, str):
        if "\n" in obj.strip():
            for _, name, value in text_candidates(obj):
                yield name, value
        else:
            yield key, obj


def _parsed(v: Any) -> Any:
    """A string holding a JSON object or list, parsed; anything else unchanged."""
    if isinstance(v, str) and v.strip()[:1] in ("{", "[") and len(v) > 2:
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def judge(name: str, value: str, strict: bool = False) -> str | None:
    """The detector that makes ``value`` (named ``name``, or unnamed) a secret, else None.

    General class: the verdict of `classify_value` for configuration pairs.
    ``strict`` (scripts, documents, state machines) drops the verdict "random
    literal under a name that says nothing": there, digests, checksums and
    generated identifiers are everywhere; a secret name or a known format still counts.
    """
    if not name:
        return credential_pattern(value) or credential_url("", value)
    detector = classify_value(name, value)
    return None if strict and detector == "High Entropy String" else detector


class Findings:
    """Secrets found at one location, one row per (name, fingerprint); values are dropped here."""

    def __init__(self, aws: AwsCalls, acct: Account, region: str, place: str, resource: str,
                 category: str = "config_definition") -> None:
        self.aws, self.acct, self.region = aws, acct, region
        self.place, self.resource, self.category = place, resource, category
        self._seen: set[str] = set()

    def add(self, location: str, name: str, value: str, line: int | None = None,
            what: str | None = None, strict: bool = False) -> bool:
        """Judge one candidate; a secret becomes a `SourceFinding` (fingerprint only). True if kept.

        ``location`` is where in the resource (``arn#env``, ``arn#userData``); the
        finding's id adds the name (``arn#env:DB_PASSWORD``), or the line and a
        fingerprint suffix for an unnamed value.
        """
        detector = judge(name, value, strict)
        if detector is None:
            return False
        fp = self.aws.ctx.fingerprint(value)
        if fp in self._seen:  # the same value seen by two rules (assignment and token): one finding
            return False
        self._seen.add(fp)
        label = name or f"line {line}"
        self.aws.sink.add(SourceFinding(
            id=f"{location}:{label}" + (f"@{fp[-12:]}" if not name else ""),
            store=self.aws.store.name, source="aws", repo=self.resource, category=self.category,
            detector=detector, path=location, line=line, in_tree=True, fingerprint=fp,
            variable=name or None, public_prefix=public_prefix(value),
            refs=[self.place, f"{self.acct.id}/{self.region}"],
            message=f"{what or self.place.replace('_', ' ')}: {label} holds a literal secret",
        ))
        return True

    def pairs(self, location: str, pairs: Iterable[tuple[str, str]], what: str | None = None,
              strict: bool = False) -> None:
        for name, value in pairs:
            if isinstance(value, str):
                self.add(location, name, value, what=what, strict=strict)

    def definition(self, location: str, obj: Any, what: str | None = None) -> None:
        """A definition as data: its environment-style items judged like environment
        variables, then every other string leaf strictly (`judge`)."""
        self.pairs(location, named_items(_parsed(obj)), what)
        self.pairs(location, leaves(obj), what, strict=True)

    def text(self, location: str, text: str | None, what: str | None = None) -> None:
        for line, name, value in text_candidates(text or ""):
            self.add(location, name, value, line=line, what=what, strict=True)


def scope_of(acct: Account, region: str, service: str) -> str:
    """The coverage-gap scope of one service in one region: ``account/region/service``.

    These services share the ``source_finding`` and ``cloud_resource`` tables;
    scoped to the service, a listing one of them could not read leaves the
    others' verdicts in that region standing.
    """
    return f"{acct.id}/{region}/{service}"


def listed(aws: AwsCalls, acct: Account, region: str, service: str, complete: bool) -> None:
    """The `Mount` that says ``service`` was listed in ``acct/region`` (checks pass regions from it)."""
    aws.sink.add(Mount(
        id=f"aws:{acct.id}:{region}:{service}", store=aws.store.name, source="aws",
        path=f"{acct.id}/{region}/{service}", type=service,
        description=None if complete else "listing incomplete (see coverage gaps)",
    ))
