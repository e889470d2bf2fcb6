"""Every plot the notebooks show, in one style, with client text drawn as plain text.

Titles, axis and tick labels and legend entries often carry client-controlled
strings (a Vault path anyone can request, an environment or auth-method name).
Matplotlib reads a pair of ``$`` as mathtext and dies on ``$\\foo$``, and with
``text.usetex`` it would hand the string to LaTeX. So every such string goes
through `plain`, which escapes ``$`` (no string can open math mode), and
`_styled` builds each figure under the kit's one `STYLE` and turns usetex off
on every text, tick labels included. Legends get their handles and labels
explicitly, so a label starting with ``_`` is shown, not dropped.

No panel is empty and nothing is cut: a series with fewer than three points is
drawn with markers (a lone day shows as a point), a series that is zero
throughout is left out and named in a note, an axes with nothing to draw says
so, long titles wrap (`title_text`) and long tick labels are shortened in the
middle (`short_label`). Figures are `matplotlib.figure.Figure` objects (no
pyplot state); a notebook shows one with ``display(fig)``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from posture.model.vocabulary import STATUSES
from posture.report.loader import Assessment

#: The kit's one plot style (rc keys); every artist of a figure is created under it.
STYLE: dict[str, Any] = {
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=["#546e7a", "#ef6c00", "#2e7d32", "#c62828", "#6a1b9a",
                                                "#00838f", "#9e9d24", "#5d4037"]),
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titlelocation": "left",
    "legend.fontsize": 7.0,
    "legend.frameon": False,
    "lines.markersize": 5.0,
    "text.usetex": False,
    "text.parse_math": True,  # escaped dollars (`plain`) render as "$"
    "axes.formatter.use_mathtext": False,
}
WIDTH = 10.0
#: Characters per title line at `WIDTH` (longer titles wrap; they are never cut).
TITLE_CHARS = 95
LABEL_CHARS = 40
#: A series with this few points is drawn with markers: a lone point must show.
FEW_POINTS = 3
STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "waived": "#f9a825", "not_assessed": "#757575"}
GOOD, FAIR, POOR = "#2e7d32", "#f9a825", "#c62828"


def plain(value: Any) -> str:
    """A string matplotlib draws exactly as written: every ``$`` escaped, so no mathtext."""
    return str(value).replace("$", r"\$")


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken after spaces, ``/`` and ``:`` (paths, ARNs)."""
    lines, line = [], ""
    for token in re.split(r"(?<=[/: ])", text):
        if line and len(line) + len(token) > width:
            lines.append(line.rstrip())
            line = ""
        while len(token) > width:
            lines.append(token[:width])
            token = token[width:]
        line += token
    lines.append(line.rstrip())
    return [x for x in lines if x]


def title_text(value: Any, width: int = TITLE_CHARS) -> str:
    """A title wrapped onto as many lines as it needs, plain: never cut."""
    return plain("\n".join(_wrap(str(value), width)))


def short_label(value: Any, width: int = LABEL_CHARS, lines: int = 3) -> str:
    """A tick label wrapped onto up to ``lines`` lines; only beyond that is its middle elided."""
    text = str(value)
    wrapped = _wrap(text, width)
    if len(wrapped) > lines:
        keep = (width * lines - 1) // 2
        wrapped = _wrap(text[:keep] + "…" + text[-keep:], width)
    return plain("\n".join(wrapped))


def note(ax: Axes, text: str) -> None:
    """What the plot does not draw (an omitted series, a missing baseline), as the axes' right-hand
    title: beside the title, never over the data."""
    ax.set_title(plain(text), loc="right", fontsize=7, color="#616161")


def nothing_to_plot(ax: Axes, text: str) -> None:
    """An axes with nothing to draw says so in its middle instead of showing an empty frame."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, plain(text), transform=ax.transAxes, ha="center", va="center", color="#616161")


P = ParamSpec("P")


def _styled(plot: Callable[P, Figure]) -> Callable[P, Figure]:
    """Build the figure under `STYLE`, draw it once there (creating its tick labels), then
    make every text plain: usetex off (later tick labels copy it), escaped ``$`` shown as ``$``."""

    @functools.wraps(plot)
    def styled(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            fig = plot(*args, **kwargs)
            fig.draw_without_rendering()
        for text in fig.findobj(Text):
            text.set_usetex(False)
            text.set_parse_math(True)
        return fig

    return styled


def _figure(height: float, rows: int = 1, *, sharex: bool = False) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    return fig, list(fig.subplots(rows, 1, squeeze=False, sharex=sharex)[:, 0])


def _height(n: int, per_row: float = 0.45) -> float:
    return max(1.6, per_row * max(n, 1) + 1)


def _barh_labels(ax: Axes, labels: Sequence[Any]) -> None:
    ax.set_yticks(range(len(labels)), labels=[short_label(x) for x in labels])
    ax.invert_yaxis()


def _marker(n: int) -> str | None:
    return "o" if n < FEW_POINTS else None


@_styled
def plot_status_bars(counts: pd.DataFrame, by: str, title: str) -> Figure:
    """Stacked horizontal bars of status counts per ``by`` value (statuses with no result omitted)."""
    labels = counts[by].astype(str).tolist()
    fig, (ax,) = _figure(_height(len(labels)))
    if not labels:
        nothing_to_plot(ax, "no findings")
        return fig
    left = np.zeros(len(labels))
    handles, names = [], []
    for s in STATUSES:
        vals = counts[s].astype(float).to_numpy()
        if not vals.any():
            continue
        handles.append(ax.barh(range(len(labels)), vals, left=left, color=STATUS_COLOURS[s]))
        names.append(plain(s.replace("_", " ")))
        left = left + vals
    _barh_labels(ax, labels)
    ax.set_title(title_text(title))
    ax.set_xlabel("findings")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(handles, names, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the bars, never on them
    return fig


@_styled
def plot_scores(table: pd.DataFrame, title: str) -> Figure:
    """Score (0-100) per group, coloured by band; a group with no score is labelled, not drawn as 0."""
    labels = table["label"].fillna(table["key"]).astype(str).tolist()
    scores = pd.to_numeric(table["score"], errors="coerce")
    fig, (ax,) = _figure(_height(len(labels)))
    ax.barh(range(len(labels)), scores.fillna(0).tolist(),
            color=[GOOD if s >= 80 else FAIR if s >= 60 else POOR for s in scores.fillna(0)])
    for i, s in enumerate(scores):
        ax.text(1 if pd.isna(s) else s + 1, i, "no score" if pd.isna(s) else f"{s:g}", va="center", fontsize=7)
    _barh_labels(ax, labels)
    ax.set_xlim(0, 105)
    ax.set_xlabel("score (0-100)")
    ax.set_title(title_text(title))
    return fig


@_styled
def plot_counts(counts: pd.Series, title: str, *, xlabel: str = "", horizontal: bool = False) -> Figure:
    """One bar per index value (an environment, a signal kind...), in the order given."""
    labels = [str(x) for x in counts.index]
    fig, (ax,) = _figure(_height(len(labels), 0.3) if horizontal else 3.6)
    if not labels:
        nothing_to_plot(ax, "nothing to count")
    elif horizontal:
        ax.barh(range(len(labels)), counts.to_numpy(dtype=float))
        _barh_labels(ax, labels)
        ax.set_xlabel(plain(xlabel))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.bar(range(len(labels)), counts.to_numpy(dtype=float))
        ax.set_xticks(range(len(labels)), labels=[short_label(x, 16) for x in labels])
        ax.set_ylabel(plain(xlabel))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title_text(title))
    return fig


@_styled
def plot_histogram(values: pd.Series, title: str, xlabel: str, bins: int = 20) -> Figure:
    fig, (ax,) = _figure(3.6)
    data = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    ax.set_title(title_text(title))
    if not len(data):
        nothing_to_plot(ax, "no values to plot")
        return fig
    ax.hist(data, bins=bins if len(np.unique(data)) > 1 else 1)
    ax.set_xlabel(plain(xlabel))
    ax.set_ylabel("count")
    return fig


@_styled
def plot_lines(frame: pd.DataFrame, title: str, ylabel: str, *, area: bool = False) -> Figure:
    """One line (or translucent area) per column over the index (days); legend from the columns.

    A column that is zero or empty throughout is left out and named in a note;
    with fewer than three days each point is a marker (an area of one day is invisible).
    """
    fig, (ax,) = _figure(3.6)
    x = pd.to_datetime(frame.index).to_numpy()
    ax.set_title(title_text(title))
    drawn = [c for c in frame.columns if np.nan_to_num(frame[c].to_numpy(dtype=float)).any()]
    omitted = [str(c) for c in frame.columns if c not in drawn]
    if not drawn:
        nothing_to_plot(ax, "nothing to plot: " + ", ".join(omitted) + " all zero")
        return fig
    handles = []
    for col in drawn:
        y = frame[col].to_numpy(dtype=float)
        if area and len(x) >= FEW_POINTS:
            handles.append(ax.fill_between(x, y, alpha=0.6))
        else:
            handles.append(ax.plot(x, y, marker=_marker(len(x)))[0])
    ax.legend(handles, [plain(c) for c in drawn], ncols=3, loc="upper left")
    ax.set_ylabel(plain(ylabel))
    if omitted:
        note(ax, "not drawn (zero throughout): " + ", ".join(omitted))
    fig.autofmt_xdate()
    return fig


@_styled
def plot_volume(panels: list[tuple[str, pd.DataFrame, pd.DataFrame]], factor: float) -> Figure:
    """Per path: daily requests, the spike line (``factor`` x baseline) and the flagged spike days.

    ``panels``: (path, its daily volume indexed by day with ``count`` and
    ``baseline``, its spike days with ``count``). A path seen on fewer than three
    days is drawn as points; the spike line only where a baseline exists (and a
    note says when none does yet); a panel with no volume at all is left out.
    """
    panels = [p for p in panels if len(p[1])]
    fig, axes = _figure(2.6 * max(len(panels), 1), rows=max(len(panels), 1), sharex=True)
    if not panels:
        nothing_to_plot(axes[0], "no request volume to plot")
        return fig
    for ax, (path, vol, spikes) in zip(axes, panels):
        marker = _marker(len(vol))
        handles = [ax.plot(vol.index, vol["count"], marker=marker)[0]]
        labels = ["requests"]
        base = vol["baseline"].dropna()
        if len(base):
            handles.append(ax.plot(base.index, factor * base.clip(lower=1), "--", marker=_marker(len(base)))[0])
            labels.append(plain(f"spike line ({factor:g} x baseline)"))
        else:
            note(ax, "no spike line yet: too few days of history for a baseline")
        if len(spikes):
            handles.append(ax.scatter(spikes.index, spikes["count"], color="red", zorder=3))
            labels.append("spike")
        ax.set_title(title_text(path, 60), fontsize=9)
        ax.set_ylim(bottom=0)
        ax.legend(handles, labels, loc="upper left")
    return fig


# --- the assessment's own plots ------------------------------------------------------


def plot_items_per_environment(a: Assessment) -> Figure:
    inv = a.inventory
    return plot_counts(inv["environment"].fillna("unknown").value_counts(), "Items per environment",
                       xlabel="items")


def plot_age_histogram(a: Assessment) -> Figure:
    return plot_histogram(a.inventory["age_days"], "Age since last rotation (days)", "days")
