"""`posture verify`: is what the site shows still what was published, and from what evidence?

Checked, every one a failure (exit 5) when it does not hold:

* the records agree: the branch exists if anything was published, and its
  publish log extends the local one (`posture.site.branch.record_conflicts`);
* each quarter's manifest is signed with the engagement's key and is the one
  the publish log names (a page edited together with its manifest, or an older
  signed manifest put back, both fail);
* the entry points: ``versions.json`` lists every published quarter with
  ``latest`` on the newest, ``latest/`` and the root redirect there, and every
  entry-point file is as the last publication recorded it;
* the pages, the evidence, and the chain between them: the snapshot matches its
  manifest, the assessment was made from that snapshot, and the pages were
  built from that assessment.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from posture.model.errors import IntegrityError, PostureError
from posture.model.fsutil import sha256_file
from posture.model.snapshot import Manifest
from posture.site import signing
from posture.site.branch import (
    ALIAS,
    BRANCH,
    BRANCH_LOG,
    MANIFESTS,
    SiteState,
    git,
    local_log,
    manifest_path,
    read_blob,
    read_site,
    record_conflicts,
    site_lock,
    tree_digests,
)
from posture.site.pages import evidence_artefacts
from posture.workspace import Workspace, parse_quarter

SITE = "site"  # the scope of problems that belong to no single quarter
# every target of mike's redirect page: <meta refresh url=...>, location.replace("..."), <a href="...">
_REDIRECT_TARGET = re.compile(r'url=([^"\s>]+)|location\.replace\(\s*"([^"]*)"|href="([^"]*)"')


@dataclass
class VerifyResult:
    quarter: str
    checked: int
    changes: list[str]
    signing_key: str = ""  # fingerprint of the key whose signature verified


def chain_problems(ws: Workspace, quarter: str) -> list[str]:
    """snapshot -> assessment: both match their manifests and the assessment names this snapshot.

    Collecting again after assessing replaces the snapshot; an assessment of
    the old one must then neither be published nor verify.
    """
    adir, sdir = ws.assessment_dir(quarter), ws.snapshot_dir(quarter)
    again = f"re-run 'posture assess {ws.client} --quarter {quarter}'"
    try:
        snap = Manifest.model_validate_json((sdir / "manifest.json").read_bytes())
        doc = json.loads((adir / "manifest.json").read_bytes())
    except FileNotFoundError as e:
        return [f"{e.filename} is missing, so the assessment cannot be tied to a snapshot"]
    except ValueError as e:
        return [f"unreadable manifest: {str(e).splitlines()[0][:200]}"]
    problems = [f"{sdir / name}: does not match the snapshot manifest"
                for name, entry in snap.files.items()
                if not (sdir / name).is_file() or sha256_file(sdir / name) != entry.sha256]
    files = doc.get("files") if isinstance(doc, dict) else None
    for name, entry in (files if isinstance(files, dict) else {}).items():
        p = adir / name
        if not p.is_file() or not isinstance(entry, dict) or sha256_file(p) != entry.get("sha256"):
            problems.append(f"{p}: does not match the assessment manifest; {again}")
    if not isinstance(doc, dict) or doc.get("snapshot_manifest_sha256") != sha256_file(sdir / "manifest.json"):
        problems.append(f"the assessment was made from another snapshot than {sdir} (collected again "
                        f"since?); {again}")
    return problems


def _signed_manifest(ws: Workspace, site: SiteState, quarter: str,
                     key: Ed25519PublicKey) -> tuple[dict[str, Any] | None, list[str]]:
    """The quarter's manifest from the branch if its signature and every record of its hash agree."""
    repo, head = ws.site_dir, site.head
    assert head is not None
    name = f"{MANIFESTS}/{quarter}.json"
    data, sig = read_blob(repo, head, name), read_blob(repo, head, f"{name}.sig")
    if data is None:
        return None, [f"no signed manifest {name} on the site (published outside posture, or an "
                      "interrupted publish: republish with --force)"]
    if sig is None or not signing.signature_valid(key, sig, data):
        return None, [f"{name}: the signature does not verify with the engagement's key "
                      f"{signing.key_fingerprint(key)}"]
    problems = []
    digest = hashlib.sha256(data).hexdigest()
    entry = site.last_entry(quarter)
    if entry is None or entry.get("new_manifest_sha256") != digest:
        problems.append(f"{name} is not the manifest the publish log records for {quarter}")
    local = manifest_path(ws, quarter)
    if local.is_file() and sha256_file(local) != digest:
        problems.append(f"{name} differs from the local copy {local}")
    record = json.loads(data)  # signed by us, so well-formed
    if record.get("client") != ws.client or record.get("quarter") != quarter:
        problems.append(f"{name} is the manifest of {record.get('client')} {record.get('quarter')}")
    if git(["merge-base", "--is-ancestor", str(record.get("commit")), head], repo,
           check=False).returncode != 0:
        problems.append(f"the published commit {str(record.get('commit'))[:12]} is no longer in the "
                        f"history of {BRANCH} (the branch was rewritten)")
    return record, problems


def _redirects(data: bytes | None) -> set[str]:
    text = (data or b"").decode("utf-8", "replace")
    return {next(g for g in m.groups() if g is not None) for m in _REDIRECT_TARGET.finditer(text)}


def _entry_point_problems(ws: Workspace, site: SiteState, quarters: list[str],
                          anchor: dict[str, Any] | None) -> list[str]:
    """versions.json, the root page and ``latest/``: what a reader opens first must lead to the newest quarter."""
    problems = []
    newest = max(quarters)
    if site.versions is not None:
        listed = [v.get("version") for v in site.versions]
        if missing := sorted(set(quarters) - set(listed)):
            problems.append(f"versions.json does not list {', '.join(missing)}")
        for v in site.versions:
            want = [ALIAS] if v.get("version") == newest else []
            if v.get("aliases") != want:
                problems.append(f"versions.json gives {v.get('version')} the aliases {v.get('aliases')}, "
                                f"not {want}")
    assert site.head is not None
    for path, target in ((f"{ALIAS}/index.html", f"../{newest}/"), ("index.html", f"{ALIAS}/")):
        found = _redirects(read_blob(ws.site_dir, site.head, path))
        if found != {target}:
            problems.append(f"{path} redirects to {', '.join(sorted(found)) or 'nothing'}, not {target}")
    expected = {BRANCH_LOG} | {f"{MANIFESTS}/{q}.json{sig}" for q in quarters for sig in ("", ".sig")}
    problems += [f"{n} is not a manifest of a published quarter"
                 for n in sorted(set(tree_digests(ws.site_dir, site.head, [MANIFESTS])) - expected)]
    if anchor is not None:  # the last publication recorded every entry point as it left them
        now = tree_digests(ws.site_dir, site.head, site.entry_points)
        recorded = anchor.get("root") or {}
        problems += [f"entry point {n} is missing" for n in sorted(set(recorded) - set(now))]
        problems += [f"entry point {n} changed" for n in sorted(recorded) if n in now and now[n] != recorded[n]]
        problems += [f"entry point {n} was added" for n in sorted(set(now) - set(recorded))]
    return problems


def _content_changes(ws: Workspace, site: SiteState, quarter: str, record: dict[str, Any]) -> list[str]:
    """Evidence and pages against the signed manifest, and pages -> assessment."""
    changes: list[str] = []
    evidence = record.get("evidence") or {}
    now = evidence_artefacts(ws, quarter)
    for name, entry in sorted(evidence.items()):
        if name not in now:
            changes.append(f"evidence {name} is missing")
        elif now[name]["sha256"] != entry["sha256"]:
            changes.append(f"evidence {name} changed")
    changes += [f"evidence {name} was added" for name in sorted(set(now) - set(evidence))]
    assert site.head is not None
    pages = tree_digests(ws.site_dir, site.head, [quarter])
    recorded = record.get("site") or {}
    for name, digest in sorted(recorded.items()):
        if name not in pages:
            changes.append(f"page {name} is missing")
        elif pages[name] != digest:
            changes.append(f"page {name} changed")
    changes += [f"page {name} was added" for name in sorted(set(pages) - set(recorded))]
    # the pages were built from this evidence: their manifest and downloads are its files
    shown = read_blob(ws.site_dir, site.head, f"{quarter}/evidence-manifest.json")
    try:
        listed = json.loads(shown or b"null")
    except ValueError:
        listed = None
    if not isinstance(listed, dict) or listed.get("artefacts") != evidence:
        changes.append(f"page {quarter}/evidence-manifest.json does not list the published evidence")
    for name, digest in sorted(recorded.items()):
        prefix, _, file = name.partition("/downloads/")
        source = next((evidence[k] for k in (f"assessment/{file}", f"notebooks/{file}") if k in evidence), None)
        if prefix == quarter and source is not None and source["sha256"] != digest:
            changes.append(f"page {name} is not the assessment's file")
    return changes


def verify(ws: Workspace, quarter: str | None = None) -> list[VerifyResult]:
    """Check the site, its signed manifests and its evidence (see the module doc).

    Raises `IntegrityError` (one line, listing the first problems) on any
    failure; `PostureError` if nothing was ever published; else one result per
    quarter checked.
    """
    quarter = parse_quarter(quarter) if quarter else None
    with site_lock(ws, exclusive=False) if ws.site_dir.exists() else nullcontext():
        site = read_site(ws)
        try:
            conflicts = site.problems + record_conflicts(ws, site)
        except PostureError as e:  # an unreadable local log
            conflicts = [str(e)]
        if site.head is None:
            if conflicts:
                raise IntegrityError(f"{ws.client}: {conflicts[0]}: the published evidence was deleted")
            if signing.has_key(ws):
                raise IntegrityError(f"{ws.client}: nothing is on the site, but the engagement has a "
                                     f"signing key (made by its first publish) in {ws.engagement_dir}: "
                                     "the published evidence was deleted")
            raise PostureError(f"{ws.client}: nothing is published yet (run 'posture publish')")
        quarters = site.quarters
        recorded = {e.get("quarter") for e in _readable_local_log(ws)}
        if quarter is not None and quarter not in quarters and quarter not in recorded:
            raise PostureError(f"{ws.client} {quarter} is not published")
        if not quarters:
            raise IntegrityError(f"{ws.client}: the site branch {BRANCH} holds no quarter"
                                 + (f" ({conflicts[0]})" if conflicts else ""))
        key = signing.trusted_public_key(ws)
        problems: list[tuple[str, str]] = [(SITE, c) for c in conflicts]
        targets = [quarter] if quarter else quarters
        last = site.last_entry()
        anchor_quarter = last.get("quarter") if last else None
        manifests: dict[str, dict[str, Any]] = {}
        anchor = None  # the last publication's manifest, if it is exactly the one logged
        for q in sorted(set(targets) | ({anchor_quarter} & set(quarters))):
            record, errors = _signed_manifest(ws, site, q, key)
            problems += [(q, e) for e in errors]
            if record is not None:
                manifests[q] = record
                anchor = record if q == anchor_quarter and not errors else anchor
        problems += [(SITE, p) for p in _entry_point_problems(ws, site, quarters, anchor)]
        results = []
        for q in targets:
            record = manifests.get(q)
            changes = [c for scope, c in problems if scope == q]
            if record is not None:
                changes += _content_changes(ws, site, q, record)
            changes += chain_problems(ws, q)
            checked = len((record or {}).get("evidence") or {}) + len((record or {}).get("site") or {})
            results.append(VerifyResult(q, checked, changes, str((record or {}).get("signing_key", ""))))
    bad = [(s, c) for s, c in problems if s not in targets] + [(r.quarter, c) for r in results for c in r.changes]
    if bad:
        shown = "; ".join(f"{q}: {c}" for q, c in bad[:5])
        more = f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""
        raise IntegrityError(f"{ws.client}: {len(bad)} problem(s) with the published evidence: "
                             f"{shown}{more}")
    return results


def _readable_local_log(ws: Workspace) -> list[dict[str, Any]]:
    try:
        return local_log(ws)
    except PostureError:
        return []
