"""A/B: the same benchmark against two checkouts, alternating, in one run.

Used to show a refactor made nothing slower: ``--base`` is a worktree of the
earlier commit (``git worktree add /tmp/base REV``), the other side is this
checkout. Both run with THIS interpreter and its installed dependencies; each
side's own code is put first on ``PYTHONPATH``, so only the project's code
differs. Rounds alternate A, B, B, A, ... so drift in machine load hits both.

    .venv/bin/python benchmarks/ab.py --base /tmp/base checks --items 100000 --rounds 4
    .venv/bin/python benchmarks/ab.py --base /tmp/base demo --rounds 2

Prints each round and the median ratio new/base (below 1.0 = faster now).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "400"}


def checks_round(tree: Path, items: int) -> float:
    """Seconds of classification + every check + scoring (bench_checks' own timer)."""
    out = subprocess.run([sys.executable, str(tree / "benchmarks" / "bench_checks.py"), "--one", str(items)],
                         capture_output=True, text=True, env=_env(tree), check=True, cwd=tree)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["assess_and_score_s"])


def demo_round(tree: Path) -> float:
    """Wall seconds of ``posture demo`` into a fresh workspace (the demo's own total)."""
    tmp = Path(tempfile.mkdtemp(prefix="posture-ab-"))
    try:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", "from posture.cli import main; main()", "demo",
                               "--workspace", str(tmp / "ws")],
                              capture_output=True, text=True, env=_env(tree), cwd=tmp, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"demo failed in {tree}: {proc.stderr.strip().splitlines()[-1:]}")
        m = re.search(r"demo finished in ([\d.]+)s", proc.stdout)
        return float(m.group(1)) if m else wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", choices=("checks", "demo"))
    ap.add_argument("--base", type=Path, required=True, help="worktree of the earlier commit")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--items", type=int, default=100_000, help="checks: snapshot size")
    args = ap.parse_args()
    run = (lambda t: checks_round(t, args.items)) if args.bench == "checks" else demo_round
    print(f"{args.bench}: base={args.base} new={HERE} load={os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ratios = []
    for i in range(args.rounds):
        order = (args.base, HERE) if i % 2 == 0 else (HERE, args.base)
        t = {tree: run(tree) for tree in order}
        ratios.append(t[HERE] / t[args.base])
        print(f"round {i + 1}: base {t[args.base]:.2f} s  new {t[HERE]:.2f} s  ratio {ratios[-1]:.2f}")
    print(f"median ratio new/base: {statistics.median(ratios):.2f} (rounds: "
          f"{' / '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
