"""Vault test helpers: the seeded Acme estate on the session OpenBao, and a collector runner.

Imported by the tests/test_vault_*.py modules (``from vault_fixtures import ...``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import CANARIES

from collectors.base import CollectContext
from collectors.vault.collector import VaultCollector
from posture.demo.estates.vault import VaultEstate, seed_vault_estate
from posture.model.engagement import Engagement, VaultStore
from posture.model.snapshot import SnapshotSink
from posture.workspace import fingerprint

FP_KEY = b"k" * 32


@pytest.fixture(scope="session")
def vault_estate(openbao) -> VaultEstate:
    """The Acme Payments estate, seeded once per session into the shared OpenBao."""
    return seed_vault_estate(openbao.address, openbao.root_token, CANARIES)


def run_collector(address: str, token: str, *, options: dict[str, Any] | None = None,
                  **store: Any) -> tuple[SnapshotSink, VaultCollector]:
    sink = SnapshotSink()
    ctx = CollectContext(
        engagement=Engagement(client="acme"),
        sink=sink,
        fingerprint=lambda v: fingerprint(FP_KEY, v),
        as_of=datetime.now(UTC),
        options=options or {},
    )
    collector = VaultCollector(VaultStore(name="core", address=address, **store), ctx,
                               env={"VAULT_TOKEN": token})
    collector.run()
    return sink, collector


def rows(sink: SnapshotSink, table: str) -> dict[str, Any]:
    """Records of a table keyed by id."""
    return {r.id: r for r in sink.rows(table)}


def make_token(openbao, policies: list[str], **extra: Any) -> str:
    r = requests.post(
        f"{openbao.address}/v1/auth/token/create",
        headers={"X-Vault-Token": openbao.root_token},
        json={"policies": policies, "no_default_policy": True, "ttl": "1h", **extra},
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["auth"]["client_token"]


def put_policy(openbao, name: str, text: str) -> None:
    r = requests.put(
        f"{openbao.address}/v1/sys/policies/acl/{name}",
        headers={"X-Vault-Token": openbao.root_token},
        json={"policy": text},
        timeout=10,
    )
    r.raise_for_status()


def write_engagement(root: Path, address: str, client: str = "acme", extra: str = "") -> Path:
    path = root / "engagements" / client / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"client: {client}\nstores:\n  vault:\n    - name: core\n      address: {address}\n"
        f"      concurrency: 8\n      timeout: 5\n      retries: 1\n{extra}"
    )
    return path


def audit_entries(openbao, path: str) -> list[dict[str, Any]]:
    """Audit log entries (requests and responses) whose request path is ``path``."""
    import orjson

    out = []
    log = openbao.audit_log("file")
    if not log.exists():
        return out
    for line in log.read_bytes().splitlines():
        try:
            e = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if (e.get("request") or {}).get("path") == path:
            out.append(e)
    return out
