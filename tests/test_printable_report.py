"""`posture report CLIENT QUARTER --pdf/--html`: the auditor's document, printed by the real Chromium.

On the published two-quarter workspace of `sitekit`: the PDF's first page is
the cover (client, quarter, grade, the signed manifest and the key that signed
it), each leak card has a page of its own, hostile names print as text, the
HTML loads nothing from anywhere, no canary reaches either file, and a missing
or failing Chromium is one line, exit 1, and no file. Page text comes from
``pdftotext`` (poppler-utils) or, failing that, pypdf.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CANARIES
from sitekit import (  # noqa: F401  (published_ws is a fixture)
    HOSTILE_LINK,
    HOSTILE_SCRIPT,
    assess,
    build_snapshot,
    copy_workspace,
    make_workspace,
    published_ws,
)

from posture.cli import main
from posture.model.fsutil import sha256_file
from posture.site import read_publish_log
from posture.site.printable import LEAK_CARD_HEADING

Q4 = "2026-Q4"
CHROMIUM = shutil.which("chromium")


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page, by pdftotext (poppler-utils) or pypdf."""
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                              capture_output=True).stdout.decode("utf-8")
        return text.split("\f")[:-1]  # a form feed ends every page
    if importlib.util.find_spec("pypdf"):
        from pypdf import PdfReader

        return [p.extract_text() or "" for p in PdfReader(str(pdf)).pages]
    pytest.skip("reading PDF text needs pdftotext (apt-get install poppler-utils) or pypdf")


def page_objects(pdf: Path) -> int:
    """Pages counted from the file itself (``/Type /Page`` objects), whatever reads the text."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


#: The first line of a leak card's page ("Leak-response card 2 of 3").
CARD_PAGE = re.compile(rf"{re.escape(LEAK_CARD_HEADING)} \d+ of \d+\n")


def squash(text: str) -> str:
    """Text without whitespace: long hashes and names wrap across lines in print."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def report(published_ws, tmp_path_factory):
    """The latest quarter's PDF and HTML, written by the CLI as a user runs it."""
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (CI installs it)")
    out = tmp_path_factory.mktemp("report")
    pdf, html = out / "acme.pdf", out / "acme.html"
    mp = pytest.MonkeyPatch()
    mp.setenv("POSTURE_HOME", str(published_ws.root))
    mp.delenv("POSTURE_CHROMIUM", raising=False)
    try:
        assert main(["report", "acme", Q4, "--pdf", str(pdf), "--html", str(html)]) == 0
    finally:
        mp.undo()
    return pdf, html


def _cards(ws) -> list[dict]:
    return json.loads((ws.assessment_dir(Q4) / "leak_cards.json").read_text())


@pytest.mark.chromium
def test_the_first_page_is_the_cover(report, published_ws):
    pdf, _ = report
    pages = pdf_pages(pdf)
    assert len(pages) == page_objects(pdf)
    cover = squash(pages[0])
    scores = json.loads((published_ws.assessment_dir(Q4) / "scores.json").read_text())
    entry = [e for e in read_publish_log(published_ws) if e["quarter"] == Q4][-1]
    assert "acme:2026-Q4" in cover and "SECRETSPOSTUREREPORT" in cover.upper()
    assert f"Grade{scores['overall']['grade']}" in cover
    assert entry["new_manifest_sha256"] in cover  # the signed manifest of the site
    assert entry["signing_key"] in cover  # and the fingerprint of the key that signed it
    assert "notyetpublished" not in cover and not CARD_PAGE.match(pages[0].lstrip())
    assert pages[1].lstrip().startswith("Overview")  # the cover has its page to itself


@pytest.mark.chromium
def test_one_page_per_leak_card(report, published_ws):
    pdf, _ = report
    pages = pdf_pages(pdf)
    cards = _cards(published_ws)
    assert cards, "the sitekit estate has critical secrets"
    card_pages = [p for p in pages if CARD_PAGE.match(p.lstrip())]
    assert len(card_pages) == len(cards)
    for n, (page, card) in enumerate(zip(card_pages, cards), 1):
        assert page.lstrip().startswith(f"{LEAK_CARD_HEADING} {n} of {len(cards)}")
        assert squash(card["id"]) in squash(page)
        flat = squash(page)
        # each step's text (its number and title are the card's own layout)
        steps = [squash(re.sub(r"^\s*\d+[.)]\s*", "", step).split(":", 1)[-1])[:30] for step in card["steps"]]
        assert all(step in flat for step in steps), (steps, flat)
        # the steps come first, then the owner and pager labels (CSS-uppercased)
        assert max(flat.index(step) for step in steps) < flat.index("OWNER") < flat.index("PAGED")
        for named in (card["owner"], card["pager"]):
            assert named is None or squash(named) in flat
    # every other part is there, in order
    starts = [p.lstrip().split("\n", 1)[0] for p in pages]
    for title in ("Overview", "Fix first", "Findings by checklist item", "Leak-response cards",
                  "Coverage gaps", "Waivers and attestations"):
        assert title in starts, title
    assert starts.index("Overview") < starts.index("Fix first") < starts.index("Coverage gaps")


@pytest.mark.chromium
def test_hostile_names_print_as_text_and_nothing_is_loaded(report):
    pdf, html = report
    text = html.read_text(encoding="utf-8")
    assert HOSTILE_SCRIPT not in text and "<script" not in text.lower()
    assert squash(HOSTILE_SCRIPT) in squash("".join(pdf_pages(pdf)))
    assert squash(HOSTILE_LINK) in squash("".join(pdf_pages(pdf)))

    class Links(HTMLParser):
        def __init__(self):
            super().__init__()
            self.urls: list[tuple[str, str, str]] = []

            self.ids: set[str] = set()

        def handle_starttag(self, tag, attrs):
            self.urls += [(tag, k, v or "") for k, v in attrs
                          if k in ("src", "href", "srcset", "action", "poster", "data", "formaction")]
            self.ids |= {v for k, v in attrs if k == "id" and v}

    links = Links()
    links.feed(text)
    # every link is an anchor inside the document, and leads somewhere; nothing is fetched
    assert links.urls and all(k == "href" and v.startswith("#") for _, k, v in links.urls), links.urls
    assert {v[1:] for _, _, v in links.urls} <= links.ids
    assert not re.search(r"url\(\s*['\"]?(?!data:)", text) and "@import" not in text
    assert "<link" not in text.lower() and "<img" not in text.lower()
    assert "default-src 'none'" in text


@pytest.mark.chromium
def test_no_canary_in_the_report(report):
    pdf, html = report
    written = html.read_text(encoding="utf-8") + "".join(pdf_pages(pdf))  # PDF streams are compressed
    for canary in CANARIES:
        assert canary not in written


def _chromium_failure(tmp_path, monkeypatch, capsys, ws, chromium: str) -> str:
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    monkeypatch.setenv("POSTURE_CHROMIUM", chromium)
    pdf, html = tmp_path / "out" / "r.pdf", tmp_path / "out" / "r.html"
    assert main(["report", "acme", Q4, "--pdf", str(pdf), "--html", str(html)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not pdf.exists() and not html.exists()
    return err


def test_without_chromium_one_line_exit_1_no_file(published_ws, tmp_path, monkeypatch, capsys):
    err = _chromium_failure(tmp_path, monkeypatch, capsys, published_ws, str(tmp_path / "no-chromium"))
    assert "Chromium" in err and "POSTURE_CHROMIUM" in err
    monkeypatch.delenv("POSTURE_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing named chromium on PATH
    pdf = tmp_path / "r.pdf"
    assert main(["report", "acme", Q4, "--pdf", str(pdf)]) == 1
    err = capsys.readouterr().err
    assert "Chromium" in err and "on PATH" in err and len(err.strip().splitlines()) == 1
    assert not pdf.exists()


def test_a_failing_print_leaves_the_old_file_whole(published_ws, tmp_path, monkeypatch, capsys):
    """Chromium that exits non-zero (here /bin/false) writes nothing over the previous report."""
    monkeypatch.setenv("POSTURE_HOME", str(published_ws.root))
    monkeypatch.setenv("POSTURE_CHROMIUM", shutil.which("false"))
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(b"%PDF-1.4 the previous report")
    assert main(["report", "acme", Q4, "--pdf", str(pdf)]) == 1
    err = capsys.readouterr().err
    assert "could not print" in err and len(err.strip().splitlines()) == 1
    assert pdf.read_bytes() == b"%PDF-1.4 the previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]  # no temporary left beside it


def test_html_needs_no_browser_and_says_when_unpublished(published_ws, tmp_path, monkeypatch, capsys):
    """A quarter assessed but not published: no signed manifest, the engagement's key named as such."""
    ws = copy_workspace(published_ws, tmp_path / "ws")
    build_snapshot(ws, "2027-Q1", fixed=True)
    adir = assess(ws, "2027-Q1")
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    monkeypatch.setenv("POSTURE_CHROMIUM", str(tmp_path / "no-chromium"))
    html = tmp_path / "q1.html"
    assert main(["report", "acme", "2027-Q1", "--html", str(html)]) == 0
    assert "not yet published/signed" in capsys.readouterr().out
    text = html.read_text(encoding="utf-8")
    assert sha256_file(adir / "manifest.json") in text
    assert "not yet published/signed" in text
    fingerprint = read_publish_log(ws)[-1]["signing_key"]
    assert fingerprint in text and "this quarter is not yet published/signed" in text


def test_never_published_has_no_key(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path / "fresh")
    build_snapshot(ws, Q4)
    assess(ws, Q4)
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    html = tmp_path / "r.html"
    assert main(["report", "acme", Q4, "--html", str(html)]) == 0
    text = html.read_text(encoding="utf-8")
    key = re.search(r"<dt>Signing key \(Ed25519\)</dt><dd>(.*?)</dd>", text, re.DOTALL).group(1)
    assert "not yet published/signed" in key and "sha256:" not in key
    assert '<span class="posture-gap">no owner</span>' in text  # sitekit has an unowned prod secret
    assert 'class="posture-missing"' in text  # ...and its leak card shows the gap in red, in words


def test_tampered_evidence_is_refused(published_ws, tmp_path, monkeypatch, capsys):
    ws = copy_workspace(published_ws, tmp_path / "ws")
    findings = ws.assessment_dir(Q4) / "findings.json"
    findings.write_text(findings.read_text().replace('"status": "fail"', '"status": "pass"', 1))
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    html = tmp_path / "r.html"
    assert main(["report", "acme", Q4, "--html", str(html)]) == 5
    err = capsys.readouterr().err
    assert "findings.json" in err and len(err.strip().splitlines()) == 1
    assert not html.exists()


def test_without_an_output_it_says_what_to_give(published_ws, monkeypatch, capsys):
    monkeypatch.setenv("POSTURE_HOME", str(published_ws.root))
    assert main(["report", "acme", Q4]) == 2
    assert "--pdf FILE" in capsys.readouterr().err


def test_an_unassessed_quarter_is_one_line(published_ws, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POSTURE_HOME", str(published_ws.root))
    html = tmp_path / "r.html"
    assert main(["report", "acme", "2030-Q1", "--html", str(html)]) == 1
    err = capsys.readouterr().err
    assert "no assessment" in err and "posture assess" in err and len(err.strip().splitlines()) == 1
    assert not html.exists()
