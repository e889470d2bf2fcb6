"""How the demo shows its progress: numbered, timed phases and a bar over each phase's steps."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console


@dataclass
class PhaseTimer:
    """Wall time per phase, printed as the demo goes and kept for BENCHMARKS.md."""

    console: Console
    phases: list[tuple[str, float]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    step: int = 0
    total: int = 0

    @contextmanager
    def phase(self, name: str, key: str | None = None) -> Iterator[None]:
        """Print ``name``, time the block, record it under ``key`` (short) or ``name``."""
        self.step += 1
        prefix = f"[{self.step}/{self.total}]" if self.total else f"[{self.step}]"
        self.console.print(f"[bold cyan]{prefix}[/] {name}", highlight=False)
        t0 = time.perf_counter()
        ok = False
        try:
            yield
            ok = True
        finally:
            dt = time.perf_counter() - t0
            self.phases.append((key or name, dt))
            mark = "[green]done[/]" if ok else "[red]failed[/]"
            self.console.print(f"    {mark} in {dt:.1f}s", highlight=False)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def run_steps(console: Console, title: str, steps: list[tuple[str, Callable[[], Any]]]) -> None:
    """Run ``steps`` in order under one progress bar (one tick per step)."""
    from posture.progress import progress_bar

    with progress_bar(console, f"    {title}", transient=True) as progress:
        task = progress.add_task("", total=len(steps))
        for label, fn in steps:
            progress.update(task, description=label)
            fn()
            progress.advance(task)
