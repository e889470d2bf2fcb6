"""Connecting to a Vault store: reachability, seal state, and the assessor's login.

Follows the VAULT_* conventions (``VAULT_ADDR``, ``VAULT_TOKEN`` or
``~/.vault-token``, ``VAULT_CACERT``, ``VAULT_SKIP_VERIFY``, ``VAULT_NAMESPACE``)
and logs in with a token, AppRole or a JWT. A store that cannot be assessed at
all raises `CollectionError` with one line that never contains a credential.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from collectors.vault.guard import Guard
from collectors.vault.http import TransportError, VaultHTTP, shape_problem
from posture.model.engagement import VaultStore
from posture.model.errors import CollectionError, ConfigError

_TRUE = {"1", "true", "yes", "on"}


def connect(store: VaultStore, *, env: dict[str, str] | None = None, guard: Guard | None = None) -> VaultHTTP:
    """An authenticated client for ``store``, following the VAULT_* conventions.

    Checks reachability, seal and the token; raises `CollectionError` with one
    line (never the token) if the store cannot be assessed, including a server
    whose health and token answers are not Vault's JSON (an SSO page or a
    captive portal answers every request alike: gaps for every read would
    only bury that one fact).
    """
    env = dict(os.environ if env is None else env)
    address = store.address or env.get("VAULT_ADDR")
    if not address:
        raise ConfigError(f"vault store {store.name!r}: no address (set 'address' or VAULT_ADDR)")
    skip = store.skip_verify
    if skip is None:
        skip = env.get("VAULT_SKIP_VERIFY", "").strip().lower() in _TRUE
    client = VaultHTTP(
        address,
        guard=guard or Guard(),
        namespace=store.namespace or env.get("VAULT_NAMESPACE") or None,
        ca_cert=store.ca_cert or env.get("VAULT_CACERT") or None,
        skip_verify=skip,
        timeout=store.timeout,
        retries=store.retries,
        pool_size=store.concurrency,
    )
    where = f"vault store {store.name!r} ({client.address})"
    try:
        _check_server(client, where)
        _authenticate(client, store, env, where)
        who = client.request("GET", "auth/token/lookup-self")
    except TransportError as e:
        client.close()
        raise CollectionError(f"{where}: {e}") from None
    except BaseException:
        client.close()
        raise
    if who.status in (401, 403):
        client.close()
        raise CollectionError(
            f"{where}: token rejected (invalid, expired, or lacking auth/token/lookup-self; "
            "see 'posture policy vault')"
        )
    if not who.ok:
        client.close()
        raise CollectionError(f"{where}: token lookup failed (HTTP {who.status})")
    problem = shape_problem("GET", "auth/token/lookup-self", who)
    if problem:
        client.close()
        raise CollectionError(f"{where}: cannot be assessed: the token lookup is not Vault's answer ({problem})")
    return client


def _check_server(client: VaultHTTP, where: str) -> dict[str, Any]:
    client.retries, retries = min(client.retries, 2), client.retries
    try:
        health = client.request("GET", "sys/health")
    finally:
        client.retries = retries
    problem = shape_problem("GET", "sys/health", health)
    if problem:  # every answer of a server behind an SSO page or portal is such a page
        raise CollectionError(f"{where}: cannot be assessed: sys/health answered HTTP {health.status} "
                              f"and {problem.removeprefix('the answer ')}")
    body = health.data
    if health.status == 501 or body.get("initialized") is False:
        raise CollectionError(f"{where}: server is not initialized")
    if health.status == 503 or body.get("sealed"):
        raise CollectionError(f"{where}: server is sealed")
    if health.status not in (200, 429, 472, 473):
        raise CollectionError(f"{where}: unexpected health status HTTP {health.status}")
    return body


def _authenticate(client: VaultHTTP, store: VaultStore, env: dict[str, str], where: str) -> None:
    auth = store.auth
    if auth.method == "token":
        token = env.get(auth.token_env)
        if not token:
            helper = Path.home() / ".vault-token"
            if auth.token_env == "VAULT_TOKEN" and helper.is_file():
                token = helper.read_text().strip()
        if not token:
            raise CollectionError(f"{where}: no token (set {auth.token_env})")
        client.set_token(token)
    elif auth.method == "approle":
        role_id = auth.role_id or env.get(auth.role_id_env)
        secret_id = env.get(auth.secret_id_env)
        if not role_id or not secret_id:
            raise CollectionError(f"{where}: AppRole login needs {auth.role_id_env} and {auth.secret_id_env}")
        client.login(auth.mount or "approle", {"role_id": role_id, "secret_id": secret_id})
    elif auth.method == "jwt":
        jwt = env.get(auth.jwt_env)
        if not jwt or not auth.role:
            raise CollectionError(f"{where}: JWT login needs auth.role and {auth.jwt_env}")
        client.login(auth.mount or "jwt", {"role": auth.role, "jwt": jwt})
