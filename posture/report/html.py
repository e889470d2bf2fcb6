"""HTML tables: how every table of the site and the notebooks reaches a page.

Any value that came from a client's estate may be hostile (a secret can be
named ``<script>``), so every cell goes through `posture.report.format`
(`cell`, which escapes HTML *and* the Markdown link syntax with `esc`) and
every header through its one `label`; nothing here builds markup from raw
strings. A table sits in its own scrolling container, so a wide one scrolls
inside it, never the page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from posture.report.format import cell, esc, label, sort_key

__all__ = ["esc", "html_table", "show"]


def html_table(
    df: pd.DataFrame,
    *,
    table_id: str | None = None,
    css_class: str | None = None,
    max_rows: int | None = None,
    raw_columns: tuple[str, ...] = (),
    row_attrs: list[dict[str, str]] | None = None,
    page_size: int | None = None,
    stack: bool = False,
) -> str:
    """An HTML table with every cell formatted and escaped; no blank lines (safe inside Markdown).

    ``raw_columns`` hold markup the kit itself produced (e.g. links it built
    from escaped values) and are passed through. ``row_attrs`` adds ``data-*``
    attributes per row (the offline filters read them); their values are escaped.
    ``page_size`` overrides how many rows posture.js shows per page. ``stack``
    lays each row out as a labelled block on a phone (every cell names its column).
    """
    attrs = ""
    if table_id:
        attrs += f' id="{esc(table_id)}"'
    classes = " ".join(c for c in ("posture-table", css_class, "posture-stack" if stack else None) if c)
    attrs += f' class="{esc(classes)}"'
    if page_size:
        attrs += f' data-page-size="{int(page_size)}"'
    rows = df if max_rows is None else df.head(max_rows)
    parts = [f'<div class="posture-table-wrap"><table{attrs}>', "<thead><tr>"]
    labels = [esc(label(c)) for c in df.columns]
    parts += [f"<th>{h}</th>" for h in labels]
    parts.append("</tr></thead><tbody>")
    for i, rec in enumerate(rows.itertuples(index=False, name=None)):
        cells = []
        for col, head, v in zip(df.columns, labels, rec):
            named = f' data-label="{head}"' if stack else ""
            if col in raw_columns:
                cells.append(f"<td{named}>{v}</td>")
                continue
            key = sort_key(v)
            sort = f' data-sort="{esc(key)}"' if key is not None else ""
            cells.append(f"<td{sort}{named}>{cell(v, col)}</td>")
        extra = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in (row_attrs[i] if row_attrs else {}).items())
        parts.append(f"<tr{extra}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></div>")
    if max_rows is not None and len(df) > max_rows:
        parts.append(f"<p><em>{len(df) - max_rows} more rows not shown (all of them are in the "
                     "downloads).</em></p>")
    return "".join(parts)


def show(df: pd.DataFrame, **kw: Any) -> Any:
    """Display helper for notebooks: an escaped table as an IPython HTML object."""
    from IPython.display import HTML

    if df.empty:
        return HTML("<p><em>None.</em></p>")
    return HTML(html_table(df, **kw))
