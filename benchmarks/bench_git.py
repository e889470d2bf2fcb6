"""Benchmark: git history scan (GitCollector) vs the detect-secrets CLI's tree scan, same run.

Generates one repository of >= 2,000 commits with `git fast-import`
(posture/estates/git.py), then

1. runs the git collector over it: HEAD's tree + every added line of every
   commit on every ref, over all cores, with rules and fingerprints; and
2. runs ``detect-secrets scan --all-files`` in its working tree (the command of
   the issue, which also walks ``.git``), and the same with ``.git`` excluded.

Reports lines per second for each, by wall clock and by CPU seconds (the
machine is shared and noisy: CPU time is the steadier figure). Lines are what
each tool actually reads: the collector's tree + added history lines, and the
text lines of the working tree for the CLI.

    /tmp/venv/bin/python benchmarks/bench_git.py            # 2,000 commits
    /tmp/venv/bin/python benchmarks/bench_git.py --quick    # 2,000 smaller commits, one CLI run
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.base import CollectContext  # noqa: E402
from collectors.git import GitCollector  # noqa: E402
from posture.model.engagement import Engagement, GitStore  # noqa: E402
from posture.demo.estates.git import generate_history_repo  # noqa: E402
from posture.model.snapshot import SnapshotSink  # noqa: E402
from posture.workspace import fingerprint  # noqa: E402

CANARIES = ("CANARY-bench-1-value", "CANARY-bench-2-value", "CANARY-bench-3-value")


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def tree_lines(repo: Path) -> int:
    total = 0
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            data = (Path(root) / name).read_bytes()
            if b"\0" not in data[:8000]:
                total += len(data.splitlines())
    return total


def detect_secrets_cli() -> str:
    here = Path(sys.executable).parent / "detect-secrets"
    return str(here) if here.exists() else (shutil.which("detect-secrets") or "detect-secrets")


def run_collector(repo: Path, console: Console) -> dict[str, float]:
    sink = SnapshotSink()
    key = secrets.token_bytes(32)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        ctx = CollectContext(engagement=Engagement(client="bench"), sink=sink,
                             fingerprint=lambda v: fingerprint(key, v),
                             as_of=datetime.now(timezone.utc), progress=progress)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        GitCollector(GitStore(name="bulk", url=str(repo)), ctx).run()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    repo_row = sink.rows("repository")[0]
    assert not sink.gaps(), sink.gaps()
    secrets_found = [f for f in sink.rows("source_finding") if f.category == "secret"]
    return {"lines": repo_row.lines_scanned or 0, "wall": wall, "cpu": cpu,
            "commits": repo_row.commits_scanned or 0, "findings": len(secrets_found),
            "history_only": sum(1 for f in secrets_found if f.in_history_only)}


def run_cli(repo: Path, lines: int, exclude_git: bool) -> dict[str, float]:
    cmd = [detect_secrets_cli(), "scan", "--all-files"]
    if exclude_git:
        cmd += ["--exclude-files", r"(^|/)\.git/"]
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=repo, capture_output=True)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"detect-secrets failed: {proc.stderr.decode()[-300:]}")
    return {"lines": lines, "wall": wall, "cpu": cpu, "cmd": " ".join(cmd[1:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, default=2000, help="commits to generate (>= 2000)")
    ap.add_argument("--quick", action="store_true", help="smaller commits; skip the .git-excluded CLI run")
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()
    if args.commits < 2000:
        raise SystemExit("--commits must be at least 2000")
    console = Console(stderr=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-git-"))
    repo = args.keep or tmp / "bulk"
    try:
        t0 = time.perf_counter()
        counts = generate_history_repo(repo, CANARIES, commits=args.commits,
                                       lines_per_commit=12 if args.quick else 30)
        console.print(f"generated {counts['commits']} commits ({counts['leaks']} leaks) "
                      f"in {time.perf_counter() - t0:.1f}s with git fast-import")
        ours = run_collector(repo, console)
        lines = tree_lines(repo)
        runs = {"detect-secrets scan --all-files": run_cli(repo, lines, exclude_git=False)}
        if not args.quick:
            runs["detect-secrets scan --all-files (.git excluded)"] = run_cli(repo, lines, exclude_git=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    table = Table(title=f"git history scan vs detect-secrets CLI ({os.cpu_count()} cores)")
    for col in ("scan", "lines", "wall s", "lines/s (wall)", "CPU s", "lines/s (CPU)"):
        table.add_column(col, justify="right" if col != "scan" else "left")
    rows = {"GitCollector: tree + full history, all refs": ours, **runs}
    for name, r in rows.items():
        table.add_row(name, f"{r['lines']:,}", f"{r['wall']:.1f}", f"{r['lines'] / r['wall']:,.0f}",
                      f"{r['cpu']:.1f}", f"{r['lines'] / r['cpu']:,.0f}")
    Console(width=130).print(table)
    best_wall = max(r["lines"] / r["wall"] for r in runs.values())
    best_cpu = max(r["lines"] / r["cpu"] for r in runs.values())
    print(f"commits scanned: {ours['commits']:,}; secrets found: {ours['findings']} "
          f"({ours['history_only']} in history only)")
    print(f"ratio history scan / fastest CLI run: {ours['lines'] / ours['wall'] / best_wall:.2f}x by wall clock, "
          f"{ours['lines'] / ours['cpu'] / best_cpu:.2f}x per CPU second")


if __name__ == "__main__":
    main()
