"""The read-only allow-list of the Vault collector, and the guard that enforces it.

The assessor token may be root. Every request is checked against `RULES`, an
allow-list of (method, path pattern), *before* any byte leaves the process;
anything else raises `ReadOnlyViolation`. Mount-dependent rules
(``{m}/metadata/*`` ...) only apply once the mount is registered with its
type, so ``secret/data/...``, a KV v1 ``GET`` or an AppRole ``secret-id``
write cannot even be expressed. `collectors.vault.policy` turns the same rules
into the assessor's ACL policy, so the policy is exactly the allow-list.

Mount names are literals, never patterns: a mount called ``team/+`` or ``*``
is compared character for character, and a path belongs to the longest
registered mount it starts with (segment-wise), as in Vault's own router. Only
the rules of that mount's type apply to it, so a KV v2 mount cannot lend its
``metadata/`` read rule to a KV v1 mount whose name it happens to prefix or
match.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from posture.model.errors import ReadOnlyViolation

#: Mount kinds a rule can be scoped to. Secret engines: kv1, kv2, transit, pki,
#: database, mount (every non-system secret mount). Auth methods (these):
#: approle, userpass, jwt (also oidc), kubernetes, auth (every auth mount).
AUTH_KINDS = ("auth", "approle", "userpass", "jwt", "kubernetes")


@dataclass(frozen=True)
class Rule:
    """One allowed request. ``pattern`` segments: literal, ``+`` (one segment),
    trailing ``*`` (any rest, possibly empty); ``{m}`` is the mount path, always
    matched literally.

    ``capability`` is the ACL capability it needs (None: unauthenticated
    endpoint, nothing to grant); ``sudo`` whether the endpoint is root-protected.
    """

    method: str
    pattern: str
    capability: str | None
    why: str
    kind: str | None = None
    sudo: bool = False
    login: bool = False
    product: str | None = None  # only this product has the endpoint (openbao / vault)


RULES: tuple[Rule, ...] = (
    # Server posture (unauthenticated)
    Rule("GET", "sys/health", None, "health, version, standby"),
    Rule("GET", "sys/seal-status", None, "seal type, threshold and shares, storage type"),
    Rule("GET", "sys/leader", None, "HA enabled and leader"),
    # Server posture (authenticated)
    Rule("GET", "sys/storage/raft/configuration", "read", "raft peers", sudo=True),
    Rule("GET", "auth/token/lookup-self", "read", "validate the assessor's own token"),
    # Mounts, auth methods, policies, audit devices
    Rule("GET", "sys/mounts", "read", "secret engine mounts"),
    Rule("GET", "sys/mounts/{m}/tune", "read", "effective lease TTLs", kind="mount"),
    Rule("GET", "sys/auth", "read", "auth methods"),
    Rule("GET", "sys/auth/{m}/tune", "read", "effective auth TTLs", kind="auth", sudo=True),
    Rule("LIST", "sys/policies/acl", "list", "ACL policy names"),
    Rule("GET", "sys/policies/acl/+", "read", "ACL policy documents"),
    Rule("GET", "sys/audit", "read", "audit devices", sudo=True),
    # Tokens
    Rule("LIST", "auth/token/accessors", "list", "token accessors", sudo=True),
    Rule("POST", "auth/token/lookup-accessor", "update", "token metadata by accessor (a POST)"),
    Rule("LIST", "auth/token/roles", "list", "token roles"),
    Rule("GET", "auth/token/roles/+", "read", "token role settings"),
    # Identity
    Rule("LIST", "identity/entity/id", "list", "identity entities"),
    Rule("GET", "identity/entity/id/+", "read", "entity policies and aliases"),
    Rule("LIST", "identity/group/id", "list", "identity groups"),
    Rule("GET", "identity/group/id/+", "read", "group policies and members"),
    # KV v2: metadata only, never data/
    Rule("LIST", "{m}/metadata/*", "list", "KV v2 names", kind="kv2"),
    Rule("GET", "{m}/metadata/*", "read", "KV v2 metadata (versions, custom metadata)", kind="kv2"),
    Rule("SCAN", "{m}/detailed-metadata/*", "scan", "all KV v2 metadata in one request",
         kind="kv2", product="openbao"),
    # KV v1: names only. A GET would return the value.
    Rule("LIST", "{m}/*", "list", "KV v1 names (never read)", kind="kv1"),
    # Transit, PKI, database: configuration and public parts only
    Rule("LIST", "{m}/keys", "list", "transit key names", kind="transit"),
    Rule("GET", "{m}/keys/+", "read", "transit key versions and rotation", kind="transit"),
    Rule("LIST", "{m}/certs", "list", "certificate serials", kind="pki"),
    Rule("LIST", "{m}/certs/detailed", "list", "certificates with expiry in one request",
         kind="pki", product="openbao"),
    Rule("GET", "{m}/cert/+", "read", "a (public) certificate", kind="pki"),
    Rule("LIST", "{m}/roles", "list", "database role names", kind="database"),
    Rule("GET", "{m}/roles/+", "read", "database role TTLs", kind="database"),
    Rule("LIST", "{m}/static-roles", "list", "database static role names", kind="database"),
    Rule("GET", "{m}/static-roles/+", "read", "database static role rotation", kind="database"),
    # Auth method roles (never role-id, never secret-id)
    Rule("LIST", "auth/{m}/role", "list", "AppRole roles", kind="approle"),
    Rule("GET", "auth/{m}/role/+", "read", "AppRole role settings", kind="approle"),
    Rule("LIST", "auth/{m}/users", "list", "userpass users", kind="userpass"),
    Rule("GET", "auth/{m}/users/+", "read", "userpass user settings (no password)", kind="userpass"),
    Rule("LIST", "auth/{m}/role", "list", "JWT/OIDC roles", kind="jwt"),
    Rule("GET", "auth/{m}/role/+", "read", "JWT/OIDC role bindings", kind="jwt"),
    Rule("LIST", "auth/{m}/role", "list", "Kubernetes roles", kind="kubernetes"),
    Rule("GET", "auth/{m}/role/+", "read", "Kubernetes role bindings", kind="kubernetes"),
    # The assessor's own login (AppRole / JWT); only through `VaultHTTP.login`
    Rule("POST", "auth/{m}/login", None, "assessor login", kind="auth", login=True),
)

SYSTEM_MOUNT_TYPES = frozenset({"system", "identity", "cubbyhole", "ns_system", "ns_identity", "ns_cubbyhole"})


def mount_kinds(mount_type: str, kv_version: int | None, *, auth: bool) -> list[str]:
    """Rule kinds that apply to a mount of this type."""
    if auth:
        base = {"oidc": "jwt"}.get(mount_type, mount_type)
        return ["auth"] + ([base] if base in AUTH_KINDS else [])
    if mount_type in SYSTEM_MOUNT_TYPES:
        return []
    kinds = ["mount"]
    if mount_type in ("kv", "generic"):
        kinds.append("kv2" if kv_version == 2 else "kv1")
    elif mount_type in ("transit", "pki", "database"):
        kinds.append(mount_type)
    return kinds


def logical_path_ok(path: str) -> bool:
    """A path the guard can reason about: no dot segments, no empty inner segment,
    no control characters or backslashes. (Hot path: cheap tests first.)"""
    if not path or path[0] == "/" or "//" in path or "\\" in path or not path.isprintable():
        return False
    if "." in path:
        for seg in path.split("/"):
            if seg in (".", ".."):
                return False
    return True


def shown_path(path: str) -> str:
    """``path`` as safe to print in a gap or a message (a control character is shown escaped)."""
    return path if path.isprintable() else repr(path)


def _segment_regex(pattern: str) -> str:
    """Regex of a pattern (or of the part after its mount): ``+`` one segment,
    a trailing ``*`` any rest; ``a/*`` also matches ``a`` and ``a/`` (the mount root)."""
    parts = pattern.split("/")
    out = []
    for i, seg in enumerate(parts):
        if seg == "+":
            out.append("[^/]+")
        elif seg == "*" and i == len(parts) - 1:
            out.append(".*")
        else:
            out.append(re.escape(seg))
    rx = "/".join(out)
    return rx[: -len("/.*")] + "(?:/.*)?" if rx.endswith("/.*") else rx


@lru_cache(maxsize=256)
def _alternation(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for several patterns; the matching group ``r<i>`` names the pattern."""
    return re.compile("|".join(f"(?P<r{i}>{_segment_regex(p)})" for i, p in enumerate(patterns)))


def _literal_prefix(pattern: str) -> str:
    """``sys/policies/acl/+`` -> ``sys/policies/acl``: the segments before the first wildcard."""
    segs = []
    for seg in pattern.split("/"):
        if seg in ("+", "*"):
            break
        segs.append(seg)
    return "/".join(segs)


#: method -> compiled alternation and the rule of each alternative
_ByMethod = dict[str, tuple[re.Pattern[str], list[Rule]]]


def _by_method(pairs: list[tuple[str, Rule]]) -> _ByMethod:
    """Compile (pattern, rule) pairs into one alternation per method."""
    grouped: dict[str, list[tuple[str, Rule]]] = {}
    for pattern, rule in pairs:
        grouped.setdefault(rule.method, []).append((pattern, rule))
    return {m: (_alternation(tuple(p for p, _ in mine)), [r for _, r in mine]) for m, mine in grouped.items()}


def _family(rule: Rule) -> str:
    """Which registry of mounts a mount-dependent rule's ``{m}`` names."""
    return "login" if rule.login else "auth" if rule.kind in AUTH_KINDS else "secret"


#: A mount-dependent rule split around its mount: (family, text before ``{m}``, rest after it).
_SCOPED: tuple[tuple[str, str, str, Rule], ...] = tuple(
    (_family(r), *r.pattern.split("{m}", 1), r) for r in RULES if r.kind is not None
)
#: Per family, the texts a mount name follows: "" and "sys/mounts/" for secret mounts ...
_PREFIXES: dict[str, tuple[str, ...]] = {
    fam: tuple(sorted({before for f, before, _, _ in _SCOPED if f == fam})) for fam in ("secret", "auth", "login")
}
#: Where Vault refuses to mount a secret engine; a listing that claims one there is wrong.
RESERVED_PREFIXES = ("auth/", "sys/", "identity/", "cubbyhole/", "audit/")


class Guard:
    """The allow-list, compiled for the mounts registered so far. Thread-safe.

    Fixed rules (no mount) are indexed by method and literal prefix. Each
    registered mount adds routes: the literal text up to and including its name
    (``secret``, ``sys/mounts/secret``, ``auth/approle`` ...) mapped to the
    compiled rules for what follows it. A path is checked against the fixed
    rules, then against the rules of its longest route only: a few dict
    lookups and one small match, however many mounts an estate has.
    """

    def __init__(self, product: str = "openbao") -> None:
        self.product = product
        self._lock = threading.Lock()
        fixed: dict[str, list[tuple[str, Rule]]] = {}
        for rule in RULES:
            if rule.kind is None:
                fixed.setdefault(_literal_prefix(rule.pattern), []).append((rule.pattern, rule))
        self._fixed: dict[str, _ByMethod] = {prefix: _by_method(pairs) for prefix, pairs in fixed.items()}
        self._fixed_heads = frozenset(p.split("/", 1)[0] for p in self._fixed)
        self._routes: dict[str, _ByMethod] = {}
        self._login_routes: dict[str, _ByMethod] = {}
        self._depth = self._login_depth = 0  # segments of the longest route
        self._kinds: dict[tuple[str, bool], list[str]] = {}

    def _add_routes(self, family: str, mount: str, kinds: list[str] | None) -> None:
        """Routes of ``mount`` in ``family`` with the rules of ``kinds`` (login: all).

        Every prefix of the family gets a route, with no rules if none apply: a
        mount owns its paths, so a system mount's paths are refused outright.
        """
        by_before: dict[str, list[tuple[str, Rule]]] = {before: [] for before in _PREFIXES[family]}
        for fam, before, after, rule in _SCOPED:
            if fam != family or (kinds is not None and rule.kind not in kinds):
                continue
            if rule.product and rule.product != self.product:
                continue
            by_before[before].append((after, rule))
        routes = self._login_routes if family == "login" else self._routes
        for before, pairs in by_before.items():
            key = before + mount
            if family == "login":
                self._login_depth = max(self._login_depth, key.count("/") + 1)
            else:
                self._depth = max(self._depth, key.count("/") + 1)
            routes[key] = _by_method(pairs)  # one assignment: readers need no lock

    def register_mount(self, path: str, mount_type: str, kv_version: int | None = None, *,
                       auth: bool = False) -> list[str]:
        """Allow the rules of this mount's kinds; returns the kinds.

        A system mount (no kinds) is registered too: it still owns its paths, so
        no other mount's rules reach into it.
        """
        m = path.strip("/")
        if not logical_path_ok(m):
            raise ReadOnlyViolation(f"mount path {path!r} is not a plain path")
        if not auth and m.startswith(RESERVED_PREFIXES):
            raise ReadOnlyViolation(f"mount path {path!r} is under a prefix Vault reserves")
        kinds = mount_kinds(mount_type, kv_version, auth=auth)
        with self._lock:
            if (m, auth) in self._kinds:
                return self._kinds[(m, auth)]
            self._kinds[(m, auth)] = kinds
            self._add_routes("auth" if auth else "secret", m, kinds)
        return kinds

    def allow_login(self, mount: str) -> None:
        """Allow ``POST auth/<mount>/login``, and only through `VaultHTTP.login`."""
        m = mount.strip("/")
        if not logical_path_ok(m):
            raise ReadOnlyViolation(f"auth mount {mount!r} is not a plain path")
        with self._lock:
            self._add_routes("login", m, None)

    def check(self, method: str, path: str, *, login: bool = False) -> Rule:
        """The rule that allows (method, path); raises `ReadOnlyViolation` otherwise."""
        if not logical_path_ok(path):
            raise ReadOnlyViolation(f"refused {method} {path!r}: not a plain path")
        if login:
            routes, depth = self._login_routes, self._login_depth
        else:
            if path.partition("/")[0] in self._fixed_heads:
                rule = self._check_fixed(method, path)
                if rule is not None:
                    return rule
            routes, depth = self._routes, self._depth
        key = _longest_route(path, routes, depth)
        if key is not None:
            compiled = routes[key].get(method)
            if compiled is not None:
                match = compiled[0].fullmatch(path, len(key))
                if match is not None:
                    return compiled[1][int(match.lastgroup[1:])]  # type: ignore[index]
        raise ReadOnlyViolation(f"refused {method} {path}: outside the read-only allow-list")

    def _check_fixed(self, method: str, path: str) -> Rule | None:
        end = len(path)
        while end > 0:  # longest literal prefix first: path, then up to each "/"
            compiled = self._fixed.get(path[:end], _NO_RULES).get(method)
            if compiled is not None:
                match = compiled[0].fullmatch(path)
                if match is not None:
                    return compiled[1][int(match.lastgroup[1:])]  # type: ignore[index]
            end = path.rfind("/", 0, end)
        return None


_NO_RULES: _ByMethod = {}


def _longest_route(path: str, routes: dict[str, _ByMethod], depth: int) -> str | None:
    """The longest route that ``path`` equals or continues with ``/`` (segment-wise).

    ``depth``: the most segments a route has, so a deep path costs no more
    lookups than the longest route.
    """
    ends = []
    pos = 0
    for _ in range(depth):
        pos = path.find("/", pos)
        if pos < 0:
            ends.append(len(path))
            break
        ends.append(pos)
        pos += 1
    for end in reversed(ends):
        if path[:end] in routes:
            return path[:end]
    return None
