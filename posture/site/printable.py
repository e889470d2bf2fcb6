"""The printable report: one quarter as one document for the auditor's file (HTML, and PDF).

`posture report CLIENT QUARTER --pdf FILE` prints what the site shows into a
single file an auditor keeps: a cover naming the evidence it stands on (the
signed site manifest once the quarter is published and verifies, else the
assessment and snapshot manifests), the overview, the fix-first list, the
findings by checklist item with their control mappings, one leak-response
card per page, the coverage gaps, and the waivers and attestations.

The sections are the site's own fragments (`posture.site.pages`: score
cards, the ranked fix-first table, the findings tables, the leak card, the
control mappings) over the typed assessment, so the report and the site
cannot disagree; links to a check's page become links to its block further
on, and lists the site folds away are printed in full. The HTML is one file:
the site's stylesheet and the paper layout (``site/assets/print.css``) are
inlined and its Content-Security-Policy allows no request, so it reads the
same offline, from a mail attachment or from an archive years later. Every
value from the client's estate is escaped by those fragments, so a secret
named ``<script>`` prints as text. The PDF is that file printed by the system
Chromium (found on PATH or at ``$POSTURE_CHROMIUM``); both files are written
atomically.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from posture import assets
from posture.model.assessment import CatalogEntry
from posture.model.errors import ConfigError, IntegrityError, PostureError
from posture.model.fsutil import atomic_write_bytes, atomic_write_text, sha256_file
from posture.model.vocabulary import CHECKLIST, GAP_REASONS, STAGES
from posture.report import Assessment, esc, exit_answer, html_table
from posture.report.format import gap, markdown_html, number, percent, when
from posture.site import signing
from posture.site.branch import local_log, published_quarters, read_site
from posture.site.pages.checks import controls_html
from posture.site.pages.common import (
    counts_line,
    findings_table,
    severity_badge,
    slug,
    sorted_findings,
)
from posture.site.pages.fixfirst import RANK_RULE, fix_first_table, ranked_failures
from posture.site.pages.leakcards import leak_card_html
from posture.site.pages.overview import (
    coverage_cap_sentence,
    score_card,
    score_cards,
    trend_rows,
    trend_svg,
)
from posture.site.verify import chain_problems, verify
from posture.workspace import Workspace, parse_quarter

LEAK_CARD_HEADING = "Leak-response card"
#: The report's parts in order: anchor -> title.
CONTENTS = {"overview": "Overview", "fix-first": "Fix first", "findings": "Findings by checklist item",
            "leak-cards": "Leak-response cards", "coverage-gaps": "Coverage gaps",
            "waivers": "Waivers and attestations"}
PRINT_TIMEOUT_SECONDS = 180
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-pdf-header-footer")
# No request of any kind: the stylesheets are inline and there is no script or remote image.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
GAP_COLUMNS = ["store", "source", "operation", "scope", "reason", "tables", "dependent_checks"]
#: The site fragments link a check's page; in the report that is the check's block further on.
_CHECK_LINK = re.compile(r'href="(?:\.\./)*checks/([A-Za-z0-9_.-]+)/"')
#: Lists the site folds away ("+3 more"); on paper every item is printed.
_FOLDED = re.compile(r'<details class="(posture-[a-z]+)"')


@dataclass(frozen=True)
class Provenance:
    """What the cover says the report stands on, and how far that was checked."""

    assessment_manifest_sha256: str
    snapshot_manifest_sha256: str
    site_manifest_sha256: str | None  # the signed manifest, once published and verified
    published_at: str | None
    signing_key: str | None  # fingerprint of the engagement's Ed25519 key, if it has one


def provenance(ws: Workspace, quarter: str) -> Provenance:
    """The evidence behind the report, checked first: a broken chain or a tampered site is refused.

    A published quarter must pass `posture verify` (its signature, pages and
    evidence), so the cover never names a signed manifest the evidence no
    longer matches; an unpublished one must at least tie its assessment to
    the current snapshot.
    """
    problems = chain_problems(ws, quarter)
    if problems:
        raise IntegrityError(f"{ws.client} {quarter}: {problems[0]}")
    hashes = {"assessment_manifest_sha256": sha256_file(ws.assessment_dir(quarter) / "manifest.json"),
              "snapshot_manifest_sha256": sha256_file(ws.snapshot_dir(quarter) / "manifest.json")}
    logged = {e.get("quarter") for e in local_log(ws)}
    if quarter in published_quarters(ws) or quarter in logged:
        result = verify(ws, quarter)[0]
        entry = read_site(ws).last_entry(quarter) or {}
        return Provenance(**hashes, site_manifest_sha256=entry.get("new_manifest_sha256"),
                          published_at=entry.get("time"), signing_key=result.signing_key)
    key = signing.key_fingerprint(signing.trusted_public_key(ws)) if signing.has_key(ws) else None
    return Provenance(**hashes, site_manifest_sha256=None, published_at=None, signing_key=key)


# --- sections: the site's fragments (posture.site.pages), laid out for paper ---------------


def _signed(prov: Provenance) -> str:
    if prov.site_manifest_sha256:
        return (f"<dt>Signed site manifest (SHA-256)</dt><dd><code>{esc(prov.site_manifest_sha256)}"
                f"</code><br>published {esc(when(prov.published_at))}; signature, pages and evidence "
                "verified when this report was printed</dd>")
    return f"<dt>Site manifest</dt><dd>{gap('not yet published/signed')}</dd>"


def cover(a: Assessment, prov: Provenance, generated_at: datetime) -> str:
    """Who, when, what grade, and the hashes and key that tie this document to the evidence."""
    o = a.scores.overall
    key = f"<code>{esc(prov.signing_key)}</code>" if prov.signing_key else gap("not yet published/signed")
    if prov.signing_key and not prov.site_manifest_sha256:
        key += " (the engagement's key; this quarter is not yet published/signed with it)"
    contents = "".join(f'<li><a href="#{anchor}">{title}</a></li>' for anchor, title in CONTENTS.items())
    score = "N/A" if o.score is None else number(o.score)
    return f"""<section class="cover">
<p class="kicker">Secrets posture report</p>
<h1>{esc(a.client)}: {esc(a.quarter)}</h1>
<div class="grade-block"><span class="grade">{esc(o.grade)}</span>
<span class="grade-text">overall score <strong>{esc(score)}</strong>/100 with {esc(percent(o.coverage))}
of results assessed<br>{o.fail} failing, {o.not_assessed} not assessed, {o.waived} waived,
{o.passed} passing</span></div>
<dl>
<dt>Client</dt><dd>{esc(a.client)}</dd>
<dt>Quarter</dt><dd>{esc(a.quarter)} (data as of {esc(a.as_of)})</dd>
<dt>Grade</dt><dd>{esc(o.grade)}</dd>
{_signed(prov)}
<dt>Assessment manifest (SHA-256)</dt><dd><code>{esc(prov.assessment_manifest_sha256)}</code></dd>
<dt>Snapshot manifest (SHA-256)</dt><dd><code>{esc(prov.snapshot_manifest_sha256)}</code></dd>
<dt>Signing key (Ed25519)</dt><dd>{key}</dd>
<dt>Printed</dt><dd>{esc(when(generated_at))} by the Secrets Posture Kit</dd>
</dl>
<nav class="contents" aria-label="Contents"><strong>Contents</strong><ol>{contents}</ol></nav>
</section>"""


def overview(a: Assessment, trend: pd.DataFrame) -> str:
    s = a.scores
    exits = "".join(exit_answer(a, stage).html() for stage in STAGES)
    return f"""<section class="report-part" id="overview">
<h2>Overview</h2>
<div class="posture-cards">{score_card("Overall", s.overall)}</div>
<p>{esc(coverage_cap_sentence(a.thresholds))}</p>
<h3>Per checklist item</h3>{score_cards(s.by_checklist_item)}
<h3>Per review stage</h3>{score_cards(s.by_stage)}
<h3>Trend across published quarters</h3>{trend_svg(trend) or '<p>First quarter.</p>'}
<h3>Exit questions of the review</h3>{exits}
</section>"""


def fix_first_section(a: Assessment) -> str:
    ranked = ranked_failures(a)
    # the whole list, without the site's filter controls (they come with an unlimited table)
    table = fix_first_table(ranked, table_id="t-fix-first", limit=len(ranked)) if len(ranked) else (
        "<p>No failing finding.</p>")
    return (f'<section class="report-part" id="fix-first"><h2>Fix first</h2><p>{len(ranked)} failing '
            f"finding(s), in the order to fix them. {esc(RANK_RULE)}</p>{table}</section>")


def _check_block(a: Assessment, entry: CatalogEntry) -> str:
    """A check that judged something: what it detects, its controls, every result but the passes."""
    f = a.findings[a.findings["check_id"] == entry.id]
    shown = sorted_findings(f[f["status"] != "pass"])
    results = (findings_table(shown, table_id=f"t-{slug(entry.id)}", facets=False,
                              columns=("status", "resource", "environment", "owner", "evidence"))
               if len(shown) else "")
    passes = " (the passing resources are listed in findings.csv)" if (f["status"] == "pass").any() else ""
    return (f'<div class="check" id="check-{slug(entry.id)}"><h4><code>{esc(entry.id)}</code> '
            f"{esc(entry.title)} {severity_badge(entry.severity)}</h4>"
            f'<div class="controls">{controls_html(entry.controls)}</div>{markdown_html(entry.detects)}'
            f"<p><strong>This quarter:</strong> {esc(counts_line(f))}{passes}</p>{results}</div>")


def findings_by_item(a: Assessment) -> str:
    parts = [('<section class="report-part" id="findings"><h2>Findings by checklist item</h2>'
              "<p>Each check of the catalog under the checklist item it evidences, with its SOC 2, "
              "ISO 27001:2022, PCI DSS v4 and NIST 800-53 mappings and every result that is not a "
              "pass.</p>")]
    scores = {r.key: r for r in a.scores.by_checklist_item}
    judged = set(a.findings["check_id"])
    for item, text in CHECKLIST.items():
        s = scores.get(item)
        graded = (f" (grade {esc(s.grade)}, score {esc('N/A' if s.score is None else number(s.score))}, "
                  f"{esc(percent(s.coverage))} assessed)") if s else ""
        parts.append(f"<h3>Item {item}: {esc(text)}{graded}</h3>")
        entries = [e for e in a.catalog if e.checklist_item == item]
        parts += [_check_block(a, e) for e in entries if e.id in judged]
        idle = [e for e in entries if e.id not in judged]
        if idle:  # nothing of their kind in the snapshot: listed, not left out
            rows = pd.DataFrame({
                "check": [f'<span id="check-{slug(e.id)}"><code>{esc(e.id)}</code> {esc(e.title)}</span>'
                          for e in idle],
                "severity": [severity_badge(e.severity) for e in idle],
                "controls": [controls_html(e.controls) for e in idle]})
            parts.append(f"<h4>Checks with no result this quarter ({len(idle)})</h4>"
                         "<p>Nothing of the kind they judge was in the snapshot.</p>"
                         + html_table(rows, raw_columns=tuple(rows.columns)))
        if not entries:
            parts.append("<p>No check.</p>")
    return "".join(parts) + "</section>"


def leak_cards(a: Assessment) -> str:
    """The site's cards, each on a page of its own under a numbered heading."""
    cards = a.rows("leak_cards")
    head = ('<section class="report-part" id="leak-cards"><h2>Leak-response cards</h2>'
            f"<p>{len(cards)} critical secret(s): each card follows on its own page, to keep by the "
            "on-call desk. The steps come first; a missing owner or pager is a red gap.</p>"
            f"{exit_answer(a, 5).html()}</section>")
    return head + "".join(
        f'<section class="report-card"><h2 class="card-no">{LEAK_CARD_HEADING} {n} of {len(cards)}</h2>'
        f"{leak_card_html(card)}</section>" for n, card in enumerate(cards, 1))


def coverage_gaps(a: Assessment) -> str:
    gaps = a.list("coverage_gaps")
    lead = (f'<div class="callout">{len(gaps)} part(s) of the estate could not be read. Every check '
            "that depends on them is <strong>not assessed</strong>: unknown is never a pass.</div>"
            if len(gaps) else "<p>Every read of the snapshot succeeded.</p>")
    reasons = "".join(f"<dt>{esc(r)}</dt><dd>{esc(GAP_REASONS[r])}</dd>"
                      for r in sorted(set(gaps["reason"])) if r in GAP_REASONS)
    table = html_table(gaps[GAP_COLUMNS]) if len(gaps) else ""
    return (f'<section class="report-part" id="coverage-gaps"><h2>Coverage gaps</h2>{lead}{table}'
            f'{f"<dl class=reasons>{reasons}</dl>" if reasons else ""}</section>')


def waivers_and_attestations(a: Assessment) -> str:
    def table(view: str) -> str:
        df = a.list(view)
        return html_table(df) if len(df) else "<p>None.</p>"

    return ('<section class="report-part" id="waivers"><h2>Waivers and attestations</h2>'
            "<h3>Waivers</h3><p>Accepted risks with their approver and expiry; an expired waiver no "
            f"longer applies.</p>{table('waivers')}"
            "<h3>Attestations</h3><p>Manual evidence for what no API shows; a missing one leaves its "
            f"check not assessed.</p>{table('attestations')}</section>")


def stylesheets() -> str:
    """The site's styles (for its fragments) and the paper layout over them."""
    folder = assets.site_dir() / "assets"
    return "\n".join((folder / name).read_text(encoding="utf-8") for name in ("posture.css", "print.css"))


def report_html(a: Assessment, prov: Provenance, trend: pd.DataFrame | None = None,
                generated_at: datetime | None = None) -> str:
    """The whole report as one self-contained HTML document."""
    generated_at = generated_at or datetime.now(UTC)
    trend = trend if trend is not None else pd.DataFrame()
    body = "\n".join([cover(a, prov, generated_at), overview(a, trend), fix_first_section(a),
                      findings_by_item(a), leak_cards(a), coverage_gaps(a), waivers_and_attestations(a)])
    body = _FOLDED.sub(r'<details open class="\1"', _CHECK_LINK.sub(r'href="#check-\1"', body))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(a.client)} {esc(a.quarter)}: secrets posture report</title>
<style>{stylesheets()}</style></head>
<body><main>
{body}
</main></body></html>
"""


# --- printing --------------------------------------------------------------------------


def chromium() -> str:
    """The Chromium to print with: ``$POSTURE_CHROMIUM`` if set, else ``chromium`` on PATH."""
    exe = os.environ.get("POSTURE_CHROMIUM") or shutil.which("chromium")
    if not exe or not os.access(exe, os.X_OK) or not Path(exe).is_file():
        where = f" at {exe}" if exe else " on PATH"
        raise PostureError(f"Chromium is needed to print the PDF and was not found{where}: install "
                           "the chromium package or set POSTURE_CHROMIUM (--html FILE needs no browser)")
    return exe


def print_pdf(html: str, dest: Path) -> None:
    """Print ``html`` to ``dest`` with headless Chromium; ``dest`` appears whole or not at all."""
    exe = chromium()
    with tempfile.TemporaryDirectory(prefix="posture-report-") as tmp:
        src, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html, encoding="utf-8")
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={pdf}", src.as_uri()]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=PRINT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its renderer and GPU helpers too
            proc.communicate()
            raise PostureError(f"Chromium did not finish printing within {PRINT_TIMEOUT_SECONDS} s") from None
        data = pdf.read_bytes() if pdf.is_file() else b""
        if proc.returncode != 0 or not data.startswith(b"%PDF-"):
            lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
            raise PostureError(f"Chromium could not print the report (exit {proc.returncode}): "
                               f"{lines[-1][:300] if lines else 'no output'}")
        atomic_write_bytes(dest, data)


@dataclass(frozen=True)
class ReportResult:
    pdf: Path | None
    html: Path | None
    provenance: Provenance
    leak_cards: int


def write_report(ws: Workspace, quarter: str, *, pdf: Path | None = None,
                 html: Path | None = None) -> ReportResult:
    """Check the evidence, render the report once, and write the files asked for."""
    if pdf is None and html is None:
        raise ConfigError("say where to write the report: --pdf FILE and/or --html FILE")
    for dest in (pdf, html):
        if dest is not None and dest.is_dir():
            raise ConfigError(f"{dest}: is a folder; give a file name")
    quarter = parse_quarter(quarter)
    if pdf is not None:
        chromium()  # refuse before any work when the PDF cannot be printed
    if not (ws.assessment_dir(quarter) / "findings.json").exists():
        raise PostureError(f"{ws.assessment_dir(quarter)}: no assessment (run 'posture assess "
                           f"{ws.client} --quarter {quarter}')")
    prov = provenance(ws, quarter)  # the evidence is intact before anything is read from it
    a = Assessment.load(ws.assessment_dir(quarter))
    text = report_html(a, prov, trend_rows(ws, quarter, published_quarters(ws)))
    if pdf is not None:
        print_pdf(text, pdf)
    if html is not None:
        atomic_write_text(html, text)
    return ReportResult(pdf, html, prov, len(a.rows("leak_cards")))
