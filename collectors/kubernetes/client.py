"""Connecting with the official client, and reading one list into models or a coverage gap.

Every read goes through `KubeCalls.list`: it pages with ``limit``/``continue``,
turns an HTTP failure into a gap (403 denied, 429 throttled after retries, 5xx
error, 410 expired continue token truncated), refuses a 200 that is not a list
(an HTML login page, a JSON without ``kind``/``items``: malformed), and marks a
list cut short (a page cap reached while ``metadata.continue`` still points on,
or ``remainingItemCount`` left with no way to read it: truncated). Typed lists
are deserialised by the client's own models (``V1PodList`` ...); custom
resources and Secret metadata stay JSON, read field by field.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from collectors.base import CollectContext
from collectors.kubernetes.guard import PARTIAL_METADATA_LIST, Read, ReadOnlyGuard
from posture.model.engagement import KubernetesStore
from posture.model.errors import CollectionError

#: resource -> (typed API class, list-all method, list-namespaced method, list model)
TYPED: dict[str, tuple[str, str, str | None, str]] = {
    "roles": ("RbacAuthorizationV1Api", "list_role_for_all_namespaces", "list_namespaced_role", "V1RoleList"),
    "clusterroles": ("RbacAuthorizationV1Api", "list_cluster_role", None, "V1ClusterRoleList"),
    "rolebindings": ("RbacAuthorizationV1Api", "list_role_binding_for_all_namespaces",
                     "list_namespaced_role_binding", "V1RoleBindingList"),
    "clusterrolebindings": ("RbacAuthorizationV1Api", "list_cluster_role_binding", None,
                            "V1ClusterRoleBindingList"),
    "namespaces": ("CoreV1Api", "list_namespace", None, "V1NamespaceList"),
    "serviceaccounts": ("CoreV1Api", "list_service_account_for_all_namespaces", "list_namespaced_service_account",
                        "V1ServiceAccountList"),
    "pods": ("CoreV1Api", "list_pod_for_all_namespaces", "list_namespaced_pod", "V1PodList"),
    "deployments": ("AppsV1Api", "list_deployment_for_all_namespaces", "list_namespaced_deployment",
                    "V1DeploymentList"),
    "statefulsets": ("AppsV1Api", "list_stateful_set_for_all_namespaces", "list_namespaced_stateful_set",
                     "V1StatefulSetList"),
    "daemonsets": ("AppsV1Api", "list_daemon_set_for_all_namespaces", "list_namespaced_daemon_set",
                   "V1DaemonSetList"),
}

STATUS_REASON = {401: "denied", 403: "denied", 404: "not_found", 405: "unsupported", 406: "unsupported",
                 410: "truncated", 429: "throttled", 501: "unsupported"}


def connect(store: KubernetesStore, base_dir: Path | None = None) -> tuple[k8s.ApiClient, str]:
    """An ApiClient from the store's kubeconfig (relative to the engagement file) or the in-cluster
    config; and the server URL. The caller installs the guard before any request."""
    cfg = k8s.Configuration()
    path = store.kubeconfig or os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
    if store.kubeconfig and base_dir is not None and not Path(store.kubeconfig).expanduser().is_absolute():
        path = str(Path(base_dir) / store.kubeconfig)
    in_cluster = not store.kubeconfig and not os.environ.get("KUBECONFIG") and not Path(path).is_file() \
        and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=cfg)
        else:
            path = str(Path(path.split(os.pathsep)[0]).expanduser())
            if not Path(path).is_file():
                raise CollectionError(f"kubernetes store {store.name}: kubeconfig {path} not found")
            k8s_config.load_kube_config(config_file=path, context=store.context, client_configuration=cfg,
                                        persist_config=False)
    except CollectionError:
        raise
    except (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise CollectionError(f"kubernetes store {store.name}: bad kubeconfig: {_one_line(e)}") from None
    except yaml.YAMLError as e:  # a file that is not YAML at all
        raise CollectionError(f"kubernetes store {store.name}: bad kubeconfig: {type(e).__name__}: "
                              f"{_one_line(e)}") from None
    cfg.retries = 1
    api = k8s.ApiClient(cfg)
    api.user_agent = "secrets-posture-kit"
    return api, cfg.host


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300] or type(e).__name__


@dataclass
class Listed:
    """What one list read gave: its items (models or dicts), complete or not; None items: CRD not installed."""

    items: list[Any] | None
    complete: bool


class KubeCalls:
    """The collector's one way to read: guarded client, paging, gaps."""

    def __init__(self, store: KubernetesStore, ctx: CollectContext, api: k8s.ApiClient, guard: ReadOnlyGuard) -> None:
        self.store = store
        self.ctx = ctx
        self.api = guard.install(api)
        self.page_size = int(ctx.options.get("k8s_page_size", 500))
        self.max_pages = int(ctx.options.get("k8s_max_pages", 1000))
        self.attempts = int(ctx.options.get("k8s_max_attempts", 3))

    def gap(self, read: Read, namespace: str | None, tables: list[str], reason: str, detail: str) -> None:
        where = f"namespaces/{namespace}/" if namespace else ""
        group = f"{read.group}/" if read.group else ""
        self.ctx.sink.gap(store=self.store.name, source="kubernetes", tables=tables,
                          operation=f"LIST {group}{where}{read.resource}", reason=reason,
                          scope=f"{namespace}/" if namespace else "", service=read.resource, detail=detail)

    def version(self) -> str | None:
        """GET /version: proves the API answers and the credential is accepted (else CollectionError)."""
        try:
            info = k8s.VersionApi(self.api).get_code(_request_timeout=self.store.timeout)
        except ApiException as e:
            if e.status == 401:
                raise CollectionError(f"kubernetes store {self.store.name}: the API server refused the "
                                      "credential (401)") from None
            if e.status == 0:
                raise CollectionError(f"kubernetes store {self.store.name}: TLS failure: "
                                      f"{_one_line(Exception(e.reason))}") from None
            return None  # /version denied or absent: the lists below still say what they can
        except (urllib3.exceptions.HTTPError, OSError) as e:
            cause = getattr(e, "reason", None) or e
            if isinstance(cause, (urllib3.exceptions.SSLError, ssl.SSLError)):
                raise CollectionError(f"kubernetes store {self.store.name}: TLS failure talking to "
                                      f"{self.api.configuration.host}: {_one_line(cause)[:160]}") from None
            raise CollectionError(f"kubernetes store {self.store.name}: API server {self.api.configuration.host} "
                                  f"unreachable: {type(cause).__name__}") from None
        except ValueError:
            return None
        return getattr(info, "git_version", None)

    def _request(self, read: Read, namespace: str | None, token: str | None) -> Any:
        kw: dict[str, Any] = {"limit": self.page_size, "_preload_content": False,
                              "_request_timeout": self.store.timeout}
        if token:
            kw["_continue"] = token
        if read.resource in TYPED:
            cls, all_ns, per_ns, _ = TYPED[read.resource]
            api = getattr(k8s, cls)(self.api)
            if namespace and per_ns:
                return getattr(api, per_ns)(namespace, **kw)
            return getattr(api, all_ns)(**kw)
        if read.secret_metadata_only:
            path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
            query = [("limit", self.page_size)] + ([("continue", token)] if token else [])
            return self.api.call_api(path, "GET", {}, query, {"Accept": PARTIAL_METADATA_LIST},
                                     auth_settings=["BearerToken"], _return_http_data_only=True,
                                     _preload_content=False, _request_timeout=self.store.timeout)
        custom = k8s.CustomObjectsApi(self.api)
        if namespace and read.namespaced:
            return custom.list_namespaced_custom_object(read.group, read.version, namespace, read.resource, **kw)
        return custom.list_cluster_custom_object(read.group, read.version, read.resource, **kw)

    def _page(self, read: Read, namespace: str | None, token: str | None) -> Any:
        for attempt in range(self.attempts):
            try:
                return self._request(read, namespace, token)
            except ApiException as e:
                if e.status != 429 or attempt == self.attempts - 1:
                    raise
                retry_after = (e.headers or {}).get("Retry-After") if hasattr(e, "headers") else None
                try:
                    pause = min(float(retry_after or 0.2), 2.0)
                except ValueError:
                    pause = 0.2
                time.sleep(pause)
        raise AssertionError("unreachable")

    def list(self, read: Read, namespace: str | None, tables: list[str]) -> Listed:
        """Every item of one collection (all namespaces when ``namespace`` is None), or a gap."""
        items: list[Any] = []
        token: str | None = None
        for _ in range(self.max_pages):
            try:
                resp = self._page(read, namespace, token)
            except ApiException as e:
                if e.status == 404 and read.crd:
                    return Listed(None, True)  # the custom resource is not installed: a fact, not a gap
                reason = STATUS_REASON.get(e.status or 0, "error")  # 5xx and the rest
                self.gap(read, namespace, tables, reason, f"HTTP {e.status} {e.reason}")
                return Listed(items, False)
            except urllib3.exceptions.TimeoutError:
                self.gap(read, namespace, tables, "timeout", f"no answer within {self.store.timeout} s")
                return Listed(items, False)
            except (urllib3.exceptions.HTTPError, OSError) as e:
                self.gap(read, namespace, tables, "unreachable", type(e).__name__)
                return Listed(items, False)
            raw = resp.data
            body = _list_body(raw)
            if body is None:
                ctype = (resp.headers or {}).get("Content-Type", "?") if hasattr(resp, "headers") else "?"
                self.gap(read, namespace, tables, "malformed", f"HTTP 200 that is not a list ({ctype})")
                return Listed(items, False)
            if read.secret_metadata_only and body.get("kind") != "PartialObjectMetadataList":
                # a server that ignored the Accept header answered with full Secrets: drop them unread
                self.gap(read, namespace, tables, "malformed",
                         f"{body.get('kind')} instead of PartialObjectMetadataList; discarded")
                return Listed(items, False)
            page = self._items(read, raw, body)
            if page is None:
                self.gap(read, namespace, tables, "malformed", "a list whose items the client's models refuse")
                return Listed(items, False)
            items.extend(page)
            meta = body.get("metadata") or {}
            token = meta.get("continue") or None
            if not token:
                remaining = meta.get("remainingItemCount")
                if isinstance(remaining, int) and remaining > 0:
                    self.gap(read, namespace, tables, "truncated",
                             f"remainingItemCount {remaining} without a continue token")
                    return Listed(items, False)
                return Listed(items, True)
        self.gap(read, namespace, tables, "truncated", f"still a continue token after {self.max_pages} pages")
        return Listed(items, False)

    def _items(self, read: Read, raw: bytes, body: dict[str, Any]) -> list[Any] | None:
        if read.resource in TYPED:
            try:
                model = self.api.deserialize(SimpleNamespace(data=raw), TYPED[read.resource][3])
            except (ValueError, TypeError, AttributeError):
                return None
            return list(model.items or [])
        if not all(isinstance(i, dict) and isinstance(i.get("metadata"), dict) for i in body["items"]):
            return None
        return list(body["items"])

    def object_meta(self, metadata: dict[str, Any]) -> Any:
        """A JSON ``metadata`` as the client's V1ObjectMeta (labels, annotations, times parsed)."""
        return self.api.deserialize(SimpleNamespace(data=json.dumps(metadata)), "V1ObjectMeta")


def _list_body(raw: bytes) -> dict[str, Any] | None:
    """The JSON list, when ``raw`` is one: an object with a ``kind`` ending in List and an ``items`` array."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return None
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind.endswith("List"):
        return None
    return body
