"""How workloads take their secrets: environment variables, files, injectors; and literal env values.

Pods and the pod templates of Deployments, StatefulSets and DaemonSets are
read once each. Per workload the collector records which Secrets it takes as
environment variables (``env[].valueFrom.secretKeyRef``, ``envFrom[].secretRef``)
and which as files (``volumes[].secret``, ``projected.sources[].secret``),
and whether a secret manager delivers them instead (the Vault agent injector's
``vault.hashicorp.com/agent-inject`` annotation, a Secrets Store CSI volume).

A literal ``env[].value`` is the one place a value passes through memory: it is
judged by `posture.model.secretlike.classify_value` and, for a secret, only
the variable's name, the location, the detector, a public prefix and a keyed
fingerprint are kept (as for AWS Lambda environments); the value is dropped.

Custom resources of External Secrets, Sealed Secrets and the Secrets Store CSI
driver are counted, not kept: a 404 means the CRD is not installed (a fact,
``objects`` None), any other failure is a gap.
"""

from __future__ import annotations

from typing import Any

from collectors.kubernetes.client import KubeCalls
from collectors.kubernetes.guard import READS, Read
from posture.model.records import CloudResource, SourceFinding
from posture.model.secretlike import classify_value, public_prefix

TABLES = ["cloud_resource", "source_finding"]
TEMPLATES = (("deployments", "Deployment"), ("statefulsets", "StatefulSet"), ("daemonsets", "DaemonSet"))
VAULT_INJECT = "vault.hashicorp.com/agent-inject"
CSI_DRIVER = "secrets-store.csi.k8s.io"
_READ = {r.resource: r for r in READS}


def _containers(spec: Any) -> list[Any]:
    return [*(spec.init_containers or []), *(spec.containers or []), *(getattr(spec, "ephemeral_containers", None) or [])]


def consumption(spec: Any, annotations: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(Secrets as env, Secrets as files, secret-manager integrations) of one pod spec."""
    env: list[str] = []
    files: list[str] = []
    for c in _containers(spec):
        for e in c.env or []:
            ref = e.value_from.secret_key_ref if e.value_from else None
            if ref is not None and ref.name:
                env.append(f"{ref.name}/{ref.key}")
        for src in c.env_from or []:
            if src.secret_ref is not None and src.secret_ref.name:
                env.append(src.secret_ref.name)
    integrations: list[str] = []
    for v in spec.volumes or []:
        if v.secret is not None and v.secret.secret_name:
            files.append(v.secret.secret_name)
        if v.projected is not None:
            files += [s.secret.name for s in v.projected.sources or [] if s.secret is not None and s.secret.name]
        if v.csi is not None and v.csi.driver == CSI_DRIVER:
            integrations.append("secrets-store-csi")
    if str(annotations.get(VAULT_INJECT, "")).lower() == "true":
        integrations.append("vault-agent")
    return sorted(set(env)), sorted(set(files)), sorted(set(integrations))


def _workload(calls: KubeCalls, kind: str, meta: Any, spec: Any, annotations: dict[str, str]) -> None:
    store = calls.store.name
    ns, name = meta.namespace, meta.name
    rid = f"kubernetes:{store}:{ns}/{kind.lower()}/{name}"
    env, files, integrations = consumption(spec, annotations)
    calls.ctx.sink.add(CloudResource(
        id=rid, store=store, source="kubernetes", kind="k8s_workload", name=f"{ns}/{kind.lower()}/{name}",
        namespace=ns, service_account=spec.service_account_name or "default", secret_env=env,
        secret_files=files, secret_integrations=integrations,
    ))
    for c in _containers(spec):
        for e in c.env or []:
            if e.value is None or e.value_from is not None:
                continue
            detector = classify_value(e.name or "", e.value)
            if detector is None:
                continue
            location = f"{ns}/{kind.lower()}/{name}#container={c.name}"
            calls.ctx.sink.add(SourceFinding(
                id=f"{location}#env:{e.name}", store=store, source="kubernetes", repo=rid, category="config_env",
                detector=detector, path=location, in_tree=True, fingerprint=calls.ctx.fingerprint(e.value),
                variable=e.name, public_prefix=public_prefix(e.value), refs=[kind, ns],
                message=f"{kind} environment variable {e.name} holds a literal secret",
            ))


def collect(calls: KubeCalls, namespaces: list[str] | None) -> None:
    scopes: list[str | None] = list(namespaces) if namespaces else [None]
    for ns in scopes:
        for pod in calls.list(_READ["pods"], ns, TABLES).items or []:
            if pod.spec is not None:
                _workload(calls, "Pod", pod.metadata, pod.spec, pod.metadata.annotations or {})
        for resource, kind in TEMPLATES:
            for obj in calls.list(_READ[resource], ns, TABLES).items or []:
                tpl = obj.spec.template if obj.spec is not None else None
                if tpl is not None and tpl.spec is not None:
                    ann = (tpl.metadata.annotations if tpl.metadata else None) or {}
                    _workload(calls, kind, obj.metadata, tpl.spec, ann)


def collect_integrations(calls: KubeCalls, namespaces: list[str] | None) -> None:
    """One row per integration custom resource: how many objects, or not installed (``objects`` None).

    A resource is tried at each version its operator serves, newest first; the first version that
    answers gives the count (the same objects are served at every version, so counts are not added).
    """
    store = calls.store.name
    by_resource: dict[tuple[str, str], list[Read]] = {}
    for r in READS:
        if r.crd:
            by_resource.setdefault((r.group, r.resource), []).append(r)
    for (group, resource), versions in by_resource.items():
        count: int | None = None
        for read in versions:
            scopes: list[str | None] = list(namespaces) if namespaces and read.namespaced else [None]
            found: int | None = None
            for ns in scopes:
                got = calls.list(read, ns, ["cloud_resource"])
                if got.items is not None:
                    found = (found or 0) + len(got.items)
            if found is not None:
                count = found
                break
        calls.ctx.sink.add(CloudResource(
            id=f"kubernetes:{store}:integration/{group}/{resource}", store=store, source="kubernetes",
            kind="k8s_secret_integration", name=f"{group}/{resource}", objects=count, enabled=bool(count),
        ))
