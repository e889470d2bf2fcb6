"""The GCP collector: one engagement GCP store, every project x location, read-only.

Credentials follow ``google.auth.default()`` (``GOOGLE_APPLICATION_CREDENTIALS``,
gcloud's application-default login, workload identity, the metadata server);
none lives in the engagement. Per project: the project record and IAM policy,
then the global and each configured regional Secret Manager listing, then one
task per secret (versions, IAM policy) on a pool of ``store.concurrency``
workers, then each CMEK key the secrets name.

``ctx.options`` knobs: ``gcp_retry_deadline`` (60 s), ``gcp_retry_initial``
(0.5 s), ``gcp_page_size`` (250), ``gcp_max_pages`` (1000).

Progress: one line per project, advancing as its secrets are read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from collectors.base import CollectContext
from collectors.gcp import projects, secrets
from collectors.gcp.calls import SCOPES, GcpCalls, StoreFailure
from collectors.gcp.guard import ReadOnlyGuard
from collectors.gcp.iam import add_principals
from posture.model.engagement import GcpStore
from posture.model.errors import CollectionError, ConfigError


class GcpCollector:
    """Reads one engagement GCP store (its projects x locations)."""

    source: ClassVar[str] = "gcp"
    #: the SDK packages its clients come from (imported when used; checked before collection starts)
    sdk_modules: ClassVar[tuple[str, ...]] = (
        "google.auth", "google.cloud.secretmanager_v1", "google.cloud.resourcemanager_v3", "google.cloud.kms_v1")
    version: ClassVar[str] = "1.0.0"

    def __init__(self, store: GcpStore, ctx: CollectContext) -> None:
        if not store.projects:
            raise ConfigError(f"gcp store {store.name}: no projects listed (stores.gcp[].projects)")
        self.store = store
        self.ctx = ctx
        self.guard = ReadOnlyGuard()

    def _credentials(self) -> Any:
        import google.auth
        from google.auth import exceptions as auth_exc

        try:
            credentials, _ = google.auth.default(scopes=list(SCOPES))
        except auth_exc.DefaultCredentialsError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise CollectionError(
                f"gcp store {self.store.name}: no Google credentials found (GOOGLE_APPLICATION_CREDENTIALS, "
                f"gcloud auth application-default login, workload identity): {first[:200]}") from None
        return credentials

    def run(self) -> None:
        gcp = GcpCalls(self.store, self.ctx, self._credentials(), self.guard)
        try:
            self._run(gcp)
        except StoreFailure as e:
            raise CollectionError(f"gcp store {self.store.name}: {e}") from None

    def _run(self, gcp: GcpCalls) -> None:
        progress = self.ctx.progress
        keys: set[str] = set()
        with ThreadPoolExecutor(max_workers=self.store.concurrency, thread_name_prefix="posture-gcp") as pool:
            for project in self.store.projects:
                projects.collect_project(gcp, project)
                found = [(loc, s) for loc in [None, *self.store.locations]
                         for s in secrets.list_secrets(gcp, project, loc)]
                line = progress.add_task(f"gcp {self.store.name} {project}", total=len(found)) \
                    if progress is not None else None

                def one(item: tuple[str | None, Any], project: str = project, line: Any = line) -> None:
                    try:
                        secrets.collect_secret(gcp, project, item[0], item[1])
                    finally:
                        if line is not None:
                            progress.advance(line, 1)

                for _ in pool.map(one, found):  # re-raises a guard violation or a bug
                    pass
        for row in gcp.sink.rows("secret"):
            if row.store == self.store.name and row.source == "gcp":
                keys.update(getattr(row, "kms_key_ids", []) or [])
        for name in sorted(keys):
            projects.collect_key(gcp, name)
        add_principals(gcp.sink, self.store.name)
