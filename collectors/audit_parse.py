"""Streaming parsers for audit logs, feeding one bounded-memory `Accumulator`.

Two inputs, one normal form:

- **Vault/OpenBao file audit device** (JSON lines, optionally gzip). Each
  request produces a ``request`` entry and a ``response`` entry; the response
  repeats the request and adds the outcome, so only responses are analysed.
  Request entries are recognised by their prefix and skipped without parsing
  (half the lines, the main reason the parser keeps up with a bare JSON loop).
  HMAC'd fields (tokens, accessors, values) are kept exactly as HMAC'd;
  nothing is ever unhashed, and no request/response *data* value is kept.
  A device with ``log_raw = true`` logs credentials in clear: every
  credential the parser reads (client tokens, accessors, tokens and accessors
  in request bodies, issued accessors) goes through `Accumulator.keyed` the
  moment it is read, so only the engagement's keyed fingerprint is kept;
  bodies (passwords, secret ids, wrapped tokens, response data) are never
  read at all beyond the KV version numbers.
- **AWS CloudTrail** log files (``{"Records": [...]}``, gzip or plain) or JSON
  lines of single events (CloudTrail Lake / ``lookup-events`` exports).

The accumulator keeps measures only (counts per identity x path x operation
x source x day, human requests and login attempts per hour, tokens issued per
day with their TTL, a few rare-event lists capped at `MAX_EVENTS`), so memory
grows with the number of distinct identities and paths, not with the size of
the log. Nothing here applies a threshold: the AUD checks judge at assess time.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from posture.model.vocabulary import HUMAN_AUTH_METHODS

# Rare-event lists (changes, rotations, revocations) stop growing here.
MAX_EVENTS = 20_000
# Accessors kept per token_issue row (the rest are counted only).
MAX_ACCESSORS = 20
#: How Vault marks a value its audit device has HMAC'd.
VAULT_HMAC_PREFIX = "hmac-sha256:"

KNOWN_VAULT_METHODS = frozenset(
    {
        "userpass", "oidc", "jwt", "ldap", "okta", "github", "radius", "approle",
        "kubernetes", "aws", "gcp", "azure", "cert", "token", "cf", "kerberos",
    }
)

_LOGIN_RE = re.compile(r"^auth/(?P<mount>.+?)/login(?:/(?P<user>[^/]+))?$")
_POLICY_RE = re.compile(r"^sys/(?:policy|policies/(?:acl|rgp|egp|password))/(?P<name>.+)$")
_AUTH_CFG_RE = re.compile(
    r"^(?:sys/auth/.+|sys/mounts/auth/.+|auth/(?P<mount>.+?)/(?:role|roles|users|groups|config|certs|map)(?:/.*)?)$"
)
_AUDIT_RE = re.compile(r"^sys/audit/.+$")
_MOUNT_RE = re.compile(r"^sys/mounts/(?!auth/).+$")
_ROTATE_RE = re.compile(r"(?:/rotate-root$|/rotate-role/|/keys/[^/]+/rotate$|/rotate$)")
_WRITE_OPS = frozenset({"create", "update", "delete", "patch"})


def open_maybe_gzip(path: str, raw: BinaryIO | None = None) -> BinaryIO:
    """A binary stream of the file, transparently gunzipped (by magic, not name)."""
    f = raw if raw is not None else open(path, "rb")
    head = f.peek(2)[:2] if hasattr(f, "peek") else b""
    if not head and not hasattr(f, "peek"):
        f = io.BufferedReader(f)  # type: ignore[arg-type]
        head = f.peek(2)[:2]
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


@dataclass
class Accumulator:
    """Aggregates from one store's audit logs. Keys are plain tuples of str.

    ``access``: (principal, method, path, operation, remote, day) -> [count,
    errors, denied, first_ts, last_ts]; timestamps are ``YYYY-MM-DDTHH:MM:SS``
    strings in UTC (sub-second precision is dropped on purpose). ``tokens``:
    (principal, remote, path, display_name, ttl, non_expiring, policies, day)
    -> [count, first_ts, last_ts, accessors].

    ``fingerprint`` is the engagement's keyed HMAC: `keyed` applies it to a
    credential a raw (``log_raw``) log holds in clear.
    """

    fingerprint: Callable[[str], str]
    access: dict[tuple, list] = field(default_factory=dict)
    human_hours: dict[tuple, int] = field(default_factory=dict)
    logins: dict[tuple, list] = field(default_factory=dict)
    root_use: dict[tuple, list] = field(default_factory=dict)
    usage: dict[tuple, int] = field(default_factory=dict)
    versions: dict[str, tuple[int, str]] = field(default_factory=dict)
    stale: dict[tuple, list] = field(default_factory=dict)
    version_reads: dict[tuple, list] = field(default_factory=dict)
    tokens: dict[tuple, list] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    rotations: list[dict[str, Any]] = field(default_factory=list)
    revocations: list[dict[str, Any]] = field(default_factory=list)
    accessor_method: dict[str, str] = field(default_factory=dict)
    kv_mounts: set[str] = field(default_factory=set)
    # credential -> last time presented; credential -> alias (accessor <-> token hmac)
    last_seen: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    revoked: dict[str, dict[str, Any]] = field(default_factory=dict)
    dropped: int = 0
    unhashed: int = 0

    # -- shared helpers -------------------------------------------------------

    def keyed(self, value: Any) -> str | None:
        """A credential as it may be kept: Vault's HMAC as logged, else the engagement's.

        A value without Vault's ``hmac-sha256:`` prefix came from a raw log (or
        a crafted one); it is fingerprinted here, on read, and counted in
        ``unhashed``. Empty values are None.
        """
        if not value:
            return None
        if value.__class__ is str and value.startswith(VAULT_HMAC_PREFIX):
            return value
        self.unhashed += 1
        return self.fingerprint(str(value))

    def add_token(
        self, principal: str, remote: str, path: str, display_name: str | None, ttl: int | None,
        non_expiring: bool, policies: Iterable[str], ts: str, accessor: str | None,
    ) -> None:
        """One credential issued (its TTL measured, not judged)."""
        key = (principal, remote, path, display_name, ttl, non_expiring, tuple(policies), ts[:10])
        row = self.tokens.get(key)
        if row is None:
            self.tokens[key] = row = [0, ts, ts, []]
        row[0] += 1
        row[1], row[2] = min(row[1], ts), max(row[2], ts)
        if accessor and len(row[3]) < MAX_ACCESSORS:
            row[3].append(accessor)

    def _note(self, target: list, item: dict[str, Any]) -> None:
        if len(target) < MAX_EVENTS:
            target.append(item)
        else:
            self.dropped += 1

    def add_access(
        self, principal: str, method: str, path: str, op: str, remote: str, ts: str,
        error: bool, denied: bool,
    ) -> None:
        key = (principal, method, path, op, remote, ts[:10])
        row = self.access.get(key)
        if row is None:
            self.access[key] = [1, int(error), int(denied), ts, ts]
        else:
            row[0] += 1
            if error:
                row[1] += 1
            if denied:
                row[2] += 1
            if ts < row[3]:
                row[3] = ts
            elif ts > row[4]:
                row[4] = ts
        if method in HUMAN_AUTH_METHODS and not error:  # only granted requests are human reads
            hkey = (principal, method, path, op, remote, ts[:13])
            self.human_hours[hkey] = self.human_hours.get(hkey, 0) + 1

    def add_login(self, remote: str, mount: str, user: str, ts: str, failed: bool) -> None:
        key = (remote, mount, user, ts[:13])
        row = self.logins.get(key)
        if row is None:
            self.logins[key] = [0 if failed else 1, 1 if failed else 0]
        else:
            row[1 if failed else 0] += 1

    def add_root(self, principal: str, remote: str, path: str, ts: str) -> None:
        key = (principal, remote, ts[:10])
        row = self.root_use.get(key)
        if row is None:
            self.root_use[key] = [1, ts, ts, {path}]
        else:
            row[0] += 1
            row[2] = max(row[2], ts)
            row[1] = min(row[1], ts)
            if len(row[3]) < 20:
                row[3].add(path)

    def add_version_read(self, principal: str, path: str, version: int, ts: str, remote: str) -> None:
        """A KV v2 version read: kept per (principal, path, version) for the assess-time comparison
        with the KV metadata's current version, and judged stale here against newer versions
        the log itself shows."""
        vkey = (principal, path, version)
        seen = self.version_reads.get(vkey)
        if seen is None:
            self.version_reads[vkey] = [1, ts, ts, remote]
        else:
            seen[0] += 1
            seen[2] = ts
        latest = self.versions.get(path)
        if latest is None or version > latest[0]:
            self.versions[path] = (version, ts)
            return
        if version < latest[0]:
            key = (principal, path)
            row = self.stale.get(key)
            if row is None:
                self.stale[key] = [1, ts, ts, version, latest[0], latest[1], remote]
            else:
                row[0] += 1
                row[2] = ts
                row[3] = min(row[3], version)
                row[4] = latest[0]

    def add_version_write(self, path: str, version: int, ts: str, principal: str) -> None:
        prev = self.versions.get(path)
        if prev is None or version >= prev[0]:
            self.versions[path] = (version, ts)
        if version > 1:
            self._note(self.rotations, {"at": ts, "path": path, "principal": principal, "version": version})

    def seen_credential(self, cred: str, ts: str, ok: bool) -> None:
        prev = self.last_seen.get(cred)
        if prev is None or ts > prev:
            self.last_seen[cred] = ts
        rev = self.revoked.get(cred)
        # Log order is time order: a presentation logged after the revocation
        # (even within the same second) came after it.
        if rev is not None and ts >= rev["at"]:
            rev["attempts_after"] += 1
            rev["last_attempt_at"] = max(rev["last_attempt_at"] or ts, ts)
            if ok:
                rev["successes_after"] += 1
                rev["last_success_after_at"] = ts

    def revoke(self, cred: str, kind: str, ts: str, principal: str, remote: str) -> None:
        last_before = self.last_seen.get(cred)
        alias = self.aliases.get(cred)
        if alias is not None:
            other = self.last_seen.get(alias)
            if other is not None and (last_before is None or other > last_before):
                last_before = other
        rec = {
            "at": ts, "credential": cred, "kind": kind, "principal": principal, "remote": remote,
            "last_use_before_at": last_before, "attempts_after": 0, "last_attempt_at": None,
            "successes_after": 0, "last_success_after_at": None,
        }
        if len(self.revocations) < MAX_EVENTS:
            self.revocations.append(rec)
            self.revoked[cred] = rec
            if alias is not None:
                self.revoked[alias] = rec
        else:
            self.dropped += 1


@dataclass
class FileStats:
    """What one input file contained."""

    lines: int = 0
    malformed: int = 0
    events: int = 0
    skipped: int = 0
    bytes: int = 0
    first_at: str | None = None
    last_at: str | None = None
    malformed_lines: list[int] = field(default_factory=list)
    first_ids: list[str] = field(default_factory=list)

    def bad(self, lineno: int) -> None:
        self.malformed += 1
        if len(self.malformed_lines) < 20:
            self.malformed_lines.append(lineno)


# --- Vault / OpenBao ------------------------------------------------------------


def vault_principal(auth: dict[str, Any], path: str) -> str:
    """A readable identity: display name, refined by role metadata; never a token.

    ``approle`` logins all share the display name ``approle``, so the role name
    is appended; unauthenticated requests (failed logins) take the user from
    the login path.
    """
    dn = auth.get("display_name")
    md = auth.get("metadata")
    if dn:
        if md:
            role = md.get("role_name") or md.get("role")
            if role and role not in dn:
                return f"{dn}-{role}"
        return dn
    m = _LOGIN_RE.match(path)
    if m:
        return f"{m.group('mount')}-{m.group('user')}" if m.group("user") else f"{m.group('mount')}-?"
    return "anonymous"


def _vault_method(acc: Accumulator, auth: dict[str, Any], accessor: str | None, principal: str) -> str:
    """Auth method of a request's token (``accessor`` already keyed)."""
    if accessor:
        m = acc.accessor_method.get(accessor)
        if m:
            return m
    if "root" in (auth.get("policies") or ()):
        return "token"
    prefix = principal.split("-", 1)[0]
    if prefix in KNOWN_VAULT_METHODS:
        return prefix
    return "token" if auth.get("client_token") else "none"


_REQ_MARK = b'"type":"request"'


def parse_vault_stream(
    stream: Iterable[bytes],
    acc: Accumulator,
    stats: FileStats,
    on_bytes: Callable[[int], None] | None = None,
    report_every: int = 1 << 22,
) -> None:
    """Feed one Vault/OpenBao file-audit-device stream into ``acc``.

    Never raises on content: an undecodable or structurally wrong line is
    counted in ``stats.malformed`` (with its line number, never its text).

    This is the hot loop (several GB per engagement): the identity of a token
    (principal, method, root) is resolved once per accessor and cached, the
    per-line aggregation is inlined, and rare events are behind cheap prefix
    tests.
    """
    loads = orjson.loads
    JSONError = orjson.JSONDecodeError
    access = acc.access
    human_hours = acc.human_hours
    usage = acc.usage
    last_seen = acc.last_seen
    identities: dict[str, tuple[str, str, bool]] = {}
    kv_mounts = acc.kv_mounts
    keyed = acc.keyed
    human = HUMAN_AUTH_METHODS
    first_at, last_at = stats.first_at, stats.last_at
    pending = 0
    nbytes = 0
    lineno = 0
    events = 0
    skipped = 0
    try:
        for line in stream:
            lineno += 1
            n = len(line)
            nbytes += n
            pending += n
            if pending >= report_every and on_bytes is not None:
                on_bytes(pending)
                pending = 0
            # Request entries: the response entry repeats them with the outcome.
            if line.find(_REQ_MARK, 0, 80) != -1:
                if line.rstrip()[-1:] != b"}":
                    stats.bad(lineno)
                else:
                    skipped += 1
                continue
            try:
                d = loads(line)
                ts = d["time"][:19]
                req = d["request"]
                path = req["path"]
                op = req["operation"]
                if d["type"] != "response":
                    skipped += 1
                    continue
            except (JSONError, KeyError, TypeError):
                if line.strip():
                    stats.bad(lineno)
                continue
            events += 1
            if first_at is None or ts < first_at:
                first_at = ts
            if last_at is None or ts > last_at:
                last_at = ts
            auth = d.get("auth") or {}
            err = d.get("error")
            remote = req.get("remote_address") or "-"
            accessor = auth.get("accessor")
            if accessor and (accessor.__class__ is not str or not accessor.startswith(VAULT_HMAC_PREFIX)):
                accessor = keyed(accessor)  # a raw log: inlined test, this runs on every line
            is_login = path[:5] == "auth/" and "/login" in path
            ident = identities.get(accessor) if accessor and not is_login else None
            if ident is None:
                principal = vault_principal(auth, path)
                if is_login and req.get("mount_type"):
                    method = req["mount_type"]  # the login itself: its auth method is the mount's
                else:
                    method = _vault_method(acc, auth, accessor, principal)
                ident = (principal, method, "root" in (auth.get("policies") or ()))
                if accessor and not is_login:
                    identities[accessor] = ident
                    token = keyed(auth.get("client_token"))
                    if token:
                        acc.aliases[accessor] = token
                        acc.aliases[token] = accessor
            principal, method, is_root = ident

            # access_event aggregation (inlined Accumulator.add_access)
            denied = bool(err) and "permission denied" in err
            key = (principal, method, path, op, remote, ts[:10])
            row = access.get(key)
            if row is None:
                access[key] = [1, 1 if err else 0, 1 if denied else 0, ts, ts]
            else:
                row[0] += 1
                if err:
                    row[1] += 1
                    if denied:
                        row[2] += 1
                if ts > row[4]:
                    row[4] = ts
                elif ts < row[3]:
                    row[3] = ts
            if method in human and not err and not is_login:  # a human's authenticated, granted request
                hkey = (principal, method, path, op, remote, ts[:13])
                human_hours[hkey] = human_hours.get(hkey, 0) + 1
            if is_root:
                acc.add_root(principal, remote, path, ts)
            if not err:
                pr = auth.get("policy_results")
                if pr:
                    for g in pr.get("granting_policies") or ():
                        name = g.get("name")
                        if name and name != "root":
                            k = (name, path, op)
                            usage[k] = usage.get(k, 0) + 1

            # Credential last use (log order is time order).
            if accessor:
                last_seen[accessor] = ts
                if acc.revoked and accessor in acc.revoked:
                    acc.seen_credential(accessor, ts, not err)
            else:
                # An unknown or revoked token has no auth block: its HMAC is on the request.
                token = keyed(auth.get("client_token") or req.get("client_token"))
                if token:
                    acc.seen_credential(token, ts, not err)

            # Rare events below: cheap prefix tests first.
            c0 = path[0]
            if c0 == "a" and path[:5] == "auth/":
                resp = d.get("response") or {}
                m = _LOGIN_RE.match(path) if is_login else None
                if m:
                    mount = m.group("mount")
                    acc.add_login(remote, mount, m.group("user") or "", ts, bool(err))
                    ra = resp.get("auth")
                    issued = keyed(ra.get("accessor")) if ra else None
                    if issued:
                        acc.accessor_method[issued] = req.get("mount_type") or mount
                        _note_token(acc, ra, issued, ts, principal, remote, path)
                elif path.startswith("auth/token/create"):
                    ra = resp.get("auth")
                    if ra:
                        issued = keyed(ra.get("accessor"))
                        acc.accessor_method.setdefault(issued or "", "token")
                        _note_token(acc, ra, issued, ts, principal, remote, path)
                elif path.startswith("auth/token/revoke") and not err:
                    data = req.get("data")
                    data = data if data.__class__ is dict else {}
                    if path == "auth/token/revoke-accessor" and data.get("accessor"):
                        acc.revoke(keyed(data["accessor"]), "vault_token_accessor", ts, principal, remote)
                    elif path in ("auth/token/revoke", "auth/token/revoke-orphan") and data.get("token"):
                        acc.revoke(keyed(data["token"]), "vault_token", ts, principal, remote)
                    elif path == "auth/token/revoke-self" and accessor:
                        acc.revoke(accessor, "vault_token_self", ts, principal, remote)
                if op in _WRITE_OPS and not m and _AUTH_CFG_RE.match(path):
                    _note_change(acc, "auth_change", ts, principal, remote, path, op, err)
            elif c0 == "s" and path[:4] == "sys/":
                if op in _WRITE_OPS:
                    if _POLICY_RE.match(path):
                        _note_change(acc, "policy_change", ts, principal, remote, path, op, err)
                    elif _AUTH_CFG_RE.match(path):
                        _note_change(acc, "auth_change", ts, principal, remote, path, op, err)
                    elif _AUDIT_RE.match(path):
                        _note_change(acc, "audit_change", ts, principal, remote, path, op, err)
                    elif _MOUNT_RE.match(path):
                        _note_change(acc, "mount_change", ts, principal, remote, path, op, err)
            elif not err and req.get("mount_type") == "kv":
                kv_mounts.add(req.get("mount_point") or "")
                rd = (d.get("response") or {}).get("data")
                if rd:
                    if op == "read":
                        md = rd.get("metadata")
                        v = md.get("version") if md.__class__ is dict else None
                        if v.__class__ is int:
                            acc.add_version_read(principal, path, v, ts, remote)
                    elif op in ("create", "update", "patch"):
                        v = rd.get("version")
                        if v.__class__ is int:
                            acc.add_version_write(path, v, ts, principal)
            if op in _WRITE_OPS and not err and _ROTATE_RE.search(path):
                acc._note(acc.rotations, {"at": ts, "path": path, "principal": principal, "version": None})
    except (EOFError, OSError, zlib.error):
        # A truncated or corrupt compressed tail: what was read still counts.
        stats.bad(lineno + 1)
    stats.lines += lineno
    stats.bytes += nbytes
    stats.events += events
    stats.skipped += skipped
    stats.first_at, stats.last_at = first_at, last_at
    if on_bytes is not None and pending:
        on_bytes(pending)


def _note_token(
    acc: Accumulator, ra: dict[str, Any], accessor: str | None, ts: str, principal: str, remote: str, path: str
) -> None:
    """A Vault token issued (``accessor`` already keyed); odd shapes count as unknown, never crash."""
    ttl = ra.get("token_ttl")
    ttl = ttl if ttl.__class__ is int and ttl > 0 else None
    policies = ra.get("token_policies") or ra.get("policies") or []
    policies = [str(p) for p in policies] if policies.__class__ is list else []
    name = ra.get("display_name")
    acc.add_token(principal, remote, path, name if name.__class__ is str else None, ttl,
                  ttl is None and "root" in policies, policies, ts, accessor)


def _note_change(acc: Accumulator, kind: str, ts: str, principal: str, remote: str, path: str, op: str, err: Any) -> None:
    acc._note(
        acc.changes,
        {"at": ts, "kind": kind, "principal": principal, "remote": remote, "path": path,
         "operation": op, "succeeded": not err},
    )


# --- CloudTrail -------------------------------------------------------------------

DENIED_CODES = frozenset(
    {
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
        "Client.UnauthorizedOperation", "UnauthorizedAccess", "AuthorizationError",
    }
)
AUTH_FAILURE_CODES = frozenset(
    {
        "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure",
        "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSignatureException",
        "ExpiredToken", "ExpiredTokenException", "NotAuthorizedException",
    }
)
# Services whose events enter the access inventory (the rest only feed signals).
ACCESS_SOURCES = frozenset(
    {
        "secretsmanager.amazonaws.com", "ssm.amazonaws.com", "kms.amazonaws.com",
        "sts.amazonaws.com", "iam.amazonaws.com", "signin.amazonaws.com",
        "cloudtrail.amazonaws.com",
    }
)
POLICY_EVENTS = frozenset(
    {
        "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy", "CreatePolicy", "DeletePolicy",
        "CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion",
        "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy", "DetachUserPolicy",
        "DetachRolePolicy", "DetachGroupPolicy", "DeleteUserPolicy", "DeleteRolePolicy",
        "DeleteGroupPolicy", "UpdateAssumeRolePolicy", "PutResourcePolicy",
        "DeleteResourcePolicy", "PutKeyPolicy", "CreateGrant", "RevokeGrant",
        "PutPermissionsBoundary", "DeleteRolePermissionsBoundary", "DeleteUserPermissionsBoundary",
    }
)
AUTH_EVENTS = frozenset(
    {
        "CreateUser", "DeleteUser", "CreateLoginProfile", "UpdateLoginProfile",
        "DeleteLoginProfile", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
        "CreateRole", "DeleteRole", "AddUserToGroup", "RemoveUserFromGroup",
        "CreateSAMLProvider", "UpdateSAMLProvider", "DeleteSAMLProvider",
        "CreateOpenIDConnectProvider", "DeleteOpenIDConnectProvider",
        "UpdateOpenIDConnectProviderThumbprint", "EnableMFADevice", "DeactivateMFADevice",
        "DeleteVirtualMFADevice", "UpdateAccountPasswordPolicy",
    }
)
AUDIT_EVENTS = frozenset(
    {"StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors"}
)
ROTATION_EVENTS = frozenset({"RotateSecret", "PutSecretValue", "PutParameter"})
SECRET_READ_EVENTS = frozenset(
    {"GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath"}
)


def cloudtrail_identity(ui: dict[str, Any]) -> tuple[str, str]:
    """(principal, auth method) of a CloudTrail ``userIdentity``.

    Assumed-role sessions collapse to the role's ARN (the thing a policy is
    attached to); IAM Identity Center roles count as a human ``sso`` method.
    """
    kind = ui.get("type") or "Unknown"
    if kind == "AssumedRole":
        issuer = ((ui.get("sessionContext") or {}).get("sessionIssuer") or {})
        arn = issuer.get("arn") or ui.get("arn") or "assumed-role"
        name = issuer.get("userName") or ""
        return arn, "sso" if name.startswith("AWSReservedSSO_") else "assumed_role"
    if kind == "Root":
        return ui.get("arn") or f"arn:aws:iam::{ui.get('accountId', '')}:root", "root"
    if kind == "IAMUser":
        key = ui.get("accessKeyId") or ""
        console = key.startswith("ASIA") and bool(ui.get("sessionContext"))
        return ui.get("arn") or ui.get("userName") or "iam-user", "console" if console else "iam_user"
    if kind in ("SAMLUser", "WebIdentityUser"):
        return ui.get("userName") or ui.get("principalId") or kind, "saml"
    if kind == "AWSService":
        return ui.get("invokedBy") or "aws-service", "aws_service"
    return ui.get("arn") or ui.get("principalId") or kind, kind.lower()


def _ct_resource(ev: dict[str, Any]) -> str:
    rp = ev.get("requestParameters") or {}
    for r in ev.get("resources") or ():
        if r.get("ARN"):
            return r["ARN"]
    for k in ("secretId", "name", "keyId", "policyArn", "roleName", "userName", "trailName", "accessKeyId"):
        v = rp.get(k)
        if isinstance(v, str) and v:
            if k == "name" and ev.get("eventSource") == "ssm.amazonaws.com" and not v.startswith("arn:"):
                region, account = ev.get("awsRegion", ""), ev.get("recipientAccountId", "")
                return f"arn:aws:ssm:{region}:{account}:parameter/{v.lstrip('/')}"
            return v
    names = rp.get("names")
    if isinstance(names, list) and names:
        return str(names[0])
    return ev.get("eventSource") or "-"


def iter_cloudtrail_events(data: bytes, stats: FileStats) -> Iterator[dict[str, Any]]:
    """Events of one CloudTrail file: a ``Records`` document, or JSON lines."""
    head = data[:200].lstrip()
    if head.startswith(b"{") and b'"Records"' in data[:4096]:
        stats.lines += 1
        try:
            doc = orjson.loads(data)
            records = doc["Records"]
            if not isinstance(records, list):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            stats.bad(1)
            return
        yield from records
        return
    for i, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        stats.lines += 1
        try:
            ev = orjson.loads(line)
            if not isinstance(ev, dict):
                raise TypeError
        except (orjson.JSONDecodeError, TypeError):
            stats.bad(i)
            continue
        yield ev


def feed_cloudtrail_event(ev: dict[str, Any], acc: Accumulator, stats: FileStats, index: int) -> None:
    """Fold one CloudTrail event into ``acc`` (bad shape -> counted malformed)."""
    try:
        ts = ev["eventTime"][:19]
        name = ev["eventName"]
        source = ev["eventSource"]
        ui = ev.get("userIdentity") or {}
    except (KeyError, TypeError, AttributeError):
        stats.bad(index)
        return
    stats.events += 1
    if stats.first_at is None or ts < stats.first_at:
        stats.first_at = ts
    if stats.last_at is None or ts > stats.last_at:
        stats.last_at = ts
    if len(stats.first_ids) < 200 and ev.get("eventID"):
        stats.first_ids.append(ev["eventID"])
    principal, method = cloudtrail_identity(ui)
    remote = ev.get("sourceIPAddress") or "-"
    code = ev.get("errorCode")
    rp = ev.get("requestParameters") or {}
    re_ = ev.get("responseElements") or {}
    denied = code in DENIED_CODES
    resource = _ct_resource(ev)

    if name == "ConsoleLogin":
        failed = (re_.get("ConsoleLogin") == "Failure") or bool(code)
        user = ui.get("userName") or (ev.get("additionalEventData") or {}).get("LoginTo") or principal
        acc.add_login(remote, "console", str(user), ts, failed)
        method = "console" if method in ("iam_user", "root") and ui.get("type") != "Root" else method
    elif code in AUTH_FAILURE_CODES:
        acc.add_login(remote, source.split(".")[0], principal, ts, True)

    if source in ACCESS_SOURCES:
        acc.add_access(principal, method, resource, name, remote, ts, bool(code), denied)
    else:
        stats.skipped += 1

    key_id = ui.get("accessKeyId")
    if key_id:
        acc.seen_credential(key_id, ts, not code)
    if ui.get("type") == "Root" and ui.get("invokedBy") is None:
        acc.add_root(principal, remote, f"{source}:{name}", ts)
    if code:
        return
    if ev.get("readOnly") is True and name not in SECRET_READ_EVENTS:
        return
    if name in SECRET_READ_EVENTS:
        stage = rp.get("versionStage")
        if name == "GetSecretValue" and (stage == "AWSPREVIOUS" or rp.get("versionId")):
            latest = acc.versions.get(resource)
            key = (principal, resource)
            row = acc.stale.get(key)
            if stage == "AWSPREVIOUS" or latest is not None:
                if row is None:
                    acc.stale[key] = [1, ts, ts, stage or rp.get("versionId"), "AWSCURRENT",
                                      latest[1] if latest else None, remote]
                else:
                    row[0] += 1
                    row[2] = ts
        return
    if name in POLICY_EVENTS:
        _note_change(acc, "policy_change", ts, principal, remote, f"{source}:{name}:{resource}", name, None)
    elif name in AUTH_EVENTS:
        _note_change(acc, "auth_change", ts, principal, remote, f"{source}:{name}:{resource}", name, None)
    elif name in AUDIT_EVENTS:
        _note_change(acc, "audit_change", ts, principal, remote, f"{source}:{name}:{resource}", name, None)
    if name in ROTATION_EVENTS:
        if name != "PutParameter" or rp.get("overwrite"):
            prev = acc.versions.get(resource)
            acc.versions[resource] = ((prev[0] + 1) if prev else 2, ts)
            acc._note(acc.rotations, {"at": ts, "path": resource, "principal": principal, "version": None})
    if name == "CreateAccessKey":
        created = ((re_.get("accessKey") or {}).get("accessKeyId"))
        user = rp.get("userName")
        acc.add_token(principal, remote, f"iam:CreateAccessKey:{user or principal}",
                      user if isinstance(user, str) else None, None, True, (), ts,
                      created if isinstance(created, str) else None)
    elif name in ("AssumeRole", "GetFederationToken", "GetSessionToken", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"):
        dur = rp.get("durationSeconds")
        acc.add_token(principal, remote, f"sts:{name}:{resource}", None,
                      dur if isinstance(dur, int) and not isinstance(dur, bool) and dur > 0 else None,
                      False, (), ts, None)
    if name == "DeleteAccessKey" or (name == "UpdateAccessKey" and rp.get("status") == "Inactive"):
        kid = rp.get("accessKeyId")
        if kid:
            acc.revoke(kid, "iam_access_key", ts, principal, remote)
