"""The Kubernetes collector's read-only guard, and the list of reads the assessor role grants.

One list (`READS`), three uses:

- `ReadOnlyGuard` wraps the official client's transport
  (``ApiClient.rest_client.request``, the ``RESTClientObject`` every API call
  goes through). It checks each request **before it is sent** and raises
  `ReadOnlyViolation` for anything outside the list: a method other than GET,
  a watch (``watch=`` or a ``/watch/`` path), a path the collector does not
  read, any GET of one Secret, and any request to a Secrets collection whose
  ``Accept`` header is not exactly the PartialObjectMetadataList media type
  (a plain list of Secrets returns their data; a fallback media type such as
  ``...,application/json`` would let the server answer with the full objects).
- `posture policy kubernetes` turns the same list into the ClusterRole the
  client binds to the assessor (`collectors.kubernetes.policy`).
- Every request that passed is recorded, so a test proves the collector issued
  nothing the printed role lacks and never a value-reading request.

Kubernetes RBAC cannot grant "list Secret metadata" without "list Secrets":
the verb is the same, and the server returns values to a plain list. The guard
is what keeps the kit from asking; the client's role still could.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from posture.model.errors import ReadOnlyViolation

#: The only Accept header a request to a Secrets collection may carry (meta.k8s.io/v1 PartialObjectMetadataList).
PARTIAL_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


@dataclass(frozen=True)
class Read:
    """One collection the collector lists: API group ('' = core), version, resource, namespaced."""

    group: str
    version: str
    resource: str
    namespaced: bool
    why: str
    crd: bool = False  # a custom resource: absent (404) means "not installed", not a gap
    secret_metadata_only: bool = False

    @property
    def prefix(self) -> str:
        return f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"


READS: tuple[Read, ...] = (
    Read("rbac.authorization.k8s.io", "v1", "roles", True, "who may read Secrets, per namespace"),
    Read("rbac.authorization.k8s.io", "v1", "clusterroles", False, "who may read Secrets, cluster-wide"),
    Read("rbac.authorization.k8s.io", "v1", "rolebindings", True, "which subjects hold those roles"),
    Read("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False, "which subjects hold those roles"),
    Read("", "v1", "namespaces", False, "the namespaces to read"),
    Read("", "v1", "serviceaccounts", True, "legacy long-lived token Secrets they reference"),
    Read("", "v1", "pods", True, "Secrets consumed as environment variables or files; literal env values"),
    Read("apps", "v1", "deployments", True, "the same, in pod templates"),
    Read("apps", "v1", "statefulsets", True, "the same, in pod templates"),
    Read("apps", "v1", "daemonsets", True, "the same, in pod templates"),
    # custom resources, each at the versions their operators serve (newest first: an operator that dropped
    # an old version answers 404 there, which must not read as "not installed")
    *(Read("external-secrets.io", v, "externalsecrets", True, "External Secrets Operator in use", crd=True)
      for v in ("v1", "v1beta1")),
    *(Read("external-secrets.io", v, "secretstores", True, "External Secrets Operator stores", crd=True)
      for v in ("v1", "v1beta1")),
    *(Read("external-secrets.io", v, "clustersecretstores", False, "External Secrets Operator stores", crd=True)
      for v in ("v1", "v1beta1")),
    Read("bitnami.com", "v1alpha1", "sealedsecrets", True, "Sealed Secrets in use", crd=True),
    *(Read("secrets-store.csi.x-k8s.io", v, "secretproviderclasses", True, "Secrets Store CSI driver in use",
           crd=True) for v in ("v1", "v1alpha1")),
    Read("", "v1", "secrets", True, "Secret metadata only (secret_metadata: true)", secret_metadata_only=True),
)

_SECRETS = re.compile(r"^/api/v1/(?:namespaces/[^/]+/)?secrets(?P<rest>/.*)?$")
_DISCOVERY = {"/version", "/version/"}


def _allowed_paths() -> list[re.Pattern[str]]:
    out = []
    for r in READS:
        base = re.escape(r.prefix)
        res = re.escape(r.resource)
        out.append(re.compile(f"^{base}/{res}/?$"))  # cluster-scoped list, or all namespaces
        if r.namespaced:
            out.append(re.compile(f"^{base}/namespaces/[^/]+/{res}/?$"))
    return out


ALLOWED_PATHS = _allowed_paths()

_ISSUED: list[str] = []  # process-wide, for tests: every request that passed the guard
_ISSUED_LOCK = threading.Lock()


def issued_requests() -> list[str]:
    with _ISSUED_LOCK:
        return list(_ISSUED)


def reset_issued_requests() -> None:
    with _ISSUED_LOCK:
        _ISSUED.clear()


def refusal(method: str, url: str, query: list[tuple[str, Any]] | None, headers: dict[str, Any] | None) -> str | None:
    """Why this request must not be sent, or None when it is one the collector may make."""
    parts = urlsplit(url)
    path = parts.path
    params = [(str(k), str(v)) for k, v in (query or [])] + parse_qsl(parts.query, keep_blank_values=True)
    if method.upper() != "GET":
        return f"{method} is not a read"
    if "/watch/" in path or any(k == "watch" for k, _ in params):
        return "watch requests are not allowed"
    if any(k in ("includeObject",) for k, _ in params):
        return "includeObject can return whole objects"
    m = _SECRETS.match(path)
    if m:
        if m.group("rest") and m.group("rest") != "/":
            return "GET of a single Secret returns its data"
        accept = {str(k).lower(): str(v) for k, v in (headers or {}).items()}.get("accept", "")
        if accept.replace(" ", "") != PARTIAL_METADATA_LIST:
            return "a Secrets list without the PartialObjectMetadataList Accept header returns their data"
        return None
    if path in _DISCOVERY or any(p.match(path) for p in ALLOWED_PATHS):
        return None
    return "not a path the collector reads"


class ReadOnlyGuard:
    """Wraps one ApiClient's transport; refuses before sending (see the module docstring)."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def install(self, api_client: Any) -> Any:
        rest = api_client.rest_client
        if getattr(rest.request, "_posture_guarded", False):
            return api_client
        inner: Callable[..., Any] = rest.request

        def request(method: str, url: str, query_params: Any = None, headers: Any = None, *args: Any,
                    **kwargs: Any) -> Any:
            why = refusal(method, url, query_params, headers)
            if why is not None:
                raise ReadOnlyViolation(f"kubernetes guard refused {method} {urlsplit(url).path}: {why}")
            line = f"{method.upper()} {urlsplit(url).path}"
            with self._lock:
                self.issued.append(line)
            with _ISSUED_LOCK:
                _ISSUED.append(line)
            return inner(method, url, query_params, headers, *args, **kwargs)

        request._posture_guarded = True  # type: ignore[attr-defined]
        rest.request = request
        return api_client
