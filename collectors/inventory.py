"""The declared inventory as a store: a CSV or YAML file of secrets no store API shows.

Seed 000 stage 1 asks where secrets are duplicated (wikis, tickets, chat,
laptops) and for "a rough inventory table: secret class -> consumers -> storage
today -> rotation frequency -> owner team". SaaS and partner API keys, HSM keys
and a password in a runbook live where the kit cannot connect; the client
declares them in this file (`posture.model.inventory_file` defines it) and they
join the inventory, its classification, the checks, the rotation plan and the
leak cards like collected items, marked ``declared``.

Each row becomes one record, ``source="inventory"``, ``declared=True``:

- a `Certificate` for class ``tls`` (expires -> not_after, last rotated -> not_before);
- a `Key` for an encryption or signing key kept in an HSM/KMS (``storage_today``
  names one: non-extractable, as a KMS key is);
- a `Secret` of kind ``declared`` otherwise, and always for a row with a ``ref``:
  such a row names an observed item and adds to it (owner, pager, consumers,
  rotation frequency, environment, class) at classification time instead of
  being a second item (`checks.classify`).

Owner, environment and class go into the record's tags (``owner``, ``environment``,
``secret_type``) so the engagement's classification applies to declared items as
to collected ones, rules first. A declared rotation frequency is recorded as the
rotation policy (``rotation_days``) and the interval; ``never`` records none.
The file is validated whole before anything is recorded: a bad cell is one line
``FILE:LINE: column: message`` (exit 2), and `preflight` runs that validation
before any store of the engagement is contacted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from collectors.base import CollectContext
from posture.model.engagement import InventoryStore
from posture.model.inventory_file import InventoryEntry, read_inventory, resolve_path
from posture.model.records import Certificate, Key, Record, Secret

TAG_OWNER, TAG_ENVIRONMENT, TAG_TYPE = "owner", "environment", "secret_type"


def record_id(store: str, row_id: str) -> str:
    """The snapshot id of a declared row: stable across quarters while the row's id is."""
    return f"inventory:{store}:{row_id}"


def _tags(e: InventoryEntry) -> dict[str, str]:
    tags = {TAG_OWNER: e.owner_team, TAG_ENVIRONMENT: e.environment, TAG_TYPE: e.secret_class}
    return {k: v for k, v in tags.items() if v}


def entry_record(e: InventoryEntry, store: str) -> Record:
    """The record one validated row becomes (see the module docstring for which table)."""
    common: dict[str, Any] = {"id": record_id(store, e.id), "store": store, "source": "inventory",
                              "declared": True, "consumers": list(e.consumers), "storage": e.storage_today,
                              "pager": e.pager}
    if not e.ref and e.is_certificate:
        return Certificate(**common, subject=e.name or e.id, name=e.name or e.id, not_before=e.last_rotated,
                           not_after=e.expires, tags=_tags(e), rotation_interval_days=e.rotation_days)
    if not e.ref and e.is_key:
        return Key(**common, name=e.name or e.id, kind="declared", tags=_tags(e), last_rotated_at=e.last_rotated,
                   rotation_period_days=e.rotation_days, expires_at=e.expires, description=e.name,
                   usage="SIGN_VERIFY" if e.secret_class == "signing-key" else "ENCRYPT_DECRYPT")
    policy = {"rotation_days": str(e.rotation_days)} if e.rotation_days is not None else {}
    return Secret(**common, kind="declared", path=e.id, name=e.name or e.id, tags=_tags(e),
                  custom_metadata=policy, last_rotated_at=e.last_rotated, rotation_interval_days=e.rotation_days,
                  rotation_schedule=e.rotation_frequency, expires_at=e.expires, declared_ref=e.ref)


class InventoryCollector:
    """Reads one declared-inventory file (`InventoryStore`) into records; contacts nothing."""

    source: ClassVar[str] = "inventory"
    version: ClassVar[str] = "1"

    def __init__(self, store: InventoryStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx

    @staticmethod
    def file_of(store: InventoryStore, engagement_dir: Path | None) -> Path:
        return resolve_path(store.path, engagement_dir)

    @classmethod
    def preflight(cls, store: InventoryStore, engagement_dir: Path | None) -> None:
        """Validate the file now (`ConfigError`), so a bad inventory stops `posture collect`
        before any store is contacted and before any snapshot is written."""
        read_inventory(cls.file_of(store, engagement_dir))

    def run(self) -> None:
        path = self.file_of(self.store, self.ctx.options.get("engagement_dir"))
        for e in read_inventory(path, today=self.ctx.as_of):
            self.ctx.sink.add(entry_record(e, self.store.name))
