"""Service accounts, their legacy long-lived token Secrets, and Secret metadata (opt-in).

Before Kubernetes 1.24 every service account got a Secret of type
``kubernetes.io/service-account-token`` holding a token that never expires;
such Secrets are named in ``ServiceAccount.secrets`` and carry the annotation
``kubernetes.io/service-account.name``. Without ``secret_metadata`` the
collector sees only the references; with it, the annotated Secrets themselves.

Secret metadata is listed as a ``PartialObjectMetadataList`` (meta.k8s.io/v1):
name, namespace, labels, annotations, timestamps, never ``data`` and never
``type`` (PartialObjectMetadata has no type field). So a TLS Secret is not
recognised as a certificate and a Helm release Secret is scored like any other
unless it is named as configuration. Annotation values are kept only when short
and not secret-like: ``kubectl.kubernetes.io/last-applied-configuration`` of a
Secret applied with kubectl holds the whole manifest, data included, and is
never kept.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from collectors.kubernetes.client import KubeCalls
from collectors.kubernetes.guard import READS
from posture.model.records import Principal, Secret
from posture.model.secretlike import classify_value

SA_ANNOTATION = "kubernetes.io/service-account.name"
NEVER_KEPT = ("kubectl.kubernetes.io/last-applied-configuration",)
MAX_KEPT = 128
_READ = {r.resource: r for r in READS}


def _safe(d: dict[str, Any] | None) -> dict[str, str]:
    """Labels or annotations without any value that could be (or carry) a secret."""
    out: dict[str, str] = {}
    for k, v in (d or {}).items():
        v = str(v)
        if k in NEVER_KEPT or len(v) > MAX_KEPT or classify_value(k, v) is not None:
            out[k] = "(not kept)"
        else:
            out[k] = v
    return out


def _updated(meta: Any) -> Any:
    times = [f.time for f in meta.managed_fields or [] if getattr(f, "time", None) is not None]
    return max(times) if times else None


def collect_secret_metadata(calls: KubeCalls, namespaces: list[str] | None) -> dict[str, list[str]] | None:
    """Secret rows from metadata; return 'ns/sa' -> token Secret names (None when a read was incomplete)."""
    store = calls.store.name
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    tokens: dict[str, list[str]] = defaultdict(list)
    complete = True
    for ns in scopes:
        got = calls.list(_READ["secrets"], ns, ["secret", "principal"])
        complete &= got.complete
        for item in got.items or []:
            meta = calls.object_meta(item.get("metadata") or {})
            annotations = meta.annotations or {}
            sa = annotations.get(SA_ANNOTATION)
            if sa:
                tokens[f"{meta.namespace}/{sa}"].append(meta.name)
            calls.ctx.sink.add(Secret(
                id=f"kubernetes:{store}:{meta.namespace}/{meta.name}", store=store, source="kubernetes",
                kind="kubernetes_secret", path=f"{meta.namespace}/{meta.name}", mount=meta.namespace,
                name=meta.name, created_at=meta.creation_timestamp, updated_at=_updated(meta),
                deleted_at=meta.deletion_timestamp, tags=_safe(meta.labels), custom_metadata=_safe(annotations),
            ))
    return dict(tokens) if complete else None


def collect_service_accounts(calls: KubeCalls, namespaces: list[str] | None, bound: dict[str, list[str]],
                             tokens: dict[str, list[str]] | None) -> None:
    store = calls.store.name
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    for ns in scopes:
        for sa in calls.list(_READ["serviceaccounts"], ns, ["principal"]).items or []:
            m = sa.metadata
            key = f"{m.namespace}/{m.name}"
            calls.ctx.sink.add(Principal(
                id=f"kubernetes:{store}:serviceaccount:{key}", store=store, source="kubernetes", name=key,
                kind="k8s_serviceaccount", namespace=m.namespace, created_at=m.creation_timestamp,
                policies=sorted(set(bound.get(f"serviceaccount:{key}", []))),
                secret_refs=sorted({r.name for r in sa.secrets or [] if r.name}),
                token_secrets=None if tokens is None else sorted(tokens.get(key, [])),
            ))
