"""A loopback HTTP proxy in front of a real server that substitutes chosen answers.

Fault injection without fakes: every request goes to the real server (OpenBao,
moto, ...) and back unchanged, except those a test picked by (method, path),
optionally narrowed by a predicate over the request (an ``X-Amz-Target``
header, a form field). For those the test either gives the whole answer (the
request then never reaches the server) or a function that rewrites the real
server's answer. So a malformed, hostile or truncated response is produced by
the real server's own flow, with everything around it real. ``"*"`` as the
method or path matches any (an SSO proxy answering every request alike), and
``when`` may keep state (a server that seals itself after a given request).

    with FaultProxy(openbao.address) as proxy:
        proxy.substitute("GET", "/v1/sys/mounts", Reply.html("<html>SSO</html>"))
        proxy.substitute("GET", "/v1/sys/auth", lambda real: real.with_json(mangle(real.json())))
        ... point the client at proxy.address ...

Plain HTTP upstreams only; the client side is HTTP/1.1 with keep-alive.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote, urlsplit

#: Headers that belong to one connection, never forwarded (RFC 9110 section 7.6.1).
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length",
})


@dataclass(frozen=True)
class Seen:
    """A request as the proxy received it. ``path`` is percent-decoded, without the query."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: the real server's, or one a test substitutes."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)

    @classmethod
    def of_json(cls, doc: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(doc).encode())

    @classmethod
    def html(cls, text: str = "<html><body>Please sign in</body></html>", status: int = 200) -> Reply:
        return cls(status, text.encode(), (("Content-Type", "text/html; charset=utf-8"),))

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, doc: Any) -> Reply:
        """The same answer (status, headers) with another JSON body."""
        return replace(self, body=json.dumps(doc).encode())


Rewrite = Callable[[Reply], Reply]


@dataclass
class _Substitution:
    method: str
    path: str
    reply: Reply | Rewrite
    when: Callable[[Seen], bool] | None
    times: int | None
    used: int = 0


@dataclass
class FaultProxy:
    """A ThreadingHTTPServer on 127.0.0.1 forwarding to ``upstream`` (``http://host:port``)."""

    upstream: str
    timeout: float = 30.0
    requests: list[Seen] = field(default_factory=list)  # every request received
    substituted: list[Seen] = field(default_factory=list)  # those answered by a substitution

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream {self.upstream!r}: only http://host:port is supported")
        self._host, self._port = parts.hostname, parts.port or 80
        self._subs: list[_Substitution] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        assert self._server is not None, "start() the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def substitute(self, method: str, path: str, reply: Reply | Rewrite, *,
                   when: Callable[[Seen], bool] | None = None, times: int | None = None) -> None:
        """Answer ``method path`` (decoded, no query; ``"*"``: any) with ``reply``.

        A `Reply` is sent instead of forwarding; a function gets the real
        server's answer and returns the one to send. ``when`` narrows the match;
        ``times`` limits how often it applies (None: always). The latest
        substitution for a request wins.
        """
        with self._lock:
            self._subs.append(_Substitution(method.upper(), path, reply, when, times))

    def clear(self) -> None:
        """Drop every substitution and the request records."""
        with self._lock:
            self._subs.clear()
            self.requests.clear()
            self.substituted.clear()

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests the proxy received."""
        with self._lock:
            return sum(1 for s in self.requests if s.method == method.upper() and s.path == path)

    # -- lifecycle
    def start(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.proxy = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request
    def _answer(self, seen: Seen, raw_target: str) -> Reply:
        with self._lock:
            self.requests.append(seen)
            sub = next((s for s in reversed(self._subs)
                        if s.method in ("*", seen.method) and s.path in ("*", seen.path)
                        and (s.times is None or s.used < s.times)
                        and (s.when is None or s.when(seen))), None)
            if sub is not None:
                sub.used += 1
                self.substituted.append(seen)
        if isinstance(sub, _Substitution) and isinstance(sub.reply, Reply):
            return sub.reply
        real = self._forward(seen, raw_target)
        return sub.reply(real) if sub is not None else real  # type: ignore[operator]

    def _forward(self, seen: Seen, raw_target: str) -> Reply:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            headers = {k: v for k, v in seen.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn.request(seen.method, raw_target, body=seen.body or None, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            kept = tuple((k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP)
            return Reply(resp.status, body, kept)
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    """Any method (Vault's LIST and SCAN too): read, answer through the proxy, keep alive."""

    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while (size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        target, _, query = self.path.partition("?")
        seen = Seen(self.command, unquote(target), query, dict(self.headers.items()), body)
        try:
            reply = self.server.proxy._answer(seen, self.path)  # type: ignore[attr-defined]
        except OSError as e:  # the upstream is down: say so, as a gateway would
            reply = Reply(502, f"faultproxy: upstream unreachable: {e}".encode(), (("Content-Type", "text/plain"),))
        self.send_response(reply.status)
        for k, v in reply.headers:
            if k.lower() not in _HOP_BY_HOP and k.lower() not in ("date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on `FaultProxy.requests`, not on a log."""
