"""Accessibility of the published site: axe-core in headless Chromium on every page type.

axe-core (the npm package, pinned to major 4) is installed on demand into a
cache folder (``$POSTURE_AXE_CACHE``, default ``~/.cache/secrets-posture-kit/npm``)
and served from the site's own origin, since the site's Content-Security-Policy
admits scripts from nowhere else. Each page type of the latest quarter, in the
light and the dark scheme, must have no violation of impact serious or critical.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from browserkit import NEEDS_CHROMIUM, chromium, served
from sitekit import published_ws  # noqa: F401  (a fixture)
from test_site_chromium import Guard

from posture.site import export_site

pytestmark = NEEDS_CHROMIUM
Q4 = "2026-Q4"
AXE = "axe-core@4"
BLOCKING = ("serious", "critical")
#: page type -> its path under the quarter, or a glob for a family of pages (the first one is taken)
PAGE_TYPES = {
    "overview": "",
    "fix-first": "fix-first/",
    "per-owner": "findings/owners/*/",
    "leak-cards": "leak-response/",
    "access-model": "access-model/",
    "inventory": "inventory/",
    "check": "checks/*/",
    "notebook": "notebooks/stage-1-inventory/",
    "evidence": "manifest/",
    # the other page families of the nav
    "stage": "findings/stage-2/",
    "rotation-plan": "rotation-plan/",
    "coverage-gaps": "coverage-gaps/",
    "waivers": "waivers/",
    "downloads": "downloads/",
}


def axe_cache() -> Path:
    return Path(os.environ.get("POSTURE_AXE_CACHE") or Path.home() / ".cache" / "secrets-posture-kit" / "npm")


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe.min.js from the cache, installed with npm the first time (one installer at a time)."""
    cache = axe_cache()
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed, so {AXE} cannot be fetched (or put it in {cache})")
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not script.is_file():
            subprocess.run([npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                            "--no-save", "--no-package-lock", AXE], check=True, capture_output=True,
                           timeout=600)
    assert script.is_file(), f"npm installed {AXE} but {script} is missing"
    return script


@pytest.fixture(scope="module")
def site(published_ws, axe_script, tmp_path_factory):
    """The exported site with axe beside it, served on loopback: (base URL, export folder)."""
    root = export_site(published_ws, tmp_path_factory.mktemp("axe") / "site")
    (root / "_axe").mkdir()
    shutil.copy2(axe_script, root / "_axe" / "axe.min.js")
    with served(root) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium() as b:
        yield b


def page_path(root: Path, pattern: str) -> str:
    """The quarter-relative URL path of a page type (the first page of a family)."""
    if "*" not in pattern:
        assert (root / Q4 / pattern / "index.html").is_file(), f"no page {Q4}/{pattern}"
        return pattern
    found = sorted(p.parent for p in (root / Q4).glob(f"{pattern}index.html"))
    assert found, f"no page matches {Q4}/{pattern}"
    return f"{found[0].relative_to(root / Q4).as_posix()}/"


def describe(violations: list[dict]) -> str:
    """One line per violation and node: rule, impact, what to fix, where."""
    lines = []
    for v in violations:
        for node in v["nodes"][:6]:
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} at {' '.join(node['target'])}: "
                         f"{(node.get('failureSummary') or '').splitlines()[-1:]}")
        if len(v["nodes"]) > 6:
            lines.append(f"{v['id']}: and {len(v['nodes']) - 6} more node(s)")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", sorted(PAGE_TYPES))
def test_no_serious_or_critical_violation(browser, site, kind, scheme):
    base, root = site
    path = page_path(root, PAGE_TYPES[kind])
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    pg = context.new_page()
    guard = Guard(pg)
    try:
        pg.goto(f"{base}/{Q4}/{path}")
        pg.wait_for_load_state("load")
        pg.locator(".md-version__current").wait_for(timeout=20_000)  # Material renders it late
        pg.add_script_tag(url=f"{base}/_axe/axe.min.js")
        result = pg.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    finally:
        context.close()
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{kind} ({scheme}, {Q4}/{path}):\n{describe(blocking)}"
    assert guard.external == [] and guard.dialogs == []
