"""The Azure Key Vault collector: one engagement Azure store, every subscription x vault, read-only.

Credentials follow ``DefaultAzureCredential``'s chain (environment, workload
identity, managed identity, Azure CLI, ...); none is read from the engagement.
The credential, both ARM clients and each vault's three data-plane clients
send through `collectors.azure.guard.GuardedTransport`, so every request,
token requests included, is checked against the read-only allow-list before
it leaves the process.

No credential at all, a credential the authority rejects, or a management
endpoint that cannot be reached: `CollectionError` (nothing written). Anything
narrower (a subscription, a vault, a table, one item) is a coverage gap.

``ctx.options`` knobs: ``azure_retry_total`` (4 retries; azure-core honours
``Retry-After`` on 429/503), ``azure_retry_backoff`` (0.8 s, exponential).
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport

from collectors.azure.arm import (
    RoleAssignments,
    add_access_policies,
    add_principals,
    resource_group,
    vault_record,
)
from collectors.azure.calls import AzureCalls, one_line
from collectors.azure.dataplane import VaultReader
from collectors.azure.guard import GuardedTransport, ReadOnlyGuard
from collectors.base import CollectContext, TaskPool
from posture.model.engagement import AzureStore
from posture.model.errors import CollectionError
from posture.model.records import Server

DEFAULT_MANAGEMENT = "https://management.azure.com"
#: Authority hosts MSAL knows; for any other (a private or emulated authority) MSAL's instance
#: discovery would ask the public cloud about it, so it is turned off.
KNOWN_AUTHORITIES = {"login.microsoftonline.com", "login.chinacloudapi.cn", "login.microsoftonline.us",
                     "login.microsoftonline.de"}
KEYVAULT_API_VERSION = "7.5"


def _https(url: str) -> str:
    return (url if "//" in url else f"https://{url}").rstrip("/")


class TenantCredential:
    """The chain's credential, asking for the engagement's tenant when it names one."""

    def __init__(self, inner: Any, tenant_id: str | None) -> None:
        self.inner = inner
        self.tenant_id = tenant_id

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.tenant_id and not kwargs.get("tenant_id"):
            kwargs["tenant_id"] = self.tenant_id
        return self.inner.get_token(*scopes, **kwargs)

    def close(self) -> None:
        self.inner.close()


class AzureCollector:
    """Reads one engagement Azure store: the Key Vaults of its subscriptions."""

    source: ClassVar[str] = "azure"
    #: the SDK packages its clients come from (imported when used; checked before collection starts)
    sdk_modules: ClassVar[tuple[str, ...]] = (
        "azure.identity", "azure.mgmt.authorization", "azure.mgmt.keyvault", "azure.keyvault.certificates",
        "azure.keyvault.keys", "azure.keyvault.secrets")
    version: ClassVar[str] = "1.0.0"

    def __init__(self, store: AzureStore, ctx: CollectContext) -> None:
        self.store = store
        self.ctx = ctx
        self.guard = ReadOnlyGuard()
        self.calls = AzureCalls(store, ctx)
        self.management = _https(store.management_endpoint or DEFAULT_MANAGEMENT)
        self.guard.add_host(self.management, "management")
        self.retry = {"retry_total": int(ctx.options.get("azure_retry_total", 4)),
                      "retry_backoff_factor": float(ctx.options.get("azure_retry_backoff", 0.8))}
        self.rbac = RoleAssignments(self.calls)
        self.vaults: list[tuple[str, Any]] = []

    # --- plumbing ------------------------------------------------------------------------------

    def transport(self) -> GuardedTransport:
        timeout = self.store.timeout
        return GuardedTransport(RequestsTransport(connection_timeout=min(timeout, 10.0), read_timeout=timeout),
                                self.guard)

    def credential(self) -> TenantCredential:
        from azure.identity import DefaultAzureCredential

        quiet = logging.getLogger("azure.identity")
        if quiet.level == logging.NOTSET:  # the chain's multi-line warnings would reach the terminal;
            quiet.setLevel(logging.ERROR)  # a failure is reported once, as a CollectionError
        kwargs: dict[str, Any] = {"transport": self.transport()}
        authority = self.store.authority_host or os.environ.get("AZURE_AUTHORITY_HOST")
        if authority:
            kwargs["authority"] = _https(authority)
            if urlsplit(_https(authority)).hostname not in KNOWN_AUTHORITIES:
                kwargs["disable_instance_discovery"] = True
        if self.store.tenant_id:
            kwargs["additionally_allowed_tenants"] = [self.store.tenant_id]
        return TenantCredential(DefaultAzureCredential(**kwargs), self.store.tenant_id)

    def _arm_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.management, "credential_scopes": [f"{self.management}/.default"],
                "transport": self.transport(), **self.retry}

    def _first_token(self, cred: TenantCredential) -> None:
        """Fail the store in one line when there is no usable credential at all."""
        try:
            cred.get_token(f"{self.management}/.default")
        except ClientAuthenticationError as e:
            raise CollectionError(
                f"azure store {self.store.name}: no usable Azure credential (DefaultAzureCredential: environment, "
                f"workload identity, managed identity, Azure CLI...): {one_line(e)[:200]}") from None
        except ServiceRequestError as e:
            raise CollectionError(f"azure store {self.store.name}: the authority could not be reached ({one_line(e)})"
                                  ) from None

    # --- the run -------------------------------------------------------------------------------

    def run(self) -> None:
        from azure.mgmt.authorization import AuthorizationManagementClient
        from azure.mgmt.keyvault import KeyVaultManagementClient

        cred = self.credential()
        self._first_token(cred)
        self.calls.pool = TaskPool(self.store.concurrency, name="posture-azure")
        for sub in self.store.subscriptions:
            kv = KeyVaultManagementClient(cred, sub, **self._arm_kwargs())
            auth = AuthorizationManagementClient(cred, sub, **self._arm_kwargs())
            self.calls.submit(self._subscription, cred, sub, kv, auth)
        self.calls.pool.drain()
        principals: dict[str, dict[str, Any]] = {}
        for _sub, vault in self.vaults:
            add_access_policies(self.calls, vault, principals)
        self.rbac.emit(principals)
        add_principals(self.calls, principals)

    def _subscription(self, cred: TenantCredential, sub: str, kv: Any, auth: Any) -> None:
        scope = f"/subscriptions/{sub}"
        self.ctx.sink.add(Server(id=f"azure-subscription:{sub}", store=self.store.name, source="azure",
                                 address=scope, product="azure-subscription"))
        vaults, _ = self.calls.pages(kv.vaults.list_by_subscription, scope=scope,
                                     operation="Vaults - List By Subscription",
                                     tables=["cloud_resource", "secret", "key", "certificate", "policy",
                                             "policy_rule", "principal"],
                                     service="keyvault-management", unreachable_is_fatal=True)
        wanted = {v.lower() for v in self.store.vaults or []}
        if wanted:
            vaults = [v for v in vaults if str(v.name).lower() in wanted]
        if vaults:
            self.rbac.list_definitions(auth, sub)
        for v in vaults:
            if getattr(v, "properties", None) is None or not getattr(v.properties, "vault_uri", None):
                got = self.calls.call(lambda v=v: kv.vaults.get(resource_group(v.id), v.name), scope=v.id,
                                      operation="Vaults - Get", tables=["cloud_resource", "secret", "key",
                                                                        "certificate"],
                                      service="keyvault-management", what=v.name)
                if got is None:
                    continue
                v = got
            self.calls.submit(self._vault, cred, sub, v, auth)

    def _vault(self, cred: TenantCredential, sub: str, vault: Any, auth: Any) -> None:
        from azure.keyvault.certificates import CertificateClient
        from azure.keyvault.keys import KeyClient
        from azure.keyvault.secrets import SecretClient

        self.ctx.sink.add(vault_record(self.store.name, sub, vault))
        self.vaults.append((sub, vault))
        url = str(vault.properties.vault_uri)
        self.guard.add_host(url, "data")
        kw = {"api_version": KEYVAULT_API_VERSION, **self.retry}
        clients = {
            "secrets": SecretClient(url, cred, transport=self.transport(), **kw),
            "keys": KeyClient(url, cred, transport=self.transport(), **kw),
            "certificates": CertificateClient(url, cred, transport=self.transport(), **kw),
        }
        reader = VaultReader(self.calls, vault, sub, clients)
        progress = self.ctx.progress
        line = progress.add_task(f"azure {self.store.name} {vault.name}", total=4) if progress is not None else None
        for step in (lambda: self.rbac.list_for_vault(auth, vault.id), reader.read_secrets, reader.read_keys,
                     reader.read_certificates):
            step()
            if line is not None:
                progress.advance(line, 1)  # type: ignore[union-attr]
