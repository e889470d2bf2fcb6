"""The labelled source corpus (tests/source_corpus.py) through the git collector and the checks.

Every labelled risk line must be found at its HEAD line (or, when only
history holds it, at its line in the commit that added it), no clean
look-alike may be found, and nothing unlabelled may be found either: recall
and precision on one corpus, with a readable list of what differs. The
collector runs on a real repository written by git fast-import, with secrets
deleted later and a renamed file; no value may reach any file the kit writes.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from checks_cases import AS_OF, engagement
from conftest import assert_no_canary
from source_corpus import Corpus, Label, build_corpus

from checks.engine import run_assessment
from collectors.base import CollectContext
from collectors.git import GitCollector
from collectors.git_kingfisher import kingfisher_binary
from posture.cli import main
from posture.model.engagement import Engagement, GitStore
from posture.model.snapshot import Snapshot, SnapshotSink
from posture.workspace import fingerprint

KEY = bytes(range(32, 64))
VALUE_CATEGORIES = ("secret", "config_env", "hash", "dockerfile", "compose", "k8s", "helm", "ci")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("source-corpus"))


@pytest.fixture(scope="module")
def sink(corpus: Corpus) -> SnapshotSink:
    sink = SnapshotSink()
    ctx = CollectContext(engagement=Engagement(client="acme"), sink=sink, fingerprint=lambda v: fingerprint(KEY, v),
                         as_of=datetime.now(timezone.utc), options={"git_workers": 1})
    GitCollector(GitStore(name="corpus", url=str(corpus.repo)), ctx).run()
    return sink


@pytest.fixture(scope="module")
def shas(corpus: Corpus) -> dict[str, str]:
    out = subprocess.run(["git", "-C", str(corpus.repo), "log", "--format=%H %s"], capture_output=True, text=True,
                         check=True).stdout
    return {msg: sha for sha, _, msg in (line.partition(" ") for line in out.splitlines())}


def where(label: Label, shas: dict[str, str]) -> tuple:
    """A label's location: (path, line) at HEAD, or (path, line, commit) for history only."""
    return (label.path, label.line) if label.commit is None else (label.path, label.line, shas[label.commit])


def located(sink: SnapshotSink) -> dict[tuple, list]:
    """Line findings by location: (path, line) in HEAD's tree, (path, line, commit) for history only."""
    out: dict[tuple, list] = {}
    for f in sink.rows("source_finding"):
        if f.line is not None:
            key = (f.path, f.line) if f.in_tree else (f.path, f.line, f.commit)
            out.setdefault(key, []).append(f)
    return out


def expected_risks(corpus: Corpus) -> list[Label]:
    """Every risk label; provider-token lines (class ``provider``) only when the Kingfisher engine is installed."""
    kingfisher = kingfisher_binary() is not None
    return [lb for lb in corpus.of("risk") if kingfisher or lb.cls != "provider"]


def listing(labels, why: str) -> str:
    rows = sorted(f"  {lb.path}:{lb.line}  class {lb.cls}" + (f"  (added in '{lb.commit}')" if lb.commit else "")
                  for lb in labels)
    return f"{len(rows)} {why}:\n" + "\n".join(rows)


def test_the_corpus_is_big_and_varied(corpus):
    risks, cleans = corpus.of("risk"), corpus.of("clean")
    assert corpus.files >= 60 and len(risks) >= 150 and len(cleans) >= 60
    assert {"2", "3", "4", "5", "6", "7", "token"} <= {lb.cls for lb in risks}
    assert {"2", "3", "4", "5", "8"} <= {lb.cls for lb in cleans}
    assert sum(1 for lb in risks if lb.commit) >= 8  # secrets deleted later, or rewritten
    clean_paths = {lb.path for lb in cleans}
    assert {"docs/deploy.md", "templates/index.html", "tests/fixtures/example_keys.py"} <= clean_paths
    contexts = Counter(lb.context for lb in risks)
    assert contexts["test_fixture"] >= 3 and contexts["documentation"] >= 2 and contexts["vendored"] >= 3


def test_every_risk_line_is_found_at_its_head_line_or_commit(corpus, sink, shas):
    found = located(sink)
    missed = [lb for lb in expected_risks(corpus) if where(lb, shas) not in found]
    assert not missed, listing(missed, "risk lines not found")
    for lb in expected_risks(corpus):
        rows = found[where(lb, shas)]
        assert all(isinstance(f.line, int) for f in rows)
        assert {f.in_history_only for f in rows} == {lb.commit is not None}, lb


def test_no_clean_look_alike_is_found(corpus, sink):
    found = located(sink)
    hits = [lb for lb in corpus.of("clean") if (lb.path, lb.line) in found]
    detail = "\n".join(f"  {lb.path}:{lb.line} <- {[f.detector for f in found[(lb.path, lb.line)]]}" for lb in hits)
    assert not hits, listing(hits, "clean look-alikes found") + "\n" + detail


def test_nothing_unlabelled_is_found(corpus, sink, shas):
    labelled = {where(lb, shas) for lb in corpus.of("risk")}
    extra = {k: [f.detector for f in v] for k, v in located(sink).items() if k not in labelled}
    assert not extra, "findings at unlabelled lines:\n" + "\n".join(f"  {k} <- {v}" for k, v in sorted(extra.items()))
    assert {f.category for f in sink.rows("source_finding") if f.line is not None} <= set(VALUE_CATEGORIES)


def test_file_findings_by_name_and_content_now_and_in_history(corpus, sink, shas):
    expected = {(lb.path, lb.cls, lb.context, shas[lb.commit] if lb.commit else None) for lb in corpus.of("file")}
    got = {(f.path, f.detector, f.context, f.commit if f.in_history_only else None)
           for f in sink.rows("source_finding") if f.line is None}
    assert got == expected, f"missing {sorted(expected - got)}\nunexpected {sorted(got - expected)}"


def test_context_is_a_field_and_never_production_for_tests_docs_vendored(corpus, sink, shas):
    found = located(sink)
    wrong = [(lb, {f.context for f in found[where(lb, shas)]}) for lb in expected_risks(corpus)
             if {f.context for f in found[where(lb, shas)]} != {lb.context}]
    assert not wrong, "\n".join(f"  {lb.path}:{lb.line} expected {lb.context}, got {got}" for lb, got in wrong)
    doc = found[("app/client.py", 4)]
    assert {f.context for f in doc} == {"documentation"}  # a docstring in production code


def test_renamed_file_keeps_one_location_with_its_history(sink, shas):
    rows = [f for f in sink.rows("source_finding") if f.path in ("config/app.yaml", "config/app-old.yaml")]
    assert [(f.path, f.line, f.in_tree) for f in rows] == [("config/app.yaml", 3, True)]
    assert rows[0].first_seen_commit == shas["Initial import"]


def test_rewritten_value_is_history_only_at_its_old_line(sink, shas):
    rows = [f for f in sink.rows("source_finding") if f.path == "config/cache.yaml"]
    assert [(f.line, f.in_history_only, f.commit) for f in rows] == [(2, True, shas["Initial import"])]


def assess(sink: SnapshotSink, *checks: str) -> pd.DataFrame:
    a = run_assessment(Snapshot.from_records(sink.rows("source_finding") + sink.rows("repository")), engagement(),
                       AS_OF, only=list(checks))
    assert not a.errors, a.errors
    return a.findings


def test_reuse_within_one_repository_is_judged_per_location(sink):
    f = assess(sink, "SRC007")
    failing = set(f.loc[f["status"].astype(str) == "fail", "resource"])
    assert {r for r in failing if "config/prod.yaml" in r or "config/staging.yaml" in r} == {
        "git:corpus:config/prod.yaml:3@HEAD", "git:corpus:config/staging.yaml:3@HEAD"}


def test_severity_follows_context_and_kind(sink):
    f = assess(sink, "SRC001", "SRC002", "SRC009", "SRC010", "SRC011")
    fails = f[f["status"].astype(str) == "fail"]
    rows = {r.id: r for r in sink.rows("source_finding")}
    by_check = {c: {rows[r].context for r in fails.loc[fails["check_id"] == c, "resource"]} for c in
                ("SRC001", "SRC002", "SRC009", "SRC010", "SRC011")}
    assert by_check["SRC001"] == by_check["SRC002"] == by_check["SRC009"] == by_check["SRC011"] == {"production"}
    assert by_check["SRC010"] == {"test_fixture", "documentation", "vendored"}
    assert set(fails.loc[fails["check_id"] == "SRC010", "severity"].astype(str)) == {"low"}
    hashes = {rows[r].path for r in fails.loc[fails["check_id"] == "SRC011", "resource"]}
    assert {"etc/shadow", "web/.htpasswd", "etc/proftpd/ftpd.passwd", "db/dump.sql", "ldap/users.ldif"} <= hashes
    assert "critical" not in set(fails.loc[fails["check_id"].isin(["SRC010", "SRC011"]), "severity"].astype(str))


def test_no_value_reaches_any_written_file(corpus, workspace: Path):
    eng = workspace / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(textwrap.dedent(f"""\
        client: acme
        stores:
          git:
            - name: corpus
              url: {corpus.repo}
        """))
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    assert main(["assess", "acme", "-q", "2026-Q4", "--no-notebooks"]) == 0
    values = tuple(v.strip() for v in corpus.values if len(v.strip()) >= 8)
    assert len(values) >= 150
    assert assert_no_canary(workspace, extra=values) > 5
