"""``posture demo``: the README's first command, end to end over real servers.

The full demo runs once (``test_demo_end_to_end``, marked slow) into a
temporary workspace and checks what a newcomer relies on: two
published quarters, a site holding both, fixed findings between them, the
servers gone, and no demo secret value anywhere in the workspace.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import assert_no_canary
from rich.console import Console

from posture import demo as demo_mod
from posture.cli import main
from posture.demo import (
    MARKER,
    DemoInterrupted,
    prepare_workspace,
    previous_quarter,
    print_summary,
    run_demo,
    scoped_environ,
)
from posture.model.errors import ConfigError


def _port_open(address: str) -> bool:
    host, port = address.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# --- small pieces, no servers ----------------------------------------------------------


def test_previous_quarter_wraps_the_year():
    assert previous_quarter("2026-Q4") == "2026-Q3"
    assert previous_quarter("2026-Q1") == "2025-Q4"
    with pytest.raises(ConfigError):
        previous_quarter("2026Q1")


def test_scoped_environ_restores_everything(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_PROFILE", "a-real-account")
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example")
    before = dict(os.environ)
    with scoped_environ({"VAULT_TOKEN": "t", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}, ("VAULT_", "AWS_")):
        assert "AWS_PROFILE" not in os.environ and os.environ["VAULT_TOKEN"] == "t"
        assert os.environ.get("VAULT_ADDR") is None
    assert dict(os.environ) == before


def test_prepare_workspace_never_touches_a_foreign_folder(tmp_path: Path):
    real = tmp_path / "real"
    (real / "evidence" / "acme").mkdir(parents=True)
    with pytest.raises(ConfigError, match="not made by 'posture demo'"):
        prepare_workspace(real, "northwind", force=True)
    assert (real / "evidence" / "acme").is_dir() and not (real / MARKER).exists()


def test_prepare_workspace_force_wipes_only_the_demo_client(tmp_path: Path):
    ws = tmp_path / "ws"
    prepare_workspace(ws, "northwind", force=False)
    assert (ws / MARKER).exists()
    for sub in ("engagements", "evidence", "sites"):
        (ws / sub / "northwind" / "x").mkdir(parents=True)
        (ws / sub / "other" / "x").mkdir(parents=True)
    with pytest.raises(ConfigError, match="--force"):
        prepare_workspace(ws, "northwind", force=False)
    assert (ws / "evidence" / "northwind" / "x").is_dir()
    prepare_workspace(ws, "northwind", force=True)
    for sub in ("engagements", "evidence", "sites"):
        assert not (ws / sub / "northwind").exists()
        assert (ws / sub / "other" / "x").is_dir()


# --- the real demo, once ---------------------------------------------------------------
#
# One test function on purpose: under ``pytest -n 2`` a session fixture runs once
# per worker, so separate tests could run the two-minute demo twice. Each aspect
# is a named helper, so a failure still says which promise broke.


def _published_both_quarters(result, ws: Path) -> None:
    from posture.site import published_quarters
    from posture.workspace import Workspace

    assert result.quarters == ("2026-Q3", "2026-Q4")
    w = Workspace.resolve("northwind", root=ws)
    assert published_quarters(w) == ["2026-Q3", "2026-Q4"]
    for q in result.quarters:
        findings = json.loads((w.assessment_dir(q) / "findings.json").read_text())
        statuses = {f["status"] for f in findings["findings"]}
        assert {"pass", "fail", "waived", "not_assessed"} <= statuses, (q, statuses)
        assert any(w.notebooks_dir(q).glob("*.ipynb"))
    versions = subprocess.run(
        ["git", "show", "gh-pages:versions.json"], cwd=result.site_dir, capture_output=True, check=True
    ).stdout
    assert {v["version"] for v in json.loads(versions)} == {"2026-Q3", "2026-Q4"}
    index = subprocess.run(
        ["git", "show", "gh-pages:2026-Q4/index.html"], cwd=result.site_dir, capture_output=True, check=True
    ).stdout.decode()
    assert "2026-Q3" in index  # the overview's trend reaches back to the first quarter


def _fixes_resolved_findings(result, output: str) -> None:
    resolved = {r["check_id"] for r in result.diff["resolved"]}
    # wildcard policy removed, long-TTL token revoked, KMS rotation on, public policy gone, CI cleaned
    assert {"VLT006", "VLT010", "AWS006", "AWS005"} <= resolved, resolved
    assert any(c.startswith("CI") for c in resolved), resolved
    assert result.diff["score_after"]["score"] > result.diff["score_before"]["score"]
    assert f"{len(result.diff['resolved'])} resolved" in output
    assert "posture serve northwind" in output and "[11/11]" in output


def _servers_stopped(result) -> None:
    assert result.vault_address and result.aws_endpoint and result.bao_pid
    assert not _port_open(result.vault_address)
    assert not _port_open(result.aws_endpoint)
    assert not _pid_alive(result.bao_pid)
    assert result.estate_dir is not None and not result.estate_dir.exists()


def _no_secret_value_anywhere(result, ws: Path, output: str, export_dir: Path) -> None:
    from posture.site import export_site
    from posture.workspace import Workspace

    values = tuple(result.secret_values)
    assert set(demo_mod.DEMO_VALUES) <= set(values) and len(values) > len(demo_mod.DEMO_VALUES)
    assert assert_no_canary(ws, extra=values) > 50
    # the published pages live compressed in git objects: scan them as served
    site = export_site(Workspace.resolve("northwind", root=ws), export_dir)
    assert (site / "2026-Q3" / "index.html").is_file() and (site / "2026-Q4" / "index.html").is_file()
    assert assert_no_canary(site, extra=values) > 100
    for value in values:  # nor in anything the demo printed
        assert value not in output
    text = (ws / "engagements" / "northwind" / "engagement.yaml").read_text()
    assert "VAULT_TOKEN" in text and "demo-root-" not in text


def _audit_requests(result) -> list[dict]:
    """Every request in the live OpenBao audit log (read while the estate still exists)."""
    log = result.estate_dir / "openbao" / "file.log"
    entries = (json.loads(line) for line in log.read_text().splitlines() if line.strip())
    return [e for e in entries if e.get("type") == "request"]


def _collected_with_the_assessor_token(result, ws: Path, requests: list[dict]) -> None:
    """Issue #12 item 10: the demo's own collection is no root use in its own report."""
    from posture.model.snapshot import Snapshot
    from posture.model.timeutil import parse_utc
    from posture.workspace import Workspace

    w = Workspace.resolve("northwind", root=ws)
    for q in result.quarters:
        m = Snapshot.load(w.snapshot_dir(q)).manifest
        during = [e for e in requests if m.started_at <= parse_utc(e["time"]) <= m.finished_at]
        assert len(during) > 50, (q, len(during))
        policies = {tuple((e.get("auth") or {}).get("policies") or ()) for e in during}
        assert policies == {("posture-assessor",)}, (q, policies)
        tokens = Snapshot.load(w.snapshot_dir(q)).frame("token")
        assessor = tokens[tokens["policies"].map(lambda p: list(p) == ["posture-assessor"])]
        assert len(assessor) == 1 and not assessor["root"].any()
    # the second quarter's log holds the first one's collection: no root use comes from it
    adir = w.assessment_dir(result.quarters[1])
    catalog = json.loads((adir / "catalog.json").read_text())
    check_id = next(c["id"] for c in catalog if c["name"] == "audit_signal_root_token_use")
    findings = json.loads((adir / "findings.json").read_text())["findings"]
    root_use = [f for f in findings if f["check_id"] == check_id and f["status"] == "fail"]
    assert root_use  # the client's admin still fixes with root: the check does see root use
    for f in root_use:  # ... but none of it is the collector's own requests
        evidence = json.dumps(f["evidence"])
        assert "auth/token/lookup-self" not in evidence and "auth/token/accessors" not in evidence, evidence


def _rerun_refused(ws: Path, capsys) -> None:
    before = {p: p.stat().st_mtime_ns for p in ws.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match="immutable"):
        run_demo(ws, quarter="2026-Q4")
    capsys.readouterr()
    assert main(["demo", "--workspace", str(ws), "--quarter", "2026-Q4"]) == 2
    err = capsys.readouterr().err
    assert "--force" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    after = {p: p.stat().st_mtime_ns for p in ws.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path, capsys):
    ws = tmp_path / "demo-workspace"
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    seen = []
    requests = []

    def summary(result):
        seen.append(result)
        requests.extend(_audit_requests(result))
        print_summary(result, console)

    result = run_demo(ws, quarter="2026-Q4", console=console, on_result=summary)
    output = buf.getvalue()
    assert seen == [result]
    _collected_with_the_assessor_token(result, ws, requests)
    _published_both_quarters(result, ws)
    _fixes_resolved_findings(result, output)
    _servers_stopped(result)
    _no_secret_value_anywhere(result, ws, output, tmp_path / "exported-site")
    _rerun_refused(ws, capsys)


# --- failures stop the servers too ---------------------------------------------------------


def _fail_after_servers(monkeypatch, exc: BaseException) -> dict:
    started = {}
    real = demo_mod._start_servers

    def spy(stack, estate_dir):
        estate = real(stack, estate_dir)
        started.update(addr=estate.bao.address, moto=estate.moto.endpoint_url,
                       pid=estate.bao._proc.pid, dir=estate_dir)
        return estate

    def boom(*a, **k):
        raise exc

    monkeypatch.setattr(demo_mod, "_start_servers", spy)
    monkeypatch.setattr(demo_mod, "_seed", boom)
    return started


def test_ctrl_c_stops_the_servers_and_restores_the_environment(tmp_path: Path, monkeypatch):
    started = _fail_after_servers(monkeypatch, KeyboardInterrupt())
    env = dict(os.environ)
    with pytest.raises(DemoInterrupted, match="interrupted during seed"):
        run_demo(tmp_path / "ws", quarter="2026-Q4")
    assert started and not _port_open(started["addr"]) and not _port_open(started["moto"])
    assert not _pid_alive(started["pid"]) and not started["dir"].exists()
    assert dict(os.environ) == env


def test_an_error_is_one_line_and_stops_the_servers(tmp_path: Path, monkeypatch, capsys):
    started = _fail_after_servers(
        monkeypatch, RuntimeError(f"estate\nexploded near {demo_mod.DEMO_VALUES[0]}")
    )
    monkeypatch.delenv("POSTURE_DEBUG", raising=False)
    assert main(["demo", "--workspace", str(tmp_path / "ws")]) == 1
    err = capsys.readouterr().err.strip()
    errors = [ln for ln in err.splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and err.splitlines()[-1] == errors[0]
    assert errors[0].startswith("error: demo failed during seed: RuntimeError: estate exploded near ***")
    assert "Traceback" not in err and "DEMO-CANARY" not in err
    assert not _port_open(started["addr"]) and not _pid_alive(started["pid"])


def test_keep_servers_holds_them_until_ctrl_c(tmp_path: Path):
    from contextlib import ExitStack

    buf = io.StringIO()
    seen = {}

    def user_presses_ctrl_c():
        seen["up"] = _port_open(estate.bao.address) and _port_open(estate.moto.endpoint_url)
        raise KeyboardInterrupt

    with ExitStack() as stack:
        estate = demo_mod._start_servers(stack, tmp_path)
        demo_mod._hold_servers(estate, Console(file=buf, width=200), user_presses_ctrl_c)
    assert seen["up"]
    assert not _port_open(estate.bao.address) and not _port_open(estate.moto.endpoint_url)
    out = buf.getvalue()
    assert f"VAULT_ADDR={estate.bao.address}" in out and estate.moto.endpoint_url in out
    assert "stopping the servers" in out
