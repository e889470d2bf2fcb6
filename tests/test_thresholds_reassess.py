"""A threshold change followed by ``posture assess`` re-judges the same snapshot.

One ``posture collect`` of three Vault stores on the session's real OpenBao
server, each with its own audit log: ``core`` reads the server's real file
audit log (traffic driven here: a burst of failed logins, a 768 h and a 1 h
token), ``history`` a synthetic three-week log in OpenBao's format with the
seed-001 anomalies, ``calm`` the same weeks without them. The snapshot is then
assessed three times with the CLI, the engagement's thresholds edited in
between (defaults, lenient, strict), and never collected again: every change
of an AUD result below comes from the thresholds alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from checks_cases import AS_OF, audit_log, engagement, vserver
from checks_cases import signal as collected
from conftest import CANARIES

from checks.catalog import load_catalog
from checks.engine import run_assessment
from posture.cli import main
from posture.demo.estates.audit import drive_openbao_traffic, write_vault_audit_log
from posture.model.snapshot import Snapshot
from posture.model.thresholds import Thresholds

Q = "2026-Q4"
START = datetime(2026, 10, 1, tzinfo=UTC)
LENIENT = {"new_source_learn_days": 30, "volume_spike_factor": 50, "business_hours": [0, 24],
           "off_hours_weekends": False, "failed_login_burst": 50, "long_ttl_token_hours": 1000}
STRICT = {"new_source_learn_days": 0, "volume_spike_factor": 1.0, "volume_spike_min_count": 1,
          "business_hours": [12, 13], "failed_login_burst": 1, "long_ttl_token_hours": 0}


def write_engagement(path: Path, address: str, logs: dict[str, Path], thresholds: dict) -> None:
    stores = "".join(f"    - name: {name}\n      address: {address}\n      audit_logs: [\"{log}\"]\n"
                     for name, log in logs.items())
    limits = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in thresholds.items()) or "  {}\n"
    path.write_text(f"client: acme\nstores:\n  vault:\n{stores}thresholds:\n{limits}")


@pytest.fixture(scope="module")
def assessed(openbao, tmp_path_factory):
    """Collect once, assess with default, lenient and strict thresholds; each run's outputs."""
    root = tmp_path_factory.mktemp("reassess")
    mp = pytest.MonkeyPatch()
    mp.setenv("POSTURE_HOME", str(root))
    mp.setenv("VAULT_TOKEN", openbao.root_token)
    traffic = drive_openbao_traffic(openbao.address, openbao.root_token, CANARIES, prefix="reassess")
    logs = {"core": openbao.audit_log("file"), "history": root / "logs" / "history.log",
            "calm": root / "logs" / "calm.log"}
    write_vault_audit_log(logs["history"], CANARIES, START, days=21, events_per_day=100)
    write_vault_audit_log(logs["calm"], CANARIES, START, days=21, events_per_day=100, anomalies=False)
    eng = root / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    write_engagement(eng, openbao.address, logs, {})
    assert main(["collect", "acme", "-q", Q]) == 0
    snap = root / "evidence" / "acme" / Q / "snapshot"
    manifest = (snap / "manifest.json").read_bytes()
    runs = {}
    for name, limits in (("default", {}), ("lenient", LENIENT), ("strict", STRICT)):
        write_engagement(eng, openbao.address, logs, limits)
        assert main(["assess", "acme", "-q", Q, "--no-notebooks"]) == 0
        out = root / "evidence" / "acme" / Q / "assessment"
        runs[name] = {f: json.loads((out / f).read_text()) for f in ("findings.json", "catalog.json")}
        assert (snap / "manifest.json").read_bytes() == manifest, "the snapshot must not change"
    yield runs, traffic
    mp.undo()


def verdict(run: dict, check_id: str, store: str) -> str:
    """A store's result for an AUD signal check: fail when any row fails, else its store row."""
    rows = [f for f in run["findings.json"]["findings"] if f["check_id"] == check_id and f["store"] == store]
    assert rows, (check_id, store)
    if any(f["status"] == "fail" for f in rows):
        return "fail"
    return next(f["status"] for f in rows if f["resource"] == f"audit:{store}")


@pytest.mark.parametrize("check_id", ["AUD001", "AUD002", "AUD003", "AUD005"])
def test_lenient_thresholds_turn_history_anomalies_into_passes(assessed, check_id):
    runs, _ = assessed
    assert verdict(runs["default"], check_id, "history") == "fail"
    assert verdict(runs["lenient"], check_id, "history") == "pass"


@pytest.mark.parametrize("check_id", ["AUD001", "AUD002", "AUD003"])
def test_strict_thresholds_turn_calm_passes_into_failures(assessed, check_id):
    runs, _ = assessed
    assert verdict(runs["default"], check_id, "calm") == "pass"
    assert verdict(runs["strict"], check_id, "calm") == "fail"


def test_real_log_long_ttl_tokens_and_login_bursts_follow_their_thresholds(assessed):
    runs, traffic = assessed
    long_name, short_name = f"token-{traffic.prefix}-long", f"token-{traffic.prefix}-short"

    def tokens(run: str) -> set[str]:
        return {f["evidence"]["detail"]["token_display_name"] for f in runs[run]["findings.json"]["findings"]
                if f["check_id"] == "AUD006" and f["store"] == "core" and f["status"] == "fail"}

    # 768 h against 720 h (default), 1000 h (lenient), 0 h (strict); a non-expiring root
    # token (the server's own) fails under every threshold.
    assert long_name in tokens("default") and short_name not in tokens("default")
    assert long_name not in tokens("lenient") and short_name not in tokens("lenient")
    assert {long_name, short_name} <= tokens("strict")
    # The real burst (6 failed logins in one hour) against 5, 50 and 1.
    assert [verdict(runs[r], "AUD005", "core") for r in ("default", "lenient", "strict")] == ["fail", "pass", "fail"]


def test_judgement_evidence_and_titles_show_the_applied_thresholds(assessed):
    runs, _ = assessed
    findings = runs["lenient"]["findings.json"]
    assert findings["thresholds"]["volume_spike_factor"] == 50
    titles = {f["check_id"]: f["title"] for f in findings["findings"]}
    catalog = {c["id"]: c for c in runs["lenient"]["catalog.json"]}
    assert titles["AUD002"] == catalog["AUD002"]["title"] == "Secret read volume above 50x baseline"
    assert catalog["AUD003"]["title"].endswith("(00:00-24:00)")
    assert catalog["AUD005"]["title"].startswith("Burst of 50 or more failed logins")
    assert catalog["AUD006"]["title"] == "Token created with a TTL above 1000 h"
    assert catalog["AUD002"]["thresholds"]["volume_spike_factor"] == 50
    default = {c["id"]: c["title"] for c in runs["default"]["catalog.json"]}
    assert default["AUD002"] == "Secret read volume above 3x baseline"
    spikes = [f for f in runs["strict"]["findings.json"]["findings"]
              if f["check_id"] == "AUD002" and f["status"] == "fail"]
    assert spikes and {f["evidence"]["detail"]["factor"] for f in spikes} == {1.0}


def test_every_title_renders_overridden_thresholds():
    """Every number a title shows is a threshold: overriding it changes the title."""
    defaults = Thresholds().model_dump()
    for c in load_catalog().values():
        for name in c.thresholds:
            value = defaults[name]
            if isinstance(value, bool) or not isinstance(value, (int, float, tuple)):
                continue
            bumped = tuple(v + 1 for v in value) if isinstance(value, tuple) else value + 7
            changed = c.title_for(Thresholds(**{name: bumped}))
            if f"{{{name}" in c.title_template:
                assert changed != c.title, (c.id, name)
            else:
                assert changed == c.title, (c.id, name)


def test_posture_checks_lists_titles_with_default_thresholds(capsys):
    assert main(["checks", "AUD011"]) == 0
    text = capsys.readouterr().out
    assert "Orphaned secret: no access for 90 days" in text and "{orphaned" not in text


@pytest.mark.parametrize("check_id,signal", [("AUD001", "new_source_ip"), ("AUD002", "volume_spike"),
                                             ("AUD003", "off_hours_human"), ("AUD005", "failed_logins"),
                                             ("AUD006", "long_ttl_token")])
def test_signals_judged_at_collection_by_audit_collector_1x_still_fail(check_id, signal):
    """A snapshot of audit collector 1.x holds these rows already judged: kept, never a pass."""
    a = run_assessment(Snapshot.from_records([vserver(), audit_log(), collected(signal)]), engagement(), AS_OF,
                       only=[check_id])
    assert not a.errors and set(a.findings["status"].astype(str)) == {"fail"}
