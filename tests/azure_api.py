"""A loopback HTTPS server answering Azure's published REST APIs, for the official SDKs to talk to.

Nothing here is a fake client: the tests drive ``azure-identity``,
``azure-mgmt-keyvault``, ``azure-mgmt-authorization`` and
``azure-keyvault-secrets/-keys/-certificates`` end to end through their real
HTTP transport (requests + TLS); this module plays the services on
127.0.0.1, one port per host (authority, Resource Manager, each vault), with
bodies shaped exactly as Microsoft's REST API reference documents them, so
the SDKs' own models deserialise them:

- Microsoft identity platform: OpenID Connect discovery
  (``/{tenant}/v2.0/.well-known/openid-configuration``) and the client
  credentials token request (``POST /{tenant}/oauth2/v2.0/token``),
  https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
- ARM Key Vault: Vaults - List By Subscription / Get (api-version 2023-07-01 shape),
  https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults
- ARM Authorization: Role Assignments - List For Scope (``$filter=atScope()``),
  Role Definitions - List / Get By Id (2022-04-01),
  https://learn.microsoft.com/rest/api/authorization/
- Key Vault data plane 7.5: GetSecrets, GetSecretVersions, GetSecret, GetKeys,
  GetKeyVersions, GetKey, GetKeyRotationPolicy, GetCertificates,
  GetCertificatePolicy, GetCertificate, https://learn.microsoft.com/rest/api/keyvault/

Key Vault's challenge-based authentication is answered as the service does: a
request without a bearer token gets ``401`` with ``WWW-Authenticate: Bearer
authorization="<authority>/<tenant>", resource="<resource>"``. The SDK checks
that the resource's domain is a parent of the vault's (``vault.azure.net`` for
``NAME.vault.azure.net``); a loopback vault is ``127.0.0.1:PORT``, so the
resource named is ``https://0.0.1:PORT``, its dotted parent, and the SDK's
verification runs unchanged.

The credential is a real flow: ``EnvironmentCredential`` (inside
``DefaultAzureCredential``) with ``AZURE_TENANT_ID/CLIENT_ID/CLIENT_SECRET``
and ``AZURE_AUTHORITY_HOST`` pointing here; MSAL does its discovery and token
request against this server. The access tokens issued, the client secret,
every secret value (GetSecret ``value``), the public key (GetKey ``n``) and the
certificate body (GetCertificate ``cer``) carry canaries, so a test can prove
none reaches any file the kit writes.

Lists are paged (``page_size`` items, ``nextLink`` as full URLs, as the
services do). Faults are injected per host and path: ``fault(host, method,
path_regex, status, body, headers, after=n)``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN_CANARY = "CANARY-3e1f-azure-access-token"
CLIENT_SECRET_CANARY = "CANARY-9d2c-azure-client-secret"
VALUE_CANARY = "CANARY-5a7b-azure-secret-value"
KEY_CANARY = "CANARY-6c8d-azure-key-n"
CER_CANARY = "CANARY-7e9f-azure-cer"
AZURE_CANARIES = (TOKEN_CANARY, CLIENT_SECRET_CANARY, VALUE_CANARY, KEY_CANARY, CER_CANARY)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0a1b2c3d-1111-2222-3333-444455556666"
SUB = "00000000-0000-0000-0000-0000000000a1"

# Built-in role definitions (ids and permissions as Azure publishes them:
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/security)
BUILTIN_ROLES: dict[str, tuple[str, dict[str, list[str]]]] = {
    "4633458b-17de-408a-b874-0445c86b69e6": ("Key Vault Secrets User", {
        "actions": [], "notActions": [],
        "dataActions": ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                        "Microsoft.KeyVault/vaults/secrets/readMetadata/action"], "notDataActions": []}),
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": ("Key Vault Secrets Officer", {
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.KeyVault/checkNameAvailability/read",
                    "Microsoft.KeyVault/deletedVaults/read", "Microsoft.KeyVault/locations/*/read",
                    "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read"],
        "notActions": [], "dataActions": ["Microsoft.KeyVault/vaults/secrets/*"], "notDataActions": []}),
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": ("Key Vault Administrator", {
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.KeyVault/vaults/*/read"], "notActions": [],
        "dataActions": ["Microsoft.KeyVault/vaults/*"], "notDataActions": []}),
    "21090545-7ca7-4776-b22c-e363652d74d2": ("Key Vault Reader", {
        "actions": ["Microsoft.Authorization/*/read", "Microsoft.KeyVault/vaults/*/read"], "notActions": [],
        "dataActions": ["Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
        "notDataActions": []}),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", {
        "actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}),
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", {
        "actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}),
}
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
KV_ADMIN = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
KV_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def epoch(d: dt.datetime) -> int:
    return int(d.timestamp())


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost (the CA bundle the client trusts) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "azure-loopback")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = workdir / "loopback.pem", workdir / "loopback.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


# --- the estate the services hold -----------------------------------------------------------------


@dataclass
class Item:
    """A secret, key or certificate: attributes as the data plane returns them."""

    name: str
    enabled: bool = True
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    expires: dt.datetime | None = None
    not_before: dt.datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    versions: int = 1
    managed: bool = False
    rotation: list[dict[str, Any]] | None = None  # key: lifetimeActions; None = no policy (404)
    expiry_time: str | None = None  # key rotation policy attributes.expiryTime
    issuer: str = "Self"  # certificate policy issuer name
    auto_renew: bool = True
    subject: str = "CN=api.contoso.test"
    sans: list[str] = field(default_factory=list)


@dataclass
class VaultSpec:
    name: str
    resource_group: str = "rg-secrets"
    location: str = "westeurope"
    soft_delete: bool | None = True
    purge_protection: bool | None = True
    rbac: bool | None = True
    public_network_access: str | None = "Disabled"
    default_action: str | None = "Deny"
    ip_rules: list[str] = field(default_factory=list)
    private_endpoints: int = 1
    access_policies: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[Item] = field(default_factory=list)
    keys: list[Item] = field(default_factory=list)
    certificates: list[Item] = field(default_factory=list)

    def arm_id(self, sub: str = SUB) -> str:
        return f"/subscriptions/{sub}/resourceGroups/{self.resource_group}/providers/Microsoft.KeyVault/vaults/{self.name}"


@dataclass
class Assignment:
    """A role assignment: ``scope`` is where it is made (vault, resource group, subscription, management group)."""

    scope: str
    role: str  # role definition guid
    principal: str
    principal_type: str = "ServicePrincipal"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Fault:
    host: str  # "identity", "management", or a vault name
    method: str
    path: str
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0  # let this many matching requests through first
    seen: int = 0


# --- the server ---------------------------------------------------------------------------------


class AzureLoopback:
    """Authority + Resource Manager + one Key Vault per vault, each on its own loopback HTTPS port."""

    def __init__(self, workdir: Path, vaults: list[VaultSpec], assignments: list[Assignment] | None = None,
                 custom_roles: dict[str, tuple[str, dict[str, list[str]]]] | None = None,
                 page_size: int = 2, subscription: str = SUB) -> None:
        self.workdir = workdir
        self.vaults = {v.name: v for v in vaults}
        self.assignments = list(assignments or [])
        self.roles = {**BUILTIN_ROLES, **(custom_roles or {})}
        self.page_size = page_size
        self.sub = subscription
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, str]] = []  # (host, method, path)
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self.cert, self.key = self_signed(workdir)

    # lifecycle
    def start(self) -> AzureLoopback:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        for host in ["identity", "management", *self.vaults]:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, host))
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers[host] = server
        return self

    def stop(self) -> None:
        for s in self._servers.values():
            s.shutdown()
            s.server_close()

    def url(self, host: str) -> str:
        return f"https://127.0.0.1:{self._servers[host].server_address[1]}"

    @property
    def authority(self) -> str:
        return self.url("identity")

    @property
    def management(self) -> str:
        return self.url("management")

    def fault(self, host: str, method: str, path: str, status: int, body: Any = None,
              headers: dict[str, str] | None = None, after: int = 0) -> None:
        self.faults.append(Fault(host, method, path, status, body, headers or {}, after))

    def env(self) -> dict[str, str]:
        """What EnvironmentCredential reads, and the CA bundle requests trusts."""
        return {"AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_ID": CLIENT_ID, "AZURE_CLIENT_SECRET": CLIENT_SECRET_CANARY,
                "AZURE_AUTHORITY_HOST": self.authority, "REQUESTS_CA_BUNDLE": str(self.cert),
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def count(self, host: str | None = None) -> int:
        with self._lock:
            return sum(1 for h, _, _ in self.requests if host is None or h == host)

    # routing
    def handle(self, host: str, method: str, raw_path: str, headers: Any, body: bytes) -> tuple[int, Any, dict[str, str]]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            self.requests.append((host, method, path))
        if host == "identity":
            return self._identity(method, path, body)
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or TOKEN_CANARY not in auth:
            if host == "management":
                return 401, {"error": {"code": "AuthenticationFailed", "message": "Authentication failed."}}, {}
            port = self._servers[host].server_address[1]
            return 401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP "
                                   "token."}}, {"WWW-Authenticate": f'Bearer authorization="{self.authority}/{TENANT}", '
                                                                    f'resource="https://0.0.1:{port}"'}
        with self._lock:  # faults answer authenticated requests, as a real service would
            for f in self.faults:
                if f.host == host and f.method == method and re.search(f.path, path + ("?" + parts.query if parts.query else "")):
                    f.seen += 1
                    if f.seen > f.after:
                        return f.status, f.body, dict(f.headers)
        if host == "management":
            return self._arm(method, path, query)
        return self._vault(self.vaults[host], method, path, query)

    def _identity(self, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        base = f"{self.authority}/{TENANT}"
        if method == "GET" and path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            return 200, {"token_endpoint": f"{base}/oauth2/v2.0/token", "authorization_endpoint":
                         f"{base}/oauth2/v2.0/authorize", "issuer": f"{base}/v2.0",
                         "jwks_uri": f"{base}/discovery/v2.0/keys", "response_types_supported": ["code", "id_token"],
                         "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
                         "tenant_region_scope": "EU", "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode"}, {}
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/token":
            form = parse_qs(body.decode())
            if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [CLIENT_SECRET_CANARY]:
                return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret "
                             "provided.", "error_codes": [7000215]}, {}
            with self._lock:
                self.tokens_issued += 1
                n = self.tokens_issued
            return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                         "access_token": f"eyJ0eXAi.{TOKEN_CANARY}-{n}.sig"}, {}
        return 404, {"error": "not_found"}, {}

    # ARM
    def _vault_json(self, v: VaultSpec) -> dict[str, Any]:
        props: dict[str, Any] = {
            "sku": {"family": "A", "name": "standard"}, "tenantId": TENANT,
            "accessPolicies": v.access_policies, "enabledForDeployment": False,
            "enabledForDiskEncryption": False, "enabledForTemplateDeployment": False,
            "softDeleteRetentionInDays": 90, "vaultUri": self.url(v.name) + "/", "provisioningState": "Succeeded",
            "privateEndpointConnections": [
                {"id": f"{v.arm_id(self.sub)}/privateEndpointConnections/pe{i}", "etag": "",
                 "properties": {"privateEndpoint": {"id": f"/subscriptions/{self.sub}/resourceGroups/{v.resource_group}"
                                                          f"/providers/Microsoft.Network/privateEndpoints/pe{i}"},
                                "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
                                "provisioningState": "Succeeded"}} for i in range(v.private_endpoints)],
        }
        for key, val in (("enableSoftDelete", v.soft_delete), ("enablePurgeProtection", v.purge_protection),
                         ("enableRbacAuthorization", v.rbac), ("publicNetworkAccess", v.public_network_access)):
            if val is not None:
                props[key] = val
        if v.default_action is not None:
            props["networkAcls"] = {"bypass": "AzureServices", "defaultAction": v.default_action,
                                    "ipRules": [{"value": r} for r in v.ip_rules], "virtualNetworkRules": []}
        return {"id": v.arm_id(self.sub), "name": v.name, "type": "Microsoft.KeyVault/vaults",
                "location": v.location, "tags": {}, "properties": props,
                "systemData": {"createdBy": "ops@contoso.test", "createdByType": "User",
                               "createdAt": "2025-01-10T08:00:00Z"}}

    def _role_json(self, guid: str, scope: str) -> dict[str, Any]:
        name, perms = self.roles[guid]
        return {"id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
                "type": "Microsoft.Authorization/roleDefinitions", "name": guid,
                "properties": {"roleName": name, "type": "BuiltInRole" if guid in BUILTIN_ROLES else "CustomRole",
                               "description": name, "assignableScopes": ["/"], "permissions": [perms],
                               "createdOn": "2020-01-01T00:00:00Z", "updatedOn": "2024-01-01T00:00:00Z",
                               "createdBy": None, "updatedBy": None}}

    def _arm(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        if method != "GET":
            return 405, {"error": {"code": "MethodNotAllowed", "message": "not served"}}, {}
        low = path.lower()
        sub = f"/subscriptions/{self.sub}".lower()
        if low == f"{sub}/providers/microsoft.keyvault/vaults":
            return self._page([self._vault_json(v) for v in self.vaults.values()], self.management + path, query)
        for v in self.vaults.values():
            if low == v.arm_id(self.sub).lower():
                return 200, self._vault_json(v), {}
        if low.endswith("/providers/microsoft.authorization/roleassignments"):
            scope = path[: -len("/providers/Microsoft.Authorization/roleAssignments")]
            assert query.get("$filter") == ["atScope()"], query
            out = []
            for a in self.assignments:
                above = scope.lower().startswith(a.scope.lower().rstrip("/") + "/") or scope.lower() == a.scope.lower()
                if above or a.scope.lower().startswith("/providers/microsoft.management/") or a.scope == "/":
                    out.append({"id": f"{a.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{a.id}",
                                "type": "Microsoft.Authorization/roleAssignments", "name": a.id,
                                "properties": {"roleDefinitionId": f"/subscriptions/{self.sub}/providers/Microsoft."
                                               f"Authorization/roleDefinitions/{a.role}", "principalId": a.principal,
                                               "principalType": a.principal_type, "scope": a.scope, "condition": None,
                                               "conditionVersion": None, "createdOn": "2025-02-01T00:00:00Z",
                                               "updatedOn": "2025-02-01T00:00:00Z", "createdBy": None,
                                               "updatedBy": None, "delegatedManagedIdentityResourceId": None,
                                               "description": None}})
            return self._page(out, self.management + path, query)
        if low == f"{sub}/providers/microsoft.authorization/roledefinitions":
            return self._page([self._role_json(g, f"/subscriptions/{self.sub}") for g in self.roles
                               if g in BUILTIN_ROLES], self.management + path, query)
        m = re.fullmatch(r"(.*)/providers/microsoft\.authorization/roledefinitions/([0-9a-f-]+)", low)
        if m and m.group(2) in self.roles:
            return 200, self._role_json(m.group(2), path[: len(m.group(1))]), {}
        return 404, {"error": {"code": "ResourceNotFound", "message": f"{path} not found"}}, {}

    def _page(self, items: list[Any], url: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        start = int((query.get("$skiptoken") or ["0"])[0])
        chunk = items[start:start + self.page_size]
        body: dict[str, Any] = {"value": chunk}
        if start + self.page_size < len(items):
            keep = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
            body["nextLink"] = f"{url}?{urlencode({**keep, '$skiptoken': start + self.page_size}, safe='$()')}"
        else:
            body["nextLink"] = None
        return 200, body, {}

    # Key Vault data plane
    def _attrs(self, i: Item, when: dt.datetime | None = None) -> dict[str, Any]:
        a: dict[str, Any] = {"enabled": i.enabled, "created": epoch(when or i.created or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
                             "updated": epoch(i.updated or when or i.created or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
                             "recoveryLevel": "Recoverable", "recoverableDays": 90}
        if i.expires:
            a["exp"] = epoch(i.expires)
        if i.not_before:
            a["nbf"] = epoch(i.not_before)
        return a

    @staticmethod
    def _version_times(i: Item) -> list[dt.datetime]:
        """Creation time of each version, oldest first; the last is the current one (``i.created``)."""
        cur = i.created or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        return [cur - dt.timedelta(days=30 * (i.versions - 1 - n)) for n in range(i.versions)]

    def _vault(self, v: VaultSpec, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        base = self.url(v.name)
        segs = [s for s in path.split("/") if s]
        if method != "GET" or not segs:
            return 405, {"error": {"code": "BadParameter", "message": "not served"}}, {}
        kind, rest = segs[0], segs[1:]
        items = {"secrets": v.secrets, "keys": v.keys, "certificates": v.certificates}.get(kind)
        if items is None:
            return 404, {"error": {"code": "NotFound"}}, {}
        if not rest:  # GetSecrets / GetKeys / GetCertificates
            out = []
            for i in items:
                if kind == "secrets":
                    row = {"id": f"{base}/secrets/{i.name}", "attributes": self._attrs(i), "tags": i.tags}
                    if i.content_type:
                        row["contentType"] = i.content_type
                    if i.managed:
                        row["managed"] = True
                elif kind == "keys":
                    row = {"kid": f"{base}/keys/{i.name}", "attributes": self._attrs(i), "tags": i.tags}
                    if i.managed:
                        row["managed"] = True
                else:
                    row = {"id": f"{base}/certificates/{i.name}", "x5t": "fLi3U52HunIVNXubkEnf8tP6Wbo",
                           "attributes": self._attrs(i), "tags": i.tags}
                out.append(row)
            return self._page(out, base + path, query)
        item = next((i for i in items if i.name == rest[0]), None)
        if item is None:
            return 404, {"error": {"code": f"{kind[:-1].capitalize()}NotFound", "message": "not found"}}, {}
        sub = rest[1] if len(rest) > 1 else None
        if sub == "versions":
            times = self._version_times(item)
            ids = [f"{base}/{kind}/{item.name}/{uuid.UUID(int=n + 1).hex}" for n in range(item.versions)]
            key = "kid" if kind == "keys" else "id"
            return self._page([{key: vid, "attributes": self._attrs(item, t)} for vid, t in zip(ids, times)],
                              base + path, query)
        if kind == "keys" and sub == "rotationpolicy":
            if item.rotation is None:
                return 404, {"error": {"code": "KeyRotationPolicyNotFound", "message": "no policy"}}, {}
            attrs: dict[str, Any] = {"created": 1735689600, "updated": 1735689600}
            if item.expiry_time:
                attrs["expiryTime"] = item.expiry_time
            return 200, {"id": f"{base}/keys/{item.name}/rotationpolicy", "lifetimeActions": item.rotation,
                         "attributes": attrs}, {}
        if kind == "certificates" and sub == "policy":
            actions = [{"trigger": {"lifetime_percentage": 80},
                        "action": {"action_type": "AutoRenew" if item.auto_renew else "EmailContacts"}}]
            return 200, {"id": f"{base}/certificates/{item.name}/policy",
                         "key_props": {"exportable": True, "kty": "RSA", "key_size": 2048, "reuse_key": False},
                         "secret_props": {"contentType": "application/x-pkcs12"},
                         "x509_props": {"subject": item.subject, "sans": {"dns_names": item.sans},
                                        "ekus": ["1.3.6.1.5.5.7.3.1"],
                                        "key_usage": ["digitalSignature", "keyEncipherment"], "validity_months": 12},
                         "lifetime_actions": actions, "issuer": {"name": item.issuer},
                         "attributes": {"enabled": True, "created": 1735689600, "updated": 1735689600}}, {}
        # value-returning operations: answered as the service would, with canaries
        if kind == "secrets":
            return 200, {"value": VALUE_CANARY, "id": f"{base}/secrets/{item.name}/{sub or 'current'}",
                         "attributes": self._attrs(item)}, {}
        if kind == "keys":
            return 200, {"key": {"kid": f"{base}/keys/{item.name}", "kty": "RSA", "key_ops": ["sign"],
                                 "n": KEY_CANARY, "e": "AQAB"}, "attributes": self._attrs(item)}, {}
        return 200, {"id": f"{base}/certificates/{item.name}", "cer": CER_CANARY, "attributes": self._attrs(item)}, {}


def _handler(api: AzureLoopback, host: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload, headers = api.handle(host, self.command, self.path, self.headers, body)
            if isinstance(payload, (bytes, str)):
                data = payload.encode() if isinstance(payload, str) else payload
                ctype = headers.pop("Content-Type", "text/html")
            else:
                data = json.dumps(payload).encode() if payload is not None else b""
                ctype = "application/json; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler
