"""Every page of the latest quarter, read in headless Debian Chromium as a client's teams would.

At 1400x900 (a laptop) and 390x844 (a phone), each page of the newest published
quarter must: not scroll sideways (a wide table scrolls inside its own box);
show no literal Markdown (``**``, backtick pairs) outside code; show no Python
literal in a table cell (True/False/None/NaN, ``3.0`` for an integer, a list
literal, a microsecond timestamp); and stay under 20,000 px tall (long lists are
paginated or collapsed). A screenshot of each page type is saved as a test
artifact (its folder is printed). Then the behaviours that only a browser shows:
the offline filters and pagination, the leak cards' red gaps and their print
layout, the access matrix's highlights, and hostile names staying text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browserkit import NEEDS_CHROMIUM, chromium, served
from sitekit import HOSTILE_LINK, published_ws  # noqa: F401  (published_ws is a fixture)

from posture.site import export_site

pytestmark = NEEDS_CHROMIUM
Q3, Q4 = "2026-Q3", "2026-Q4"
VIEWPORTS = {"desktop": (1400, 900), "phone": (390, 844)}
MAX_HEIGHT = 20_000
#: One page of each type, screenshotted at both widths.
PAGE_TYPES = {
    "overview": "", "fix-first": "fix-first/", "leak-cards": "leak-response/", "access-model": "access-model/",
    "inventory": "inventory/", "rotation-plan": "rotation-plan/", "stage": "findings/stage-1/",
    "environments": "findings/environments/", "owners": "findings/owners/", "owner": "findings/owners/unowned/",
    "checks": "checks/", "check": "checks/inv001/", "notebook": "notebooks/stage-2-access/",
    "coverage-gaps": "coverage-gaps/", "waivers": "waivers/", "downloads": "downloads/", "manifest": "manifest/",
}

#: What a reader would see that a formatter should have turned into words (site_ux's probe).
PROBE = r"""() => {
  const vw = window.innerWidth, sw = document.documentElement.scrollWidth;
  const main = document.querySelector('article') || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const md = [];
  while (walker.nextNode()) {
    const n = walker.currentNode, t = n.nodeValue;
    if (n.parentElement.closest('code,pre,script,style,textarea,.highlight')) continue;
    if (/\*\*[^*\s][^*]*\*\*/.test(t) || /`[^`\s][^`]*`/.test(t)) md.push(t.trim().slice(0, 80));
  }
  const lit = [];
  for (const td of document.querySelectorAll('article td')) {
    const t = td.innerText.trim();
    if (/^(True|False|None|NaN|nan|NaT|<NA>)$/.test(t) || /^-?\d+\.0$/.test(t) ||
        /\d{2}:\d{2}:\d{2}\.\d{3,}/.test(t) || /^\[['"]/.test(t)) lit.push(t.slice(0, 60));
  }
  return {vw, sw, md: md.slice(0, 3), lit: lit.slice(0, 3), h: document.documentElement.scrollHeight};
}"""


@pytest.fixture(scope="module")
def site(published_ws, tmp_path_factory):
    """(base URL, the exported site's folder) served over loopback HTTP."""
    root = export_site(published_ws, tmp_path_factory.mktemp("pages") / "site")
    with served(root) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium() as br:
        yield br


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("site-screenshots")
    print(f"\nscreenshots of each page type: {path}")
    return path


def _pages(root: Path) -> list[str]:
    """Every HTML page of the latest quarter, as URL paths below the quarter."""
    q = root / Q4
    return sorted(p.relative_to(q).as_posix().removesuffix("index.html") for p in q.rglob("*.html")
                  if "search" not in p.relative_to(q).parts and p.name != "404.html")


def _open(browser, size):
    w, h = size
    page = browser.new_page(viewport={"width": w, "height": h})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    return page, errors


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_every_page_reads_as_prose_and_fits_the_screen(browser, site, screenshots, viewport):
    base, root = site
    pages = _pages(root)
    assert len(pages) > 40 and "" in pages and "fix-first/" in pages
    page, errors = _open(browser, VIEWPORTS[viewport])
    problems = []
    for rel in pages:
        page.goto(f"{base}/{Q4}/{rel}", wait_until="load")
        v = page.evaluate(PROBE)
        if v["sw"] > v["vw"]:
            problems.append(f"{rel}: scrolls sideways ({v['sw']} px > {v['vw']} px)")
        if v["md"]:
            problems.append(f"{rel}: literal Markdown {v['md']}")
        if v["lit"]:
            problems.append(f"{rel}: Python literal in a cell {v['lit']}")
        if v["h"] > MAX_HEIGHT:
            problems.append(f"{rel}: {v['h']} px tall")
    for name, rel in PAGE_TYPES.items():
        assert rel in pages, rel
        page.goto(f"{base}/{Q4}/{rel}", wait_until="load")
        page.screenshot(path=str(screenshots / f"{name}-{viewport}.png"), full_page=True)
    page.close()
    assert problems == [], "\n".join(problems)
    assert errors == []


def test_fix_first_filters_and_pages_offline(browser, site, published_ws):
    from posture.report import Assessment
    from posture.site.pages.fixfirst import ranked_failures

    base, _ = site
    page, errors = _open(browser, VIEWPORTS["desktop"])
    page.goto(f"{base}/{Q4}/fix-first/")
    rows = page.locator("#t-fix-first tbody tr")
    total = rows.count()
    ranked = ranked_failures(Assessment.load(published_ws.assessment_dir(Q4)))
    assert total == len(ranked) >= 3
    # in rank order (severity x environment x blast radius), every failing finding once
    shown = [rows.nth(i).locator("code").first.text_content() for i in range(total)]
    assert shown == list(ranked["resource"])
    sev = [rows.nth(i).get_attribute("data-severity") for i in range(total)]
    # each row names its owner (or the gap), links its check's page, and carries the fix
    first = rows.first
    assert first.locator('a[href*="/checks/"]').count() == 1
    assert first.locator(".posture-fix").inner_text().strip()
    # the severity drop-down narrows the list to matching rows, and "all" restores it
    choice = sev[-1]
    page.select_option('form[data-facets-for="t-fix-first"] select[data-facet="severity"]', choice)
    visible = page.locator("#t-fix-first tbody tr:not([hidden])")
    assert visible.count() == sev.count(choice)
    assert {visible.nth(i).get_attribute("data-severity") for i in range(visible.count())} == {choice}
    page.select_option('form[data-facets-for="t-fix-first"] select[data-facet="severity"]', "")
    assert page.locator("#t-fix-first tbody tr:not([hidden])").count() == min(total, 10)
    # a long table shows one page at a time, with a count and next/all controls
    page.goto(f"{base}/{Q4}/checks/")
    checks = page.locator("#t-checks tbody tr")
    n = checks.count()
    assert n > 25
    assert page.locator("#t-checks tbody tr:not([hidden])").count() == 25
    pager = page.locator("nav.posture-pager").first
    assert f"1–25 of {n}" in pager.inner_text()
    pager.get_by_role("button", name="Next page").click()
    assert page.locator("#t-checks tbody tr:not([hidden])").count() == min(25, n - 25)
    pager.get_by_role("button", name="Show all").click()
    assert page.locator("#t-checks tbody tr:not([hidden])").count() == n
    page.close()
    assert errors == []


def test_owner_pages_list_only_what_to_act_on(browser, site, published_ws):
    from posture.report import Assessment

    base, _ = site
    f = Assessment.load(published_ws.assessment_dir(Q4)).findings
    mine = f[f["owner"].isna()]
    fails, na = (mine["status"] == "fail").sum(), (mine["status"] == "not_assessed").sum()
    assert fails and len(mine) > fails + na  # the owner also has passing results, which stay off the page
    page, errors = _open(browser, VIEWPORTS["desktop"])
    page.goto(f"{base}/{Q4}/findings/owners/")
    assert page.locator("#t-owners tbody a").count() == f["owner"].fillna("").nunique()
    page.goto(f"{base}/{Q4}/findings/owners/unowned/")
    text = page.locator("article").inner_text()
    assert f"Failing ({fails})" in text and f"Not assessed ({na})" in text
    assert page.locator("#t-owner-fail tbody tr").count() == fails
    assert page.locator("#t-owner-na tbody tr").count() == na
    page.close()
    assert errors == []


def test_leak_cards_put_steps_first_and_gaps_in_red(browser, site):
    base, _ = site
    page, errors = _open(browser, VIEWPORTS["phone"])
    page.goto(f"{base}/{Q4}/leak-response/")
    cards = page.locator(".posture-leakcard")
    assert cards.count() >= 1
    card = page.locator(".posture-leakcard", has=page.locator(".posture-missing")).first
    steps = card.locator("ol.posture-steps > li").all_inner_texts()
    assert [s.split(":")[0] for s in steps[:5]] == ["Revoke immediately", "Invalidate tokens",
                                                   "Audit blast radius", "Notify", "Post-mortem"]
    assert not any(s[:1].isdigit() for s in steps)  # never "1. 1."
    missing = card.locator(".posture-missing").first
    assert "NO OWNER" in missing.inner_text() or "NOBODY IS PAGED" in missing.inner_text()
    assert missing.evaluate("e => getComputedStyle(e).color") != missing.evaluate(
        "e => getComputedStyle(e.closest('.posture-leakcard')).color")
    # printed, every card shows (none is left on another screen page), one per sheet
    page.emulate_media(media="print")
    shown = page.locator(".posture-leakcard:visible").count()
    assert shown == cards.count()
    assert cards.first.evaluate("e => getComputedStyle(e).breakAfter") == "page"
    page.close()
    assert errors == []


def test_access_matrix_highlights_wildcards_and_fills_justifications(browser, site):
    base, _ = site
    page, errors = _open(browser, VIEWPORTS["desktop"])
    page.goto(f"{base}/{Q3}/access-model/")  # Q3: ci-deployer may use secret/* and nobody justified it
    star = page.locator("table.posture-matrix td.posture-cell-star")
    assert star.count() >= 1 and "whole mount" in star.first.inner_text()
    assert star.first.locator(".posture-chip", has_text="update").count() == 1
    assert "missing" in page.locator("table.posture-matrix").first.inner_text()
    page.goto(f"{base}/{Q4}/access-model/")  # Q4: the narrowed grant carries the engagement's reason
    matrix = page.locator("table.posture-matrix").first.inner_text()
    assert "CI deploys the production services" in matrix
    page.close()
    assert errors == []


def test_overview_cards_and_changes(browser, site, published_ws):
    from posture.report import Assessment

    base, _ = site
    a = Assessment.load(published_ws.assessment_dir(Q4))
    page, errors = _open(browser, VIEWPORTS["desktop"])
    page.goto(f"{base}/{Q4}/")
    cards = page.locator(".posture-cards").first.locator(".posture-scorecard")
    assert cards.count() == len(a.scores.by_checklist_item)
    text = cards.first.inner_text()
    assert "GRADE" in text.upper() and "SCORE" in text.upper() and "COVERAGE" in text.upper()
    assert "caps the grade" in page.locator("article").inner_text()
    deltas = page.locator(".posture-delta").all_inner_texts()
    assert any("Resolved" in d for d in deltas) and any("Still open" in d for d in deltas)
    page.close()
    assert errors == []


def test_hostile_owner_stays_text_on_its_page(browser, site):
    base, _ = site
    page, errors = _open(browser, VIEWPORTS["desktop"])
    page.goto(f"{base}/{Q3}/findings/owners/")
    link = page.locator("#t-owners tbody a", has_text="javascript:alert")
    assert link.count() == 1 and link.inner_text() == HOSTILE_LINK
    link.click()
    page.wait_for_load_state("load")
    assert HOSTILE_LINK in page.locator("article h1").inner_text()
    assert page.locator('a[href^="javascript:" i]').count() == 0
    page.close()
    assert errors == []
