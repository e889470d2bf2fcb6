"""A lean, read-only HTTP client for Vault/OpenBao: keep-alive pool, retries, the guard.

Why not hvac: it costs about 1.5-2 ms of client CPU per request against
0.25 ms for a bare keep-alive `http.client` loop, which caps a walk on two
cores at a third of what the server can answer. This client is a pool of
keep-alive HTTP/1.1 connections (one per worker, minimal framing, no
``email``-based header parsing) with retries and backoff, and nothing else.

Every request passes `collectors.vault.guard.Guard.check` first, so a request
outside the read-only allow-list never leaves the process; every answer a
reader uses passes `shape_problem`, so a 200 that is not Vault's JSON is a
coverage gap, never "nothing there".
"""

from __future__ import annotations

import http.client
import queue
import random
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from collectors.vault.guard import Guard
from posture.model.errors import CollectionError


@dataclass
class Response:
    """An HTTP answer: ``data`` is the parsed JSON (None if the body is not JSON)."""

    status: int
    data: Any
    errors: list[str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


#: Endpoints that answer with a bare JSON object rather than Vault's ``data`` envelope
#: (``sys/mounts`` and ``sys/auth`` carry both; `collectors.vault.mounts` reads either).
BARE_ANSWERS = frozenset({"sys/health", "sys/seal-status", "sys/leader", "sys/mounts", "sys/auth"})


def shape_problem(method: str, path: str, resp: Response, needs: tuple[str, ...] = ()) -> str | None:
    """Why a 2xx answer is not the shape its reader expects, or None if it is.

    General class: a 200 that is not Vault's JSON (an SSO proxy's HTML page, a
    captive portal, a wrong URL, a truncated or foreign body). Read as "nothing
    there" it would turn every check over it into a pass, so every reader gets
    its answer through here: a JSON object; with a ``data`` object (except the
    `BARE_ANSWERS`); for LIST and SCAN, ``data.keys`` a list of names (absent in
    an empty SCAN) and ``data.key_info`` (if any) an object of objects, which a
    detailed listing (SCAN, ``.../detailed``, read from ``key_info`` alone) has
    for every key; ``needs``: the members the reader cannot do without.
    """
    body = resp.data
    if not isinstance(body, dict):
        return ("the answer is not JSON (an HTML page: a proxy, a captive portal or a wrong address?)"
                if body is None else "the answer is not a JSON object")
    data = body if path in BARE_ANSWERS else body.get("data")
    if not isinstance(data, dict):
        return "the answer has no 'data' object"
    missing = [m for m in needs if m not in data]
    if missing:
        return "the answer lacks " + ", ".join(repr(m) for m in missing)
    if method in ("LIST", "SCAN"):
        keys = data.get("keys", [])
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return "'data.keys' is not a list of names"
        info = data.get("key_info")
        if info is not None and not (isinstance(info, dict) and all(isinstance(v, dict) for v in info.values())):
            return "'data.key_info' is not an object of objects"
        if (method == "SCAN" or path.endswith("/detailed")) and not set(keys) <= set(info or ()):
            return "'data.key_info' does not describe every listed key"
    return None


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
