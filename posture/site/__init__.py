"""The versioned evidence site: pages from the assessment, published with mike, signed.

Python API (used by the CLI and by ``posture demo``)::

    from posture.site import publish, export_site, verify, serve
    publish(ws, "2026-Q4", force=False, console=None) -> PublishResult
    export_site(ws, Path("out")) -> Path
    verify(ws, quarter=None) -> list[VerifyResult]      # raises IntegrityError
    serve(ws, port=8000)                                # blocks until Ctrl-C
"""

from __future__ import annotations

from posture.site.branch import published_quarters, read_publish_log
from posture.site.publishing import (
    PublishResult,
    export_site,
    publish,
    serve,
    serve_directory,
)
from posture.site.verify import VerifyResult, verify

__all__ = [
    "PublishResult",
    "VerifyResult",
    "export_site",
    "publish",
    "published_quarters",
    "read_publish_log",
    "serve",
    "serve_directory",
    "verify",
]
