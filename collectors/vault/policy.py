"""The assessor's least-privilege ACL policy, generated from the collector's allow-list.

The policy is `collectors.vault.guard.RULES` instantiated per mount, so it
grants exactly what the guard lets the collector ask for, and nothing else:

- no generic ``+/...`` or ``*`` rule: a generic rule once exposed KV v1 values
  stored at names like ``config``; every stanza names its mount;
- KV v1 gets ``list`` only (a v1 read returns the value); KV v2 ``metadata/``
  and OpenBao's ``detailed-metadata/`` scan, never ``data/``;
- ``sudo`` only where the endpoint is root-protected (``sys/audit``,
  ``sys/auth/<m>/tune``, ``auth/token/accessors``);
- ``auth/token/lookup-accessor`` is a POST, hence ``update``; nothing that mints
  credentials (no AppRole ``secret-id``, no ``database/creds``, no ``issue``).

A mount whose name a policy path cannot hold literally (a glob character, a
quote, a dot segment) and a listing entry that is not the expected shape are
not granted; the policy says so in a ``# NOT COVERED`` line. A mount created
after the policy was applied is not covered either: the next collection shows
it as a coverage gap, which is the point.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from collectors.vault.guard import AUTH_KINDS, RULES, logical_path_ok, mount_kinds
from collectors.vault.http import VaultHTTP
from collectors.vault.mounts import (
    LISTING_PATH,
    MalformedListing,
    MountProblem,
    VaultMount,
    parse_listing,
)
from posture.model.errors import ConfigError

_POLICY_SAFE = re.compile(r"[A-Za-z0-9_.@=~-]+(?:/[A-Za-z0-9_.@=~-]+)*")
#: ``--mount`` TYPE -> (engine type, KV version)
SECRET_TYPES = {"kv": ("kv", 2), "kv2": ("kv", 2), "kv1": ("kv", 1), "transit": ("transit", None),
                "pki": ("pki", None), "database": ("database", None)}


def parse_mount_arg(arg: str, *, auth: bool = False) -> VaultMount:
    """``kv:secret``, ``kv1:legacy``, ``transit:transit``, ``pki:pki``, ``database:db``;
    with ``auth``: ``approle:approle``, ``userpass:people`` ..."""
    kind, sep, path = arg.partition(":")
    path = path.strip().strip("/")
    kind = kind.strip().lower()
    if not sep or not path or not kind:
        raise ConfigError(f"mount {arg!r}: expected TYPE:PATH, e.g. kv:secret or kv1:legacy")
    if auth:
        return VaultMount(path, kind, None, auth=True)
    if kind in SECRET_TYPES:
        mtype, version = SECRET_TYPES[kind]
        return VaultMount(path, mtype, version)
    return VaultMount(path, kind)  # any other engine: mount tuning only


def live_mounts(client: VaultHTTP) -> tuple[list[VaultMount], list[MountProblem]]:
    """Mounts and auth methods as the operator's token sees them (guarded reads),
    and the listing entries that cannot be covered."""
    mounts: list[VaultMount] = []
    problems: list[MountProblem] = []
    for auth in (False, True):
        path = LISTING_PATH[auth]
        resp = client.request("GET", path)
        if not resp.ok:
            raise ConfigError(
                f"cannot read {path} with the operator's token (HTTP {resp.status}); "
                "pass the mounts with --mount TYPE:PATH instead"
            )
        try:
            listing = parse_listing(resp.data, auth=auth)
        except MalformedListing as e:
            raise ConfigError(f"{e}; pass the mounts with --mount TYPE:PATH instead") from None
        mounts += listing.mounts
        problems += listing.problems
    return mounts, problems


def _grantable(path: str) -> bool:
    """A mount path a policy stanza can hold literally (no glob, quote or dot segment)."""
    return bool(_POLICY_SAFE.fullmatch(path)) and logical_path_ok(path)


def assessor_policy(mounts: list[VaultMount], *, product: str = "openbao", header: str = "",
                    not_covered: Sequence[MountProblem] = ()) -> str:
    """HCL of the minimal read-only assessor policy for these mounts.

    ``not_covered``: listing entries that could not be used, named in the output.
    """
    stanzas: dict[str, tuple[set[str], list[str]]] = {}

    def grant(path: str, caps: list[str], why: str) -> None:
        have, whys = stanzas.setdefault(path, (set(), []))
        have.update(caps)
        if why not in whys:
            whys.append(why)

    skipped = [m for m in mounts if not _grantable(m.path)]
    kinds_by_mount: list[tuple[VaultMount, list[str]]] = [
        (m, mount_kinds(m.type, m.kv_version, auth=m.auth)) for m in mounts if m not in skipped
    ]
    if not any(m.auth and m.path == "token" for m in mounts):
        kinds_by_mount.append((VaultMount("token", "token", auth=True), ["auth"]))
    for rule in RULES:
        if rule.capability is None or rule.login:
            continue
        if rule.product and rule.product != product:
            continue
        caps = [rule.capability] + (["sudo"] if rule.sudo else [])
        if rule.kind is None:
            grant(rule.pattern, caps, rule.why)
            continue
        is_auth_rule = rule.kind in AUTH_KINDS
        for spec, kinds in kinds_by_mount:
            if spec.auth == is_auth_rule and rule.kind in kinds:
                grant(rule.pattern.replace("{m}", spec.path), caps, f"{rule.why} ({spec.path})")

    order = ["read", "list", "scan", "update", "sudo"]
    lines = [header.rstrip("\n")] if header else []
    for m in skipped:  # a glob character or quote in a mount name would widen or break the rule
        lines.append(f"# NOT COVERED: mount {m.path!r} has characters a policy path cannot hold "
                     "literally; it will be a coverage gap")
    for p in not_covered:
        what = "auth method" if p.auth else "mount"
        lines.append(f"# NOT COVERED: {what} {p.key!r} in {LISTING_PATH[p.auth]}: {p.detail}; "
                     "it will be a coverage gap")
    for path in sorted(stanzas, key=_stanza_order):
        caps, whys = stanzas[path]
        cap_list = ", ".join(f'"{c}"' for c in sorted(caps, key=order.index))
        lines.append(f"# {'; '.join(whys)}")
        lines.append(f'path {json.dumps(path)} {{\n  capabilities = [{cap_list}]\n}}\n')
    return "\n".join(lines).rstrip("\n") + "\n"


def _stanza_order(path: str) -> tuple[int, str]:
    group = 0 if path.startswith("sys/") else 1 if path.startswith(("auth/", "identity/")) else 2
    return group, path


def policy_header(product: str, source: str, name: str = "posture-assessor") -> str:
    cli = "bao" if product == "openbao" else "vault"
    return (
        f"# Secrets Posture Kit: read-only assessor policy for {product} ({source}).\n"
        "# Metadata only: no data/ paths, KV v1 list only, nothing that mints credentials.\n"
        f"# Apply:  {cli} policy write {name} {name}.hcl\n"
        f"# Token:  {cli} token create -policy={name} -no-default-policy -ttl=8h\n"
        "# (no_default_policy: the default policy's templated paths double the server cost per request)\n"
    )
