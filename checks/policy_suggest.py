"""Least-privilege policy suggestions from the audit-log access inventory (issue #17, part 3).

For every identity the audit log saw, the policy it actually needs: the paths it used, the
capabilities (Vault) or actions (AWS) it used on them, one document per environment, and the
diff against what its policies grant today (rules no request used, capabilities never used,
secrets it could read and will no longer reach).

General class handled: *an identity granted more than its observed use* (seed 001 "Policy
Design": "Follow least-privilege with path-based granularity", anti-pattern "Wildcard policies
(path "*") ... Explicit path-based policies per service"; seed 000 final checklist "Least
privilege enforced at identity + path + operation level"; seed 002 "Per-environment isolation
... no cross-env reads").

Rules of the suggestion, each deliberately conservative:

- **Exact paths by default.** A rule names the API path the identity requested, as the server
  saw it: KV v2 reads stay on ``<mount>/data/<path>``, lists on ``<mount>/metadata/<folder>/``
  (the audit log records the API path, so the data/metadata split is already the right one).
- **Capabilities are the operations observed**: read->read, list->list, create->create,
  update->update, delete->delete, patch->patch, scan->scan (`CAPABILITY_OF_OPERATION`); a
  request the server refused is never granted (it is listed as denied instead).
- **One collapse rule** (`collapse_siblings`): leaves under one folder become ``folder/*`` only
  when (a) at least ``collapse_at`` distinct leaves were used with the same capabilities, (b) the
  folder is environment-scoped with at least one segment below the environment (so
  ``secret/data/prod/payments/*``, never ``secret/data/prod/*``), and (c) the secret inventory
  knows at least one secret there and every secret it knows under the folder was used: the glob
  grants nothing that exists and was not observed. Never across environments.
- **One document per environment.** An identity seen in two environments gets one policy per
  environment (``{service}-{environment}-{access-level}``) and ``cross_environment`` is set;
  otherwise the seed's name ``{service}-{access-level}`` (seed 001: "Policy naming convention:
  {service}-{access-level}").
- Requests the ``default`` policy already grants (token self-lookup, renewal, cubbyhole...) stay
  out when the identity holds ``default``; login requests are unauthenticated and never need a rule.
- A path that cannot be written as an exact rule (it ends in ``*``, has a ``+`` segment or a
  ``{{`` template) is left out and listed, never turned into a wildcard.

AWS: the same from CloudTrail (Secrets Manager, KMS, SSM): the actions each principal called,
on the ARNs it called them on; actions that take no resource (``ListSecrets``, ``kms:ListKeys``,
``ssm:DescribeParameters``) on ``"*"``, as IAM requires.

Pure: frames in, `SuggestedPolicy` objects out. The Vault ACL evaluator is `posture.model.acl`
(today's grants, the deciding rule of every observed request, and the self-check that the
suggestion still allows every observed request).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from posture.model.acl import ACL, LISTING_CAPABILITIES, Rule, parse_pattern
from posture.model.errors import ConfigError

CAPABILITY_OF_OPERATION = {
    "read": "read", "list": "list", "create": "create", "update": "update",
    "delete": "delete", "patch": "patch", "scan": "scan",
}
#: The rules of the built-in ``default`` policy (OpenBao/Vault, without its templated identity paths).
DEFAULT_POLICY_RULES: tuple[Rule, ...] = tuple(Rule.of(p, c) for p, c in (
    ("auth/token/lookup-self", ["read"]), ("auth/token/renew-self", ["update"]),
    ("auth/token/revoke-self", ["update"]), ("sys/capabilities-self", ["update"]),
    ("sys/internal/ui/resultant-acl", ["read"]), ("sys/renew", ["update"]),
    ("sys/leases/renew", ["update"]), ("sys/leases/lookup", ["update"]),
    ("cubbyhole/*", ["create", "read", "update", "delete", "list"]),
    ("sys/wrapping/wrap", ["update"]), ("sys/wrapping/lookup", ["update"]),
    ("sys/wrapping/unwrap", ["update"]), ("sys/tools/hash", ["update"]),
    ("sys/tools/hash/*", ["update"]), ("sys/control-group/request", ["update"]),
))
_DEFAULT_ACL = ACL.from_rules(DEFAULT_POLICY_RULES)
LOGIN_PATH = re.compile(r"^auth/.+/login(?:/|$)")
WRITE_CAPABILITIES = frozenset({"create", "update", "patch"})
ADMIN_CAPABILITIES = frozenset({"delete", "sudo"})
#: CloudTrail event names of the three services, for events whose resource is not an ARN.
AWS_ACTION_SERVICE: dict[str, str] = {
    **{a: "secretsmanager" for a in (
        "GetSecretValue", "BatchGetSecretValue", "DescribeSecret", "ListSecrets", "ListSecretVersionIds",
        "GetResourcePolicy", "PutSecretValue", "UpdateSecret", "RotateSecret", "CreateSecret",
        "DeleteSecret", "RestoreSecret", "TagResource", "UntagResource", "PutResourcePolicy")},
    **{a: "kms" for a in (
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair",
        "ReEncrypt", "DescribeKey", "ListKeys", "ListAliases", "Sign", "Verify", "GetPublicKey",
        "GetKeyPolicy", "GetKeyRotationStatus", "ListGrants", "CreateGrant", "GenerateMac", "VerifyMac")},
    **{a: "ssm" for a in (
        "GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory", "PutParameter",
        "DeleteParameter", "DeleteParameters", "DescribeParameters", "LabelParameterVersion")},
}
AWS_SERVICES = frozenset(AWS_ACTION_SERVICE.values())
#: Actions IAM only authorises on ``"*"`` (no resource-level permission).
AWS_RESOURCELESS = frozenset({"secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue",
                              "kms:ListKeys", "kms:ListAliases", "ssm:DescribeParameters"})
COLLAPSE_AT = 5
MAX_LISTED = 50
#: Secrets of the store checked for "readable today, no longer" per suggestion (first by id): the
#: count is exact up to this many secrets and a lower bound beyond (``reach_probed`` says how many).
MAX_REACH_PROBES = 5000


@dataclass(frozen=True)
class ObservedAccess:
    """One (path, capability) an identity used, or was refused, over the audit window."""

    path: str
    capability: str
    operation: str
    count: int
    environment: str
    resource: str | None = None


@dataclass(frozen=True)
class RuleChange:
    """One rule of today's policies against the observed use: ``remove``, ``narrow`` or ``keep``."""

    policy: str
    path: str
    granted: tuple[str, ...]
    used: tuple[str, ...]
    verdict: Literal["remove", "narrow", "keep"]
    used_paths: int
    note: str

    def describe(self) -> str:
        """One line a person reads (lists joined with commas, not Python literals)."""
        unused = ", ".join(c for c in self.granted if c not in self.used)
        if self.verdict == "remove":
            return f"{self.policy}: remove {self.path!r} ({', '.join(self.granted)}; unused in the window)"
        if self.verdict == "narrow":
            return (f"{self.policy}: narrow {self.path!r} to {', '.join(self.used)}"
                    + (f" (unused: {unused})" if unused else "") + self.note)
        return f"{self.policy}: keep {self.path!r} ({', '.join(self.granted)}){self.note}"


@dataclass
class SuggestedPolicy:
    """The least-privilege policy of one identity in one environment, with its diff against today."""

    identity: str
    store: str
    source: Literal["vault", "aws"]
    auth_method: str | None
    name: str
    environment: str
    access_level: Literal["read", "write", "admin"]
    format: Literal["hcl", "iam_json"]
    rules: dict[str, tuple[str, ...]]
    document: str
    observed: list[ObservedAccess]
    requests: int
    first_at: str | None
    last_at: str | None
    current_policies: list[str]
    changes: list[RuleChange] = field(default_factory=list)
    unused_policies: list[str] = field(default_factory=list)
    no_longer_reachable: list[str] = field(default_factory=list)
    no_longer_reachable_total: int = 0
    reach_probed: int = 0
    denied: list[ObservedAccess] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    collapsed: dict[str, list[str]] = field(default_factory=dict)
    cross_environment: bool = False
    covers_all_observed: bool = True
    coverage_gaps: list[str] = field(default_factory=list)

    @property
    def removed(self) -> list[str]:
        """What adopting the suggestion takes away, one line each (rules and unused capabilities)."""
        return [c.describe() for c in self.changes if c.verdict != "keep"]

    def file_name(self) -> str:
        return f"{self.name}.{'hcl' if self.format == 'hcl' else 'json'}"


# --- helpers ------------------------------------------------------------------------------


def slug(text: str) -> str:
    """A policy-name part: lowercase letters, digits and single dashes."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "unnamed"


def access_level(capabilities: Iterable[str]) -> Literal["read", "write", "admin"]:
    """The seed's access level: ``read`` (read/list only), ``write`` (creates or updates), ``admin``
    (deletes, sudo, or any IAM action that is not a read)."""
    caps = {c.lower() for c in capabilities}
    if caps & ADMIN_CAPABILITIES:
        return "admin"
    if caps & WRITE_CAPABILITIES:
        return "write"
    return "read"


def hcl_string(text: str) -> str:
    """A quoted HCL string (JSON escaping is valid HCL for these characters)."""
    return json.dumps(text)


_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]+")


def render_hcl(name: str, rules: dict[str, tuple[str, ...]], header: list[str]) -> str:
    """The policy as HCL, one stanza per path, sorted; ``header`` lines become comments."""
    lines = [f"# {name}"] + ["# " + _ONE_LINE.sub(" ", h) for h in header]
    for path in sorted(rules):
        caps = ", ".join(hcl_string(c) for c in sorted(rules[path]))
        lines += ["", f"path {hcl_string(path)} {{", f"  capabilities = [{caps}]", "}"]
    return "\n".join(lines) + "\n"


def _exact_rule_problem(path: str) -> str | None:
    """Why ``path`` cannot be an exact policy rule (it would be read as a wildcard or a template)."""
    if "{{" in path or "}}" in path:
        return "contains a policy template marker"
    if any(ord(ch) < 0x20 for ch in path):
        return "contains a control character"
    if "*" not in path and "+" not in path:
        return None  # nothing in it the policy parser reads as a glob
    try:
        p = parse_pattern(path)
    except ConfigError:
        return "not a valid policy path ('+*')"
    if p.is_wildcard:
        return "would be read as a wildcard rule"
    return None


def _str_list(v: Any) -> list[str]:
    if v is None or (not isinstance(v, (list, tuple)) and not hasattr(v, "tolist")):
        return []
    return [str(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]


def _iso(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return pd.Timestamp(v).isoformat()


# --- inputs -----------------------------------------------------------------------------------


Frames = Callable[[str], pd.DataFrame]
EnvOf = Callable[[pd.Series], pd.Series]


def store_kinds(frames: Frames) -> dict[str, str]:
    """Store name -> ``vault`` or ``aws``: from the audit log's format, else the store's server row."""
    kinds: dict[str, str] = {}
    srv = frames("server")
    for store, source in zip(srv.get("store", []), srv.get("source", [])):
        if source in ("vault", "aws"):
            kinds[str(store)] = str(source)
    logs = frames("audit_log")
    for store, fmt in zip(logs.get("store", []), logs.get("format", [])):
        kinds[str(store)] = "aws" if fmt == "cloudtrail" else "vault"
    return kinds


def _mount_name(mount: str) -> str:
    return str(mount).removeprefix("auth/").strip("/").replace("/", "-")


def vault_identity_policies(frames: Frames, store: str) -> dict[str, set[str]]:
    """Audit-log principal -> the policies it holds today.

    The audit log names an identity by its token's display name (``<auth mount>-<user or
    role>``); the policies come from the auth role or user of that name (``auth_role``), the
    tokens issued to it at login (``token_issue``) and live tokens of that display name.
    """
    out: dict[str, set[str]] = {}
    roles = frames("auth_role")
    roles = roles[roles["store"].eq(store)] if len(roles) else roles
    for mount, name, pols in zip(roles.get("mount", []), roles.get("name", []), roles.get("policies", [])):
        out.setdefault(f"{_mount_name(mount)}-{name}", set()).update(_str_list(pols))
    issued = frames("token_issue")
    issued = issued[issued["store"].eq(store)] if len(issued) else issued
    for principal, path, dn, pols in zip(issued.get("principal", []), issued.get("path", []),
                                         issued.get("display_name", []), issued.get("policies", [])):
        if LOGIN_PATH.match(str(path)):
            out.setdefault(str(principal), set()).update(_str_list(pols))
        elif str(path).startswith("auth/token/create") and isinstance(dn, str) and dn:
            out.setdefault(f"token-{dn}", set()).update(_str_list(pols))
    tokens = frames("token")
    tokens = tokens[tokens["store"].eq(store)] if len(tokens) else tokens
    for dn, pols in zip(tokens.get("display_name", []), tokens.get("policies", [])):
        if isinstance(dn, str) and dn:
            out.setdefault(dn, set()).update(_str_list(pols))
    return out


def _service_of(identity: str, auth_method: str | None, roles: dict[str, str]) -> str:
    """The service part of a policy name: the auth role or user's own name, else the identity."""
    if identity in roles:
        return slug(roles[identity])
    if identity.startswith("arn:"):
        return slug(identity.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    if identity.startswith("token-"):
        return slug(identity.removeprefix("token-"))
    return slug(identity)


# --- Vault --------------------------------------------------------------------------------


def _observations(events: pd.DataFrame, env_of: EnvOf) -> dict[str, tuple[list[ObservedAccess], list[ObservedAccess]]]:
    """Principal -> (granted, denied) accesses, summed over days and sources (one pass for the store)."""
    e = events.assign(granted=(events["count"] - events["errors"]).clip(lower=0),
                      cap=events["operation"].map(CAPABILITY_OF_OPERATION))
    e = e[e["cap"].notna()]
    out: dict[str, tuple[list[ObservedAccess], list[ObservedAccess]]] = {}
    if not len(e):
        return out
    g = (e.groupby(["principal", "path", "cap", "operation"], dropna=False, sort=True)
         .agg(granted=("granted", "sum"), denied=("denied", "sum"), resource=("resource", "first"))
         .reset_index())
    paths = pd.Series(g["path"].astype(object).unique(), dtype=object)
    env = dict(zip(paths, env_of(paths).tolist()))
    for r in g.itertuples(index=False):
        granted, denied = out.setdefault(str(r.principal), ([], []))
        res = r.resource if isinstance(r.resource, str) else None
        if r.granted > 0:
            granted.append(ObservedAccess(str(r.path), str(r.cap), str(r.operation), int(r.granted), str(env[r.path]), res))
        if r.denied > 0:
            denied.append(ObservedAccess(str(r.path), str(r.cap), str(r.operation), int(r.denied), str(env[r.path]), res))
    return out


class Inventory:
    """The store's secret ids, sorted, for "every known secret under this folder" in log time."""

    def __init__(self, ids: Iterable[str]) -> None:
        import bisect

        self._ids = sorted(ids)
        self._bisect = bisect.bisect_left

    def under(self, prefix: str) -> list[str]:
        i = self._bisect(self._ids, prefix)
        out = []
        while i < len(self._ids) and self._ids[i].startswith(prefix):
            out.append(self._ids[i])
            i += 1
        return out


def collapse_siblings(
    rules: dict[str, set[str]], observed: list[ObservedAccess], inventory: Inventory | Iterable[str],
    environment: str, env_of: EnvOf, collapse_at: int = COLLAPSE_AT, env_cache: dict[str, str] | None = None,
) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """Replace sibling leaf rules by one ``folder/*`` rule under the conservative rule of the module
    docstring; returns the new rules and, per glob, the exact paths it replaced.

    ``inventory`` holds the secret ids (``vault:<store>:<mount>/<path>``) the snapshot knows.
    """
    if collapse_at < 2 or environment == "unknown":
        return rules, {}
    inventory = inventory if isinstance(inventory, Inventory) else Inventory(inventory)
    cache = {} if env_cache is None else env_cache
    resource_of = {o.path: o.resource for o in observed}
    groups: dict[tuple[str, frozenset[str]], list[str]] = {}
    for path, caps in rules.items():
        if path.endswith("/") or "/" not in path or resource_of.get(path) is None:
            continue
        groups.setdefault((path.rsplit("/", 1)[0], frozenset(caps)), []).append(path)
    out = {p: set(c) for p, c in rules.items()}
    collapsed: dict[str, list[str]] = {}
    for (folder, caps), leaves in sorted(groups.items(), key=lambda kv: kv[0][0]):
        if len(leaves) < collapse_at:
            continue
        wanted = [folder, folder.rsplit("/", 1)[0]]
        todo = pd.Series([w for w in wanted if w not in cache], dtype=object)
        if len(todo):
            cache.update(zip(todo, env_of(todo).tolist()))
        if [cache[w] for w in wanted] != [environment, environment]:
            continue  # the folder (and its parent) must be inside one environment
        resources = {resource_of[p] for p in leaves}
        res_folder = next(iter(resources)).rsplit("/", 1)[0] + "/"
        known = set(inventory.under(res_folder))
        if not known or not known <= resources:
            continue  # a secret there was not used (or none is known): the glob would grant it
        glob = f"{folder}/*"
        if glob in out:
            continue
        for p in leaves:
            del out[p]
        out[glob] = set(caps)
        collapsed[glob] = sorted(leaves)
    return out, collapsed


def _inventory_paths(secrets: pd.DataFrame) -> list[tuple[str, str]]:
    """(secret id, API read path) of every Vault secret: KV v2 reads go through ``data/``."""
    out = []
    for sid, kind, mount, name, path in zip(secrets["id"], secrets["kind"], secrets["mount"], secrets["name"],
                                             secrets["path"]):
        if kind == "kv2" and isinstance(mount, str) and isinstance(name, str):
            out.append((str(sid), f"{mount.rstrip('/')}/data/{name}"))
        elif isinstance(path, str):
            out.append((str(sid), path))
    return out


def _diff(today_rules: list[Any], today: ACL, observed: list[ObservedAccess]) -> tuple[list[RuleChange], list[str]]:
    """Each of today's rules against the requests it decided; the policies that decided none."""
    decided: dict[str, tuple[set[str], set[str]]] = {}
    for o in observed:
        rule = today.deciding_rule(o.path, listing=o.capability in LISTING_CAPABILITIES)
        if rule is not None:
            caps, paths = decided.setdefault(rule, (set(), set()))
            caps.add(o.capability)
            paths.add(o.path)
    changes, used_policies = [], set()
    for r in today_rules:
        if getattr(r, "effect", "allow") == "deny":
            continue
        granted = tuple(sorted(c for c in _str_list(r.capabilities) if c != "deny"))
        key = parse_pattern(str(r.path)).path
        used_caps, used_paths = decided.get(key, (set(), set()))
        real = [c for c in granted if c not in ("sudo",)]
        used = tuple(sorted(c for c in real if c in used_caps))
        note = ""
        if used_paths and parse_pattern(key).is_wildcard:
            shown = sorted(used_paths)[:5]
            note = f"; wildcard used only for {', '.join(shown)}{' ...' if len(used_paths) > 5 else ''}"
        if not used:
            verdict: Literal["remove", "narrow", "keep"] = "remove"
        else:
            used_policies.add(str(r.policy))
            verdict = "narrow" if len(used) < len(real) or note else "keep"
        changes.append(RuleChange(str(r.policy), key, granted, used, verdict, len(used_paths), note))
    unused = sorted({str(r.policy) for r in today_rules} - used_policies)
    return changes, unused


def _store_events(frames: Frames, store: str, identity: str | None) -> pd.DataFrame:
    """The access inventory of one store's audit log (of one identity, if given)."""
    events = frames("access_event")
    events = events[events["store"].eq(store)] if len(events) else events
    if identity is not None and len(events):
        events = events[events["principal"].eq(identity)]
    return events


def suggest_vault(
    frames: Frames, store: str, env_of: EnvOf, *, identity: str | None = None, collapse_at: int = COLLAPSE_AT,
) -> list[SuggestedPolicy]:
    """Suggested policies of every identity of one Vault store's audit log (or of ``identity``)."""
    events = _store_events(frames, store, identity)
    if not len(events):
        return []
    holders = vault_identity_policies(frames, store)
    roles = frames("auth_role")
    role_names = {f"{_mount_name(m)}-{n}": str(n) for m, n, s in
                  zip(roles.get("mount", []), roles.get("name", []), roles.get("store", [])) if s == store}
    rules_frame = frames("policy_rule")
    rules_frame = rules_frame[rules_frame["store"].eq(store) & rules_frame["source"].eq("vault")] \
        if len(rules_frame) else rules_frame
    secrets = frames("secret")
    secrets = secrets[secrets["store"].eq(store) & secrets["source"].eq("vault")] if len(secrets) else secrets
    inventory = sorted(_inventory_paths(secrets)) if len(secrets) else []
    inventory_index = Inventory(sid for sid, _ in inventory)
    probe = inventory[:MAX_REACH_PROBES]
    observed = _observations(events, env_of)
    meta = events.groupby("principal", sort=True).agg(
        method=("auth_method", "first"), first=("first_at", "min"), last=("last_at", "max"))
    folders = {f for path in events["path"].astype(str).unique() if "/" in path
               for f in (path.rsplit("/", 1)[0], path.rsplit("/", 1)[0].rsplit("/", 1)[0])}
    folder_series = pd.Series(sorted(folders), dtype=object)
    env_cache: dict[str, str] = dict(zip(folder_series, env_of(folder_series).tolist())) if folders else {}
    today_cache: dict[tuple[str, ...], tuple[ACL, list[Any], list[str]]] = {}
    out: list[SuggestedPolicy] = []
    for principal, m in meta.iterrows():
        principal = str(principal)
        today_names = sorted(holders.get(principal, set()))
        if principal == "root" or "root" in today_names:
            continue  # a root token needs revoking, not a policy
        method = m["method"] if isinstance(m["method"], str) else None
        granted, denied = observed.get(principal, ([], []))
        has_default = "default" in today_names or not today_names
        needed, left_out = [], []
        for o in granted:
            if LOGIN_PATH.match(o.path):
                continue
            if has_default and _DEFAULT_ACL.allows(o.path, o.capability):
                continue
            problem = _exact_rule_problem(o.path)
            if problem:
                left_out.append(f"{o.path} ({o.capability}): {problem}")
                continue
            needed.append(o)
        if not needed:
            continue
        key = tuple(today_names)
        if key not in today_cache:  # identities sharing policies share today's ACL and reach
            today_rules = rules_frame[rules_frame["policy"].isin(today_names)] if len(rules_frame) else rules_frame
            acl_today = ACL.from_records(today_rules.itertuples(index=False), policies=today_names)
            # the built-in default policy stays attached (its requests were left out above): not diffed
            diffed = today_rules[~today_rules["policy"].eq("default")] if len(today_rules) else today_rules
            readable = [path for _, path in probe if acl_today.allows(path, "read")] if today_names else []
            today_cache[key] = (acl_today, list(diffed.itertuples(index=False)), readable)
        today, diffed, readable = today_cache[key]
        changes, unused_policies = _diff(diffed, today, needed) if diffed else ([], [])
        envs = sorted({o.environment for o in needed})
        known_envs = [e for e in envs if e != "unknown"]
        by_env: dict[str, list[ObservedAccess]] = {}
        for o in needed:
            env = o.environment
            if env == "unknown" and len(known_envs) == 1:
                env = known_envs[0]  # env-less paths (sys/, transit) of a one-environment identity
            by_env.setdefault(env, []).append(o)
        service = _service_of(principal, method, role_names)
        first, last = _iso(m["first"]), _iso(m["last"])
        built = []
        for env, obs in sorted(by_env.items()):
            rules: dict[str, set[str]] = {}
            for o in obs:
                rules.setdefault(o.path, set()).add(o.capability)
            rules, collapsed = collapse_siblings(rules, obs, inventory_index, env, env_of, collapse_at, env_cache)
            built.append((env, obs, {p: tuple(sorted(c)) for p, c in rules.items()}, collapsed))
        # what the identity loses is judged against all its suggested policies together
        every = {p: c for _, _, frozen, _ in built for p, c in frozen.items()}
        lost = _no_longer_readable(readable, every, ACL.from_rules(Rule.of(p, c) for p, c in every.items()))
        for env, obs, frozen, collapsed in built:
            level = access_level(c for caps in frozen.values() for c in caps)
            multi = len(by_env) > 1
            name = f"{service}-{slug(env) if env != 'unknown' else 'shared'}-{level}" if multi else f"{service}-{level}"
            acl = ACL.from_rules(Rule.of(p, c) for p, c in frozen.items())
            covers = all(acl.allows(o.path, o.capability) for o in obs)
            # a refusal goes with the policy of its environment (the first one when none matches)
            env_denied = [d for d in denied if not multi or d.environment == env
                          or (d.environment not in by_env and env == built[0][0])]
            header = [f"least privilege for {principal} ({method or 'unknown method'}), environment {env}",
                      (f"from {sum(o.count for o in obs)} granted requests on {len(obs)} path x capability "
                       f"pairs, {first} .. {last}"),
                      "today: " + (", ".join(today_names) or "unknown")]
            out.append(SuggestedPolicy(
                identity=principal, store=store, source="vault", auth_method=method, name=name,
                environment=env, access_level=level, format="hcl", rules=frozen,
                document=render_hcl(name, frozen, header), observed=sorted(obs, key=lambda o: (o.path, o.capability)),
                requests=sum(o.count for o in obs), first_at=first, last_at=last,
                current_policies=today_names, changes=changes, unused_policies=unused_policies,
                no_longer_reachable=sorted(lost)[:MAX_LISTED], no_longer_reachable_total=len(lost),
                reach_probed=len(probe) if today_names else 0,
                denied=env_denied, left_out=left_out, collapsed=collapsed, cross_environment=multi,
                covers_all_observed=covers,
            ))
    return out


def _no_longer_readable(readable: list[str], rules: dict[str, tuple[str, ...]], acl: ACL) -> list[str]:
    """Which of the paths readable today the suggested ``acl`` does not allow to read.

    A suggestion holds only exact rules and trailing-``*`` globs, so a path no rule names
    exactly and no glob stem prefixes is matched by nothing: denied without asking. Every other
    path is decided by the evaluator.
    """
    exact = set(rules)
    stems = tuple(p[:-1] for p in rules if p.endswith("*"))
    return [p for p in readable
            if not ((p in exact or (stems and p.startswith(stems))) and acl.allows(p, "read"))]


# --- AWS ----------------------------------------------------------------------------------


def aws_service(path: str, operation: str) -> str | None:
    """The service of a CloudTrail access row: from the resource ARN, the event source, or the name."""
    if path.startswith("arn:"):
        parts = path.split(":")
        return parts[2] if len(parts) > 2 else None
    if path.endswith(".amazonaws.com"):
        return path.split(".", 1)[0]
    return AWS_ACTION_SERVICE.get(operation)


def iam_document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2, sort_keys=False) + "\n"


def _iam_today(frames: Frames, store_names: set[str], principal: str) -> pd.DataFrame:
    """Today's IAM permission rules of ``principal`` (a role or user ARN): the policies its
    ``principal`` row binds (inline and managed), its groups' policies, and inline documents
    attached to it. Trust policies say who may assume a role, not what it may do: left out."""
    pol, rules, prin = frames("policy"), frames("policy_rule"), frames("principal")
    if not len(pol) or not len(rules):
        return rules.iloc[0:0] if len(rules.columns) else rules
    ids: set[str] = set()
    if len(prin):
        aws_p = prin[prin["source"].eq("aws") & prin["store"].isin(store_names)]
        mine = aws_p[aws_p["arn"].eq(principal)]
        groups = {g for gs in mine["groups"] for g in _str_list(gs)}
        for pols in mine["policies"]:
            ids.update(_str_list(pols))
        if groups:
            grp = aws_p[aws_p["kind"].eq("iam_group") & (aws_p["name"].isin(groups) | aws_p["arn"].isin(groups))]
            for pols in grp["policies"]:
                ids.update(_str_list(pols))
    inline = pol[pol["source"].eq("aws") & pol["attached_to"].eq(principal)]
    ids.update(inline["id"])
    perm = set(pol[pol["kind"].isin(["iam_managed", "iam_inline"])]["id"])
    return rules[rules["policy_id"].isin(ids & perm) & rules["store"].isin(store_names)]


def _iam_changes(today: pd.DataFrame, used: set[tuple[str, str]]) -> tuple[list[RuleChange], list[str]]:
    """Each Allow statement x resource of today against the (action, ARN) pairs used: IAM's own
    wildcard matching (``*`` and ``?``, actions case-insensitive). NotAction/NotResource and Deny
    statements are not judged (what they grant depends on everything else attached)."""
    changes, used_policies = [], set()
    for r in today.itertuples(index=False):
        if r.effect == "deny" or getattr(r, "not_action", False) or getattr(r, "not_resource", False):
            continue
        acts = _str_list(r.capabilities)
        hit = sorted({a for a in acts for (ua, ures) in used
                      if fnmatch.fnmatchcase(ua.lower(), a.lower()) and fnmatch.fnmatchcase(ures, str(r.path))})
        used_actions = sorted({ua for (ua, ures) in used for a in acts
                               if fnmatch.fnmatchcase(ua.lower(), a.lower()) and fnmatch.fnmatchcase(ures, str(r.path))})
        note = ""
        if hit and any("*" in a for a in hit):
            note = f"; wildcard used only for {', '.join(used_actions[:5])}{' ...' if len(used_actions) > 5 else ''}"
        verdict: Literal["remove", "narrow", "keep"] = "remove" if not hit else (
            "narrow" if len(hit) < len(acts) or note or "*" in str(r.path) else "keep")
        if hit:
            used_policies.add(str(r.policy))
        changes.append(RuleChange(str(r.policy), str(r.path), tuple(sorted(acts)), tuple(hit), verdict,
                                  len(used_actions), note))
    unused = sorted({str(p) for p in today["policy"]} - used_policies) if len(today) else []
    return changes, unused


def suggest_aws(
    frames: Frames, store: str, env_of: EnvOf, *, identity: str | None = None, aws_stores: set[str] | None = None,
) -> list[SuggestedPolicy]:
    """Suggested IAM policies of every principal of one CloudTrail store (Secrets Manager, KMS, SSM)."""
    events = _store_events(frames, store, identity)
    if not len(events):
        return []
    secrets = frames("secret")
    arn_of_name = {}
    if len(secrets):
        aws = secrets[secrets["source"].eq("aws") & secrets["arn"].notna()]
        arn_of_name = {str(n): str(a) for n, a in zip(aws["name"], aws["arn"])}
    out = []
    for principal, ev in events.groupby("principal", sort=True):
        principal = str(principal)
        method = next((str(m) for m in ev["auth_method"] if isinstance(m, str)), None)
        if method in ("root", "aws_service"):
            continue
        ev = ev.assign(granted=(ev["count"] - ev["errors"]).clip(lower=0))
        obs: list[ObservedAccess] = []
        denied: list[ObservedAccess] = []
        left_out: list[str] = []
        for r in ev.itertuples(index=False):
            svc = aws_service(str(r.path), str(r.operation))
            if svc not in AWS_SERVICES:
                continue
            action = f"{svc}:{r.operation}"
            res = str(r.path)
            if action in AWS_RESOURCELESS or res.endswith(".amazonaws.com") or res == "-":
                res = "*"
            elif not res.startswith("arn:"):
                if res in arn_of_name:
                    res = arn_of_name[res]
                else:
                    left_out.append(f"{action} on {res!r}: not an ARN and not in the inventory (resolve it first)")
                    continue
            if r.granted > 0:
                obs.append(ObservedAccess(res, action, str(r.operation), int(r.granted), "", res))
            if r.denied > 0:
                denied.append(ObservedAccess(res, action, str(r.operation), int(r.denied), "", res))
        if not obs:
            continue
        paths = pd.Series([o.path for o in obs + denied], dtype=object)
        envs = env_of(paths).tolist() if len(paths) else []
        obs = [ObservedAccess(o.path, o.capability, o.operation, o.count, e, o.resource)
               for o, e in zip(obs, envs[:len(obs)])]
        denied = [ObservedAccess(o.path, o.capability, o.operation, o.count, e, o.resource)
                  for o, e in zip(denied, envs[len(obs):])]
        known = sorted({o.environment for o in obs if o.environment != "unknown"})
        by_env: dict[str, list[ObservedAccess]] = {}
        for o in obs:
            env = known[0] if o.environment == "unknown" and len(known) == 1 else o.environment
            by_env.setdefault(env, []).append(o)
        today = _iam_today(frames, aws_stores or {store}, principal)
        used = {(o.capability, o.path) for o in obs}
        changes, unused_policies = _iam_changes(today, used) if len(today) else ([], [])
        service = _service_of(principal, method, {})
        for env, eobs in sorted(by_env.items()):
            by_res: dict[str, set[str]] = {}
            for o in eobs:
                by_res.setdefault(o.path, set()).add(o.capability)
            grouped: dict[tuple[str, ...], list[str]] = {}
            for res, acts in by_res.items():
                grouped.setdefault(tuple(sorted(acts)), []).append(res)
            statements = []
            for i, (acts, resources) in enumerate(sorted(grouped.items())):
                sid = re.sub(r"[^A-Za-z0-9]", "", f"Observed{slug(env).title()}{i + 1}")
                statements.append({"Sid": sid, "Effect": "Allow", "Action": list(acts),
                                   "Resource": sorted(resources) if len(resources) > 1 else resources[0]})
            actions = {a for acts in grouped for a in acts}
            level: Literal["read", "write", "admin"] = "read" if all(
                a.split(":", 1)[1].startswith(("Get", "List", "Describe", "Decrypt", "BatchGet")) for a in actions) \
                else "write"
            multi = len(by_env) > 1
            name = f"{service}-{slug(env) if env != 'unknown' else 'shared'}-{level}" if multi else f"{service}-{level}"
            first, last = ev["first_at"].min(), ev["last_at"].max()
            out.append(SuggestedPolicy(
                identity=principal, store=store, source="aws", auth_method=method, name=name, environment=env,
                access_level=level, format="iam_json",
                rules={res: tuple(sorted(a)) for res, a in by_res.items()}, document=iam_document(statements),
                observed=sorted(eobs, key=lambda o: (o.path, o.capability)), requests=sum(o.count for o in eobs),
                first_at=_iso(first), last_at=_iso(last), current_policies=sorted({str(p) for p in today["policy"]})
                if len(today) else [], changes=changes, unused_policies=unused_policies,
                denied=[d for d in denied if d.environment == env or not multi], left_out=left_out,
                cross_environment=multi,
            ))
    return out


# --- all stores -------------------------------------------------------------------------------


def suggest_policies(
    frames: Frames, env_of: EnvOf, *, identity: str | None = None, collapse_at: int = COLLAPSE_AT,
) -> list[SuggestedPolicy]:
    """Every suggestion of a snapshot: each audited Vault store and CloudTrail store."""
    kinds = store_kinds(frames)
    events = frames("access_event")
    stores = sorted({str(s) for s in events["store"]}) if len(events) else []
    aws_stores = {s for s in stores if kinds.get(s) == "aws"}
    out: list[SuggestedPolicy] = []
    for store in stores:
        if kinds.get(store) == "aws":
            found = suggest_aws(frames, store, env_of, identity=identity, aws_stores=aws_stores)
        else:
            found = suggest_vault(frames, store, env_of, identity=identity, collapse_at=collapse_at)
        gaps = incompleteness(frames, store)
        for s in found:
            s.coverage_gaps = gaps
        out += found
    return out


#: Tables whose gaps make a suggestion incomplete: the observed use, or today's grants.
SUGGESTION_INPUTS = frozenset({"access_event", "policy", "policy_rule", "auth_role", "principal", "secret"})


def incompleteness(frames: Frames, store: str) -> list[str]:
    """Why a store's suggestions may be incomplete: coverage gaps on their inputs, malformed log lines.

    Unknown is never "not needed": a log that could not be read in full may hide a path the
    identity uses, so the suggestion says so instead of passing as complete.
    """
    out = []
    gaps = frames("coverage_gap")
    if len(gaps):
        for g in gaps.itertuples(index=False):
            tables = set(_str_list(g.tables))
            if g.store == store and tables & SUGGESTION_INPUTS:
                out.append(f"coverage gap in store {g.store}: {g.reason} on {g.operation}"
                           f"{' (' + g.scope + ')' if g.scope else ''}; {', '.join(sorted(tables & SUGGESTION_INPUTS))} "
                           "incomplete")
    logs = frames("audit_log")
    if len(logs):
        for lg in logs[logs["store"].eq(store)].itertuples(index=False):
            if lg.malformed:
                out.append(f"audit log {lg.path}: {lg.malformed} malformed line(s) not analysed")
    return out


def suggestion_row(s: SuggestedPolicy) -> dict[str, Any]:
    """The assessment view's row (`posture.model.assessment.SuggestedPolicyRow`)."""
    return {
        "identity": s.identity, "store": s.store, "source": s.source, "auth_method": s.auth_method,
        "name": s.name, "environment": s.environment, "access_level": s.access_level, "format": s.format,
        "document": s.document, "rules": len(s.rules), "observed_paths": len({o.path for o in s.observed}),
        "requests": s.requests, "first_at": s.first_at, "last_at": s.last_at,
        "current_policies": s.current_policies, "removed": s.removed[:MAX_LISTED],
        "unused_policies": s.unused_policies, "no_longer_reachable": s.no_longer_reachable,
        "no_longer_reachable_total": s.no_longer_reachable_total, "reach_probed": s.reach_probed,
        "denied": [f"{d.path} ({d.capability}) x{d.count}" for d in s.denied][:MAX_LISTED],
        "left_out": s.left_out[:MAX_LISTED], "collapsed": s.collapsed,
        "cross_environment": s.cross_environment, "covers_all_observed": s.covers_all_observed,
        "coverage_gaps": s.coverage_gaps,
    }


def suggested_policy_rows(a: Any, snap: Any) -> list[Any]:
    """The assessment's ``suggested_policies`` view: every suggestion, validated by its contract model.

    ``a`` is the `checks.engine.Assessment` (its classifier decides environments, as for every
    other view); ``snap`` the snapshot it assessed.
    """
    from pydantic import TypeAdapter

    from posture.model.assessment import SuggestedPolicyRow

    if a.classifier is not None:
        env_of: EnvOf = a.classifier.environment_of_paths
    else:
        def env_of(paths: pd.Series) -> pd.Series:
            return pd.Series(["unknown"] * len(paths), index=paths.index, dtype=object)
    rows = [suggestion_row(s) for s in suggest_policies(snap.frame, env_of)]
    return TypeAdapter(list[SuggestedPolicyRow]).validate_python(rows)
