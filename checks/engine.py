"""Run the catalog over a snapshot: one row per (check, resource) with a status.

Status rules, in order:

0. **Configuration is not scored.** Checks read the inventory and the
   ``secret`` table without the items the classifier judged configuration
   (`checks.classify.Classifier.item_class`); the inventory keeps them.
1. The check function says pass (True), fail (False) or unknown (NA ->
   ``not_assessed``, note ``unknown``). Manual checks without an attestation
   are ``not_assessed`` with note ``manual``. Every not_assessed row carries a
   ``not_assessed_reason`` naming the missing input: the check's
   ``why_unknown``, the coverage gap (operation, reason, scope), the missing
   attestation, or the check's error.
2. **Coverage gaps.** A gap whose ``tables`` intersect the check's inputs, in
   the resource's store and scope, turns the row into ``not_assessed`` (note
   ``coverage_gap``; the original verdict stays in the evidence). A row whose
   resource is the store itself (its ``server`` record: a Vault cluster, an AWS
   account) aggregates the whole store, so every such gap of the store touches
   it, whatever its scope (`store_level_mask`). A gap that matches no row (a
   whole table missing for a store) adds a ``not_assessed`` row of its own, so
   a missing table is never silently "no findings".
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
from posture.model.vocabulary import GAP_REASONS

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

    def evidence_records(self, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
        """One evidence dict per findings row (JSON-ready values), or per row of ``rows``
        (positions). A not_assessed row always has a ``not_assessed_reason``."""
        f = self.findings
        pos = np.arange(len(f)) if rows is None else np.asarray(rows, dtype=np.int64)
        out: list[dict[str, Any]] = [{} for _ in range(len(pos))]
        codes = f["check_id"].cat.codes.to_numpy()[pos]
        ev_rows = f["ev_row"].to_numpy()[pos]
        for code, sel in pd.Series(codes).groupby(codes, sort=False).indices.items():
            ev = self.evidence.get(str(f["check_id"].cat.categories[code]))
            if ev is None or not len(ev.columns):
                continue
            wanted = ev_rows[sel]
            keep = wanted[wanted >= 0]
            recs = dict(zip(keep.tolist(), jsonable_records(ev.iloc[keep]))) if len(keep) else {}
            for i, r in zip(sel, wanted.tolist()):
                if r >= 0:
                    out[i] = dict(recs[r])
        extra = f["extra"].to_numpy()[pos]
        for i in np.flatnonzero(pd.notna(extra)):
            out[i].update(extra[i])
        notes = f["note"].astype(str).to_numpy()[pos]
        for i in np.flatnonzero(notes != ""):
            if not out[i].get("not_assessed_reason"):
                out[i]["not_assessed_reason"] = _undecided_reason(out[i])
        return out

    def not_assessed_reasons(self) -> pd.Series:
        """``not_assessed_reason`` of every not_assessed row (indexed like ``findings``)."""
        na = np.flatnonzero((self.findings["status"].astype(str) == "not_assessed").to_numpy())
        recs = self.evidence_records(na)
        return pd.Series([r["not_assessed_reason"] for r in recs], index=self.findings.index[na], dtype=object)


def _undecided_reason(evidence: dict[str, Any]) -> str:
    """A check that gave no ``why_unknown``: name the evidence fields the snapshot left empty."""
    empty = [k for k, v in evidence.items() if v is None and k != "not_assessed_reason"]
    if empty:
        return "the snapshot has no value for " + ", ".join(empty[:4]) + " of this resource"
    return "the check could not decide from what the snapshot holds for this resource"


def gap_reason(g: Any, inputs: tuple[str, ...] = ()) -> str:
    """The words for a coverage gap: what was not read, why, where (e.g. ``coverage gap: denied
    on secretsmanager:ListSecrets in 123/eu-west-1 of store main; secret not read``)."""
    tables = [t for t in g.tables if not inputs or t in inputs] or list(g.tables)
    where = f"{g.scope} of store {g.store}" if g.scope else f"all of store {g.store}"
    why = GAP_REASONS.get(g.reason, "")
    return (f"coverage gap: {g.reason} on {g.operation} in {where}; {', '.join(tables)} not read"
            + (f" ({why})" if why else ""))


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


def store_level_mask(df: pd.DataFrame, servers: pd.DataFrame, store: str, scope: str) -> np.ndarray:
    """Rows of a result frame that are a server record of ``store`` which a gap in ``scope`` touches.

    General class: a per-store aggregate ("one Vault serves prod and non-prod",
    "no multi-region trail") is decided from every scope of its store, so a gap
    anywhere in the store on its inputs leaves it unknown. Where a store holds
    several servers (an AWS store's accounts), a scope under one server's
    address (``<account>/<region>``) is that server's alone.
    """
    mine = servers[servers["store"].eq(store)]
    if not len(mine) or not len(df):
        return np.zeros(len(df), dtype=bool)
    scope = (scope or "").strip()
    owner = [sid for sid, addr in zip(mine["id"], mine["address"].fillna("").astype(str))
             if addr and (scope == addr or scope.startswith(addr + "/"))]
    return (df["store"].eq(store) & df["resource"].isin(owner or list(mine["id"]))).to_numpy(dtype=bool)


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
    frames, secrets = _without_configuration(frames, items, classifier.folded)
    env_cache: dict[str, str] = {}

    def classify_paths(paths: pd.Series) -> pd.Series:
        uniq = pd.Series(pd.unique(paths.fillna("").astype(str)))
        todo = uniq[~uniq.isin(env_cache.keys())]
        if len(todo):
            env_cache.update(zip(todo, classifier.environment_of_paths(todo.reset_index(drop=True))))
        return paths.fillna("").astype(str).map(env_cache)

    ctx = CheckContext(frames=frames, thresholds=thresholds, as_of=ts, items=secrets,
                       attestations=list(eng.attestations), classify_paths=classify_paths,
                       business_timezone=eng.business_timezone)
    gaps = snapshot.frame("coverage_gap")
    servers = frames("server")[["id", "store", "address"]]
    attested = {a.item for a in eng.attestations}
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
                                "why_unknown": [(f"the check failed to run ({type(e).__name__}: {e}); "
                                                 "not assessed until it is fixed")],
                                "ev_error": [f"{type(e).__name__}: {e}"], "ev_trace": [tb[-500:]]})
        res = res.reset_index(drop=True)
        ev_cols = [k for k in res.columns if k.startswith("ev_")]
        evidence[c.id] = res[ev_cols].rename(columns=lambda k: k[3:])
        core = _core(ci, c, res, attested)
        core = _apply_gaps(ci, c, core, gaps, servers)
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


def _without_configuration(frames: Any, items: pd.DataFrame, folded: frozenset[str] = frozenset(),
                           ) -> tuple[Any, pd.DataFrame]:
    """Frames and inventory as the checks see them: without configuration items, nor the
    declared rows folded into the observed item they name (``folded``, #17: one item, not two).

    General class: store items that are not secrets (hostnames, flags, URLs).
    Filtering here, once, means no secret check (rotation, SecureString, owner,
    pager, static DB password, orphaned, shared) has to remember to skip them.
    """
    config = items["item_class"].eq("configuration") & items["table"].eq("secret") if len(items) else None
    if (config is None or not config.any()) and not folded:
        return frames, items
    ids = (set(items.loc[config, "id"]) if config is not None else set()) | folded
    kept: dict[str, pd.DataFrame] = {}

    def frame(table: str) -> pd.DataFrame:
        if table != "secret":
            return frames(table)
        if table not in kept:
            s = frames(table)
            kept[table] = s[~s["id"].isin(ids)]
        return kept[table]

    return frame, items[~config] if config is not None else items


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


def _core(ci: int, c: Check | None, res: pd.DataFrame, attested: set[str] | None = None) -> pd.DataFrame:
    """Result rows with integer codes: check index, status (0..3) and note (0..3); the
    not_assessed reason of an NA row goes in ``extra``."""
    n = len(res)
    passed = res["passed"].astype("boolean") if n else pd.Series([], dtype="boolean")
    na = passed.isna().to_numpy(dtype=bool)
    ok = passed.fillna(False).to_numpy(dtype=bool)
    status = np.where(na, NA, np.where(ok, PASS, FAIL)).astype(np.int8)
    manual = c is not None and c.manual
    note = np.where(na, 2 if manual else 1, 0).astype(np.int8)
    extra = np.full(n, None, dtype=object)
    if na.any():
        given = res["why_unknown"].to_numpy(dtype=object) if "why_unknown" in res.columns else extra
        default = None
        if manual:
            default = (f"manual evidence: the '{c.attestation}' attestation does not record what this check needs"
                       if c.attestation in (attested or set()) else
                       f"manual evidence: the engagement has no '{c.attestation}' attestation")
        for p in np.flatnonzero(na):
            why = given[p] if isinstance(given[p], str) and given[p] else default
            if why:
                extra[p] = {"not_assessed_reason": why}
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
        "extra": extra,
    })


def _apply_gaps(ci: int, c: Check, core: pd.DataFrame, gaps: pd.DataFrame, servers: pd.DataFrame) -> pd.DataFrame:
    if not len(gaps) or not c.inputs:
        return core
    rel = gaps[gaps["tables"].map(lambda t: bool(set(t) & set(c.inputs)))]
    if not len(rel):
        return core
    extra_rows = []
    hit_any = np.zeros(len(core), dtype=bool)
    gap_ids: dict[int, list[str]] = {}
    first_gap: dict[int, Any] = {}
    store_rows = bool(len(core)) and bool(core["resource"].isin(servers["id"]).any())
    for g in rel.itertuples(index=False):
        m = scope_mask(core, g.store, g.scope).to_numpy(dtype=bool) if len(core) else np.zeros(0, dtype=bool)
        if store_rows:
            m = m | store_level_mask(core, servers, g.store, g.scope)
        if m.any():
            for p in np.flatnonzero(m):
                gap_ids.setdefault(int(p), []).append(g.id)
                first_gap.setdefault(int(p), g)
            hit_any |= m
        elif g.source in c.sources:
            extra_rows.append(g)
    if hit_any.any():
        core = core.copy()
        status = core["status_code"].to_numpy().copy()
        extra = core["extra"].to_numpy().copy()
        for p, ids in gap_ids.items():
            more = f" (+{len(ids) - 1} more gap(s))" if len(ids) > 1 else ""
            extra[p] = {"coverage_gaps": ids, "verdict_without_gap": STATUSES[status[p]],
                        "not_assessed_reason": gap_reason(first_gap[p], c.inputs) + more}
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
                                   "reason": g.reason, "tables": list(g.tables),
                                   "not_assessed_reason": gap_reason(g, c.inputs)}})
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
