"""The Plans section: the rotation calendar (with its .ics download) and the suggested policies.

The calendar is `posture.report.plans` laid out for owners: the overdue
rotations first, then one table per month of the horizon, then one line per
owner, the order of operations of each method the plan uses (the seeds'
sequences, as the assessment recorded them), and the items with no date
(unknown ages, dynamic credentials). Every client value goes through
`html_table` or `esc`; headings and sentences are the kit's own text.

The suggested-policies page comes from `posture.site.pages.suggestions`
(`suggested_policies_page`) when that module is installed; the section holds
the calendar alone otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from posture.model.fsutil import atomic_write_bytes
from posture.report import Assessment, esc, html_table
from posture.report.format import days
from posture.report.plans import (
    DEFAULT_HORIZON_DAYS,
    ICS_NAME,
    RotationEvent,
    owner_summary,
    rotation_events,
    rotation_ics,
)
from posture.site.pages.common import filter_box, status_badge

try:
    from posture.site.pages.suggestions import suggested_policies_page
except ModuleNotFoundError as e:  # the suggestions page ships separately; only its absence is tolerated
    if e.name != "posture.site.pages.suggestions":
        raise
    suggested_policies_page = None

CALENDAR_PAGE = "plans/rotation-calendar.md"
SUGGESTIONS_PAGE = "plans/suggested-policies.md"
#: Rows per page of a calendar table (posture.js paginates longer ones).
PAGE_SIZE = 25
_NUMBER = re.compile(r"^\s*\d+[.)]\s*")


def write_rotation_calendar(a: Assessment, downloads: Path,
                            horizon_days: int | None = DEFAULT_HORIZON_DAYS) -> Path:
    """The calendar owners import, written among the site's downloads."""
    downloads.mkdir(parents=True, exist_ok=True)
    path = downloads / ICS_NAME
    atomic_write_bytes(path, rotation_ics(a, horizon_days))
    return path


def _events_table(events: list[RotationEvent], table_id: str) -> str:
    rows = pd.DataFrame([{
        "date": e.on, "status": status_badge("overdue" if e.overdue else "due"),
        "id": e.item_id, "owner": e.owner, "environment": e.environment, "secret_type": e.secret_type,
        "method": e.method, "overlap": e.overlap_window if e.overlap_days is None else days(e.overlap_days),
        "revocation_path": e.revocation_path,
    } for e in events])
    return filter_box(table_id) + html_table(rows, table_id=table_id, css_class="posture-sortable",
                                             raw_columns=("status",), page_size=PAGE_SIZE)


def _methods_section(a: Assessment) -> list[str]:
    """Each method the plan uses once: its numbered steps, overlap window and seed."""
    seen: dict[str, Any] = {}
    for r in a.rows("rotation_plan"):
        seen.setdefault(r.rotation_method or r.method, r)
    out = ["## Order of operations", "",
           "<p>The sequence each method follows, from the review method's rotation table and its "
           "dual-account and overlap-window sequences.</p>", ""]
    for key, r in sorted(seen.items()):
        steps = "".join(f"<li>{esc(_NUMBER.sub('', s))}</li>" for s in r.steps)
        out += [f'<h3 id="method-{esc(key)}">{esc(r.method)}</h3>',
                f"<ol>{steps}</ol>" if steps else "<p><em>No steps recorded (re-run the assessment).</em></p>",
                f"<p><strong>Overlap window:</strong> {esc(r.overlap_window) or '—'}</p>",
                f"<p><em>From {esc(r.seed) or 'the review method'}.</em></p>", ""]
    return out


def rotation_calendar_page(a: Assessment, levels: str = "../../",
                           horizon_days: int | None = DEFAULT_HORIZON_DAYS) -> str:
    """The rotation calendar of the next ``horizon_days`` days after the as-of date."""
    events = rotation_events(a, horizon_days)
    rp = a.list("rotation_plan")
    href = f"{levels}downloads/{ICS_NAME}"
    head = ["# Rotation calendar", "",
            f"<p>Every rotation due in the {horizon_days} days after the assessment's as-of date "
            f"({esc(a.as_of.isoformat())}): {len(events)} rotation(s) of "
            f"{len({e.item_id for e in events})} item(s), "
            f"{sum(e.overdue for e in events)} of them overdue (placed on the as-of date). "
            f'Owners import <a href="{href}" download>{ICS_NAME}</a> into their calendar: one event per '
            "due rotation, the owner invited, its steps, overlap window and revocation path in the "
            "event. The same plan prints with <code>posture plan rotation CLIENT</code>.</p>", ""]
    if rp.empty:
        return "\n".join([*head, "<p><em>No item has a rotation schedule.</em></p>", ""])
    body: list[str] = []
    overdue = [e for e in events if e.overdue]
    if overdue:
        body += ["## Overdue", "", f'!!! danger "{len(overdue)} overdue rotation(s)"',
                 "    Past their due date at the assessment: rotate these first.", "",
                 _events_table(overdue, "t-rotation-overdue"), ""]
    by_month: dict[str, list[RotationEvent]] = {}
    for e in events:
        if not e.overdue:
            by_month.setdefault(e.on.strftime("%Y-%m"), []).append(e)
    for month, evs in sorted(by_month.items()):
        title = pd.Timestamp(f"{month}-01").strftime("%B %Y")
        body += [f"## {title}", "", _events_table(evs, f"t-rotation-{month}"), ""]
    if events:
        body += ["## By owner", "", "<p>How many rotations each owner has in the horizon; an event "
                 "with no owner invites nobody (assign one).</p>", "",
                 html_table(owner_summary(events), table_id="t-rotation-owners", css_class="posture-sortable"), ""]
    else:
        body += ["<p><em>No rotation falls due in the horizon.</em></p>", ""]
    undated = rp[rp["status"].isin(("unknown", "dynamic"))]
    body += _methods_section(a)
    body += ["## No date", "",
             "<p>Unknown: no rotation or creation date was recorded, so no due date is invented; "
             "find out when it was last rotated. Dynamic: issued per request and expiring by itself, "
             "nothing to schedule.</p>", ""]
    if undated.empty:
        body += ["<p><em>None.</em></p>", ""]
    else:
        t = undated[["status", "id", "environment", "secret_type", "owner", "method", "due_basis"]]
        t = t.assign(status=[status_badge(s) for s in t["status"]])
        body += [html_table(t, table_id="t-rotation-undated", css_class="posture-sortable",
                            raw_columns=("status",), page_size=PAGE_SIZE), ""]
    return "\n".join([*head, *body])


def plans_section(a: Assessment, page: Callable[[str, Callable[[str], str]], str]) -> list[dict[str, str]]:
    """Write the Plans pages with ``page(rel, build)`` (`build_docs`'s writer); the nav entries."""
    nav = [{"Rotation calendar": page(CALENDAR_PAGE, lambda lv: rotation_calendar_page(a, lv))}]
    if suggested_policies_page is not None:
        nav.append({"Suggested policies": page(SUGGESTIONS_PAGE, lambda lv: suggested_policies_page(a))})
    return nav
