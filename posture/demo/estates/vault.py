"""The Vault/OpenBao estate of "Acme Payments", seeded through the HTTP API with a root token.

Deterministic names, good and bad items side by side, so every Vault check has
something to pass and something to fail:

- KV v2 ``secret/`` (prod/staging/dev, several versions, owner/env/type custom
  metadata, one unowned orphan) and ``apps/``; KV v1 ``legacy/`` (including the
  names ``config`` and ``keys/signing`` that a generic ``+/...`` rule would expose);
- policies: a ``*`` admin wildcard, a least-privilege prod reader, a CI policy
  spanning every environment, a ``deny`` rule, ``sys/*`` with sudo;
- AppRole ``payments-prod`` (1 h tokens, single-use CIDR-bound secret-ids) and
  ``ci-legacy`` (768 h tokens, unlimited secret-ids, no CIDR); userpass users;
  a JWT role for CI and a Kubernetes role; token roles; a long-TTL token;
- transit keys with and without auto-rotation; a PKI mount with a certificate
  that expires in 3 days; a database role (connection not verified: no real DB);
- identity entities and groups;
- audit traffic: value reads, denied reads, failed userpass logins, token creation.

Secret values are only the canaries passed in; the module imports nothing from tests.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from posture.model.errors import PostureError

#: (mount-relative name, custom metadata, number of versions)
KV2_SECRETS: tuple[tuple[str, dict[str, str], int], ...] = (
    ("prod/payments/db-password", {"owner": "payments-team", "env": "prod", "type": "db-password"}, 3),
    ("prod/payments/stripe-api-key", {"owner": "payments-team", "env": "prod", "type": "api-key"}, 1),
    ("prod/platform/tls-private-key", {"owner": "platform-team", "env": "prod", "type": "tls"}, 2),
    ("prod/orphaned/legacy-batch-token", {}, 1),
    ("staging/payments/db-password", {"owner": "payments-team", "env": "staging", "type": "db-password"}, 2),
    ("staging/payments/stripe-api-key", {"owner": "payments-team", "env": "staging", "type": "api-key"}, 1),
    ("dev/payments/db-password", {"owner": "payments-team", "env": "dev", "type": "db-password"}, 1),
    ("dev/shared/api-key", {}, 4),
)
APPS_SECRETS: tuple[tuple[str, dict[str, str], int], ...] = (
    ("staging/web/session-key", {"owner": "web-team", "env": "staging", "type": "signing-key"}, 1),
    ("dev/web/session-key", {"owner": "web-team", "env": "dev", "type": "signing-key"}, 1),
)
KV1_SECRETS: tuple[str, ...] = ("config", "keys/signing", "prod/app/db-password", "dev/app/api-key")

POLICIES: dict[str, str] = {
    "admin-wildcard": 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n',
    "payments-prod-read": (
        '# least privilege: one team, one environment, read only\n'
        'path "secret/data/prod/payments/*" {\n  capabilities = ["read"]\n}\n'
        'path "secret/metadata/prod/payments/*" {\n  capabilities = ["list"]\n}\n'
    ),
    "ci-deployer": (
        'path "secret/data/+/payments/*" {\n  capabilities = ["read"]\n}\n'
        'path "apps/data/*" {\n  capabilities = ["read", "list"]\n}\n'
        'path "transit/encrypt/payments-card" {\n  capabilities = ["update"]\n}\n'
    ),
    "deny-legacy": 'path "legacy/*" {\n  capabilities = ["deny"]\n}\n',
    "ops-sys": (
        'path "sys/*" {\n  capabilities = ["read", "list", "sudo"]\n}\n'
        'path "auth/token/create" {\n  capabilities = ["create", "update"]\n}\n'
    ),
}

APPROLES: dict[str, dict[str, Any]] = {
    "payments-prod": {
        "token_policies": ["payments-prod-read"],
        "token_ttl": "1h",
        "token_max_ttl": "4h",
        "secret_id_ttl": "10m",
        "secret_id_num_uses": 1,
        "secret_id_bound_cidrs": ["10.20.0.0/16"],
        "token_bound_cidrs": ["10.20.0.0/16"],
    },
    "ci-legacy": {
        "token_policies": ["admin-wildcard"],
        "token_ttl": "768h",
        "token_max_ttl": "8760h",
        "secret_id_ttl": "0",
        "secret_id_num_uses": 0,
    },
}

USERS: dict[str, dict[str, Any]] = {
    "alice": {"token_policies": ["payments-prod-read"], "token_ttl": "8h", "token_max_ttl": "24h"},
    "bob": {"token_policies": ["admin-wildcard"]},
}

TRANSIT_KEYS: dict[str, dict[str, Any]] = {
    "payments-card": {"type": "aes256-gcm96", "auto_rotate_period": "720h", "_rotations": 2},
    "legacy-signing": {"type": "ed25519", "exportable": True, "_deletion_allowed": True, "_rotations": 0},
}


@dataclass
class VaultEstate:
    """What was seeded, for callers that want to drive more traffic or print a summary."""

    address: str
    kv2_mounts: list[str] = field(default_factory=lambda: ["secret", "apps"])
    kv1_mounts: list[str] = field(default_factory=lambda: ["legacy"])
    long_ttl_token_accessor: str = ""
    restricted_policy: str = "payments-prod-read"
    notes: list[str] = field(default_factory=list)


class _Api:
    """A tiny root-token API client for seeding (writes are the point here; not the collector)."""

    def __init__(self, address: str, token: str, namespace: str | None = None) -> None:
        self.address = address.rstrip("/")
        self.session = requests.Session()
        self.session.headers["X-Vault-Token"] = token
        if namespace:
            self.session.headers["X-Vault-Namespace"] = namespace

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             ok: tuple[int, ...] = (200, 204), token: str | None = None) -> dict[str, Any]:
        headers = {"X-Vault-Token": token} if token is not None else None
        r = self.session.request(method, f"{self.address}/v1/{path}", json=body, timeout=30, headers=headers)
        if r.status_code not in ok:
            errors = r.json().get("errors") if r.content else None
            raise PostureError(f"seeding OpenBao: {method} {path} -> HTTP {r.status_code} {errors}")
        return r.json() if r.content else {}

    def mounts(self) -> dict[str, Any]:
        d = self.call("GET", "sys/mounts")
        return d.get("data", d)

    def auths(self) -> dict[str, Any]:
        d = self.call("GET", "sys/auth")
        return d.get("data", d)


def _enable(api: _Api, path: str, body: dict[str, Any]) -> None:
    if f"{path}/" not in api.mounts():
        api.call("POST", f"sys/mounts/{path}", body)


def _enable_auth(api: _Api, path: str, kind: str) -> None:
    if f"{path}/" not in api.auths():
        api.call("POST", f"sys/auth/{path}", {"type": kind})


def _kv2(api: _Api, mount: str, items: Sequence[tuple[str, dict[str, str], int]], value: str) -> None:
    for name, meta, versions in items:
        for v in range(versions):
            api.call("POST", f"{mount}/data/{name}", {"data": {"value": value, "version_note": f"v{v + 1}"}})
        body: dict[str, Any] = {"custom_metadata": meta} if meta else {}
        if name == "prod/payments/db-password":
            body.update(max_versions=5, delete_version_after="2160h")
        if body:
            api.call("POST", f"{mount}/metadata/{name}", body)


def seed_vault_estate(address: str, root_token: str, canaries: Sequence[str],
                      namespace: str | None = None) -> VaultEstate:
    """Seed the Acme Payments estate into a fresh OpenBao. Idempotent enough to re-run.

    ``canaries``: secret values to plant (the first one is used for every value;
    the others too, round-robin, so any of them leaking is caught).
    """
    if not canaries:
        raise ValueError("at least one canary value is required")
    value = canaries[0]
    api = _Api(address, root_token, namespace)
    estate = VaultEstate(address=address)
    if "legacy/" in api.mounts():
        estate.notes.append("already seeded: left as it is")
        estate.long_ttl_token_accessor = _find_accessor(api, "token-legacy-batch-job")
        return estate

    # --- secret engines
    _enable(api, "secret", {"type": "kv", "options": {"version": "2"}})
    _enable(api, "apps", {"type": "kv", "options": {"version": "2"}, "description": "application secrets"})
    _enable(api, "legacy", {"type": "kv", "options": {"version": "1"}, "description": "pre-2020 static secrets"})
    _enable(api, "transit", {"type": "transit"})
    _enable(api, "pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    _enable(api, "database", {"type": "database"})
    _kv2(api, "secret", KV2_SECRETS, value)
    _kv2(api, "apps", APPS_SECRETS, canaries[1 % len(canaries)])
    for i, name in enumerate(KV1_SECRETS):
        api.call("POST", f"legacy/{name}", {"value": canaries[i % len(canaries)]})

    for name, spec in TRANSIT_KEYS.items():
        body = {k: v for k, v in spec.items() if not k.startswith("_")}
        api.call("POST", f"transit/keys/{name}", body)
        for _ in range(spec["_rotations"]):
            api.call("POST", f"transit/keys/{name}/rotate")
        if spec.get("_deletion_allowed"):
            api.call("POST", f"transit/keys/{name}/config", {"deletion_allowed": True})

    api.call("POST", "pki/root/generate/internal", {"common_name": "Acme Root CA", "ttl": "87600h"})
    api.call("POST", "pki/roles/web", {"allowed_domains": "acme.test", "allow_subdomains": True,
                                       "max_ttl": "2160h"})
    api.call("POST", "pki/issue/web", {"common_name": "api.acme.test", "ttl": "72h"})  # expires in 3 days
    api.call("POST", "pki/issue/web", {"common_name": "www.acme.test", "ttl": "2000h"})

    api.call("POST", "database/config/payments-pg", {
        "plugin_name": "postgresql-database-plugin",
        "connection_url": "postgresql://{{username}}:{{password}}@db.acme.internal:5432/payments",
        "username": "vault-admin",
        "password": canaries[2 % len(canaries)],
        "verify_connection": False,
        "allowed_roles": ["payments-readonly", "payments-admin"],
    })
    api.call("POST", "database/roles/payments-readonly", {
        "db_name": "payments-pg", "creation_statements": ["SELECT 1"],
        "default_ttl": "1h", "max_ttl": "24h",
    })
    api.call("POST", "database/roles/payments-admin", {
        "db_name": "payments-pg", "creation_statements": ["SELECT 1"],
        "default_ttl": "720h", "max_ttl": "8760h",
    })

    # --- policies
    for name, text in POLICIES.items():
        api.call("PUT", f"sys/policies/acl/{name}", {"policy": text})

    # --- auth methods and roles
    _enable_auth(api, "approle", "approle")
    for name, body in APPROLES.items():
        api.call("POST", f"auth/approle/role/{name}", body)
    _enable_auth(api, "userpass", "userpass")
    for i, (name, body) in enumerate(USERS.items()):
        api.call("POST", f"auth/userpass/users/{name}", dict(body, password=canaries[(3 + i) % len(canaries)]))
    _enable_auth(api, "jwt", "jwt")
    api.call("POST", "auth/jwt/config", {"jwt_validation_pubkeys": [_public_key_pem()],
                                         "bound_issuer": "https://token.actions.githubusercontent.com"})
    api.call("POST", "auth/jwt/role/github-deploy", {
        "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["https://github.com/acme"],
        "bound_claims": {"repository": "acme/payments-api", "ref": "refs/heads/main"},
        "token_policies": ["ci-deployer"], "token_ttl": "15m", "token_max_ttl": "1h",
    })
    _enable_auth(api, "kubernetes", "kubernetes")
    ca = api.call("GET", "pki/cert/ca")["data"]["certificate"]
    api.call("POST", "auth/kubernetes/config", {"kubernetes_host": "https://k8s.acme.internal:6443",
                                                "kubernetes_ca_cert": ca, "disable_local_ca_jwt": True})
    api.call("POST", "auth/kubernetes/role/payments-api", {
        "bound_service_account_names": ["payments-api"], "bound_service_account_namespaces": ["payments-prod"],
        "token_policies": ["payments-prod-read"], "token_ttl": "1h",
    })
    api.call("POST", "auth/kubernetes/role/any-namespace", {
        "bound_service_account_names": ["*"], "bound_service_account_namespaces": ["*"],
        "token_policies": ["ci-deployer"], "token_ttl": "24h",
    })
    api.call("POST", "auth/token/roles/ci-runner", {
        "allowed_policies": ["ci-deployer"], "orphan": True, "token_period": "24h", "renewable": True,
    })

    # --- identity
    up_accessor = api.auths()["userpass/"]["accessor"]
    ent = api.call("POST", "identity/entity", {"name": "alice", "policies": ["payments-prod-read"],
                                               "metadata": {"team": "payments-team"}})
    alice_id = ent["data"]["id"]
    api.call("POST", "identity/entity-alias", {"name": "alice", "canonical_id": alice_id,
                                               "mount_accessor": up_accessor})
    api.call("POST", "identity/group", {"name": "payments-team", "policies": ["payments-prod-read"],
                                        "member_entity_ids": [alice_id]})
    api.call("POST", "identity/group", {"name": "platform-admins", "policies": ["admin-wildcard"]})

    # --- tokens
    long_tok = api.call("POST", "auth/token/create", {
        "policies": ["admin-wildcard"], "ttl": "768h", "display_name": "legacy-batch-job",
        "no_default_policy": True,
    })["auth"]
    estate.long_ttl_token_accessor = long_tok["accessor"]
    api.call("POST", "auth/token/create-orphan", {"policies": ["ci-deployer"], "period": "24h",
                                                  "display_name": "ci-periodic"})
    short = api.call("POST", "auth/token/create", {"policies": ["payments-prod-read"], "ttl": "1h",
                                                   "display_name": "payments-reader"})["auth"]["client_token"]

    # --- audit traffic: value reads, a denied read, failed logins
    api.call("GET", "secret/data/prod/payments/db-password")
    api.call("GET", "secret/data/prod/payments/db-password", token=short)
    api.call("GET", "secret/data/staging/payments/db-password", token=short, ok=(403,))
    for _ in range(3):
        api.call("POST", "auth/userpass/login/alice", {"password": "wrong-password"}, ok=(400,))
    estate.notes.append("database engine: connection not verified (no real database); roles only")
    return estate


def _find_accessor(api: _Api, display_name: str) -> str:
    """Accessor of the (first) token with this display name, on an already seeded server."""
    keys = api.call("LIST", "auth/token/accessors")["data"]["keys"]
    for accessor in keys:
        info = api.call("POST", "auth/token/lookup-accessor", {"accessor": accessor}, ok=(200, 400, 403))
        if (info.get("data") or {}).get("display_name") == display_name:
            return accessor
    return ""


def _public_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def seed_kv2_bulk(address: str, root_token: str, mount: str, count: int, value: str, *,
                  concurrency: int = 16, fanout: int = 100, progress: Any = None) -> list[str]:
    """Write ``count`` KV v2 secrets under ``mount`` (``team-<i/fanout>/svc-<i>``) concurrently.

    Returns their names. Used by the benchmark; one session per thread keeps it keep-alive.
    """
    api = _Api(address, root_token)
    _enable(api, mount, {"type": "kv", "options": {"version": "2"}})
    names = [f"team-{i // fanout:03d}/svc-{i:05d}" for i in range(count)]
    local = threading.local()

    def put(name: str) -> None:
        sess = getattr(local, "s", None)
        if sess is None:
            sess = local.s = requests.Session()
            sess.headers["X-Vault-Token"] = root_token
        r = sess.post(f"{api.address}/v1/{mount}/data/{name}", json={"data": {"value": value}}, timeout=30)
        if r.status_code not in (200, 204):
            raise PostureError(f"seeding {mount}/{name}: HTTP {r.status_code}")
        if progress is not None:
            progress()

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(put, names))
    return names
