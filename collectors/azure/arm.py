"""Azure Resource Manager reads: the vaults, their properties, and who may read their secret values.

Per subscription, ``Vaults - List By Subscription`` gives every vault with its
properties (soft delete, purge protection, permission model, network rules,
private endpoints, access policies): one `CloudResource` (kind
``azure_key_vault``) per vault. The vault is a container that holds no secret
itself, and a `Server` row would make every gap anywhere in the store blank
every vault's verdicts (the engine's store-level rule); the subscription is
the store-level row instead (`Server`, product ``azure-subscription``).

Who may read secret values, recorded as facts, judged by the AZK checks:

- RBAC: ``Role Assignments - List For Scope`` at the vault with
  ``$filter=atScope()`` returns the assignments at the vault and every scope
  above it (resource group, subscription, management groups, root) that the
  credential can see. Each becomes one `PolicyRule` (its id the assignment's,
  ``path`` its scope, ``capabilities`` the role's dataActions,
  ``not_capabilities`` its notDataActions, ``conditions.applies_to`` the vaults
  it was listed for); the role definition is a `Policy`.
- Access policies: each entry of the vault's ``accessPolicies`` is a
  `PolicyRule` with the permissions as ``secrets:get``, ``keys:list``, ...
- Every principal seen is a `Principal` (kind from the assignment's
  principalType; access policies do not say, so ``azure_principal``).

Which of the two models is in force is the vault's ``enableRbacAuthorization``:
the checks read only the rules that count for each vault.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from collectors.azure.calls import AzureCalls
from posture.model.records import CloudResource, Policy, PolicyRule, Principal

RBAC_TABLES = ["policy", "policy_rule", "principal"]
VAULT_TABLES = ["cloud_resource", "policy", "policy_rule", "principal", "secret", "key", "certificate"]

PRINCIPAL_KINDS = {"user": "azure_user", "group": "azure_group", "serviceprincipal": "azure_service_principal",
                   "foreigngroup": "azure_foreign_group", "device": "azure_device"}


def _v(obj: Any, *names: str) -> Any:
    """The first of ``names`` on ``obj`` (the SDK models flatten ``properties`` unevenly)."""
    for n in names:
        cur = obj
        for part in n.split("."):
            cur = getattr(cur, part, None)
            if cur is None:
                break
        if cur is not None:
            return cur
    return None


def _str(v: Any) -> str | None:
    return None if v is None else str(getattr(v, "value", v))


def resource_group(arm_id: str) -> str | None:
    parts = arm_id.split("/")
    low = [p.lower() for p in parts]
    return parts[low.index("resourcegroups") + 1] if "resourcegroups" in low else None


def vault_record(store: str, sub: str, v: Any) -> CloudResource:
    p = v.properties
    acls = _v(p, "network_acls")
    endpoints = []
    for pe in _v(p, "private_endpoint_connections") or []:
        status = _str(_v(pe, "properties.private_link_service_connection_state.status",
                         "private_link_service_connection_state.status"))
        target = _v(pe, "properties.private_endpoint.id", "private_endpoint.id") or _v(pe, "id")
        if target and (status or "Approved").lower() == "approved":
            endpoints.append(str(target))
    return CloudResource(
        id=v.id, store=store, source="azure", kind="azure_key_vault", name=v.name, arn=v.id, account=sub,
        region=v.location,
        # documented defaults of the Vaults API: absent purge protection / RBAC flags mean "off"
        soft_delete=_v(p, "enable_soft_delete"),
        soft_delete_retention_days=_v(p, "soft_delete_retention_in_days"),
        purge_protection=bool(_v(p, "enable_purge_protection")),
        rbac_authorization=bool(_v(p, "enable_rbac_authorization")),
        public_network_access=_str(_v(p, "public_network_access")) or "Enabled",
        network_default_action=_str(_v(acls, "default_action")) if acls is not None else "Allow",
        network_bypass=_str(_v(acls, "bypass")) if acls is not None else None,
        ip_rules=[str(r.value) for r in (_v(acls, "ip_rules") or []) if getattr(r, "value", None)],
        virtual_network_rules=[str(r.id) for r in (_v(acls, "virtual_network_rules") or []) if getattr(r, "id", None)],
        private_endpoints=sorted(endpoints),
    )


def principal_id(store: str, object_id: str) -> str:
    return f"azure:{store}:principal/{object_id.lower()}"


def add_access_policies(calls: AzureCalls, vault: Any, principals: dict[str, dict[str, Any]]) -> None:
    """The vault's access-policy entries as rules of one `Policy` (kind ``azure_access_policy``)."""
    entries = _v(vault.properties, "access_policies") or []
    pid = f"{vault.id}#accessPolicies"
    doc = []
    for e in entries:
        perms = e.permissions
        caps = [f"{kind}:{str(getattr(p, 'value', p)).lower()}"
                for kind, attr in (("secrets", "secrets"), ("keys", "keys_property"),
                                   ("certificates", "certificates"), ("storage", "storage"))
                for p in (getattr(perms, attr, None) or [])]
        oid = str(e.object_id)
        app = getattr(e, "application_id", None)
        rid = f"{vault.id}/accessPolicies/{oid}" + (f"/application/{app}" if app else "")
        doc.append({"objectId": oid, "applicationId": app, "permissions": caps})
        calls.sink.add(PolicyRule(
            id=rid, store=calls.store.name, source="azure", policy_id=pid, policy="access policies",
            path=vault.id, capabilities=caps, principals=[oid],
            conditions={"kind": "access_policy", "applies_to": [vault.id], "tenant_id": str(e.tenant_id),
                        **({"application_id": str(app)} if app else {})},
        ))
        principals.setdefault(oid.lower(), {"kind": "azure_principal", "policies": set()})["policies"].add(pid)
    calls.sink.add(Policy(id=pid, store=calls.store.name, source="azure", name=f"{vault.name} access policies",
                          kind="azure_access_policy", attached_to=vault.id, document=json.dumps(doc, sort_keys=True)))


class RoleAssignments:
    """Role assignments seen from every vault, merged: one rule per assignment, the vaults it covers."""

    def __init__(self, calls: AzureCalls) -> None:
        self.calls = calls
        self._lock = threading.Lock()
        self.assignments: dict[str, dict[str, Any]] = {}
        self.definitions: dict[str, Any] = {}  # role definition guid (lower) -> model, or None (unread)
        self._listed: set[str] = set()

    @staticmethod
    def guid(role_definition_id: str) -> str:
        return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()

    def list_definitions(self, client: Any, sub: str) -> None:
        """``Role Definitions - List`` at the subscription: built-in and custom roles in one paging.

        A failed listing is recorded with no tables: every role an assignment
        names is then fetched by id (`definition`), whose failure is the gap
        that counts.
        """
        scope = f"/subscriptions/{sub}"
        items, _ = self.calls.pages(lambda: client.role_definitions.list(scope), scope=scope,
                                    operation="Role Definitions - List", tables=[], service="authorization",
                                    what="role definitions are fetched one by one instead")
        with self._lock:
            for d in items:
                self.definitions[self.guid(d.id)] = d

    def definition(self, client: Any, role_definition_id: str, scope: str) -> Any:
        g = self.guid(role_definition_id)
        with self._lock:
            if g in self.definitions:
                return self.definitions[g]
        d = self.calls.call(lambda: client.role_definitions.get_by_id(role_definition_id), scope=scope,
                            operation="Role Definitions - Get By Id", tables=RBAC_TABLES, service="authorization",
                            what=role_definition_id)
        with self._lock:
            self.definitions[g] = d
        return d

    def list_for_vault(self, client: Any, vault_id: str) -> None:
        items, _ = self.calls.pages(
            lambda: client.role_assignments.list_for_scope(vault_id, filter="atScope()"), scope=vault_id,
            operation="Role Assignments - List For Scope", tables=RBAC_TABLES, service="authorization")
        for a in items:
            self.definition(client, a.role_definition_id, vault_id)
            with self._lock:
                got = self.assignments.setdefault(a.id, {"assignment": a, "vaults": set()})
                got["vaults"].add(vault_id)

    def emit(self, principals: dict[str, dict[str, Any]]) -> None:
        """Write the role definitions used, one rule per assignment, and note its principal."""
        store = self.calls.store.name
        sink = self.calls.sink
        for aid, got in sorted(self.assignments.items()):
            a = got["assignment"]
            g = self.guid(a.role_definition_id)
            d = self.definitions.get(g)
            pid = f"azure:{store}:roleDefinition/{g}"
            data, not_data, actions = [], [], []
            for perm in (getattr(d, "permissions", None) or []) if d is not None else []:
                data += list(perm.data_actions or [])
                not_data += list(perm.not_data_actions or [])
                actions += list(perm.actions or [])
            if d is not None:
                sink.add(Policy(id=pid, store=store, source="azure", name=d.role_name or g, kind="azure_role_definition",
                                document=json.dumps({"roleName": d.role_name, "roleType": d.role_type,
                                                     "permissions": [p.as_dict() for p in d.permissions or []],
                                                     "assignableScopes": d.assignable_scopes}, sort_keys=True)))
            ptype = str(a.principal_type or "").lower()
            sink.add(PolicyRule(
                id=aid, store=store, source="azure", policy_id=pid, policy=(d.role_name if d is not None else g),
                path=a.scope, capabilities=data, not_capabilities=not_data,
                wildcard=any("*" in x for x in data), wildcard_all="*" in data, principals=[a.principal_id],
                conditions={"kind": "role_assignment", "applies_to": sorted(got["vaults"]),
                            "principal_type": a.principal_type, "role_definition_read": d is not None,
                            "actions": actions, **({"condition": a.condition} if a.condition else {})},
            ))
            entry = principals.setdefault(str(a.principal_id).lower(), {"kind": "azure_principal", "policies": set()})
            entry["kind"] = PRINCIPAL_KINDS.get(ptype, entry["kind"])
            entry["policies"].add(pid)


def add_principals(calls: AzureCalls, principals: dict[str, dict[str, Any]]) -> None:
    for oid, p in sorted(principals.items()):
        calls.sink.add(Principal(id=principal_id(calls.store.name, oid), store=calls.store.name, source="azure",
                                 name=oid, kind=p["kind"], policies=sorted(p["policies"])))
