"""A lean, read-only HTTP client for Vault/OpenBao, and the guard that makes it read-only.

Why not hvac: it costs about 1.5-2 ms of client CPU per request against
0.25 ms for a bare keep-alive `http.client` loop, which caps a walk on two
cores at a third of what the server can answer. This client is a pool of
keep-alive HTTP/1.1 connections (one per worker, minimal framing, no
``email``-based header parsing) with retries and backoff, and nothing else.

Why a guard: the assessor token may be root. Every request is checked against
`RULES`, an allow-list of (method, path pattern), *before* any byte leaves the
process; anything else raises `ReadOnlyViolation`. Mount-dependent rules
(``{mount}/metadata/*`` ...) only apply once the mount is registered with its
type, so ``secret/data/...``, a KV v1 ``GET`` or an AppRole ``secret-id``
write cannot even be expressed. `collectors.vault_policy` turns the same
rules into the assessor's ACL policy, so the policy is exactly the allow-list.
"""

from __future__ import annotations

import http.client
import queue
import random
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from posture.model.errors import CollectionError, ReadOnlyViolation

# --- The allow-list ---------------------------------------------------------------

#: Mount kinds a rule can be scoped to. Secret engines: kv1, kv2, transit, pki,
#: database, mount (every non-system secret mount). Auth methods: approle,
#: userpass, jwt (also oidc), kubernetes, auth (every auth mount).
SECRET_KINDS = ("mount", "kv1", "kv2", "transit", "pki", "database")
AUTH_KINDS = ("auth", "approle", "userpass", "jwt", "kubernetes")


@dataclass(frozen=True)
class Rule:
    """One allowed request. ``pattern`` segments: literal, ``+`` (one segment),
    trailing ``*`` (any rest, possibly empty); ``{m}`` is the mount path.

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


def _segment_regex(pattern: str) -> str:
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
    # "a/*" also matches "a" and "a/" (the mount root)
    return rx.replace("/.*", "(?:/.*)?") if rx.endswith("/.*") else rx


def _literal_prefix(pattern: str) -> str:
    """``secret/metadata/*`` -> ``secret/metadata``; ``auth/x/role/+`` -> ``auth/x/role``."""
    segs = []
    for seg in pattern.split("/"):
        if seg in ("+", "*"):
            break
        segs.append(seg)
    return "/".join(segs)


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


class Guard:
    """The allow-list, compiled for the mounts registered so far. Thread-safe."""

    def __init__(self, product: str = "openbao") -> None:
        self.product = product
        self._lock = threading.Lock()
        self._rules: list[tuple[str, str, Rule]] = []  # (method, concrete pattern, rule)
        self._logins: list[tuple[str, str, Rule]] = []
        self._mounts: dict[tuple[str, bool], list[str]] = {}
        self._by_method: dict[str, dict[str, tuple[re.Pattern[str], list[Rule]]]] = {}
        self._login_by_method: dict[str, dict[str, tuple[re.Pattern[str], list[Rule]]]] = {}
        for rule in RULES:
            if rule.kind is None:
                self._add(rule, rule.pattern)
        self._compile()

    def _add(self, rule: Rule, concrete: str) -> None:
        (self._logins if rule.login else self._rules).append((rule.method, concrete, rule))

    def _compile(self) -> None:
        """Index the concrete patterns by method and literal prefix (the segments before the
        first wildcard): a check costs a few dict lookups and one small match, however many
        mounts an estate has."""
        def build(rules: list[tuple[str, str, Rule]]) -> dict[str, dict[str, tuple[re.Pattern[str], list[Rule]]]]:
            groups: dict[str, dict[str, list[tuple[str, Rule]]]] = {}
            for method, concrete, rule in rules:
                groups.setdefault(method, {}).setdefault(_literal_prefix(concrete), []).append((concrete, rule))
            out: dict[str, dict[str, tuple[re.Pattern[str], list[Rule]]]] = {}
            for method, by_prefix in groups.items():
                out[method] = {}
                for prefix, mine in by_prefix.items():
                    alternation = "|".join(f"(?P<r{i}>{_segment_regex(c)})" for i, (c, _) in enumerate(mine))
                    out[method][prefix] = (re.compile(alternation), [r for _, r in mine])
            return out

        self._by_method = build(self._rules)  # replaced atomically: readers need no lock
        self._login_by_method = build(self._logins)

    def register_mount(self, path: str, mount_type: str, kv_version: int | None = None, *,
                       auth: bool = False) -> list[str]:
        """Allow the rules of this mount's kinds; returns the kinds."""
        m = path.strip("/")
        if not logical_path_ok(m):
            raise ReadOnlyViolation(f"mount path {path!r} is not a plain path")
        kinds = mount_kinds(mount_type, kv_version, auth=auth)
        with self._lock:
            if (m, auth) in self._mounts:
                return self._mounts[(m, auth)]
            self._mounts[(m, auth)] = kinds
            for rule in RULES:
                if rule.kind in kinds and not rule.login and (rule.kind in AUTH_KINDS) == auth:
                    if rule.product and rule.product != self.product:
                        continue
                    self._add(rule, rule.pattern.replace("{m}", m))
            self._compile()
        return kinds

    def allow_login(self, mount: str) -> None:
        """Allow ``POST auth/<mount>/login``, and only through `VaultHTTP.login`."""
        m = mount.strip("/")
        if not logical_path_ok(m):
            raise ReadOnlyViolation(f"auth mount {mount!r} is not a plain path")
        with self._lock:
            for rule in RULES:
                if rule.login:
                    self._add(rule, rule.pattern.replace("{m}", m))
            self._compile()

    def check(self, method: str, path: str, *, login: bool = False) -> Rule:
        """The rule that allows (method, path); raises `ReadOnlyViolation` otherwise."""
        if not logical_path_ok(path):
            raise ReadOnlyViolation(f"refused {method} {path!r}: not a plain path")
        index = (self._login_by_method if login else self._by_method).get(method)
        if index:
            end = len(path)
            while end > 0:  # longest literal prefix first: path, then up to each "/"
                compiled = index.get(path[:end])
                if compiled is not None:
                    match = compiled[0].fullmatch(path)
                    if match is not None:
                        return compiled[1][int(match.lastgroup[1:])]  # type: ignore[index]
                end = path.rfind("/", 0, end)
        raise ReadOnlyViolation(f"refused {method} {path}: outside the read-only allow-list")


# --- The client -------------------------------------------------------------------


@dataclass
class Response:
    status: int
    data: Any
    errors: list[str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class TransportError(Exception):
    """The request never got an HTTP answer (after retries). ``kind``: timeout, unreachable, tls."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_RESET_ERRORS = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
    http.client.BadStatusLine,
    http.client.IncompleteRead,
)


class _Conn:
    """One keep-alive HTTP/1.1 connection with minimal framing.

    ``http.client`` parses every response's headers with the ``email`` package
    (about 0.1 ms per request); this reads the status line and the three
    headers it needs (length, chunking, connection) and nothing else.
    Connects lazily, so connection errors surface inside the retry loop.
    """

    __slots__ = ("host", "port", "rfile", "sock", "ssl", "timeout")

    def __init__(self, host: str, port: int, timeout: float, ssl_ctx: ssl.SSLContext | None) -> None:
        self.host, self.port, self.timeout, self.ssl = host, port, timeout, ssl_ctx
        self.sock: socket.socket | None = None
        self.rfile: Any = None

    def _open(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl is not None:
                sock = self.ssl.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock, self.rfile = sock, sock.makefile("rb")

    def close(self) -> None:
        if self.rfile is not None:
            self.rfile.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.rfile = None

    def roundtrip(self, head: bytes, body: bytes | None) -> tuple[int, bytes, str | None, bool]:
        """Send one request; returns (status, body, Retry-After, server closes)."""
        if self.sock is None:
            self._open()
        assert self.sock is not None
        self.sock.sendall(head + body if body else head)
        rfile = self.rfile
        line = rfile.readline(65537)
        if not line:
            raise http.client.RemoteDisconnected("connection closed without a response")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise http.client.BadStatusLine(repr(line[:40]))
        status = int(parts[1])
        length: int | None = None
        chunked = False
        close = parts[0] == b"HTTP/1.0"
        retry_after = None
        while True:
            h = rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
            elif name == b"retry-after":
                retry_after = value.strip().decode("latin-1")
        if chunked:
            data = self._chunks()
        elif length is not None:
            data = rfile.read(length)
            if len(data) < length:
                raise http.client.IncompleteRead(data, length - len(data))
        elif status in (204, 304) or 100 <= status < 200:
            data = b""
        else:
            data, close = rfile.read(), True
        return status, data, retry_after, close

    def _chunks(self) -> bytes:
        out = []
        while True:
            size_line = self.rfile.readline(65537)
            if not size_line:
                raise http.client.IncompleteRead(b"".join(out))
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(out)
            out.append(self.rfile.read(size))
            self.rfile.readline(65537)


class VaultHTTP:
    """Keep-alive connection pool (one connection per worker), retries, the guard.

    The token lives in one attribute, is sent only as ``X-Vault-Token`` and is
    left out of ``repr``, logs and every error message.
    """

    def __init__(
        self,
        address: str,
        *,
        guard: Guard,
        token: str | None = None,  # prefer set_token(), which validates
        namespace: str | None = None,
        ca_cert: str | None = None,
        skip_verify: bool = False,
        timeout: float = 10.0,
        retries: int = 4,
        pool_size: int = 16,
        backoff: float = 0.2,
    ) -> None:
        parts = urlsplit(address.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CollectionError(f"vault address {address!r} is not an http(s) URL")
        self.address = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._hostport = parts.netloc.rpartition("@")[2]
        self._prefix = (parts.path.rstrip("/") or "") + "/v1/"
        self.guard = guard
        self._token: str | None = None
        self.namespace = namespace.strip("/") if namespace else None
        if self.namespace and not _HEADER_SAFE.fullmatch(self.namespace):
            raise CollectionError(f"namespace {self.namespace!r} contains characters a header cannot carry")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._pool: queue.LifoQueue[_Conn] = queue.LifoQueue(maxsize=pool_size)
        self._ssl: ssl.SSLContext | None = None
        if self._https:
            try:
                ctx = ssl.create_default_context(cafile=ca_cert) if ca_cert else ssl.create_default_context()
            except (OSError, ssl.SSLError) as e:
                raise CollectionError(f"cannot load CA certificate {ca_cert}: {e}") from None
            if skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        self.requests = 0
        self.retried = 0
        if token:
            self.set_token(token)

    def __repr__(self) -> str:
        return f"VaultHTTP({self.address!r}, namespace={self.namespace!r})"

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def set_token(self, token: str) -> None:
        if not _HEADER_SAFE.fullmatch(token):
            raise CollectionError(f"{self.address}: the token contains characters a header cannot carry")
        self._token = token

    # -- connections
    def _connect(self) -> _Conn:
        return _Conn(self._host, self._port, self.timeout, self._ssl)

    def _acquire(self) -> _Conn:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            return self._connect()

    def _release(self, conn: _Conn) -> None:
        try:
            self._pool.put_nowait(conn)
        except queue.Full:
            conn.close()

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # -- requests
    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Response:
        """One guarded request. HTTP errors come back as a `Response`; no answer at
        all raises `TransportError`."""
        self.guard.check(method, path)
        return self._send(method, path, body)

    def login(self, mount: str, body: dict[str, Any]) -> None:
        """Assessor login (AppRole/JWT) at ``auth/<mount>/login``; keeps the client token."""
        path = f"auth/{mount.strip('/')}/login"
        self.guard.allow_login(mount)
        self.guard.check("POST", path, login=True)
        resp = self._send("POST", path, body)
        auth = (resp.data or {}).get("auth") if isinstance(resp.data, dict) else None
        if not resp.ok or not auth or not auth.get("client_token"):
            raise CollectionError(
                f"{self.address}: login at auth/{mount.strip('/')} failed (HTTP {resp.status})"
            )
        self.set_token(str(auth["client_token"]))

    def _head(self, method: str, url: str, body: bytes | None) -> bytes:
        lines = [f"{method} {url} HTTP/1.1", f"Host: {self._hostport}", "Accept: application/json"]
        if self._token:
            lines.append(f"X-Vault-Token: {self._token}")
        if self.namespace:
            lines.append(f"X-Vault-Namespace: {self.namespace}")
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Response:
        url = self._prefix + quote(path, safe="/")
        payload = orjson.dumps(body) if body is not None else None
        head = self._head(method, url, payload)
        attempt = 0
        while True:
            conn = self._acquire()
            try:
                status, raw, retry_after, will_close = conn.roundtrip(head, payload)
                if will_close:
                    conn.close()
                else:
                    self._release(conn)
            except ssl.SSLError as e:
                conn.close()
                raise TransportError("tls", f"TLS failure talking to {self.address}: {e.reason or e}") from None
            except TimeoutError:
                conn.close()
                if attempt >= min(self.retries, 1):
                    raise TransportError("timeout", f"{method} {path}: timed out after {self.timeout:g}s") from None
            except ConnectionRefusedError:
                conn.close()
                if attempt >= self.retries:
                    raise TransportError("unreachable", f"{self.address}: connection refused") from None
            except socket.gaierror as e:
                conn.close()
                raise TransportError("unreachable", f"{self.address}: cannot resolve host ({e.strerror})") from None
            except (*_RESET_ERRORS, OSError) as e:
                conn.close()
                if attempt >= self.retries:
                    raise TransportError("unreachable", f"{self.address}: {type(e).__name__}: {e}") from None
                if attempt == 0 and isinstance(e, _RESET_ERRORS):
                    attempt += 1  # a stale keep-alive connection: reconnect at once
                    continue
            else:
                self.requests += 1
                if status in RETRY_STATUS and attempt < self.retries and not self._sealed_answer(status, raw):
                    self.retried += 1
                    self._sleep(attempt, retry_after)
                    attempt += 1
                    continue
                return self._response(status, raw)
            self.retried += 1
            self._sleep(attempt, None)
            attempt += 1

    @staticmethod
    def _sealed_answer(status: int, raw: bytes) -> bool:
        return status == 503 and b"sealed" in raw

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(5.0, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 30.0))
        time.sleep(delay)

    @staticmethod
    def _response(status: int, raw: bytes) -> Response:
        data: Any = None
        errors: list[str] = []
        if raw:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
        if isinstance(data, dict) and isinstance(data.get("errors"), list):
            errors = [str(e).replace("\n", " ").replace("\t", "")[:200] for e in data["errors"]]
        return Response(status, data, errors)
