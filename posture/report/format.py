"""Values for people: the ONE place that decides how a value reads in a table, a card or a page.

Every table of the site and of the notebooks goes through `html_table`, which
asks `label` for its column headers and `cell` for each value; the site's
cards and sentences use the same functions (`number`, `percent`, `when`,
`days`, `chips`...). So a boolean is "✓ yes" everywhere, a float that holds a
count is an integer, a time has no microseconds, a duration is in days or
hours, a list is chips, and a column is named in words, not snake_case.

Everything returned is HTML with every value escaped by `esc` (HTML *and*
Markdown, defined here because every formatter needs it): a value from a
client's estate stays text. `inline_markdown` and `markdown_html` render the
kit's own Markdown (catalog texts, the scoring method, remediation hints) by
escaping first and only then turning backticks, ``**`` and list markers into
tags, so a hostile string can at worst become bold, never markup.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

# Characters that Markdown (and its extensions: attr_list, tables) gives meaning to.
_MD_ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+!|~"}
_ENTITIES = {**_MD_ENTITIES, "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}


def esc(value: Any) -> str:
    """Escape a value for HTML and Markdown: it renders as exactly its text.

    ``[x](javascript:alert(1))`` cannot become a link and ``<script>`` cannot
    become a tag, whether the result lands in raw HTML or in a Markdown line.
    Missing values (None, NaN, NaT) render empty; dates and times as ISO 8601.
    """
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, date):  # datetime and pd.Timestamp too
        value = value.isoformat()
    elif not isinstance(value, str):
        value = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
    # one pass, so the entities html.escape would produce are never re-escaped
    return "".join(_ENTITIES.get(c, c) for c in value).replace("\n", "<br>")

#: Human column labels, by the contract's field names (and the reporting layer's own columns).
LABELS: dict[str, str] = {
    "id": "ID", "check_id": "Check", "check": "Check", "title": "Title", "name": "Name",
    "status": "Status", "severity": "Severity", "stage": "Stage", "stage_name": "Stage",
    "checklist_item": "Checklist item", "checklist_text": "Checklist item", "anti_pattern": "Anti-pattern",
    "source": "Source", "store": "Store", "resource": "Resource", "resource_name": "Resource name",
    "environment": "Environment", "environments": "Environments", "owner": "Owner", "pager": "Paged",
    "evidence": "Evidence", "remediation": "Fix", "controls": "Controls", "waiver": "Waiver",
    "pass": "Pass", "passed": "Pass", "fail": "Fail", "failing": "Failing", "waived": "Waived",
    "not_assessed": "Not assessed", "total": "Total", "score": "Score", "grade": "Grade",
    "coverage": "Coverage", "key": "#", "label": "Name",
    "table": "Table", "kind": "Kind", "path": "Path", "item_class": "Class",
    "classified_by": "Classified by", "secret_type": "Secret type", "data_class": "Data class",
    "lifecycle_class": "Lifecycle", "critical": "Critical", "age_days": "Age",
    "last_rotated_at": "Last rotated", "expires_at": "Expires", "created_at": "Created",
    "principal": "Principal", "principal_kind": "Principal kind", "principal_id": "Principal ID",
    "via": "Bound via", "policy": "Policy", "policy_id": "Policy ID", "capabilities": "Capabilities",
    "effect": "Effect", "justification": "Justification",
    "max_age_days": "Max age", "next_due": "Next due", "days_until_due": "Due", "method": "Method",
    "prod_paths": "Production paths", "nonprod_paths": "Non-production paths",
    "tables": "Tables", "scope": "Scope", "service": "Service", "operation": "Operation",
    "reason": "Reason", "detail": "Detail", "dependent_checks": "Checks not assessed",
    "approver": "Approver", "expires": "Expires", "active": "Active", "findings_waived": "Findings waived",
    "findings_failing_after_expiry": "Failing after expiry", "item": "Item", "date": "Date",
    "value": "Value", "stale": "Stale", "missing": "Missing",
    "revoke_first": "Revoke first", "principals_can_read": "Can read", "readers_unknown": "Readers unknown", "principals_did_read": "Did read",
    "tokens_to_revoke": "Tokens to revoke", "steps": "Steps", "target_minutes": "Target",
    "question": "Question", "answer": "Answer", "why": "Why", "means": "Means", "verdict": "Verdict",
    "step": "Step", "quarter": "Quarter", "format": "Format", "bytes": "Bytes", "lines": "Lines",
    "events": "Events", "malformed": "Malformed", "duplicate_of": "Duplicate of",
    "first_at": "First", "last_at": "Last", "at": "At", "count": "Count", "signal": "Signal",
    "remote_addr": "Source IP", "errors": "Errors", "denied": "Denied", "requests": "Requests",
    "last_read_at": "Last read", "days_since_read": "Since last read", "coverage_days": "Log covers",
    "orphaned": "Orphaned", "seconds": "Time", "ttl_hours": "TTL", "artefact": "Artefact",
    "sha256": "SHA-256", "file": "File", "time": "Time", "user": "User", "action": "Action",
    "commit": "Commit", "old_manifest_sha256": "Old manifest SHA-256",
    "new_manifest_sha256": "New manifest SHA-256", "signing_key": "Signing key", "field": "Field",
    "threshold": "Threshold", "meaning": "Meaning", "rows": "Rows", "items": "Items", "class": "Class",
    "not_assessed_reason": "Why not assessed", "in_tree": "In the tree", "line": "Line",
}
#: Columns whose number is a count of days, and how each reads.
DAY_COLUMNS = frozenset({"age_days", "max_age_days", "days_since_read", "coverage_days", "age"})
DUE_COLUMNS = frozenset({"days_until_due"})
SECOND_COLUMNS = frozenset({"seconds", "token_ttl", "token_max_ttl", "ttl", "max_ttl", "ttl_seconds"})
HOUR_COLUMNS = frozenset({"ttl_hours"})
MINUTE_COLUMNS = frozenset({"target_minutes"})
FRACTION_COLUMNS = frozenset({"coverage"})
#: Timestamps a reader wants as a day (when a secret was rotated or falls due), not to the minute.
DAY_ONLY_COLUMNS = frozenset({"next_due", "last_rotated_at", "expires_at", "created_at"})
BYTE_COLUMNS = frozenset({"bytes"})
#: Columns holding the kit's own prose (catalog and vocabulary texts): inline Markdown rendered.
KIT_TEXT_COLUMNS = frozenset({"meaning", "means", "detects", "why", "fix", "remediation", "suggestion"})
#: Columns where an empty value is itself a finding (nobody owns it, nobody is paged).
GAP_WHEN_EMPTY = {"owner": "no owner", "pager": "nobody paged", "justification": "missing"}

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
CHIP_LIMIT = 8
#: A list item longer than this with spaces in it is a sentence, shown as a line, not a chip.
SENTENCE_CHARS = 40


def label(column: Any) -> str:
    """A column's header in words: `LABELS`, else its identifier with spaces (``a_b`` -> ``A b``)."""
    name = str(column)
    if name in LABELS:
        return LABELS[name]
    if name.isidentifier():
        words = name.replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    return name


def missing(value: Any) -> bool:
    """None, NaN, NaT, pd.NA or an empty string: nothing to show."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def number(value: Any) -> str:
    """An integer without ``.0``; otherwise one decimal (three significant digits below 1)."""
    v = float(value)
    if not math.isfinite(v):
        return "unknown"
    r = round(v, 1) if abs(v) >= 1 or v == 0 else float(f"{v:.3g}")
    if r.is_integer():
        return f"{int(r):,}" if abs(r) >= 10_000 else str(int(r))
    return f"{r:,}" if abs(r) >= 10_000 else str(r)


def percent(fraction: Any) -> str:
    """0.853 -> ``85%``; never ``100%`` unless all of it, never ``0%`` unless none."""
    f = float(fraction)
    if not math.isfinite(f):
        return "unknown"
    p = round(100 * f)
    if p == 100 and f < 1:
        p = 99
    elif p == 0 and f > 0:
        return "<1%"
    return f"{p}%"


def as_utc(value: Any) -> datetime | date | None:
    """A date, a datetime (in UTC), or None, from a date/datetime/Timestamp or an ISO string."""
    if missing(value):
        return None
    if isinstance(value, str):
        if not _ISO_TIME.match(value.strip()):
            return None
        value = pd.Timestamp(value.strip())
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value if isinstance(value, date) else None


def when(value: Any, *, day: bool = False) -> str:
    """``2026-03-31`` for a date (or with ``day``), ``2026-03-31 14:05 UTC`` for a time
    (never microseconds)."""
    d = as_utc(value)
    if d is None:
        return esc(value)
    if isinstance(d, datetime):
        return d.strftime("%Y-%m-%d" if day else "%Y-%m-%d %H:%M UTC")
    return d.isoformat()


def days(value: Any) -> str:
    """A duration given in days: ``12 days``, ``1 day``, ``5 h`` under a day."""
    v = float(value)
    if not math.isfinite(v):
        return "unknown"
    if abs(v) < 1:
        return hours(v * 24)
    n = round(v)
    return f"{n:,} day" if abs(n) == 1 else f"{n:,} days"


def hours(value: Any) -> str:
    """A duration given in hours: ``5 h``, ``45 min`` under an hour, days from 48 h."""
    v = float(value)
    if abs(v) >= 48:
        return days(v / 24)
    if abs(v) < 1:
        return f"{round(v * 60)} min"
    return f"{number(round(v, 1))} h"


def seconds(value: Any) -> str:
    """A duration given in seconds: ``40 s``, ``12 min``, ``5 h``, ``3 days``."""
    v = float(value)
    if abs(v) < 120:
        return f"{round(v)} s"
    return hours(v / 3600)


def due(value: Any) -> str:
    """Days until a due date: ``in 12 days``, ``today``, ``770 days overdue``."""
    v = float(value)
    if not math.isfinite(v):
        return "unknown"
    n = round(v)
    if n == 0:
        return "today"
    return f"in {days(n)}" if n > 0 else f"{days(-n)} overdue"


def size(value: Any) -> str:
    """Bytes as ``812 B``, ``4.2 kB``, ``1.3 MB``."""
    v = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(v) < 1000 or unit == "GB":
            return f"{number(v if unit == 'B' else round(v, 1))} {unit}"
        v /= 1000
    return number(v)


def yes_no(value: Any) -> str:
    """A boolean as a mark *and* a word (colour is never the only signal)."""
    return ('<span class="posture-yes">✓ yes</span>' if bool(value)
            else '<span class="posture-no">✗ no</span>')


def gap(text: str) -> str:
    """Something that should be there and is not (no owner, nobody paged): red, in words."""
    return f'<span class="posture-gap">{esc(text)}</span>'


def none() -> str:
    return '<span class="posture-none" title="none">—</span>'


def chip(value: Any, css: str = "") -> str:
    return f'<span class="posture-chip{" " + css if css else ""}">{esc(value)}</span>'


def lines(items: list[Any]) -> str:
    """A list of sentences (a card's steps) one per line: as chips they would be pills of prose."""
    return '<ul class="posture-lines">' + "".join(f"<li>{esc(v)}</li>" for v in items) + "</ul>"


def chips(values: Iterable[Any], *, limit: int = CHIP_LIMIT, css: str = "") -> str:
    """A list as chips (as lines when its items are sentences); beyond ``limit``, the rest behind
    a "+N more" disclosure (all still there)."""
    items = [v for v in values if not missing(v)]
    if not items:
        return none()
    if any(isinstance(v, str) and len(v) > SENTENCE_CHARS and " " in v for v in items):
        return lines(items)
    head = "".join(chip(v, css) for v in items[:limit])
    if len(items) <= limit:
        return f'<span class="posture-chips">{head}</span>'
    rest = "".join(chip(v, css) for v in items[limit:])
    return (f'<span class="posture-chips">{head}</span><details class="posture-more">'
            f"<summary>+{len(items) - limit} more</summary>{rest}</details>")


def mapping(values: Mapping[str, Any], *, limit: int = 8) -> str:
    """A dict (evidence, a signal's detail) as labelled values, empty ones left out."""
    pairs = [(k, v) for k, v in values.items() if not _empty(v)]
    if not pairs:
        return none()

    def one(k: str, v: Any) -> str:
        return f'<span class="posture-kv"><span class="posture-k">{esc(label(k))}</span> {cell(v, k)}</span>'

    head = "".join(one(k, v) for k, v in pairs[:limit])
    if len(pairs) <= limit:
        return head
    rest = "".join(one(k, v) for k, v in pairs[limit:])
    return f'{head}<details class="posture-more"><summary>+{len(pairs) - limit} more</summary>{rest}</details>'


def _empty(v: Any) -> bool:
    if isinstance(v, list | tuple | dict | np.ndarray):
        return len(v) == 0
    return missing(v)


def cell(value: Any, column: Any = None) -> str:
    """One value as a table cell shows it (HTML, escaped), chosen by its type and its column."""
    col = str(column) if column is not None else ""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | set | frozenset):
        return chips(sorted(value, key=str) if isinstance(value, set | frozenset) else value)
    if isinstance(value, Mapping):
        return mapping(value)
    if missing(value):
        return gap(GAP_WHEN_EMPTY[col]) if col in GAP_WHEN_EMPTY else none()
    if isinstance(value, bool | np.bool_):
        return yes_no(value)
    if isinstance(value, int | float | np.integer | np.floating):
        if col in FRACTION_COLUMNS:
            return esc(percent(value))
        for cols, fmt in ((DAY_COLUMNS, days), (DUE_COLUMNS, due), (SECOND_COLUMNS, seconds),
                          (HOUR_COLUMNS, hours), (BYTE_COLUMNS, size)):
            if col in cols:
                return esc(fmt(value))
        if col in MINUTE_COLUMNS:
            return esc(f"{number(value)} min")
        return esc(number(value))
    if isinstance(value, date | pd.Timestamp) or (isinstance(value, str) and _ISO_TIME.match(value)):
        return esc(when(value, day=col in DAY_ONLY_COLUMNS))
    if col in KIT_TEXT_COLUMNS:
        return inline_markdown(value)
    return esc(value)


def sort_key(value: Any) -> str | None:
    """What a sortable table sorts a cell by when its text would mislead (``9 days`` < ``10 days``)."""
    if isinstance(value, bool | np.bool_ | list | tuple | dict | np.ndarray) or missing(value):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value)) if math.isfinite(float(value)) else None
    d = as_utc(value) if isinstance(value, date | pd.Timestamp | str) else None
    return d.isoformat() if d is not None else None


# --- the kit's own Markdown, rendered safely ----------------------------------------------

# ``*emphasis*`` needs letters inside and no word, ``*`` or ``/`` around it, so a glob such as
# ``secret/*/db/*`` or ``a*b*c`` stays as written.
_INLINE = re.compile(r"`([^`\n]+)`|\*\*([^*\n]+)\*\*|(?<![\w*/])\*([A-Za-z][^*\n]*?[A-Za-z.])\*(?![\w*/])")
_ITEM = re.compile(r"^\s*(?:(\d+)[.)]|[-*])\s+(.*)$")


def inline_markdown(text: Any) -> str:
    """Backtick code, ``**bold**`` and ``*emphasis*`` as tags; everything else escaped text."""
    if missing(text):
        return ""
    s, out, pos = str(text), [], 0
    for m in _INLINE.finditer(s):
        out.append(esc(s[pos:m.start()]))
        code, strong, em = m.groups()
        out.append(f"<code>{esc(code)}</code>" if code is not None
                   else f"<strong>{esc(strong)}</strong>" if strong is not None else f"<em>{esc(em)}</em>")
        pos = m.end()
    out.append(esc(s[pos:]))
    return "".join(out).replace("<br>", " ")


def markdown_html(text: Any) -> str:
    """Paragraphs and (numbered) lists of the kit's Markdown as HTML, inline parts by `inline_markdown`."""
    if missing(text):
        return ""
    blocks, para, items, ordered = [], [], [], False

    def flush() -> None:
        nonlocal para, items
        if para:
            blocks.append(f"<p>{inline_markdown(' '.join(para))}</p>")
        if items:
            tag = "ol" if ordered else "ul"
            blocks.append(f"<{tag}>" + "".join(f"<li>{inline_markdown(i)}</li>" for i in items) + f"</{tag}>")
        para, items = [], []

    for line in str(text).splitlines():
        m = _ITEM.match(line)
        if not line.strip():
            flush()
        elif m:
            if para:
                flush()
            if not items:
                ordered = m.group(1) is not None
            items.append(m.group(2))
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            para.append(line.strip())
    flush()
    return "".join(blocks)
