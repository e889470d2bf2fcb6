"""Classification: item class, environment, secret type, owner, data class and lifecycle class.

Order of precedence for every attribute: the engagement's rules (first match
wins: globs on path or name, tag / custom-metadata values, store filter), then
the item's own tags, then defaults from the path and name. The item class
(`Classifier.item_class`) says whether a store item is a secret at all; a
configuration item is inventoried and never scored by secret checks. Lifecycle classes
follow seed 002's taxonomy: static long-lived, static short-lived, dynamic
short-lived, workload identity. Everything is vectorised (pandas string ops),
so a million items classify in seconds.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
import pandas as pd

from posture.model.engagement import Classification, MatchRule
from posture.model.secretlike import (
    has_secret_word,
    head_class,
    meaningful_tokens,
    name_class,
    store_item_class,
)
from posture.model.thresholds import Thresholds
from posture.model.vocabulary import critical_mask

LIFECYCLE_CLASSES = ("static-long-lived", "static-short-lived", "dynamic-short-lived", "workload-identity")
DATA_CLASSES = ("public", "internal", "confidential", "regulated")

_SEP = r"(?:^|[/:_.\-@ ])"
_END = r"(?:$|[/:_.\-@ ])"
DEFAULT_ENVIRONMENTS = (
    ("prod", r"prod|production|prd|live"),
    ("staging", r"staging|stage|stg|preprod|uat"),
    ("test", r"test|qa|ci"),
    ("dev", r"dev|development|sandbox|local"),
)
# Ordered: first match wins. Matched against "path name" lower-cased.
DEFAULT_TYPES = (
    ("tls", r"tls|ssl|cert|certificate|pem|crt"),
    ("ssh", r"ssh|id_rsa|id_ed25519"),
    ("signing-key", r"signing|jwt[-_]?key|jwks|sign[-_]key|gpg|pgp"),
    ("encryption-key", r"encryption|encrypt|kek|dek|master[-_]?key|aes|transit"),
    ("oauth-client-secret", r"oauth|client[-_]?secret"),
    ("webhook-secret", r"webhook|hmac"),
    ("db-password", r"db|database|postgres|postgresql|mysql|mariadb|mongo|mongodb|redis|rds|pg|sql"),
    ("cloud-access-key", r"aws[-_]?access|aws[-_]?secret|akia|gcp[-_]?sa|service[-_]?account[-_]?key"),
    ("token", r"token|bearer|pat|session"),
    ("api-key", r"api[-_]?key|apikey|key|secret[-_]?key|stripe|twilio|sendgrid|slack"),
)
DEFAULT_REGULATED = r"pci|card|cardholder|pan|pii|phi|hipaa|gdpr|ssn"
ITEM_CLASSES = ("secret", "configuration")


#: The database words of the db-password rule, for "the name is the database itself".
DB_WORDS = frozenset(dict(DEFAULT_TYPES)["db-password"].split("|"))
_CAMEL_RX = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Store kinds that hold secrets by definition (unless the engagement says otherwise).
#: Store item kinds that are secrets by the store they live in (unless named as configuration).
SECRET_STORE_KINDS = {"secretsmanager": "Secrets Manager secret", "kv1": "Vault KV secret",
                      "kv2": "Vault KV secret", "database_role": "Vault database role",
                      "azure_keyvault_secret": "Azure Key Vault secret",
                      "gcp_secret": "GCP Secret Manager secret",
                      "kubernetes_secret": "Kubernetes Secret",
                      "declared": "declared inventory item"}
WORKLOAD_METHODS = ("jwt", "oidc", "kubernetes", "aws", "gcp", "azure", "cert")


def glob_to_regex(glob: str) -> str:
    """fnmatch-style glob -> an RE2-compatible anchored regex ('*' any run, '?' one char, [..] class).

    (fnmatch.translate emits atomic groups, which pyarrow's RE2 rejects.)
    """
    out, i = "", 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out += ".*"
        elif ch == "?":
            out += "."
        elif ch == "[" and "]" in glob[i + 1:]:
            j = glob.index("]", i + 1)
            body = glob[i + 1:j]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
            i = j
        else:
            out += re.escape(ch)
        i += 1
    return f"^(?:{out})$"


def glob_regex(globs: list[str]) -> str:
    return "|".join(glob_to_regex(g) for g in globs)


SMALL = 4096  # below this many rows, Python's cached `re` beats pyarrow's per-call RE2 compile


@functools.lru_cache(maxsize=512)
def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _contains(s: pd.Series, pattern: str) -> pd.Series:
    if len(s) < SMALL:
        rx = _rx(pattern)
        return pd.Series([bool(rx.search(x)) if isinstance(x, str) else False for x in s], index=s.index)
    return s.str.contains(pattern, case=False, regex=True, na=False)


def _matches(s: pd.Series, pattern: str) -> pd.Series:
    if len(s) < SMALL:
        rx = _rx(pattern)
        return pd.Series([bool(rx.match(x)) if isinstance(x, str) else False for x in s], index=s.index)
    return s.str.match(pattern, case=False).fillna(False)


def _segment(words: str) -> str:
    return f"{_SEP}(?:{words}){_END}"


def _name_facts(text: pd.Series, todo: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per name (rows ``todo``), read as whole words: it ends in a configuration word
    (``db-host``, ``database-url-template``: a setting, whatever type words it holds), it
    holds a credential word (``db_password``, ``pg-creds``), it ends in a database word
    (``prod/payments/postgres``: that database's credential)."""
    setting, credential, db_head = (np.zeros(len(text), dtype=bool) for _ in range(3))
    values = text.to_numpy(dtype=object)
    for i in np.flatnonzero(todo):
        x = values[i]
        toks = meaningful_tokens(x) if isinstance(x, str) else []
        head = head_class(toks)
        setting[i] = head is not None and head[0] == "configuration"
        credential[i] = has_secret_word(toks)
        db_head[i] = bool(toks) and toks[-1] in DB_WORDS
    return setting, credential, db_head


def _words_text(text: pd.Series) -> pd.Series:
    """``text`` with camelCase boundaries made word separators (``dbHost`` -> ``db_Host``)."""
    vals = [x if not isinstance(x, str) or x.islower() else _CAMEL_RX.sub("_", x)
            for x in text.to_numpy(dtype=object)]
    return pd.Series(vals, index=text.index, dtype=object)


def rule_mask(rule: MatchRule, items: pd.DataFrame) -> pd.Series:
    """Rows of ``items`` (columns path, name, store, tags) that ``rule`` matches."""
    mask = pd.Series(True, index=items.index)
    if rule.match:
        rx = glob_regex(rule.match)
        mask &= _matches(items["path"], rx) | _matches(items["name"], rx)
    if rule.tags:
        want = dict(rule.tags)
        mask &= items["tags"].map(lambda d: bool(d) and all(d.get(k) == v for k, v in want.items()))
    if rule.stores:
        mask &= items["store"].isin(rule.stores)
    return mask.fillna(False).astype(bool)


def _apply_rules(items: pd.DataFrame, rules: list[Any], attr: str) -> pd.Series:
    out = pd.Series(None, index=items.index, dtype=object)
    for rule in rules:
        todo = out.isna()
        if not todo.any():
            break
        m = rule_mask(rule, items[todo])
        out.loc[m[m].index] = getattr(rule, attr)
    return out


def _lowered(tags: pd.Series) -> np.ndarray:
    """Tag dicts with lower-cased keys (None where empty), computed once per inventory."""
    return np.array([{str(k).lower(): v for k, v in d.items()} if d else None for d in tags.to_numpy(dtype=object)],
                    dtype=object)


def _from_tags(tags: pd.Series, keys: list[str], lowered: np.ndarray | None = None) -> pd.Series:
    """First non-empty value among ``keys`` (case-insensitive) in each row's tag dict."""
    out = pd.Series(None, index=tags.index, dtype=object)
    low = _lowered(tags) if lowered is None else lowered
    nonempty = np.fromiter((d is not None for d in low), dtype=bool, count=len(low))
    if not nonempty.any():
        return out
    want = [k.lower() for k in keys]
    out.iloc[np.flatnonzero(nonempty)] = [
        next((str(d[k]) for k in want if d.get(k)), None) for d in low[nonempty]]
    return out


def _normalise_env(s: pd.Series) -> pd.Series:
    low = s.astype(object).where(s.notna(), None)
    out = low.copy()
    m = low.notna()
    if m.any():
        txt = low[m].astype(str).str.lower()
        mapped = pd.Series(txt.to_numpy(), index=txt.index, dtype=object)
        for env, words in DEFAULT_ENVIRONMENTS:
            mapped[txt.str.fullmatch(words)] = env
        out[m] = mapped
    return out


def _low(items: pd.DataFrame, todo: pd.Series) -> np.ndarray | None:
    return items.loc[todo, "ltags"].to_numpy(dtype=object) if "ltags" in items.columns else None


def default_environment(text: pd.Series) -> pd.Series:
    conds = [_contains(text, _segment(words)) for _, words in DEFAULT_ENVIRONMENTS]
    return pd.Series(
        np.select(conds, [e for e, _ in DEFAULT_ENVIRONMENTS], default="unknown"), index=text.index
    )


class Classifier:
    """Applies an engagement's `Classification` with defaults."""

    def __init__(self, rules: Classification | None = None, thresholds: Thresholds | None = None):
        self.rules = rules or Classification()
        self.thresholds = thresholds or Thresholds()
        self.pagers: dict[str, str] = {r.owner: r.pager for r in self.rules.owners if r.pager}
        #: Ids of declared rows `fold_declarations` folded into an observed item (not items themselves).
        self.folded: frozenset[str] = frozenset()

    # --- single attributes (also used for findings on non-item resources) -------
    def environment(self, items: pd.DataFrame) -> pd.Series:
        env = _apply_rules(items, self.rules.environments, "environment")
        todo = env.isna()
        if todo.any():
            env[todo] = _normalise_env(_from_tags(items.loc[todo, "tags"], self.rules.environment_tag_keys,
                                                  _low(items, todo)))
        todo = env.isna()
        if todo.any():
            text = items.loc[todo, "path"].fillna("") + " " + items.loc[todo, "name"].fillna("")
            env[todo] = default_environment(text)
        return env.astype(object)

    def environment_of_paths(self, paths: pd.Series) -> pd.Series:
        frame = pd.DataFrame({"path": paths.astype(object), "name": paths.astype(object),
                              "store": None, "tags": [{}] * len(paths)}, index=paths.index)
        return self.environment(frame)

    def owner(self, items: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        owner = pd.Series(None, index=items.index, dtype=object)
        pager = pd.Series(None, index=items.index, dtype=object)
        for rule in self.rules.owners:
            todo = owner.isna()
            if not todo.any():
                break
            m = rule_mask(rule, items[todo])
            hit = m[m].index
            owner.loc[hit] = rule.owner
            pager.loc[hit] = rule.pager
        todo = owner.isna()
        if todo.any():
            owner[todo] = _from_tags(items.loc[todo, "tags"], self.rules.owner_tag_keys, _low(items, todo))
        if "owning_service" in items.columns:
            todo = owner.isna()
            owner[todo] = items.loc[todo, "owning_service"]
        if "declared_pager" in items.columns:  # declared inventory (#17): the row's own pager
            todo = pager.isna()
            pager[todo] = items.loc[todo, "declared_pager"]
        todo = pager.isna() & owner.notna()
        if todo.any() and self.pagers:
            pager[todo] = owner[todo].map(self.pagers)
        return owner, pager

    def item_class(self, items: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        """``secret`` or ``configuration`` per item, and the rule that decided (value-free).

        General class: store items that are not secrets (hostnames, ports, AMI
        ids, URLs, log levels, feature flags kept in Parameter Store or a KV
        store). In order: the engagement's ``classification.secrets`` then
        ``classification.configuration`` rules; keys, certificates, access keys,
        tokens and workload identities are credentials by their table; an SSM
        SecureString, a Secrets Manager secret, a Vault KV secret and a database
        role are secrets by their type or store kind, unless a store item's name
        says configuration (`posture.model.secretlike.store_item_class`); an SSM String/StringList is
        judged by its name's words (`posture.model.secretlike.name_class`). A
        String whose name decides nothing stays a secret (a hidden secret costs
        more than a noisy one); a StringList whose name decides nothing is
        configuration (lists hold hosts, subnets, allowed origins).
        """
        cls = pd.Series("secret", index=items.index, dtype=object)
        by = pd.Series(None, index=items.index, dtype=object)
        store_item = items["table"].eq("secret")
        by[~store_item] = "credential table " + items.loc[~store_item, "table"].astype(str)
        decided = ~store_item
        for label, value in (("secrets", "secret"), ("configuration", "configuration")):
            for i, rule in enumerate(getattr(self.rules, label)):
                todo = ~decided
                if not todo.any():
                    break
                m = rule_mask(rule, items[todo])
                hit = m[m].index
                cls[hit] = value
                by[hit] = f"engagement rule classification.{label}[{i}]"
                decided[hit] = True
        kind = items["kind"].fillna("").astype(str)
        ptype = items["parameter_type"] if "parameter_type" in items.columns else pd.Series(None, index=items.index)
        by_kind = ~decided & kind.isin(list(SECRET_STORE_KINDS))
        by[by_kind] = kind[by_kind].map(SECRET_STORE_KINDS)
        named_store = by_kind & ~kind.eq("database_role")
        for idx, path in zip(items.index[named_store], items.loc[named_store, "path"]):
            verdict = store_item_class(str(path or ""))
            if verdict is not None:
                cls[idx] = "configuration"
                by[idx] = f"{SECRET_STORE_KINDS[kind[idx]]} named as configuration ('{verdict[1]}')"
        secure = ~decided & kind.eq("ssm_parameter") & ptype.eq("SecureString")
        by[secure] = "SSM type SecureString"
        decided |= by_kind | secure
        named = ~decided & kind.eq("ssm_parameter")
        for idx, path, pt in zip(items.index[named], items.loc[named, "path"], ptype[named]):
            pt = pt if isinstance(pt, str) else "parameter"
            verdict = name_class(str(path or ""))
            if verdict is not None:
                cls[idx], by[idx] = verdict[0], f"SSM {pt} with name word '{verdict[1]}'"
            elif pt == "StringList":
                cls[idx], by[idx] = "configuration", "SSM StringList whose name names no secret"
            else:
                by[idx] = f"SSM {pt} whose name decides nothing (kept as a secret)"
        rest = ~(decided | named)
        by[rest] = "store item of kind " + kind[rest]
        return cls, by

    def secret_type(self, items: pd.DataFrame) -> pd.Series:
        t = _apply_rules(items, self.rules.secret_types, "type")
        todo = t.isna()
        if todo.any():
            t[todo] = _from_tags(items.loc[todo, "tags"], self.rules.type_tag_keys, _low(items, todo))
        todo = t.isna()
        if todo.any():
            sub = items[todo]
            text = _words_text(sub["path"].fillna("") + " " + sub["name"].fillna(""))
            conds = [_contains(text, _segment(words)) for _, words in DEFAULT_TYPES]
            typed = np.logical_or.reduce([c.to_numpy(dtype=bool) for c in conds])
            setting, credential, db_head = _name_facts(text, typed)
            db = [n for n, _ in DEFAULT_TYPES].index("db-password")
            conds[db] = conds[db] & (credential | db_head)
            guess = pd.Series(np.select(conds, [n for n, _ in DEFAULT_TYPES], default="generic"),
                              index=sub.index)
            guess[setting] = "generic"
            table = sub["table"]
            kind = sub["kind"].fillna("")
            guess[table == "certificate"] = "tls"
            guess[table == "access_key"] = "cloud-access-key"
            guess[table == "token"] = "token"
            usage = sub.get("usage", pd.Series("", index=sub.index)).fillna("").astype(str)
            is_key = table == "key"
            guess[is_key] = np.where(usage[is_key].str.contains("SIGN", case=False), "signing-key",
                                     "encryption-key")
            guess[kind == "database_role"] = "db-password"
            guess[table == "auth_role"] = "workload-identity"
            guess[table == "principal"] = "workload-identity"
            t[todo] = guess
        return t.astype(object)

    def data_class(self, items: pd.DataFrame, env: pd.Series) -> pd.Series:
        c = _apply_rules(items, self.rules.classes, "data_class")
        todo = c.isna()
        if todo.any():
            tagged = _from_tags(items.loc[todo, "tags"], ["data_class", "classification", "class"],
                                _low(items, todo))
            c[todo] = tagged.where(tagged.isin(DATA_CLASSES), None)
        todo = c.isna()
        if todo.any():
            text = items.loc[todo, "path"].fillna("") + " " + items.loc[todo, "name"].fillna("")
            regulated = _contains(text, _segment(DEFAULT_REGULATED))
            c[todo] = np.where(regulated, "regulated",
                               np.where(env[todo] == "prod", "confidential", "internal"))
        return c.astype(object)

    # --- the inventory ---------------------------------------------------------
    def inventory(self, frames: Any, as_of: pd.Timestamp) -> pd.DataFrame:
        """One row per credential-like item (secrets, keys, certificates, access keys,
        tokens, workload identities) with its classification and age."""
        base = self.fold_declarations(_base_items(frames))
        if base.empty:
            for c in ("item_class", "classified_by", "environment", "secret_type", "owner", "pager",
                      "data_class", "lifecycle_class", "age_days", "critical", "provenance", "declared_in"):
                base[c] = pd.Series(dtype=object)
            return base
        base["ltags"] = _lowered(base["tags"])
        base["item_class"], base["classified_by"] = self.item_class(base)
        env = self.environment(base)
        owner, pager = self.owner(base)
        stype = self.secret_type(base)
        dclass = self.data_class(base, env)
        base["environment"] = env
        base["secret_type"] = stype
        base["owner"] = owner
        base["pager"] = pager
        base["data_class"] = dclass
        base["lifecycle_class"] = lifecycle_class(base)
        basis = base["last_rotated_at"].fillna(base["created_at"])
        base["age_days"] = ((as_of - basis).dt.total_seconds() / 86_400).round(1)
        t = self.thresholds
        base = base.drop(columns=["ltags"])
        base["provenance"] = np.where(base["declared"].astype(bool), "declared", "observed")
        # Configuration pages nobody at 3am: never critical.
        base["critical"] = critical_mask(env, dclass, base["table"], t.critical_environments,
                                         t.critical_classes) & base["item_class"].eq("secret")
        return base

    # --- declared inventory (#17) ------------------------------------------------
    def _declared_tags(self, observed: dict[str, Any] | None, declared: dict[str, Any] | None) -> dict[str, Any]:
        """``observed`` tags with a declaration's owner, environment and class put where this
        engagement reads them (the first of its tag keys), replacing what the observed tags said."""
        out = dict(observed or {})
        for canonical, keys in (("owner", self.rules.owner_tag_keys),
                                ("environment", self.rules.environment_tag_keys),
                                ("secret_type", self.rules.type_tag_keys)):
            value = (declared or {}).get(canonical)
            if not value:
                continue
            low = {k.lower() for k in keys} | {canonical}
            out = {k: v for k, v in out.items() if str(k).lower() not in low}
            out[keys[0] if keys else canonical] = value
        for k, v in (declared or {}).items():
            if k not in ("owner", "environment", "secret_type"):
                out[k] = v  # the declared rotation policy (rotation_days)
        return out

    def fold_declarations(self, base: pd.DataFrame) -> pd.DataFrame:
        """Declared rows placed: a row with a ``ref`` naming an observed item adds to that item.

        General class: one secret known twice, once by a store and once by its owner.
        The declaration's owner, environment, class, pager, consumers and rotation
        policy go onto the observed item (the declaration wins where both speak; the
        engagement's rules still win over both), and the row is not a second item.
        The observed facts (dates, store, path) stay the store's. A ``ref`` naming no
        observed item keeps its row as a declared item: the client says it exists.
        ``declared_in`` names the declaring row (``store:row id``) on both kinds.
        """
        self.folded = frozenset()
        if base.empty or "declared" not in base.columns:
            return base
        declared = base["declared"].astype(bool)
        base["declared_in"] = pd.Series(None, index=base.index, dtype=object)
        if not declared.any():
            return base
        base.loc[declared, "declared_in"] = [  # STORE:ROW-ID of the record id inventory:STORE:ROW-ID
            f"{st}:{str(i).removeprefix(f'inventory:{st}:')}"
            for st, i in zip(base.loc[declared, "store"], base.loc[declared, "id"])]
        base.loc[declared, "tags"] = pd.Series(
            [self._declared_tags({}, t) for t in base.loc[declared, "tags"]], index=base.index[declared], dtype=object)
        refs = declared & base["declared_ref"].notna()
        if not refs.any():
            return base
        observed = base[~declared]
        target = pd.Series(observed.index, index=observed["id"].astype(str))
        target = target[~target.index.duplicated()]
        folded = []
        for i in base.index[refs]:
            t = target.get(str(base.at[i, "declared_ref"]))
            if t is None:
                continue
            row = base.loc[i]
            base.at[t, "tags"] = self._declared_tags(base.at[t, "tags"], row["tags"])
            if isinstance(row["declared_pager"], str):
                base.at[t, "declared_pager"] = row["declared_pager"]
            if pd.isna(base.at[t, "rotation_interval_days"]) and pd.notna(row["rotation_interval_days"]):
                base.at[t, "rotation_interval_days"] = row["rotation_interval_days"]
            base.at[t, "consumers"] = list(dict.fromkeys([*base.at[t, "consumers"], *row["consumers"]]))
            base.at[t, "declared_in"] = row["declared_in"]
            folded.append(i)
        self.folded = frozenset(base.loc[folded, "id"])
        return base.drop(index=folded).reset_index(drop=True)


def lifecycle_class(items: pd.DataFrame) -> pd.Series:
    """Seed 002's lifecycle taxonomy from kind, TTLs and rotation settings."""
    table, kind = items["table"], items["kind"].fillna("")
    ttl = pd.to_numeric(items["ttl_seconds"], errors="coerce")
    interval = pd.to_numeric(items["rotation_interval_days"], errors="coerce")
    rot = items["rotation_enabled"].fillna(False).astype(bool)
    validity = (items["expires_at"] - items["created_at"]).dt.total_seconds() / 86_400
    conds = [
        table.isin(["auth_role", "principal"]),
        kind.eq("database_role"),
        table.eq("token") & ttl.gt(0) & ttl.le(86_400),
        table.eq("token") & ttl.gt(0) & ttl.le(30 * 86_400),
        table.eq("certificate") & validity.le(90),
        table.eq("secret") & rot & interval.le(7),
    ]
    choices = ["workload-identity", "dynamic-short-lived", "dynamic-short-lived",
               "static-short-lived", "static-short-lived", "static-short-lived"]
    return pd.Series(np.select(conds, choices, default="static-long-lived"), index=items.index)


def _merge_tags(a: pd.Series, b: pd.Series) -> pd.Series:
    if not b.map(bool).any():
        return a
    return pd.Series([{**(x or {}), **(y or {})} for x, y in zip(a, b)], index=a.index)


_ITEM_COLUMNS = ("table", "id", "store", "source", "kind", "name", "path", "tags", "created_at",
                 "last_rotated_at", "expires_at", "rotation_enabled", "rotation_interval_days",
                 "ttl_seconds", "owning_service", "usage", "arn", "parameter_type")
#: Declared inventory (#17): what a declared row says beyond a store's fields (defaults for the rest).
_DECLARED_COLUMNS = {"declared": False, "declared_ref": None, "declared_pager": None, "consumers": (),
                     "storage": None}


def _declared(df: pd.DataFrame) -> dict[str, Any]:
    """The declared-inventory fields of a secret, key or certificate frame (absent: defaults)."""
    out: dict[str, Any] = {}
    for col, default in _DECLARED_COLUMNS.items():
        src = "pager" if col == "declared_pager" else col
        out[col] = (df[src] if src in df.columns
                    else pd.Series([list(default) if isinstance(default, tuple) else default] * len(df),
                                   index=df.index, dtype=object))
    return out


def _column(df: pd.DataFrame, col: str, default: Any = None) -> Any:
    return df[col] if col in df.columns else pd.Series([default] * len(df), index=df.index, dtype=object)


def _base_items(frames: Any) -> pd.DataFrame:
    parts: list[pd.DataFrame] = []
    ts = lambda s: pd.to_datetime(s, utc=True)
    s = frames("secret")
    if len(s):
        parts.append(pd.DataFrame({
            "table": "secret", "id": s["id"], "store": s["store"], "source": s["source"],
            "kind": s["kind"], "name": s["name"], "path": s["path"],
            "tags": _merge_tags(s["tags"], s["custom_metadata"]),
            "created_at": ts(s["created_at"]),
            "last_rotated_at": ts(s["last_rotated_at"].fillna(s["updated_at"])),
            "expires_at": ts(_column(s, "expires_at", pd.NaT)),
            "rotation_enabled": s["rotation_enabled"], "rotation_interval_days": s["rotation_interval_days"],
            "ttl_seconds": s["default_ttl"], "owning_service": s["owning_service"],
            "usage": None, "arn": s["arn"], "parameter_type": s["parameter_type"], **_declared(s),
        }))
    k = frames("key")
    if len(k):
        parts.append(pd.DataFrame({
            "table": "key", "id": k["id"], "store": k["store"], "source": k["source"],
            "kind": k["kind"], "name": k["name"], "path": k["aliases"].map(lambda a: a[0] if len(a) else None).fillna(k["name"]),
            "tags": k["tags"], "created_at": ts(k["created_at"]), "last_rotated_at": ts(k["last_rotated_at"]),
            "expires_at": ts(_column(k, "expires_at", pd.NaT)), "rotation_enabled": k["rotation_enabled"],
            "rotation_interval_days": k["rotation_period_days"], "ttl_seconds": None,
            "owning_service": None, "usage": k["usage"], "arn": k["arn"], **_declared(k),
        }))
    c = frames("certificate")
    if len(c):
        label = c["subject"].fillna(c["domains"].map(lambda d: d[0] if len(d) else None)).fillna(c["id"])
        parts.append(pd.DataFrame({
            "table": "certificate", "id": c["id"], "store": c["store"], "source": c["source"],
            "kind": "certificate", "name": label, "path": c["id"], "tags": _column(c, "tags", {}).map(lambda d: d or {}),
            "created_at": ts(c["not_before"]), "last_rotated_at": ts(c["not_before"]),
            "expires_at": ts(c["not_after"]), "rotation_enabled": c["managed_renewal"],
            "rotation_interval_days": _column(c, "rotation_interval_days"), "ttl_seconds": None,
            "owning_service": None, "usage": None, "arn": c["arn"], **_declared(c),
        }))
    a = frames("access_key")
    if len(a):
        parts.append(pd.DataFrame({
            "table": "access_key", "id": a["id"], "store": a["store"], "source": a["source"],
            "kind": np.where(a["is_root"].fillna(False), "root_access_key", "iam_access_key"),
            "name": a["key_id"], "path": a["principal"], "tags": [{}] * len(a),
            "created_at": ts(a["created_at"]), "last_rotated_at": ts(a["created_at"]),
            "expires_at": ts(pd.Series(pd.NaT, index=a.index)), "rotation_enabled": False,
            "rotation_interval_days": None, "ttl_seconds": None, "owning_service": None,
            "usage": None, "arn": None,
        }))
    t = frames("token")
    if len(t):
        parts.append(pd.DataFrame({
            "table": "token", "id": t["id"], "store": t["store"], "source": t["source"],
            "kind": np.where(t["root"].fillna(False), "root_token", "token"),
            "name": t["display_name"].fillna(t["accessor_hash"]), "path": t["path"].fillna(""),
            "tags": [{}] * len(t), "created_at": ts(t["creation_time"]),
            "last_rotated_at": ts(t["creation_time"]), "expires_at": ts(t["expire_time"]),
            "rotation_enabled": False, "rotation_interval_days": None,
            "ttl_seconds": t["creation_ttl"], "owning_service": None, "usage": None, "arn": None,
        }))
    r = frames("auth_role")
    if len(r):
        r = r[r["method"].isin(WORKLOAD_METHODS)]
        if len(r):
            parts.append(pd.DataFrame({
                "table": "auth_role", "id": r["id"], "store": r["store"], "source": r["source"],
                "kind": r["method"], "name": r["name"], "path": r["mount"].fillna("") + "role/" + r["name"],
                "tags": [{}] * len(r), "created_at": ts(pd.Series(pd.NaT, index=r.index)),
                "last_rotated_at": ts(pd.Series(pd.NaT, index=r.index)),
                "expires_at": ts(pd.Series(pd.NaT, index=r.index)), "rotation_enabled": None,
                "rotation_interval_days": None, "ttl_seconds": r["token_ttl"],
                "owning_service": None, "usage": None, "arn": None,
            }))
    p = frames("principal")
    if len(p):
        fed = p["kind"].eq("iam_role") & p["trust_principals"].map(
            lambda tp: any("oidc" in str(x) or "federated" in str(x).lower() for x in tp))
        p = p[fed]
        if len(p):
            parts.append(pd.DataFrame({
                "table": "principal", "id": p["id"], "store": p["store"], "source": p["source"],
                "kind": "iam_oidc_role", "name": p["name"], "path": p["arn"].fillna(p["name"]),
                "tags": p["tags"], "created_at": ts(p["created_at"]),
                "last_rotated_at": ts(pd.Series(pd.NaT, index=p.index)),
                "expires_at": ts(pd.Series(pd.NaT, index=p.index)), "rotation_enabled": None,
                "rotation_interval_days": None, "ttl_seconds": None, "owning_service": None,
                "usage": None, "arn": p["arn"],
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _ITEM_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    for col in ("created_at", "last_rotated_at", "expires_at"):
        out[col] = pd.to_datetime(out[col], utc=True)
    for col, default in _DECLARED_COLUMNS.items():  # tables a declaration never fills
        if col not in out.columns:
            out[col] = None
        if isinstance(default, tuple):
            lists = out[col].map(lambda v: isinstance(v, list))
            if not lists.all():
                out[col] = out[col].where(lists, pd.Series([[] for _ in range(len(out))], index=out.index))
        elif default is False:
            out[col] = out[col].astype("boolean").fillna(False).astype(bool)
    return out


def classify_text(classifier: Classifier) -> Any:
    """A function paths -> environment, for findings on resources that are not items."""
    return classifier.environment_of_paths


__all__ = ["DATA_CLASSES", "LIFECYCLE_CLASSES", "Classifier", "glob_regex", "lifecycle_class", "re"]
