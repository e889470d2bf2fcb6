"""What Vault ACL policies reach, judged with the server's own semantics (`posture.model.acl`).

Two questions the policy checks and the derived views ask of a set of rules (one policy,
or all the policies of one principal), each after rule priority and deny overlays:

- which root-equivalent paths, or ``sudo``, it grants (`root_equivalent_grants`, VLT007);
- which environments' secrets it grants a capability on (`EnvironmentReach`, VLT008 and
  the cross-environment view).

Kept apart from the check functions because both the checks and ``checks.views`` use it.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
import pandas as pd

from checks.catalog import CheckContext
from posture.model.acl import ACL, DENY, PathPattern, Rule, common_path, parse_pattern

#: Paths that hold no secret value: the system backend, auth methods, identity, per-token storage.
NON_SECRET_PREFIXES = ("sys/", "auth/", "identity/", "cubbyhole/")
#: Capabilities that act on a secret's value (``list`` / ``scan`` only reveal names).
VALUE_CAPABILITIES = frozenset({"read", "create", "update", "patch", "delete"})
CHANGE = ("create", "update", "patch", "delete")

#: VLT007: ACL path patterns whose grant is root-equivalent, and the capabilities that make it so.
#: ``sudo`` anywhere counts too (it is what root-protected endpoints demand), which covers
#: ``auth/token/create*`` with sudo (orphan tokens, arbitrary ids). Everything else under ``sys/``
#: is not on the list: the built-in ``default`` policy's self-service paths
#: (``sys/capabilities-self``, ``sys/leases/renew``, ``sys/leases/lookup``, ``sys/renew``,
#: ``sys/tools/hash``, ``sys/wrapping/*``, ``sys/control-group/request``,
#: ``sys/internal/ui/resultant-acl``, ``auth/token/*-self``, ``cubbyhole/*``, templated
#: ``identity/entity/{id,name}/{{...}}`` reads) and read-only status endpoints.
ROOT_EQUIVALENT_PATHS: dict[str, tuple[str, ...]] = {
    "sys/policy*": CHANGE,                      # write ACL policies: grant anything to anyone
    "sys/policies/*": CHANGE,
    "sys/auth*": CHANGE,                        # enable, disable, tune auth methods
    "sys/mounts*": CHANGE,                      # mount, unmount, tune secret engines
    "sys/remount": CHANGE,
    "sys/audit": CHANGE,                        # disable audit devices: act unseen
    "sys/audit/*": CHANGE,
    "sys/seal": CHANGE,                         # take the whole service down
    "sys/step-down": CHANGE,
    "sys/raw*": CHANGE,                         # barrier storage (reading it demands sudo)
    "sys/rotate*": CHANGE,                      # keyring and root key
    "sys/generate-root*": CHANGE,
    "sys/generate-recovery-token*": CHANGE,
    "sys/rekey*": CHANGE,
    "sys/replication*": CHANGE,
    "sys/storage/raft/*": CHANGE,               # join / remove peers, restore
    "sys/storage/raft/snapshot*": ("read",),    # a snapshot is the whole encrypted store
    "sys/key-status": ("read",),
    "sys/config/*": CHANGE,                     # CORS, UI headers, audited request headers
    "sys/plugins/*": CHANGE,                    # register plugin binaries: code on the server
    "sys/namespaces*": CHANGE,
    "auth/token/roles/*": CHANGE,               # token roles mint tokens with policies their caller lacks
    "identity/entity*": CHANGE,                 # attach policies to entities and groups
    "identity/group*": CHANGE,
}
_FAMILIES = tuple((parse_pattern(p), frozenset(c)) for p, c in ROOT_EQUIVALENT_PATHS.items())


def root_equivalent_paths_text() -> str:
    """The list above as the check's documentation shows it, grouped by capability."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for path, caps in ROOT_EQUIVALENT_PATHS.items():
        groups.setdefault(caps, []).append(f"`{path}`")
    return "; ".join(f"{'/'.join(caps)} on {', '.join(paths)}" for caps, paths in groups.items())


def acl_of(rules: pd.DataFrame) -> ACL:
    """The merged ACL of Vault ``policy_rule`` rows (allow and deny rows of one or more policies)."""
    return ACL.from_rules(Rule.of(p, c) for p, c in zip(rules["path"], rules["capabilities"]))


def _allow_rules(rules: pd.DataFrame) -> list[tuple[str, frozenset[str]]]:
    """(path, capabilities) of the rules that grant something (deny rules only overlay)."""
    out = []
    for path, caps in zip(rules["path"], rules["capabilities"]):
        c = frozenset(str(x).lower() for x in caps)
        if c and DENY not in c:
            out.append((path, c))
    return out


def root_equivalent_grants(rules: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Rule paths of ``rules`` that grant root-equivalent access, and what they reach.

    General class: standing admin rights in a policy, however the rule is written (``sys/*``,
    ``+/+``, ``*``, ``sys/pol*``, an exact ``sys/seal``). For each allow rule and each family
    of `ROOT_EQUIVALENT_PATHS` the two patterns share a path (`common_path`); the rule counts
    when the policy's whole ACL there (priority, deny overlays) still grants a listed
    capability. ``sudo`` counts where the ACL leaves it granted on the rule's own paths.
    """
    acl = acl_of(rules)
    culprits: set[str] = set()
    reached: set[str] = set()
    for path, caps in _allow_rules(rules):
        pattern = parse_pattern(path)
        if "sudo" in caps:
            example = common_path(pattern)
            if example is not None and "sudo" in acl.capabilities(example, listing=False):
                culprits.add(path)
                reached.add("sudo")
        for family, counted in _FAMILIES:
            shared = common_path(pattern, family)
            if shared is not None and acl.capabilities(shared, listing=False) & counted:
                culprits.add(path)
                reached.add(family.path)
    return sorted(culprits), sorted(reached)


def secret_api_paths(secrets: pd.DataFrame) -> pd.Series:
    """The request path that reads each secret's value (columns kind, mount, name, path).

    KV v2 ``{mount}data/{name}``, KV v1 ``{mount}{name}``, a database role its
    ``{mount}creds/{name}`` or ``{mount}static-creds/{name}``; without a mount (AWS items, old
    snapshots) the stored path itself. One exact path, never a guess, so a deny on
    ``secret/data/prod/*`` is not undone by a rule on some other spelling of the path.
    """
    mount = secrets["mount"].fillna("").astype(str)
    name = secrets["name"].fillna("").astype(str)
    kind = secrets["kind"].fillna("").astype(str)
    stored = secrets["path"].fillna("").astype(str)
    has = mount.ne("")
    # a KV item's name inside its mount: its stored path without the mount (the record's name)
    rel = pd.Series([s[len(m):] if m and s.startswith(m) else n for s, m, n in zip(stored, mount, name)],
                    index=secrets.index, dtype=object)
    static = pd.Series([s.startswith(m + "static-roles/") for s, m in zip(stored, mount)],
                       index=secrets.index, dtype=bool)
    return pd.Series(np.select(
        [has & kind.eq("kv2"), has & kind.eq("kv1"), has & kind.eq("database_role") & static,
         has & kind.eq("database_role")],
        [mount + "data/" + rel, mount + rel, mount + "static-creds/" + name, mount + "creds/" + name],
        default=stored), index=secrets.index, dtype=object)


def _literal_prefix(p: PathPattern) -> str:
    """The text every path the pattern matches starts with (up to its first wildcard)."""
    fixed: list[str] = []
    for part in p.parts:
        if part == "+":
            return "/".join(fixed) + ("/" if fixed else "")
        fixed.append(part)
    return "/".join(fixed)


class EnvironmentReach:
    """Which environments' secrets a set of Vault rules grants a value capability on.

    General class: one identity able to use secrets of several environments (a dev
    compromise that becomes a prod one). An environment counts when the rules' merged ACL,
    after priority and denies, grants a `VALUE_CAPABILITIES` capability on

    1. the exact API path (`secret_api_paths`) of a secret in the inventory of that store
       whose classified environment is known - so ``secret/data/*`` on an engine holding prod
       and dev secrets reaches both, and one holding only shared items reaches none; or
    2. a path inside the environment a rule names in its own literal segments
       (``secret/data/prod/*`` reaches prod even where prod holds nothing yet or could not be
       listed): the rule's text, KV v2 ``data/`` removed, classified like an item path, and
       the ACL asked on an example path of the rule (`common_path`), outside
       `NON_SECRET_PREFIXES` and KV v2 metadata.

    Secrets and rule paths without an environment (``shared/``, ``common/``) are their own
    class and count as none, unless the engagement's classification maps them to one.
    ``rules`` are all the Vault rules that will be asked about: their texts are classified
    once, here.
    """

    def __init__(self, ctx: CheckContext, rules: pd.DataFrame) -> None:
        it = ctx.items
        #: store -> environment -> sorted exact API paths of its secrets
        self.inventory: dict[str, dict[str, list[str]]] = {}
        if len(it):
            it = it[it["table"].eq("secret") & it["source"].eq("vault") & it["environment"].ne("unknown")]
            s = ctx.frame("secret")
            if len(it) and len(s):
                meta = s[["id", "kind", "mount", "name", "path"]].drop_duplicates("id")
                it = it[["id", "store", "environment"]].merge(meta, on="id", how="inner")
                it = it.assign(api=secret_api_paths(it))
                for (store, env), grp in it.groupby(["store", "environment"]):
                    self.inventory.setdefault(str(store), {})[str(env)] = sorted(grp["api"])
        self.kv2_mounts = self._kv2_mounts(ctx)
        self.gaps = self._secret_gaps(ctx)
        pairs = sorted(set(zip(rules["store"].astype(str), rules["path"].astype(str))))
        texts = pd.Series([self._logical(st, path) for st, path in pairs], dtype=object)
        #: (store, rule path) -> environment its literal text names ('unknown': none)
        self.named = dict(zip(pairs, ctx.env_of(texts).astype(str))) if pairs else {}

    @staticmethod
    def _kv2_mounts(ctx: CheckContext) -> dict[str, tuple[str, ...]]:
        m, s = ctx.frame("mount"), ctx.frame("secret")
        found: dict[str, set[str]] = {}
        if len(m):
            v2 = m[m["type"].isin(["kv", "generic"]) & pd.to_numeric(m["kv_version"], errors="coerce").eq(2)]
            for store, path in zip(v2["store"], v2["path"]):
                found.setdefault(str(store), set()).add(str(path))
        if len(s):
            v2 = s[s["kind"].eq("kv2") & s["mount"].notna()]
            for store, path in zip(v2["store"], v2["mount"]):
                found.setdefault(str(store), set()).add(str(path))
        return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in found.items()}

    @staticmethod
    def _secret_gaps(ctx: CheckContext) -> dict[str, list[tuple[str, str]]]:
        g = ctx.frame("coverage_gap")
        out: dict[str, list[tuple[str, str]]] = {}
        if len(g):
            g = g[g["tables"].map(lambda t: "secret" in list(t)) & g["source"].eq("vault")]
            for store, scope, op, reason in zip(g["store"], g["scope"], g["operation"], g["reason"]):
                out.setdefault(str(store), []).append((str(scope or ""), f"{op}: {reason}"))
        return out

    def _logical(self, store: str, path: str) -> str:
        """A rule path as an item path: trailing ``*`` dropped, KV v2 ``data/`` removed."""
        text = path.removesuffix("*")
        for mount in self.kv2_mounts.get(store, ()):
            if text.startswith(mount + "data/"):
                return mount + text[len(mount) + 5:]
        return text

    def _value_path(self, store: str, path: str) -> bool:
        if path.startswith(NON_SECRET_PREFIXES):
            return False
        mount = next((m for m in self.kv2_mounts.get(store, ()) if path.startswith(m)), None)
        return mount is None or path.startswith(mount + "data/")

    def reach(self, store: str, rules: pd.DataFrame) -> dict[str, list[str]]:
        """Environment -> the rule paths that decide the access, for Vault ``rules`` (one ACL)."""
        acl = acl_of(rules)
        allow = [(p, c) for p, c in _allow_rules(rules) if c & VALUE_CAPABILITIES]
        found: dict[str, set[str]] = {}
        for env, keys in self.inventory.get(store, {}).items():
            hit = next((h for path, _ in allow if (h := _first_granted(acl, parse_pattern(path), keys))), None)
            if hit is not None:
                found[env] = {acl.deciding_rule(hit) or hit}
        for path, _ in allow:
            env = self.named.get((store, path), "unknown")
            if env == "unknown" or env in found:
                continue
            example = common_path(parse_pattern(path))
            if (example is not None and self._value_path(store, example)
                    and acl.capabilities(example, listing=False) & VALUE_CAPABILITIES):
                found.setdefault(env, set()).add(acl.deciding_rule(example) or path)
        return {env: sorted(p) for env, p in sorted(found.items())}

    def unseen(self, store: str, rules: pd.DataFrame) -> str | None:
        """Why the reach may be incomplete: a secret listing gap the rules' value grants reach."""
        value_rules = [parse_pattern(p) for p, c in _allow_rules(rules) if c & VALUE_CAPABILITIES]
        for scope, why in self.gaps.get(store, []):
            if any(not scope or r.reaches(scope) for r in value_rules):
                return f"the secrets under {scope or 'every mount'} of store {store} could not be listed ({why})"
        return None


def _first_granted(acl: ACL, rule: PathPattern, keys: list[str]) -> str | None:
    """The first of the sorted paths ``keys`` that ``rule`` matches and ``acl`` grants a value
    capability on. Only the rule's literal prefix range is scanned, and a branch one prefix
    rule settles (`ACL.settled_prefix`: a denied ``prod/*``) is skipped in one step."""
    prefix = _literal_prefix(rule)
    i = bisect.bisect_left(keys, prefix)
    while i < len(keys) and keys[i].startswith(prefix):
        path = keys[i]
        if not rule.matches(path):
            i += 1
            continue
        if acl.capabilities(path, listing=False) & VALUE_CAPABILITIES:
            return path
        settled = acl.settled_prefix(path)
        i = bisect.bisect_left(keys, settled + "\U0010ffff", i + 1) if settled else i + 1
    return None


def vault_rules(ctx: CheckContext) -> pd.DataFrame:
    """Vault ``policy_rule`` rows (allow and deny) of the assessed ACL policies (not ``root``)."""
    r = ctx.frame("policy_rule")
    return r[r["source"].eq("vault") & ~r["policy"].eq("root")]


def per_policy(policies: pd.DataFrame, rules: pd.DataFrame, fn: Any) -> list[Any]:
    """``fn(store, policy_rules)`` for each policy row, in order (no rules: an empty frame)."""
    groups = {pid: g for pid, g in rules.groupby("policy_id")} if len(rules) else {}
    empty = rules.iloc[0:0]
    return [fn(store, groups.get(pid, empty)) for pid, store in zip(policies["id"], policies["store"])]
