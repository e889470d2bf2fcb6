"""The assessor's least-privilege ACL policy, generated from the collector's allow-list.

The policy is `collectors.vault_http.RULES` instantiated per mount, so it grants
exactly what the guard lets the collector ask for, and nothing else:

- no generic ``+/...`` or ``*`` rule: a generic rule once exposed KV v1 values
  stored at names like ``config``; every stanza names its mount;
- KV v1 gets ``list`` only (a v1 read returns the value); KV v2 ``metadata/``
  and OpenBao's ``detailed-metadata/`` scan, never ``data/``;
- ``sudo`` only where the endpoint is root-protected (``sys/audit``,
  ``sys/auth/<m>/tune``, ``auth/token/accessors``);
- ``auth/token/lookup-accessor`` is a POST, hence ``update``; nothing that mints
  credentials (no AppRole ``secret-id``, no ``database/creds``, no ``issue``).

A mount created after the policy was applied is not covered: the next
collection shows it as a coverage gap, which is the point.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from collectors.vault_http import AUTH_KINDS, RULES, mount_kinds
from posture.model.errors import ConfigError

_POLICY_SAFE = re.compile(r"[A-Za-z0-9_.@=~-]+(?:/[A-Za-z0-9_.@=~-]+)*")
SECRET_TYPES = {"kv": ("kv", 2), "kv2": ("kv", 2), "kv1": ("kv", 1), "transit": ("transit", None),
                "pki": ("pki", None), "database": ("database", None)}
AUTH_TYPES = ("approle", "userpass", "jwt", "oidc", "kubernetes", "token", "ldap", "cert", "github", "aws")


@dataclass(frozen=True)
class MountSpec:
    """A mount the policy must cover: ``path`` without slashes, its type and KV version."""

    path: str
    type: str
    kv_version: int | None = None
    auth: bool = False


def parse_mount_arg(arg: str, *, auth: bool = False) -> MountSpec:
    """``kv:secret``, ``kv1:legacy``, ``transit:transit``, ``pki:pki``, ``database:db``;
    with ``auth``: ``approle:approle``, ``userpass:people`` ..."""
    kind, sep, path = arg.partition(":")
    path = path.strip().strip("/")
    kind = kind.strip().lower()
    if not sep or not path or not kind:
        raise ConfigError(f"mount {arg!r}: expected TYPE:PATH, e.g. kv:secret or kv1:legacy")
    if auth:
        return MountSpec(path, kind, None, auth=True)
    if kind in SECRET_TYPES:
        mtype, version = SECRET_TYPES[kind]
        return MountSpec(path, mtype, version)
    return MountSpec(path, kind)  # any other engine: mount tuning only


def live_mounts(client: object) -> list[MountSpec]:
    """Mounts and auth methods as the operator's token sees them (guarded reads)."""
    from collectors.vault_http import logical_path_ok

    specs: list[MountSpec] = []
    for path, auth in (("sys/mounts", False), ("sys/auth", True)):
        resp = client.request("GET", path)  # type: ignore[attr-defined]
        if not resp.ok:
            raise ConfigError(
                f"cannot read {path} with the operator's token (HTTP {resp.status}); "
                "pass the mounts with --mount TYPE:PATH instead"
            )
        body = resp.data.get("data", resp.data) if isinstance(resp.data, dict) else {}
        for mpath, info in sorted(body.items()):
            if not isinstance(info, dict) or "type" not in info:
                continue
            m = mpath.strip("/")
            if not logical_path_ok(m):
                continue
            kv = None
            if info["type"] in ("kv", "generic"):
                kv = 2 if str((info.get("options") or {}).get("version", "1")) == "2" else 1
            specs.append(MountSpec(m, info["type"], kv, auth=auth))
    return specs


def assessor_policy(mounts: list[MountSpec], *, product: str = "openbao", header: str = "") -> str:
    """HCL of the minimal read-only assessor policy for these mounts."""
    stanzas: dict[str, tuple[set[str], list[str]]] = {}

    def grant(path: str, caps: list[str], why: str) -> None:
        have, whys = stanzas.setdefault(path, (set(), []))
        have.update(caps)
        if why not in whys:
            whys.append(why)

    skipped = [m for m in mounts if not _POLICY_SAFE.fullmatch(m.path)]
    kinds_by_mount: list[tuple[MountSpec, list[str]]] = [
        (m, mount_kinds(m.type, m.kv_version, auth=m.auth)) for m in mounts if m not in skipped
    ]
    if not any(m.auth and m.path == "token" for m in mounts):
        kinds_by_mount.append((MountSpec("token", "token", auth=True), ["auth"]))
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
