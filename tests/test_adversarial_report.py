"""Hostile input reaching the reporting layer's plots (issue #12, item 14).

Anyone who can reach Vault chooses the paths in its audit log: 40 unauthenticated
requests to ``secret/data/$\\foo$`` made that path one of the busiest, matplotlib
read its title as mathtext and the audit notebook died, so ``posture assess``
failed for everyone. Every client-controlled string that reaches a plot (title,
axis and tick labels, legend) must be drawn as the plain text it is: here each
plot function gets such strings and the SVG it renders (text kept as text) must
show them literally; then the attack is replayed against a real OpenBao and the
audit notebook must run through `posture.notebooks` and show the path.
"""

from __future__ import annotations

import html
import io
import re
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest
from conftest import assert_no_canary
from matplotlib.figure import Figure
from sitekit import write_contract

from posture import report
from posture.demo.devservers import OpenBaoDevServer

MATH = "secret/data/$\\foo$"  # an unknown mathtext command: matplotlib raises on it
NAMES = (MATH, "$x^{2}$ and $\\frac{1}{0}$", "_hidden", "a\\$b$", "%s {0} #1 & <b>")
QUARTER = "2026-Q4"


def rendered_text(fig: Figure) -> str:
    """Every string the figure draws, as drawn (SVG with text kept as text, unescaped)."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    return html.unescape(buf.getvalue())


def assert_literal(fig: Figure, names=NAMES) -> None:
    """Each name is drawn as written; a label wrapped onto several lines counts as its lines joined."""
    svg = rendered_text(fig)
    drawn = "".join(re.findall(r"<text\b[^>]*>([^<]*)</text>", svg))
    squeeze = lambda s: re.sub(r"\s+", "", s)  # noqa: E731 (wrapping drops the space it breaks at)
    missing = [n for n in names if n not in svg and squeeze(n) not in squeeze(drawn)]
    assert not missing, f"not drawn literally: {missing}"


def test_unescaped_name_is_what_breaks_matplotlib():
    """The regression's premise: drawn raw, the name is mathtext and the figure cannot render."""
    fig = Figure()
    fig.subplots().set_title(MATH)
    with pytest.raises(ValueError):
        rendered_text(fig)
    assert report.plain(MATH) == "secret/data/\\$\\foo\\$"


def test_every_plot_draws_hostile_names_as_plain_text():
    counts = pd.DataFrame({"environment": list(NAMES), "fail": 1, "not_assessed": 0, "waived": 2, "pass": 3})
    assert_literal(report.plot_status_bars(counts, "environment", MATH))
    scores = pd.DataFrame({"key": list(NAMES), "label": list(NAMES), "score": [10.0, 65.0, 90.0, None, 50.0]})
    assert_literal(report.plot_scores(scores, MATH))
    for horizontal in (False, True):
        assert_literal(report.plot_counts(pd.Series(range(len(NAMES)), index=list(NAMES)), MATH,
                                          xlabel=MATH, horizontal=horizontal))
    assert_literal(report.plot_histogram(pd.Series([1.0, 2.0, 2.5]), MATH, MATH), names=(MATH,))
    days = pd.date_range("2026-10-01", periods=5, freq="D", tz="UTC")
    lines = pd.DataFrame({n: range(5) for n in NAMES}, index=days)
    for area in (False, True):
        assert_literal(report.plot_lines(lines, MATH, MATH, area=area))
    vol = pd.DataFrame({"count": [1.0, 2, 3, 40, 2], "baseline": [None, None, 2.0, 2, 12]}, index=days)
    spikes = pd.DataFrame({"count": [40]}, index=days[3:4])
    assert_literal(report.plot_volume([(n, vol, spikes) for n in NAMES], 3.0))


def test_plots_survive_a_usetex_configuration():
    """usetex would hand client text to LaTeX; the plots turn it off on every text they draw."""
    counts = pd.Series([1, 2], index=[MATH, "_hidden"])
    with matplotlib.rc_context({"text.usetex": True}):
        fig = report.plot_counts(counts, MATH, horizontal=True)
        assert_literal(fig, names=(MATH, "_hidden"))


def test_assessment_plots_take_hostile_environments(tmp_path):
    inv = [{"id": f"i{i}", "environment": env, "age_days": float(i)} for i, env in enumerate(NAMES)]
    a = report.Assessment.load(write_contract(tmp_path, [], inventory=inv))
    assert_literal(report.plot_items_per_environment(a))
    assert_literal(report.plot_age_histogram(a), names=())


# --- the attack, replayed against a real server ---------------------------------------------


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """An OpenBao whose audit log holds 40 unauthenticated reads of a mathtext path."""
    server = OpenBaoDevServer(workdir=tmp_path_factory.mktemp("openbao-attacked"), audit_devices=("file",))
    server.start()
    try:
        url = f"{server.address}/v1/{urllib.parse.quote(MATH)}"
        for _ in range(40):
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(url, timeout=10)
            assert denied.value.code == 403
        yield server
    finally:
        server.stop()


def test_audit_notebook_shows_an_attacker_chosen_path_literally(attacked, workspace: Path, monkeypatch):
    from posture.cli import main
    from posture.notebooks import discover, parameters, run_notebooks
    from posture.workspace import Workspace

    monkeypatch.setenv("VAULT_TOKEN", attacked.root_token)
    eng = workspace / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(textwrap.dedent(f"""\
        client: acme
        stores:
          vault:
            - name: core
              address: {attacked.address}
              audit_logs: ["{attacked.audit_log('file')}"]
        """))
    assert main(["collect", "acme", "-q", QUARTER, "--store", "core"]) == 0
    assert main(["assess", "acme", "-q", QUARTER, "--no-notebooks"]) == 0
    ws = Workspace.resolve("acme")

    a = report.Assessment.load(ws.assessment_dir(QUARTER))
    audit = report.AuditActivity.load(ws.snapshot_dir(QUARTER), a)
    assert audit.access[audit.access["path"] == MATH]["count"].sum() == 40
    assert_literal(audit.volume_against_baseline(), names=(f"core: {MATH}",))

    (source,) = [p for p in discover() if p.stem == "audit-activity"]
    (run,) = run_notebooks([source], ws.notebooks_dir(QUARTER), parameters(ws, QUARTER))
    nb = nbformat.read(run.path, as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
    assert any("image/png" in o.get("data", {}) for o in outputs)
    tables = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert report.esc(MATH) in tables  # the denied path, in the tables as its own text
    assert_no_canary(workspace)
