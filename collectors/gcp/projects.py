"""Projects and CMEK keys: the project record and IAM policy, and each customer key a secret names.

The project policy is read because a project binding reaches every secret of
the project: ``roles/secretmanager.secretAccessor`` granted on the project
reads them all. CMEK keys are read with ``cryptoKeys.get`` only (their rotation
and protection level); the collector never encrypts or decrypts.
"""

from __future__ import annotations

from typing import Any

from collectors.gcp.calls import CALL_FAILURES, GcpCalls
from collectors.gcp.iam import add_policy, bindings_of
from collectors.gcp.secrets import IAM_TABLES, _utc
from posture.model.records import Key, Server

# A gap on the project policy leaves every secret's effective readers unknown.
PROJECT_IAM_TABLES = IAM_TABLES


def collect_project(gcp: GcpCalls, project: str) -> str:
    """Write the project's server record (with the folders and organization above it) and the IAM
    policies of the project and of each of those; returns the server id."""
    server_id = f"gcp-project:{project}"
    scope = f"projects/{project}/"
    # Without the project's parent, the bindings its secrets inherit are unknown too.
    got = gcp.call(gcp.clients.resourcemanager.get_project, scope=scope, service="resourcemanager",
                   operation="resourcemanager.projects.get", tables=["server", *PROJECT_IAM_TABLES],
                   request={"name": f"projects/{project}"})
    number = got.name.rsplit("/", 1)[-1] if got is not None and got.name else None
    parents = ancestors(gcp, project, got.parent) if got is not None else None
    gcp.sink.add(Server(
        id=server_id, store=gcp.store.name, source="gcp", address=project, product="gcp-project",
        namespace=number, parents=parents,
    ))
    policy = gcp.call(gcp.clients.resourcemanager.get_iam_policy, scope=scope,
                      service="resourcemanager", operation="resourcemanager.projects.getIamPolicy",
                      tables=PROJECT_IAM_TABLES,
                      request={"resource": f"projects/{project}", "options": {"requested_policy_version": 3}})
    if policy is not None:
        add_policy(gcp.sink, gcp.store.name, policy_id=f"gcp:{gcp.store.name}:projects/{project}/iam",
                   name=f"projects/{project}", kind="gcp_project_iam", attached_to=server_id,
                   path=f"projects/{project}/*", bindings=bindings_of(policy), wildcard=True)
    return server_id


def ancestors(gcp: GcpCalls, project: str, parent: str) -> list[str] | None:
    """The folders and organization above ``project``, nearest first, each with its IAM policy read
    (once per run); None when the chain could not be followed. A failed read of an ancestor is a gap
    of every project under it, scoped to that project."""
    cache: dict[str, Any] = gcp.__dict__.setdefault("_ancestors", {})
    scope = f"projects/{project}/"
    chain: list[str] = []
    while parent:
        chain.append(parent)
        if not parent.startswith("folders/"):
            break
        key = ("folder", parent)
        if key not in cache:
            cache[key] = _try(gcp.clients.folders.get_folder, gcp, name=parent)
        folder = cache[key]
        if isinstance(folder, BaseException):
            gcp.gap(scope, "resourcemanager", "resourcemanager.folders.get", folder, PROJECT_IAM_TABLES, parent)
            return None
        parent = folder.parent
    for node in chain:
        key = ("policy", node)
        kind = "folders" if node.startswith("folders/") else "organizations"
        if key not in cache:
            client = gcp.clients.folders if kind == "folders" else gcp.clients.organizations
            cache[key] = _try(client.get_iam_policy, gcp,
                              request={"resource": node, "options": {"requested_policy_version": 3}})
            if not isinstance(cache[key], BaseException):
                add_policy(gcp.sink, gcp.store.name, policy_id=f"gcp:{gcp.store.name}:{node}/iam", name=node,
                           kind=f"gcp_{kind[:-1]}_iam", attached_to=node, path=f"{node}/*",
                           bindings=bindings_of(cache[key]), wildcard=True)
        if isinstance(cache[key], BaseException):
            gcp.gap(scope, "resourcemanager", f"resourcemanager.{kind}.getIamPolicy", cache[key],
                    PROJECT_IAM_TABLES, node)
    return chain


def _try(fn: Any, gcp: GcpCalls, **kw: Any) -> Any:
    """``fn(**kw)`` with the retry policy; the exception itself when it failed (to be recorded per project)."""
    try:
        return fn(**kw, retry=gcp.retry, timeout=gcp.store.timeout)
    except CALL_FAILURES as e:
        return e


def key_parts(name: str) -> dict[str, str]:
    """projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/V] -> parts."""
    parts = name.split("/")
    return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def collect_key(gcp: GcpCalls, name: str) -> None:
    """One CMEK crypto key (``cryptoKeys.get``) as a Key record of kind ``gcp_kms``."""
    p = key_parts(name)
    key_name = "/".join(name.split("/")[:8])  # a key version's name is under its key
    scope = key_name
    k: Any = gcp.call(gcp.clients.kms.get_crypto_key, scope=scope, service="kms",
                      operation="cloudkms.cryptoKeys.get", tables=["key"], what=p.get("cryptoKeys"),
                      request={"name": key_name})
    if k is None:
        return
    if not k.name:
        gcp.sink.gap(store=gcp.store.name, source="gcp", tables=["key"], scope=scope, service="kms",
                     operation="cloudkms.cryptoKeys.get", reason="malformed", detail="the answer has no key name")
        return
    period = k.rotation_period if "rotation_period" in k else None
    primary = k.primary if "primary" in k else None
    template = k.version_template if "version_template" in k else None
    protection = (primary.protection_level.name if primary is not None else None) or (
        template.protection_level.name if template is not None else None)
    gcp.sink.add(Key(
        id=f"gcp:{gcp.store.name}:{k.name}", store=gcp.store.name, source="gcp", kind="gcp_kms",
        name=p.get("cryptoKeys", k.name), region=p.get("locations"), account=p.get("projects"), arn=k.name,
        manager="CUSTOMER", state=primary.state.name if primary is not None else None,
        spec=(primary.algorithm.name if primary is not None else None)
        or (template.algorithm.name if template is not None else None),
        usage=k.purpose.name, created_at=_utc(k.create_time),
        last_rotated_at=_utc(primary.create_time) if primary is not None else None,
        latest_version=int(primary.name.rsplit("/", 1)[-1]) if primary is not None and
        primary.name.rsplit("/", 1)[-1].isdigit() else None,
        rotation_enabled=period is not None, rotation_supported=k.purpose.name == "ENCRYPT_DECRYPT",
        rotation_period_days=round(period.total_seconds() / 86_400) if period is not None else None,
        next_rotation_at=_utc(k.next_rotation_time), protection_level=protection,
        aliases=[f"{p['keyRings']}/{p['cryptoKeys']}"] if p.get("keyRings") and p.get("cryptoKeys") else [],
        tags=dict(k.labels),
    ))
