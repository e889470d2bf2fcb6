"""Precision and recall of the checks on the noisy estate of issue 11, per source and per check family.

Seeds ``tests/noisy_estate.py`` (a real OpenBao dev server and moto of its
own, real git repositories, an engagement written as a consultant would),
runs the ``posture collect`` and ``posture assess`` use cases (no notebooks)
and compares the findings with the estate's ground truth, pair by pair
(resource, check):

- recall    = planted pairs that fail / planted pairs;
- precision = failing pairs that are planted (or a tolerated overlap) / failing pairs.

Per source (vault, aws, git, audit, engagement) and per check family (VLT,
AWS, SRC, CI, INV, LCY, AUD, OPS), then the misses and false failures grouped
by issue-11 class (``--report``), and the time of each phase.

    .venv/bin/python benchmarks/bench_precision.py [--report] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from noisy_estate import build_estate, collect_and_assess, score

from posture.demo.devservers import MotoServer, OpenBaoDevServer


def _table(title: str, rows: list[tuple]) -> str:
    out = [f"| {title} | planted | found | failing | false | precision | recall |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for g, planted, found, failing, false, precision, recall in rows:
        name = f"**{g}**" if g == "total" else g
        out.append(f"| {name} | {planted} | {found} | {failing} | {false} | {precision:.1%} | {recall:.1%} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", action="store_true", help="print every miss and false failure by issue-11 class")
    ap.add_argument("--json", type=Path, help="also write the tables and counts as JSON here")
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    root = Path(tempfile.mkdtemp(prefix="posture-bench-precision-"))
    try:
        # moto prints a line for every service it does not implement (the collectors probe them): kept out
        with contextlib.redirect_stdout(io.StringIO()), \
                OpenBaoDevServer(workdir=root / "openbao", audit_devices=("file", "file2")) as bao, \
                MotoServer() as moto:
            estate = build_estate(root, bao, moto)
            started = time.perf_counter()
            outcome = collect_and_assess(estate)
            pipeline_s = time.perf_counter() - started
        started = time.perf_counter()
        sc = score(outcome.assessment, outcome.snapshot, estate.items)
        score_s = time.perf_counter() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)
    items, clean = len(estate.items), sum(i.clean for i in estate.items)
    print(f"estate: {items} items, {clean} clean ({clean / items:.0%}), "
          f"{sum(len(i.fails) for i in estate.items)} planted (resource, check) pairs")
    print(f"time: build {estate.seconds:.1f} s, collect + assess {pipeline_s:.1f} s "
          f"(checks {outcome.checks_seconds:.1f} s), scoring {score_s:.1f} s\n")
    by_source, by_family = sc.table("source"), sc.table("family")
    print(_table("source", by_source) + "\n")
    print(_table("family", by_family) + "\n")
    classes = {g: [sum(x.startswith("  MISS") for x in lines), sum(x.startswith("  FALSE") for x in lines)]
               for g, lines in sc.by_class().items()}
    print("| issue-11 class | misses | false failures |\n|---|---:|---:|")
    for name, (m, f) in classes.items():
        print(f"| {name} | {m} | {f} |")
    if args.report:
        print("\n" + sc.report())
    if args.json:
        args.json.write_text(json.dumps({"items": items, "clean": clean, "by_source": by_source,
                                         "by_family": by_family, "classes": classes}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
