"""Derived views the seeds ask for: access model, rotation plan, leak cards, cross-env reach.

Computed from the snapshot and the assessment; nothing here reads a secret
value. Each view's columns are its row model's fields (`posture.model.assessment`),
which the exporter validates every row against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from checks.classify import glob_to_regex
from checks.engine import Assessment, _plain
from posture.model.acl import ACL, Rule
from posture.model.assessment import (
    NOBODY_PAGED,
    UNOWNED,
    AccessRow,
    CrossEnvRow,
    LeakCard,
    RotationRow,
)
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
    # Declared inventory (#17): held where no store API reaches, so every written-down copy goes too
    "declared": "rotate it at its issuer, then delete every copy of the old value where it is written "
                "down (inventory row {path}: its storage today)",
    "database_role": "bao lease revoke -prefix {path}",
    # Azure Key Vault, GCP Secret Manager, Kubernetes (#16): each store's own way to replace a value
    "azure_keyvault_secret": "rotate at the provider, add the new value as a new version (az keyvault secret "
                             "set --vault-name {vault} --name {name}), then disable the leaked version (az "
                             "keyvault secret set-attributes --vault-name {vault} --name {name} --version "
                             "<leaked> --enabled false)",
    "gcp_secret": "rotate at the provider, add the new value (gcloud secrets versions add {name} --project "
                  "{project}{location} --data-file=-), then disable and destroy the leaked version (gcloud "
                  "secrets versions destroy <leaked> --secret {name} --project {project}{location})",
    "kubernetes_secret": "rotate at the provider, replace the Secret (kubectl -n {namespace} create secret ... "
                         "{name} --dry-run=client -o yaml | kubectl apply -f -), restart its consumers (kubectl -n "
                         "{namespace} rollout restart ...); etcd backups still hold the old value",
    "certificate": "revoke the certificate at its issuing CA (CRL / OCSP) and reissue",
    "certificate:vault": "bao write pki/revoke serial_number={serial}, then reissue",
    "certificate:aws": "reissue in ACM (imported: revoke at the issuing CA and import the new one), then "
                       "delete the old certificate",
    "certificate:azure": "create a new version (az keyvault certificate create --vault-name {vault} --name "
                         "{name}) and revoke the old one at its issuing CA",
    "access_key": "aws iam update-access-key --status Inactive --access-key-id {name}, then delete",
    "key": "disable the key version / schedule rotation; rewrap data under a new version",
    "token": "bao token revoke -accessor <accessor>",
}
#: When the kit knows no command for an item's kind: store-neutral, never another store's CLI.
REVOKE_ANY = "rotate it at the provider, replace the stored value, then disable or delete the leaked one"


def _azure_vault(item_id: str, path: str) -> str:
    """The Key Vault an item is in: from its ARM id (``.../vaults/<vault>/...``), else ``<vault>/<item>``."""
    marker = "/providers/Microsoft.KeyVault/vaults/"
    if marker in item_id:
        return item_id.split(marker, 1)[1].split("/", 1)[0]
    return path.split("/", 1)[0] if "/" in path else "<vault>"


def revoke_first(row: Any) -> str:
    """The store's own first containment command for an item (a leak card's step 1, a rotation
    plan's revocation path). Keyed by secret kind, then table and source; an item of a kind the
    kit has no command for gets the store-neutral `REVOKE_ANY`, never another store's CLI."""
    table, source = row.get("table"), row.get("source")
    kind = row.get("kind") if table == "secret" else table
    template = REVOKE_FIRST.get(f"{kind}:{source}") or REVOKE_FIRST.get(kind or "") or REVOKE_ANY
    path = row.get("path") if isinstance(row.get("path"), str) else ""
    name = row.get("name") if isinstance(row.get("name"), str) else ""
    parts = path.split("/")
    arn = row.get("arn") if isinstance(row.get("arn"), str) and row.get("arn") else row.get("id")
    serial = row.get("serial") if isinstance(row.get("serial"), str) and row.get("serial") else (
        str(row.get("id")).rsplit("/cert/", 1)[1] if "/cert/" in str(row.get("id")) else "<serial>")  # Vault PKI ids
    fields = {
        "arn": arn, "path": path, "serial": serial,
        # a Key Vault item's name is its ARM id's last segment (a certificate's label is its subject)
        "name": (str(row.get("id")).rsplit("/", 1)[-1] if "/providers/Microsoft.KeyVault/vaults/" in str(row.get("id"))
                 else name.rsplit("/", 1)[-1] or name),
        # Key Vault paths and names are "<vault>/<item>"; Secret Manager's "projects/<p>[/locations/<l>]/...";
        # Kubernetes' "<namespace>/<name>"
        "vault": _azure_vault(str(row.get("id") or ""), path or name),
        "project": parts[1] if len(parts) > 1 and parts[0] == "projects" else "<project>",
        "location": f" --location {parts[3]}" if len(parts) > 3 and parts[2] == "locations" else "",
        "namespace": parts[0] if len(parts) > 1 else "<namespace>",
    }
    return template.format(**fields)


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
    cols = list(AccessRow.model_fields)
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
    m["justification"] = justifications(m, a.engagement.access_justifications)
    return m[cols].sort_values(["store", "principal", "policy", "path"]).reset_index(drop=True)


def justifications(grants: pd.DataFrame, rules: list[Any]) -> pd.Series:
    """Each grant's justification from the engagement (first rule whose policy, principal and
    path globs all match), None where no rule matches: a grant nobody justified."""
    out = pd.Series([None] * len(grants), index=grants.index, dtype=object)
    for r in rules:
        hit = out.isna()
        for col, glob in (("policy", r.policy), ("principal", r.principal), ("path", r.path)):
            hit &= grants[col].astype(str).str.match(glob_to_regex(glob)).fillna(False)
        out[hit] = r.justification
    return out


def rotation_plan(a: Assessment) -> pd.DataFrame:
    """Next due date per item, from its type's rotation period (or TLS expiry) and its age,
    with the seed method it rotates by: ordered steps, overlap window, revocation path.

    General class: every scheduled credential. The due date is last rotated (else created)
    plus the type's maximum age, or for a TLS certificate with a known expiry that expiry
    minus ``tls_renew_before_days`` (seed 001: "60 days before expiry"); with neither date
    the item is ``unknown`` and has no due date (a date is never invented). Dynamic
    credentials get a row saying so and no due date. The methods, steps and revocation
    paths are the seeds' (`checks.rotation_steps`); the periods and overlap lengths are the
    assessment's thresholds.
    """
    from checks.rotation_steps import method_for, numbered

    it = a.items
    t = a.thresholds
    cols = list(RotationRow.model_fields)
    if not len(it):
        return pd.DataFrame(columns=cols)
    it = it[~it["lifecycle_class"].eq("workload-identity") & it["item_class"].eq("secret")].copy()
    if not len(it):
        return pd.DataFrame(columns=cols)
    rd = t.rotation_days
    it["max_age_days"] = it["secret_type"].map(rd).fillna(rd.get("generic", 90)).astype(float)
    it.loc[it["secret_type"].eq("tls"), "max_age_days"] = float(rd.get("tls", t.pki_leaf_max_days))
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
    it["due_basis"] = np.select(
        [dyn, tls, it["last_rotated_at"].notna(), it["created_at"].notna()],
        ["dynamic: issued per request", f"certificate expiry - {t.tls_renew_before_days} d",
         "last rotated + max age", "created + max age"], default="unknown: no rotation or creation date")
    it.loc[dyn, ["next_due", "days_until_due"]] = [pd.NaT, np.nan]
    methods = [method_for(st, lc) for st, lc in zip(it["secret_type"], it["lifecycle_class"])]
    it["method"] = [_method_text(m, st) for m, st in zip(methods, it["secret_type"])]
    it["rotation_method"] = [m.key for m in methods]
    it["steps"] = [numbered(m.steps) for m in methods]
    it["overlap_window"] = [m.overlap for m in methods]
    it["seed"] = [m.seed for m in methods]
    it["overlap_days"] = [_overlap_days(t, m.key, st) for m, st in zip(methods, it["secret_type"])]
    it["revocation_path"] = [_revocation_path(m.revocation, row) for m, row in
                             zip(methods, it.to_dict("records"))]
    it["pager"] = it["pager"].where(it["pager"].map(lambda p: isinstance(p, str) and bool(p)), None)
    order = {"overdue": 0, "due_soon": 1, "unknown": 2, "ok": 3, "dynamic": 4}
    it = it.assign(_o=it["status"].map(order)).sort_values(["_o", "days_until_due", "id"])
    return it[cols].reset_index(drop=True)


def _method_text(m: Any, secret_type: str) -> str:
    """The seed method's name; the overlap-window types the seed table does not list keep
    their own wording (`ROTATION_METHOD`), and a static token is told to become dynamic."""
    if m.key != "overlap-window" or secret_type == "api-key":
        return m.method
    if secret_type == "token":
        return f"{m.method}; better, dynamic generation (seed 001: service tokens 24 hours)"
    return ROTATION_METHOD.get(secret_type, ROTATION_METHOD["generic"])


def _overlap_days(t: Any, method: str, secret_type: str) -> float | None:
    """The planned overlap window in days: a TLS certificate overlaps its successor for the
    renew-before period, an SSH certificate lives its TTL, a dynamic credential needs none,
    every other type takes ``rotation_overlap_days``."""
    if method == "dynamic":
        return None
    if method == "tls-renewal":
        return float(t.tls_renew_before_days)
    if method == "ssh-ca":
        return round(t.ssh_max_ttl_hours / 24, 3)
    od = t.rotation_overlap_days
    return float(od.get(secret_type, od.get("generic", 7)))


def _revocation_path(seed_path: str, row: dict[str, Any]) -> str:
    """The seed's revocation path for the type, then the store's own command for this item
    (`REVOKE_FIRST`, as the leak cards name it) where the kit knows one."""
    cmd = revoke_first(row)
    return seed_path if cmd == REVOKE_ANY else f"{seed_path} Here: {cmd}."


def _read_paths(items: pd.DataFrame, snap: Snapshot) -> pd.Series:
    """The one request path that reads each item: a store secret's exact API path
    (`checks.vault_reach.secret_api_paths`, from the mount its record carries), else its path."""
    from checks.vault_reach import secret_api_paths

    s = snap.frame("secret")
    mount = items["id"].map(s.drop_duplicates("id").set_index("id")["mount"]) if len(s) else None
    rows = pd.DataFrame({"kind": items["kind"], "name": items["name"], "path": items["path"],
                         "mount": mount.where(items["table"].eq("secret"), None) if mount is not None else None},
                        index=items.index)
    return secret_api_paths(rows)


#: Sources whose readers `_readers_by_policy` judges per item. Elsewhere the store's own reader
#: checks say who can read (named here for the card); a declared item's holders no API shows.
READERS_JUDGED = ("vault", "aws")
READER_CHECKS = {"azure": "AZK006 and AZK007", "gcp": "GSM002 and GSM003", "kubernetes": "K8S001"}


def readers_unknown(source: str) -> str | None:
    """Why a card of ``source`` cannot list who can read its secret, or None when it can."""
    if source in READERS_JUDGED:
        return None
    if source in READER_CHECKS:
        return f"not computed per item for {source} stores; see {READER_CHECKS[source]}"
    return "unknown: no store API shows who holds it"


def _readers_by_policy(am: pd.DataFrame, paths: pd.Series, stores: pd.Series) -> list[list[str]]:
    """For each item's read path (`_read_paths`), principals whose policies let them read it.

    A Vault principal is judged by the ACL of all its policies together (Vault priority,
    deny overlays: `posture.model.acl`) on that exact path only, so a deny on
    ``secret/data/prod/*`` is never undone by a ``secret/*`` rule matching some other
    spelling of the path; an AWS principal by its allow statements with a read action
    whose resource glob matches.
    """
    out: list[set[str]] = [set() for _ in range(len(paths))]
    if not len(am):
        return [[] for _ in out]
    p = paths.fillna("").astype(str).reset_index(drop=True)
    st = stores.reset_index(drop=True)
    vault = am["source"].eq("vault")
    holders: dict[tuple[str, frozenset[Rule]], set[str]] = {}  # principals sharing one rule set
    for (store, _), grp in am[vault].groupby(["store", "principal_id"]):
        rules = frozenset(Rule.of(x, c) for x, c in zip(grp["path"], grp["capabilities"]))
        holders.setdefault((store, rules), set()).update(grp["principal"])
    api_paths = p.tolist()
    for (store, rules), names in holders.items():
        acl = ACL.from_rules(rules)
        for i in np.flatnonzero(st.eq(store).to_numpy()):
            if acl.allows(api_paths[i], "read"):
                out[i].update(names)
    read = am[~vault & am["effect"].eq("allow") & am["capabilities"].map(
        lambda c: any(x == "*" or x.startswith(("secretsmanager:Get", "ssm:Get", "kms:Decrypt", "secretsmanager:*"))
                      for x in c))]
    for (store, path), grp in read.groupby(["store", "path"]):
        rx = glob_to_regex(path)
        hit = (st == store) & p.str.match(rx)
        names = sorted(set(grp["principal"]))
        for i in np.flatnonzero(hit.to_numpy()):
            out[i].update(names)
    return [sorted(s) for s in out]


def leak_cards(a: Assessment, snap: Snapshot, am: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Seed 001 emergency steps 1-6 made concrete per critical secret (`LeakCard` rows).

    An unknown owner or pager is null in the card (a reader needs no sentinel
    to recognise); the steps spell it out for the person reading them at 3am.
    """
    it = a.items
    if not len(it) or not it["critical"].any():
        return []
    crit = it[it["critical"].astype(bool)].reset_index(drop=True)
    am = access_model(a, snap) if am is None else am
    can_read = _readers_by_policy(am, _read_paths(crit, snap), crit["store"])
    from checks.audit_checks import secret_access
    from checks.catalog import CheckContext

    ctx = CheckContext(frames=snap.frame, thresholds=a.thresholds, as_of=a.as_of, items=a.items)
    acc = secret_access(ctx)
    did_read = acc.groupby("secret_id")["principal"].agg(lambda x: sorted(set(x))).to_dict() if len(acc) else {}
    t = snap.frame("token")
    cards = []
    for i, row in crit.iterrows():
        revoke = revoke_first(row)
        readers = can_read[i]
        unjudged = readers_unknown(str(row["source"]))
        used_by = did_read.get(row["id"], [])
        tokens = sorted(set(t[t["display_name"].isin(readers + used_by)]["accessor_hash"])) if len(t) else []
        pager = row["pager"] if isinstance(row["pager"], str) and row["pager"] else None
        owner = row["owner"] if isinstance(row["owner"], str) else None
        notify = [x for x in (owner or UNOWNED, pager, "security team",
                              "compliance" if row["data_class"] == "regulated" else None) if x]
        cards.append({
            "id": row["id"], "name": row["name"], "store": row["store"], "source": row["source"],
            "path": row["path"], "environment": row["environment"], "secret_type": row["secret_type"],
            "data_class": row["data_class"], "lifecycle_class": row["lifecycle_class"],
            "owner": owner, "pager": pager, "revoke_first": revoke,
            "principals_can_read": readers, "readers_unknown": unjudged, "principals_did_read": used_by,
            "tokens_to_revoke": tokens,
            "steps": [
                f"1. Identify scope: {row['id']} ({row['secret_type']}, {row['environment']}); where it leaked "
                "(repo, log, ticket, third party) and since when.",
                f"2. Revoke immediately: {revoke}.",
                f"3. Invalidate tokens: revoke the {len(tokens)} token(s) and sessions of "
                f"{len(set(readers) | set(used_by))} principal(s) that can or did read it"
                + (f" (who can read it: {unjudged})." if unjudged else "."),
                "4. Audit blast radius: query the audit logs for reads of this path in the exposure "
                f"window (readers seen: {', '.join(used_by[:5]) or 'none in the logs'}).",
                f"5. Notify: page {pager or NOBODY_PAGED}; inform {', '.join(notify)}.",
                "6. Post-mortem: root cause, control changes, update this card.",
            ],
            "target_minutes": a.thresholds.time_to_revoke_minutes,
        })
    return [LeakCard.model_validate(_plain(c)).model_dump(mode="json") for c in cards]


def cross_env(a: Assessment, snap: Snapshot, am: pd.DataFrame | None = None) -> pd.DataFrame:
    """Policies and principals whose grants reach secrets of two or more environments.

    Vault: the judgement of VLT008 (`checks.vault_reach.EnvironmentReach`), on the merged
    ACL of one policy, or of all a principal's policies together (a deny in one of them
    overlays the others' grants). AWS: per allow statement, the environment its resource
    names, every one (``*``) for a wildcard resource. ``am`` is accepted for symmetry with
    the other views and not needed here.
    """
    rules = snap.frame("policy_rule")
    cols = list(CrossEnvRow.model_fields)
    if not len(rules):
        return pd.DataFrame(columns=cols)
    from checks.catalog import CheckContext
    from checks.engine import _without_configuration
    from checks.vault_reach import EnvironmentReach

    frames, items = _without_configuration(snap.frame, a.items)
    ctx = CheckContext(frames=frames, thresholds=a.thresholds, as_of=a.as_of, items=items,
                       classify_paths=a.classifier.environment_of_paths if a.classifier else None)
    vault = rules[rules["source"].eq("vault")]
    reach = EnvironmentReach(ctx, vault)
    aws = _aws_rule_environments(ctx, rules[~rules["source"].eq("vault") & rules["effect"].eq("allow")])
    out = []
    cache: dict[tuple[str, frozenset[str]], dict[str, list[str]]] = {}

    def found_for(store: str, policy_ids: frozenset[str]) -> dict[str, list[str]]:
        if (store, policy_ids) not in cache:
            found = reach.reach(store, vault[vault["policy_id"].isin(policy_ids)])
            for env, path in zip(*(aws[aws["policy_id"].isin(policy_ids)][c] for c in ("env", "path"))):
                found.setdefault(env, []).append(path)
            cache[(store, policy_ids)] = found
        return cache[(store, policy_ids)]

    def add(kind: str, rid: str, name: str, store: str, found: dict[str, list[str]]) -> None:
        if len(found) >= 2 or "*" in found:
            out.append({"kind": kind, "id": rid, "name": name, "store": store, "environments": sorted(found),
                        "prod_paths": sorted({p for e in ("prod", "*") for p in found.get(e, [])})[:20],
                        "nonprod_paths": sorted({p for e, ps in found.items() if e != "prod" for p in ps})[:20]})

    for (pid, name, store), _ in rules.groupby(["policy_id", "policy", "store"]):
        add("policy", pid, name, store, found_for(store, frozenset([pid])))
    b = bindings(snap)
    for (pid, name, store), g in b.groupby(["principal_id", "principal", "store"]) if len(b) else ():
        add("principal", pid, name, store, found_for(store, frozenset(g["policy_id"])))
    return pd.DataFrame(out, columns=cols)


def _aws_rule_environments(ctx: Any, allow: pd.DataFrame) -> pd.DataFrame:
    """AWS allow statements with the environment their resource names (``*`` for a wildcard
    resource naming none; other statements naming none are dropped)."""
    env = ctx.env_of(allow["path"].astype(object)).astype(object)
    wild = allow["wildcard"].astype(bool) | allow["wildcard_all"].astype(bool)
    env = env.where(env.ne("unknown"), np.where(wild, "*", None))
    return allow.assign(env=env).dropna(subset=["env"])


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame -> list of JSON-ready dicts (timestamps ISO, NaN -> null)."""
    from checks.engine import jsonable_records

    return [_plain(r) for r in jsonable_records(df.reset_index(drop=True))] if len(df) else []
