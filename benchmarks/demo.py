"""Wall time of ``posture demo``, end to end, as a newcomer runs it.

Runs the real command (a fresh process, so interpreter start-up and imports
count) into a temporary workspace, ``--runs`` times, and prints the total
and the per-phase times the demo reports. Goal: under 180 s on the 2-core
reference machine.

    /tmp/venv/bin/python benchmarks/demo.py            # one run
    /tmp/venv/bin/python benchmarks/demo.py --runs 2
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POSTURE = Path(sys.executable).parent / "posture"
PHASES_RE = re.compile(r"demo finished in ([\d.]+)s; per phase: (.*)$")
PHASE_RE = re.compile(r"(.+?) ([\d.]+)s(?:, |$)")


def one_run() -> tuple[float, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix="posture-demo-bench-"))
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(POSTURE), "demo", "--workspace", str(tmp / "ws")],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "400"},
            check=False,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"posture demo failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
        m = PHASES_RE.search(" ".join(proc.stdout.split()))
        phases: dict[str, float] = {}
        if m:
            for name, secs in PHASE_RE.findall(m.group(2)):
                phases[name] = float(secs)
        return wall, phases
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    walls: list[float] = []
    per_phase: dict[str, list[float]] = {}
    loads = [os.getloadavg()[0]]
    for i in range(args.runs):
        wall, phases = one_run()
        loads.append(os.getloadavg()[0])
        walls.append(wall)
        for k, v in phases.items():
            per_phase.setdefault(k, []).append(v)
        print(f"run {i + 1}: {wall:.1f}s wall", flush=True)
    print(f"\nposture demo, {args.runs} run(s), {os.cpu_count()} cores, "
          f"1-min load average {min(loads):.1f}-{max(loads):.1f} (other jobs on the machine)")
    print(f"{'phase':<58} {'median s':>9}")
    for k, v in per_phase.items():
        print(f"{k:<58} {statistics.median(v):>9.1f}")
    print(f"{'TOTAL wall (process start to exit)':<58} {statistics.median(walls):>9.1f}")
    print("goal < 180 s:", "met" if statistics.median(walls) < 180 else "NOT met")


if __name__ == "__main__":
    main()
