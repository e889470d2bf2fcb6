"""Execute the parameterised notebooks with papermill into the evidence folder.

Why these choices:
- Two notebooks at a time: a kernel costs ~1 s to start and ~1 s to stop and
  the machines we run on have 2 cores; more workers only queue on the CPU.
- The kernel is always the *current* interpreter (``sys.executable``), whatever
  kernelspec named ``python3`` a user or a system may have installed: the
  notebooks import ``posture`` and must see the same install as the caller.
- All notebooks run into a temporary folder that replaces
  ``evidence/CLIENT/QUARTER/notebooks/`` only when every one succeeded, so a
  failing cell never leaves half a set.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rich.console import Console

from posture import assets
from posture.model.errors import PostureError
from posture.model.fsutil import atomic_directory
from posture.progress import progress_bar
from posture.workspace import Workspace, quarter_end

KERNEL_NAME = "python3"
MAX_CONCURRENT = 2
CELL_TIMEOUT = 600


def notebooks_source() -> Path:
    """The shipped notebooks (package data: ``posture.assets.notebooks``)."""
    return assets.notebooks_dir()


def discover(source: Path | None = None) -> list[Path]:
    """Every notebook to run: the executive summary, the stages, then any others."""
    source = source or notebooks_source()
    found = sorted(p for p in source.glob("*.ipynb") if not p.name.startswith("."))
    if not found:
        raise PostureError(f"{source}: no notebooks found")
    return found


def _kernel_manager_class():
    """An AsyncKernelManager whose kernelspec is pinned to this interpreter."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    class CurrentInterpreterKernelManager(AsyncKernelManager):
        @property
        def kernel_spec(self) -> KernelSpec:  # type: ignore[override]
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                          "--IPKernelApp.log_level=CRITICAL"],
                    display_name=f"Python 3 ({sys.executable})",
                    language="python",
                    name=KERNEL_NAME,
                    resource_dir="",
                )
            return self._kernel_spec

    return CurrentInterpreterKernelManager


@dataclass(frozen=True)
class NotebookRun:
    name: str
    path: Path
    seconds: float


def _as_of(ws: Workspace, quarter: str) -> str:
    """The assessment's own as-of date, so notebooks and findings agree; else quarter end."""
    try:
        doc = json.loads((ws.assessment_dir(quarter) / "manifest.json").read_bytes())
        return date.fromisoformat(str(doc["as_of"])[:10]).isoformat()
    except (OSError, ValueError, KeyError, TypeError):
        return quarter_end(quarter).isoformat()


def parameters(ws: Workspace, quarter: str) -> dict[str, str]:
    """The papermill parameters every notebook takes (the notebook contract)."""
    try:
        thresholds = ws.load().engagement.thresholds.model_dump(mode="json")
    except PostureError:
        thresholds = {}
    return {
        "client": ws.client,
        "quarter": quarter,
        "snapshot_dir": str(ws.snapshot_dir(quarter).resolve()),
        "assessment_dir": str(ws.assessment_dir(quarter).resolve()),
        "as_of": _as_of(ws, quarter),
        "thresholds": json.dumps(thresholds, sort_keys=True),
    }


def _failure(nb_name: str, exc: BaseException) -> PostureError:
    """One line naming the notebook, the cell and the error."""
    try:
        from papermill.exceptions import PapermillExecutionError
    except ImportError:  # pragma: no cover
        PapermillExecutionError = ()  # type: ignore[assignment]
    if isinstance(exc, PapermillExecutionError):
        cell = exc.exec_count if exc.exec_count is not None else exc.cell_index
        return PostureError(f"notebook {nb_name} failed in cell {cell}: {exc.ename}: {exc.evalue}"
                            .replace("\n", " ")[:500])
    return PostureError(f"notebook {nb_name} failed: {type(exc).__name__}: {exc}"
                        .replace("\n", " ")[:500])


def execute_one(source: Path, dest: Path, params: dict[str, str], cwd: Path) -> NotebookRun:
    """Run one notebook with papermill; raise `PostureError` naming the failing cell."""
    import papermill

    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(dest),
            parameters=params,
            kernel_name=KERNEL_NAME,
            kernel_manager_class=_kernel_manager_class(),
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=CELL_TIMEOUT,
            # outputs are complete when the last cell returns; a graceful stop costs ~1 s
            shutdown_kernel="immediate",
        )
    except Exception as e:  # papermill wraps every cell error; name it in one line
        raise _failure(source.name, e) from None
    return NotebookRun(source.stem, dest, time.perf_counter() - started)


def run_notebooks(
    sources: list[Path],
    dest_dir: Path,
    params: dict[str, str],
    *,
    console: Console | None = None,
    workers: int = MAX_CONCURRENT,
    cwd: Path | None = None,
) -> list[NotebookRun]:
    """Execute ``sources`` into ``dest_dir`` atomically, ``workers`` at a time."""
    console = console or Console(stderr=True)
    cwd = cwd or dest_dir.parent
    runs: list[NotebookRun] = []
    with atomic_directory(dest_dir) as tmp, progress_bar(console, "notebooks") as progress:
        task = progress.add_task("", total=len(sources))
        with ThreadPoolExecutor(max_workers=max(1, min(workers, MAX_CONCURRENT))) as pool:
            futures = {
                pool.submit(execute_one, src, tmp / src.name, params, cwd): src for src in sources
            }
            try:
                for fut in as_completed(futures):
                    run = fut.result()
                    runs.append(run)
                    progress.update(task, advance=1, description=f"{run.name} ({run.seconds:.1f}s)")
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    order = {s.stem: i for i, s in enumerate(sources)}
    runs.sort(key=lambda r: order[r.name])
    return [NotebookRun(r.name, dest_dir / r.path.name, r.seconds) for r in runs]


def run_all(ws: Workspace, quarter: str, console: Console | None = None) -> list[Path]:
    """Execute every notebook for ``quarter`` into ``evidence/CLIENT/QUARTER/notebooks/``.

    Needs the assessment (``posture assess``) to exist. Returns the executed
    notebooks' paths. A failing cell raises `PostureError` naming the notebook,
    the cell and the error; nothing is written then.
    """
    if not (ws.assessment_dir(quarter) / "findings.json").exists():
        raise PostureError(
            f"{ws.assessment_dir(quarter)}: no assessment (run 'posture assess {ws.client}' first)"
        )
    runs = run_notebooks(discover(), ws.notebooks_dir(quarter), parameters(ws, quarter),
                         console=console, cwd=ws.quarter_dir(quarter))
    return [r.path for r in runs]
