"""The Vault / OpenBao collector: everything the checks need, read-only, metadata only.

Orchestrates one store's run: connect (`collectors.vault.auth`), the server's
posture, mounts and auth methods (`collectors.vault.mounts`), policies, audit
devices, tokens, identity and auth roles, then each secret engine
(`collectors.vault.engines`), concurrently on one worker pool. Every request
goes through the guard; a failed read is a coverage gap and the walk goes on.
Only a store that cannot be assessed at all (unreachable, sealed, TLS failure,
rejected token) raises `CollectionError`.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from collectors.vault.auth import connect
from collectors.vault.engines import collect_engine
from collectors.vault.guard import shown_path
from collectors.vault.hcl import as_int, as_strings, jsonable, policy_rules
from collectors.vault.mounts import LISTING_PATH, MalformedListing, VaultMount, parse_listing
from collectors.vault.session import Failure, TaskGroup, VaultSession
from posture.model.records import (
    AuditDevice,
    AuthMethod,
    AuthRole,
    Mount,
    Policy,
    Principal,
    Server,
    Token,
)
from posture.model.timeutil import parse_utc

#: Endpoints HashiCorp Vault (Enterprise) has and OpenBao does not: recorded as
#: not applicable, never as gaps.
OPENBAO_NOT_APPLICABLE = (
    "sys/internal/counters/activity",
    "sys/policies/egp",
    "sys/policies/rgp",
    "sys/replication/status",
    "sys/license/status",
)
#: Tables a listing leaves incomplete when it (or one of its entries) cannot be read.
_LISTING_TABLES = {False: ["mount", "secret", "key", "certificate"], True: ["auth_method", "auth_role"]}
#: Auth method type -> the folder its roles are listed in.
_ROLE_FOLDER = {"approle": "role", "userpass": "users", "jwt": "role", "oidc": "role", "kubernetes": "role"}
#: What a mount's or auth method's ``tune`` answer must carry.
_TUNE = ("default_lease_ttl", "max_lease_ttl")


def _token_gone(failure: Failure) -> bool:
    """The lookup says the accessor no longer exists (HTTP 400 "invalid accessor")."""
    r = failure.response
    return r is not None and r.status == 400 and any("invalid accessor" in e for e in r.errors)


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Keep the cyclic GC off the hot path while records pile up.

    Profiling a 10,000-secret walk showed about a third of the client CPU in
    full collections that rescan every object the imports created (pandas,
    pydantic ...). Freezing those and raising the gen-0 threshold for the
    duration of the run removes that; both are restored afterwards.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 50_000), threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class VaultCollector(VaultSession):
    """Collects one Vault/OpenBao store into the snapshot sink."""

    source = "vault"
    version = "1.0.0"

    def run(self) -> None:
        self.http = connect(self.store, env=self.env)
        if self.ctx.progress is not None:
            self._task = self.ctx.progress.add_task(f"vault {self.store.name}", total=0)
        group = TaskGroup(self.store.concurrency)
        try:
            with quiet_gc():
                self.collect_server()
                mounts = self.collect_mounts()
                auths = self.collect_auth_methods()
                self.collect_policies(group)
                self.collect_audit()
                self.collect_tokens(group)
                self.collect_identity(group)
                for auth in auths:
                    self.collect_auth_roles(group, auth)
                for mount, kinds in mounts:
                    collect_engine(self, group, mount, kinds)
                group.wait()
        finally:
            group.close()
            self.http.close()

    # -- server
    def collect_server(self) -> None:
        assert self.http is not None
        health = self.data(self.call("GET", "sys/health", tables=["server"], quiet=True))
        seal = self.data(self.call("GET", "sys/seal-status", tables=["server"], needs=("sealed", "type")))
        self.product = "vault" if ("build_date" in seal or "enterprise" in health) else "openbao"
        self.http.guard.product = self.product
        leader = self.data(self.call("GET", "sys/leader", tables=["server"], quiet=True))
        storage = seal.get("storage_type")
        raft_peers = None
        if storage == "raft":
            raft = self.data(self.call("GET", "sys/storage/raft/configuration", tables=["server"],
                                       needs=("config",)))
            servers = (raft.get("config") or {}).get("servers")
            raft_peers = len(servers) if isinstance(servers, list) else None
        seal_type = seal.get("type")
        shamir = seal_type == "shamir"
        self.sink.add(
            Server(
                id=self.rid("server"),
                store=self.store.name,
                source="vault",
                address=self.http.address,
                product=self.product,
                version=health.get("version") or seal.get("version"),
                initialized=seal.get("initialized", health.get("initialized")),
                sealed=seal.get("sealed", health.get("sealed")),
                seal_type=seal_type,
                seal_threshold=as_int(seal.get("t")) if shamir else None,
                seal_shares=as_int(seal.get("n")) if shamir else None,
                ha_enabled=leader.get("ha_enabled"),
                storage_type=storage,
                raft_peers=raft_peers,
                namespace=self.http.namespace,
                not_applicable=list(OPENBAO_NOT_APPLICABLE) if self.product == "openbao" else [],
            )
        )
        self.progress(advance=1, total=1)

    # -- mounts and auth methods
    def read_listing(self, *, auth: bool) -> list[VaultMount]:
        """The usable entries of ``sys/mounts`` or ``sys/auth``; the rest become gaps.

        Secret mounts outside the engagement's ``mounts`` are left out (and so
        are their problems); auth methods are always assessed.
        """
        path, tables = LISTING_PATH[auth], _LISTING_TABLES[auth]
        resp = self.call("GET", path, tables=tables)
        if resp is None:
            return []
        try:
            listing = parse_listing(resp.data, auth=auth)
        except MalformedListing as e:
            self.gap(f"GET {path}", "malformed", tables, "", str(e))
            return []
        for p in listing.problems:
            if auth or self.wanted(p.key):
                route = f"auth/{p.key.strip('/')}/" if auth else f"{p.key.strip('/')}/"
                self.gap(f"{'auth method' if auth else 'mount'} {p.shown}", p.reason, tables, route, p.detail)
        return [m for m in listing.mounts if auth or self.wanted(m.path)]

    def collect_mounts(self) -> list[tuple[VaultMount, list[str]]]:
        assert self.http is not None
        out: list[tuple[VaultMount, list[str]]] = []
        for mount in self.read_listing(auth=False):
            m = mount.path
            kinds = self.http.guard.register_mount(m, mount.type, mount.kv_version)
            default_ttl, max_ttl = mount.default_lease_ttl, mount.max_lease_ttl
            if "mount" in kinds:
                tune = self.data(self.call("GET", f"sys/mounts/{m}/tune", tables=["mount"], scope=mount.route,
                                           needs=_TUNE))
                default_ttl = as_int(tune.get("default_lease_ttl")) if tune else (default_ttl or None)
                max_ttl = as_int(tune.get("max_lease_ttl")) if tune else (max_ttl or None)
            else:
                default_ttl, max_ttl = default_ttl or None, max_ttl or None
            out.append((mount, kinds))
            self.sink.add(
                Mount(
                    id=self.rid(mount.route),
                    store=self.store.name,
                    source="vault",
                    path=mount.route,
                    type=mount.type,
                    kv_version=mount.kv_version,
                    default_lease_ttl=default_ttl,
                    max_lease_ttl=max_ttl,
                    seal_wrap=mount.seal_wrap,
                    local=mount.local,
                    description=mount.description,
                )
            )
        self.progress(advance=1, total=1)
        return out

    def collect_auth_methods(self) -> list[VaultMount]:
        assert self.http is not None
        out = self.read_listing(auth=True)
        for auth in out:
            m = auth.path
            self.http.guard.register_mount(m, auth.type, auth=True)
            tune = self.data(self.call("GET", f"sys/auth/{m}/tune", tables=["auth_method"], scope=auth.route,
                                       needs=_TUNE))
            default_ttl = as_int(tune.get("default_lease_ttl")) if tune else (auth.default_lease_ttl or None)
            max_ttl = as_int(tune.get("max_lease_ttl")) if tune else (auth.max_lease_ttl or None)
            self.sink.add(
                AuthMethod(
                    id=self.rid(auth.route),
                    store=self.store.name,
                    source="vault",
                    path=auth.route,
                    type=auth.type,
                    default_lease_ttl=default_ttl,
                    max_lease_ttl=max_ttl,
                    description=auth.description,
                )
            )
        self.progress(advance=1, total=1)
        return out

    def collect_auth_roles(self, group: TaskGroup, auth: VaultMount) -> None:
        mount, mtype = auth.path, auth.type
        if mtype == "token":
            self.list_then(group, "auth/token/roles", ["auth_role"], "auth/token/",
                           lambda n: self._auth_role(mount, "token", f"auth/token/roles/{n}", n))
            return
        folder = _ROLE_FOLDER.get(mtype)
        if folder is None:
            return
        base = f"auth/{mount}/{folder}"
        self.list_then(group, base, ["auth_role"], auth.route,
                       lambda n: self._auth_role(mount, mtype, f"{base}/{n}", n))

    def _auth_role(self, mount: str, method: str, path: str, name: str) -> None:
        d = self.data(self.call("GET", path, tables=["auth_role"], scope=f"auth/{mount}/"))
        self.progress(advance=1)
        if not d:
            return
        policies = (as_strings(d.get("token_policies")) or as_strings(d.get("policies"))
                    or as_strings(d.get("allowed_policies")))
        self.sink.add(
            AuthRole(
                id=self.rid(path),
                store=self.store.name,
                source="vault",
                mount=f"auth/{mount}/",
                method=method,
                name=name,
                policies=sorted(set(policies)),
                token_ttl=as_int(d.get("token_ttl", d.get("ttl"))),
                token_max_ttl=as_int(d.get("token_max_ttl", d.get("max_ttl")))
                or as_int(d.get("token_explicit_max_ttl")),
                token_type=d.get("token_type") or None,
                token_bound_cidrs=as_strings(d.get("token_bound_cidrs")),
                secret_id_ttl=as_int(d.get("secret_id_ttl")),
                secret_id_num_uses=as_int(d.get("secret_id_num_uses")),
                secret_id_bound_cidrs=as_strings(d.get("secret_id_bound_cidrs")),
                bind_secret_id=d.get("bind_secret_id"),
                bound_claims=jsonable(d.get("bound_claims") or {}),
                bound_audiences=as_strings(d.get("bound_audiences")),
                bound_subject=d.get("bound_subject") or None,
                bound_service_account_names=as_strings(d.get("bound_service_account_names")),
                bound_service_account_namespaces=as_strings(d.get("bound_service_account_namespaces")),
                orphan=d.get("orphan"),
                renewable=d.get("renewable"),
                period=as_int(d.get("token_period", d.get("period"))),
                token_explicit_max_ttl=as_int(d.get("token_explicit_max_ttl", d.get("explicit_max_ttl"))),
            )
        )

    # -- policies, audit, tokens, identity
    def collect_policies(self, group: TaskGroup) -> None:
        def one(name: str) -> None:
            if name == "root":
                self.progress(advance=1)
                return  # built in, not readable, and by definition everything
            path = f"sys/policies/acl/{name}"
            d = self.data(self.call("GET", path, tables=["policy", "policy_rule"], scope="sys/policies/acl/",
                                    needs=("policy",)))
            self.progress(advance=1)
            if not d:
                return
            text = d.get("policy") or ""
            pid = self.rid(path)
            self.sink.add(Policy(id=pid, store=self.store.name, source="vault", name=name,
                                 kind="vault_acl", document=text))
            try:
                rules = policy_rules(self.store.name, pid, name, text)
            except ValueError as e:
                self.gap(f"parse {path}", "error", ["policy_rule"], "sys/policies/acl/", str(e))
                return
            for r in rules:
                self.sink.add(r)

        self.list_then(group, "sys/policies/acl", ["policy", "policy_rule"], "sys/policies/acl/", one)

    def collect_audit(self) -> None:
        listing = self.data(self.call("GET", "sys/audit", tables=["audit_device"], scope="sys/audit"))
        for path, info in sorted(listing.items()):
            options = info.get("options") if isinstance(info, dict) else None
            if (not isinstance(info, dict) or not isinstance(info.get("type"), str)
                    or not isinstance(options, (dict, type(None)))):
                self.gap(f"audit device {shown_path(path)}", "malformed", ["audit_device"], "sys/audit",
                         "the entry is not an object with a type string and options")
                continue
            opts = {str(k): str(v) for k, v in (options or {}).items()}
            self.sink.add(
                AuditDevice(
                    id=self.rid(f"sys/audit/{path}"),
                    store=self.store.name,
                    source="vault",
                    path=path,
                    type=info["type"],
                    options=opts,
                )
            )
        self.progress(advance=1, total=1)

    def collect_tokens(self, group: TaskGroup) -> None:
        """Every token's metadata: LIST the accessors, look each one up.

        A lookup that fails (denied: the endpoint needs ``update``, an easy
        policy mistake) is a gap on the token table, so the token checks are
        not_assessed rather than "no root token"; only a token that expired or
        was revoked since the LIST is skipped.
        """
        if not self.store.list_tokens:
            self.gap("LIST auth/token/accessors", "excluded", ["token"], "auth/token/",
                     "list_tokens is false in the engagement")
            return

        denied = threading.Event()  # one policy decides every lookup: ask once, not per token

        def one(accessor: str) -> None:
            self.progress(advance=1)
            if denied.is_set():
                return
            got = self.attempt("POST", "auth/token/lookup-accessor", {"accessor": accessor}, needs=("policies",))
            if isinstance(got, Failure):
                if _token_gone(got):
                    return  # expired or revoked between LIST and lookup
                if got.reason == "denied":
                    denied.set()
                self.gap("POST auth/token/lookup-accessor", got.reason, ["token"], "auth/token/", got.detail)
                return
            d = self.data(got)
            policies = sorted(set(as_strings(d.get("policies"))))
            self.sink.add(
                Token(
                    id=self.rid(f"token:{self.ctx.fingerprint(accessor)}"),
                    store=self.store.name,
                    source="vault",
                    accessor_hash=self.ctx.fingerprint(accessor),
                    display_name=d.get("display_name") or None,
                    policies=policies,
                    ttl=as_int(d.get("ttl")),
                    explicit_max_ttl=as_int(d.get("explicit_max_ttl")),
                    # the lookup names a period only for a periodic token: a lookup read without one is 0
                    period=as_int(d.get("period", 0 if d else None)),
                    role=d.get("role") or None,
                    creation_time=parse_utc(d.get("creation_time")),
                    creation_ttl=as_int(d.get("creation_ttl")),
                    expire_time=parse_utc(d.get("expire_time")),
                    orphan=d.get("orphan"),
                    root="root" in policies,
                    renewable=d.get("renewable"),
                    type=d.get("type") or None,
                    path=d.get("path") or None,
                    entity_id=d.get("entity_id") or None,
                )
            )

        def task() -> None:
            accessors = self.keys(self.call("LIST", "auth/token/accessors", tables=["token"], scope="auth/token/"))
            self.progress(advance=1, total=1 + len(accessors))
            for a in accessors:
                group.submit(one, a)

        group.submit(task)

    def collect_identity(self, group: TaskGroup) -> None:
        def one(kind: str, ident: str) -> None:
            path = f"identity/{kind}/id/{ident}"
            d = self.data(self.call("GET", path, tables=["principal"], scope="identity/", needs=("name",)))
            self.progress(advance=1)
            if not d:
                return
            if kind == "entity":
                extra: dict[str, Any] = {
                    "groups": as_strings(d.get("group_ids")),
                    "aliases": [f"{a.get('mount_path', '')}{a.get('name', '')}" for a in d.get("aliases") or []],
                    "disabled": d.get("disabled"),
                }
            else:
                extra = {"members": as_strings(d.get("member_entity_ids")) + as_strings(d.get("member_group_ids"))}
            self.sink.add(Principal(
                id=self.rid(path), store=self.store.name, source="vault",
                name=d.get("name") or ident, kind=f"vault_{kind}",
                created_at=parse_utc(d.get("creation_time")),
                policies=sorted(set(as_strings(d.get("policies")))),
                tags={str(k): str(v) for k, v in (d.get("metadata") or {}).items()},
                **extra,
            ))

        for kind in ("entity", "group"):
            self.list_then(group, f"identity/{kind}/id", ["principal"], "identity/",
                           lambda ident, kind=kind: one(kind, ident))
