"""The kit on the full history of public repositories: findings by context, severity and check.

For each repository (a local clone or a bare git directory, e.g. what the ``fetch`` tool
returns), clone its heads and tags into a temporary bare repository (no ``refs/pull/*``:
other people's unmerged contributions are out of scope here), then run ``posture collect``
and ``posture assess`` (no notebooks) in a temporary workspace with one git store, and print
every failing source finding (check, severity, context, path, line; never a value) and the
counts by context and severity. Reading each row as the repository's owners would is the
human part; the counts are what BENCHMARKS.md records.

    .venv/bin/python benchmarks/public_repos.py /work/.mirror/psf+requests/repo [...] [--json out.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from posture.cli import main as posture  # noqa: E402

QUARTER_ARGS: list[str] = []


def heads_and_tags(src: Path, dest: Path) -> int:
    """A bare clone of ``src`` with only its branches and tags; returns its commit count."""
    subprocess.run(["git", "init", "-q", "--bare", str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "fetch", "-q", str(src), "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*"], check=True)
    head = subprocess.run(["git", "-C", str(src), "symbolic-ref", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    subprocess.run(["git", "-C", str(dest), "symbolic-ref", "HEAD", head], check=True)  # the source's default branch
    out = subprocess.run(["git", "-C", str(dest), "rev-list", "--all", "--count"], check=True,
                         capture_output=True, text=True)
    return int(out.stdout.strip())


def assess(repo: Path, work: Path) -> tuple[list[dict], float]:
    eng = work / "engagements" / "public" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(f"client: public\nstores:\n  git:\n    - name: repo\n      url: {repo}\n")
    import os

    os.environ["POSTURE_HOME"] = str(work)
    started = time.perf_counter()
    for argv in (["collect", "public", *QUARTER_ARGS], ["assess", "public", "--no-notebooks", *QUARTER_ARGS]):
        rc = posture(argv)
        if rc:
            raise SystemExit(f"posture {' '.join(argv)} exited {rc}")
    elapsed = time.perf_counter() - started
    found = next(work.glob("evidence/public/*/assessment/findings.json"))
    return json.loads(found.read_text())["findings"], elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repos", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, help="also write every failing row (no values) as JSON")
    args = ap.parse_args()
    report = {}
    for src in args.repos:
        with tempfile.TemporaryDirectory(prefix="posture-public-") as tmp:
            bare = Path(tmp) / "repo.git"
            commits = heads_and_tags(src, bare)
            findings, elapsed = assess(bare, Path(tmp) / "ws")
        rows = [f for f in findings if f["source"] == "git" and f["status"] == "fail"]
        detail = [{"check": f["check_id"], "severity": f["severity"],
                   "context": (f.get("evidence") or {}).get("context") or f.get("environment"),
                   "resource": f["resource"]} for f in rows]
        by_context = collections.Counter(d["context"] for d in detail)
        by_severity = collections.Counter(d["severity"] for d in detail)
        print(f"\n== {src} ({commits} commits, {elapsed:.0f} s collect+assess): {len(rows)} failing rows")
        for d in sorted(detail, key=lambda d: (d["check"], d["resource"])):
            print(f"  {d['check']:7} {d['severity']:8} {str(d['context']):13} {d['resource']}")
        print("  by context:", dict(by_context), " by severity:", dict(by_severity))
        report[str(src)] = {"commits": commits, "seconds": round(elapsed, 1), "rows": detail}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
