"""Run the catalog over a snapshot: one row per (check, resource) with a status.

Status rules, in order:

1. The check function says pass (True), fail (False) or unknown (NA ->
   ``not_assessed``, note ``unknown``). Manual checks without an attestation
   are ``not_assessed`` with note ``manual``.
2. **Coverage gaps.** A gap whose ``tables`` intersect the check's inputs, in
   the resource's store and scope, turns the row into ``not_assessed`` (note
   ``coverage_gap``; the original verdict stays in the evidence). A gap that
   matches no row (a whole table missing for a store) adds a ``not_assessed``
   row of its own, so a missing table is never silently "no findings".
3. **Waivers.** A failing row matched by a waiver (check glob + resource
   glob) becomes ``waived`` while the waiver is valid on the as-of date; an
   expired waiver leaves it ``fail`` and is recorded in the evidence.

Evidence stays columnar per check (``Assessment.evidence``) and is turned into
dicts only for export, so a million-item snapshot scores in seconds.
"""

from __future__ import annotations

import fnmatch
import re
import traceback
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from checks.catalog import SEVERITIES, Check, CheckContext, load_catalog
from checks.classify import Classifier, glob_to_regex
from posture.model.engagement import Engagement, Waiver
from posture.model.snapshot import Snapshot, empty_frame
from posture.model.thresholds import Thresholds

STATUSES = ("pass", "fail", "waived", "not_assessed")
CORE = ("resource", "store", "source", "name", "path", "passed")


@dataclass
class Assessment:
    findings: pd.DataFrame
    evidence: dict[str, pd.DataFrame]
    items: pd.DataFrame
    catalog: dict[str, Check]
    thresholds: Thresholds
    as_of: pd.Timestamp
    gaps: pd.DataFrame
    engagement: Engagement
    errors: list[str] = field(default_factory=list)
    classifier: Classifier | None = None
    name_parts: list[pd.Series] = field(default_factory=list)

    def resource_names(self) -> np.ndarray:
        """Display name per findings row (kept out of the findings frame to save memory)."""
        if not self.name_parts:
            return np.full(len(self.findings), None, dtype=object)
        return pd.concat(self.name_parts, ignore_index=True).to_numpy(dtype=object)

    def counts(self) -> dict[str, int]:
        vc = self.findings["status"].value_counts()
        return {s: int(vc.get(s, 0)) for s in STATUSES}

    def evidence_records(self) -> list[dict[str, Any]]:
        """One evidence dict per findings row (JSON-ready values)."""
        out: list[dict[str, Any]] = [{} for _ in range(len(self.findings))]
        f = self.findings
        pos = np.arange(len(f))
        for cid, idx in f.groupby("check_id", sort=False, observed=True).indices.items():
            ev = self.evidence.get(cid)
            rows = f["ev_row"].to_numpy()[idx]
            recs = jsonable_records(ev) if ev is not None and len(ev.columns) else None
            for p, r in zip(pos[idx], rows):
                out[p] = dict(recs[r]) if (recs is not None and r >= 0) else {}
        extra = f["extra"].to_numpy()
        for p in np.flatnonzero(pd.notna(extra)):
            out[p].update(extra[p])
        reasons = {"unknown": "a deciding value is unknown (None in the snapshot)",
                   "manual": "manual evidence: no attestation in the engagement",
                   "coverage_gap": "coverage gap: the collector could not read an input"}
        notes = f["note"].astype(str).to_numpy()
        for p in np.flatnonzero(notes != ""):
            out[p].setdefault("not_assessed_reason", reasons.get(notes[p], notes[p]))
        return out


def jsonable_records(ev: pd.DataFrame) -> list[dict[str, Any]]:
    ev = ev.copy()
    for c in ev.columns:
        s = ev[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s):
            ev[c] = s.map(lambda v: v.isoformat() if pd.notna(v) else None).astype(object)
        elif pd.api.types.is_float_dtype(s):
            ev[c] = s.astype(object).where(s.notna(), None)
        elif s.dtype == object:
            ev[c] = s.map(_plain)
        else:
            ev[c] = s.astype(object).where(s.notna(), None)
    return ev.to_dict("records")


def _plain(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def _as_of(as_of: date | datetime | str | None) -> pd.Timestamp:
    if as_of is None:
        return pd.Timestamp(datetime.now(UTC))
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    if isinstance(as_of, date) and not isinstance(as_of, datetime) or (isinstance(as_of, str) and len(as_of) == 10):
        ts = ts + pd.Timedelta(hours=23, minutes=59, seconds=59)  # end of the as-of day
    return ts.tz_convert("UTC")


def scope_mask(df: pd.DataFrame, store: str, scope: str) -> pd.Series:
    """Rows of a result frame inside a gap's store and scope ('' = the whole store)."""
    m = df["store"].eq(store)
    scope = (scope or "").strip()
    if not scope or scope == "*" or not m.any():
        return m
    res = df["resource"].astype(str)
    path = df["path"].fillna("").astype(str)
    hit = path.str.startswith(scope) | res.str.contains(scope, regex=False)
    parts = scope.split("/")
    if len(parts) == 2 and all(parts):
        hit |= res.str.contains(parts[0], regex=False) & res.str.contains(parts[1], regex=False)
    if any(ch in scope for ch in "*?["):
        rx = glob_to_regex(scope)
        hit |= path.str.match(rx) | res.str.match(rx)
    return m & hit


def _waiver_active(w: Waiver, as_of: pd.Timestamp) -> bool:
    return w.expires >= as_of.date()


def _waiver_dict(w: Waiver, active: bool) -> dict[str, Any]:
    return {"check": w.check, "resource": w.resource, "reason": w.reason, "approver": w.approver,
            "expires": w.expires.isoformat(), "active": active}


def run_assessment(
    snapshot: Snapshot,
    engagement: Engagement | None = None,
    as_of: date | datetime | str | None = None,
    only: list[str] | None = None,
) -> Assessment:
    """Evaluate every check (or ``only`` these ids/globs) against ``snapshot``."""
    eng = engagement or Engagement(client=snapshot.manifest.client or "client")
    thresholds = eng.thresholds
    ts = _as_of(as_of)
    catalog = load_catalog()
    selected = [c for c in catalog.values()
                if not only or any(fnmatch.fnmatch(c.id, o.upper()) for o in only)]
    classifier = Classifier(eng.classification, thresholds)
    frames = _frames(snapshot)
    items = classifier.inventory(frames, ts)
    env_cache: dict[str, str] = {}

    def classify_paths(paths: pd.Series) -> pd.Series:
        uniq = pd.Series(pd.unique(paths.fillna("").astype(str)))
        todo = uniq[~uniq.isin(env_cache.keys())]
        if len(todo):
            env_cache.update(zip(todo, classifier.environment_of_paths(todo.reset_index(drop=True))))
        return paths.fillna("").astype(str).map(env_cache)

    ctx = CheckContext(frames=frames, thresholds=thresholds, as_of=ts, items=items,
                       attestations=list(eng.attestations), classify_paths=classify_paths)
    gaps = snapshot.frame("coverage_gap")
    cores: list[pd.DataFrame] = []
    name_parts: list[pd.Series] = []
    ctx_state = _ContextState(items)
    evidence: dict[str, pd.DataFrame] = {}
    errors: list[str] = []
    for ci, c in enumerate(selected):
        try:
            res = c.fn(ctx)
            missing = [k for k in CORE if k not in res.columns]
            if missing:
                raise ValueError(f"result lacks columns {missing}")
        except Exception as e:  # a bug or unexpected data: never a silent pass
            errors.append(f"{c.id}: {type(e).__name__}: {e}")
            tb = traceback.format_exc(limit=3)
            res = pd.DataFrame({"resource": [f"check:{c.id}"], "store": ["engagement"],
                                "source": ["engagement"], "name": [c.name], "path": [""],
                                "passed": pd.array([pd.NA], dtype="boolean"),
                                "ev_error": [f"{type(e).__name__}: {e}"], "ev_trace": [tb[-500:]]})
        res = res.reset_index(drop=True)
        ev_cols = [k for k in res.columns if k.startswith("ev_")]
        evidence[c.id] = res[ev_cols].rename(columns=lambda k: k[3:])
        core = _core(ci, c, res)
        core = _apply_gaps(ci, c, core, gaps)
        core = _context(core, ctx_state, classifier, classify_paths)
        name_parts.append(core["resource_name"])
        cores.append(core.drop(columns=["resource_name", "path"]))
        del res, core
    findings = pd.concat(cores, ignore_index=True) if cores else _core(0, None, pd.DataFrame(columns=CORE)).drop(
        columns=["resource_name", "path"]).assign(env_code=np.int32(0), owner=None)
    del cores
    findings = _apply_waivers(findings, selected, eng.waivers, ts)
    findings = _finish(findings, selected, ctx_state)
    return Assessment(findings=findings, evidence=evidence, items=items, catalog=catalog,
                      thresholds=thresholds, as_of=ts, gaps=gaps, engagement=eng, errors=errors,
                      classifier=classifier, name_parts=name_parts)


_EMPTY: dict[str, pd.DataFrame] = {}


def _frames(snapshot: Snapshot) -> Any:
    """snapshot.frame, with one shared (read-only by convention) empty frame per absent table."""
    present = {t for t in snapshot.tables if snapshot.rows(t)}

    def frame(table: str) -> pd.DataFrame:
        if table in present:
            return snapshot.frame(table)
        if table not in _EMPTY:
            _EMPTY[table] = snapshot.frame(table) if table in snapshot.tables else empty_frame(table)
        return _EMPTY[table]

    return frame


PASS, FAIL, WAIVED, NA = range(4)
NOTES = ("", "unknown", "manual", "coverage_gap")


def _str(col: Any) -> pd.Series:
    s = col if isinstance(col, pd.Series) else pd.Series(col)
    return s if s.dtype == "str" else s.astype("str")


def _core(ci: int, c: Check | None, res: pd.DataFrame) -> pd.DataFrame:
    """Result rows with integer codes: check index, status (0..3) and note (0..3)."""
    n = len(res)
    passed = res["passed"].astype("boolean") if n else pd.Series([], dtype="boolean")
    na = passed.isna().to_numpy(dtype=bool)
    ok = passed.fillna(False).to_numpy(dtype=bool)
    status = np.where(na, NA, np.where(ok, PASS, FAIL)).astype(np.int8)
    note = np.where(na, 2 if (c is not None and c.manual) else 1, 0).astype(np.int8)
    return pd.DataFrame({
        "check_idx": np.full(n, ci, dtype=np.int16),
        "resource": _str(res["resource"]) if n else pd.Series([], dtype="str"),
        "store": _str(res["store"]) if n else pd.Series([], dtype="str"),
        "source": _str(res["source"]) if n else pd.Series([], dtype="str"),
        "resource_name": res["name"].reset_index(drop=True) if n else pd.Series([], dtype=object),
        "path": _str(res["path"].fillna("")) if n else pd.Series([], dtype="str"),
        "status_code": status,
        "note_code": note,
        "ev_row": np.arange(n, dtype=np.int64),
        "extra": np.full(n, None, dtype=object),
    })


def _apply_gaps(ci: int, c: Check, core: pd.DataFrame, gaps: pd.DataFrame) -> pd.DataFrame:
    if not len(gaps) or not c.inputs:
        return core
    rel = gaps[gaps["tables"].map(lambda t: bool(set(t) & set(c.inputs)))]
    if not len(rel):
        return core
    extra_rows = []
    hit_any = np.zeros(len(core), dtype=bool)
    gap_ids: dict[int, list[str]] = {}
    for g in rel.itertuples(index=False):
        m = scope_mask(core, g.store, g.scope).to_numpy(dtype=bool) if len(core) else np.zeros(0, dtype=bool)
        if m.any():
            for p in np.flatnonzero(m):
                gap_ids.setdefault(int(p), []).append(g.id)
            hit_any |= m
        elif g.source in c.sources:
            extra_rows.append(g)
    if hit_any.any():
        core = core.copy()
        status = core["status_code"].to_numpy().copy()
        extra = core["extra"].to_numpy().copy()
        for p, ids in gap_ids.items():
            extra[p] = {"coverage_gaps": ids, "verdict_without_gap": STATUSES[status[p]]}
        status[hit_any] = NA
        note = core["note_code"].to_numpy().copy()
        note[hit_any] = 3
        core["status_code"], core["note_code"], core["extra"] = status, note, extra
    if extra_rows:
        seen: set[str] = set()
        rows = []
        for g in extra_rows:
            rid = f"gap:{g.store}:{g.scope or '*'}"
            if rid in seen:
                continue
            seen.add(rid)
            rows.append({"check_idx": ci, "resource": rid, "store": g.store, "source": g.source,
                         "resource_name": g.scope or g.store, "path": g.scope or "",
                         "status_code": NA, "note_code": 3, "ev_row": -1,
                         "extra": {"coverage_gaps": [g.id], "operation": g.operation,
                                   "reason": g.reason, "tables": list(g.tables)}})
        add = pd.DataFrame(rows).astype({"check_idx": np.int16, "status_code": np.int8, "note_code": np.int8,
                                         "ev_row": np.int64, "resource": "str", "store": "str",
                                         "source": "str", "path": "str"})
        core = pd.concat([core, add], ignore_index=True)
    return core


def _apply_waivers(f: pd.DataFrame, selected: list[Check], waivers: list[Waiver], as_of: pd.Timestamp) -> pd.DataFrame:
    f["waiver"] = np.full(len(f), None, dtype=object)
    if not waivers or not len(f):
        return f
    status = f["status_code"].to_numpy().copy()
    waiver = f["waiver"].to_numpy().copy()
    extra = f["extra"].to_numpy().copy()
    ids = np.array([c.id for c in selected], dtype=object)
    res = f["resource"]
    failing = status == FAIL
    for w in waivers:
        check_ok = np.array([bool(re.match(glob_to_regex(w.check.upper()), i)) for i in ids])
        if not check_ok.any():
            continue
        m = check_ok[f["check_idx"].to_numpy()] & failing
        if not m.any():
            continue
        m &= res.str.match(glob_to_regex(w.resource)).fillna(False).to_numpy(dtype=bool)
        if not m.any():
            continue
        active = _waiver_active(w, as_of)
        d = _waiver_dict(w, active)
        for p in np.flatnonzero(m):
            if active:
                if status[p] == FAIL:
                    status[p] = WAIVED
                    waiver[p] = d
            else:
                e = dict(extra[p] or {})
                e.setdefault("waiver_expired", d)
                extra[p] = e
                if waiver[p] is None:
                    waiver[p] = d
    f["status_code"], f["waiver"], f["extra"] = status, waiver, extra
    return f


class _ContextState:
    """Inventory lookups shared by every check's rows: environment codes and owners."""

    def __init__(self, items: pd.DataFrame):
        self.cats: list[str] = []
        self.index: dict[str, int] = {}
        self.n_items = len(items)
        if self.n_items:
            ienv = pd.Categorical(items["environment"].astype(object))
            for c in ienv.categories:
                self.code(str(c))
            self.item_env = np.array([self.index[str(c)] for c in ienv.categories], dtype=np.int32)[ienv.codes]
            self.item_owner = items["owner"].to_numpy(dtype=object)
            # A pandas Index keeps its hash table: built once, probed by every check.
            ids = pd.Index(items["id"].astype(object))
            first = ~ids.duplicated()
            self.item_pos = np.flatnonzero(first)
            self.item_ids = ids[first]

    def code(self, env: str) -> int:
        if env not in self.index:
            self.index[env] = len(self.cats)
            self.cats.append(env)
        return self.index[env]


def _context(core: pd.DataFrame, st: _ContextState, classifier: Classifier, classify_paths: Any) -> pd.DataFrame:
    """Environment code and owner per row: from the inventory by id, else from the path."""
    n = len(core)
    env_codes = np.full(n, -1, dtype=np.int32)
    owner = np.full(n, None, dtype=object)
    if st.n_items and n:
        found_at = st.item_ids.get_indexer(core["resource"].astype(object))
        hit = found_at >= 0
        pos = np.full(n, -1, dtype=np.int64)
        pos[hit] = st.item_pos[found_at[hit]]
        env_codes[hit] = st.item_env[pos[hit]]
        ow = st.item_owner[pos[hit]]
        owner[hit] = np.where(pd.isna(ow), None, ow)
    engagement_rows = (core["source"] == "engagement").to_numpy(dtype=bool)
    if engagement_rows.any():
        env_codes[engagement_rows] = st.code("all")
    todo = np.flatnonzero(env_codes < 0)
    if len(todo):
        found = classify_paths(core["path"].iloc[todo].astype(object)).fillna("unknown")
        env_codes[todo] = found.map(st.code).to_numpy(dtype=np.int32)
    todo = np.flatnonzero(pd.isna(owner) & ~engagement_rows)
    if len(todo) and classifier.rules.owners:
        paths = core["path"].iloc[todo].astype(object)
        uniq = pd.Series(pd.unique(paths), dtype=object)
        frame = pd.DataFrame({"path": uniq, "name": uniq, "store": None, "tags": [{}] * len(uniq)})
        o, _ = classifier.owner(frame)
        owner[todo] = paths.map(dict(zip(uniq, o))).to_numpy(dtype=object)
    core["env_code"] = env_codes
    core["owner"] = owner
    return core


def _finish(f: pd.DataFrame, selected: list[Check], st: _ContextState) -> pd.DataFrame:
    """Codes -> categoricals."""
    n = len(f)
    codes = f["check_idx"].to_numpy()
    ids = [c.id for c in selected]
    out = pd.DataFrame({
        "check_id": pd.Categorical.from_codes(codes, categories=ids) if ids else pd.Categorical([]),
        "resource": f["resource"], "store": f["store"].astype("category"),
        "source": f["source"].astype("category"),
        "status": pd.Categorical.from_codes(f["status_code"].to_numpy(), categories=list(STATUSES)),
        "note": pd.Categorical.from_codes(f["note_code"].to_numpy(), categories=list(NOTES)),
        "ev_row": f["ev_row"], "extra": f["extra"], "waiver": f["waiver"],
    })
    sev = np.array([c.severity for c in selected] or ["info"], dtype=object)
    out["severity"] = pd.Categorical(sev[codes] if n else [], categories=list(SEVERITIES))
    out["stage"] = np.array([c.stage for c in selected] or [0], dtype=np.int8)[codes] if n else np.array([], dtype=np.int8)
    out["checklist_item"] = (np.array([c.checklist_item for c in selected] or [0], dtype=np.int8)[codes]
                             if n else np.array([], dtype=np.int8))
    cats = st.cats or ["unknown"]
    out["environment"] = pd.Categorical.from_codes(f["env_code"].to_numpy(dtype=np.int32) if n else [], categories=cats)
    out["owner"] = f["owner"]
    return out
