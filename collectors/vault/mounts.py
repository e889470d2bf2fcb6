"""The one parser of ``sys/mounts`` and ``sys/auth`` answers, into typed mount entries.

Used by the collector (which registers each mount with the guard and records
it) and by ``posture policy vault`` (which grants the assessor exactly these
mounts). An entry the kit cannot use is returned as a `MountProblem`, never
skipped in silence: the collector records it as a coverage gap, the policy as
a ``# NOT COVERED`` line. An answer that is not a listing at all raises
`MalformedListing` (the caller's gap or one-line error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collectors.vault.guard import RESERVED_PREFIXES, logical_path_ok, shown_path
from collectors.vault.hcl import as_int
from posture.model.vocabulary import GapReason

#: Where each listing is read, by ``auth``.
LISTING_PATH = {False: "sys/mounts", True: "sys/auth"}
#: Keys of Vault's response envelope, beside the mounts when an old server has no ``data``.
_ENVELOPE = frozenset({"request_id", "lease_id", "renewable", "lease_duration", "wrap_info", "warnings",
                       "auth", "mount_type"})


class MalformedListing(ValueError):
    """The answer is not a mount listing at all (an HTML page, a list, a ``data`` string)."""


@dataclass(frozen=True)
class VaultMount:
    """A secret engine or auth method mount: ``path`` without slashes, its type and KV version.

    The lease TTLs are the listing's ``config`` values (0 means "system default";
    the collector reads the effective ones from ``tune``).
    """

    path: str
    type: str
    kv_version: int | None = None
    auth: bool = False
    default_lease_ttl: int | None = None
    max_lease_ttl: int | None = None
    seal_wrap: bool | None = None
    local: bool | None = None
    description: str | None = None

    @property
    def route(self) -> str:
        """The mount's place in Vault's path space: ``secret/`` or ``auth/approle/``."""
        return f"auth/{self.path}/" if self.auth else f"{self.path}/"


@dataclass(frozen=True)
class MountProblem:
    """A listing entry that cannot be used: ``key`` as the server sent it, and why."""

    key: str
    auth: bool
    reason: GapReason
    detail: str

    @property
    def shown(self) -> str:
        """The key as safe to print (a control character is shown escaped)."""
        return shown_path(self.key)


@dataclass(frozen=True)
class MountListing:
    mounts: list[VaultMount]
    problems: list[MountProblem]


def kv_version_of(mount_type: str, options: dict[str, Any] | None) -> int | None:
    """2 or 1 for a KV mount (``options.version``, default 1), None for any other engine."""
    if mount_type not in ("kv", "generic"):
        return None
    return 2 if str((options or {}).get("version", "1")) == "2" else 1


def parse_listing(body: Any, *, auth: bool) -> MountListing:
    """The entries of a ``sys/mounts`` (or, with ``auth``, ``sys/auth``) JSON body, sorted by path.

    Raises `MalformedListing` if ``body`` is not a listing (not JSON, not an
    object, a ``data`` that is not an object).
    """
    if not isinstance(body, dict):
        raise MalformedListing(f"{LISTING_PATH[auth]} answered with something other than a JSON object")
    if "data" in body:
        entries = body["data"]
        if not isinstance(entries, dict):
            raise MalformedListing(f"{LISTING_PATH[auth]}: 'data' is not an object")
    else:
        entries = {k: v for k, v in body.items() if k not in _ENVELOPE}
    mounts: list[VaultMount] = []
    problems: list[MountProblem] = []
    for key in sorted(entries):
        entry = _entry(str(key), entries[key], auth)
        (mounts if isinstance(entry, VaultMount) else problems).append(entry)  # type: ignore[arg-type]
    return MountListing(mounts, problems)


def _entry(key: str, info: Any, auth: bool) -> VaultMount | MountProblem:
    def problem(reason: GapReason, detail: str) -> MountProblem:
        return MountProblem(key, auth, reason, detail)

    if not isinstance(info, dict):
        return problem("malformed", "the entry is not an object")
    mtype = info.get("type")
    if not isinstance(mtype, str) or not mtype:
        return problem("malformed", "the entry has no type string")
    options, config = info.get("options"), info.get("config")
    for name, value in (("options", options), ("config", config)):
        if value is not None and not isinstance(value, dict):
            return problem("malformed", f"'{name}' is not an object")
    config = config or {}
    for name in ("default_lease_ttl", "max_lease_ttl"):
        value = config.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, str))):
            return problem("malformed", f"'config.{name}' is neither a number nor a duration")
    if not isinstance(info.get("description"), (str, type(None))):
        return problem("malformed", "'description' is not a string")
    for name in ("seal_wrap", "local"):
        if not isinstance(info.get(name), (bool, type(None))):
            return problem("malformed", f"'{name}' is not a boolean")
    path = key.strip("/")
    if not logical_path_ok(path):
        return problem("unsupported", "mount path not plain")
    if not auth and path.startswith(RESERVED_PREFIXES):
        return problem("malformed", "a secret mount under a prefix Vault reserves")
    return VaultMount(
        path=path,
        type=mtype,
        kv_version=None if auth else kv_version_of(mtype, options),
        auth=auth,
        default_lease_ttl=as_int(config.get("default_lease_ttl")),
        max_lease_ttl=as_int(config.get("max_lease_ttl")),
        seal_wrap=info.get("seal_wrap"),
        local=info.get("local"),
        description=info.get("description") or None,
    )
