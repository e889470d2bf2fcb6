"""The rotation planner: the assessment's rotation plan as a schedule, a table and a calendar.

`posture plan rotation`, the site's rotation calendar and the stage-3 notebook
all read it from here. The plan itself (due date, seed method, ordered steps,
overlap window, revocation path) is the assessment's `RotationRow` view, built
at assess time by `checks.views.rotation_plan` from the seeds
(`checks.rotation_steps`) and the thresholds; this module only lays it out in
time, relative to the assessment's as-of date (never the clock, so the same
assessment gives the same calendar, byte for byte):

- one event per due rotation within the horizon: the next due date, then every
  further one the type's period brings (a TLS certificate's next one depends on
  its successor's expiry, so it has one; a period under `MIN_REPEAT_DAYS` is
  one event: a daily rotation is automation's job); an overdue rotation is placed on the
  as-of date and says since when it was due;
- unknown ages give no date (the row says ``unknown``) and dynamic credentials
  no event (the row says ``dynamic``).

Everything here is metadata: names, paths, owners and the seeds' words, never a
secret value.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from posture.model.fsutil import atomic_write_bytes
from posture.report.ical import AllDayEvent, Attendee, cal_address, calendar
from posture.report.loader import Assessment

#: Days ahead of the as-of date the plan covers by default: the quarter until the next assessment.
DEFAULT_HORIZON_DAYS = 90
#: The rotation plan's table as a reader follows it.
PLAN_COLUMNS = ["status", "next_due", "days_until_due", "id", "environment", "secret_type", "owner",
                "method", "overlap_days", "revocation_path", "due_basis"]
ICS_NAME = "rotation-plan.ics"
#: A shorter period (a static token's 1 day) is one event, not a daily reminder: automate it.
MIN_REPEAT_DAYS = 7
PRODID = "-//Secrets Posture Kit//Rotation plan//EN"


@dataclass(frozen=True)
class RotationEvent:
    """One due rotation of one item (``occurrence`` 0: the next due one)."""

    item_id: str
    name: str
    due: date
    on: date
    occurrence: int
    overdue: bool
    owner: str | None
    pager: str | None
    environment: str
    store: str
    secret_type: str
    method: str
    rotation_method: str
    overlap_days: float | None
    overlap_window: str
    steps: tuple[str, ...]
    revocation_path: str
    due_basis: str
    seed: str


def _day(value: object) -> date | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return pd.Timestamp(value).date()


def plan_table(a: Assessment, horizon_days: int | None = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """Every item of the plan due within ``horizon_days`` of the as-of date (overdue ones
    included), and every item without a date (unknown ages, dynamic credentials); most
    urgent first. ``None``: every item."""
    rp = a.list("rotation_plan")
    if horizon_days is not None and len(rp):
        end = pd.Timestamp(a.as_of, tz="UTC") + pd.Timedelta(days=horizon_days)
        due = pd.to_datetime(rp["next_due"], utc=True)
        rp = rp[due.isna() | (due <= end)]
    return rp[PLAN_COLUMNS].reset_index(drop=True)


def later_count(a: Assessment, horizon_days: int | None) -> int:
    """Items whose next rotation falls after the horizon (left out of `plan_table`)."""
    rp = a.list("rotation_plan")
    if horizon_days is None or not len(rp):
        return 0
    end = pd.Timestamp(a.as_of, tz="UTC") + pd.Timedelta(days=horizon_days)
    return int((pd.to_datetime(rp["next_due"], utc=True) > end).sum())


def rotation_events(a: Assessment, horizon_days: int | None = DEFAULT_HORIZON_DAYS) -> list[RotationEvent]:
    """The due rotations within the horizon, in date order (see the module docstring).
    ``None`` as horizon: only each item's next rotation."""
    out: list[RotationEvent] = []
    as_of = a.as_of
    end = as_of + timedelta(days=horizon_days) if horizon_days is not None else None
    for r in a.rows("rotation_plan"):
        first = _day(r.next_due)
        if r.status == "dynamic" or first is None:
            continue
        if end is not None and first > end:
            continue
        on = max(first, as_of)
        dates = [(first, on)]
        period = r.max_age_days
        if end is not None and r.rotation_method != "tls-renewal" and period and period >= MIN_REPEAT_DAYS:
            nxt = on + timedelta(days=period)
            while nxt <= end:
                dates.append((nxt, nxt))
                nxt += timedelta(days=period)
        for i, (due, day) in enumerate(dates):
            out.append(RotationEvent(
                item_id=r.id, name=r.name or r.path or r.id, due=due, on=day, occurrence=i,
                overdue=i == 0 and r.status == "overdue", owner=r.owner, pager=r.pager,
                environment=r.environment, store=r.store, secret_type=r.secret_type, method=r.method,
                rotation_method=r.rotation_method, overlap_days=r.overlap_days,
                overlap_window=r.overlap_window, steps=tuple(r.steps), revocation_path=r.revocation_path,
                due_basis=r.due_basis if i == 0 else f"previous rotation + {period:g} d", seed=r.seed))
    return sorted(out, key=lambda e: (e.on, e.item_id, e.occurrence))


def events_frame(events: list[RotationEvent]) -> pd.DataFrame:
    """The events as a table (one row per due rotation)."""
    cols = ["on", "due", "overdue", "owner", "item_id", "environment", "secret_type", "method",
            "overlap_days", "revocation_path"]
    return pd.DataFrame([{c: getattr(e, c) for c in cols} for e in events], columns=cols)


def _overlap_words(e: RotationEvent) -> str:
    if e.overlap_days is None:
        return e.overlap_window
    d = e.overlap_days
    length = f"{d * 24:g} h" if d < 1 else f"{d:g} day(s), until {e.on + timedelta(days=math.ceil(d)):%Y-%m-%d}"
    return f"{length}: {e.overlap_window}"


def event_description(e: RotationEvent, a: Assessment) -> str:
    """The event's text: what, when and why, the ordered steps, the overlap window, the
    revocation path and where the method comes from."""
    when = (f"Due {e.due:%Y-%m-%d} ({e.due_basis}); OVERDUE at the assessment of {a.as_of:%Y-%m-%d}."
            if e.overdue else f"Due {e.on:%Y-%m-%d} ({e.due_basis}).")
    lines = [
        f"Rotate {e.name} ({e.secret_type}, {e.environment}, store {e.store}): {e.method}.",
        when,
        f"Owner: {e.owner or 'none: assign an owner'}. Paged: {e.pager or 'nobody'}.",
        "Order of operations:", *e.steps,
        f"Overlap window: {_overlap_words(e)}",
        f"Revocation path: {e.revocation_path}",
        f"Method from: {e.seed}.",
        f"Item: {e.item_id}. Plan of {a.client} {a.quarter} (Secrets Posture Kit).",
    ]
    return "\n".join(lines)


def event_uid(a: Assessment, e: RotationEvent) -> str:
    """Stable per client, item and due date: re-importing a newer plan updates, never duplicates."""
    h = hashlib.sha256(f"{a.client}\0{e.item_id}".encode()).hexdigest()[:24]
    return f"rotation-{h}-{e.due:%Y%m%d}@secrets-posture-kit"


def rotation_ics(a: Assessment, horizon_days: int | None = DEFAULT_HORIZON_DAYS,
                 events: list[RotationEvent] | None = None) -> bytes:
    """The calendar: one all-day event per due rotation, the owner as attendee."""
    events = rotation_events(a, horizon_days) if events is None else events
    organizer = Attendee(name=f"Secrets Posture Kit ({a.client})", address=cal_address(f"kit:{a.client}"))
    vevents = [AllDayEvent(
        uid=event_uid(a, e), start=e.on, end=e.on + timedelta(days=1),
        summary=("OVERDUE: " if e.overdue else "") + f"rotate {e.name} ({e.secret_type}, {e.environment})",
        description=event_description(e, a),
        attendees=(Attendee(name=e.owner, address=cal_address(e.owner, e.pager)),) if e.owner else (),
        categories=("Secret rotation", e.rotation_method)) for e in events]
    stamp = a.generated_at if isinstance(a.generated_at, datetime) else datetime.now().astimezone()
    return calendar(vevents, prodid=PRODID, name=f"Rotation plan {a.client} {a.quarter}", dtstamp=stamp,
                    organizer=organizer)


def write_ics(a: Assessment, dest: Path, horizon_days: int | None = DEFAULT_HORIZON_DAYS) -> int:
    """Write the calendar to ``dest`` whole or not at all; returns the number of events."""
    events = rotation_events(a, horizon_days)
    atomic_write_bytes(Path(dest), rotation_ics(a, horizon_days, events))
    return len(events)


def owner_summary(events: list[RotationEvent]) -> pd.DataFrame:
    """Per owner (unowned last): how many rotations fall due, how many are overdue, the first date."""
    rows: dict[str, dict[str, object]] = {}
    for e in events:
        k = e.owner or ""
        r = rows.setdefault(k, {"owner": e.owner, "rotations": 0, "overdue": 0, "first_at": e.on, "items": set()})
        r["rotations"] = int(r["rotations"]) + 1  # type: ignore[call-overload]
        r["overdue"] = int(r["overdue"]) + int(e.overdue)  # type: ignore[call-overload]
        r["items"].add(e.item_id)  # type: ignore[union-attr]
    out = [{**r, "items": sorted(r["items"])} for k, r in sorted(rows.items(), key=lambda kv: (kv[0] == "", kv[0]))]
    return pd.DataFrame(out, columns=["owner", "rotations", "overdue", "first_at", "items"])
