"""The one progress-bar style every long step uses (collection, notebooks, demo)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress_bar(
    console: Console, title: str | None = None, *, transient: bool = False, force: bool = False
) -> Progress:
    """A bar with counts and elapsed time; hidden when the console is not a terminal.

    With ``title`` the task description is shown after the bar (what is running now);
    without, the description is the title. ``force`` shows it even when piped.
    """
    lead = TextColumn(f"[bold]{title}") if title else TextColumn("[bold]{task.description}")
    columns = [lead, BarColumn(), MofNCompleteColumn()]
    if title:
        columns.append(TextColumn("{task.description}"))
    columns.append(TimeElapsedColumn())
    return Progress(
        *columns, console=console, transient=transient, disable=not (console.is_terminal or force)
    )
