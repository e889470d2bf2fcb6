"""Audit-log parse throughput against a bare orjson line loop, side by side.

A synthetic Vault/OpenBao file-audit-device log (default 1 GB, OpenBao's entry
format: a request and a response entry per event, HMAC'd values) is generated
once and cached. Then, alternating, over the same file, in the same process:

- bare:   ``for line in f: orjson.loads(line)`` (the floor any parser pays);
- parse:  `collectors.audit_parse.parse_vault_stream` into an `Accumulator`
          (what the collector does per line: classify, aggregate, track
          tokens, versions, logins, changes; progress callback included);
- full:   once, the whole `AuditCollector.run()` (parse + measures + fact
          signals + validated records) for the end-to-end figure; the
          anomalies are judged at assess time, by the checks.

Reported: MB/s of each (best of ``--rounds``) and the ratio parse / bare
(goal >= 0.7). The OS page cache is warmed by the first bare pass, so all
passes read from memory and the figures compare CPU work.

Run:  /tmp/venv/bin/python benchmarks/bench_audit.py [--size 1G] [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from collectors.audit import AuditCollector
from collectors.audit_parse import Accumulator, FileStats, parse_vault_stream
from collectors.base import CollectContext
from posture.model.engagement import Engagement
from posture.demo.estates.audit import write_vault_audit_log
from posture.model.snapshot import SnapshotSink

CANARIES = ("CANARY-bench-never-in-output",)
MB = 1 << 20


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": MB, "G": 1 << 30}
    t = text.strip().upper().rstrip("B")
    return int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)


def generate(path: Path, size: int, console: Console) -> None:
    if path.exists() and path.stat().st_size >= size * 0.98:
        return
    with Progress("[bold]generate", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=console) as p:
        task = p.add_task("gen", total=size)
        write_vault_audit_log(
            path, CANARIES, datetime(2026, 7, 1, tzinfo=timezone.utc), days=90, target_bytes=size,
            on_bytes=lambda n: p.advance(task, n),
        )


def bare(path: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of the bare loop."""
    loads = orjson.loads
    t, c = time.perf_counter(), time.process_time()
    with open(path, "rb") as f:
        for line in f:
            loads(line)
    return time.perf_counter() - t, time.process_time() - c


def parse(path: Path) -> tuple[float, float, FileStats]:
    """(wall, cpu, stats) of the collector's streaming parse."""
    acc = Accumulator(fingerprint=lambda v: "x")
    stats = FileStats()
    t, c = time.perf_counter(), time.process_time()
    with open(path, "rb") as f:
        parse_vault_stream(f, acc, stats, on_bytes=lambda n: None)
    return time.perf_counter() - t, time.process_time() - c, stats


def full(path: Path) -> tuple[float, dict[str, int]]:
    eng = Engagement.model_validate({"client": "bench", "stores": {"vault": [{"name": "core", "audit_logs": [str(path)]}]}})
    sink = SnapshotSink()
    ctx = CollectContext(engagement=eng, sink=sink, fingerprint=lambda v: "x", as_of=datetime.now(timezone.utc))
    t = time.perf_counter()
    AuditCollector(eng.stores.vault[0], ctx).run()
    return time.perf_counter() - t, dict(sink.counts())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="1G", help="Log size, e.g. 1G, 200M (default 1G).")
    ap.add_argument("--rounds", type=int, default=2, help="Alternating bare/parse rounds (best is kept).")
    ap.add_argument("--quick", action="store_true", help="Shorthand for --size 100M --rounds 1.")
    ap.add_argument("--dir", default="/tmp/posture-bench", help="Where the generated log is cached.")
    ap.add_argument("--no-full", action="store_true", help="Skip the end-to-end collector run.")
    args = ap.parse_args()
    if args.quick:
        args.size, args.rounds = "100M", 1
    size = parse_size(args.size)
    console = Console(stderr=True)
    path = Path(args.dir) / f"vault-audit-{args.size.upper()}.log"
    generate(path, size, console)
    nbytes = path.stat().st_size
    mb = nbytes / MB
    console.print(f"log: {path} ({mb:,.0f} MB)")
    bare(path)  # warm the page cache
    bares, parses = [], []
    stats = None
    for r in range(args.rounds):
        bares.append(bare(path))
        w, c, stats = parse(path)
        parses.append((w, c))
        console.print(
            f"round {r + 1}: bare {mb / bares[-1][0]:,.1f} MB/s, parse {mb / parses[-1][0]:,.1f} MB/s (wall)"
        )
    bw, bc = min(b[0] for b in bares), min(b[1] for b in bares)
    pw, pc = min(p[0] for p in parses), min(p[1] for p in parses)
    print(f"file                 {nbytes:,} bytes ({mb:,.0f} MB), {stats.lines:,} lines, {stats.events:,} events")
    print(f"bare orjson loop     {mb / bw:8.1f} MB/s wall ({bw:.2f} s), {mb / bc:8.1f} MB/s cpu ({bc:.2f} s)")
    print(f"parse_vault_stream   {mb / pw:8.1f} MB/s wall ({pw:.2f} s), {mb / pc:8.1f} MB/s cpu ({pc:.2f} s)")
    print(f"ratio parse / bare   {bw / pw:8.2f} wall, {bc / pc:.2f} cpu   (goal >= 0.70)")
    if not args.no_full:
        t, counts = full(path)
        print(f"AuditCollector.run   {mb / t:8.1f} MB/s  ({t:.2f} s)  rows: {counts}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS             {rss:8.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
