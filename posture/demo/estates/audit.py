"""Audit-log estate of "Acme Payments": real OpenBao traffic, CloudTrail files, big logs.

Three producers, all deterministic, all with the caller's canaries as the
only secret values (so a leak into any output is detectable):

- `drive_openbao_traffic` drives real requests against a running OpenBao
  server so its file audit devices write real audit logs: value reads and
  lists, a rotation followed by a consumer still reading the old version,
  denied reads with a restricted token, a burst of failed userpass logins
  from one source address, long-TTL and short-TTL token creation, root token
  use, policy and auth changes, a token revoked by accessor and presented
  again, and reads from a second loopback source address (127.0.0.2).
- `cloudtrail_records` / `write_cloudtrail` build CloudTrail ``Records``
  files in the documented format (``AWSLogs/<account>/CloudTrail/<region>/
  YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz``) with
  baseline traffic and every anomaly the audit collector looks for.
- `write_vault_audit_log` streams a large synthetic Vault file-audit-device
  log to disk in OpenBao's exact entry format (request + response entries,
  HMAC'd values), with weeks of baseline and the same anomalies: for the
  benchmark and for the history-dependent signals (new source IP after the
  learning period, volume spikes, off-hours humans) that seconds of real
  traffic cannot show.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from posture.model.errors import PostureError

ACCOUNT = "123456789012"
REGION = "eu-west-1"


# --- Real OpenBao traffic -----------------------------------------------------------


class _SourceAddressAdapter(HTTPAdapter):
    """Connect from a given local address (any 127.x.y.z works on Linux loopback)."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def _session(source: str | None = None) -> requests.Session:
    s = requests.Session()
    if source:
        adapter = _SourceAddressAdapter(source)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
    return s


@dataclass
class TrafficSummary:
    """What `drive_openbao_traffic` did, for tests to assert against."""

    prefix: str
    kv_mount: str
    userpass_mount: str
    approle_mount: str
    reads: int = 0
    denied_reads: int = 0
    failed_logins: int = 0
    failed_login_source: str = "127.0.0.3"
    second_source: str = "127.0.0.2"
    long_ttl_token_hours: int = 768
    short_ttl_token_hours: int = 1
    rotated_path: str = ""
    stale_reader: str = ""
    policies: dict[str, str] = field(default_factory=dict)
    revoked_accessor: str = ""
    paths: list[str] = field(default_factory=list)


def drive_openbao_traffic(
    address: str, root_token: str, canaries: Sequence[str], prefix: str = "audit", failed_logins: int = 6
) -> TrafficSummary:
    """Drive realistic traffic at a real OpenBao server (see the module docstring).

    Names are prefixed with ``prefix`` so the traffic is recognisable in an
    audit log shared with other users of the same server. Idempotent enough
    to run twice against one server (mounts are created once).
    """
    if not canaries:
        raise PostureError("drive_openbao_traffic needs at least one canary value")
    root = _session()
    root.headers["X-Vault-Token"] = root_token
    v = f"{address}/v1"

    def call(sess: requests.Session, method: str, path: str, ok: tuple[int, ...] = (200, 204), **kw: Any) -> dict:
        r = sess.request(method, f"{v}/{path}", timeout=10, **kw)
        if r.status_code not in ok:
            raise PostureError(f"{method} {path}: HTTP {r.status_code}: {r.text[:200]}")
        return r.json() if r.content else {}

    kv, up, ar = f"{prefix}-kv", f"{prefix}-userpass", f"{prefix}-approle"
    s = TrafficSummary(prefix=prefix, kv_mount=kv, userpass_mount=up, approle_mount=ar)
    mounts = call(root, "GET", "sys/mounts")
    if f"{kv}/" not in (mounts.get("data") or mounts):
        call(root, "POST", f"sys/mounts/{kv}", json={"type": "kv", "options": {"version": "2"}})
    auths = call(root, "GET", "sys/auth")
    have = auths.get("data") or auths
    if f"{up}/" not in have:
        call(root, "POST", f"sys/auth/{up}", json={"type": "userpass"})
    if f"{ar}/" not in have:
        call(root, "POST", f"sys/auth/{ar}", json={"type": "approle"})

    value = lambda i: canaries[i % len(canaries)]
    secrets = ["prod/payments/db-password", "prod/payments/stripe-api-key", "staging/payments/db-password",
               "dev/shared/api-key"]
    for i, p in enumerate(secrets):
        call(root, "POST", f"{kv}/data/{p}", json={"data": {"value": value(i)}})
    s.paths = [f"{kv}/data/{p}" for p in secrets]
    # A rotation: version 2 of the prod database password.
    s.rotated_path = f"{kv}/data/prod/payments/db-password"
    call(root, "POST", s.rotated_path, json={"data": {"value": value(0) + "-v2"}})

    reader = f"{prefix}-app-read"
    broad = f"{prefix}-ci-broad"
    s.policies = {
        reader: (
            f'path "{kv}/data/prod/payments/*" {{\n  capabilities = ["read"]\n}}\n'
            f'path "{kv}/metadata/prod/payments/*" {{\n  capabilities = ["list"]\n}}\n'
        ),
        broad: (
            f'path "{kv}/data/*" {{\n  capabilities = ["create", "read", "update", "delete", "list"]\n}}\n'
            f'path "{kv}/metadata/*" {{\n  capabilities = ["list", "read", "delete"]\n}}\n'
        ),
    }
    for name, hcl in s.policies.items():
        call(root, "PUT", f"sys/policies/acl/{name}", json={"policy": hcl})

    # Humans (userpass, 8 h tokens) and a service (AppRole, 1 h tokens).
    pw_alice = f"{value(1)}-alice"
    call(root, "POST", f"auth/{up}/users/alice", json={"password": pw_alice, "token_policies": reader, "token_ttl": "8h"})
    call(root, "POST", f"auth/{up}/users/bob", json={"password": f"{value(2)}-bob", "token_policies": reader, "token_ttl": "8h"})
    call(root, "POST", f"auth/{ar}/role/payments-api", json={"token_policies": broad, "token_ttl": "1h", "token_max_ttl": "4h"})
    role_id = call(root, "GET", f"auth/{ar}/role/payments-api/role-id")["data"]["role_id"]
    secret_id = call(root, "POST", f"auth/{ar}/role/payments-api/secret-id")["data"]["secret_id"]

    alice = _session()
    alice.headers["X-Vault-Token"] = call(alice, "POST", f"auth/{up}/login/alice", json={"password": pw_alice})["auth"]["client_token"]
    for _ in range(3):
        call(alice, "GET", f"{kv}/data/prod/payments/db-password")
        s.reads += 1
    call(alice, "LIST", f"{kv}/metadata/prod/payments/")
    # Outside alice's policy: denied.
    for p in ("staging/payments/db-password", "dev/shared/api-key"):
        call(alice, "GET", f"{kv}/data/{p}", ok=(403,))
        s.denied_reads += 1

    app = _session()
    token = call(app, "POST", f"auth/{ar}/login", json={"role_id": role_id, "secret_id": secret_id})["auth"]["client_token"]
    app.headers["X-Vault-Token"] = token
    for _ in range(5):
        call(app, "GET", f"{kv}/data/prod/payments/stripe-api-key")
        s.reads += 1
    # A consumer pinned to the old version after the rotation.
    call(app, "GET", f"{kv}/data/prod/payments/db-password", params={"version": 1})
    s.stale_reader = f"{ar}-payments-api"
    s.reads += 1
    # The same service from a second source address.
    app2 = _session(s.second_source)
    app2.headers["X-Vault-Token"] = token
    call(app2, "GET", f"{kv}/data/prod/payments/stripe-api-key")
    s.reads += 1

    # A burst of failed logins from one source.
    attacker = _session(s.failed_login_source)
    for i in range(failed_logins):
        call(attacker, "POST", f"auth/{up}/login/bob", json={"password": f"wrong-{i}"}, ok=(400, 403))
        s.failed_logins += 1

    # Tokens: one with the longest TTL the server allows (768 h), one short.
    call(root, "POST", "auth/token/create", json={"policies": [reader], "ttl": "2000h", "display_name": f"{prefix}-long"})
    call(root, "POST", "auth/token/create", json={"policies": [reader], "ttl": "1h", "display_name": f"{prefix}-short"})
    # Revoke a token by accessor, then present it again.
    t = call(root, "POST", "auth/token/create", json={"policies": [reader], "ttl": "1h", "display_name": f"{prefix}-revoked"})["auth"]
    used = _session()
    used.headers["X-Vault-Token"] = t["client_token"]
    call(used, "GET", f"{kv}/data/prod/payments/db-password")
    s.reads += 1
    call(root, "POST", "auth/token/revoke-accessor", json={"accessor": t["accessor"]})
    s.revoked_accessor = t["accessor"]
    call(used, "GET", f"{kv}/data/prod/payments/db-password", ok=(403,))

    # Drift: the reader policy is widened, a user is removed.
    call(root, "PUT", f"sys/policies/acl/{reader}", json={"policy": s.policies[reader] + f'path "{kv}/data/staging/*" {{\n  capabilities = ["read"]\n}}\n'})
    call(root, "DELETE", f"auth/{up}/users/bob")
    # Root token reads a production value directly.
    call(root, "GET", f"{kv}/data/prod/payments/stripe-api-key")
    s.reads += 1
    s.long_ttl_token_hours = 768
    return s


# --- CloudTrail -------------------------------------------------------------------


def _stable(text: str, digits: int = 6) -> int:
    """A run-independent small number for ``text`` (``hash()`` is salted per process)."""
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**digits


def _role_identity(role: str, session: str, key: str = "ASIAEXAMPLEROLE") -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE{_stable(role):06d}:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role", "principalId": f"AROAEXAMPLE{_stable(role):06d}",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "accountId": ACCOUNT, "userName": role,
            },
            "attributes": {"creationDate": "2026-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def _user_identity(user: str, key: str | None = "AKIAEXAMPLEUSER01") -> dict[str, Any]:
    ui = {"type": "IAMUser", "principalId": f"AIDAEXAMPLE{user.upper()}", "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
          "accountId": ACCOUNT, "userName": user}
    if key:
        ui["accessKeyId"] = key
    return ui


ROOT_IDENTITY = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}


def _secret_arn(name: str) -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"


def _event(rng: random.Random, at: datetime, identity: dict[str, Any], source: str, name: str, ip: str,
           params: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
           error: str | None = None, read_only: bool | None = None, event_type: str = "AwsApiCall",
           resources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": "aws-sdk-go-v2/1.30.0",
        "requestParameters": params,
        "responseElements": response,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
        "readOnly": read_only if read_only is not None else name.startswith(("Get", "List", "Describe")),
        "eventType": event_type,
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    if error:
        ev["errorCode"] = error
        ev["errorMessage"] = f"{error} (fictional)"
    if resources:
        ev["resources"] = resources
    return ev


def cloudtrail_records(
    canaries: Sequence[str], start: datetime, days: int = 21, per_day: int = 20, seed: int = 7,
    anomalies: bool = True,
) -> list[dict[str, Any]]:
    """CloudTrail events for ``days`` days from ``start`` (UTC), sorted by time.

    Baseline: the ``payments-app`` role reads its database secret ``per_day``
    times a day from 10.0.1.15 during business hours; a human SSO admin reads it
    in the afternoon. With ``anomalies``: a 10x spike (day -3), a new source
    network for ``payments-app`` (day -1), an SSO read at 02:30 UTC (day -1), a
    denied read by ``reporting``, seven failed console logins from 198.51.100.9,
    root console login and API use, an IAM access key created, a role policy
    put, the trail stopped, the secret rotated and then read as AWSPREVIOUS by
    ``legacy-batch``, an access key deleted and then presented again. A
    ``PutParameter`` carries a canary in its parameters: the collector must
    never copy it anywhere.
    """
    rng = random.Random(seed)
    start = start.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=timezone.utc)
    db = _secret_arn("prod/payments/db-password")
    app = _role_identity("payments-app", "i-0abc123")
    sso = _role_identity("AWSReservedSSO_AdministratorAccess_0123abcd", "alice@acme.example", "ASIASSOEXAMPLE01")
    out: list[dict[str, Any]] = []
    res = [{"accountId": ACCOUNT, "type": "AWS::SecretsManager::Secret", "ARN": db}]

    def get(at: datetime, who: dict[str, Any], ip: str, **kw: Any) -> dict[str, Any]:
        return _event(rng, at, who, "secretsmanager.amazonaws.com", "GetSecretValue", ip,
                      {"secretId": db, **kw.pop("params", {})}, None, resources=res, **kw)

    for d in range(days):
        day = start + timedelta(days=d)
        n = per_day * (10 if anomalies and d == days - 3 else 1)
        for _ in range(n):
            at = day + timedelta(hours=rng.randint(8, 17), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
            ip = "203.0.113.77" if anomalies and d == days - 1 else "10.0.1.15"
            out.append(get(at, app, ip))
        if day.weekday() < 5:
            out.append(get(day + timedelta(hours=14, minutes=5), sso, "192.0.2.10"))
    if anomalies:
        last = start + timedelta(days=days - 1)
        out.append(get(last + timedelta(hours=2, minutes=30), sso, "192.0.2.10"))
        out.append(get(last + timedelta(hours=11), _role_identity("reporting", "etl"), "10.0.2.20",
                       error="AccessDeniedException"))
        for i in range(7):
            out.append(_event(rng, last + timedelta(hours=9, minutes=i * 3), _user_identity("bob", None),
                              "signin.amazonaws.com", "ConsoleLogin", "198.51.100.9", None,
                              {"ConsoleLogin": "Failure"}, read_only=False, event_type="AwsConsoleSignIn",
                              error=None))
        out.append(_event(rng, last + timedelta(hours=10), ROOT_IDENTITY, "signin.amazonaws.com", "ConsoleLogin",
                          "192.0.2.99", None, {"ConsoleLogin": "Success"}, read_only=False, event_type="AwsConsoleSignIn"))
        out.append(_event(rng, last + timedelta(hours=10, minutes=2), ROOT_IDENTITY, "secretsmanager.amazonaws.com",
                          "ListSecrets", "192.0.2.99", {}, None))
        admin = _user_identity("admin")
        out.append(_event(rng, last + timedelta(hours=10, minutes=5), admin, "iam.amazonaws.com", "CreateAccessKey",
                          "192.0.2.50", {"userName": "ci-deployer"},
                          {"accessKey": {"accessKeyId": "AKIAEXAMPLENEWKEY1", "status": "Active", "userName": "ci-deployer"}}))
        out.append(_event(rng, last + timedelta(hours=10, minutes=6), admin, "iam.amazonaws.com", "PutRolePolicy",
                          "192.0.2.50", {"roleName": "payments-app", "policyName": "wide-open"}, None))
        out.append(_event(rng, last + timedelta(hours=10, minutes=7), admin, "cloudtrail.amazonaws.com", "StopLogging",
                          "192.0.2.50", {"name": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main"}, None))
        rot = start + timedelta(days=days - 4, hours=12)
        out.append(_event(rng, rot, app, "secretsmanager.amazonaws.com", "RotateSecret", "10.0.1.15",
                          {"secretId": db}, {"arn": db, "name": "prod/payments/db-password"}, resources=res))
        for h in (1, 5, 30):
            out.append(get(rot + timedelta(hours=h), _role_identity("legacy-batch", "cron"), "10.0.3.30",
                           params={"versionStage": "AWSPREVIOUS"}))
        out.append(_event(rng, rot + timedelta(minutes=1), _user_identity("deployer"), "ssm.amazonaws.com", "PutParameter",
                          "10.0.1.40", {"name": "/prod/payments/webhook", "type": "SecureString", "overwrite": True,
                                        "value": canaries[0]}, {"version": 2, "tier": "Standard"}))
        old_key = "AKIAEXAMPLEOLDKEY1"
        out.append(_event(rng, last + timedelta(hours=12), admin, "iam.amazonaws.com", "DeleteAccessKey", "192.0.2.50",
                          {"userName": "old-ci", "accessKeyId": old_key}, None))
        out.append(_event(rng, last - timedelta(days=1, hours=-12), _user_identity("old-ci", old_key),
                          "secretsmanager.amazonaws.com", "ListSecrets", "10.0.4.4", {}, None))
        out.append(_event(rng, last + timedelta(hours=13), _user_identity("old-ci", old_key), "secretsmanager.amazonaws.com",
                          "ListSecrets", "10.0.4.4", {}, None, error="InvalidClientTokenId"))
    out.sort(key=lambda e: e["eventTime"])
    return out


def write_cloudtrail(root: Path, records: list[dict[str, Any]], compress: bool = True, per_file: int = 200) -> list[Path]:
    """Write ``records`` as CloudTrail delivers them: one ``{"Records": [...]}`` file per batch."""
    paths = []
    rng = random.Random(len(records))
    for i in range(0, len(records), per_file):
        batch = records[i : i + per_file]
        t = datetime.strptime(batch[0]["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
        folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / t.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{t.strftime('%Y%m%dT%H%MZ')}_{rng.getrandbits(64):016x}.json"
        data = orjson.dumps({"Records": batch})
        path = folder / (name + ".gz" if compress else name)
        path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
        paths.append(path)
    return paths


# --- Large synthetic Vault audit log ---------------------------------------------------


def _hmac(key: bytes, value: str) -> str:
    return "hmac-sha256:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Actor:
    display_name: str
    method: str
    metadata: dict[str, str]
    policies: tuple[str, ...]
    ips: tuple[str, ...]
    paths: tuple[str, ...]
    hours: tuple[int, int]


ACTORS: tuple[_Actor, ...] = (
    _Actor("approle", "approle", {"role_name": "payments-api"}, ("payments-prod-read",),
           ("10.20.1.10", "10.20.1.11"), ("secret/data/prod/payments/db-password", "secret/data/prod/payments/stripe-api-key"), (0, 24)),
    _Actor("approle", "approle", {"role_name": "web"}, ("web-read",), ("10.20.2.10",),
           ("apps/data/prod/web/session-key", "secret/data/prod/platform/tls-private-key"), (0, 24)),
    _Actor("kubernetes-payments-worker", "kubernetes", {"service_account_name": "worker", "service_account_namespace": "payments"},
           ("payments-prod-read",), ("10.30.0.5", "10.30.0.6", "10.30.0.7"), ("secret/data/prod/payments/db-password",), (0, 24)),
    _Actor("userpass-alice", "userpass", {"username": "alice"}, ("payments-prod-read",), ("192.168.10.5",),
           ("secret/data/prod/payments/stripe-api-key", "secret/metadata/prod/payments/"), (9, 17)),
    _Actor("oidc-carol@acme.example", "oidc", {"role": "engineering"}, ("dev-read",), ("192.168.10.9",),
           ("secret/data/dev/shared/api-key",), (10, 18)),
)


def iter_vault_audit_lines(
    canaries: Sequence[str], start: datetime, days: int = 21, events_per_day: int = 400, seed: int = 11,
    anomalies: bool = True, key: bytes = b"synthetic-audit-hmac-key",
) -> Iterator[bytes]:
    """Lines (with newline) of a Vault file audit log, request + response per event.

    Anomalies (last days): a 10x read spike on the payments db password
    (day -3), ``approle-payments-api`` from 203.0.113.50 (day -1), ``alice`` at
    03:00 UTC (day -1), eight failed ``bob`` logins from 198.51.100.7 in one
    hour, a denied read by ``web`` of a payments path, and a policy write.
    """
    rng = random.Random(seed)
    start = start.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=timezone.utc)
    values = [_hmac(key, c) for c in canaries] or [_hmac(key, "x")]
    tokens = {a.display_name + str(a.metadata): (_hmac(key, f"tok-{i}"), _hmac(key, f"acc-{i}")) for i, a in enumerate(ACTORS)}
    dumps = orjson.dumps

    def entry(at: datetime, actor: _Actor | None, path: str, op: str, ip: str, error: str | None = None,
              version: int | None = None) -> bytes:
        t = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(10**9):09d}Z"
        rid = str(uuid.UUID(int=rng.getrandbits(128)))
        mount = path.split("/", 1)[0] + "/"
        req: dict[str, Any] = {
            "id": rid, "client_id": "", "operation": op, "mount_point": mount,
            "mount_type": "userpass" if path.startswith("auth/userpass") else ("system" if path.startswith("sys/") else "kv"),
            "mount_accessor": "kv_0f1e2d3c", "mount_running_version": "v2.7.2+builtin.bao",
            "mount_class": "auth" if path.startswith("auth/") else "secret",
            "namespace": {"id": "root"}, "path": path, "remote_address": ip, "remote_port": rng.randint(30000, 60000),
        }
        if actor is not None:
            ct, acc = tokens[actor.display_name + str(actor.metadata)]
            auth: dict[str, Any] = {
                "client_token": ct, "accessor": acc, "display_name": actor.display_name,
                "policies": ["default", *actor.policies], "token_policies": ["default", *actor.policies],
                "policy_results": {"allowed": error is None, **({"granting_policies": [{"name": actor.policies[0], "namespace_id": "root", "type": "acl"}]} if error is None else {})},
                "metadata": actor.metadata, "entity_id": str(uuid.UUID(int=_stable(actor.display_name, 30))),
                "token_type": "service", "token_ttl": 3600, "token_issue_time": t[:19] + "Z",
            }
            req["client_token"] = ct
            req["client_token_accessor"] = acc
        else:
            auth = {"token_type": "default"}
            req["data"] = {"password": values[rng.randrange(len(values))]}
        head = {"time": t, "type": "request", "auth": auth, "request": req}
        if error:
            head["error"] = error
        resp: dict[str, Any] = {"mount_point": mount, "mount_type": req["mount_type"],
                                "mount_running_plugin_version": "v2.7.2+builtin.bao", "mount_class": req["mount_class"]}
        if error:
            resp["data"] = {"error": _hmac(key, error)}
        elif op == "read" and "/data/" in path:
            resp["data"] = {
                "data": {"value": values[rng.randrange(len(values))]},
                "metadata": {"created_time": "2026-01-05T10:00:00.000000Z", "custom_metadata": None,
                             "deletion_time": _hmac(key, ""), "destroyed": False, "version": version or 3},
            }
        elif op == "list":
            resp["data"] = {"keys": [_hmac(key, "db-password"), _hmac(key, "stripe-api-key")]}
        tail = {"time": t, "type": "response", "auth": auth, "request": req, "response": resp}
        if error:
            tail["error"] = error
        return dumps(head) + b"\n" + dumps(tail) + b"\n"

    payments_api, web, alice = ACTORS[0], ACTORS[1], ACTORS[3]
    for d in range(days):
        day = start + timedelta(days=d)
        items: list[tuple[datetime, Callable[[], bytes]]] = []
        for _ in range(events_per_day):
            a = ACTORS[rng.randrange(len(ACTORS))]
            if a.method in ("userpass", "oidc") and day.weekday() >= 5:
                continue  # people do not work weekends here
            at = day + timedelta(hours=rng.randrange(*a.hours), minutes=rng.randrange(60), seconds=rng.randrange(60))
            path = a.paths[rng.randrange(len(a.paths))]
            op = "list" if path.endswith("/") else "read"
            ip = a.ips[rng.randrange(len(a.ips))]
            items.append((at, lambda at=at, a=a, path=path, op=op, ip=ip: entry(at, a, path, op, ip)))
        if anomalies and d == days - 3:
            for _ in range(events_per_day * 3):
                at = day + timedelta(hours=rng.randrange(24), minutes=rng.randrange(60))
                items.append((at, lambda at=at: entry(at, payments_api, "secret/data/prod/payments/db-password", "read", "10.20.1.10")))
        if anomalies and d == days - 1:
            for m in range(5):
                at = day + timedelta(hours=11, minutes=m)
                items.append((at, lambda at=at: entry(at, payments_api, "secret/data/prod/payments/db-password", "read", "203.0.113.50")))
            at = day + timedelta(hours=3, minutes=7)
            items.append((at, lambda at=at: entry(at, alice, "secret/data/prod/payments/stripe-api-key", "read", "192.168.10.5")))
            for m in range(8):
                at = day + timedelta(hours=4, minutes=m * 2)
                items.append((at, lambda at=at: entry(at, None, "auth/userpass/login/bob", "update", "198.51.100.7", error="invalid credentials")))
            at = day + timedelta(hours=12)
            items.append((at, lambda at=at: entry(at, web, "secret/data/prod/payments/db-password", "read", "10.20.2.10", error="1 error occurred:\n\t* permission denied\n\n")))
            at = day + timedelta(hours=13)
            items.append((at, lambda at=at: entry(at, alice, "sys/policies/acl/payments-prod-read", "update", "192.168.10.5")))
        items.sort(key=lambda x: x[0])
        for _, make in items:
            yield make()


def write_vault_audit_log(
    path: Path, canaries: Sequence[str], start: datetime, *, days: int = 21, events_per_day: int = 400,
    target_bytes: int | None = None, compress: bool = False, anomalies: bool = True, seed: int = 11,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    """Stream a synthetic Vault audit log to ``path``; returns bytes written (uncompressed).

    With ``target_bytes``, ``events_per_day`` is scaled so the file reaches about
    that size over ``days`` days (at most ~1.5 KB per event, two lines each).
    """
    if target_bytes:
        per_event = 2 * 1400  # bytes per event (request + response entry), measured
        events_per_day = max(50, int(target_bytes / per_event / days * 1.1))  # overshoot, then cut
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = (lambda: gzip.open(path, "wb", compresslevel=1)) if compress else (lambda: open(path, "wb", buffering=1 << 20))
    with opener() as f:
        for line in iter_vault_audit_lines(canaries, start, days, events_per_day, seed, anomalies):
            f.write(line)
            written += len(line)
            if on_bytes is not None:
                on_bytes(len(line))
            if target_bytes and written >= target_bytes:
                break
    return written
