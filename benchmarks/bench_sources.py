"""Benchmark: the kit's git collector vs the detect-secrets CLI vs Kingfisher, one run, one corpus (issue #13).

The corpus is the labelled repository of ``tests/source_corpus.py``: credentials
in every structured format, tools' credential files, password hashes, keys by
content, secrets in tests/docs/vendored code, clean look-alikes of each, and a
history where secrets are added and deleted later. Each tool scans it once:

- the kit: `collectors.git.GitCollector` (HEAD's tree + every added line of
  history, with its file rules, in process);
- ``detect-secrets scan`` in the working tree (git-tracked files, the CLI's
  default), its JSON read from stdout;
- ``kingfisher scan --no-validate`` (never live validation: it would use the
  credential) over the repository (working tree + full history), JSON Lines read
  from stdout; nothing is written to disk but its compiled-rule cache (rules,
  no values) in a temporary directory.

Scoring is line-level. A labelled risk line of HEAD is found when a tool
reports that path and line in the working tree (or in a commit, at the same
path and line); a line only history holds is found when a tool reports that
path, line and commit. Precision = risk lines found / distinct lines reported;
a reported line that is a labelled clean look-alike or carries no label is a
false positive (``--report`` lists them, so unlabelled ones can be judged).

Throughput (lines per second) is measured on a larger repository made of
``--copies`` corpora built from different seeds, side by side in one tree
(their histories merged in): lines are what each tool reads (HEAD's text lines
plus every added history line for the kit and Kingfisher, the working tree's
text lines for the detect-secrets CLI), by wall clock and by CPU seconds of
the process and its children (the machine is shared: CPU is the steadier
figure).

    .venv/bin/python benchmarks/bench_sources.py [--copies 30] [--report] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from source_corpus import Corpus, build_corpus  # noqa: E402

from collectors.base import CollectContext  # noqa: E402
from collectors.git import GitCollector  # noqa: E402
from posture.model.engagement import Engagement, GitStore  # noqa: E402
from posture.model.snapshot import SnapshotSink  # noqa: E402
from posture.workspace import fingerprint  # noqa: E402

#: (path, line, commit or None): a line a tool reported, in the working tree (None) or in a commit
Where = tuple[str, int, str | None]


@dataclass
class Run:
    tool: str
    reported: set[Where] = field(default_factory=set)
    lines: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    command: str = ""


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], Run]) -> Run:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    run = fn()
    run.wall, run.cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return run


def tool(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def git(repo: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True, env=env, **kw)


def tree_lines(repo: Path) -> int:
    """Text lines of the working tree (what the detect-secrets CLI reads)."""
    total = 0
    for name in git(repo, "ls-files", "-z").stdout.decode().split("\0"):
        if name:
            data = (repo / name).read_bytes()
            if b"\0" not in data[:8000]:
                total += len(data.splitlines())
    return total


# --- the three tools -----------------------------------------------------------------


def run_kit(repo: Path, workers: int, kingfisher: bool) -> Run:
    sink = SnapshotSink()
    key = secrets.token_bytes(32)
    ctx = CollectContext(engagement=Engagement(client="bench"), sink=sink, fingerprint=lambda v: fingerprint(key, v),
                         as_of=datetime.now(timezone.utc),
                         options={"git_workers": workers, "git_kingfisher": kingfisher})
    GitCollector(GitStore(name="corpus", url=str(repo)), ctx).run()
    assert not sink.gaps(), sink.gaps()
    name = "kit (GitCollector" + (" + Kingfisher engine)" if kingfisher else ", detect-secrets plugins only)")
    run = Run(name, lines=sink.rows("repository")[0].lines_scanned or 0,
              command=f"GitCollector(GitStore(url=repo)), git_workers={workers}, git_kingfisher={kingfisher}")
    for f in sink.rows("source_finding"):
        if f.line is not None:
            run.reported.add((f.path, int(f.line), None if f.in_tree else f.commit))
    return run


def run_detect_secrets(repo: Path) -> Run:
    cmd = [tool("detect-secrets"), "scan"]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"detect-secrets failed: {proc.stderr.decode(errors='replace')[-300:]}")
    run = Run("detect-secrets CLI", lines=tree_lines(repo), command="detect-secrets scan")
    for path, rows in json.loads(proc.stdout)["results"].items():
        for r in rows:
            run.reported.add((path, int(r["line_number"]), None))
    return run


def run_kingfisher(repo: Path, cache: Path, history_lines: int) -> Run:
    args = ["scan", ".", "--no-validate", "--no-update-check", "--no-dedup", "-f", "jsonl", "-q",
            "--rule-cache-dir", str(cache)]
    # stdout is a pipe read here; nothing reaches disk or the console
    proc = subprocess.run([tool("kingfisher"), *args], cwd=repo, capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode not in (0, 200):  # 200: findings reported
        raise SystemExit(f"kingfisher exited {proc.returncode}")
    run = Run("Kingfisher", lines=tree_lines(repo) + history_lines, command="kingfisher " + " ".join(args[:8]))
    for raw in proc.stdout.splitlines():
        if not raw.startswith(b"{"):
            continue
        finding = json.loads(raw).get("finding")
        if not finding:
            continue  # the summary record
        commit = ((finding.get("git_metadata") or {}).get("commit") or {}).get("id")
        path = finding["path"].removeprefix("./")
        run.reported.add((path, int(finding["line"]), commit))
    return run


def history_added_lines(repo: Path) -> int:
    out = git(repo, "log", "--all", "--no-merges", "-p", "-U0", "--format=", "--no-color").stdout
    return sum(1 for line in out.splitlines() if line.startswith(b"+") and not line.startswith(b"+++ "))


# --- scoring -----------------------------------------------------------------------


@dataclass
class Score:
    risk: int
    found: int
    reported: int
    clean_hits: list[tuple]
    unlabelled: list[tuple]
    missed: list[tuple]

    @property
    def recall(self) -> float:
        return self.found / self.risk if self.risk else 0.0

    @property
    def precision(self) -> float:
        return self.found / self.reported if self.reported else 1.0


def score(corpus: Corpus, shas: dict[str, str], reported: set[Where]) -> Score:
    head_risk = {(lb.path, lb.line) for lb in corpus.of("risk") if lb.commit is None}
    hist_risk = {(lb.path, lb.line, shas[lb.commit]) for lb in corpus.of("risk") if lb.commit}
    clean = {(lb.path, lb.line) for lb in corpus.of("clean")}
    found: set[tuple] = set()
    hits_clean: set[tuple] = set()
    unlabelled: set[tuple] = set()
    for path, line, commit in reported:
        if commit and (path, line, commit) in hist_risk:
            found.add((path, line, commit))
        elif (path, line) in head_risk:
            found.add((path, line))
        elif (path, line) in clean:
            hits_clean.add((path, line))
        else:
            unlabelled.add((path, line))  # one line, whether reported in the tree or in commits
    risk = head_risk | hist_risk
    return Score(risk=len(risk), found=len(found), reported=len(found) + len(hits_clean) + len(unlabelled),
                 clean_hits=sorted(hits_clean), unlabelled=sorted(unlabelled - hits_clean),
                 missed=sorted(risk - found, key=str))


def commit_shas(repo: Path) -> dict[str, str]:
    out = git(repo, "log", "--format=%H %s").stdout.decode()
    return {msg: sha for sha, _, msg in (line.partition(" ") for line in out.splitlines())}


# --- the throughput repository ------------------------------------------------------


def build_scaled(root: Path, copies: int) -> Path:
    """``copies`` corpora from different seeds under ``copyNN/`` in HEAD's tree, their histories merged in."""
    big = root / "scaled"
    big.mkdir(parents=True)
    git(big, "init", "-q", "-b", "main")
    parents, trees = [], []
    for k in range(copies):
        c = build_corpus(root / f"c{k}", seed=f"corpus-13-copy-{k}")
        git(big, "fetch", "-q", str(c.repo), f"main:refs/copies/{k}")
        parents.append(git(big, "rev-parse", f"refs/copies/{k}").stdout.decode().strip())
        trees.append(git(big, "rev-parse", f"refs/copies/{k}^{{tree}}").stdout.decode().strip())
        shutil.rmtree(root / f"c{k}", ignore_errors=True)
    listing = "".join(f"040000 tree {t}\tcopy{k:02d}\n" for k, t in enumerate(trees))
    tree = git(big, "mktree", input=listing.encode()).stdout.decode().strip()
    args = [a for p in parents for a in ("-p", p)]
    head = git(big, "commit-tree", tree, *args, "-m", "Merge copies").stdout.decode().strip()
    git(big, "update-ref", "refs/heads/main", head)
    for k in range(copies):
        git(big, "update-ref", "-d", f"refs/copies/{k}")
    git(big, "checkout", "-q", "-f", "main")
    return big


# --- output ------------------------------------------------------------------------


def table(runs: list[Run], scores: list[Score], scaled: list[Run]) -> str:
    out = ["| tool | risk lines found | recall | lines reported | false positives | precision |"
           " corpus lines/s (wall) | scaled lines | wall s | lines/s (wall) | CPU s | lines/s (CPU) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run, s, big in zip(runs, scores, scaled):
        fp = len(s.clean_hits) + len(s.unlabelled)
        out.append(
            f"| {run.tool} | {s.found}/{s.risk} | {s.recall:.1%} | {s.reported} | {fp} "
            f"({len(s.clean_hits)} clean, {len(s.unlabelled)} unlabelled) | {s.precision:.1%} | "
            f"{run.lines / run.wall:,.0f} | {big.lines:,} | {big.wall:.1f} | {big.lines / big.wall:,.0f} | "
            f"{big.cpu:.1f} | {big.lines / big.cpu:,.0f} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=30, help="corpora side by side in the throughput repository")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="kit worker processes")
    ap.add_argument("--report", action="store_true", help="list every miss and false positive per tool")
    ap.add_argument("--json", type=Path, help="also write the scores as JSON here")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="posture-bench-sources-"))
    try:
        t0 = time.perf_counter()
        corpus = build_corpus(root / "labelled")
        shas = commit_shas(corpus.repo)
        big = build_scaled(root / "scaled-src", args.copies)
        print(f"corpus: {corpus.files} files, {len(corpus.of('risk'))} risk lines, {len(corpus.of('clean'))} clean "
              f"look-alikes; scaled: {args.copies} copies; built in {time.perf_counter() - t0:.0f}s", flush=True)
        cache = root / "kingfisher-rule-cache"
        cache.mkdir()
        run_kingfisher(corpus.repo, cache, 0)  # warm: compile its rules once, outside the measurement
        small_hist, big_hist = history_added_lines(corpus.repo), history_added_lines(big)
        tools = [
            ("kit", lambda r, h: run_kit(r, args.workers, True)),
            ("kit-ds", lambda r, h: run_kit(r, args.workers, False)),
            ("detect-secrets", lambda r, h: run_detect_secrets(r)),
            ("kingfisher", lambda r, h: run_kingfisher(r, cache, h)),
        ]
        runs, scaled = [], []
        for _, fn in tools:
            runs.append(timed(lambda fn=fn: fn(corpus.repo, small_hist)))
            print(f"  {runs[-1].tool}: corpus {runs[-1].wall:.1f}s", flush=True)
        for _, fn in tools:
            scaled.append(timed(lambda fn=fn: fn(big, big_hist)))
            print(f"  {scaled[-1].tool}: scaled {scaled[-1].wall:.1f}s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    scores = [score(corpus, shas, r.reported) for r in runs]
    print()
    print(table(runs, scores, scaled))
    print()
    for run in runs:
        print(f"  {run.tool}: {run.command}")
    ds_cpu = scaled[2].lines / scaled[2].cpu
    ds_wall = scaled[2].lines / scaled[2].wall
    for k in (0, 1):
        print(f"\n{runs[k].tool} / detect-secrets CLI throughput on the scaled repository: "
              f"{scaled[k].lines / scaled[k].wall / ds_wall:.1f}x per wall-clock second, "
              f"{scaled[k].lines / scaled[k].cpu / ds_cpu:.1f}x per CPU second")
    kit, _, ds, kf = (set(s.missed) for s in scores)
    by_class: dict[str, list[int]] = {}
    for lb in corpus.of("risk"):
        key = (lb.path, lb.line) if lb.commit is None else (lb.path, lb.line, shas[lb.commit])
        row = by_class.setdefault(lb.cls, [0] * (len(scores) + 1))
        row[0] += 1
        for i, s in enumerate(scores):
            row[i + 1] += key not in set(s.missed)
    print("\nrecall by issue class (risk lines found / labelled):")
    print("| class | labelled | " + " | ".join(r.tool for r in runs) + " |")
    print("|---|---:|" + "---:|" * len(runs))
    for cls, row in sorted(by_class.items()):
        print(f"| {cls} | {row[0]} | " + " | ".join(str(n) for n in row[1:]) + " |")
    print(f"risk lines only Kingfisher finds (the kit misses): {len(kit - kf)}; "
          f"only the kit finds: {len(kf - kit)}; detect-secrets CLI misses the kit finds: {len(ds - kit)}")
    if args.report:
        for run, s in zip(runs, scores):
            print(f"\n## {run.tool}: {len(s.missed)} missed, {len(s.clean_hits)} clean hit, "
                  f"{len(s.unlabelled)} unlabelled")
            for what, rows in (("missed", s.missed), ("clean", s.clean_hits), ("unlabelled", s.unlabelled)):
                for r in rows:
                    print(f"  {what:10} {r[0]}:{r[1]}" + (f" @{r[2][:12]}" if len(r) > 2 else ""))
    if args.json:
        args.json.write_text(json.dumps({r.tool: {
            "recall": s.recall, "precision": s.precision, "found": s.found, "risk": s.risk,
            "clean_hits": len(s.clean_hits), "unlabelled": len(s.unlabelled),
            "scaled_lines": b.lines, "wall": b.wall, "cpu": b.cpu} for r, s, b in zip(runs, scores, scaled)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
