"""The site's page builders without a browser: formatting, safe Markdown, stable identities.

The values a reader sees come from one formatting module; the kit's Markdown is
rendered by escaping first; an audit event keeps its identity across quarters;
the access model's justification comes from the engagement; downloads carry the
snapshot; and a hint names a ``posture`` that runs as printed.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from sitekit import HOSTILE_SCRIPT, published_ws  # noqa: F401  (published_ws is a fixture)

from checks.diff import diff_findings
from posture.model.assessment import LeakCard
from posture.model.engagement import AccessJustification
from posture.report import html_table
from posture.report.format import (
    cell,
    days,
    due,
    inline_markdown,
    label,
    markdown_html,
    number,
    percent,
    when,
)
from posture.site.pages.leakcards import card_steps, leak_card_html

Q3, Q4 = "2026-Q3", "2026-Q4"


def test_numbers_dates_and_durations_read_as_words():
    assert [number(3.0), number(62.5), number(2.96), number(12345.0), number(0.01234)] == \
        ["3", "62.5", "3", "12,345", "0.0123"]
    assert [percent(0.853), percent(0.999), percent(0.001), percent(1.0)] == ["85%", "99%", "<1%", "100%"]
    assert when(datetime(2026, 3, 31, 14, 5, 7, 123456, tzinfo=UTC)) == "2026-03-31 14:05 UTC"
    assert when("2026-10-22T20:37:51.106000+00:00") == "2026-10-22 20:37 UTC"
    assert when(date(2026, 3, 31)) == "2026-03-31"
    assert [days(1.0), days(40.0), days(0.25)] == ["1 day", "40 days", "6 h"]
    assert [due(-770.0), due(12.4), due(0.2)] == ["770 days overdue", "in 12 days", "today"]


def test_cells_never_show_python_literals():
    row = {"active": True, "stale": np.bool_(False), "capabilities": ["read", "list"], "age_days": 400.0,
           "last_rotated_at": pd.Timestamp("2025-10-27 20:37:46.817", tz="UTC"), "value": float("nan"),
           "count": np.float64(6.0), "owner": None, "detail": {"paths": ["a"], "x": None}, "coverage": 0.72}
    html = html_table(pd.DataFrame([row]))
    text = re.sub(r"<[^>]+>", " ", html)  # what a reader sees (sort keys live in attributes)
    for literal in ("True", "False", "None", "nan", "6.0", "400.0", "['read'", '["read"', ".817"):
        assert literal not in text, literal
    assert "✓ yes" in html and "✗ no" in html and "400 days" in html and "72%" in html
    assert html.count('class="posture-chip"') == 3  # read, list, a
    assert "no owner" in html  # an empty owner is a gap, in words
    assert ">Last rotated<" in html and ">Capabilities<" in html  # labels from one place
    assert label("not_assessed") == "Not assessed" and label("a<") == "a<"


def test_kit_markdown_renders_and_client_text_stays_text():
    assert inline_markdown("use `token_bound_cidrs` **now**") == \
        "use <code>token&#95;bound&#95;cidrs</code> <strong>now</strong>"
    # a glob is not emphasis, and markup inside Markdown stays escaped
    assert "<em>" not in inline_markdown("secret/*/db/*") and "a&#42;b&#42;c" in inline_markdown("a*b*c")
    hostile = inline_markdown(f"`{HOSTILE_SCRIPT}` **<img src=x onerror=alert(1)>**")
    assert "<script" not in hostile and "<img" not in hostile and "&lt;script&gt;" in hostile
    method = markdown_html("**How.**\n\n1. one `pass`\n2. two\n   continued\n\nA *pass ratio* here.")
    assert method == ("<p><strong>How.</strong></p><ol><li>one <code>pass</code></li><li>two continued</li>"
                      "</ol><p>A <em>pass ratio</em> here.</p>")
    # the kit's prose columns render; a client value in another column does not
    assert cell("read `x`", "meaning") == "read <code>x</code>" and "`" not in cell("a `b`", "path")


def test_an_audit_event_keeps_its_identity_across_quarters():
    from checks.audit_checks import event_ids

    def sig(at: str, remote: str) -> dict:
        return {"store": "core", "signal": "volume_spike", "principal": "svc", "path": "secret/data/prod/db",
                "remote_addr": remote, "at": pd.Timestamp(at, tz="UTC")}

    q3 = pd.DataFrame([sig("2026-09-02", "10.0.0.1"), sig("2026-09-01", "10.0.0.2")])
    q4 = pd.DataFrame([sig("2026-12-05", "10.9.9.9")])
    assert list(event_ids(q3)) == ["core:volume_spike:svc:secret/data/prod/db#1",
                                   "core:volume_spike:svc:secret/data/prod/db"]  # numbered in time order
    assert list(event_ids(q4)) == ["core:volume_spike:svc:secret/data/prod/db"]

    def finding(res: str, status: str, at: str | None) -> dict:
        return {(("AUD002", res)): {"check_id": "AUD002", "resource": res, "status": status, "title": "t",
                                    "severity": "medium", "environment": "prod", "owner": None,
                                    "evidence": {"signal": "volume_spike", "at": at}}}

    key = "core:volume_spike:svc:secret/data/prod/db"
    before = {**finding(key, "fail", "2026-09-01"), **finding(key + "#1", "fail", "2026-09-02"),
              **finding("audit:core", "fail", None)}
    after = {**finding(key, "fail", "2026-12-05")}
    d = diff_findings(before, after)
    assert [r["resource"] for r in d["still_open"]] == [key]  # it recurred: still open, not new
    assert [r["resource"] for r in d["not_recurred"]] == [key + "#1"]  # not seen again is not a fix
    assert [r["resource"] for r in d["resolved"]] == ["audit:core"] and d["new"] == []


def test_justifications_come_from_the_engagement():
    from checks.views import justifications

    grants = pd.DataFrame({"policy": ["payments-read", "payments-read", "ci"],
                           "principal": ["svc", "alice", "runner"],
                           "path": ["secret/data/prod/payments/*", "secret/data/prod/payments/*", "secret/*"]})
    rules = [AccessJustification(principal="alice", justification="on call"),
             AccessJustification(policy="payments-*", justification="reads its own credentials")]
    assert list(justifications(grants, rules)) == ["reads its own credentials", "on call", None]


def test_leak_card_numbers_its_steps_once_and_names_the_gaps():
    card = LeakCard(id="vault:core:secret/prod/db", name=HOSTILE_SCRIPT, store="core", source="vault",
                    path="secret/prod/db", environment="prod", secret_type="db-password",
                    data_class="regulated", lifecycle_class="static-long-lived", owner=None, pager=None,
                    revoke_first="bao kv put", principals_can_read=["a"], principals_did_read=[],
                    tokens_to_revoke=[], target_minutes=15.0,
                    steps=["1. Identify scope: vault:core:secret/prod/db.", "2. Revoke immediately: `bao kv put`.",
                           "3. Invalidate tokens: revoke 0.", "4. Audit blast radius: query.",
                           "5. Notify: page nobody.", "6. Post-mortem: root cause."])
    scope, steps = card_steps(card)
    assert scope == "vault:core:secret/prod/db"
    assert [t for t, _ in steps] == ["Revoke immediately", "Invalidate tokens", "Audit blast radius", "Notify",
                                     "Post-mortem"]
    html = leak_card_html(card)
    assert "NO OWNER" in html and "NOBODY IS PAGED" in html and "<code>bao kv put</code>" in html
    assert "<script>" not in html and "1. " not in html
    assert html.index("Revoke immediately") < html.index("NO OWNER") < html.index("Can read")


def test_downloads_carry_the_snapshot(published_ws, tmp_path):
    from posture.site import export_site

    site = export_site(published_ws, tmp_path / "site") / Q4
    snap = published_ws.snapshot_dir(Q4)
    for p in snap.iterdir():
        if p.is_file():
            assert (site / "downloads" / "snapshot" / p.name).read_bytes() == p.read_bytes(), p.name
    page = (site / "downloads" / "index.html").read_text()
    assert 'href="../downloads/snapshot/manifest.json"' in page
    manifest = json.loads((site / "evidence-manifest.json").read_text())
    assert "snapshot/manifest.json" in manifest["artefacts"]


def test_hints_name_a_posture_that_runs_as_printed(monkeypatch, tmp_path):
    from posture.invocation import command

    script = tmp_path / "venv" / "bin" / "posture"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert command() == str(script.resolve())  # not on PATH: the full path
    monkeypatch.setenv("PATH", str(script.parent))
    script.chmod(0o755)
    assert command() == "posture"  # activated: the plain name


@pytest.mark.parametrize("quarter", [Q3, Q4])
def test_site_links_resolve(published_ws, tmp_path, quarter):
    """Every link a page builds to another page of the quarter lands on a page that exists."""
    from posture.site import export_site

    site = export_site(published_ws, tmp_path / "site") / quarter
    broken = []
    for page in site.rglob("index.html"):
        if "search" in page.parts:
            continue
        for href in re.findall(r'href="((?:\.\./|[a-z0-9-]+/)[^"#?]*)"', page.read_text()):
            target = (page.parent / href).resolve()
            if href.endswith("/") and str(target).startswith(str(site.resolve())) and \
                    not (target / "index.html").exists():
                broken.append(f"{page.relative_to(site)} -> {href}")
    assert broken == []
