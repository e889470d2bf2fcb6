"""A loopback Kubernetes API server answering from objects shaped as the v1.30 API reference documents.

Not a fake of the collector's needs: it serves the REST paths the official
``kubernetes`` Python client calls (``/api/v1/...``, ``/apis/<group>/<version>/...``),
namespaced and all-namespaces lists, ``limit``/``continue`` paging, a bearer
token check (401 ``Status``), and it answers a Secrets list exactly as a real
API server would: with the Secrets' ``data`` for a plain ``application/json``
list (canaries are planted there) and as a ``PartialObjectMetadataList``
(meta.k8s.io/v1) when the Accept header asks for it. Objects follow
"Kubernetes API Reference v1.30" (https://kubernetes.io/docs/reference/generated/kubernetes-api/v1.30/):
RoleList, ClusterRoleList, RoleBindingList, ClusterRoleBindingList,
NamespaceList, ServiceAccountList, PodList, DeploymentList, SecretList,
PartialObjectMetadataList and custom-resource lists (ExternalSecretList of
external-secrets.io/v1beta1, SealedSecretList of bitnami.com/v1alpha1),
errors as ``Status`` objects. A custom resource whose CRD is absent is a
404 ``Status``, as the API server answers.

``faults`` substitutes answers per path (status and body), so every gap path
is driven through the real client; ``requests`` records every request that
reached the server.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

TOKEN = "k8s-test-bearer-9b1c"
PARTIAL = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"

# Canary values: Secret data the server holds, and a literal env value in a pod spec.
SECRET_CANARY = "CANARY-5e1d22f0-k8s-secret-data"
APPLIED_CANARY = "CANARY-77aa0b3c-k8s-last-applied"
ENV_CANARY = "CANARY-9d8e41b7-k8s-env-literal-Zq7Xw2RtLm"
CANARIES = (SECRET_CANARY, APPLIED_CANARY, ENV_CANARY,
            base64.b64encode(SECRET_CANARY.encode()).decode(), base64.b64encode(APPLIED_CANARY.encode()).decode())

# (group/version, resource) -> list kind; "" group is the core API
KINDS = {
    ("rbac.authorization.k8s.io/v1", "roles"): "RoleList",
    ("rbac.authorization.k8s.io/v1", "clusterroles"): "ClusterRoleList",
    ("rbac.authorization.k8s.io/v1", "rolebindings"): "RoleBindingList",
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings"): "ClusterRoleBindingList",
    ("v1", "namespaces"): "NamespaceList",
    ("v1", "serviceaccounts"): "ServiceAccountList",
    ("v1", "pods"): "PodList",
    ("v1", "secrets"): "SecretList",
    ("apps/v1", "deployments"): "DeploymentList",
    ("apps/v1", "statefulsets"): "StatefulSetList",
    ("apps/v1", "daemonsets"): "DaemonSetList",
    ("external-secrets.io/v1", "externalsecrets"): "ExternalSecretList",
    ("external-secrets.io/v1", "secretstores"): "SecretStoreList",
    ("external-secrets.io/v1", "clustersecretstores"): "ClusterSecretStoreList",
    ("external-secrets.io/v1beta1", "externalsecrets"): "ExternalSecretList",
    ("external-secrets.io/v1beta1", "secretstores"): "SecretStoreList",
    ("external-secrets.io/v1beta1", "clustersecretstores"): "ClusterSecretStoreList",
    ("bitnami.com/v1alpha1", "sealedsecrets"): "SealedSecretList",
    ("secrets-store.csi.x-k8s.io/v1", "secretproviderclasses"): "SecretProviderClassList",
}
CLUSTER_SCOPED = {"clusterroles", "clusterrolebindings", "namespaces", "clustersecretstores"}


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A ``Status`` object (meta/v1), as every API error body is."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": {}, "code": code}


def meta(name: str, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": f"uid-{namespace or '-'}-{name}", "resourceVersion": "1001",
                         "creationTimestamp": kw.pop("created", "2025-06-01T10:00:00Z")}
    if namespace:
        m["namespace"] = namespace
    m.update(kw)
    return m


def rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> dict:
    r: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
    if names:
        r["resourceNames"] = names
    return r


def subject(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    s = {"kind": kind, "name": name}
    if kind == "ServiceAccount":
        s["namespace"] = namespace or "default"
    else:
        s["apiGroup"] = "rbac.authorization.k8s.io"
    return s


def binding(name: str, role_kind: str, role: str, subjects: list[dict], namespace: str | None = None) -> dict:
    return {"metadata": meta(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


def container(name: str, env: list[dict] | None = None, env_from: list[dict] | None = None,
              mounts: list[dict] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": f"registry.acme.test/{name}:1.4.2"}
    if env:
        c["env"] = env
    if env_from:
        c["envFrom"] = env_from
    if mounts:
        c["volumeMounts"] = mounts
    return c


def pod_spec(containers: list[dict], volumes: list[dict] | None = None, sa: str = "default") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers, "serviceAccountName": sa}
    if volumes:
        spec["volumes"] = volumes
    return spec


def pod(name: str, namespace: str, spec: dict, annotations: dict | None = None) -> dict[str, Any]:
    m = meta(name, namespace)
    if annotations:
        m["annotations"] = annotations
    return {"metadata": m, "spec": spec, "status": {"phase": "Running"}}


def secret(name: str, namespace: str, data: dict[str, str], type_: str = "Opaque", **m: Any) -> dict[str, Any]:
    """A full Secret (data base64-encoded, as the API returns it)."""
    return {"metadata": meta(name, namespace, **m), "type": type_,
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def estate() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The default cluster: one planted problem and one clean look-alike per check."""
    rbac = "rbac.authorization.k8s.io/v1"
    last_applied = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password",
                               "namespace": "prod"}, "data": {"password": APPLIED_CANARY}})
    return {
        ("v1", "namespaces"): [{"metadata": meta(n), "spec": {"finalizers": ["kubernetes"]},
                                "status": {"phase": "Active"}} for n in ("default", "kube-system", "prod", "staging")],
        (rbac, "clusterroles"): [
            {"metadata": meta("cluster-admin", labels={"kubernetes.io/bootstrapping": "rbac-defaults"}),
             "rules": [rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]}]},
            {"metadata": meta("system:kube-controller-manager"),
             "rules": [rule([""], ["secrets", "serviceaccounts"], ["create", "delete", "get", "update"])]},
            {"metadata": meta("secret-reader"), "rules": [rule([""], ["secrets"], ["get", "list", "watch"])]},
            {"metadata": meta("view"), "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]},
             "rules": [rule([""], ["pods", "services", "configmaps"], ["get", "list", "watch"])]},
            {"metadata": meta("everyone-reads-secrets"), "rules": [rule([""], ["secrets"], ["get"])]},
        ],
        (rbac, "clusterrolebindings"): [
            binding("system:kube-controller-manager", "ClusterRole", "system:kube-controller-manager",
                    [subject("User", "system:kube-controller-manager")]),
            binding("alice-reads-all-secrets", "ClusterRole", "secret-reader", [subject("User", "alice@acme.test")]),
            binding("everyone-view", "ClusterRole", "view", [subject("Group", "system:authenticated")]),
            binding("everyone-reads-secrets", "ClusterRole", "everyone-reads-secrets",
                    [subject("Group", "system:authenticated")]),
            binding("cluster-admin", "ClusterRole", "cluster-admin", [subject("Group", "system:masters")]),
            binding("ci-views", "ClusterRole", "view", [subject("User", "system:serviceaccount:staging:ci")]),
        ],
        (rbac, "roles"): [
            {"metadata": meta("app-config-reader", "prod"),
             "rules": [rule([""], ["secrets"], ["get"], names=["app-config"])]},
            {"metadata": meta("default-reads-secrets", "prod"), "rules": [rule([""], ["secrets"], ["list"])]},
            {"metadata": meta("system:controller:bootstrap-signer", "kube-system"),
             "rules": [rule([""], ["secrets"], ["get", "list", "watch"])]},
        ],
        (rbac, "rolebindings"): [
            binding("web-reads-app-config", "Role", "app-config-reader",
                    [subject("ServiceAccount", "web", "prod")], "prod"),
            binding("default-reads-secrets", "Role", "default-reads-secrets",
                    [subject("ServiceAccount", "default", "prod")], "prod"),
            binding("system:controller:bootstrap-signer", "Role", "system:controller:bootstrap-signer",
                    [subject("ServiceAccount", "bootstrap-signer", "kube-system")], "kube-system"),
            binding("ci-reads-staging-secrets", "ClusterRole", "secret-reader",
                    [subject("ServiceAccount", "ci", "staging")], "staging"),
        ],
        ("v1", "serviceaccounts"): [
            {"metadata": meta("default", "prod"), "secrets": [{"name": "default-token-x7k2p"}]},
            {"metadata": meta("web", "prod")},
            {"metadata": meta("ci", "staging")},
            {"metadata": meta("bootstrap-signer", "kube-system")},
        ],
        ("v1", "secrets"): [
            secret("default-token-x7k2p", "prod", {"token": SECRET_CANARY, "namespace": "prod"},
                   "kubernetes.io/service-account-token",
                   annotations={"kubernetes.io/service-account.name": "default",
                                "kubernetes.io/service-account.uid": "uid-prod-default"}),
            secret("db-password", "prod", {"password": SECRET_CANARY}, created="2024-01-10T08:00:00Z",
                   labels={"app": "web"},
                   annotations={"kubectl.kubernetes.io/last-applied-configuration": last_applied},
                   managedFields=[{"manager": "kubectl-client-side-apply", "operation": "Update",
                                   "apiVersion": "v1", "time": "2024-02-01T08:00:00Z", "fieldsType": "FieldsV1",
                                   "fieldsV1": {"f:data": {".": {}, "f:password": {}}}}]),
            secret("app-config", "prod", {"config.yaml": SECRET_CANARY}, labels={"owner": "payments-team"}),
            secret("api-key", "staging", {"key": SECRET_CANARY}),
        ],
        ("v1", "pods"): [
            pod("web-6d4f9", "prod", pod_spec(
                [container("web", env=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {
                    "name": "db-password", "key": "password"}}},
                    {"name": "APP_MODE", "valueFrom": {"configMapKeyRef": {"name": "web", "key": "mode"}}}])],
                sa="web")),
            pod("api-7c8d1", "prod", pod_spec(
                [container("api", env=[{"name": "LOG_LEVEL", "value": "debug"},
                                       {"name": "DB_HOST", "value": "db.prod.svc.cluster.local"},
                                       {"name": "DB_PASSWORD_FILE", "value": "/etc/app/password"}],
                           mounts=[{"name": "config", "mountPath": "/etc/app", "readOnly": True}])],
                volumes=[{"name": "config", "secret": {"secretName": "app-config"}},
                         {"name": "kube-api-access", "projected": {"sources": [
                             {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}],
                sa="web")),
            pod("worker-5b2a0", "staging", pod_spec(
                [container("worker", env=[{"name": "STRIPE_SECRET_KEY", "value": ENV_CANARY}])], sa="ci")),
        ],
        ("apps/v1", "deployments"): [
            {"metadata": meta("batch", "staging"), "spec": {
                "selector": {"matchLabels": {"app": "batch"}},
                "template": {"metadata": {"labels": {"app": "batch"}}, "spec": pod_spec(
                    [container("batch", env_from=[{"secretRef": {"name": "api-key"}}])], sa="ci")}}},
        ],
        ("bitnami.com/v1alpha1", "sealedsecrets"): [],  # CRD installed, no object
    }


def with_integrations(objs: dict[tuple[str, str], list[dict[str, Any]]]) -> dict[tuple[str, str], list[dict]]:
    """The estate plus External Secrets Operator objects (ExternalSecret, SecretStore)."""
    es = "external-secrets.io/v1beta1"
    out = dict(objs)
    out[(es, "externalsecrets")] = [{"apiVersion": es, "kind": "ExternalSecret",
                                     "metadata": meta("db-password", "prod"),
                                     "spec": {"refreshInterval": "1h",
                                              "secretStoreRef": {"name": "vault", "kind": "SecretStore"},
                                              "target": {"name": "db-password"},
                                              "data": [{"secretKey": "password",
                                                        "remoteRef": {"key": "prod/db", "property": "password"}}]}}]
    out[(es, "secretstores")] = [{"apiVersion": es, "kind": "SecretStore", "metadata": meta("vault", "prod"),
                                  "spec": {"provider": {"vault": {"server": "https://vault.acme.test",
                                                                  "path": "secret", "version": "v2"}}}}]
    out[(es, "clustersecretstores")] = []
    return out


@dataclass
class Fault:
    status: int
    body: bytes
    content_type: str = "application/json"
    remaining: int | None = None  # for 200 lists: cut to one page with remainingItemCount / continue


@dataclass
class KubeApiServer:
    objects: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=estate)
    token: str = TOKEN
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path?query, accept)
    ignore_partial: bool = False  # an old or broken server that answers a Secrets list in full whatever Accept says
    tls: bool = False  # HTTPS with a self-signed certificate for 127.0.0.1 (its CA goes into the kubeconfig)

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.ca_pem: bytes | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if self.tls:
            self._server.socket = _tls_context(self).wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._server.server_address[1]}"

    def kubeconfig(self, path: Path, token: str | None = None, context: str = "acme-prod",
                   with_ca: bool = True) -> Path:
        """A kubeconfig (v1 Config) pointing at this server with a bearer token (and its CA, over TLS)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls and with_ca and self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "acme", "cluster": cluster}],
            "users": [{"name": "assessor", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "acme", "user": "assessor"}}],
        }))
        return path

    # --- faults ------------------------------------------------------------------------------------

    def fail(self, path: str, code: int, body: Any = None, content_type: str = "application/json") -> None:
        if body is None:
            body = status(code, {403: "Forbidden", 429: "TooManyRequests", 404: "NotFound"}.get(code, "InternalError"),
                          f"injected {code}")
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.faults[path] = Fault(code, raw, content_type)

    def cut(self, path: str, remaining: int) -> None:
        """Answer ``path`` with its first item only and ``remainingItemCount`` but no continue token."""
        self.faults[path] = Fault(200, b"", remaining=remaining)

    # --- answering ----------------------------------------------------------------------------------

    def answer(self, method: str, raw_path: str, accept: str, auth: str) -> tuple[int, bytes, str]:
        parts = urlsplit(raw_path)
        path, query = parts.path.rstrip("/"), parse_qs(parts.query)
        with self._lock:
            self.requests.append((method, raw_path, accept))
        if auth != f"Bearer {self.token}":
            return 401, json.dumps(status(401, "Unauthorized", "Unauthorized")).encode(), "application/json"
        if method != "GET":
            return 405, json.dumps(status(405, "MethodNotAllowed", "not in this test server")).encode(), \
                "application/json"
        fault = self.faults.get(path)
        if fault is not None and fault.remaining is None:
            return fault.status, fault.body, fault.content_type
        if path == "/version":
            return 200, json.dumps({"major": "1", "minor": "30", "gitVersion": "v1.30.2", "gitCommit": "abc",
                                    "gitTreeState": "clean", "buildDate": "2024-06-11T20:20:00Z",
                                    "goVersion": "go1.22.4", "compiler": "gc", "platform": "linux/amd64"}
                                   ).encode(), "application/json"
        route = _route(path)
        not_found = 404, json.dumps(status(404, "NotFound", "the server could not find the requested resource")
                                    ).encode(), "application/json"
        if route is None or route[0] not in KINDS:
            return not_found
        (gv, resource), namespace, name = route
        builtin = gv in ("v1", "apps/v1", "rbac.authorization.k8s.io/v1")
        if not builtin and (gv, resource) not in self.objects:  # a custom resource whose CRD is not installed
            return not_found
        items = [o for o in self.objects.get((gv, resource), [])
                 if namespace is None or o["metadata"].get("namespace") == namespace]
        if name is not None:
            found = [o for o in items if o["metadata"]["name"] == name]
            if not found:
                return 404, json.dumps(status(404, "NotFound", f'{resource} "{name}" not found')).encode(), \
                    "application/json"
            return 200, json.dumps(found[0]).encode(), "application/json"
        limit = int(query.get("limit", ["0"])[0] or 0)
        start = int(query.get("continue", ["0"])[0] or 0)
        end = start + limit if limit else len(items)
        page, more = items[start:end], end < len(items)
        list_meta: dict[str, Any] = {"resourceVersion": "2002"}
        if more:
            list_meta["continue"] = str(end)
            list_meta["remainingItemCount"] = len(items) - end
        if fault is not None and fault.remaining is not None:
            page, list_meta = items[:1], {"resourceVersion": "2002", "remainingItemCount": fault.remaining}
        if resource == "secrets" and accept.replace(" ", "") == PARTIAL and not self.ignore_partial:
            body = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
                    "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": o["metadata"]} for o in page]}
        else:
            body = {"kind": KINDS[(gv, resource)], "apiVersion": gv, "metadata": list_meta, "items": page}
        return 200, json.dumps(body).encode(), "application/json"


def _route(path: str) -> tuple[tuple[str, str], str | None, str | None] | None:
    seg = [s for s in path.split("/") if s]
    if seg[:2] == ["api", "v1"]:
        gv, rest = "v1", seg[2:]
    elif len(seg) >= 3 and seg[0] == "apis":
        gv, rest = f"{seg[1]}/{seg[2]}", seg[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 2:
        return None
    return (gv, rest[0]), namespace, rest[1] if len(rest) == 2 else None


def _handler(server: KubeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _do(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            code, body, ctype = server.answer(self.command, self.path, self.headers.get("Accept", ""),
                                              self.headers.get("Authorization", ""))
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _do

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _tls_context(server: KubeApiServer) -> Any:
    """A server TLS context with a fresh self-signed certificate for IP 127.0.0.1."""
    import datetime as dt
    import ipaddress
    import ssl
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    server.ca_pem = cert.public_bytes(serialization.Encoding.PEM)
    folder = Path(tempfile.mkdtemp(prefix="k8s-api-tls-"))
    (folder / "cert.pem").write_bytes(server.ca_pem)
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return ctx
