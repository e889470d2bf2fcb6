"""The list pages: inventory, rotation plan, coverage gaps, waivers and attestations.

Each is one table of a view, its cells formatted by `posture.report.format`
(labels, ✓/✗, chips, days, dates), filterable and paginated offline.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from posture.report import Assessment, html_table
from posture.site.pages.common import facets_form, filter_box, row_facets, status_badge

INVENTORY_COLUMNS = ["id", "name", "source", "store", "kind", "item_class", "classified_by", "environment",
                     "secret_type", "owner", "data_class", "lifecycle_class", "age_days", "last_rotated_at",
                     "expires_at"]
ROTATION_COLUMNS = ["status", "days_until_due", "id", "environment", "secret_type", "owner", "last_rotated_at",
                    "next_due", "max_age_days", "method"]


def filtered_table(df: pd.DataFrame, table_id: str, facets: tuple[str, ...] = (), **kw: Any) -> str:
    """A view's table with the text filter and, where given, drop-downs on ``facets``."""
    return (filter_box(table_id) + facets_form(table_id, df, facets)
            + html_table(df, table_id=table_id, css_class="posture-sortable",
                         row_attrs=row_facets(df, facets) if facets else None, **kw))


def inventory_page(a: Assessment) -> str:
    """Every collected item (reads only ``a.inventory``)."""
    inv = a.inventory
    # Declared inventory (#17): observed (read from a store) or declared (only a file says so).
    columns = INVENTORY_COLUMNS[:3] + ["provenance"] + INVENTORY_COLUMNS[3:] + ["declared_in"]
    body = (filtered_table(inv[columns], "t-inventory",
                           ("environment", "store", "secret_type", "item_class", "provenance"))
            if not inv.empty else "<p><em>The inventory is empty.</em></p>")
    n_config = int(inv["item_class"].eq("configuration").sum()) if not inv.empty else 0
    n_declared = int(inv["provenance"].eq("declared").sum()) if not inv.empty else 0
    return "\n".join([
        "# Inventory", "",
        f"{len(inv)} item(s): every secret, key, certificate and credential collected this "
        "quarter, with its environment, type, owner, data class and lifecycle class. Click a "
        "column to sort; type to filter.", "",
        f"{len(inv) - n_config} secret(s) and {n_config} configuration item(s) (hostnames, ports, "
        "flags kept in a store: inventoried, never scored by secret checks); the Classified by "
        "column names the rule that decided.", "",
        f"{len(inv) - n_declared} item(s) observed in a store and {n_declared} declared in an "
        "inventory file (held where the kit cannot connect: partner keys, HSM keys, wikis, "
        "laptops), which the Provenance column tells apart; Declared in names the file row that "
        "declared an item or added its owner and pager.", "", body, ""])


def rotation_page(a: Assessment) -> str:
    rp = a.list("rotation_plan")  # most urgent first, as the view orders it
    if rp.empty:
        return "# Rotation plan\n\n<p><em>No item has a rotation schedule.</em></p>\n"
    urgent = rp["status"].isin(("overdue", "due_soon")).sum()
    t = rp[ROTATION_COLUMNS].assign(status=[status_badge(s) for s in rp["status"]])
    return "\n".join([
        "# Rotation plan", "",
        f"<p>Next due date per item, from its type and age (seed thresholds, overridable per "
        f"engagement): {int((rp['status'] == 'overdue').sum())} overdue, {int(urgent)} overdue or due "
        "soon. Most urgent first: overdue, due soon, unknown (no date to go by), on schedule, dynamic.</p>", "",
        filter_box("t-rotation-plan") + facets_form("t-rotation-plan", rp, ("status", "environment", "store"))
        + html_table(t, table_id="t-rotation-plan", css_class="posture-sortable", raw_columns=("status",),
                     row_attrs=row_facets(rp, ("status", "environment", "store"))), ""])


def list_section(title: str, intro: str, df: pd.DataFrame, table_id: str, *, level: int = 1,
                 loud: bool = False) -> str:
    """A heading, a sentence (a red admonition when ``loud`` and not empty) and the view's table."""
    parts = [f"{'#' * level} {title}", ""]
    if loud and len(df):
        parts += [f'!!! danger "{len(df)} item(s)"', f"    {intro}", ""]
    else:
        parts += [intro, ""]
    parts += ["<p><em>None.</em></p>" if df.empty else filtered_table(df, f"t-{table_id}")]
    return "\n".join(parts) + "\n"


def coverage_gaps_page(a: Assessment) -> str:
    return list_section(
        "Coverage gaps", "These parts of the estate could not be read. Every check that depends "
        "on them is not assessed; unknown is never a pass.", a.list("coverage_gaps"),
        "coverage-gaps", loud=True)


def waivers_page(a: Assessment) -> str:
    return (list_section("Waivers", "Accepted risks with their approver and expiry. An expired waiver "
                         "no longer applies.", a.list("waivers"), "waivers")
            + "\n" + list_section("Attestations", "Manual evidence for what no API shows; a missing one "
                                  "leaves its check not assessed.", a.list("attestations"), "attestations",
                                  level=2))
