"""The declared-inventory file: columns, parsing, validation and writing, in one place.

Seed 000 stage 1 asks for "a rough inventory table: secret class -> consumers ->
storage today -> rotation frequency -> owner team", and for where secrets are
duplicated (wikis, tickets, chat, laptops). Many of them live where no store
API reaches: partner and SaaS API keys, HSM keys, a password in a runbook. A
client writes them into this file (CSV with a header row, or YAML: a list of
mappings with the same keys); the inventory collector reads it as a store and
``posture inventory CLIENT --export FILE`` writes the collected inventory in
the same format, so owners can be filled in and the file re-imported.

Both directions use this module, so the format has one definition. A mistake is
one line, ``FILE:LINE: column: message`` (exit 2), like the engagement's. The
file holds metadata only: a cell that looks like a credential (a known key
format, a URL with a password, a password hash, a long random string) is
refused by line and column, without repeating the value.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from posture.model.bounded_yaml import YamlInputError, load_bounded_yaml
from posture.model.errors import ConfigError
from posture.model.fsutil import read_input_file
from posture.model.secretlike import (
    credential_pattern,
    credential_url,
    is_generated,
    is_random,
    password_hash_scheme,
)

#: Every column, in the order files are written: the row's identity, seed 000's stage-1 table,
#: then what a leak card and the rotation plan need.
COLUMNS: tuple[str, ...] = (
    "id", "ref", "name", "secret_class", "consumers", "storage_today", "rotation_frequency",
    "owner_team", "environment", "last_rotated", "expires", "pager",
)
#: Columns a CSV header must have. ``secret_class`` may be empty in a row with a ``ref``.
REQUIRED_COLUMNS: tuple[str, ...] = ("id", "secret_class")
#: What a row with a ``ref`` adds to the observed item it names (the rest is the store's to say).
ENRICHING_COLUMNS: tuple[str, ...] = (
    "name", "secret_class", "consumers", "rotation_frequency", "owner_team", "environment", "pager")

#: The secret classes, as the classification names them (`checks.classify.DEFAULT_TYPES` + generic).
SECRET_CLASSES: tuple[str, ...] = (
    "api-key", "db-password", "token", "encryption-key", "signing-key", "tls", "ssh",
    "cloud-access-key", "oauth-client-secret", "webhook-secret", "generic", "workload-identity",
)
#: Seed 000's words for the classes ("symmetric keys, asymmetric private keys, bearer tokens, DB
#: passwords, cloud IAM, third-party API keys") and common spellings, after `_norm`.
CLASS_ALIASES: dict[str, str] = {
    "api key": "api-key", "apikey": "api-key", "third party api key": "api-key",
    "partner api key": "api-key", "saas api key": "api-key", "license key": "api-key",
    "db password": "db-password", "database password": "db-password", "db credential": "db-password",
    "database credential": "db-password",
    "bearer token": "token", "service token": "token", "access token": "token", "pat": "token",
    "personal access token": "token",
    "symmetric key": "encryption-key", "encryption key": "encryption-key", "master key": "encryption-key",
    "kek": "encryption-key", "dek": "encryption-key", "data key": "encryption-key",
    "asymmetric private key": "signing-key", "signing key": "signing-key", "private key": "signing-key",
    "jwt signing key": "signing-key", "gpg key": "signing-key", "pgp key": "signing-key",
    "tls certificate": "tls", "certificate": "tls", "tls key": "tls", "ssl certificate": "tls",
    "ssh key": "ssh", "ssh private key": "ssh",
    "cloud iam": "cloud-access-key", "cloud access key": "cloud-access-key", "iam access key": "cloud-access-key",
    "service account key": "cloud-access-key",
    "oauth client secret": "oauth-client-secret", "client secret": "oauth-client-secret",
    "webhook secret": "webhook-secret", "hmac secret": "webhook-secret",
    "password": "generic", "other": "generic",
}
#: Storage words that make a declared encryption or signing key a key record (non-extractable).
KEY_STORAGE = re.compile(r"\b(hsm|kms|transit|pkcs ?#?11|key ?vault keys?|cloud ?hsm)\b", re.IGNORECASE)

#: Rotation frequency words, in days.
FREQUENCY_WORDS: dict[str, int] = {
    "daily": 1, "weekly": 7, "fortnightly": 14, "biweekly": 14, "monthly": 30, "quarterly": 90,
    "semiannually": 182, "semi-annually": 182, "half-yearly": 182, "yearly": 365, "annually": 365,
}
NEVER = frozenset({"never", "none", "not rotated"})
_UNITS = {"h": 1 / 24, "hour": 1 / 24, "hours": 1 / 24, "d": 1, "day": 1, "days": 1, "w": 7, "week": 7,
          "weeks": 7, "mo": 30, "month": 30, "months": 30, "y": 365, "year": 365, "years": 365}
_FREQUENCY = re.compile(r"^(?:every\s+)?(\d{1,5})\s*([a-z]+)$")
MAX_ROTATION_DAYS = 36_500

MAX_INVENTORY_BYTES = 16 << 20
MAX_CELL = 512
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
#: A spreadsheet runs a cell starting with these as a formula: written escaped with a leading "'".
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Format = Literal["csv", "yaml"]


@dataclass(frozen=True)
class InventoryEntry:
    """One row of a declared inventory, validated. ``line`` is where it starts in the file."""

    line: int
    id: str
    ref: str | None = None
    name: str | None = None
    secret_class: str | None = None
    consumers: tuple[str, ...] = ()
    storage_today: str | None = None
    rotation_frequency: str | None = None  # normalised: "90d", or "never"
    rotation_days: int | None = None
    owner_team: str | None = None
    environment: str | None = None
    last_rotated: datetime | None = None
    expires: datetime | None = None
    pager: str | None = None
    given: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_key(self) -> bool:
        """A declared encryption or signing key kept in an HSM/KMS: a key record, not a secret value."""
        return self.secret_class in ("encryption-key", "signing-key") and bool(
            self.storage_today and KEY_STORAGE.search(self.storage_today))

    @property
    def is_certificate(self) -> bool:
        return self.secret_class == "tls"


class _Problems:
    """Every problem of a file, reported as its first one (``+N more``), as the engagement does."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.items: list[tuple[int, str, str]] = []

    def add(self, line: int, column: str, message: str) -> None:
        self.items.append((line, column, message))

    def raise_if_any(self) -> None:
        if self.items:
            line, column, message = min(self.items, key=lambda p: p[0])
            more = f" (+{len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise ConfigError(f"{self.path}:{line}: {column}: {message}{more}")


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def column_name(header: str) -> str | None:
    """The column a header cell names (``Secret class``, ``storage-today``, ``owner_team``), else None."""
    key = _norm(header).replace(" ", "_")
    aliases = {"owner": "owner_team", "team": "owner_team", "storage": "storage_today",
               "class": "secret_class", "type": "secret_class", "rotation": "rotation_frequency",
               "env": "environment", "expires_at": "expires", "last_rotated_at": "last_rotated"}
    key = aliases.get(key, key)
    return key if key in COLUMNS else None


def secret_class(text: str) -> str | None:
    """The class ``text`` names (``tls``, ``DB password``, ``Third-party API key``), else None."""
    n = _norm(text)
    for c in SECRET_CLASSES:
        if n == _norm(c):
            return c
    return CLASS_ALIASES.get(n)


def rotation_days(text: str) -> int | None:
    """Days between rotations that ``text`` says (``30d``, ``90 days``, ``quarterly``, ``24h``,
    ``every 2 weeks``); None for ``never``. `ValueError` for anything else.

    General class: rotation schedules as people write them. Hours round up to whole days
    (the kit measures rotation in days); ``m`` alone is refused (minutes or months?).
    """
    n = " ".join(text.strip().lower().split())
    if n in NEVER:
        return None
    if n in FREQUENCY_WORDS:
        return FREQUENCY_WORDS[n]
    m = _FREQUENCY.match(n)
    if not m or m.group(2) not in _UNITS or int(m.group(1)) == 0:
        raise ValueError(f"not a rotation frequency (e.g. 30d, 90 days, 24h, 12w, 6 months, 1y, "
                         f"{', '.join(list(FREQUENCY_WORDS)[:6])}, never)")
    days = math.ceil(int(m.group(1)) * _UNITS[m.group(2)])
    if days > MAX_ROTATION_DAYS:
        raise ValueError(f"more than {MAX_ROTATION_DAYS} days between rotations")
    return days


def _date(value: Any) -> datetime:
    """An aware UTC datetime from a YAML date/datetime or an ISO 8601 text; `ValueError` otherwise."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("not a date (YYYY-MM-DD, or an ISO 8601 date and time)") from None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


@lru_cache(maxsize=1 << 16)  # an export repeats classes, owners, environments; id and ref are one value
def credential_like(value: str) -> str | None:
    """Which rule says a cell holds a credential itself (the detector's name), else None.

    General class: secrets pasted into the inventory. A known credential format
    (`posture.model.secretlike.credential_pattern`), a URL carrying a password or
    token, a crackable password hash, or a long random string (checked per
    ``/``- or ``:``-separated segment, so store paths and ARNs of words stay
    text). Never returns or keeps the value.
    """
    v = value.strip()
    if len(v) < 8:
        return None
    found = credential_pattern(v) or credential_url("", v) or password_hash_scheme(v)
    if found:
        return found
    if " " in v:
        return None
    if any(is_random(seg) or is_generated(seg) for seg in re.split(r"[/:]", v)):
        return "High Entropy String"
    return None


def _text(problems: _Problems, line: int, column: str, value: Any) -> str | None:
    """A cell as stripped text (None when empty), or a problem for a nested value or a control character."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list, CommentedMap, CommentedSeq)):
        problems.add(line, column, "must be text, not " + ("a boolean" if isinstance(value, bool) else
                                                           "a list or mapping"))
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]  # written escaped so a spreadsheet does not run it
    if not text:
        return None
    detector = credential_like(text)
    if detector:
        problems.add(line, column, f"looks like a secret value ({detector}); the inventory holds "
                                   "metadata only: remove it, and rotate that secret (it was written down)")
        return None
    if CONTROL.search(text):
        problems.add(line, column, "contains a control character")
        return None
    if len(text) > MAX_CELL:
        problems.add(line, column, f"longer than {MAX_CELL} characters")
        return None
    return text


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _entry(problems: _Problems, line: int, cells: dict[str, tuple[int, Any]], today: datetime) -> InventoryEntry | None:
    """Validate one row: ``cells`` maps column -> (line of the cell, raw value)."""
    before = len(problems.items)
    raw_consumers = cells.get("consumers", (line, None))
    consumers: list[str] = []
    if isinstance(raw_consumers[1], (list, CommentedSeq)):
        for c in raw_consumers[1]:
            t = _text(problems, raw_consumers[0], "consumers", c)
            if t:
                consumers.append(t)
        cells = {**cells, "consumers": (raw_consumers[0], None)}
    text = {col: _text(problems, ln, col, v) for col, (ln, v) in cells.items()}
    if text.get("consumers"):
        consumers += [c.strip() for c in re.split(r"[;,]", text["consumers"]) if c.strip()]
    where = lambda col: cells.get(col, (line, None))[0]
    flagged = {p[1] for p in problems.items[before:]}
    if not text.get("id") and "id" not in flagged:
        problems.add(where("id"), "id", "required: a name for this row, unique in the file")
    ref = text.get("ref")
    cls = None
    if text.get("secret_class"):
        cls = secret_class(text["secret_class"])
        if cls is None:
            problems.add(where("secret_class"), "secret_class",
                         f"unknown secret class {_shown(text['secret_class'])} (one of {', '.join(SECRET_CLASSES)}, "
                         "or seed 000's words: symmetric key, asymmetric private key, bearer token, "
                         "DB password, cloud IAM, third-party API key)")
    elif not ref and "secret_class" not in flagged:
        problems.add(where("secret_class"), "secret_class", "required unless the row has a ref")
    days, freq = None, None
    if text.get("rotation_frequency"):
        try:
            days = rotation_days(text["rotation_frequency"])
            freq = f"{days}d" if days is not None else "never"
        except ValueError as e:
            problems.add(where("rotation_frequency"), "rotation_frequency", f"{_shown(text['rotation_frequency'])}: {e}")
    if text.get("environment") and not _ENVIRONMENT.match(text["environment"]):
        problems.add(where("environment"), "environment",
                     f"{_shown(text['environment'])} is not an environment name (letters, digits, '.', '_', '-')")
    dates: dict[str, datetime | None] = {}
    for col in ("last_rotated", "expires"):
        raw = cells.get(col, (line, None))[1]
        dates[col] = None
        if text.get(col) is None:
            continue
        try:
            dates[col] = _date(raw)
        except ValueError as e:
            problems.add(where(col), col, f"{_shown(text[col])}: {e}")
    if dates["last_rotated"] and dates["last_rotated"] > today + timedelta(days=1):
        problems.add(where("last_rotated"), "last_rotated", "is in the future")
    if len(problems.items) > before:
        return None
    return InventoryEntry(
        line=line, id=text["id"] or "", ref=ref, name=text.get("name"), secret_class=cls,
        consumers=tuple(dict.fromkeys(consumers)), storage_today=text.get("storage_today"),
        rotation_frequency=freq, rotation_days=days, owner_team=text.get("owner_team"),
        environment=text.get("environment"), last_rotated=dates["last_rotated"], expires=dates["expires"],
        pager=text.get("pager"), given=frozenset(c for c, v in text.items() if v) | (
            {"consumers"} if consumers else set()))


def inventory_format(path: Path | str) -> Format:
    """``csv`` or ``yaml`` by the file's suffix; `ConfigError` for any other."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise ConfigError(f"{path}: an inventory file is .csv, .yaml or .yml (got {suffix or 'no suffix'!r})")


def _csv_rows(text: str, problems: _Problems) -> list[tuple[int, dict[str, tuple[int, Any]]]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, dict[str, tuple[int, Any]]]] = []
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            problems.add(1, "(header)", "no header row (the first line names the columns)")
            return rows
        columns: list[str] = []
        for h in header:
            col = column_name(h)
            if col is None:
                problems.add(1, _shown(h.strip()) if CONTROL.search(h) is None and not credential_like(h)
                             else "(header)", f"unknown column (columns: {', '.join(COLUMNS)})")
            elif col in columns:
                problems.add(1, col, "named twice in the header")
            columns.append(col or "")
        for req in REQUIRED_COLUMNS:
            if req not in columns:
                problems.add(1, req, "required column missing from the header")
        end = reader.line_num
        for row in reader:
            line, end = end + 1, reader.line_num
            if not any(c.strip() for c in row):
                continue
            if len(row) > len(columns):
                problems.add(line, "(row)", f"{len(row)} cells but {len(columns)} columns in the header")
                continue
            rows.append((line, {c: (line, v) for c, v in zip(columns, row) if c}))
    except csv.Error as e:
        problems.add(reader.line_num or 1, "(row)", f"not CSV: {e}")
    return rows


def _row_cells(problems: _Problems, pairs: list[tuple[str, int, Any]]) -> dict[str, tuple[int, Any]]:
    """One YAML mapping's (key, line, value) pairs as cells; unknown or repeated keys are problems."""
    cells: dict[str, tuple[int, Any]] = {}
    for key, kline, value in pairs:
        col = column_name(key)
        if col is None:
            shown = "(key)" if credential_like(key) or CONTROL.search(key) else _shown(key)
            problems.add(kline, shown, f"unknown column (columns: {', '.join(COLUMNS)})")
        elif col in cells:
            problems.add(kline, col, "given twice in this row")
        else:
            cells[col] = (kline, value)
    return cells


def _fast_yaml_rows(text: str, problems: _Problems, path: Path | str,
                    ) -> list[tuple[int, dict[str, tuple[int, Any]]]] | None:
    """`_yaml_rows` through libyaml (PyYAML's C parser, a dependency of MkDocs), or None without it.

    The pure-Python round-trip loader takes seconds per thousand rows, and an export of a large
    estate has tens of thousands. The events are read first, in C, to bound nesting (the format
    is three levels deep) before anything is composed; aliases are shared nodes, never expanded.
    Scalars stay text (YAML 1.2, as the round-trip loader reads them: ``yes`` is a word), except
    ``true``/``false``, which are refused as booleans; dates are parsed by the columns.
    """
    try:
        import yaml as pyyaml

        loader = pyyaml.CSafeLoader
    except (ImportError, AttributeError):
        return None
    try:
        depth = documents = 0
        for ev in pyyaml.parse(text, Loader=loader):
            if isinstance(ev, pyyaml.CollectionStartEvent):
                depth += 1
                if depth > 8:
                    raise ConfigError(f"{path}:{ev.start_mark.line + 1}: (file): invalid YAML: nested deeper "
                                      "than 8 levels")
            elif isinstance(ev, pyyaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(ev, pyyaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise ConfigError(f"{path}:{ev.start_mark.line + 1}: (file): invalid YAML: more than one "
                                      "document (one list of mappings per file)")
        root = pyyaml.compose(text, Loader=loader)
    except pyyaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise ConfigError(f"{path}:{mark.line + 1 if mark else 1}: (file): invalid YAML: "
                          f"{e.problem or e.context}") from None
    except pyyaml.YAMLError as e:
        raise ConfigError(f"{path}:1: (file): invalid YAML: {str(e).splitlines()[0] if str(e) else e}") from None

    def value(node: Any) -> Any:
        if isinstance(node, pyyaml.ScalarNode):
            if node.tag.endswith(":null"):
                return None
            if node.tag.endswith(":bool") and node.value.lower() in ("true", "false"):
                return node.value.lower() == "true"
            return node.value
        if isinstance(node, pyyaml.SequenceNode):
            return [value(n) if isinstance(n, pyyaml.ScalarNode) else {} for n in node.value]
        return {}  # a mapping where a cell belongs: `_text` refuses it

    if root is None:
        problems.add(1, "(file)", "empty inventory file (expected a list of mappings, one per secret)")
        return []
    if not isinstance(root, pyyaml.SequenceNode):
        problems.add(root.start_mark.line + 1, "(top level)", "expected a list of mappings, one per secret (- id: ...)")
        return []
    rows = []
    for i, item in enumerate(root.value):
        line = item.start_mark.line + 1
        if not isinstance(item, pyyaml.MappingNode):
            problems.add(line, f"[{i}]", "expected a mapping (id: ..., secret_class: ...)")
            continue
        pairs = [(str(k.value) if isinstance(k, pyyaml.ScalarNode) else "(key)", k.start_mark.line + 1, value(v))
                 for k, v in item.value]
        rows.append((line, _row_cells(problems, pairs)))
    return rows


def _yaml_rows(text: str, problems: _Problems, path: Path | str) -> list[tuple[int, dict[str, tuple[int, Any]]]]:
    fast = _fast_yaml_rows(text, problems, path) if FAST_YAML else None
    if fast is not None:
        return fast
    try:
        doc = load_bounded_yaml(text, max_depth=8, max_nodes=2_000_000)
    except YamlInputError as e:
        raise ConfigError(f"{path}:{e.line or 1}: (file): invalid YAML: {e.message}") from None
    if doc is None:
        problems.add(1, "(file)", "empty inventory file (expected a list of mappings, one per secret)")
        return []
    if not isinstance(doc, CommentedSeq):
        problems.add(1, "(top level)", "expected a list of mappings, one per secret (- id: ...)")
        return []
    rows = []
    for i, item in enumerate(doc):
        line = doc.lc.item(i)[0] + 1
        if not isinstance(item, CommentedMap):
            problems.add(line, f"[{i}]", "expected a mapping (id: ..., secret_class: ...)")
            continue
        pairs = [(str(k), item.lc.key(k)[0] + 1, v) for k, v in item.items()]
        rows.append((line, _row_cells(problems, pairs)))
    return rows


#: Read YAML through libyaml when PyYAML has it (`_fast_yaml_rows`); the round-trip loader otherwise.
FAST_YAML = True


def parse_inventory(data: bytes, path: Path | str, *, today: datetime | None = None) -> list[InventoryEntry]:
    """Every row of an inventory file's bytes, validated; `ConfigError` (one line) for the first problem."""
    fmt = inventory_format(path)
    today = today or datetime.now(UTC)
    if len(data) > MAX_INVENTORY_BYTES:
        raise ConfigError(f"{path}:1: (file): larger than {MAX_INVENTORY_BYTES} bytes; not an inventory file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: (file): not UTF-8 text") from None
    problems = _Problems(path)
    if not text.strip():
        raise ConfigError(f"{path}:1: (file): empty inventory file (expected "
                          + ("a header row and one row per secret)" if fmt == "csv" else
                             "a list of mappings, one per secret)"))
    rows = _csv_rows(text, problems) if fmt == "csv" else _yaml_rows(text, problems, path)
    problems.raise_if_any()
    if not rows:
        raise ConfigError(f"{path}:1: (file): no rows: an inventory declares at least one secret")
    entries: list[InventoryEntry] = []
    ids: dict[str, int] = {}
    refs: dict[str, int] = {}
    for line, cells in rows:
        e = _entry(problems, line, cells, today)
        if e is None:
            continue
        if e.id in ids:
            problems.add(cells.get("id", (line, None))[0], "id", f"duplicate id {_shown(e.id)} (first on line {ids[e.id]})")
            continue
        if e.ref and e.ref in refs:
            problems.add(cells["ref"][0], "ref", f"{_shown(e.ref)} is enriched twice (first on line {refs[e.ref]})")
            continue
        ids[e.id] = line
        if e.ref:
            refs[e.ref] = line
        entries.append(e)
    problems.raise_if_any()
    return entries


def read_inventory(path: Path, *, today: datetime | None = None) -> list[InventoryEntry]:
    """`parse_inventory` of a file; `ConfigError` when it cannot be read."""
    inventory_format(path)
    return parse_inventory(read_input_file(path, MAX_INVENTORY_BYTES, "inventory file"), path, today=today)


def resolve_path(path: str, engagement_dir: Path | None) -> Path:
    """An inventory store's ``path``: absolute as given, else relative to the engagement's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() or engagement_dir is None else engagement_dir / p


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_inventory(rows: list[dict[str, Any]], fmt: Format) -> bytes:
    """``rows`` (column -> value; consumers a list, dates datetimes) as a file `parse_inventory` reads.

    CSV has a header row with every column; a cell a spreadsheet would run as a
    formula (``=``, ``+``, ``-``, ``@``) is written with a leading ``'``, which the
    parser removes again. YAML is a list of mappings, empty columns left out.
    """
    unknown = {k for r in rows for k in r} - set(COLUMNS)
    if unknown:
        raise ValueError(f"not inventory columns: {sorted(unknown)}")
    if fmt == "csv":
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in COLUMNS])
        return buf.getvalue().encode("utf-8")
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined]
    doc = []
    for r in rows:
        m: dict[str, Any] = {}
        for c in COLUMNS:
            v = r.get(c)
            if v in (None, "", [], ()):
                continue
            if isinstance(v, (list, tuple)):
                m[c] = [str(x) for x in v]
            elif isinstance(v, datetime):
                m[c] = _cell(v)
            else:
                m[c] = str(v)
        doc.append(m)
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue().encode("utf-8")
