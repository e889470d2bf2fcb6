"""Vault / OpenBao collector: everything the checks need, read-only, metadata only.

Every request goes through `collectors.vault_http.VaultHTTP`, whose guard
refuses anything outside the allow-list before it leaves the process. What
the token may not read (403), what is missing (404), slow (timeout) or not
implemented becomes a `CoverageGap` naming the tables it leaves incomplete;
the walk goes on. Only a store that cannot be assessed at all (unreachable,
sealed, TLS failure, rejected token) raises `CollectionError`.

KV v2 metadata comes from OpenBao's ``SCAN <mount>/detailed-metadata/`` (one
request per mount) where supported, else from a concurrent LIST + GET walk.
KV v1 is listed (names only) and never read: a v1 GET returns the value.
"""

from __future__ import annotations

import gc
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from collectors.base import CollectContext
from collectors.vault_http import Guard, Response, TransportError, VaultHTTP, logical_path_ok
from posture.model.engagement import VaultStore
from posture.model.errors import CollectionError, ConfigError
from posture.model.records import (
    AuditDevice,
    AuthMethod,
    AuthRole,
    Certificate,
    Key,
    Mount,
    Policy,
    PolicyRule,
    Principal,
    Secret,
    Server,
    Token,
)

#: Endpoints HashiCorp Vault (Enterprise) has and OpenBao does not: recorded as
#: not applicable, never as gaps.
OPENBAO_NOT_APPLICABLE = (
    "sys/internal/counters/activity",
    "sys/policies/egp",
    "sys/policies/rgp",
    "sys/replication/status",
    "sys/license/status",
)

_TRUE = {"1", "true", "yes", "on"}


# --- Small parsers ------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (nanoseconds allowed) or epoch seconds; empty / zero time -> None."""
    if value in (None, "", 0) or (isinstance(value, str) and value.startswith("0001-01-01")):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        m = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", str(value))
        if not m:
            return None
        frac = (m.group(2) or "")[:7]
        dt = datetime.fromisoformat(m.group(1) + frac + (m.group(3) or "+00:00").replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> int | None:
    """Seconds from an int or a Go duration string ("768h0m0s", "30m")."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return _parse_duration_str(str(value))


@lru_cache(maxsize=1024)
def _parse_duration_str(value: str) -> int | None:
    s = value.strip()
    if s.isdigit():
        return int(s)
    parts = _GO_DURATION.findall(s)
    if not parts:
        return None
    return int(sum(float(n) * _UNIT[u] for n, u in parts))


_HCL_TOKEN = re.compile(
    r'(?P<ws>\s+|#[^\n]*|//[^\n]*|/\*.*?\*/)'
    r'|(?P<heredoc><<-?(?P<tag>\w+)\n.*?\n\s*(?P=tag))'
    r'|(?P<str>"(?:[^"\\]|\\.)*")'
    r'|(?P<punct>[{}\[\]=,:])'
    r'|(?P<word>[A-Za-z0-9_.\-+*/]+)',
    re.DOTALL,
)


def _hcl_tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _HCL_TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup != "tag" else "heredoc"
        if m.group("ws") is not None:
            continue
        if m.group("heredoc") is not None:
            out.append(("str", m.group("heredoc")))
        elif m.group("str") is not None:
            out.append(("str", orjson.loads(m.group("str").encode())))
        elif m.group("punct") is not None:
            out.append(("punct", m.group("punct")))
        else:
            out.append((kind or "word", m.group("word")))
    return out


class _HclParser:
    """Enough HCL for ACL policies: blocks with labels, attributes, lists, objects."""

    def __init__(self, text: str) -> None:
        self.toks = _hcl_tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ValueError("unexpected end of policy")
        self.i += 1
        return tok

    def body(self, until: str | None = None) -> list[tuple[str, list[str], Any]]:
        items: list[tuple[str, list[str], Any]] = []
        while True:
            tok = self.peek()
            if tok is None:
                if until:
                    raise ValueError("unclosed block")
                return items
            if tok == ("punct", until):
                self.i += 1
                return items
            if tok == ("punct", ","):
                self.i += 1
                continue
            key = self.take()[1]
            labels: list[str] = []
            while (nxt := self.peek()) and nxt[0] == "str":
                labels.append(self.take()[1])
            nxt = self.take()
            if nxt[1] in ("=", ":"):
                items.append((key, labels, self.value()))
            elif nxt == ("punct", "{"):
                items.append((key, labels, self.body("}")))
            else:
                raise ValueError(f"unexpected {nxt[1]!r} after {key!r}")

    def value(self) -> Any:
        kind, tok = self.take()
        if kind == "str":
            return tok
        if tok == "[":
            vals = []
            while self.peek() != ("punct", "]"):
                if self.peek() == ("punct", ","):
                    self.i += 1
                    continue
                vals.append(self.value())
            self.i += 1
            return vals
        if tok == "{":
            return {k: v for k, _, v in self.body("}")}
        return tok


def parse_acl(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, attributes) of every ``path`` stanza, HCL or JSON. Raises ValueError."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict):
            paths = doc.get("path", {})
            if isinstance(paths, list):  # [{"a/*": {...}}, ...]
                merged: dict[str, Any] = {}
                for p in paths:
                    merged.update(p)
                paths = merged
            return [(p, attrs if isinstance(attrs, dict) else {}) for p, attrs in paths.items()]
    rules = []
    for key, labels, val in _HclParser(text).body():
        if key == "path" and labels:
            attrs = {k: v for k, _, v in val} if isinstance(val, list) else dict(val or {})
            rules.append((labels[0], attrs))
    return rules


def policy_rules(store: str, policy_id: str, name: str, text: str) -> list[PolicyRule]:
    rows: list[PolicyRule] = []
    for n, (path, attrs) in enumerate(parse_acl(text)):
        caps = attrs.get("capabilities") or []
        if isinstance(caps, str):
            caps = [caps]
        caps = [str(c).lower() for c in caps]
        conditions = {
            k: v for k, v in attrs.items()
            if k != "capabilities" and v not in (None, "", [], {})
        }
        rows.append(
            PolicyRule(
                id=f"{policy_id}#{n}:{path}",
                store=store,
                source="vault",
                policy_id=policy_id,
                policy=name,
                path=path,
                capabilities=caps,
                effect="deny" if "deny" in caps else "allow",
                wildcard=path == "*" or "*" in path or "+" in path.split("/"),
                wildcard_all=path in ("*", "+/*", "/*"),
                sudo="sudo" in caps,
                sys_access=path in ("*", "+/*", "sys") or path.startswith(("sys/", "sys*", "+/sys/")),
                conditions=_jsonable(conditions),
            )
        )
    return rows


def _jsonable(v: Any) -> Any:
    return orjson.loads(orjson.dumps(v, default=str))


def _strs(v: Any) -> list[str]:
    if v is None or v == "":
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(x) for x in v]


def _int(v: Any) -> int | None:
    if v is None or v == "" or isinstance(v, bool):
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return parse_duration(v)


# --- Connection ------------------------------------------------------------------


def connect(store: VaultStore, *, env: dict[str, str] | None = None, guard: Guard | None = None) -> VaultHTTP:
    """An authenticated client for ``store``, following the VAULT_* conventions.

    Checks reachability, seal and the token; raises `CollectionError` with one
    line (never the token) if the store cannot be assessed.
    """
    env = dict(os.environ if env is None else env)
    address = store.address or env.get("VAULT_ADDR")
    if not address:
        raise ConfigError(f"vault store {store.name!r}: no address (set 'address' or VAULT_ADDR)")
    skip = store.skip_verify
    if skip is None:
        skip = env.get("VAULT_SKIP_VERIFY", "").strip().lower() in _TRUE
    client = VaultHTTP(
        address,
        guard=guard or Guard(),
        namespace=store.namespace or env.get("VAULT_NAMESPACE") or None,
        ca_cert=store.ca_cert or env.get("VAULT_CACERT") or None,
        skip_verify=skip,
        timeout=store.timeout,
        retries=store.retries,
        pool_size=store.concurrency,
    )
    where = f"vault store {store.name!r} ({client.address})"
    try:
        _check_server(client, where)
        _authenticate(client, store, env, where)
        who = client.request("GET", "auth/token/lookup-self")
    except TransportError as e:
        client.close()
        raise CollectionError(f"{where}: {e}") from None
    except BaseException:
        client.close()
        raise
    if who.status in (401, 403):
        client.close()
        raise CollectionError(
            f"{where}: token rejected (invalid, expired, or lacking auth/token/lookup-self; "
            "see 'posture policy vault')"
        )
    if not who.ok:
        client.close()
        raise CollectionError(f"{where}: token lookup failed (HTTP {who.status})")
    return client


def _check_server(client: VaultHTTP, where: str) -> dict[str, Any]:
    client.retries, retries = min(client.retries, 2), client.retries
    try:
        health = client.request("GET", "sys/health")
    finally:
        client.retries = retries
    body = health.data if isinstance(health.data, dict) else {}
    if health.status == 501 or body.get("initialized") is False:
        raise CollectionError(f"{where}: server is not initialized")
    if health.status == 503 or body.get("sealed"):
        raise CollectionError(f"{where}: server is sealed")
    if health.status not in (200, 429, 472, 473):
        raise CollectionError(f"{where}: unexpected health status HTTP {health.status}")
    return body


def _authenticate(client: VaultHTTP, store: VaultStore, env: dict[str, str], where: str) -> None:
    auth = store.auth
    if auth.method == "token":
        token = env.get(auth.token_env)
        if not token:
            helper = Path.home() / ".vault-token"
            if auth.token_env == "VAULT_TOKEN" and helper.is_file():
                token = helper.read_text().strip()
        if not token:
            raise CollectionError(f"{where}: no token (set {auth.token_env})")
        client.set_token(token)
    elif auth.method == "approle":
        role_id = auth.role_id or env.get(auth.role_id_env)
        secret_id = env.get(auth.secret_id_env)
        if not role_id or not secret_id:
            raise CollectionError(f"{where}: AppRole login needs {auth.role_id_env} and {auth.secret_id_env}")
        client.login(auth.mount or "approle", {"role_id": role_id, "secret_id": secret_id})
    elif auth.method == "jwt":
        jwt = env.get(auth.jwt_env)
        if not jwt or not auth.role:
            raise CollectionError(f"{where}: JWT login needs auth.role and {auth.jwt_env}")
        client.login(auth.mount or "jwt", {"role": auth.role, "jwt": jwt})


# --- The collector -----------------------------------------------------------------


class _TaskGroup:
    """A bounded pool of worker threads on a C-level queue; tasks may submit more.

    Lighter than ``ThreadPoolExecutor`` (no Future per task), which matters on
    the hot path of a 10,000-secret walk. ``wait`` re-raises the first error.
    """

    def __init__(self, workers: int) -> None:
        self.queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self.pending = 0
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.stopped = False
        self.threads = [threading.Thread(target=self._work, name=f"vault-{i}", daemon=True) for i in range(workers)]
        for t in self.threads:
            t.start()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self.cond:
            if self.error is not None:
                return
            self.pending += 1
        self.queue.put((fn, args))

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            fn, args = item
            try:
                if not self.stopped:
                    fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised in wait()
                with self.cond:
                    self.error = self.error or e
            finally:
                with self.cond:
                    self.pending -= 1
                    if self.pending == 0:
                        self.cond.notify_all()

    def wait(self) -> None:
        with self.cond:
            while self.pending:
                self.cond.wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the workers; tasks still queued (after an error or Ctrl-C) are skipped."""
        self.stopped = True
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """Keep the cyclic GC off the hot path while records pile up.

    Profiling a 10,000-secret walk showed about a third of the client CPU in
    full collections that rescan every object the imports created (pandas,
    pydantic ...). Freezing those and raising the gen-0 threshold for the
    duration of the run removes that; both are restored afterwards.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 50_000), threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


_GAP_REASON = {401: "denied", 403: "denied", 404: "not_found", 405: "unsupported", 501: "unsupported", 429: "throttled"}


class VaultCollector:
    """Collects one Vault/OpenBao store into the snapshot sink."""

    source = "vault"
    version = "1.0.0"

    def __init__(self, store: VaultStore, ctx: CollectContext, *, env: dict[str, str] | None = None) -> None:
        self.store = store
        self.ctx = ctx
        self.sink = ctx.sink
        self.env = env
        self.http: VaultHTTP | None = None
        self.product = "openbao"
        self.kv_mode: dict[str, str] = {}  # mount -> "scan" | "walk": how its metadata was read
        self._task: Any = None
        self._total = 0
        self._plock = threading.Lock()
        self._only = {m.strip("/") for m in store.mounts} if store.mounts else None

    # -- plumbing
    def rid(self, path: str) -> str:
        return f"vault:{self.store.name}:{path}"

    def _progress(self, advance: int = 0, total: int = 0) -> None:
        p = self.ctx.progress
        if p is None or self._task is None:
            return
        with self._plock:
            if total:
                self._total += total
                p.update(self._task, total=self._total)
            if advance:
                p.advance(self._task, advance)

    def gap(self, op: str, reason: str, tables: list[str], scope: str = "", detail: str | None = None) -> None:
        self.sink.gap(
            store=self.store.name, source="vault", tables=tables, operation=op,
            reason=reason, scope=scope, detail=detail,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        tables: list[str],
        scope: str = "",
        body: dict[str, Any] | None = None,
        quiet: bool = False,
    ) -> Response | None:
        """A guarded request; failures become gaps (unless ``quiet``) and return None.

        A LIST that answers 404 without errors is an empty folder, not a gap.
        """
        assert self.http is not None
        op = f"{method} {path}"
        try:
            resp = self.http.request(method, path, body)
        except TransportError as e:
            if not quiet:
                self.gap(op, "timeout" if e.kind == "timeout" else "error", tables, scope, str(e))
            return None
        if resp.ok:
            return resp
        if resp.status == 404 and method in ("LIST", "SCAN") and not resp.errors:
            return Response(200, {"data": {"keys": []}}, [])
        if quiet:
            return None
        reason = _GAP_REASON.get(resp.status, "error")
        if any("unsupported" in e for e in resp.errors):
            reason = "unsupported"
        detail = f"HTTP {resp.status}" + (f": {resp.errors[0]}" if resp.errors else "")
        self.gap(op, reason, tables, scope, detail)
        return None

    @staticmethod
    def data(resp: Response | None) -> dict[str, Any]:
        if resp is None or not isinstance(resp.data, dict):
            return {}
        d = resp.data.get("data")
        return d if isinstance(d, dict) else resp.data

    def keys(self, resp: Response | None) -> list[str]:
        return [str(k) for k in (self.data(resp).get("keys") or [])]

    def wanted(self, mount: str) -> bool:
        return self._only is None or mount.strip("/") in self._only

    # -- run
    def run(self) -> None:
        self.http = connect(self.store, env=self.env)
        if self.ctx.progress is not None:
            self._task = self.ctx.progress.add_task(f"vault {self.store.name}", total=0)
        group = _TaskGroup(self.store.concurrency)
        try:
            with _quiet_gc():
                self.collect_server()
                mounts = self.collect_mounts()
                auths = self.collect_auth_methods()
                self.collect_policies(group)
                self.collect_audit()
                self.collect_tokens(group)
                self.collect_identity(group)
                for path, info in auths.items():
                    self.collect_auth_roles(group, path, info)
                for path, info in mounts.items():
                    self.collect_engine(group, path, info)
                group.wait()
        finally:
            group.close()
            self.http.close()

    # -- server
    def collect_server(self) -> None:
        assert self.http is not None
        health = self.data(self.call("GET", "sys/health", tables=["server"], quiet=True))
        seal = self.data(self.call("GET", "sys/seal-status", tables=["server"]))
        self.product = "vault" if ("build_date" in seal or "enterprise" in health) else "openbao"
        self.http.guard.product = self.product
        leader = self.data(self.call("GET", "sys/leader", tables=["server"], quiet=True))
        storage = seal.get("storage_type")
        raft_peers = None
        if storage == "raft":
            raft = self.data(self.call("GET", "sys/storage/raft/configuration", tables=["server"]))
            servers = (raft.get("config") or {}).get("servers")
            raft_peers = len(servers) if isinstance(servers, list) else None
        seal_type = seal.get("type")
        shamir = seal_type == "shamir"
        self.sink.add(
            Server(
                id=self.rid("server"),
                store=self.store.name,
                source="vault",
                address=self.http.address,
                product=self.product,
                version=health.get("version") or seal.get("version"),
                initialized=seal.get("initialized", health.get("initialized")),
                sealed=seal.get("sealed", health.get("sealed")),
                seal_type=seal_type,
                seal_threshold=_int(seal.get("t")) if shamir else None,
                seal_shares=_int(seal.get("n")) if shamir else None,
                ha_enabled=leader.get("ha_enabled"),
                storage_type=storage,
                raft_peers=raft_peers,
                namespace=self.http.namespace,
                not_applicable=list(OPENBAO_NOT_APPLICABLE) if self.product == "openbao" else [],
            )
        )
        self._progress(advance=1, total=1)

    # -- mounts and auth methods
    def collect_mounts(self) -> dict[str, dict[str, Any]]:
        assert self.http is not None
        listing = self.data(self.call("GET", "sys/mounts", tables=["mount", "secret", "key", "certificate"]))
        mounts: dict[str, dict[str, Any]] = {}
        for path, info in sorted(listing.items()):
            if not isinstance(info, dict) or "type" not in info or not self.wanted(path):
                continue
            m = path.strip("/")
            if not logical_path_ok(m):
                self.gap(f"mount {path}", "unsupported", ["secret"], path, "mount path not plain")
                continue
            mtype = info.get("type", "")
            opts = info.get("options") or {}
            kv_version = None
            if mtype in ("kv", "generic"):
                kv_version = 2 if str(opts.get("version", "1")) == "2" else 1
            kinds = self.http.guard.register_mount(m, mtype, kv_version)
            cfg = info.get("config") or {}
            default_ttl, max_ttl = _int(cfg.get("default_lease_ttl")), _int(cfg.get("max_lease_ttl"))
            if "mount" in kinds:
                tune = self.data(self.call("GET", f"sys/mounts/{m}/tune", tables=["mount"], scope=path))
                default_ttl = _int(tune.get("default_lease_ttl")) if tune else (default_ttl or None)
                max_ttl = _int(tune.get("max_lease_ttl")) if tune else (max_ttl or None)
            else:
                default_ttl, max_ttl = default_ttl or None, max_ttl or None
            info = dict(info, _kv=kv_version, _kinds=kinds)
            mounts[m] = info
            self.sink.add(
                Mount(
                    id=self.rid(f"{m}/"),
                    store=self.store.name,
                    source="vault",
                    path=f"{m}/",
                    type=mtype,
                    kv_version=kv_version,
                    default_lease_ttl=default_ttl,
                    max_lease_ttl=max_ttl,
                    seal_wrap=info.get("seal_wrap"),
                    local=info.get("local"),
                    description=info.get("description") or None,
                )
            )
        self._progress(advance=1, total=1)
        return mounts

    def collect_auth_methods(self) -> dict[str, dict[str, Any]]:
        assert self.http is not None
        listing = self.data(self.call("GET", "sys/auth", tables=["auth_method", "auth_role"]))
        out: dict[str, dict[str, Any]] = {}
        for path, info in sorted(listing.items()):
            if not isinstance(info, dict) or "type" not in info:
                continue
            m = path.strip("/")
            if not logical_path_ok(m):
                continue
            mtype = info["type"]
            self.http.guard.register_mount(m, mtype, auth=True)
            tune = self.data(self.call("GET", f"sys/auth/{m}/tune", tables=["auth_method"], scope=f"auth/{path}"))
            cfg = info.get("config") or {}
            default_ttl = _int(tune.get("default_lease_ttl")) if tune else (_int(cfg.get("default_lease_ttl")) or None)
            max_ttl = _int(tune.get("max_lease_ttl")) if tune else (_int(cfg.get("max_lease_ttl")) or None)
            out[m] = dict(info)
            self.sink.add(
                AuthMethod(
                    id=self.rid(f"auth/{m}/"),
                    store=self.store.name,
                    source="vault",
                    path=f"auth/{m}/",
                    type=mtype,
                    default_lease_ttl=default_ttl,
                    max_lease_ttl=max_ttl,
                    description=info.get("description") or None,
                )
            )
        self._progress(advance=1, total=1)
        return out

    def collect_auth_roles(self, group: _TaskGroup, mount: str, info: dict[str, Any]) -> None:
        mtype = info.get("type", "")
        listing = {
            "approle": "role", "userpass": "users", "jwt": "role", "oidc": "role", "kubernetes": "role",
        }.get(mtype)
        if mtype == "token":
            self._list_then(group, "auth/token/roles", ["auth_role"], "auth/token/",
                            lambda n: self._auth_role(mount, "token", f"auth/token/roles/{n}", n))
            return
        if listing is None:
            return
        base = f"auth/{mount}/{listing}"
        self._list_then(group, base, ["auth_role"], f"auth/{mount}/",
                        lambda n: self._auth_role(mount, mtype, f"{base}/{n}", n))

    def _list_then(self, group: _TaskGroup, path: str, tables: list[str], scope: str,
                   each: Callable[[str], None]) -> None:
        def task() -> None:
            names = [k for k in self.keys(self.call("LIST", path, tables=tables, scope=scope))
                     if logical_path_ok(k) and "/" not in k.rstrip("/")]
            self._progress(advance=1, total=1 + len(names))
            for n in names:
                group.submit(each, n.rstrip("/"))
        group.submit(task)

    def _auth_role(self, mount: str, method: str, path: str, name: str) -> None:
        d = self.data(self.call("GET", path, tables=["auth_role"], scope=f"auth/{mount}/"))
        self._progress(advance=1)
        if not d:
            return
        policies = _strs(d.get("token_policies")) or _strs(d.get("policies")) or _strs(d.get("allowed_policies"))
        self.sink.add(
            AuthRole(
                id=self.rid(path),
                store=self.store.name,
                source="vault",
                mount=f"auth/{mount}/",
                method=method,
                name=name,
                policies=sorted(set(policies)),
                token_ttl=_int(d.get("token_ttl", d.get("ttl"))),
                token_max_ttl=_int(d.get("token_max_ttl", d.get("max_ttl")))
                or _int(d.get("token_explicit_max_ttl")),
                token_type=d.get("token_type") or None,
                token_bound_cidrs=_strs(d.get("token_bound_cidrs")),
                secret_id_ttl=_int(d.get("secret_id_ttl")),
                secret_id_num_uses=_int(d.get("secret_id_num_uses")),
                secret_id_bound_cidrs=_strs(d.get("secret_id_bound_cidrs")),
                bind_secret_id=d.get("bind_secret_id"),
                bound_claims=_jsonable(d.get("bound_claims") or {}),
                bound_audiences=_strs(d.get("bound_audiences")),
                bound_subject=d.get("bound_subject") or None,
                bound_service_account_names=_strs(d.get("bound_service_account_names")),
                bound_service_account_namespaces=_strs(d.get("bound_service_account_namespaces")),
                orphan=d.get("orphan"),
                renewable=d.get("renewable"),
                period=_int(d.get("token_period", d.get("period"))),
            )
        )

    # -- policies, audit, tokens, identity
    def collect_policies(self, group: _TaskGroup) -> None:
        def one(name: str) -> None:
            if name == "root":
                self._progress(advance=1)
                return  # built in, not readable, and by definition everything
            path = f"sys/policies/acl/{name}"
            d = self.data(self.call("GET", path, tables=["policy", "policy_rule"], scope="sys/policies/acl/"))
            self._progress(advance=1)
            if not d:
                return
            text = d.get("policy") or ""
            pid = self.rid(path)
            self.sink.add(Policy(id=pid, store=self.store.name, source="vault", name=name,
                                 kind="vault_acl", document=text))
            try:
                rules = policy_rules(self.store.name, pid, name, text)
            except ValueError as e:
                self.gap(f"parse {path}", "error", ["policy_rule"], "sys/policies/acl/", str(e))
                return
            for r in rules:
                self.sink.add(r)

        self._list_then(group, "sys/policies/acl", ["policy", "policy_rule"], "sys/policies/acl/", one)

    def collect_audit(self) -> None:
        listing = self.data(self.call("GET", "sys/audit", tables=["audit_device"], scope="sys/audit"))
        for path, info in sorted(listing.items()):
            if not isinstance(info, dict) or "type" not in info:
                continue
            opts = {str(k): str(v) for k, v in (info.get("options") or {}).items()}
            self.sink.add(
                AuditDevice(
                    id=self.rid(f"sys/audit/{path}"),
                    store=self.store.name,
                    source="vault",
                    path=path,
                    type=info["type"],
                    options=opts,
                )
            )
        self._progress(advance=1, total=1)

    def collect_tokens(self, group: _TaskGroup) -> None:
        if not self.store.list_tokens:
            self.gap("LIST auth/token/accessors", "excluded", ["token"], "auth/token/",
                     "list_tokens is false in the engagement")
            return

        def one(accessor: str) -> None:
            resp = self.call("POST", "auth/token/lookup-accessor", body={"accessor": accessor},
                             tables=["token"], scope="auth/token/", quiet=True)
            self._progress(advance=1)
            if resp is None:
                return  # expired or revoked between LIST and lookup
            d = self.data(resp)
            policies = sorted(set(_strs(d.get("policies"))))
            self.sink.add(
                Token(
                    id=self.rid(f"token:{self.ctx.fingerprint(accessor)}"),
                    store=self.store.name,
                    source="vault",
                    accessor_hash=self.ctx.fingerprint(accessor),
                    display_name=d.get("display_name") or None,
                    policies=policies,
                    ttl=_int(d.get("ttl")),
                    explicit_max_ttl=_int(d.get("explicit_max_ttl")),
                    creation_time=parse_time(d.get("creation_time")),
                    creation_ttl=_int(d.get("creation_ttl")),
                    expire_time=parse_time(d.get("expire_time")),
                    orphan=d.get("orphan"),
                    root="root" in policies,
                    renewable=d.get("renewable"),
                    type=d.get("type") or None,
                    path=d.get("path") or None,
                    entity_id=d.get("entity_id") or None,
                )
            )

        def task() -> None:
            accessors = self.keys(self.call("LIST", "auth/token/accessors", tables=["token"], scope="auth/token/"))
            self._progress(advance=1, total=1 + len(accessors))
            for a in accessors:
                group.submit(one, a)

        group.submit(task)

    def collect_identity(self, group: _TaskGroup) -> None:
        def one(kind: str, ident: str) -> None:
            path = f"identity/{kind}/id/{ident}"
            d = self.data(self.call("GET", path, tables=["principal"], scope="identity/"))
            self._progress(advance=1)
            if not d:
                return
            if kind == "entity":
                extra: dict[str, Any] = {
                    "groups": _strs(d.get("group_ids")),
                    "aliases": [f"{a.get('mount_path', '')}{a.get('name', '')}" for a in d.get("aliases") or []],
                    "disabled": d.get("disabled"),
                }
            else:
                extra = {"members": _strs(d.get("member_entity_ids")) + _strs(d.get("member_group_ids"))}
            self.sink.add(Principal(
                id=self.rid(path), store=self.store.name, source="vault",
                name=d.get("name") or ident, kind=f"vault_{kind}",
                created_at=parse_time(d.get("creation_time")),
                policies=sorted(set(_strs(d.get("policies")))),
                tags={str(k): str(v) for k, v in (d.get("metadata") or {}).items()},
                **extra,
            ))

        for kind in ("entity", "group"):
            self._list_then(group, f"identity/{kind}/id", ["principal"], "identity/",
                            lambda ident, kind=kind: one(kind, ident))

    # -- secret engines
    def collect_engine(self, group: _TaskGroup, mount: str, info: dict[str, Any]) -> None:
        kinds = info.get("_kinds") or []
        if "kv2" in kinds:
            group.submit(self.collect_kv2, group, mount)
        elif "kv1" in kinds:
            group.submit(self.walk_kv, group, mount, 1, "")
        elif "transit" in kinds:
            self._list_then(group, f"{mount}/keys", ["key"], f"{mount}/", lambda n: self.transit_key(mount, n))
        elif "pki" in kinds:
            group.submit(self.collect_pki, group, mount)
        elif "database" in kinds:
            self._list_then(group, f"{mount}/roles", ["secret"], f"{mount}/",
                            lambda n: self.database_role(mount, "roles", n))
            self._list_then(group, f"{mount}/static-roles", ["secret"], f"{mount}/",
                            lambda n: self.database_role(mount, "static-roles", n))

    def collect_kv2(self, group: _TaskGroup, mount: str) -> None:
        if self.product == "openbao" and self.ctx.options.get("vault_scan", True):
            resp = self.call("SCAN", f"{mount}/detailed-metadata/", tables=["secret"], scope=f"{mount}/", quiet=True)
            if resp is not None:
                info = self.data(resp).get("key_info") or {}
                self._progress(total=len(info) + 1, advance=1)
                for name, meta in info.items():
                    if isinstance(meta, dict) and logical_path_ok(name):
                        self.add_kv2(mount, name, meta)
                self._progress(advance=len(info))
                self.kv_mode[mount] = "scan"
                return
        self.kv_mode[mount] = "walk"
        self.walk_kv(group, mount, 2, "")

    def walk_kv(self, group: _TaskGroup, mount: str, version: int, prefix: str) -> None:
        """LIST one folder; sub-folders and (KV v2) metadata GETs go back on the pool."""
        list_path = f"{mount}/metadata/{prefix}" if version == 2 else f"{mount}/{prefix}"
        names = self.keys(self.call("LIST", list_path, tables=["secret"], scope=f"{mount}/"))
        self._progress(advance=1, total=1 + len(names))
        for key in names:
            full = prefix + key
            if not logical_path_ok(full):
                self.gap(f"LIST {list_path}", "unsupported", ["secret"], f"{mount}/",
                         "a listed name is not a plain path segment")
                self._progress(advance=1)
                continue
            if key.endswith("/"):
                group.submit(self.walk_kv, group, mount, version, full)
                self._progress(advance=1)
            elif version == 2:
                group.submit(self.kv2_metadata, mount, full)
            else:
                self.add_kv1(mount, full)
                self._progress(advance=1)

    def kv2_metadata(self, mount: str, name: str) -> None:
        resp = self.call("GET", f"{mount}/metadata/{name}", tables=["secret"], scope=f"{mount}/")
        self._progress(advance=1)
        if resp is not None:
            self.add_kv2(mount, name, self.data(resp))

    def add_kv1(self, mount: str, name: str) -> None:
        self.sink.add(Secret(
            id=self.rid(f"{mount}/{name}"), store=self.store.name, source="vault", kind="kv1",
            path=f"{mount}/{name}", mount=f"{mount}/", name=name,
        ))

    def add_kv2(self, mount: str, name: str, meta: dict[str, Any]) -> None:
        versions = meta.get("versions") or {}
        nums = sorted(int(v) for v in versions if str(v).isdigit())
        current = _int(meta.get("current_version"))
        cur = versions.get(str(current)) or {} if current else {}
        custom = meta.get("custom_metadata") or {}
        self.sink.add(Secret(
            id=self.rid(f"{mount}/{name}"),
            store=self.store.name,
            source="vault",
            kind="kv2",
            path=f"{mount}/{name}",
            mount=f"{mount}/",
            name=name,
            created_at=parse_time(meta.get("created_time")),
            updated_at=parse_time(meta.get("updated_time")),
            last_rotated_at=parse_time(cur.get("created_time")) or parse_time(meta.get("updated_time")),
            deleted_at=parse_time(cur.get("deletion_time")),
            current_version=current,
            oldest_version=nums[0] if nums else _int(meta.get("oldest_version")),
            version_count=len(nums),
            max_versions=_int(meta.get("max_versions")),
            delete_version_after=parse_duration(meta.get("delete_version_after")),
            custom_metadata={str(k): str(v) for k, v in custom.items()},
        ))

    def transit_key(self, mount: str, name: str) -> None:
        path = f"{mount}/keys/{name}"
        d = self.data(self.call("GET", path, tables=["key"], scope=f"{mount}/"))
        self._progress(advance=1)
        if not d:
            return
        times: dict[int, datetime] = {}
        for v, t in (d.get("keys") or {}).items():
            when = parse_time(t.get("creation_time") if isinstance(t, dict) else t)
            if when and str(v).isdigit():
                times[int(v)] = when
        latest = _int(d.get("latest_version"))
        period = _int(d.get("auto_rotate_period")) or 0
        self.sink.add(Key(
            id=self.rid(path), store=self.store.name, source="vault", name=name, kind="transit",
            spec=d.get("type"),
            usage="sign" if d.get("supports_signing") else "encrypt",
            created_at=times.get(min(times)) if times else None,
            last_rotated_at=times.get(latest) if latest in times else (max(times.values()) if times else None),
            latest_version=latest,
            min_decryption_version=_int(d.get("min_decryption_version")),
            rotation_enabled=period > 0,
            rotation_period_days=round(period / 86400) if period else None,
            exportable=d.get("exportable"),
            deletion_allowed=d.get("deletion_allowed"),
            version_created_at=[times[v] for v in sorted(times)],
        ))

    def collect_pki(self, group: _TaskGroup, mount: str) -> None:
        if self.product == "openbao" and self.ctx.options.get("vault_scan", True):
            resp = self.call("LIST", f"{mount}/certs/detailed", tables=["certificate"], scope=f"{mount}/", quiet=True)
            if resp is not None:
                info = self.data(resp).get("key_info") or {}
                for serial, c in info.items():
                    self.add_cert(mount, serial, c)
                self._progress(advance=1 + len(info), total=1 + len(info))
                return
        self._list_then(group, f"{mount}/certs", ["certificate"], f"{mount}/", lambda s: self.pki_cert(mount, s))

    def add_cert(self, mount: str, serial: str, c: dict[str, Any]) -> None:
        self.sink.add(Certificate(
            id=self.rid(f"{mount}/cert/{serial}"), store=self.store.name, source="vault",
            serial=serial,
            subject=c.get("common_name") or c.get("subject"),
            domains=_strs(c.get("dns_names")),
            issuer=c.get("issuer"),
            not_before=parse_time(c.get("not_before")),
            not_after=parse_time(c.get("not_after")),
            revoked=c.get("revoked"),
            key_algorithm=(f"{c['key_type']}-{c['key_bits']}" if c.get("key_type") and c.get("key_bits")
                           else c.get("key_type")),
        ))

    def pki_cert(self, mount: str, serial: str) -> None:
        d = self.data(self.call("GET", f"{mount}/cert/{serial}", tables=["certificate"], scope=f"{mount}/"))
        self._progress(advance=1)
        pem = d.get("certificate") if d else None
        if not pem:
            return
        try:
            from cryptography import x509
            from cryptography.x509.oid import NameOID

            cert = x509.load_pem_x509_certificate(pem.encode())
        except Exception as e:  # noqa: BLE001 - unparsable certificate is a gap, not a crash
            self.gap(f"GET {mount}/cert/{serial}", "error", ["certificate"], f"{mount}/", f"unparsable: {e}")
            return
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            domains = san.value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            domains = []
        self.add_cert(mount, serial, {
            "common_name": str(cn[0].value) if cn else cert.subject.rfc4514_string(),
            "dns_names": domains,
            "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "revoked": (d.get("revocation_time") or 0) > 0 if isinstance(d.get("revocation_time"), int) else None,
            "key_type": type(cert.public_key()).__name__.replace("PublicKey", "").replace("_", "").lower(),
        })

    def database_role(self, mount: str, kind: str, name: str) -> None:
        path = f"{mount}/{kind}/{name}"
        d = self.data(self.call("GET", path, tables=["secret"], scope=f"{mount}/"))
        self._progress(advance=1)
        if not d:
            return
        static = kind == "static-roles"
        period = _int(d.get("rotation_period"))
        self.sink.add(Secret(
            id=self.rid(path), store=self.store.name, source="vault", kind="database_role",
            path=path, mount=f"{mount}/", name=name,
            default_ttl=None if static else _int(d.get("default_ttl")),
            max_ttl=None if static else _int(d.get("max_ttl")),
            rotation_enabled=bool(period) if static else None,
            rotation_interval_days=round(period / 86400) if static and period else None,
            last_rotated_at=parse_time(d.get("last_vault_rotation")) if static else None,
            tags={"db_name": str(d["db_name"])} if d.get("db_name") else {},
        ))
