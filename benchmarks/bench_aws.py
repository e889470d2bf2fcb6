"""AWS collector vs Prowler 5.46 on one moto estate, side by side in one run.

    /tmp/venv/bin/python benchmarks/bench_aws.py            # 2,000 secrets, 200 keys, 500 users, 2,000 params
    /tmp/venv/bin/python benchmarks/bench_aws.py --quick    # a tenth of that

What it does:
1. starts moto's ThreadedMotoServer in this process behind a counting WSGI
   wrapper (every request is counted by service and operation, on the server
   side, so both tools are measured the same way);
2. seeds one flat estate over two regions (`posture.demo.estates.aws.seed_bulk`);
3. runs ``posture collect`` (our collector, in its own process) against it;
4. runs ``prowler aws --service secretsmanager kms iam ssm`` (Prowler 5.46.0,
   in its own virtualenv ``benchmarks/.venv-prowler``, created from PyPI if
   missing, because it pins an older boto3) against the same server;
5. prints wall times, the ratio, API calls per secret and the per-service
   call breakdown, and saves them to ``benchmarks/.results/``.

Both tools see the same two regions (Prowler: ``-f us-east-1 eu-west-1``).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROWLER_VERSION = "5.46.0"
VENV = ROOT / "benchmarks" / ".venv-prowler"
REGIONS = ("us-east-1", "eu-west-1")
CANARY = "CANARY-b52d04aa-aws-value"


class RequestCounter:
    """Counts requests reaching moto, by ``service:Operation``, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.calls)

    def wrap(self, app):  # type: ignore[no-untyped-def]
        def counting_app(environ, start_response):  # type: ignore[no-untyped-def]
            op = _operation(environ)
            if op is not None:
                with self.lock:
                    self.calls[op] += 1
            return app(environ, start_response)

        return counting_app


def _operation(environ: dict) -> str | None:
    """``service:Operation`` of a request (JSON target, query Action, or REST path)."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/moto-api"):
        return None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", auth)
    service = m.group(1) if m else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return f"{service}:{action}"
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return f"{service}:{query['Action'][0]}"
    return f"{service}:{environ.get('REQUEST_METHOD')} {re.sub(r'/[^/]*[0-9][^/]*', '/*', path)}"


def start_moto(counter: RequestCounter):  # type: ignore[no-untyped-def]
    import moto.moto_server.threaded_moto_server as tms
    from moto.server import ThreadedMotoServer

    from posture.demo.devservers import free_port

    base = tms.DomainDispatcherApplication

    class Counting(base):  # type: ignore[misc, valid-type]
        def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
            return counter.wrap(super().__call__)(environ, start_response)

    tms.DomainDispatcherApplication = Counting
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


def ensure_prowler() -> Path:
    exe = VENV / "bin" / "prowler"
    if exe.exists():
        return exe
    print(f"installing prowler=={PROWLER_VERSION} into {VENV} (one time) ...", flush=True)
    base_python = getattr(sys, "_base_executable", None) or "python3"
    subprocess.run([base_python, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", f"prowler=={PROWLER_VERSION}"], check=True)
    return exe


def clean_env(endpoint: str, home: Path) -> dict[str, str]:
    """The same AWS environment for both tools: dummy keys, the moto endpoint, nothing else."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGIONS[0],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_COLOR": "1",
    }


def run_ours(endpoint: str, work: Path, concurrency: int, counter: RequestCounter) -> dict:
    root = work / "posture"
    eng = root / "engagements" / "bench" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(
        "client: bench\nstores:\n  aws:\n    - name: main\n"
        f"      regions: [{', '.join(REGIONS)}]\n      endpoint_url: {endpoint}\n"
        f"      concurrency: {concurrency}\n      services: [secretsmanager, kms, iam, ssm]\n"
    )
    env = clean_env(endpoint, work) | {"POSTURE_HOME": str(root)}
    before = counter.snapshot()
    t0 = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "posture"), "collect", "bench", "-q", "2026-Q4"],
                          env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    calls = counter.snapshot() - before
    if proc.returncode != 0:
        raise SystemExit(f"posture collect failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    manifest = json.loads((root / "evidence" / "bench" / "2026-Q4" / "snapshot" / "manifest.json").read_text())
    leaked = [p for p in root.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
    phase = datetime.fromisoformat(manifest["finished_at"]) - datetime.fromisoformat(manifest["started_at"])
    return {"wall_s": wall, "calls": calls, "scan_s": phase.total_seconds(), "rows": {k.removesuffix(".jsonl"): v["rows"]
            for k, v in manifest["files"].items() if v["rows"]}, "gaps": manifest["gaps"],
            "canary_leaks": [str(p) for p in leaked]}


def run_prowler(exe: Path, endpoint: str, work: Path, counter: RequestCounter, timeout: float) -> dict:
    out = work / "prowler-out"
    log = work / "prowler.log"
    # Retries off: moto lacks a few operations Prowler calls (cloudtrail:LookupEvents, ...);
    # retrying those 500s would bill Prowler for moto's gaps with backoff sleeps.
    cmd = [str(exe), "aws", "--service", "secretsmanager", "kms", "iam", "ssm",
           "-f", *REGIONS, "--no-banner", "-M", "csv", "-o", str(out),
           "--aws-retries-max-attempts", "0", "--log-level", "INFO", "--log-file", str(log)]
    before = counter.snapshot()
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, env=clean_env(endpoint, work), capture_output=True, text=True, timeout=timeout,
                              check=False)
        status = f"exit {proc.returncode}" + (" (findings failed)" if proc.returncode == 3 else "")
        tail = (proc.stdout + proc.stderr)[-800:]
    except subprocess.TimeoutExpired:
        status, tail = f"killed after {timeout:.0f}s timeout", ""
    wall = time.perf_counter() - t0
    calls = counter.snapshot() - before
    scan_s = None  # from "Initializing AWS provider" (after Prowler's own start-up) to its last log line
    if log.exists():
        stamps = re.findall(r'"timestamp": "([^"]+)".*?"message": "(.*?)"}?$', log.read_text(), re.MULTILINE)
        start = next((t for t, msg in stamps if "Initializing AWS provider" in msg), None)
        if start and stamps:
            parse = lambda t: datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f")
            scan_s = (parse(stamps[-1][0]) - parse(start)).total_seconds()
    findings = 0
    for csv_file in out.glob("*.csv"):
        findings += max(0, sum(1 for _ in csv_file.open()) - 1)
    return {"wall_s": wall, "calls": calls, "status": status, "findings": findings, "tail": tail,
            "scan_s": scan_s, "command": "prowler " + " ".join(cmd[1:]).replace(str(work), "$WORK")}


def by_service(calls: Counter[str]) -> dict[str, int]:
    out: Counter[str] = Counter()
    for op, n in calls.items():
        out[op.split(":", 1)[0]] += n
    return dict(sorted(out.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a tenth of the default estate")
    ap.add_argument("--secrets", type=int, default=2000)
    ap.add_argument("--keys", type=int, default=200)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--parameters", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16, help="our collector's store.concurrency")
    ap.add_argument("--prowler-timeout", type=float, default=1800)
    ap.add_argument("--skip-prowler", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.secrets, args.keys, args.users, args.parameters = 200, 20, 50, 200

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGIONS[0])
    # moto otherwise fakes ~1,300 public AMIs/snapshots per region, which Prowler's SSM
    # service walks one DescribeSnapshotAttribute at a time: no real account looks like that.
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    from posture.demo.estates.aws import seed_bulk

    counter = RequestCounter()
    server, endpoint = start_moto(counter)
    prowler = None if args.skip_prowler else ensure_prowler()
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        sizes = seed_bulk(endpoint, CANARY, secrets=args.secrets, keys=args.keys, users=args.users,
                          parameters=args.parameters, regions=REGIONS)
        seed_s = time.perf_counter() - t0
        print(f"seeded {sizes} in {seed_s:.1f}s", flush=True)
        ours = run_ours(endpoint, work, args.concurrency, counter)
        print(f"ours: {ours['wall_s']:.1f}s, {sum(ours['calls'].values())} calls", flush=True)
        theirs = run_prowler(prowler, endpoint, work, counter, args.prowler_timeout) if prowler else None
        if theirs:
            print(f"prowler: {theirs['wall_s']:.1f}s, {sum(theirs['calls'].values())} calls, {theirs['status']}",
                  flush=True)
    server.stop()

    n = args.secrets
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "estate": sizes, "seed_s": round(seed_s, 1), "cpus": os.cpu_count(),
        "ours": {"wall_s": round(ours["wall_s"], 2), "scan_s": round(ours["scan_s"], 2),
                 "calls": sum(ours["calls"].values()),
                 "calls_per_secret": round(sum(ours["calls"].values()) / n, 2),
                 "by_service": by_service(ours["calls"]), "rows": ours["rows"], "gaps": ours["gaps"],
                 "canary_leaks": ours["canary_leaks"], "operations": dict(ours["calls"].most_common())},
    }
    if theirs:
        result["prowler"] = {"version": PROWLER_VERSION, "wall_s": round(theirs["wall_s"], 2),
                             "scan_s": theirs["scan_s"] and round(theirs["scan_s"], 2),
                             "calls": sum(theirs["calls"].values()),
                             "calls_per_secret": round(sum(theirs["calls"].values()) / n, 2),
                             "by_service": by_service(theirs["calls"]), "status": theirs["status"],
                             "findings": theirs["findings"], "command": theirs["command"],
                             "operations": dict(theirs["calls"].most_common(40))}
        result["wall_ratio_ours_over_prowler"] = round(ours["wall_s"] / theirs["wall_s"], 3)
        if theirs["scan_s"]:
            result["scan_ratio_ours_over_prowler"] = round(ours["scan_s"] / theirs["scan_s"], 3)
        sm_ops = ("secretsmanager", "kms", "iam", "ssm", "sts")
        for who, calls in (("ours", ours["calls"]), ("prowler", theirs["calls"])):
            same = sum(v for k, v in calls.items() if k.split(":")[0] in sm_ops)
            result[who]["calls_per_secret_four_services"] = round(same / n, 2)
    res_dir = ROOT / "benchmarks" / ".results"
    res_dir.mkdir(parents=True, exist_ok=True)
    out = res_dir / f"aws-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2))

    print()
    print("| | wall time | scan phase | API calls | calls / secret | calls / secret (SM, KMS, IAM, SSM, STS) |")
    print("|---|---:|---:|---:|---:|---:|")
    for who, label, r in (("ours", "posture collect (aws)", ours), ("prowler", f"Prowler {PROWLER_VERSION}", theirs)):
        if r is None:
            continue
        row = result[who]
        scan = f"{r['scan_s']:.1f} s" if r.get("scan_s") else "n/a"
        print(f"| {label} | {r['wall_s']:.1f} s | {scan} | {row['calls']} | {row['calls_per_secret']} | "
              f"{row.get('calls_per_secret_four_services', '')} |")
    if theirs:
        print(f"\nwall-time ratio ours/Prowler: {result['wall_ratio_ours_over_prowler']}"
              f" (scan phase: {result.get('scan_ratio_ours_over_prowler')})")
        print(f"by service, ours: {result['ours']['by_service']}")
        print(f"by service, Prowler: {result['prowler']['by_service']}")
    print(f"snapshot rows: {ours['rows']}, gaps: {ours['gaps']}, canary leaks: {len(ours['canary_leaks'])}")
    print(f"saved {out}")
    return 1 if ours["canary_leaks"] else 0


if __name__ == "__main__":
    sys.exit(main())
