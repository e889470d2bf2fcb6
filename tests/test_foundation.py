"""Engagement, workspace, snapshot and CLI basics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from posture.cli import main
from posture.model.engagement import load_engagement
from posture.model.errors import ConfigError, IntegrityError
from posture.model.records import Secret
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink
from posture.workspace import current_quarter, quarter_end
from datetime import date


def test_init_creates_valid_template_and_refuses_overwrite(workspace: Path, capsys):
    assert main(["init", "acme"]) == 0
    path = workspace / "engagements" / "acme" / "engagement.yaml"
    loaded = load_engagement(path)
    assert loaded.engagement.client == "acme"
    assert len(loaded.sha256) == 64
    assert main(["init", "acme"]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body, line, field",
    [
        ("client: acme\nstores:\n  vault:\n    - name: core\n      concurrency: lots\n", 5, "stores.vault[0].concurrency"),
        ("client: acme\nstores:\n  aws:\n    - name: main\n      regionz: [eu-west-1]\n", 5, "stores.aws[0].regionz"),
        ("client: acme\nwaivers:\n  - check: VLT001\n    reason: r\n    approver: a\n    expires: someday\n", 6, "waivers[0].expires"),
        ("client: 'bad name'\n", 1, "client"),
    ],
)
def test_engagement_errors_name_file_line_and_field(tmp_path: Path, body, line, field, capsys):
    p = tmp_path / "engagement.yaml"
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        load_engagement(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}: {field}:"), msg
    assert "\n" not in msg
    assert main(["collect", str(p)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f":{line}:" in err


def test_invalid_yaml_is_one_line(tmp_path: Path):
    p = tmp_path / "e.yaml"
    p.write_text("client: acme\nstores: [\n")
    with pytest.raises(ConfigError) as e:
        load_engagement(p)
    assert str(e.value).startswith(f"{p}:") and "invalid YAML" in str(e.value)


def test_duplicate_store_names_rejected(tmp_path: Path):
    p = tmp_path / "e.yaml"
    p.write_text("client: acme\nstores:\n  vault: [{name: x}]\n  git: [{name: x, url: /tmp}]\n")
    with pytest.raises(ConfigError, match="used twice"):
        load_engagement(p)


def test_quarters():
    assert current_quarter(date(2026, 11, 23)) == "2026-Q4"
    assert current_quarter(date(2026, 1, 1)) == "2026-Q1"
    assert quarter_end("2026-Q1") == date(2026, 3, 31)
    assert quarter_end("2026-Q4") == date(2026, 12, 31)
    with pytest.raises(ConfigError):
        quarter_end("2026Q4")


def _secret(i: int) -> Secret:
    return Secret(
        id=f"vault:core:secret/app{i}", store="core", source="vault", kind="kv2",
        path=f"secret/app{i}", name=f"app{i}",
        created_at=datetime(2026, 1, i + 1, tzinfo=timezone.utc),
    )


def _manifest() -> Manifest:
    now = datetime.now(timezone.utc)
    return Manifest(client="acme", quarter="2026-Q4", engagement_sha256="x", started_at=now, finished_at=now)


def test_snapshot_roundtrip_hashes_and_tamper_detection(tmp_path: Path):
    sink = SnapshotSink()
    for i in range(3):
        sink.add(_secret(i))
    sink.add(_secret(0))  # duplicate id is kept once
    sink.gap(store="core", source="vault", tables=["secret"], operation="LIST secret/metadata/x", reason="denied", scope="secret/")
    dest = tmp_path / "snap"
    m = sink.write(dest, _manifest())
    assert m.files["secret.jsonl"].rows == 3 and m.gaps == 1
    snap = Snapshot.load(dest)
    df = snap.frame("secret")
    assert list(df["name"]) == ["app0", "app1", "app2"]
    assert str(df["created_at"].dtype).startswith("datetime64")
    assert snap.frame("key").empty and "rotation_enabled" in snap.frame("key").columns
    assert snap.gaps.iloc[0]["reason"] == "denied"
    with open(dest / "secret.jsonl", "ab") as f:
        f.write(b"{}\n")
    with pytest.raises(IntegrityError):
        Snapshot.load(dest)


def test_failed_write_keeps_previous_snapshot(tmp_path: Path, monkeypatch):
    dest = tmp_path / "snap"
    sink = SnapshotSink()
    sink.add(_secret(1))
    sink.write(dest, _manifest())
    before = (dest / "manifest.json").read_bytes()

    import posture.model.snapshot as mod

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(mod, "atomic_write_bytes", boom)
    sink.add(_secret(2))
    with pytest.raises(OSError):
        sink.write(dest, _manifest())
    assert (dest / "manifest.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]


def test_schema_lists_every_table(capsys):
    assert main(["schema"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"secret", "policy_rule", "coverage_gap", "source_finding"} <= set(doc["tables"])
    assert "value" not in doc["tables"]["secret"]["properties"]


def test_unknown_client_is_one_line(workspace: Path, capsys):
    assert main(["collect", "nobody"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "posture init nobody" in err


def test_interrupted_collect_leaves_no_partial_snapshot(workspace: Path):
    """SIGINT in the middle of a real collection: no snapshot directory, no temp left."""
    script = textwrap.dedent(
        """
        import sys, time
        from collectors import base
        class Slow:
            source = "git"; version = "t"
            def __init__(self, store, ctx): self.ctx = ctx
            def run(self):
                from posture.model.records import Secret
                self.ctx.sink.add(Secret(id="x", store="s", source="git", kind="kv2", path="p", name="n"))
                print("collecting", flush=True); time.sleep(30)
        base.REGISTRY["git"] = "__main__:Slow"
        from posture.cli import main
        sys.exit(main(["collect", "acme"]))
        """
    )
    (workspace / "engagements" / "acme").mkdir(parents=True)
    (workspace / "engagements" / "acme" / "engagement.yaml").write_text(
        "client: acme\nstores:\n  git:\n    - {name: r, url: /nonexistent}\n"
    )
    env = dict(os.environ, POSTURE_HOME=str(workspace))
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workspace)
    assert proc.stdout.readline().strip() == b"collecting"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert not (workspace / "evidence" / "acme" / current_quarter() / "snapshot").exists()


@pytest.mark.parametrize("loader, what", [
    ("posture.model.engagement:load_engagement", "engagement file"),
    ("posture.model.inventory_file:read_inventory", "inventory file"),
    ("posture.model.app_requirements:load_requirements", "requirements file"),
])
def test_hand_written_inputs_are_read_bounded_with_one_line_errors(tmp_path: Path, loader, what):
    """Every hand-written input is refused by one line when missing, a directory, or too large."""
    import importlib

    module, _, name = loader.partition(":")
    load = getattr(importlib.import_module(module), name)
    suffix = ".csv" if "inventory" in what else ".yaml"
    cases = {"missing": (tmp_path / f"none{suffix}", f"no such {what}"),
             "directory": (tmp_path / f"dir{suffix}", f"is a directory, not an {what}" if what[0] in "ei"
                           else f"is a directory, not a {what}")}
    cases["directory"][0].mkdir()
    big = tmp_path / f"big{suffix}"
    with open(big, "wb") as f:
        f.truncate(64 << 20)  # sparse: larger than any limit, costs no disk
    cases["large"] = (big, "bytes; not a")
    for path, message in cases.values():
        with pytest.raises(ConfigError) as e:
            load(path)
        assert message in str(e.value) and "\n" not in str(e.value), str(e.value)
