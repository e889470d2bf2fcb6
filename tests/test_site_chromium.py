"""The published site in headless Debian Chromium (Playwright, system binary), over HTTP.

Checks what only a browser shows: the overview's scores, Material search finding
a resource, the version selector listing both quarters, hostile names staying
inert (no dialog ever fires), the table filter, and that no request leaves
localhost.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest
from browserkit import ARGS, CHROMIUM, NEEDS_CHROMIUM, served
from sitekit import HOSTILE_LINK, HOSTILE_SCRIPT, SEARCHABLE, published_ws  # noqa: F401

from posture.site import export_site

pytestmark = NEEDS_CHROMIUM
Q3, Q4 = "2026-Q3", "2026-Q4"


@pytest.fixture(scope="module")
def site_url(published_ws, tmp_path_factory):
    root = export_site(published_ws, tmp_path_factory.mktemp("browse") / "site")
    with served(root) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM), headless=True, args=ARGS,
        )
        yield ctx
        ctx.close()


class Guard:
    """Routes every request: loopback passes, anything else is recorded and aborted."""

    def __init__(self, page):
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route):
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    guard = Guard(pg)
    yield pg, guard
    pg.close()
    assert guard.external == [], f"requests left localhost: {guard.external}"
    assert guard.dialogs == [], f"a dialog fired: {guard.dialogs}"


def test_overview_shows_the_scores(page, site_url, published_ws):
    pg, guard = page
    pg.goto(f"{site_url}/latest/")
    pg.wait_for_url(f"**/{Q4}/")
    scores = json.loads((published_ws.assessment_dir(Q4) / "scores.json").read_text())
    assert pg.locator("#posture-score").inner_text() == str(scores["overall"]["score"])
    assert pg.locator(".posture-grade").inner_text() == scores["overall"]["grade"]
    rows = pg.locator("#t-scores-checklist tbody tr")
    assert rows.count() == len(scores["by_checklist_item"])
    assert pg.locator("#t-scores-stage tbody tr").count() == len(scores["by_stage"])
    assert Q3 in pg.locator(".posture-trend").inner_text()
    assert guard.errors == []


def test_search_finds_a_resource(page, site_url):
    pg, _ = page
    pg.goto(f"{site_url}/{Q4}/")
    pg.locator("label.md-search__icon, .md-search__input").first.click()
    box = pg.locator("input.md-search__input")
    box.press_sequentially(SEARCHABLE, delay=20)  # Material searches on key events
    result = pg.locator(".md-search-result__item").first
    result.wait_for(timeout=20_000)
    assert SEARCHABLE in pg.locator(".md-search-result").inner_text()


def test_version_selector_lists_both_quarters(page, site_url):
    pg, _ = page
    pg.goto(f"{site_url}/{Q3}/")
    pg.locator(".md-version").wait_for(timeout=20_000)
    assert pg.locator(".md-version__current").inner_text().strip() == Q3
    links = pg.locator(".md-version__link")
    texts = [links.nth(i).text_content().strip() for i in range(links.count())]
    assert Q3 in texts and any(t.startswith(Q4) for t in texts)
    q4 = pg.locator(".md-version__link", has_text=Q4).first
    assert q4.get_attribute("href").rstrip("/").endswith(Q4)
    q4.click(force=True)  # the menu opens on hover; the link itself is what matters
    pg.wait_for_url(f"**/{Q4}/**")


def test_hostile_names_are_inert_text(page, site_url):
    pg, guard = page
    pg.goto(f"{site_url}/{Q3}/inventory/")
    table = pg.locator("#t-inventory")
    text = table.inner_text()
    assert HOSTILE_SCRIPT in text and HOSTILE_LINK in text
    assert pg.locator("#t-inventory script").count() == 0
    assert pg.locator('a[href^="javascript:" i]').count() == 0
    for path in ("findings/owners/", "findings/stage-1/", "leak-response/",
                 "notebooks/stage-1-inventory/", "checks/"):
        pg.goto(f"{site_url}/{Q3}/{path}")
        assert pg.locator('a[href^="javascript:" i]').count() == 0, path
    # searching for the hostile names renders results as text too
    pg.goto(f"{site_url}/{Q3}/")
    pg.locator("label.md-search__icon, .md-search__input").first.click()
    pg.locator("input.md-search__input").press_sequentially("script alert", delay=20)
    pg.wait_for_timeout(1500)
    assert pg.locator(".md-search-result script").count() == 0
    assert guard.dialogs == []


def test_inventory_filter_and_sort(page, site_url):
    pg, _ = page
    pg.goto(f"{site_url}/{Q4}/inventory/")
    rows = pg.locator("#t-inventory tbody tr")
    total = rows.count()
    assert total >= 5
    pg.locator('input[data-filter-for="t-inventory"]').fill(SEARCHABLE)
    visible = pg.locator("#t-inventory tbody tr:not([hidden])")
    assert visible.count() == 1 and SEARCHABLE in visible.first.inner_text()
    pg.locator('input[data-filter-for="t-inventory"]').fill("")
    assert pg.locator("#t-inventory tbody tr:not([hidden])").count() == total
    head = pg.locator("#t-inventory thead th", has_text="name").first
    head.click()
    names = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(total)]
    assert names == sorted(names, key=str.lower) or head.get_attribute("aria-sort") == "ascending"
    head.click()
    assert head.get_attribute("aria-sort") == "descending"
