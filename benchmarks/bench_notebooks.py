"""Notebook suite wall time against its slowest single notebook, side by side in one run.

Builds the small real workspace the site tests use (snapshot via SnapshotSink,
assessment via the checks exporter),
then measures, in one process:

1. each notebook alone (one kernel at a time), repeated ``--repeat`` times;
2. the whole suite as ``posture assess`` runs it (``run_notebooks``, 2 at a time).

The ratio suite / slowest-single is what concurrency buys: 1.0 would be
perfect overlap; the serial sum / slowest is the no-concurrency baseline.

    /tmp/venv/bin/python benchmarks/bench_notebooks.py [--repeat 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import sitekit
from rich.console import Console

from posture.notebooks import discover, parameters, run_notebooks

QUARTER = "2026-Q3"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    quiet = Console(stderr=True, quiet=True)
    with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
        ws = sitekit.make_workspace(Path(tmp))
        sitekit.build_snapshot(ws, QUARTER)
        sitekit.assess(ws, QUARTER)
        params = parameters(ws, QUARTER)
        sources = discover()
        singles: dict[str, list[float]] = {p.stem: [] for p in sources}
        suites: list[float] = []
        for r in range(args.repeat):
            for src in sources:
                t = time.perf_counter()
                run_notebooks([src], Path(tmp) / f"single-{r}-{src.stem}", params, console=quiet,
                              workers=1)
                singles[src.stem].append(time.perf_counter() - t)
            t = time.perf_counter()
            run_notebooks(sources, Path(tmp) / f"suite-{r}", params, console=quiet,
                          workers=args.workers)
            suites.append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in singles.items()}
    slowest_name = max(med, key=med.get)
    slowest = med[slowest_name]
    serial = sum(med.values())
    suite = statistics.median(suites)
    print(f"{'notebook':28} {'alone (s, median)':>18}")
    for k, v in med.items():
        print(f"{k:28} {v:18.2f}")
    print(f"\nnotebooks: {len(sources)}, workers: {args.workers}, repeats: {args.repeat}")
    print(f"slowest single ({slowest_name}): {slowest:.2f} s")
    print(f"serial sum of singles:          {serial:.2f} s  ({serial / slowest:.2f}x slowest)")
    print(f"suite, {args.workers} concurrent:            {suite:.2f} s  ({suite / slowest:.2f}x slowest, "
          f"{serial / suite:.2f}x faster than serial)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
