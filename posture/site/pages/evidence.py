"""Downloads and the evidence manifest: every artefact behind a quarter, hashed, and how to check it.

The downloads carry the snapshot files too, so an auditor can re-run the
checks or re-hash the evidence without access to the consultant's machine.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from posture.model.fsutil import sha256_file
from posture.report import esc, html_table
from posture.site.pages.common import filter_box
from posture.workspace import Workspace

DOWNLOADS = (
    "findings.json",
    "findings.csv",
    "findings.sarif",
    "oscal-assessment-results.json",
    "scores.json",
    "catalog.json",
    "inventory.json",
)
#: Where the snapshot's files go under downloads/ (one JSON Lines file per table + manifest.json).
SNAPSHOT_DOWNLOADS = "snapshot"


@dataclass(frozen=True)
class SigningKeyInfo:
    """The engagement's public signing key as the evidence page shows it (the private key never is)."""

    pem: str
    fingerprint: str


def copy_downloads(ws: Workspace, quarter: str, notebooks: list[Path], dest: Path) -> list[Path]:
    """The exports, the executed notebooks and the snapshot's files, copied under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copy2(nb, dest / nb.name)
    for name in DOWNLOADS:
        src = ws.assessment_dir(quarter) / name
        if src.exists():
            shutil.copy2(src, dest / name)
    snap = ws.snapshot_dir(quarter)
    if snap.exists():
        out = dest / SNAPSHOT_DOWNLOADS
        out.mkdir(exist_ok=True)
        for p in sorted(snap.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                shutil.copy2(p, out / p.name)
    return sorted(p for p in dest.rglob("*") if p.is_file())


def downloads_page(root: Path, files: list[Path]) -> str:
    rows = pd.DataFrame([
        {"file": f'<a href="../downloads/{esc(p.relative_to(root).as_posix())}">'
                 f"{esc(p.relative_to(root).as_posix())}</a>",
         "bytes": p.stat().st_size, "sha256": f"<code>{esc(sha256_file(p))}</code>"}
        for p in files])
    return "\n".join([
        "# Downloads", "", "Findings as CSV and JSON, SARIF for code scanners, the OSCAL "
        "assessment results, the executed notebooks, and the snapshot the checks read "
        "(one JSON Lines file per table, with its manifest; metadata only, never a secret value).", "",
        filter_box("t-downloads"),
        html_table(rows, table_id="t-downloads", css_class="posture-sortable", raw_columns=("file", "sha256")),
        ""])


def evidence_artefacts(ws: Workspace, quarter: str) -> dict[str, dict[str, Any]]:
    """SHA-256 and size of every evidence file of the quarter (snapshot, assessment, notebooks)."""
    out: dict[str, dict[str, Any]] = {}
    base = ws.quarter_dir(quarter)
    for sub in ("snapshot", "assessment", "notebooks"):
        d = base / sub
        if not d.exists():
            continue
        for p in sorted(d.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                out[str(p.relative_to(base))] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    return out


def write_manifest_json(dest: Path, client: str, quarter: str, artefacts: dict[str, dict[str, Any]]) -> None:
    (dest / "evidence-manifest.json").write_text(json.dumps(
        {"client": client, "quarter": quarter, "artefacts": artefacts}, indent=1,
        sort_keys=True), encoding="utf-8")


def signature_section(quarter: str, key: SigningKeyInfo) -> list[str]:
    """How anyone, without the private key, checks that this quarter is what was published."""
    return [
        "## Signature", "",
        f"The manifest of {esc(quarter)} (every hash above, every page and every entry point of "
        "the site) is signed with the engagement's Ed25519 key. Its public key, with SHA-256 "
        f"fingerprint <code id=\"posture-key-fingerprint\">{esc(key.fingerprint)}</code>, is "
        '<a href="../signing-key.pem">signing-key.pem</a>:', "",
        f'<pre id="posture-public-key">{esc(key.pem.strip())}</pre>', "",
        "Compare the fingerprint with the one the consultant gave you, then check the "
        "signature; from the site's root folder: "
        f"<code>openssl pkey -pubin -in {esc(quarter)}/signing-key.pem -outform DER | sha256sum</code> "
        f"and <code>openssl pkeyutl -verify -pubin -inkey {esc(quarter)}/signing-key.pem -rawin "
        f"-in manifests/{esc(quarter)}.json -sigfile manifests/{esc(quarter)}.json.sig</code>.", ""]


def manifest_page(quarter: str, artefacts: dict[str, dict[str, Any]],
                  history: list[dict[str, Any]], signing_key: SigningKeyInfo | None = None) -> str:
    rows = pd.DataFrame([{"artefact": k, "bytes": v["bytes"], "sha256": f"<code>{esc(v['sha256'])}</code>"}
                         for k, v in sorted(artefacts.items())])
    hist = pd.DataFrame(history)
    return "\n".join([
        "# Evidence manifest", "",
        f"SHA-256 of every artefact behind quarter {esc(quarter)}: the snapshot, the assessment "
        "and the executed notebooks. `posture verify` re-hashes them, and the published pages, "
        "against the manifest recorded at publication. The same list is in "
        '<a href="../evidence-manifest.json">evidence-manifest.json</a>.', "",
        filter_box("t-manifest"),
        html_table(rows, table_id="t-manifest", css_class="posture-sortable", raw_columns=("sha256",))
        if len(rows) else "<p><em>No artefacts.</em></p>", "",
        *(signature_section(quarter, signing_key) if signing_key is not None else []),
        "## Publication history", "",
        "Every publication of this client's site, including forced republications.", "",
        html_table(hist, table_id="t-publish-log") if len(hist) else "<p><em>First publication.</em></p>",
        ""])
