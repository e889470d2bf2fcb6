"""``posture report``: one quarter as a document for the auditor's file (PDF and/or HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posture.cli import ClientArg, app, out
from posture.workspace import Workspace


@app.command()
def report(
    client: ClientArg,
    quarter: Annotated[str, typer.Argument(help="The quarter to report on (YYYY-QN).")],
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Write the report as PDF here (printed by the system Chromium).")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the same report as one self-contained HTML file here.")
    ] = None,
) -> None:
    """Write the quarter's printable report: one file for the auditor.

    A cover with the client, quarter, grade, the evidence manifest hashes and
    the signing-key fingerprint; the overview (grade, per-item and per-stage
    scores with coverage); the fix-first list; the findings by checklist item
    with their SOC 2, ISO 27001:2022, PCI DSS v4 and NIST 800-53 mappings; one
    leak-response card per page; the coverage gaps; waivers and attestations.

    A published quarter is verified first (as 'posture verify' does) and the
    cover names its signed manifest; an unpublished one says "not yet
    published/signed". --pdf needs Chromium (on PATH, or $POSTURE_CHROMIUM);
    --html writes the same document with its styles inlined, loading nothing
    from anywhere. Files are written whole or not at all.

    Example: posture report acme 2026-Q4 --pdf acme-2026-Q4.pdf --html acme-2026-Q4.html
    """
    from posture.site.printable import write_report

    ws = Workspace.resolve(client)
    result = write_report(ws, quarter, pdf=pdf, html=html)
    signed = ("signed manifest " + result.provenance.site_manifest_sha256[:16] + "…"
              if result.provenance.site_manifest_sha256 else "not yet published/signed")
    for path in (result.pdf, result.html):
        if path is not None:
            out.print(f"wrote {path} ({result.leak_cards} leak card(s); {signed})", markup=False,
                      highlight=False, soft_wrap=True)
