"""Snapshot: the collected records on disk, and back as DataFrames.

Layout of ``evidence/CLIENT/QUARTER/snapshot/``::

    manifest.json        hashes, row counts, collector versions, times
    <table>.jsonl        one JSON object per record, one file per table

The directory is written atomically (see `posture.model.fsutil.atomic_directory`):
an interrupted collection leaves the previous snapshot intact and no partial
one, also when killed between the swap's two renames (repaired when the
snapshot is next opened or written). `Snapshot.load` re-checks every hash
before handing out data.
"""

from __future__ import annotations

import threading
import types
import typing
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from pydantic import BaseModel, Field

from posture.model.errors import IntegrityError, PostureError
from posture.model.fsutil import (
    atomic_directory,
    atomic_write_bytes,
    recover_directory,
    sha256_file,
)
from posture.model.records import RECORDS_BY_TABLE, CoverageGap, Record

FORMAT_VERSION = 1


class FileEntry(BaseModel):
    sha256: str
    rows: int


class Manifest(BaseModel):
    format: int = FORMAT_VERSION
    client: str
    quarter: str
    engagement_sha256: str
    started_at: datetime
    finished_at: datetime
    collectors: dict[str, str] = Field(default_factory=dict, description="source -> version")
    stores: dict[str, str] = Field(default_factory=dict, description="store name -> source")
    files: dict[str, FileEntry] = Field(default_factory=dict)
    gaps: int = 0


class SnapshotSink:
    """Thread-safe collector output. Records are validated when added."""

    def __init__(self) -> None:
        self._rows: dict[str, list[Record]] = {}
        self._ids: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def add(self, record: Record) -> None:
        table = type(record).table
        if table not in RECORDS_BY_TABLE:
            raise TypeError(f"{type(record).__name__} is not a snapshot record")
        with self._lock:
            ids = self._ids.setdefault(table, set())
            if record.id in ids:
                return  # the same resource reached twice (e.g. two walks): keep the first
            ids.add(record.id)
            self._rows.setdefault(table, []).append(record)

    def gap(
        self,
        *,
        store: str,
        source: str,
        tables: list[str],
        operation: str,
        reason: str,
        scope: str = "",
        service: str | None = None,
        detail: str | None = None,
    ) -> CoverageGap:
        gap = CoverageGap(
            id=f"{store}:{scope}:{operation}",
            store=store,
            source=source,  # type: ignore[arg-type]
            tables=tables,
            scope=scope,
            service=service,
            operation=operation,
            reason=reason,
            detail=(detail or "")[:500] or None,
        )
        self.add(gap)
        return gap

    def rows(self, table: str) -> list[Record]:
        with self._lock:
            return list(self._rows.get(table, []))

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter({t: len(r) for t, r in self._rows.items()})

    def gaps(self) -> list[CoverageGap]:
        return typing.cast(list[CoverageGap], self.rows(CoverageGap.table))

    def write(self, dest: Path, manifest: Manifest) -> Manifest:
        """Write all tables and the manifest atomically into ``dest``."""
        with atomic_directory(dest) as tmp:
            files: dict[str, FileEntry] = {}
            for table in sorted(RECORDS_BY_TABLE):
                rows = self.rows(table)
                path = tmp / f"{table}.jsonl"
                with open(path, "wb") as f:
                    for r in sorted(rows, key=lambda r: r.id):
                        f.write(orjson.dumps(r.model_dump(mode="json")))
                        f.write(b"\n")
                files[path.name] = FileEntry(sha256=sha256_file(path), rows=len(rows))
            manifest = manifest.model_copy(
                update={"files": files, "gaps": len(self.rows(CoverageGap.table))}
            )
            atomic_write_bytes(
                tmp / "manifest.json",
                orjson.dumps(manifest.model_dump(mode="json"), option=orjson.OPT_INDENT_2),
            )
        return manifest


def _datetime_fields(model: type[Record]) -> list[str]:
    out = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        # datetime or Optional[datetime]; not list[datetime] (kept as a list column)
        is_union = typing.get_origin(ann) in (typing.Union, types.UnionType)
        if ann is datetime or (is_union and datetime in typing.get_args(ann)):
            out.append(name)
    return out


def empty_frame(table: str) -> pd.DataFrame:
    model = RECORDS_BY_TABLE[table]
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in model.model_fields})
    for c in _datetime_fields(model):
        df[c] = pd.Series(dtype="datetime64[ns, UTC]")
    return df


def records_frame(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """DataFrame of ``rows`` (plain dicts) with the table's full column set and types."""
    if not rows:
        return empty_frame(table)
    model = RECORDS_BY_TABLE[table]
    df = pd.DataFrame.from_records(rows, columns=list(model.model_fields))
    for c in _datetime_fields(model):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
    return df


class Snapshot:
    """A loaded, hash-verified snapshot. ``frame(table)`` gives a DataFrame."""

    def __init__(self, path: Path, manifest: Manifest, raw: dict[str, list[dict[str, Any]]]):
        self.path = path
        self.manifest = manifest
        self._raw = raw
        self._frames: dict[str, pd.DataFrame] = {}

    @classmethod
    def load(cls, path: Path, verify: bool = True) -> "Snapshot":
        recover_directory(path)  # a collect killed mid-swap leaves the old snapshot aside
        mpath = path / "manifest.json"
        if not mpath.exists():
            raise PostureError(f"{path}: no snapshot here (run 'posture collect' first)")
        try:
            manifest = Manifest.model_validate_json(mpath.read_bytes())
        except ValueError as e:
            raise IntegrityError(f"{mpath}: unreadable manifest: {e}") from None
        raw: dict[str, list[dict[str, Any]]] = {}
        for name, entry in manifest.files.items():
            fpath = path / name
            if not fpath.exists():
                raise IntegrityError(f"{fpath}: listed in the manifest but missing")
            if verify and sha256_file(fpath) != entry.sha256:
                raise IntegrityError(f"{fpath}: SHA-256 does not match the manifest")
            table = name.removesuffix(".jsonl")
            if table in RECORDS_BY_TABLE:
                raw[table] = [orjson.loads(line) for line in fpath.read_bytes().splitlines() if line]
        return cls(path, manifest, raw)

    @classmethod
    def from_records(cls, records: list[Record], manifest: Manifest | None = None) -> "Snapshot":
        """An in-memory snapshot (tests, benchmarks)."""
        raw: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            raw.setdefault(type(r).table, []).append(r.model_dump(mode="json"))
        now = datetime.now(timezone.utc)
        manifest = manifest or Manifest(
            client="test", quarter="2026-Q4", engagement_sha256="", started_at=now, finished_at=now
        )
        return cls(Path("."), manifest, raw)

    def frame(self, table: str) -> pd.DataFrame:
        if table not in RECORDS_BY_TABLE:
            raise KeyError(f"unknown snapshot table {table!r}")
        if table not in self._frames:
            self._frames[table] = records_frame(table, self._raw.get(table, []))
        return self._frames[table]

    def rows(self, table: str) -> list[dict[str, Any]]:
        return list(self._raw.get(table, []))

    @property
    def gaps(self) -> pd.DataFrame:
        return self.frame(CoverageGap.table)

    @property
    def tables(self) -> list[str]:
        return sorted(RECORDS_BY_TABLE)
