"""A small iCalendar (RFC 5545) writer: the rotation calendar owners import.

Only what the plan needs, written to the letter of the RFC so any calendar
reads it: CRLF line ends, content lines folded at 75 octets (never inside a
UTF-8 sequence, continuation lines start with one space, section 3.1), TEXT
values escaped (backslash, semicolon, comma, newline: 3.3.11), parameter values
quoted when they hold ``:;,`` and stripped of DQUOTE and control characters
(3.2), all-day events as ``VALUE=DATE`` (3.3.4), DTSTAMP in UTC (3.8.7.2), and
calendar user addresses as URIs (3.3.3): ``mailto:`` for an e-mail address,
else a stable ``urn:uuid:`` naming the owner, whose name goes in ``CN``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import quote

CRLF = "\r\n"
MAX_OCTETS = 75
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
#: Namespace of the kit's owner URNs (uuid5 of the owner's name: the same owner, the same address).
OWNER_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:secrets-posture-kit:owner")


def escape_text(value: object) -> str:
    """A TEXT value (RFC 5545 3.3.11): ``\\``, ``;``, ``,`` escaped, newlines as ``\\n``,
    other control characters dropped."""
    s = "" if value is None else str(value)
    s = s.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub("", s.replace("\t", " "))


def param_value(value: object) -> str:
    """A parameter value (3.2): no DQUOTE or control character; quoted if it holds ``:;,``."""
    s = _CONTROL.sub("", ("" if value is None else str(value)).replace('"', "'").replace("\t", " "))
    return f'"{s}"' if any(c in s for c in ":;,") else s


def is_email(value: object) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value.strip()))


def cal_address(owner: str | None, pager: str | None = None) -> str:
    """The owner's calendar user address: ``mailto:`` when the owner (or, failing that, the
    pager) is an e-mail address, else ``urn:uuid:`` derived from the owner's name."""
    for candidate in (owner, pager):
        if is_email(candidate):
            return "mailto:" + quote(str(candidate).strip(), safe="@.+-_~!$'*=^`{|}&")
    return f"urn:uuid:{uuid.uuid5(OWNER_NAMESPACE, str(owner or ''))}"


def fold(line: str) -> str:
    """One content line folded at 75 octets (3.1); continuation lines begin with a space."""
    data = line.encode("utf-8")
    if len(data) <= MAX_OCTETS:
        return line
    parts, start, limit = [], 0, MAX_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, MAX_OCTETS - 1  # the leading space counts
    return (CRLF + " ").join(parts)


def content_line(name: str, value: str, **params: str) -> str:
    """``NAME;PARAM=value:value``, folded; ``value`` must already be in its type's syntax."""
    p = "".join(f";{k.replace('_', '-').upper()}={v}" for k, v in params.items())
    return fold(f"{name}{p}:{value}")


def utc_stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True)
class Attendee:
    name: str
    address: str


@dataclass(frozen=True)
class AllDayEvent:
    """A VEVENT over whole days: DTSTART and the exclusive DTEND as ``VALUE=DATE``."""

    uid: str
    start: date
    end: date
    summary: str
    description: str
    attendees: tuple[Attendee, ...] = ()
    categories: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def calendar(events: list[AllDayEvent], *, prodid: str, name: str, dtstamp: datetime,
             organizer: Attendee | None = None) -> bytes:
    """The VCALENDAR with ``events``, as UTF-8 bytes with CRLF line ends."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", content_line("PRODID", escape_text(prodid)),
             "CALSCALE:GREGORIAN", content_line("X-WR-CALNAME", escape_text(name))]
    stamp = utc_stamp(dtstamp)
    for e in events:
        lines += ["BEGIN:VEVENT", content_line("UID", escape_text(e.uid)), f"DTSTAMP:{stamp}",
                  f"DTSTART;VALUE=DATE:{e.start:%Y%m%d}", f"DTEND;VALUE=DATE:{e.end:%Y%m%d}",
                  content_line("SUMMARY", escape_text(e.summary)),
                  content_line("DESCRIPTION", escape_text(e.description)), "TRANSP:TRANSPARENT"]
        if e.categories:
            lines.append(content_line("CATEGORIES", ",".join(escape_text(c) for c in e.categories)))
        if e.attendees and organizer is not None:
            lines.append(content_line("ORGANIZER", organizer.address, cn=param_value(organizer.name)))
        for at in e.attendees:
            lines.append(content_line("ATTENDEE", at.address, cn=param_value(at.name), role="REQ-PARTICIPANT", partstat="NEEDS-ACTION"))
        lines += [content_line(k, escape_text(v)) for k, v in e.extra.items()]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return (CRLF.join(lines) + CRLF).encode("utf-8")
