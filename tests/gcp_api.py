"""A loopback HTTP server answering Google's REST APIs as their published references document them.

The collector's tests drive Google's own SDKs (``google-cloud-secret-manager``,
``google-cloud-resource-manager``, ``google-cloud-kms``, REST transport, proto-plus
models) and ``google-auth`` end to end against this server; nothing of the SDK
is replaced. Every answer is built with the field names and shapes of:

- Secret Manager v1, https://cloud.google.com/secret-manager/docs/reference/rest :
  ``projects.secrets.list`` / ``projects.locations.secrets.list`` (``ListSecretsResponse``:
  ``secrets[]``, ``nextPageToken``, ``totalSize``; ``Secret``: ``name``, ``replication``
  (``automatic`` / ``userManaged.replicas[]`` with ``customerManagedEncryption.kmsKeyName``),
  ``createTime``, ``labels``, ``topics[]``, ``expireTime``, ``etag``, ``rotation``
  (``nextRotationTime``, ``rotationPeriod``), ``versionAliases``, ``annotations``,
  ``customerManagedEncryption`` (regional secrets)); ``projects.secrets.versions.list``
  (``versions[]``: ``name``, ``createTime``, ``destroyTime``, ``state``, ``etag``);
  ``projects.secrets.getIamPolicy`` (``Policy``: ``version``, ``bindings[]`` of ``role``,
  ``members[]``, ``condition``; ``etag``); and the value endpoint
  ``projects.secrets.versions.access`` (``AccessSecretVersionResponse``: ``name``,
  ``payload.data`` base64) which answers a canary, so a call would show.
- Resource Manager v3, https://cloud.google.com/resource-manager/reference/rest/v3/projects :
  ``projects.get`` (``Project``: ``name`` = ``projects/NUMBER``, ``parent``, ``projectId``, ``state``,
  ``displayName``, ``createTime``, ``labels``) and ``projects.getIamPolicy`` (POST);
  ``folders.get`` (``Folder``: ``name``, ``parent``, ``displayName``, ``state``), ``folders.getIamPolicy``
  and ``organizations.getIamPolicy`` (POST).
- Cloud KMS v1, https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys :
  ``cryptoKeys.get`` (``CryptoKey``: ``name``, ``primary`` (``CryptoKeyVersion``: ``name``, ``state``,
  ``protectionLevel``, ``algorithm``, ``createTime``), ``purpose``, ``createTime``,
  ``nextRotationTime``, ``rotationPeriod``, ``versionTemplate``, ``labels``) and ``:decrypt``
  (``plaintext`` base64: a canary).
- Google errors, https://cloud.google.com/apis/design/errors : ``{"error": {"code", "message", "status"}}``.
- OAuth 2.0 for service accounts, https://developers.google.com/identity/protocols/oauth2/service-account :
  ``POST token_uri`` with ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and a
  JWT ``assertion`` signed with the service account's key; the server verifies the signature
  with the public half (``google.auth.jwt.decode``) before issuing an access token, and every
  API call must carry that token.

Faults (`Fault`) make a path answer 403 / 429 / 5xx, a 200 HTML page, a 200 JSON
object of another shape, or fail only on later pages (paging cut short).
"""

from __future__ import annotations

import base64
import json
import re
import secrets as pysecrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


@dataclass
class Fault:
    """Requests matching ``method`` and the ``path`` regex answer ``kind`` instead.

    ``kind``: an HTTP status (``403``, ``429``, ``500``, ``503``), ``"html"`` (a 200 HTML
    page), ``"foreign"`` (a 200 JSON object of another API), ``"redirect"`` (a 302 to the value
    endpoint), ``"later_pages"`` (500 on any
    request carrying a page token), ``"loop"`` (the same next page token forever).
    """

    path: str
    kind: int | str
    method: str = "GET"


@dataclass
class GcpEstate:
    """What the server knows: projects, secrets (with versions and policies), keys."""

    projects: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {number, iam, labels}
    secrets: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)      # full name -> CryptoKey JSON
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)   # folders/N -> {parent, iam}
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)  # organizations/N -> {iam}
    canaries: tuple[str, ...] = ()

    def number_to_id(self, ref: str) -> str:
        for pid, p in self.projects.items():
            if ref in (pid, str(p["number"])):
                return pid
        return ref

    def secret(self, project: str, location: str | None, sid: str) -> dict[str, Any] | None:
        pid = self.number_to_id(project)
        return next((s for s in self.secrets if s["project"] == pid and s["location"] == location
                     and s["id"] == sid), None)


def rsa_service_account(path: Path, token_uri: str, project: str = "acme-prod") -> dict[str, Any]:
    """A service-account key file with a freshly generated RSA key (what ``gcloud iam keys create`` gives)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    info = {
        "type": "service_account", "project_id": project, "private_key_id": pysecrets.token_hex(20),
        "private_key": pem, "client_email": f"posture-assessor@{project}.iam.gserviceaccount.com",
        "client_id": "109876543210987654321", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri, "universe_domain": "googleapis.com",
    }
    path.write_text(json.dumps(info))
    return {"public_pem": public, "info": info}


class GcpApiServer:
    """``ThreadingHTTPServer`` on 127.0.0.1 serving `GcpEstate`; ``log`` holds every (method, path)."""

    def __init__(self, estate: GcpEstate) -> None:
        self.estate = estate
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self.public_pem: str | None = None
        self.token_requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

            def do_PATCH(self) -> None:
                server._handle(self, "PATCH")

            def do_DELETE(self) -> None:
                server._handle(self, "DELETE")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def start(self) -> GcpApiServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def api_requests(self) -> list[tuple[str, str]]:
        with self.lock:
            return [r for r in self.log if r[1] != "/token"]

    # --- dispatch ------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _error(self, h: BaseHTTPRequestHandler, code: int, message: str) -> None:
        self._send(h, code, {"error": {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}})

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        path, query = url.path, parse_qs(url.query)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.log.append((method, path))
        if path == "/token":
            return self._token(h, body)
        auth = h.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return self._error(h, 401, "Request had invalid authentication credentials.")
        for f in self.faults:
            if f.method == method and re.search(f.path, path):
                if f.kind == "later_pages" and not query.get("pageToken"):
                    continue
                if f.kind == "loop":
                    continue
                return self._fault(h, f)
        loop = any(f.kind == "loop" and f.method == method and re.search(f.path, path) for f in self.faults)
        status, answer = self._route(method, path, query, body, loop)
        self._send(h, status, answer)

    def _fault(self, h: BaseHTTPRequestHandler, f: Fault) -> None:
        if f.kind == "html":
            return self._send(h, 200, b"<html><body>Sign in to continue</body></html>", "text/html")
        if f.kind == "foreign":
            return self._send(h, 200, {"kind": "storage#objects", "items": [{"name": "x"}]})
        if f.kind == "later_pages":
            return self._error(h, 500, "Internal error encountered.")
        if f.kind == "redirect":  # to the value endpoint of the first secret: a client that follows it leaks
            h.send_response(302)
            h.send_header("Location", f"/v1/projects/{self.estate.secrets[0]['project']}/secrets/"
                                      f"{self.estate.secrets[0]['id']}/versions/latest:access")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        code = int(f.kind)
        messages = {403: "Permission denied on resource (or it may not exist).",
                    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.",
                    500: "Internal error encountered.", 503: "The service is currently unavailable."}
        return self._error(h, code, messages.get(code, "error"))

    def _token(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        from google.auth import jwt

        form = parse_qs(body.decode())
        assertion = (form.get("assertion") or [""])[0]
        if (form.get("grant_type") or [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._send(h, 400, {"error": "unsupported_grant_type"})
        try:
            # google-auth addresses the assertion to Google's token endpoint whatever token_uri says
            jwt.decode(assertion, certs=self.public_pem, audience="https://oauth2.googleapis.com/token")
        except ValueError:
            return self._send(h, 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        token = "ya29.loopback-" + pysecrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
            self.token_requests += 1
        self._send(h, 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    # --- the APIs --------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes,
               loop: bool) -> tuple[int, Any]:
        e = self.estate
        m = re.fullmatch(r"/v3/projects/([^/:]+)", path)
        if m and method == "GET":
            pid = e.number_to_id(m[1])
            p = e.projects.get(pid)
            if p is None:
                return 403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}
            return 200, {"name": f"projects/{p['number']}", "parent": p.get("parent", ""),
                         "projectId": pid, "state": "ACTIVE", "displayName": pid,
                         "createTime": "2024-01-10T09:00:00.000Z", "etag": "W/\"0a1b\"",
                         "labels": p.get("labels", {})}
        m = re.fullmatch(r"/v3/projects/([^/:]+):getIamPolicy", path)
        if m and method == "POST":
            p = e.projects.get(e.number_to_id(m[1]))
            return 200, {"version": 1, "etag": "BwXhqDnfN0o=", "bindings": (p or {}).get("iam", [])}
        m = re.fullmatch(r"/v3/(folders/[^/:]+)", path)
        if m and method == "GET" and m[1] in e.folders:
            f = e.folders[m[1]]
            return 200, {"name": m[1], "parent": f["parent"], "displayName": m[1].split("/")[1], "state": "ACTIVE",
                         "createTime": "2023-05-01T10:00:00.000Z", "etag": "W/\"f0\""}
        m = re.fullmatch(r"/v3/((?:folders|organizations)/[^/:]+):getIamPolicy", path)
        if m and method == "POST":
            node = e.folders.get(m[1]) or e.organizations.get(m[1])
            if node is None:
                return 403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}
            return 200, {"version": 1, "etag": "BwXhqDnfN0o=", "bindings": node.get("iam", [])}
        loc = r"(?:/locations/([^/:]+))?"
        m = re.fullmatch(rf"/v1/projects/([^/:]+){loc}/secrets", path)
        if m and method == "GET":
            pid, location = e.number_to_id(m[1]), m[2]
            found = [self._secret_json(s) for s in e.secrets if s["project"] == pid and s["location"] == location]
            return 200, self._page(found, "secrets", query, loop)
        m = re.fullmatch(rf"/v1/projects/([^/:]+){loc}/secrets/([^/:]+)/versions", path)
        if m and method == "GET":
            s = e.secret(m[1], m[2], m[3])
            if s is None:
                return 404, {"error": {"code": 404, "message": "Secret not found", "status": "NOT_FOUND"}}
            versions = [self._version_json(s, v) for v in reversed(s.get("versions", []))]
            return 200, self._page(versions, "versions", query, loop)
        m = re.fullmatch(rf"/v1/projects/([^/:]+){loc}/secrets/([^/:]+):getIamPolicy", path)
        if m and method == "GET":
            s = e.secret(m[1], m[2], m[3])
            policy: dict[str, Any] = {"version": 1, "etag": "BwXhqDnfN0o="}
            if s and s.get("iam"):
                policy["bindings"] = s["iam"]
            return 200, policy
        m = re.fullmatch(rf"/v1/projects/([^/:]+){loc}/secrets/([^/:]+)/versions/([^/:]+):access", path)
        if m:  # the value endpoint: answers the secret's canary, so any call would leak into the output
            s = e.secret(m[1], m[2], m[3])
            value = (s or {}).get("value", e.canaries[0] if e.canaries else "CANARY")
            return 200, {"name": path.removeprefix("/v1/").removesuffix(":access"),
                         "payload": {"data": base64.b64encode(value.encode()).decode()}}
        m = re.fullmatch(r"/v1/(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/:]+)(:\w+)?", path)
        if m:
            if m[2]:  # :decrypt, :encrypt, ...: a canary plaintext
                return 200, {"plaintext": base64.b64encode((e.canaries or ("CANARY",))[-1].encode()).decode()}
            key = e.keys.get(m[1])
            if key is None:
                return 404, {"error": {"code": 404, "message": "CryptoKey not found", "status": "NOT_FOUND"}}
            return 200, key
        if method in ("POST", "PATCH", "DELETE"):  # a write that reached the server: answer like Google would
            return 200, {"name": path.removeprefix("/v1/"), "payload": {"data": base64.b64encode(
                (e.canaries or ("CANARY",))[0].encode()).decode()}}
        return 404, {"error": {"code": 404, "message": f"no route {method} {path}", "status": "NOT_FOUND"}}

    @staticmethod
    def _page(items: list[Any], key: str, query: dict[str, list[str]], loop: bool) -> dict[str, Any]:
        size = int((query.get("pageSize") or ["0"])[0]) or 25
        start = int((query.get("pageToken") or ["0"])[0] or 0)
        chunk = items[start:start + size]
        out: dict[str, Any] = {}
        if chunk:
            out[key] = chunk
        out["totalSize"] = len(items)
        if loop:
            out["nextPageToken"] = str(start)  # the same token over and over
        elif start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    def _secret_json(self, s: dict[str, Any]) -> dict[str, Any]:
        number = self.estate.projects[s["project"]]["number"]
        where = f"projects/{number}/locations/{s['location']}" if s["location"] else f"projects/{number}"
        out = {"name": f"{where}/secrets/{s['id']}", "createTime": s["createTime"], "etag": "\"16211daf5f29c5\""}
        for k in ("replication", "labels", "topics", "expireTime", "rotation", "versionAliases", "annotations",
                  "versionDestroyTtl", "customerManagedEncryption"):
            if k in s:
                out[k] = s[k]
        return out

    def _version_json(self, s: dict[str, Any], v: dict[str, Any]) -> dict[str, Any]:
        number = self.estate.projects[s["project"]]["number"]
        where = f"projects/{number}/locations/{s['location']}" if s["location"] else f"projects/{number}"
        out = {"name": f"{where}/secrets/{s['id']}/versions/{v['n']}", "createTime": v["createTime"],
               "state": v["state"], "etag": "\"1621f0a9c2b4e7\"", "clientSpecifiedPayloadChecksum": False}
        if v["state"] == "DESTROYED":
            out["destroyTime"] = v.get("destroyTime", v["createTime"])
        return out
