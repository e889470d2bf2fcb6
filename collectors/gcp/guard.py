"""The GCP collector's read-only guard, at the SDK's HTTP transport.

Google's REST transports send every call through one ``AuthorizedSession``
(a ``requests.Session`` that adds the OAuth token). The collector builds each
transport itself and gives it a `GuardedSession` instead, whose ``request``
matches ``(HTTP method, URL path)`` against `OPERATIONS` *before* anything else
happens — before the credential is refreshed, before a byte is sent. A call
outside the list raises `ReadOnlyViolation` and reaches no server:
``AccessSecretVersion`` (``GET .../versions/*:access``), ``AddSecretVersion``
(``POST ...:addVersion``), every create / patch / delete, ``:setIamPolicy``,
KMS ``:encrypt`` / ``:decrypt`` are simply absent.

Redirects are not followed (requests would send the next hop without asking
the guard). The same session checks every 2xx answer before the SDK parses it: the
SDK's JSON parser ignores unknown fields, so an HTML page or a JSON object of
another API would read as "no secrets"; `MalformedResponse` is raised instead
when the body is not a JSON object whose members are fields of the operation's
documented response message.

One allow-list, three uses: the guard, the custom role ``posture policy gcp``
prints (`collectors.gcp.policy`), and the per-permission counter a test
compares with that role.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from google.auth.transport.requests import AuthorizedSession

from posture.model.errors import ReadOnlyViolation

_ID = r"[^/:?#]+"


@dataclass(frozen=True)
class Operation:
    """One REST call the collector may make, and the IAM permission it needs."""

    service: str
    name: str
    method: str
    path: str
    permission: str
    response: str  # "module:Class" of the SDK's proto-plus response message

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.path)


@cache
def _compile(path: str) -> re.Pattern[str]:
    return re.compile("^" + path.replace("{id}", _ID) + "$")


_SM = "google.cloud.secretmanager_v1.types.service"
_SM_SECRET = "google.cloud.secretmanager_v1.types.resources"
_IAM = "google.iam.v1.policy_pb2"
_RM = "google.cloud.resourcemanager_v3.types.projects"
_KMS = "google.cloud.kms_v1.types.resources"

#: Every call the collector makes (REST paths from each API's published reference).
OPERATIONS: tuple[Operation, ...] = (
    # Secret Manager v1: projects.secrets.list / projects.locations.secrets.list
    Operation("secretmanager", "ListSecrets", "GET", r"/v1/projects/{id}/secrets",
              "secretmanager.secrets.list", f"{_SM}:ListSecretsResponse"),
    Operation("secretmanager", "ListSecrets", "GET", r"/v1/projects/{id}/locations/{id}/secrets",
              "secretmanager.secrets.list", f"{_SM}:ListSecretsResponse"),
    # projects.secrets.versions.list: version metadata (state, times), never the payload
    Operation("secretmanager", "ListSecretVersions", "GET", r"/v1/projects/{id}/secrets/{id}/versions",
              "secretmanager.versions.list", f"{_SM}:ListSecretVersionsResponse"),
    Operation("secretmanager", "ListSecretVersions", "GET",
              r"/v1/projects/{id}/locations/{id}/secrets/{id}/versions",
              "secretmanager.versions.list", f"{_SM}:ListSecretVersionsResponse"),
    # projects.secrets.getIamPolicy
    Operation("secretmanager", "GetIamPolicy", "GET", r"/v1/projects/{id}/secrets/{id}:getIamPolicy",
              "secretmanager.secrets.getIamPolicy", f"{_IAM}:Policy"),
    Operation("secretmanager", "GetIamPolicy", "GET",
              r"/v1/projects/{id}/locations/{id}/secrets/{id}:getIamPolicy",
              "secretmanager.secrets.getIamPolicy", f"{_IAM}:Policy"),
    # Resource Manager v3: projects.get, projects.getIamPolicy (a POST that changes nothing)
    Operation("resourcemanager", "GetProject", "GET", r"/v3/projects/{id}",
              "resourcemanager.projects.get", f"{_RM}:Project"),
    Operation("resourcemanager", "GetIamPolicy", "POST", r"/v3/projects/{id}:getIamPolicy",
              "resourcemanager.projects.getIamPolicy", f"{_IAM}:Policy"),
    # Resource Manager v3: the folders and organization above a project, whose bindings every secret inherits
    Operation("resourcemanager", "GetFolder", "GET", r"/v3/folders/{id}",
              "resourcemanager.folders.get", "google.cloud.resourcemanager_v3.types.folders:Folder"),
    Operation("resourcemanager", "GetIamPolicy", "POST", r"/v3/folders/{id}:getIamPolicy",
              "resourcemanager.folders.getIamPolicy", f"{_IAM}:Policy"),
    Operation("resourcemanager", "GetIamPolicy", "POST", r"/v3/organizations/{id}:getIamPolicy",
              "resourcemanager.organizations.getIamPolicy", f"{_IAM}:Policy"),
    # Cloud KMS v1: projects.locations.keyRings.cryptoKeys.get (the CMEK key's settings)
    Operation("kms", "GetCryptoKey", "GET", r"/v1/projects/{id}/locations/{id}/keyRings/{id}/cryptoKeys/{id}",
              "cloudkms.cryptoKeys.get", f"{_KMS}:CryptoKey"),
)

#: Permissions that read or change values; never granted, never requested (documented beside the role).
VALUE_PERMISSIONS: tuple[str, ...] = (
    "secretmanager.versions.access",
    "secretmanager.versions.add",
    "cloudkms.cryptoKeyVersions.useToDecrypt",
    "cloudkms.cryptoKeyVersions.useToEncrypt",
)


def permissions() -> list[str]:
    """Every IAM permission the allow-list needs, sorted."""
    return sorted({op.permission for op in OPERATIONS})


class MalformedResponse(Exception):
    """A 2xx answer that is not the operation's documented response (raised before the SDK parses it)."""


@cache
def response_fields(response: str) -> frozenset[str]:
    """JSON member names (camelCase and proto names) of a response message."""
    module, _, name = response.partition(":")
    cls = getattr(importlib.import_module(module), name)
    descriptor = cls.pb().DESCRIPTOR if hasattr(cls, "pb") else cls.DESCRIPTOR
    return frozenset({f.json_name for f in descriptor.fields} | {f.name for f in descriptor.fields})


def body_problem(op: Operation, body: bytes) -> str | None:
    """Why a 2xx ``body`` is not ``op``'s response message, or None."""
    if not body.strip():
        return None  # an empty message (e.g. a list with no items) may come as no body
    try:
        doc = json.loads(body)
    except ValueError:
        return "the answer is not JSON (an HTML page: a proxy, a captive portal or a wrong endpoint?)"
    if not isinstance(doc, dict):
        return "the answer is not a JSON object"
    foreign = sorted(set(doc) - response_fields(op.response))
    if foreign:
        return f"the answer has members {op.name} does not return ({', '.join(foreign[:5])})"
    return None


_global_lock = threading.Lock()
_global_issued: Counter[str] = Counter()


def issued_permissions() -> Counter[str]:
    """Permissions every guard in this process let through (for tests against the printed role)."""
    with _global_lock:
        return Counter(_global_issued)


class ReadOnlyGuard:
    """Matches requests against `OPERATIONS` and counts what it let through."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.issued: Counter[str] = Counter()

    def operation(self, service: str, method: str, url: str) -> Operation:
        """The allowed operation ``method url`` is, or `ReadOnlyViolation` (nothing was sent)."""
        path = urlsplit(url).path
        verb = method.upper()
        for op in OPERATIONS:
            if op.service == service and op.method == verb and op.pattern.match(path):
                with self._lock:
                    self.issued[op.permission] += 1
                with _global_lock:
                    _global_issued[op.permission] += 1
                return op
        raise ReadOnlyViolation(
            f"refused {service} {verb} {path}: not in the read-only allow-list (nothing was sent)")

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(self.issued.values())


class GuardedSession(AuthorizedSession):
    """An ``AuthorizedSession`` that asks the guard first and checks 2xx bodies before the SDK parses them."""

    def __init__(self, credentials: Any, guard: ReadOnlyGuard, service: str, **kw: Any) -> None:
        super().__init__(credentials, **kw)
        self.guard = guard
        self.service = service

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        op = self.guard.operation(self.service, method, url)  # raises before refresh or send
        kwargs["allow_redirects"] = False  # a redirect would send a request the guard never saw
        response = super().request(method, url, *args, **kwargs)
        if 300 <= response.status_code < 400:
            raise MalformedResponse(f"{op.permission}: a redirect ({response.status_code}) was not followed; "
                                    "Google's APIs do not redirect")
        if 200 <= response.status_code < 300:
            problem = body_problem(op, response.content or b"")
            if problem:
                raise MalformedResponse(f"{op.permission}: {problem}")
        return response
