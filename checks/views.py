"""Derived views the seeds ask for: access model, rotation plan, leak cards, cross-env reach.

All are lists of flat dicts (JSON-ready) computed from the snapshot and the
assessment; nothing here reads a secret value.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from checks.classify import glob_to_regex
from checks.engine import Assessment, _plain
from posture.model.snapshot import Snapshot

ROTATION_METHOD = {
    "db-password": "Dual-account swap (A/B rotation), or dynamic database credentials",
    "api-key": "Generate new, deprecate old (overlap window)",
    "tls": "ACME or Vault PKI (graceful reload)",
    "ssh": "Vault-signed SSH certificates (CA-based)",
    "token": "Dynamic generation (short-lived)",
    "encryption-key": "Key versioning (rewrap)",
    "signing-key": "New key version, keep old for verification (kid rotation)",
    "cloud-access-key": "Replace with a role; else create second key, deploy, delete old",
    "oauth-client-secret": "Generate new client secret, overlap window, revoke old",
    "webhook-secret": "Per-integration secret, overlap window",
    "generic": "Rotate at the source, update the store, overlap window",
}

REVOKE_FIRST = {
    "secretsmanager": "aws secretsmanager rotate-secret --secret-id {arn} (and disable the old value at the provider)",
    "ssm_parameter": "rotate at the provider, then aws ssm put-parameter --overwrite --name {path}",
    "kv2": "rotate at the provider, write the new version (bao kv put {path}), then bao kv destroy the leaked version",
    "kv1": "rotate at the provider, overwrite {path}",
    "database_role": "bao lease revoke -prefix {path}",
    "certificate": "revoke the certificate (ACM / bao write pki/revoke serial_number=...) and reissue",
    "access_key": "aws iam update-access-key --status Inactive --access-key-id {name}, then delete",
    "key": "disable the key version / schedule rotation; rewrap data under a new version",
    "token": "bao token revoke -accessor <accessor>",
}


def _policy_regex(path: str) -> str:
    """Vault ACL path glob -> regex ('+' one segment, trailing '*' prefix)."""
    out = ""
    for i, ch in enumerate(path):
        if ch == "*" and i == len(path) - 1:
            out += ".*"
        elif ch == "*":
            out += "[^/]*"
        elif ch == "+":
            out += "[^/]+"
        else:
            out += re.escape(ch)
    return f"^{out}$"


def _policy_lookup(policies: pd.DataFrame) -> dict[tuple[str, str], str]:
    look: dict[tuple[str, str], str] = {}
    for pid, store, name in zip(policies["id"], policies["store"], policies["name"]):
        look[(store, pid)] = pid
        look[(store, name)] = pid
    return look


def bindings(snap: Snapshot) -> pd.DataFrame:
    """principal -> policy id, from auth roles, Vault entities/groups, IAM principals and tokens."""
    pol = snap.frame("policy")
    look = _policy_lookup(pol)
    rows: list[dict[str, Any]] = []

    def add(store: str, source: str, pid: str, name: str, kind: str, via: str, policies: Any) -> None:
        for p in policies if isinstance(policies, (list, np.ndarray)) else []:
            key = look.get((store, p))
            if key:
                rows.append({"principal_id": pid, "principal": name, "principal_kind": kind,
                             "via": via, "store": store, "source": source, "policy_id": key})

    r = snap.frame("auth_role")
    for t in r[["id", "store", "source", "method", "name", "policies"]].itertuples(index=False):
        add(t.store, t.source, t.id, f"{t.method}:{t.name}", f"vault_{t.method}_role", "auth_role", t.policies)
    p = snap.frame("principal")
    for t in p[["id", "store", "source", "kind", "name", "policies"]].itertuples(index=False):
        add(t.store, t.source, t.id, t.name, t.kind, "principal", t.policies)
    tk = snap.frame("token")
    for t in tk[["id", "store", "source", "display_name", "policies"]].itertuples(index=False):
        add(t.store, t.source, t.id, t.display_name or t.id, "vault_token", "token", t.policies)
    for t in pol[pol["attached_to"].notna()][["id", "store", "source", "attached_to", "kind"]].itertuples(index=False):
        if t.kind in ("iam_managed", "iam_inline", "trust"):
            rows.append({"principal_id": t.attached_to, "principal": t.attached_to.rsplit("/", 1)[-1],
                         "principal_kind": "iam", "via": "attachment", "store": t.store,
                         "source": t.source, "policy_id": t.id})
    cols = ["principal_id", "principal", "principal_kind", "via", "store", "source", "policy_id"]
    return pd.DataFrame(rows, columns=cols).drop_duplicates()


def access_model(a: Assessment, snap: Snapshot) -> pd.DataFrame:
    """principals -> permissions -> secret paths (+ environment; justification to be supplied)."""
    rules = snap.frame("policy_rule")
    b = bindings(snap)
    cols = ["principal", "principal_kind", "principal_id", "via", "store", "source", "policy",
            "policy_id", "path", "capabilities", "effect", "environment", "justification"]
    if not len(rules):
        return pd.DataFrame(columns=cols)
    r = rules[["policy_id", "policy", "path", "capabilities", "effect", "principals"]]
    m = b.merge(r, on="policy_id", how="inner")
    # resource-policy principals (KMS key / secret policies) bind directly
    direct = rules[rules["principals"].map(len).gt(0)].explode("principals")
    if len(direct):
        m = pd.concat([m, pd.DataFrame({
            "principal_id": direct["principals"], "principal": direct["principals"],
            "principal_kind": "resource_policy_principal", "via": "resource_policy",
            "store": direct["store"], "source": direct["source"], "policy_id": direct["policy_id"],
            "policy": direct["policy"], "path": direct["path"], "capabilities": direct["capabilities"],
            "effect": direct["effect"], "principals": None})], ignore_index=True)
    if not len(m):
        return pd.DataFrame(columns=cols)
    m["environment"] = a.classifier.environment_of_paths(m["path"].astype(object)) if a.classifier else "unknown"
    m["justification"] = None
    return m[cols].sort_values(["store", "principal", "policy", "path"]).reset_index(drop=True)


def rotation_plan(a: Assessment) -> pd.DataFrame:
    """Next due date per item, from its type's rotation period (or TLS expiry) and its age."""
    it = a.items
    t = a.thresholds
    cols = ["id", "table", "store", "name", "path", "environment", "secret_type", "lifecycle_class",
            "owner", "last_rotated_at", "max_age_days", "next_due", "days_until_due", "status", "method"]
    if not len(it):
        return pd.DataFrame(columns=cols)
    it = it[~it["lifecycle_class"].eq("workload-identity")].copy()
    rd = t.rotation_days
    it["max_age_days"] = it["secret_type"].map(rd).fillna(rd.get("generic", 90)).astype(float)
    it.loc[it["table"].eq("key") & it["kind"].eq("transit"), "max_age_days"] = float(t.transit_rotation_days)
    it.loc[it["table"].eq("key") & it["kind"].eq("kms"), "max_age_days"] = float(t.kms_rotation_days)
    it.loc[it["table"].eq("access_key"), "max_age_days"] = float(t.access_key_max_days)
    basis = it["last_rotated_at"].fillna(it["created_at"])
    due = basis + pd.to_timedelta(it["max_age_days"], unit="D")
    tls = it["secret_type"].eq("tls") & it["expires_at"].notna()
    due = due.where(~tls, it["expires_at"] - pd.Timedelta(days=t.tls_renew_before_days))
    it["next_due"] = due
    it["days_until_due"] = ((due - a.as_of).dt.total_seconds() / 86_400).round(1)
    dyn = it["lifecycle_class"].eq("dynamic-short-lived")
    it["status"] = np.select(
        [dyn, it["days_until_due"].isna(), it["days_until_due"].lt(0), it["days_until_due"].le(t.due_soon_days)],
        ["dynamic", "unknown", "overdue", "due_soon"], default="ok")
    it.loc[dyn, ["next_due", "days_until_due"]] = [pd.NaT, np.nan]
    it["method"] = it["secret_type"].map(ROTATION_METHOD).fillna(ROTATION_METHOD["generic"])
    order = {"overdue": 0, "due_soon": 1, "unknown": 2, "ok": 3, "dynamic": 4}
    it = it.assign(_o=it["status"].map(order)).sort_values(["_o", "days_until_due", "id"])
    return it[cols].reset_index(drop=True)


def _readers_by_policy(am: pd.DataFrame, paths: pd.Series, stores: pd.Series) -> list[list[str]]:
    """For each secret path, principals whose allow rules with read match it."""
    out: list[set[str]] = [set() for _ in range(len(paths))]
    if not len(am):
        return [[] for _ in out]
    read = am[am["effect"].eq("allow") & am["capabilities"].map(
        lambda c: any(x in ("read", "*") or x.startswith(("secretsmanager:Get", "ssm:Get", "kms:Decrypt", "secretsmanager:*"))
                      for x in c))]
    p = paths.fillna("").astype(str).reset_index(drop=True)
    st = stores.reset_index(drop=True)
    kv2 = p.str.replace(r"^([^/]+/)", r"\1data/", regex=True)
    for (store, path), grp in read.groupby(["store", "path"]):
        rx = _policy_regex(path) if not path.startswith("arn:") and path != "*" else glob_to_regex(path)
        hit = (st == store) & (p.str.match(rx) | kv2.str.match(rx))
        names = sorted(set(grp["principal"]))
        for i in np.flatnonzero(hit.to_numpy()):
            out[i].update(names)
    return [sorted(s) for s in out]


def leak_cards(a: Assessment, snap: Snapshot, am: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Seed 001 emergency steps 1-6 made concrete per critical secret."""
    it = a.items
    if not len(it) or not it["critical"].any():
        return []
    crit = it[it["critical"].astype(bool)].reset_index(drop=True)
    am = access_model(a, snap) if am is None else am
    can_read = _readers_by_policy(am, crit["path"], crit["store"])
    from checks.audit_checks import secret_access
    from checks.catalog import CheckContext

    ctx = CheckContext(frames=snap.frame, thresholds=a.thresholds, as_of=a.as_of, items=a.items)
    acc = secret_access(ctx)
    did_read = acc.groupby("secret_id")["principal"].agg(lambda x: sorted(set(x))).to_dict() if len(acc) else {}
    t = snap.frame("token")
    cards = []
    for i, row in crit.iterrows():
        kind = row["kind"] if row["table"] == "secret" else row["table"]
        revoke = REVOKE_FIRST.get(kind, REVOKE_FIRST["kv2"]).format(
            arn=row.get("arn") or row["id"], path=row["path"], name=row["name"])
        readers = can_read[i]
        used_by = did_read.get(row["id"], [])
        tokens = sorted(set(t[t["display_name"].isin(readers + used_by)]["accessor_hash"])) if len(t) else []
        has_pager = isinstance(row["pager"], str) and bool(row["pager"])
        pager = row["pager"] if has_pager else "UNKNOWN - nobody is paged (add a pager to the owner rule)"
        owner = row["owner"] if isinstance(row["owner"], str) else "UNOWNED"
        notify = [x for x in (owner, pager if has_pager else None, "security team",
                              "compliance" if row["data_class"] == "regulated" else None) if x]
        cards.append({
            "id": row["id"], "name": row["name"], "store": row["store"], "source": row["source"],
            "path": row["path"], "environment": row["environment"], "secret_type": row["secret_type"],
            "data_class": row["data_class"], "lifecycle_class": row["lifecycle_class"],
            "owner": owner, "pager": pager, "revoke_first": revoke,
            "principals_can_read": readers, "principals_did_read": used_by,
            "tokens_to_revoke": tokens,
            "steps": [
                f"1. Identify scope: {row['id']} ({row['secret_type']}, {row['environment']}); where it leaked "
                "(repo, log, ticket, third party) and since when.",
                f"2. Revoke immediately: {revoke}.",
                f"3. Invalidate tokens: revoke the {len(tokens)} token(s) and sessions of "
                f"{len(set(readers) | set(used_by))} principal(s) that can or did read it.",
                "4. Audit blast radius: query the audit logs for reads of this path in the exposure "
                f"window (readers seen: {', '.join(used_by[:5]) or 'none in the logs'}).",
                f"5. Notify: page {pager}; inform {', '.join(notify)}.",
                "6. Post-mortem: root cause, control changes, update this card.",
            ],
            "target_minutes": a.thresholds.time_to_revoke_minutes,
        })
    return [_plain(c) for c in cards]


def cross_env(a: Assessment, snap: Snapshot, am: pd.DataFrame | None = None) -> pd.DataFrame:
    """Policies and principals whose allowed paths span prod and non-prod (or all, via wildcards)."""
    am = access_model(a, snap) if am is None else am
    rules = snap.frame("policy_rule")
    cols = ["kind", "id", "name", "store", "environments", "prod_paths", "nonprod_paths"]
    if not len(rules):
        return pd.DataFrame(columns=cols)
    from checks.catalog import CheckContext
    from checks.vault_checks import policy_environments

    ctx = CheckContext(frames=snap.frame, thresholds=a.thresholds, as_of=a.as_of, items=a.items,
                       classify_paths=a.classifier.environment_of_paths if a.classifier else None)
    allow = rules[rules["effect"].eq("allow")]
    allow = allow.assign(env=policy_environments(ctx, allow)).dropna(subset=["env"])
    out = []

    def spans(envs: set[str]) -> bool:
        return "*" in envs or ("prod" in envs and len(envs - {"prod"}) > 0)

    for (pid, name, store), g in allow.groupby(["policy_id", "policy", "store"]):
        envs = set(g["env"])
        if spans(envs):
            out.append({"kind": "policy", "id": pid, "name": name, "store": store,
                        "environments": sorted(envs),
                        "prod_paths": sorted(g[g["env"].isin(["prod", "*"])]["path"])[:20],
                        "nonprod_paths": sorted(g[~g["env"].isin(["prod"])]["path"])[:20]})
    b = bindings(snap)
    if len(b):
        env_of = allow.groupby("policy_id")["env"].agg(set)
        paths_of = allow.groupby("policy_id").apply(lambda g: list(zip(g["env"], g["path"])), include_groups=False)
        for (pid, name, store), g in b.groupby(["principal_id", "principal", "store"]):
            envs: set[str] = set()
            pairs: list[tuple[str, str]] = []
            for pol in g["policy_id"]:
                envs |= env_of.get(pol, set())
                pairs += paths_of.get(pol, [])
            if spans(envs) and len(set(g["policy_id"])) > 0:
                out.append({"kind": "principal", "id": pid, "name": name, "store": store,
                            "environments": sorted(envs),
                            "prod_paths": sorted({p for e, p in pairs if e in ("prod", "*")})[:20],
                            "nonprod_paths": sorted({p for e, p in pairs if e != "prod"})[:20]})
    return pd.DataFrame(out, columns=cols)


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame -> list of JSON-ready dicts (timestamps ISO, NaN -> null)."""
    from checks.engine import jsonable_records

    return [_plain(r) for r in jsonable_records(df.reset_index(drop=True))] if len(df) else []
