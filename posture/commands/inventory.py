"""``posture inventory CLIENT --export FILE``: the collected inventory as a declared-inventory file.

The file is the format an inventory store reads (`posture.model.inventory_file`),
so the round trip is: collect, export, let the client fill in owners, pagers,
consumers and rotation frequencies, point an inventory store at the file,
collect and assess again. Each observed item is written with ``ref`` = its id,
so on re-import the row adds to that item instead of declaring a second one;
declared items are written as themselves (their own row id, no ref), so the
export can replace the inventory file it came from. Configuration items
(hostnames, flags) are left out: they are not secrets and need no owner.

The items are the quarter's snapshot classified with the current engagement
(what the inventory page would show after ``posture assess``): no assessment
is needed first. Metadata only, like every file the kit writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from posture.cli import ClientArg, QuarterOpt, app, out, quarter_or_current
from posture.model.errors import ConfigError
from posture.model.inventory_file import (
    CONTROL,
    MAX_CELL,
    Format,
    credential_like,
    inventory_format,
    parse_inventory,
    secret_class,
    write_inventory,
)
from posture.workspace import Workspace


@dataclass
class ExportResult:
    path: Path
    observed: int
    declared: int
    skipped: int


def _clean(value: Any) -> str | None:
    """Text for a cell, or None where the estate's value could not go into the file as it is
    (a control character, a credential-looking name, too long): the client fills it in."""
    if value is None or (not isinstance(value, (list, tuple, str)) and pd.isna(value)):
        return None
    text = str(value).strip()
    if not text or CONTROL.search(text) or len(text) > MAX_CELL or credential_like(text):
        return None
    return text


def _when(value: Any, now: datetime | None = None) -> datetime | None:
    """A date for the file; with ``now``, none later than it (a store's clock ahead of ours
    is no future rotation)."""
    if value is None or pd.isna(value):
        return None
    ts = pd.Timestamp(value).to_pydatetime()
    return ts if now is None or ts <= now else None


def export_rows(items: pd.DataFrame, now: datetime, schedules: dict[str, str] | None = None,
                ) -> tuple[list[dict[str, Any]], int, int, int]:
    """Inventory items -> file rows (observed with a ref, declared as themselves); and the counts.

    ``schedules`` maps a declared secret's id to the frequency its row gave (``never`` included,
    which no interval says)."""
    schedules = schedules or {}
    rows: list[dict[str, Any]] = []
    observed = declared = skipped = 0
    for it in items.to_dict("records"):
        if it.get("item_class") != "secret":
            continue
        is_declared = it.get("provenance") == "declared"
        if is_declared:
            row_id = str(it["id"]).removeprefix(f"inventory:{it['store']}:")
            ref = it.get("declared_ref") if isinstance(it.get("declared_ref"), str) else None
            storage = it.get("storage")
        else:
            row_id = ref = it["id"]
            where = _clean(it.get("path")) or ""
            storage = f"{it['source']} store {it['store']}" + (f": {where}" if where and where != it["id"] else "")
        if _clean(row_id) is None or (ref is not None and _clean(ref) is None):
            skipped += 1  # an id the file cannot carry (control character, credential-shaped)
            continue
        interval = it.get("rotation_interval_days")
        freq = f"{int(interval)}d" if interval is not None and not pd.isna(interval) and int(interval) > 0 else None
        if is_declared and schedules.get(it["id"]) == "never":
            freq = "never"
        env = it.get("environment")
        rows.append({
            "id": row_id, "ref": ref, "name": _clean(it.get("name")),
            # a type the file cannot name (an engagement's own secret_types rule, which applies again
            # on re-import) is left to the store for a row with a ref, and is generic for a declared
            # row: the file must always read back
            "secret_class": secret_class(str(it.get("secret_type") or "")) or ("generic" if is_declared else None),
            "consumers": [c for c in (_clean(x) for x in (it.get("consumers") or [])) if c],
            "storage_today": _clean(storage), "rotation_frequency": freq,
            "owner_team": _clean(it.get("owner")),
            "environment": env if isinstance(env, str) and env != "unknown" else None,
            "last_rotated": _when(it.get("last_rotated_at"), now), "expires": _when(it.get("expires_at")),
            "pager": _clean(it.get("pager")),
        })
        declared += is_declared
        observed += not is_declared
    return rows, observed, declared, skipped


def export_inventory(ws: Workspace, quarter: str, dest: Path, *, fmt: Format | None = None,
                     force: bool = False) -> ExportResult:
    """Write the quarter's classified inventory to ``dest`` (whole or not at all).

    `ConfigError` when the quarter has no snapshot, ``dest`` exists (without
    ``force``), the format is unknown, or there is no secret to export.
    """
    from checks.classify import Classifier
    from posture.model.fsutil import atomic_write_bytes
    from posture.model.snapshot import Snapshot

    fmt = fmt or inventory_format(dest)
    if fmt not in ("csv", "yaml"):
        raise ConfigError(f"--format {fmt!r}: expected csv or yaml")
    if dest.exists() and not force:
        raise ConfigError(f"{dest} already exists (it may hold the client's answers); use --force to replace it")
    snap_dir = ws.snapshot_dir(quarter)
    if not (snap_dir / "manifest.json").is_file():
        raise ConfigError(f"{ws.client} {quarter} has no snapshot (run 'posture collect {ws.client} "
                          f"--quarter {quarter}' first)")
    snap = Snapshot.load(snap_dir)
    eng = ws.load().engagement
    as_of = pd.Timestamp(snap.manifest.finished_at)
    items = Classifier(eng.classification, eng.thresholds).inventory(snap.frame, as_of)
    now = datetime.now(UTC)
    s = snap.frame("secret")
    declared_secrets = s[s["source"].eq("inventory") & s["rotation_schedule"].notna()] if len(s) else s
    schedules = dict(zip(declared_secrets["id"], declared_secrets["rotation_schedule"])) if len(s) else {}
    rows, observed, declared, skipped = export_rows(items, now, schedules)
    if not rows:
        raise ConfigError(f"{ws.client} {quarter}: the snapshot has no secret to export")
    data = write_inventory(rows, fmt)
    # The file must read back as an inventory store: a row that would not is a bug here, not the client's.
    parse_inventory(data, dest.with_suffix(".csv" if fmt == "csv" else ".yaml"), today=now)
    atomic_write_bytes(dest, data)
    return ExportResult(path=dest, observed=observed, declared=declared, skipped=skipped)


@app.command()
def inventory(
    client: ClientArg,
    export: Annotated[Path, typer.Option("--export", help="Write the inventory to this .csv or .yaml file.")],
    quarter: QuarterOpt = None,
    format: Annotated[
        str | None, typer.Option("--format", help="csv or yaml (default: by the file's suffix).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
) -> None:
    """Export the quarter's inventory as a declared-inventory file (CSV or YAML) to fill in and re-import.

    Every collected secret, key, certificate and credential becomes a row whose
    ref names it; declared items keep their own rows. Fill in owner_team, pager,
    consumers and rotation_frequency, add rows for secrets no store shows (no
    ref), then name the file in the engagement as an inventory store
    (stores: inventory: [{name: declared, path: FILE}]) and collect again.

    Example: posture inventory acme --export acme-inventory.csv
    """
    ws = Workspace.resolve(client)
    q = quarter_or_current(quarter)
    fmt = format.lower() if format else None
    if fmt is not None and fmt not in ("csv", "yaml"):
        raise ConfigError(f"--format {format!r}: expected csv or yaml")
    result = export_inventory(ws, q, export, fmt=fmt, force=force)  # type: ignore[arg-type]
    skipped = f"; {result.skipped} left out (an id the file cannot carry)" if result.skipped else ""
    out.print(f"wrote {result.observed + result.declared} item(s) to {result.path} ({result.observed} observed, "
              f"{result.declared} declared{skipped})", markup=False, highlight=False, soft_wrap=True)
