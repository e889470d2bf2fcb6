"""The check catalog: one declarative entry per check, plus its pure function.

A check is registered with `@check(...)` on a small function ``fn(ctx) -> DataFrame``
that reads snapshot DataFrames through `CheckContext` (no I/O) and returns one
row per assessed resource, built with `emit()`: ``resource, store, source,
name, path, passed`` plus evidence columns. ``passed`` is True, False or NA;
NA means "the deciding field is unknown" and becomes ``not_assessed``, with the
reason the check gives in ``emit(why_unknown=...)``.

The documentation (detects / why / fix, thresholds, controls) lives here and
nowhere else: ``catalog.json``, ``posture checks ID`` and the site all read it.

Check modules are imported by `load_catalog()`; ids are stable across
quarters (a retired check keeps its id reserved).
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from posture.model.engagement import Attestation
from posture.model.thresholds import Thresholds
from posture.model.vocabulary import CHECKLIST, SEVERITIES, SEVERITY_WEIGHT, STAGES  # noqa: F401 (re-exported)

# Anti-pattern rows and bullets the checks detect, named after their seed.
AP = {
    "hardcoded": "seed 001: Hardcoded secrets in source code",
    "long_lived_tokens": "seed 001: Long-lived static tokens (>30 days)",
    "shared_accounts": "seed 001: Shared service accounts",
    "no_rotation": "seed 001: No rotation policy",
    "ci_env": "seed 001: Secrets in environment variables on CI",
    "single_unseal": "seed 001: Single unseal key holder",
    "no_audit": "seed 001: No audit device configured",
    "wildcard": 'seed 001: Wildcard policies (path "*")',
    "env_files": "seed 003: Storing secrets in environment variables on disk (.env files in production)",
    "same_across_envs": "seed 003: Using the same secret across environments",
    "never_rotating": "seed 003: Never rotating secrets",
    "logging": "seed 003: Logging secrets (even by accident)",
    "sharing_services": "seed 003: Sharing secrets between services",
    "fm_ci": "seed 002 failure mode: Long-lived secrets in CI",
    "fm_cross_env": "seed 002 failure mode: One secret used across environments",
    "fm_consumers": "seed 002 failure mode: Secret rotated but consumers not updated",
    "fm_unreachable": "seed 002 failure mode: Vault unreachable = total outage",
    "fm_hsm": "seed 002 failure mode: HSM not used for KEK",
    "fm_anomaly": "seed 002 failure mode: No anomaly detection on vault",
    "arch_ha": "seed 001 architecture: HA with Raft storage",
    "arch_unseal": "seed 001 architecture: Auto-unseal with cloud KMS",
    "arch_audit": "seed 001 architecture: Dual audit devices (file + syslog)",
    "arch_ns": "seed 001 architecture: One namespace per environment",
    "images": "seed 000: Secrets embedded in container images or build artifacts",
    "team_password": "seed 000: Shared team password / same DB password everywhere",
    "owners": "seed 000: Owners named for each critical class",
    "engine_ttl": "seed 001: Secret engine TTL strategy",
    "rotation_table": "seed 001: Rotation strategy by secret type",
    "audit_signals": "seed 001: Anomaly detection signals",
    "orphaned": "seed 001 compliance reporting: Orphaned secrets",
    "leak_response": "seed 001 emergency procedures: Secret leak response",
    "aws_baseline": "AWS baseline (Prowler / AWS Config / Steampipe)",
}

# Control mappings: SOC 2 (TSC 2017), ISO/IEC 27001:2022 Annex A, PCI DSS v4.0, NIST SP 800-53 r5.
CONTROLS: dict[str, dict[str, list[str]]] = {
    "secrets_in_code": {"soc2": ["CC6.1", "CC8.1"], "iso27001": ["A.5.17", "A.8.4", "A.8.28"],
                        "pci_dss": ["8.6.2", "6.2.4"], "nist_800_53": ["IA-5(7)", "SA-11"]},
    "least_privilege": {"soc2": ["CC6.1", "CC6.3"], "iso27001": ["A.5.15", "A.5.18", "A.8.2"],
                        "pci_dss": ["7.2.1", "7.2.2"], "nist_800_53": ["AC-3", "AC-6"]},
    "rotation": {"soc2": ["CC6.1"], "iso27001": ["A.5.17", "A.8.24"],
                 "pci_dss": ["8.3.9", "8.6.3"], "nist_800_53": ["IA-5", "IA-5(1)"]},
    "key_management": {"soc2": ["CC6.1"], "iso27001": ["A.8.24"],
                       "pci_dss": ["3.6.1", "3.7.4"], "nist_800_53": ["SC-12", "SC-13"]},
    "certificates": {"soc2": ["CC6.7"], "iso27001": ["A.8.24"],
                     "pci_dss": ["4.2.1"], "nist_800_53": ["SC-8", "SC-17"]},
    "audit": {"soc2": ["CC7.2"], "iso27001": ["A.8.15"],
              "pci_dss": ["10.2.1", "10.2.2", "10.5.1"], "nist_800_53": ["AU-2", "AU-9", "AU-12"]},
    "monitoring": {"soc2": ["CC7.2", "CC7.3"], "iso27001": ["A.8.16"],
                   "pci_dss": ["10.4.1"], "nist_800_53": ["AU-6", "SI-4"]},
    "incident": {"soc2": ["CC7.3", "CC7.4", "CC7.5"], "iso27001": ["A.5.24", "A.5.26"],
                 "pci_dss": ["12.10.1"], "nist_800_53": ["IR-4", "IR-8"]},
    "inventory": {"soc2": ["CC6.1"], "iso27001": ["A.5.9", "A.5.12"],
                  "pci_dss": ["12.5.1"], "nist_800_53": ["CM-8", "RA-2"]},
    "availability": {"soc2": ["A1.2"], "iso27001": ["A.8.14"],
                     "pci_dss": ["12.10.1"], "nist_800_53": ["CP-10", "SC-24"]},
    "split_knowledge": {"soc2": ["CC6.1"], "iso27001": ["A.5.3", "A.8.24"],
                        "pci_dss": ["3.6.1.2", "3.7.6"], "nist_800_53": ["AC-5", "SC-12"]},
    "ci": {"soc2": ["CC8.1"], "iso27001": ["A.8.25", "A.8.32"],
           "pci_dss": ["6.5.3", "8.6.2"], "nist_800_53": ["SA-15", "IA-5(7)"]},
    "env_separation": {"soc2": ["CC6.1"], "iso27001": ["A.8.31"],
                       "pci_dss": ["6.5.3", "6.5.4"], "nist_800_53": ["AC-4", "SC-7"]},
    "mfa": {"soc2": ["CC6.1"], "iso27001": ["A.8.5"],
            "pci_dss": ["8.4.1", "8.4.2"], "nist_800_53": ["IA-2(1)", "IA-2(2)"]},
    "identity": {"soc2": ["CC6.2"], "iso27001": ["A.5.16"],
                 "pci_dss": ["8.2.1", "8.2.2"], "nist_800_53": ["AC-2", "IA-2", "IA-4"]},
    "unused_credentials": {"soc2": ["CC6.2"], "iso27001": ["A.5.18"],
                           "pci_dss": ["8.2.6"], "nist_800_53": ["AC-2(3)"]},
    "public_access": {"soc2": ["CC6.1", "CC6.6"], "iso27001": ["A.8.3"],
                      "pci_dss": ["7.2.1"], "nist_800_53": ["AC-3", "AC-6"]},
    "encryption_at_rest": {"soc2": ["CC6.1"], "iso27001": ["A.8.24"],
                           "pci_dss": ["3.5.1"], "nist_800_53": ["SC-28", "SC-28(1)"]},
    "emergency_access": {"soc2": ["CC6.1", "CC6.3"], "iso27001": ["A.8.2", "A.5.18"],
                         "pci_dss": ["7.2.5"], "nist_800_53": ["AC-2(2)", "AC-14"]},
    "backup": {"soc2": ["A1.2", "A1.3"], "iso27001": ["A.8.13"],
               "pci_dss": ["12.10.2"], "nist_800_53": ["CP-4", "CP-9"]},
    "log_redaction": {"soc2": ["CC7.2"], "iso27001": ["A.8.11", "A.8.15"],
                      "pci_dss": ["3.3.1", "6.2.4"], "nist_800_53": ["AU-9", "SI-11"]},
    "ownership": {"soc2": ["CC1.3", "CC6.1"], "iso27001": ["A.5.2", "A.5.9"],
                  "pci_dss": ["12.5.1", "3.6.1"], "nist_800_53": ["CM-8(4)", "PM-5"]},
}


def controls_for(*bundles: str) -> dict[str, list[str]]:
    """Union of control bundles, order kept, no duplicates."""
    out: dict[str, list[str]] = {"soc2": [], "iso27001": [], "pci_dss": [], "nist_800_53": []}
    for b in bundles:
        for fw, ids in CONTROLS[b].items():
            out[fw].extend(i for i in ids if i not in out[fw])
    return out


@dataclass
class CheckContext:
    """What a check function may read: frames, thresholds, the as-of time, classified items,
    and the engagement's business timezone (where ``business_hours`` are local)."""

    frames: Callable[[str], pd.DataFrame]
    thresholds: Thresholds
    as_of: pd.Timestamp
    items: pd.DataFrame
    attestations: list[Attestation] = field(default_factory=list)
    classify_paths: Callable[[pd.Series], pd.Series] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    business_timezone: str = "UTC"

    def frame(self, table: str) -> pd.DataFrame:
        return self.frames(table)

    def age_days(self, ts: pd.Series) -> pd.Series:
        """Whole days from ``ts`` to as-of (float, NaN when unknown)."""
        return (self.as_of - pd.to_datetime(ts, utc=True)).dt.total_seconds() / 86_400

    def env_of(self, paths: pd.Series) -> pd.Series:
        if self.classify_paths is None:
            return pd.Series("unknown", index=paths.index)
        return self.classify_paths(paths)


CheckFn = Callable[[CheckContext], pd.DataFrame]


@dataclass(frozen=True)
class Check:
    """One catalog entry. ``title_template`` may name thresholds (``{orphaned_secret_days}``):
    titles are rendered with the engagement's thresholds in an assessment, the defaults elsewhere."""

    id: str
    name: str
    title_template: str
    stage: int
    checklist_item: int
    anti_pattern: str
    severity: str
    inputs: tuple[str, ...]
    sources: tuple[str, ...]
    thresholds: tuple[str, ...]
    detects: str
    why: str
    fix: str
    controls: dict[str, list[str]]
    fn: CheckFn
    attestation: str | None = None
    references: tuple[str, ...] = ()

    @property
    def stage_name(self) -> str:
        return STAGES[self.stage]

    def title_for(self, thresholds: Thresholds | None = None) -> str:
        """The title with ``thresholds`` (default: the seeds') filled in."""
        return self.title_template.format_map((thresholds or Thresholds()).model_dump())

    @property
    def title(self) -> str:
        """The title with the default thresholds (``posture checks``, docs)."""
        return self.title_for()

    @property
    def checklist_text(self) -> str:
        return CHECKLIST[self.checklist_item]

    @property
    def manual(self) -> bool:
        return self.attestation is not None

    def doc(self, thresholds: Thresholds | None = None) -> dict[str, Any]:
        """The catalog.json entry (also the site's check page), rendered with ``thresholds``."""
        t = (thresholds or Thresholds()).model_dump()
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title_template.format_map(t),
            "stage": self.stage,
            "stage_name": self.stage_name,
            "checklist_item": self.checklist_item,
            "checklist_text": self.checklist_text,
            "anti_pattern": self.anti_pattern,
            "severity": self.severity,
            "detects": self.detects,
            "why": self.why,
            "fix": self.fix,
            "thresholds": {k: t[k] for k in self.thresholds},
            "controls": self.controls,
            "inputs": list(self.inputs),
            "sources": list(self.sources),
            "manual": self.manual,
            "attestation": self.attestation,
            "references": list(self.references),
        }


REGISTRY: dict[str, Check] = {}

def _check_modules() -> tuple[str, ...]:
    """Every ``checks/*_checks.py`` module: a new store's checks register by existing."""
    import pkgutil

    import checks

    return tuple(sorted(f"checks.{m.name}" for m in pkgutil.iter_modules(checks.__path__)
                        if m.name.endswith("_checks")))


MODULES = _check_modules()


def check(
    id: str,
    title: str,
    *,
    stage: int,
    item: int,
    anti_pattern: str,
    severity: str,
    inputs: tuple[str, ...],
    sources: tuple[str, ...],
    detects: str,
    why: str,
    fix: str,
    controls: tuple[str, ...],
    thresholds: tuple[str, ...] = (),
    attestation: str | None = None,
    references: tuple[str, ...] = (),
    name: str | None = None,
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under a stable id. The function name is the check name."""

    def deco(fn: CheckFn) -> CheckFn:
        register(Check(
            id=id, name=name or fn.__name__, title_template=title, stage=stage, checklist_item=item,
            anti_pattern=AP.get(anti_pattern, anti_pattern), severity=severity, inputs=inputs,
            sources=sources, thresholds=thresholds, detects=detects.strip(), why=why.strip(),
            fix=fix.strip(), controls=controls_for(*controls), fn=fn, attestation=attestation,
            references=references,
        ))
        return fn

    return deco


def title_fields(template: str) -> set[str]:
    """Threshold names a title template refers to (``{business_hours[0]}`` -> business_hours)."""
    return {re.split(r"[.\[]", f)[0] for _, f, _, _ in string.Formatter().parse(template) if f}


def register(c: Check) -> None:
    assert re.fullmatch(r"[A-Z][A-Z0-9]{1,3}\d{3}", c.id), f"check id {c.id!r} is not a literal like VLT001"
    assert c.id not in REGISTRY, f"duplicate check id {c.id}"
    assert c.severity in SEVERITIES and c.stage in STAGES and c.checklist_item in CHECKLIST, c.id
    assert c.name.replace("_", "").isalnum() and c.name == c.name.lower(), c.name
    assert title_fields(c.title_template) <= set(c.thresholds), f"{c.id}: title names a threshold it does not list"
    c.title_for()  # a template that does not render fails at import, not in a report
    REGISTRY[c.id] = c


def load_catalog() -> dict[str, Check]:
    """Import every check module once; return checks ordered by id."""
    for m in MODULES:
        importlib.import_module(m)
    return dict(sorted(REGISTRY.items()))


def find(id_or_name: str) -> Check | None:
    cat = load_catalog()
    key = id_or_name.strip()
    if key.upper() in cat:
        return cat[key.upper()]
    return next((c for c in cat.values() if c.name == key), None)


# --- helpers for check functions --------------------------------------------------

RESULT_COLUMNS = ("resource", "store", "source", "name", "path", "passed")


def emit(df: pd.DataFrame, passed: Any, *, resource: Any = None, name: Any = None,
         path: Any = None, why_unknown: Any = None, **evidence: Any) -> pd.DataFrame:
    """One result row per row of ``df``; ``passed`` may hold NA (unknown -> not_assessed).

    ``why_unknown`` (a string, or a Series such as `because` builds) names the
    missing input where ``passed`` is NA, in words the consultant acts on ("no
    audit log was read for store core"); the engine makes it the result's
    ``not_assessed_reason``. Columns stay pandas Series (no round trip through
    Python objects), so a million rows cost milliseconds, not seconds.
    """
    n = len(df)
    idx = df.index

    def col(v: Any, default: str | None) -> pd.Series:
        if v is None:
            if default is not None and default in df.columns:
                return df[default].reset_index(drop=True)
            return pd.Series(np.full(n, None, dtype=object))
        if isinstance(v, pd.Series):
            return (v if v.index.equals(idx) else v.reindex(idx)).reset_index(drop=True)
        if np.isscalar(v):
            return pd.Series(np.full(n, v, dtype=object))
        return pd.Series(np.asarray(v) if not isinstance(v, (pd.Index, pd.api.extensions.ExtensionArray)) else v)

    if isinstance(passed, (bool, np.bool_)):
        ok = pd.Series(np.full(n, bool(passed)), dtype="boolean")
    else:
        ok = col(passed, None).astype("boolean")
    out = {
        "resource": col(resource, "id"),
        "store": col(None, "store"),
        "source": col(None, "source"),
        "name": col(name, "name"),
        "path": col(path, "path") if (path is not None or "path" in df.columns) else col(name, "name"),
        "passed": ok,
    }
    if why_unknown is not None:
        out["why_unknown"] = col(why_unknown, None).astype(object).where(ok.isna().to_numpy(), None)
    for k, v in evidence.items():
        out[f"ev_{k}"] = col(v, None)
    return pd.DataFrame(out)


def because(*cases: tuple[Any, Any]) -> pd.Series:
    """Per row, the reason of the first ``(condition, reason)`` that holds (None where none does).

    The ``why_unknown`` of a check with several undecidable inputs:
    ``because((rot.isna(), "rotation settings could not be read"), (age.isna(), "no creation date"))``.
    A reason may be a string or a Series (``"no audit log for store " + df["store"]``).
    """
    index = next(c.index for c, _ in cases if isinstance(c, pd.Series))
    conds = [np.asarray(c, dtype=bool) for c, _ in cases]
    choices = [np.asarray(r.reindex(index) if isinstance(r, pd.Series) else np.full(len(index), r, dtype=object),
                          dtype=object) for _, r in cases]
    return pd.Series(np.select(conds, choices, default=None), index=index, dtype=object)


def empty_result() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="boolean" if c == "passed" else object)
                         for c in RESULT_COLUMNS})


def na_if(cond_unknown: pd.Series, passed: pd.Series) -> pd.Series:
    """``passed`` with NA where the deciding input is unknown (say why with ``emit(why_unknown=)``)."""
    out = pd.array(passed.to_numpy(dtype=bool, na_value=False), dtype="boolean")
    out[np.asarray(cond_unknown, dtype=bool)] = pd.NA
    return pd.Series(out, index=passed.index)


def as_list(v: Any) -> list[Any]:
    """A list-valued snapshot cell as a list (frames hold lists, tuples or arrays; a missing cell is [])."""
    return list(v) if isinstance(v, (list, tuple, np.ndarray)) else []


def list_len(s: pd.Series) -> pd.Series:
    return s.map(lambda v: len(v) if isinstance(v, (list, tuple, np.ndarray)) else 0)


def stores_of(ctx: CheckContext, source: str) -> pd.DataFrame:
    """One row per server record of ``source`` (a Vault cluster / an AWS account)."""
    srv = ctx.frame("server")
    return srv[srv["source"] == source]


def attestation_for(ctx: CheckContext, item: str) -> Attestation | None:
    """Newest attestation for ``item`` (scope ignored here; scope is shown in evidence)."""
    found = [a for a in ctx.attestations if a.item == item]
    return max(found, key=lambda a: a.date) if found else None


def as_of_date(ctx: CheckContext) -> date:
    return ctx.as_of.date()
