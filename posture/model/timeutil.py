"""The one UTC time parser every collector uses.

Stores answer in many shapes: RFC 3339 with a ``Z`` or an offset, Go's
nanosecond fractions (Vault), naive datetimes (boto3 in some paths, moto),
epoch seconds, and sentinels for "never" (Go's zero time ``0001-01-01``,
the credential report's ``N/A``). All become an aware UTC ``datetime`` or
None; a value that is none of these is None, never a guess.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

#: Strings that mean "no time" in the APIs the kit reads.
NO_TIME = frozenset({"", "N/A", "no_information", "not_supported", "none", "null"})
_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", re.IGNORECASE)


def parse_utc(value: Any) -> datetime | None:
    """An aware UTC datetime from any time shape the stores return, else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC) if value > 0 else None
    text = str(value).strip()
    if text in NO_TIME or text.startswith("0001-01-01"):
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        m = _FRACTION.match(text)
        if not m:
            return None
        zone = (m.group(3) or "+00:00").upper().replace("Z", "+00:00")
        try:  # Go writes nanoseconds; Python takes microseconds
            dt = datetime.fromisoformat(m.group(1) + (m.group(2) or "")[:7] + zone)
        except ValueError:
            return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
