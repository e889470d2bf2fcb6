"""What the Chromium tests share: the Debian binary, its flags, a loopback server and a browser.

Playwright drives the system ``/usr/bin/chromium`` (never a downloaded browser);
the exported site is served by the kit's own `serve_directory` on a free
loopback port, since search and the version selector need HTTP.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from posture.site import serve_directory

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: ``pytestmark`` of a module that drives Chromium: skipped where it is missing, except in CI.
NEEDS_CHROMIUM = [
    pytest.mark.chromium,
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"),
                       reason="Debian chromium is not installed (CI installs it)"),
]


@contextmanager
def served(root: Path) -> Iterator[str]:
    """``root`` over loopback HTTP while the block runs; yields its base URL."""
    server = serve_directory(root, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def chromium():
    """A headless Debian Chromium launched by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
