"""AWS collector vs Prowler 5.46 on one moto estate, side by side in one run: time, API calls, findings.

    /tmp/venv/bin/python benchmarks/bench_aws.py            # 2,000 secrets, 200 keys, 500 users, 2,000 params
    /tmp/venv/bin/python benchmarks/bench_aws.py --quick    # a tenth of that

What it does:
1. starts moto's ThreadedMotoServer in this process behind a counting WSGI
   wrapper (every request is counted by service and operation, on the server
   side, so both tools are measured the same way);
2. seeds one flat estate over two regions (`posture.demo.estates.aws.seed_bulk`)
   and, in us-east-1, the exposure estate (`posture.demo.estates.aws_exposure`):
   one real problem and one clean look-alike in every place a secret hides,
   and the account settings around them, with the ground truth;
3. runs ``posture collect`` (every service) then ``posture assess`` (our kit,
   in its own process) against it;
4. runs Prowler 5.46.0 (in its own virtualenv ``benchmarks/.venv-prowler``,
   created from PyPI if missing, because it pins an older boto3) with
   ``--checks`` set to exactly the Prowler checks our catalog names in its
   ``references``: the same questions, asked by each tool;
5. prints wall times, their ratio, API calls and the per-service breakdown,
   and the findings-parity table: for every planted item, whether each tool
   reports it (a true finding), stays silent on a look-alike (a clean pass),
   reports a look-alike (a false finding), misses it, or could not assess it;
   and whether a planted value reached either tool's output. Results are
   saved to ``benchmarks/.results/``.

Both tools see the same two regions (Prowler: ``-f us-east-1 eu-west-1``).
"""

from __future__ import annotations

import argparse
import csv
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
CANARY_2 = "CANARY-a1b2c3d4-param-value"


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
    """``posture collect`` (every service) then ``posture assess``; the collect phase is what is timed."""
    from collectors.aws.calls import SERVICES

    root = work / "posture"
    eng = root / "engagements" / "bench" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(
        "client: bench\nstores:\n  aws:\n    - name: main\n"
        f"      regions: [{', '.join(REGIONS)}]\n      endpoint_url: {endpoint}\n"
        f"      concurrency: {concurrency}\n      services: [{', '.join(SERVICES)}]\n"
    )
    env = clean_env(endpoint, work) | {"POSTURE_HOME": str(root)}
    posture = str(Path(sys.executable).parent / "posture")
    before = counter.snapshot()
    t0 = time.perf_counter()
    proc = subprocess.run([posture, "collect", "bench", "-q", "2026-Q4"], env=env, capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    calls = counter.snapshot() - before
    if proc.returncode != 0:
        raise SystemExit(f"posture collect failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    t1 = time.perf_counter()
    proc = subprocess.run([posture, "assess", "bench", "-q", "2026-Q4", "--no-notebooks"], env=env,
                          capture_output=True, text=True, check=False)
    assess_s = time.perf_counter() - t1
    if proc.returncode != 0:
        raise SystemExit(f"posture assess failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    evidence = root / "evidence" / "bench" / "2026-Q4"
    manifest = json.loads((evidence / "snapshot" / "manifest.json").read_text())
    findings = json.loads((evidence / "assessment" / "findings.json").read_text())["findings"]
    phase = datetime.fromisoformat(manifest["finished_at"]) - datetime.fromisoformat(manifest["started_at"])
    return {"wall_s": wall, "calls": calls, "scan_s": phase.total_seconds(), "assess_s": assess_s,
            "rows": {k.removesuffix(".jsonl"): v["rows"] for k, v in manifest["files"].items() if v["rows"]},
            "gaps": manifest["gaps"], "findings": findings, "out": root}


def prowler_checks(exe: Path | None = None) -> list[str]:
    """The Prowler checks our AWS catalog names in its references: the questions both tools answer.

    With ``exe``, only those this Prowler knows (it refuses the whole run for one unknown name);
    a reference it does not know is printed, since it is a wrong reference in our catalog.
    """
    from checks.catalog import load_catalog

    found = sorted({r.split()[1] for c in load_catalog().values() if "aws" in c.sources for r in c.references
                    if r.startswith("Prowler ")})
    if exe is None:
        return found
    listing = subprocess.run([str(exe), "aws", "--list-checks-json", "--no-banner"], capture_output=True,
                             text=True, check=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    known = set(json.loads(listing.stdout[listing.stdout.index("{"):])["aws"])
    unknown = [c for c in found if c not in known]
    if unknown:
        print(f"our catalog cites Prowler checks {PROWLER_VERSION} does not have: {', '.join(unknown)}", flush=True)
    return [c for c in found if c in known]


def run_prowler(exe: Path, endpoint: str, work: Path, counter: RequestCounter, timeout: float) -> dict:
    out = work / "prowler-out"
    log = work / "prowler.log"
    # Retries off: moto lacks a few operations Prowler calls (cloudtrail:LookupEvents, ...);
    # retrying those 500s would bill Prowler for moto's gaps with backoff sleeps.
    checks = prowler_checks(exe)
    cmd = [str(exe), "aws", "--checks", *checks,
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
    rows: list[dict[str, str]] = []
    for csv_file in out.glob("*.csv"):
        with csv_file.open(newline="") as fh:
            rows += list(csv.DictReader(fh, delimiter=";"))
    return {"wall_s": wall, "calls": calls, "status": status, "findings": rows, "tail": tail,
            "scan_s": scan_s, "out": out, "checks": len(checks),
            "command": "prowler " + " ".join(cmd[1:]).replace(str(work), "$WORK")}


def leaked(root: Path, values: list[str]) -> list[str]:
    """Files under ``root`` holding any planted value."""
    needles = [v.encode() for v in values]
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and any(n in p.read_bytes() for n in needles))


def verdict(problem: bool, on_it: set[str], region: set[str] = frozenset()) -> str:
    """What one tool said about one planted item, in the parity table's words.

    ``on_it``: the statuses of the tool's results on the item's resource;
    ``region``: those of the kit's per-region row for the item's service (its
    secrets checks pass or gap a region, not each clean resource).
    """
    na = {"not_assessed", "manual", "error"}
    if "fail" in on_it:
        return "found" if problem else "FALSE FINDING"
    if problem:
        if (on_it | region) & na:
            return "not assessed"
        return "MISSED" if on_it | region else "MISSED (silent)"
    if "pass" in on_it:
        return "clean"
    return "not assessed" if (on_it | region) & na else "clean (not reported)"


def parity(planted: list, ours: list[dict], theirs: list[dict] | None) -> list[dict[str, str]]:
    """One row per planted item: truth, our verdict, Prowler's."""
    rows = []
    for p in planted:
        mine = {f["status"] for f in ours if f["check_id"] in p.ours and p.match in f["resource"]}
        listing = f":us-east-1:{p.listing}:" if p.listing else None
        region = {f["status"] for f in ours if listing and f["check_id"] in p.ours and listing in f["resource"]}
        row = {"item": p.place, "truth": "problem" if p.problem else "look-alike",
               "kit": verdict(p.problem, mine, region), "kit_checks": ", ".join(p.ours),
               "prowler_checks": ", ".join(p.prowler), "note": p.note}
        if theirs is not None:
            where = p.match if p.prowler_match is None else p.prowler_match
            got = {r["STATUS"].lower() for r in theirs if r["CHECK_ID"] in p.prowler
                   and (where in r.get("RESOURCE_UID", "") or where in r.get("RESOURCE_NAME", ""))}
            row["prowler"] = verdict(p.problem, got)
        rows.append(row)
    return rows


def value_free(rows: list[dict[str, str]], values: list[str]) -> tuple[list[dict[str, str]], list[str]]:
    """Prowler's results without their text (which may hold a planted value), and the checks whose text did."""
    keep = [{k: r.get(k, "") for k in ("CHECK_ID", "STATUS", "RESOURCE_UID", "REGION")} for r in rows]
    leaking = sorted({r["CHECK_ID"] for r in rows if any(v in " ".join(map(str, r.values())) for v in values)})
    return keep, leaking


def tally(rows: list[dict[str, str]], who: str) -> dict[str, int]:
    return dict(Counter(r[who] for r in rows))


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
    from posture.demo.estates.aws_exposure import seed_exposure

    counter = RequestCounter()
    server, endpoint = start_moto(counter)
    prowler = None if args.skip_prowler else ensure_prowler()
    with tempfile.TemporaryDirectory(prefix="bench-aws-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        sizes = seed_bulk(endpoint, CANARY, secrets=args.secrets, keys=args.keys, users=args.users,
                          parameters=args.parameters, regions=REGIONS)
        exposure = seed_exposure(endpoint, [CANARY, CANARY, CANARY, CANARY_2], region=REGIONS[0])
        seed_s = time.perf_counter() - t0
        sizes["planted"] = len(exposure.planted)
        print(f"seeded {sizes} in {seed_s:.1f}s", flush=True)
        values = sorted({CANARY, *exposure.values})
        ours = run_ours(endpoint, work, args.concurrency, counter)
        ours["leaks"] = leaked(ours.pop("out"), values)
        print(f"ours: {ours['wall_s']:.1f}s, {sum(ours['calls'].values())} calls", flush=True)
        theirs = run_prowler(prowler, endpoint, work, counter, args.prowler_timeout) if prowler else None
        if theirs:
            theirs["leaks"] = leaked(theirs.pop("out"), values)
            theirs["findings"], theirs["leaking_checks"] = value_free(theirs["findings"], values)
            print(f"prowler: {theirs['wall_s']:.1f}s, {sum(theirs['calls'].values())} calls, {theirs['status']}",
                  flush=True)
    server.stop()

    table = parity(exposure.planted, ours["findings"], theirs["findings"] if theirs else None)
    n = args.secrets
    result = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "estate": sizes, "seed_s": round(seed_s, 1), "cpus": os.cpu_count(),
        "ours": {"wall_s": round(ours["wall_s"], 2), "scan_s": round(ours["scan_s"], 2),
                 "assess_s": round(ours["assess_s"], 2), "calls": sum(ours["calls"].values()),
                 "calls_per_secret": round(sum(ours["calls"].values()) / n, 2),
                 "by_service": by_service(ours["calls"]), "rows": ours["rows"], "gaps": ours["gaps"],
                 "leaks": ours["leaks"], "parity": tally(table, "kit"),
                 "operations": dict(ours["calls"].most_common())},
        "parity": table,
    }
    if theirs:
        result["prowler"] = {"version": PROWLER_VERSION, "wall_s": round(theirs["wall_s"], 2),
                             "scan_s": theirs["scan_s"] and round(theirs["scan_s"], 2),
                             "calls": sum(theirs["calls"].values()), "checks": theirs["checks"],
                             "calls_per_secret": round(sum(theirs["calls"].values()) / n, 2),
                             "by_service": by_service(theirs["calls"]), "status": theirs["status"],
                             "findings": len(theirs["findings"]), "command": theirs["command"],
                             "leaks": theirs["leaks"], "leaking_checks": theirs["leaking_checks"],
                             "parity": tally(table, "prowler"), "results": theirs["findings"],
                             "operations": dict(theirs["calls"].most_common(40))}
        result["wall_ratio_ours_over_prowler"] = round(ours["wall_s"] / theirs["wall_s"], 3)
        result["calls_ratio_ours_over_prowler"] = round(
            sum(ours["calls"].values()) / max(1, sum(theirs["calls"].values())), 3)
        if theirs["scan_s"]:
            result["scan_ratio_ours_over_prowler"] = round(ours["scan_s"] / theirs["scan_s"], 3)
    res_dir = ROOT / "benchmarks" / ".results"
    res_dir.mkdir(parents=True, exist_ok=True)
    out = res_dir / f"aws-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2))

    print()
    print("| | wall time | scan phase | API calls | calls / secret | planted value in output |")
    print("|---|---:|---:|---:|---:|---|")
    for who, label, r in (("ours", "posture collect (aws)", ours), ("prowler", f"Prowler {PROWLER_VERSION}", theirs)):
        if r is None:
            continue
        row = result[who]
        scan = f"{r['scan_s']:.1f} s" if r.get("scan_s") else "n/a"
        print(f"| {label} | {r['wall_s']:.1f} s | {scan} | {row['calls']} | {row['calls_per_secret']} | "
              f"{len(r['leaks'])} file(s) |")
    if theirs:
        print(f"\nratios ours/Prowler: wall {result['wall_ratio_ours_over_prowler']}, scan phase "
              f"{result.get('scan_ratio_ours_over_prowler')}, API calls {result['calls_ratio_ours_over_prowler']}")
        print(f"by service, ours: {result['ours']['by_service']}")
        print(f"by service, Prowler: {result['prowler']['by_service']}")
        if theirs["leaks"]:
            print(f"planted values in Prowler's output: {', '.join(theirs['leaks'])}, written by "
                  f"{', '.join(theirs['leaking_checks'])}")
    print("\n| planted item | truth | kit | Prowler | kit check | Prowler check(s) | note |")
    print("|---|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['item']} | {r['truth']} | {r['kit']} | {r.get('prowler', '')} | {r['kit_checks']} | "
              f"{r['prowler_checks']} | {r['note']} |")
    print(f"\nkit: {result['ours']['parity']}" + (f"\nProwler: {result['prowler']['parity']}" if theirs else ""))
    print(f"snapshot rows: {ours['rows']}, gaps: {ours['gaps']}, our leaks: {len(ours['leaks'])}")
    print(f"saved {out}")
    return 1 if ours["leaks"] else 0


if __name__ == "__main__":
    sys.exit(main())
