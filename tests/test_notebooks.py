"""Notebooks: papermill runs every one on a small real snapshot and assessment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from conftest import assert_no_canary
from sitekit import HOSTILE_LINK, HOSTILE_SCRIPT, make_workspace, published_ws, write_contract  # noqa: F401

from posture import report
from posture.model.errors import PostureError
from posture.notebooks import (
    _kernel_manager_class,
    discover,
    notebooks_source,
    parameters,
    run_all,
    run_notebooks,
)

QUARTER = "2026-Q4"  # the quarter whose notebooks `published_ws` runs with run_all
STAGE_NOTEBOOKS = [f"stage-{n}" for n in range(1, 6)]


@pytest.fixture(scope="module")
def executed(published_ws):
    """The shared workspace's executed notebooks (run_all on a real snapshot + assessment)."""
    ws = published_ws
    order = [p.name for p in discover()]
    paths = sorted(ws.notebooks_dir(QUARTER).glob("*.ipynb"), key=lambda p: order.index(p.name))
    return ws, paths


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    chunks = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            chunks.append(out.get("text", ""))
            for mime, data in out.get("data", {}).items():
                if mime.startswith("text/"):
                    chunks.append(data if isinstance(data, str) else "".join(data))
    return "\n".join(chunks)


def test_every_notebook_has_the_parameters_contract():
    want = {"client", "quarter", "snapshot_dir", "assessment_dir", "as_of", "thresholds"}
    names = {p.stem for p in discover()}
    assert {"executive-summary"} | {n for n in names if n.startswith("stage-")} <= names
    assert sum(n.startswith("stage-") for n in names) == 5
    for p in discover():
        nb = nbformat.read(p, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, p.name
        src = tagged[0].source
        assert {line.split("=")[0].strip() for line in src.splitlines() if "=" in line} >= want
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), p.name


def test_run_all_executes_every_notebook_into_evidence(executed):
    ws, paths = executed
    assert [p.name for p in paths] == [p.name for p in discover()]
    assert all(p.parent == ws.notebooks_dir(QUARTER) for p in paths)
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and f'client = "{ws.client}"' in injected[0].source
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == [], p.name
        # plots are embedded PNGs, not links to anything
        if p.stem in ("executive-summary", "stage-1-inventory", "stage-3-lifecycle"):
            assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), p.name
    assert not list(ws.quarter_dir(QUARTER).glob(".notebooks.tmp-*"))
    assert_no_canary(ws.root / "evidence")


@pytest.mark.parametrize("n", range(1, 6))
def test_each_stage_notebook_answers_its_exit_question(executed, n):
    ws, paths = executed
    (path,) = [p for p in paths if p.stem.startswith(f"stage-{n}")]
    text = _outputs(path)
    assert f"Exit question (stage {n})" in text
    expected = report.exit_answer(report.Assessment.load(ws.assessment_dir(QUARTER)), n)
    assert f"Answer: {expected.answer.upper()}" in text


def test_stage1_names_the_unowned_critical_item(executed):
    ws, paths = executed
    a = report.Assessment.load(ws.assessment_dir(QUARTER))
    ans = report.exit_stage1(a)
    assert ans.answer == "no"
    assert "vault:core:secret/prod/api-gateway-key" in set(ans.detail["id"])
    text = _outputs(next(p for p in paths if p.stem == "stage-1-inventory"))
    assert "api-gateway-key" in text


def test_hostile_names_are_escaped_in_outputs(executed):
    _, paths = executed
    text = "\n".join(_outputs(p) for p in paths)
    assert HOSTILE_SCRIPT not in text and HOSTILE_LINK not in text
    assert "&lt;script&gt;alert&#40;1&#41;&lt;/script&gt;" in text
    assert "&#91;x&#93;&#40;javascript:alert&#40;1&#41;&#41;" in text


def test_failing_cell_names_notebook_cell_and_error_and_writes_nothing(executed, tmp_path):
    ws, _ = executed
    src = tmp_path / "src"
    src.mkdir()
    # small notebooks with the real parameters cell: one that works, one whose third cell raises
    params_cell = next(c for c in nbformat.read(notebooks_source() / "executive-summary.ipynb",
                                                as_version=4).cells
                       if "parameters" in c.metadata.get("tags", []))
    for name, body in (("fine", "print(client)"),
                       ("broken", "raise ValueError('the data is not what we expected')")):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [params_cell, nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(body)]
        nbformat.write(nb, src / f"{name}.ipynb")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "previous.ipynb").write_text("{}")
    with pytest.raises(PostureError) as e:
        run_notebooks(sorted(src.glob("*.ipynb")), dest, parameters(ws, QUARTER))
    msg = str(e.value)
    assert "broken.ipynb" in msg and "cell" in msg
    assert "ValueError: the data is not what we expected" in msg and "\n" not in msg
    assert [p.name for p in dest.iterdir()] == ["previous.ipynb"]
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_run_all_without_assessment_is_one_line_error(tmp_path):
    ws = make_workspace(tmp_path)
    with pytest.raises(PostureError, match="no assessment"):
        run_all(ws, QUARTER)
    assert not ws.notebooks_dir(QUARTER).exists()


def test_kernel_is_the_current_interpreter():
    km = _kernel_manager_class()(kernel_name="python3")
    assert km.kernel_spec.argv[0] == sys.executable


def test_parameters_follow_the_contract(tmp_path):
    ws = make_workspace(tmp_path)
    p = parameters(ws, "2026-Q2")
    assert p["as_of"] == "2026-06-30" and p["client"] == "acme"
    assert json.loads(p["thresholds"])["rotation_days"]["db-password"] == 30
    assert p["assessment_dir"].endswith("evidence/acme/2026-Q2/assessment")


def test_esc_neutralises_html_and_markdown():
    assert report.esc("<b>&") == "&lt;b&gt;&amp;"
    out = report.esc("[x](javascript:alert(1))")
    assert "[" not in out and "(" not in out and "](" not in out
    assert report.esc(None) == "" and report.esc(float("nan")) == ""
    html = report.html_table(pd.DataFrame({"a<": ["<img src=x onerror=alert(1)>"]}))
    assert "<img" not in html and "&lt;img" in html and "a&lt;" in html


def test_exit_answers_follow_the_data(tmp_path):
    def write(findings, **lists):
        return report.Assessment.load(write_contract(tmp_path, findings, **lists))

    inv = [{"id": "a", "secret_type": "db-password", "environment": "prod", "owner": "dba",
            "data_class": "regulated", "critical": True}]
    assert report.exit_stage1(write([], inventory=inv)).answer == "yes"
    inv.append({"id": "b", "secret_type": "api-key", "environment": "prod", "owner": None,
                "data_class": "confidential", "critical": True})
    ans = report.exit_stage1(write([], inventory=inv))
    assert ans.answer == "no" and list(ans.detail["id"]) == ["b"]
    assert any("api-key" in r for r in ans.reasons)
    assert report.exit_stage1(write([], inventory=[])).answer == "unknown"
    cards = [{"id": "a", "steps": ["1", "2", "3", "4", "5"], "pager": "oncall", "owner": "dba"}]
    att = [{"item": "leak_playbook", "evidence": "https://wiki.example/leak"}]
    assert report.exit_stage5(write([], leak_cards=cards, attestations=att)).answer == "yes"
    cards[0]["pager"] = None  # nobody is paged
    ans = report.exit_stage5(write([], leak_cards=cards, attestations=att))
    assert ans.answer == "no" and list(ans.detail["resource"]) == ["a"]
    cards[0]["pager"] = "oncall"
    assert report.exit_stage5(write([], leak_cards=cards, attestations=[])).answer == "no"
    na = [{"check_id": "X", "status": "not_assessed", "stage": 2, "severity": "high"}]
    assert report.exit_stage2(write(na, access_model=[{"principal": "p"}])).answer == "unknown"
    fail = [{"check_id": "X", "status": "fail", "stage": 2, "severity": "critical", "resource": "r"}]
    assert report.exit_stage2(write(fail, access_model=[{"principal": "p"}])).answer == "no"


def test_missing_findings_is_a_posture_error(tmp_path):
    with pytest.raises(PostureError, match="no findings.json"):
        report.Assessment.load(tmp_path)
    (tmp_path / "findings.json").write_text("{nope")
    with pytest.raises(PostureError, match="not valid JSON"):
        report.Assessment.load(tmp_path)


def test_a_view_off_the_contract_is_a_posture_error_not_an_empty_table(tmp_path):
    """No key guessing: a misspelt field or a missing view file is refused, naming the file."""
    write_contract(tmp_path, [], leak_cards=[{"id": "a", "steps": ["1"]}])
    cards = json.loads((tmp_path / "leak_cards.json").read_text())
    cards[0]["paged"] = cards[0].pop("pager")  # an old spelling
    (tmp_path / "leak_cards.json").write_text(json.dumps(cards))
    with pytest.raises(PostureError, match=r"leak_cards.json: does not match the assessment contract at 0"):
        report.Assessment.load(tmp_path)
    (tmp_path / "leak_cards.json").unlink()
    with pytest.raises(PostureError, match="no leak_cards.json"):
        report.Assessment.load(tmp_path)
