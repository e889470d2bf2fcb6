"""Secret Manager: every secret's metadata, its versions' states, its IAM policy; never a payload.

``ListSecrets`` carries replication (and its CMEK keys), rotation, expiry,
labels and annotations; one ``ListSecretVersions`` per secret gives the
version count per state and the newest version's time (adding a version *is*
rotating a GCP secret, so that time is ``last_rotated_at``); one
``GetIamPolicy`` per secret gives who may read it. A failed versions listing
leaves the counts unknown (``None``), never zero.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from collectors.gcp.calls import GcpCalls
from collectors.gcp.iam import add_policy, bindings_of
from posture.model.records import Mount, Secret

SECRET_TABLES = ["secret"]
IAM_TABLES = ["policy", "policy_rule", "principal"]


def _utc(ts: Any) -> datetime | None:
    if ts is None:
        return None
    aware = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return datetime.fromtimestamp(aware.timestamp(), tz=UTC)  # a plain datetime, not the SDK's subclass


def readable_path(project: str, location: str | None, secret_id: str) -> str:
    """The secret's resource name with the project *id* (the API answers with the number)."""
    where = f"projects/{project}/locations/{location}" if location else f"projects/{project}"
    return f"{where}/secrets/{secret_id}"


def list_secrets(gcp: GcpCalls, project: str, location: str | None) -> list[Any]:
    """The project's secrets in one location (None: the global API); a failure is a gap."""
    parent = f"projects/{project}/locations/{location}" if location else f"projects/{project}"
    client = gcp.secrets_client(location)
    items, complete = gcp.pages(client.list_secrets, "secrets", scope=f"{parent}/", service="secretmanager",
                                operation="secretmanager.secrets.list", tables=SECRET_TABLES + IAM_TABLES,
                                request={"parent": parent, "page_size": gcp.page_size})
    usable = list({s.name: s for s in items if s.name and "/secrets/" in s.name}.values())  # a page re-sent
    items = [s for s in items if not s.name or "/secrets/" not in s.name] + usable
    if len(usable) < len(items):
        gcp.sink.gap(store=gcp.store.name, source="gcp", tables=SECRET_TABLES, scope=f"{parent}/",
                     service="secretmanager", operation="secretmanager.secrets.list", reason="malformed",
                     detail=f"{len(items) - len(usable)} of {len(items)} secrets have no resource name")
    gcp.sink.add(Mount(
        id=f"gcp:{gcp.store.name}:{parent}/secretmanager", store=gcp.store.name, source="gcp",
        path=f"{parent}/secrets", type="secretmanager",
        description=None if complete and len(usable) == len(items) else "listing incomplete (see coverage gaps)",
    ))
    return usable


def collect_secret(gcp: GcpCalls, project: str, location: str | None, s: Any) -> None:
    """One secret: versions, IAM policy, and its record."""
    secret_id = s.name.rsplit("/", 1)[-1]
    path = readable_path(project, location, secret_id)
    client = gcp.secrets_client(location)
    record_id = f"gcp:{gcp.store.name}:{path}"

    versions, complete = gcp.pages(client.list_secret_versions, "versions", scope=path, service="secretmanager",
                                   operation="secretmanager.versions.list", tables=SECRET_TABLES, what=secret_id,
                                   request={"parent": s.name, "page_size": gcp.page_size})
    by_state = Counter(v.state.name for v in versions) if complete else Counter()
    newest = max((_utc(v.create_time) for v in versions if v.create_time), default=None) if complete else None
    numbers = [int(v.name.rsplit("/", 1)[-1]) for v in versions if v.name.rsplit("/", 1)[-1].isdigit()]

    policy = gcp.call(client.get_iam_policy, scope=path, service="secretmanager",
                      operation="secretmanager.secrets.getIamPolicy", tables=IAM_TABLES, what=secret_id,
                      request={"resource": s.name, "options": {"requested_policy_version": 3}})
    bindings = bindings_of(policy) if policy is not None else None
    if bindings is not None:
        add_policy(gcp.sink, gcp.store.name, policy_id=f"{record_id}/iam", name=path, kind="gcp_secret_iam",
                   attached_to=record_id, path=path, bindings=bindings, wildcard=False)

    replication, replicas, keys = _replication(s)
    rotation = s.rotation if "rotation" in s else None
    period = rotation.rotation_period if rotation is not None and "rotation_period" in rotation else None
    next_rotation = _utc(rotation.next_rotation_time) if rotation is not None else None
    created = _utc(s.create_time)
    expires = _utc(s.expire_time) if "expire_time" in s else None
    gcp.sink.add(Secret(
        id=record_id, store=gcp.store.name, source="gcp", kind="gcp_secret", path=path, name=secret_id,
        region=location or "global", account=project, arn=s.name,
        created_at=created, updated_at=newest, last_rotated_at=newest,
        current_version=max(numbers) if numbers and complete else None,
        oldest_version=min(numbers) if numbers and complete else None,
        version_count=len(versions) if complete else None,
        enabled_versions=by_state.get("ENABLED", 0) if complete else None,
        versions_by_state=dict(sorted(by_state.items())),
        rotation_enabled=period is not None and bool(s.topics),
        rotation_interval_days=round(period.total_seconds() / 86_400) if period is not None else None,
        rotation_schedule=f"every {round(period.total_seconds() / 86_400)} days" if period is not None else None,
        next_rotation_at=next_rotation,
        rotation_topics=[t.name for t in s.topics],
        expires_at=expires,
        default_ttl=int((expires - created).total_seconds()) if expires and created else None,
        replication=replication, replica_regions=replicas,
        kms_key_ids=keys, kms_key_id=keys[0] if keys else None,
        customer_managed_key=_all_cmek(s, replication, replicas, keys),
        encrypted=True,
        has_resource_policy=bool(bindings) if bindings is not None else None,
        tags=dict(s.labels), custom_metadata=dict(s.annotations),
    ))


def _replication(s: Any) -> tuple[str | None, list[str], list[str]]:
    """(automatic | user_managed | regional, replica locations, CMEK key names)."""
    if "customer_managed_encryption" in s:  # a regional secret carries its key on the secret itself
        return "regional", [], [s.customer_managed_encryption.kms_key_name]
    rep = s.replication
    if "user_managed" in rep:
        replicas = list(rep.user_managed.replicas)
        keys = [r.customer_managed_encryption.kms_key_name for r in replicas
                if "customer_managed_encryption" in r and r.customer_managed_encryption.kms_key_name]
        return "user_managed", sorted(r.location for r in replicas), keys
    if "automatic" in rep:
        auto = rep.automatic
        keys = [auto.customer_managed_encryption.kms_key_name] if (
            "customer_managed_encryption" in auto and auto.customer_managed_encryption.kms_key_name) else []
        return "automatic", [], keys
    return ("regional", [], []) if "/locations/" in s.name else (None, [], [])


def _all_cmek(s: Any, replication: str | None, replicas: list[str], keys: list[str]) -> bool | None:
    """Every copy of the secret is under a customer-managed key (None: replication not reported)."""
    if replication is None:
        return None
    if replication == "user_managed":
        return bool(replicas) and len(keys) == len(replicas)
    return bool(keys)
