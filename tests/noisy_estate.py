"""A realistic, noisy client estate with its ground truth: the measuring instrument of issue 11.

"Northwind Payments" as a consultant meets it: one OpenBao (KV v2 and v1,
policies, auth roles, tokens, transit, PKI, database), one AWS account in two
regions (moto: SSM, Secrets Manager, KMS, IAM, ACM, Lambda, ECS, CloudTrail),
four git repositories and a slice of the OpenBao audit log, with an
engagement written as a consultant would (classification rules, owners with
pagers, waivers with approver and expiry, attestations).

Most items are clean look-alikes of issue 11's classes of false findings:
configuration parameters next to real secrets, least-privilege and
deny-overlaid policies next to wildcard and cross-environment ones, env-less
``shared/`` and ``common/`` paths, CA certificates next to over-long leaves,
OIDC trusts scoped to one repository and branch next to ``repo:*``, rotating
and recently created secrets next to stale ones, benign Lambda variables next
to secret ones, periodic tokens with and without an explicit max TTL, the
built-in ``default`` policy.

Ground truth is declarative: every seeded item is an `Item` naming the checks
it must fail (``fails``), may fail because two rules legitimately overlap
(``may``) or must show as waived (``waived``); an item with none is clean and
must fail no check. Expectations follow each check's general rule, not what
the kit outputs today. `score` compares an assessment with it.

The module is longer than the ~500 lines the project aims for (about 1,250)
because it is one concept, the estate and its truth side by side, kept in one
place so an expectation is read next to the item it is about; over half of it
is seed tables (data), the seeding loops are short. Every secret value is a per-item canary (`canary`); none may
appear in anything the kit writes.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from posture.assess import AssessOutcome, assess
from posture.collect import collect
from posture.demo import _collector_env, scoped_environ
from posture.demo.assessor import POLICY_NAME, grant_assessor
from posture.demo.estates import aws as aws_seed
from posture.demo.estates import git as git_seed
from posture.demo.estates.vault import _Api, _enable, _enable_auth, _public_key_pem
from posture.demo.live_estate import DemoEstate
from posture.workspace import Workspace, current_quarter, fingerprint

CLIENT = "northwind"
VAULT_STORE, AWS_STORE = "core", "main"
ACCOUNT = aws_seed.ACCOUNT
REGIONS = ("us-east-1", "eu-west-1")
TEAMS = ("payments", "orders", "web", "platform", "analytics")
ENVS = ("prod", "staging", "dev")
WIKI = "https://wiki.northwind-payments.example/security"


# --- ground truth -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One seeded item and what the kit must say about it.

    ``resource`` is an fnmatch glob on the finding's resource id. ``fails`` are
    check ids (or globs, for a class no check covers yet) at least one failing
    row of which must carry this resource; ``may`` are checks whose failure is
    tolerated (two rules that legitimately overlap); ``waived`` checks are the
    ones the engagement's waivers were written for: they may fail by rule, so
    they may show as waived (never as fail), and no other row may be waived.
    ``listed`` is False for what the collector drops by design (benign
    environment variables, signals that must not exist), so its presence in the
    snapshot is not required.
    """

    source: str
    cls: str
    resource: str
    fails: tuple[str, ...] = ()
    may: tuple[str, ...] = ()
    waived: tuple[str, ...] = ()
    listed: bool = True

    @property
    def clean(self) -> bool:
        return not self.fails


def canary(label: str) -> str:
    """The planted value of one item: unique per item, so no two items share a fingerprint by accident."""
    return f"CANARY-{hashlib.sha256(label.encode()).hexdigest()[:10]}-noisy-value"


# --- OpenBao: tables ----------------------------------------------------------------------------

#: Custom metadata every team's KV secret carries; ``rotation_days`` is the recorded rotation policy.
ROTATION_DAYS = {"api-key": "90", "db-password": "30"}
#: Configuration written into KV beside the secrets (issue 11 class 1: not a secret, not a DB password).
KV_CONFIG = {"db-host": "db.{env}.northwind.internal", "db-port": "5432", "db-name": "{team}"}

#: Hand-written KV v2 items: (path, custom metadata, versions, checks it must fail, class).
KV_SPECIAL: tuple[tuple[str, dict[str, str], int, tuple[str, ...], str], ...] = (
    ("shared/platform/datadog-api-key", {"owner": "platform-team", "type": "api-key", "rotation_days": "90"}, 2,
     (), "env-less"),
    ("shared/tls/ca-bundle", {"owner": "platform-team"}, 1, (), "config"),
    ("common/service-urls", {"owner": "platform-team"}, 1, (), "config"),
    ("common/log-level", {"owner": "platform-team"}, 1, (), "config"),
    ("common/feature-flags", {"owner": "web-team"}, 3, (), "config"),
    ("prod/payments/db-password", {"owner": "payments-team", "env": "prod", "type": "db-password",
                                   "rotation_days": "30"}, 3, ("LCY007",), "static-db-password"),
    ("prod/orders/jwt-signing-key", {"owner": "orders-team", "env": "prod", "type": "signing-key",
                                     "rotation_days": "90"}, 1, ("LCY008",), "key-material"),
    ("prod/orphaned/batch-token", {}, 1, ("INV001", "INV002", "LCY002"), "ownership"),
    ("dev/scratch/api-key", {}, 1, ("INV001", "LCY002"), "ownership"),
    ("staging/web/legacy-api-key", {"owner": "web-team", "env": "staging", "type": "api-key"}, 1,
     ("LCY002",), "rotation"),
    ("tools/jenkins-api-key", {"owner": "platform-team", "type": "api-key", "rotation_days": "90"}, 1,
     ("INV003",), "environment"),
    ("prod/analytics/warehouse-api-key", {"owner": "analytics-team", "env": "prod", "type": "api-key",
                                          "rotation_days": "90"}, 1, ("AUD012",), "audit"),
)
#: KV v1 ``legacy/`` items (no versions, no metadata): a static store that cannot record rotation.
KV1_ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("prod/app/db-password", ("LCY002", "LCY007")),
    ("dev/app/api-key", ("LCY002",)),
)

READ = '["read"]'
SELF_SERVICE = (  # the built-in default policy's self-service paths (issue 11 class 3)
    ("auth/token/lookup-self", READ), ("auth/token/renew-self", '["update"]'),
    ("auth/token/revoke-self", '["update"]'), ("sys/capabilities-self", '["update"]'),
    ("sys/leases/renew", '["update"]'), ("sys/leases/lookup", '["update"]'),
    ("sys/renew", '["update"]'), ("sys/tools/hash", '["update"]'), ("sys/tools/hash/*", '["update"]'),
    ("sys/wrapping/wrap", '["update"]'), ("sys/wrapping/lookup", '["update"]'),
    ("sys/wrapping/unwrap", '["update"]'), ("sys/control-group/request", '["update"]'),
)
#: Hand-written policies: name -> ((path, capabilities), ...), checks it must fail, class.
POLICIES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...], str]] = {
    "service-self": (SELF_SERVICE, (), "sys-self-service"),
    "wrapping-only": ((("sys/wrapping/*", '["update"]'),), (), "sys-self-service"),
    "lease-self": ((("sys/leases/renew", '["update"]'), ("sys/leases/lookup", '["update"]'),
                    ("auth/token/renew-self", '["update"]')), (), "sys-self-service"),
    "tools-only": ((("sys/tools/hash/*", '["update"]'), ("sys/tools/random/*", '["update"]')), (),
                   "sys-self-service"),
    "control-group-self": ((("sys/control-group/request", '["update"]'), ("sys/capabilities-self", '["update"]')),
                           (), "sys-self-service"),
    "orders-dev-ci": ((("secret/data/+/orders/*", READ), ("secret/data/prod/*", '["deny"]'),
                       ("secret/data/staging/*", '["deny"]')), (), "deny-overlay"),
    "analytics-prod-etl": ((("secret/data/+/analytics/*", READ), ("secret/data/staging/*", '["deny"]'),
                            ("secret/data/dev/*", '["deny"]')), (), "deny-overlay"),
    "payments-prod-ops": ((("secret/data/prod/payments/*", '["read", "update"]'),
                           ("secret/data/prod/payments/admin/*", '["deny"]')), (), "deny-overlay"),
    "shared-readers": ((("secret/data/shared/*", READ), ("secret/data/common/*", READ),
                        ("secret/metadata/common/*", '["list"]')), (), "env-less"),
    "transit-payments": ((("transit/encrypt/prod-payments-card", '["update"]'),
                          ("transit/decrypt/prod-payments-card", '["update"]')), (), "least-privilege"),
    "pki-web-issuer": ((("pki_int/issue/web-prod", '["update"]'),), (), "least-privilege"),
    "db-payments-creds": ((("database/creds/prod-payments-app", READ),), (), "least-privilege"),
    "admin-wildcard": ((("*", '["create", "read", "update", "delete", "list", "sudo"]'),),
                       ("VLT006", "VLT007", "VLT008"), "wildcard"),
    "ops-sys": ((("sys/*", '["read", "list", "sudo"]'),), ("VLT007",), "sys"),
    "policy-admin": ((("sys/policies/acl/*", '["create", "update", "delete"]'),), ("VLT007",), "sys"),
    "ci-deployer": ((("secret/data/+/payments/*", READ),), ("VLT008",), "cross-env"),
    "reporting-all": ((("secret/data/*", READ), ("secret/metadata/*", '["list"]')), ("VLT008",), "cross-env"),
    "orders-prod-and-dev": ((("secret/data/prod/orders/*", READ), ("secret/data/dev/orders/*", READ)),
                            ("VLT008",), "cross-env"),
}
#: Team read policies that also read the env-less paths (still one environment).
SHARED_READERS = {("payments", "prod"), ("web", "prod"), ("orders", "dev")}

APPROLES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "payments-prod": ({"token_policies": ["payments-prod-read"], "token_ttl": "1h", "token_max_ttl": "4h",
                       "secret_id_ttl": "10m", "secret_id_num_uses": 1}, ()),
    "orders-prod": ({"token_policies": ["orders-prod-read"], "token_ttl": "30m", "token_max_ttl": "2h",
                     "secret_id_ttl": "5m", "secret_id_num_uses": 1}, ()),
    "analytics-batch": ({"token_policies": ["analytics-prod-etl"], "token_ttl": "1h", "token_max_ttl": "4h",
                         "secret_id_ttl": "10m", "secret_id_num_uses": 1}, ()),
    "ci-legacy": ({"token_policies": ["ci-deployer"], "token_ttl": "768h", "token_max_ttl": "8760h",
                   "secret_id_ttl": "0", "secret_id_num_uses": 0}, ("VLT011",)),
}
USERS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "alice": ({"token_policies": ["payments-prod-read"], "token_ttl": "8h", "token_max_ttl": "12h"}, ()),
    "carol": ({"token_policies": ["web-staging-read"], "token_ttl": "4h", "token_max_ttl": "8h"}, ()),
    "bob": ({"token_policies": ["orders-dev-read"]}, ("VLT012",)),
}
JWT_ROLES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "github-payments-deploy": ({"bound_audiences": ["https://github.com/northwind"],
                                "bound_claims": {"repository": "northwind/checkout-service",
                                                 "ref": "refs/heads/main"}}, ()),
    "github-web-release": ({"bound_audiences": ["https://github.com/northwind"],
                            "bound_subject": "repo:northwind/web-frontend:environment:prod"}, ()),
    "gitlab-any-project": ({"bound_audiences": ["https://gitlab.northwind.example"]}, ("VLT014",)),
}
K8S_ROLES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "payments-api": ({"bound_service_account_names": ["payments-api"],
                      "bound_service_account_namespaces": ["payments-prod"], "token_ttl": "1h"}, ()),
    "orders-worker": ({"bound_service_account_names": ["orders-worker"],
                       "bound_service_account_namespaces": ["orders-prod"], "token_ttl": "30m"}, ()),
    "any-namespace": ({"bound_service_account_names": ["*"], "bound_service_account_namespaces": ["*"],
                       "token_ttl": "24h"}, ("VLT013",)),
}
#: Tokens: display name -> (create body, checks it must fail). Issue 11 class 6: periodic tokens.
TOKENS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "ci-periodic": ({"policies": ["ci-deployer"], "period": "24h"}, ("VLT010",)),
    "ci-periodic-bounded": ({"policies": ["orders-dev-ci"], "period": "24h", "explicit_max_ttl": "72h"}, ()),
    "deploy-periodic-bounded": ({"policies": ["payments-prod-ops"], "period": "12h", "explicit_max_ttl": "168h"}, ()),
    "metrics-periodic-bounded": ({"policies": ["analytics-prod-read"], "period": "1h", "explicit_max_ttl": "24h"},
                                 ()),
    "legacy-batch-job": ({"policies": ["reporting-all"], "ttl": "768h"}, ("VLT010", "LCY006")),
    "reporting-48h": ({"policies": ["analytics-prod-read"], "ttl": "48h"}, ("LCY006",)),
    "payments-api": ({"policies": ["payments-prod-read"], "ttl": "1h"}, ()),
    "orders-worker": ({"policies": ["orders-prod-read"], "ttl": "1h"}, ()),
    "warehouse-loader": ({"policies": ["analytics-prod-read"], "ttl": "1h"}, ()),
    "warehouse-reporter": ({"policies": ["analytics-prod-read"], "ttl": "1h"}, ()),
}
TRANSIT_KEYS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "prod-payments-card": ({"type": "aes256-gcm96", "auto_rotate_period": "720h"}, ()),
    "prod-orders-pii": ({"type": "aes256-gcm96", "auto_rotate_period": "2160h"}, ()),
    "dev-web-session": ({"type": "chacha20-poly1305"}, ()),
    "prod-legacy-export": ({"type": "aes256-gcm96", "exportable": True}, ("VLT019",)),
}
#: PKI leaves on ``pki_int``: common name -> (role, TTL, checks it must fail). The CAs must fail nothing.
PKI_LEAVES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "api.prod.acme-payments.test": ("web-prod", "1920h", ()),
    "www.prod.acme-payments.test": ("web-prod", "1920h", ()),
    "pay.prod.acme-payments.test": ("web-prod", "1900h", ()),
    "api.staging.acme-payments.test": ("web-prod", "1800h", ()),
    "admin.prod.acme-payments.test": ("web-prod", "72h", ("LCY003",)),
    "legacy.prod.acme-payments.test": ("legacy-prod", "8760h", ("LCY004",)),
}
DB_ROLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "prod-payments-app": ("1h", "24h", ()), "prod-orders-app": ("1h", "24h", ()),
    "staging-payments-app": ("30m", "12h", ()), "dev-payments-app": ("1h", "24h", ()),
    "prod-payments-admin": ("720h", "8760h", ("VLT017",)),
}


def _hcl(rules: Iterable[tuple[str, str]]) -> str:
    return "".join(f'path "{p}" {{\n  capabilities = {caps}\n}}\n' for p, caps in rules)


def _team_policy(team: str, env: str) -> str:
    rules = [(f"secret/data/{env}/{team}/*", READ), (f"secret/metadata/{env}/{team}/*", '["list", "read"]')]
    if (team, env) in SHARED_READERS:
        rules += [("secret/data/shared/*", READ), ("secret/data/common/*", READ)]
    return f"# least privilege: {team}, {env} only, read\n" + _hcl(rules)


# --- OpenBao: seeding -----------------------------------------------------------------------------


@dataclass
class VaultHandles:
    """What later steps need from the seeded OpenBao (never written anywhere)."""

    tokens: dict[str, str] = field(default_factory=dict)  # display name -> client token
    accessors: dict[str, str] = field(default_factory=dict)  # display name -> accessor


def _v(source_item: str) -> str:
    return f"vault:{VAULT_STORE}:{source_item}"


def seed_vault(address: str, root_token: str, values: list[str]) -> tuple[list[Item], VaultHandles]:
    """Seed the OpenBao estate through its API with the dev root token; returns items and handles."""
    api, h, items = _Api(address, root_token), VaultHandles(), []

    def value(label: str) -> str:
        values.append(v := canary(label))
        return v

    def kv2(path: str, meta: dict[str, str], versions: int, data: dict[str, str] | None = None) -> None:
        for n in range(versions):
            api.call("POST", f"secret/data/{path}", {"data": data or {"value": value(f"kv:{path}:{n}")}})
        if meta:
            api.call("POST", f"secret/metadata/{path}", {"custom_metadata": meta})

    _enable(api, "secret", {"type": "kv", "options": {"version": "2"}})
    _enable(api, "legacy", {"type": "kv", "options": {"version": "1"}, "description": "pre-2020 static secrets"})
    for team in TEAMS:
        for env in ENVS:
            base = {"owner": f"{team}-team", "env": env}
            for stype in ("api-key", "db-password"):
                if stype == "db-password" and env == "prod":
                    continue  # production services get dynamic credentials (database engine)
                kv2(f"{env}/{team}/{stype}", {**base, "type": stype, "rotation_days": ROTATION_DAYS[stype]},
                    3 if (team, env, stype) == ("orders", "prod", "api-key") else 1)
                items.append(Item("vault", "rotating-secret", _v(f"secret/{env}/{team}/{stype}")))
            for name, text in KV_CONFIG.items():
                kv2(f"{env}/{team}/{name}", base, 1, {"value": text.format(env=env, team=team)})
                items.append(Item("vault", "config", _v(f"secret/{env}/{team}/{name}")))
            api.call("PUT", f"sys/policies/acl/{team}-{env}-read", {"policy": _team_policy(team, env)})
            items.append(Item("vault", "least-privilege", _v(f"sys/policies/acl/{team}-{env}-read")))
    for path, meta, versions, fails, cls in KV_SPECIAL:
        kv2(path, meta, versions)
        envless = path.startswith(("shared/", "common/"))
        items.append(Item("vault", cls, _v(f"secret/{path}"), fails, waived=("INV003",) if envless else ()))
    for path, fails in KV1_ITEMS:
        api.call("POST", f"legacy/{path}", {"value": value(f"kv1:{path}")})
        items.append(Item("vault", "static-store", _v(f"legacy/{path}"), fails))
    items.append(Item("vault", "static-store", _v("legacy/"), waived=("VLT016",)))
    items.append(Item("vault", "engine", _v("secret/")))

    for name, (rules, fails, cls) in POLICIES.items():
        api.call("PUT", f"sys/policies/acl/{name}", {"policy": _hcl(rules)})
        items.append(Item("vault", cls, _v(f"sys/policies/acl/{name}"), fails))
    items.append(Item("vault", "sys-self-service", _v("sys/policies/acl/default")))

    _seed_engines(api, items, value)
    _seed_auth(api, items, value)
    for name, (body, fails) in TOKENS.items():
        auth = api.call("POST", "auth/token/create", {"display_name": name, "no_default_policy": True, **body})
        h.tokens[name], h.accessors[name] = auth["auth"]["client_token"], auth["auth"]["accessor"]
        items.append(Item("vault", "token", f"token:{name}", fails))
    # The dev server's root token and the dev server itself: real findings of any dev-mode cluster.
    items.append(Item("vault", "token", "token:root", ("VLT009", "VLT010")))
    # VLT001 was waived, but the waiver expired: it fails again.
    items.append(Item("vault", "server", _v("server"), ("VLT001", "VLT002", "VLT003", "VLT020")))
    return items, h


def _seed_auth(api: _Api, items: list[Item], value: Any) -> None:
    for path, kind in (("approle", "approle"), ("userpass", "userpass"), ("jwt", "jwt"),
                       ("kubernetes", "kubernetes")):
        _enable_auth(api, path, kind)
        api.call("POST", f"sys/auth/{path}/tune", {"max_lease_ttl": "24h", "default_lease_ttl": "1h"})
        items.append(Item("vault", "auth-method", _v(f"auth/{path}/")))
    items.append(Item("vault", "auth-method", _v("auth/token/"), ("VLT015",)))  # left at the 32-day default
    for name, (body, fails) in APPROLES.items():
        api.call("POST", f"auth/approle/role/{name}", body)
        items.append(Item("vault", "auth-role", _v(f"auth/approle/role/{name}"), fails))
    for name, (body, fails) in USERS.items():
        api.call("POST", f"auth/userpass/users/{name}", {**body, "password": value(f"user:{name}")})
        items.append(Item("vault", "auth-role", _v(f"auth/userpass/users/{name}"), fails))
    api.call("POST", "auth/jwt/config", {"jwt_validation_pubkeys": [_public_key_pem()],
                                         "bound_issuer": "https://token.actions.githubusercontent.com"})
    for name, (body, fails) in JWT_ROLES.items():
        api.call("POST", f"auth/jwt/role/{name}", {"role_type": "jwt", "user_claim": "sub",
                                                   "token_policies": ["ci-deployer"], "token_ttl": "15m",
                                                   "token_max_ttl": "1h", **body})
        items.append(Item("vault", "auth-role", _v(f"auth/jwt/role/{name}"), fails))
    ca = api.call("GET", "pki/cert/ca")["data"]["certificate"]
    api.call("POST", "auth/kubernetes/config", {"kubernetes_host": "https://k8s.northwind.internal:6443",
                                                "kubernetes_ca_cert": ca, "disable_local_ca_jwt": True})
    for name, (body, fails) in K8S_ROLES.items():
        api.call("POST", f"auth/kubernetes/role/{name}", {"token_policies": ["payments-prod-read"], **body})
        items.append(Item("vault", "auth-role", _v(f"auth/kubernetes/role/{name}"), fails))


def _seed_engines(api: _Api, items: list[Item], value: Any) -> None:
    _enable(api, "transit", {"type": "transit"})
    for name, (body, fails) in TRANSIT_KEYS.items():
        api.call("POST", f"transit/keys/{name}", body)
        items.append(Item("vault", "key", _v(f"transit/keys/{name}"), fails))
    _enable(api, "pki", {"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    _enable(api, "pki_int", {"type": "pki", "config": {"max_lease_ttl": "43800h"}})
    root = api.call("POST", "pki/root/generate/internal", {"common_name": "Acme Payments Prod Root CA",
                                                           "ttl": "87600h", "key_bits": 4096})["data"]
    csr = api.call("POST", "pki_int/intermediate/generate/internal",
                   {"common_name": "Acme Payments Prod Issuing CA"})["data"]["csr"]
    inter = api.call("POST", "pki/root/sign-intermediate", {"csr": csr, "format": "pem_bundle",
                                                             "ttl": "43800h"})["data"]
    api.call("POST", "pki_int/intermediate/set-signed", {"certificate": inter["certificate"]})
    items += [Item("vault", "ca-certificate", f"vault:{VAULT_STORE}:pki*/cert/{_serial_glob(s)}") for s in (
        root["serial_number"], inter["serial_number"])]
    for role, ttl in (("web-prod", "2160h"), ("legacy-prod", "8760h")):
        api.call("POST", f"pki_int/roles/{role}", {"allowed_domains": "acme-payments.test",
                                                   "allow_subdomains": True, "max_ttl": ttl})
    for cn, (role, ttl, fails) in PKI_LEAVES.items():
        leaf = api.call("POST", f"pki_int/issue/{role}", {"common_name": cn, "ttl": ttl})["data"]
        items.append(Item("vault", "leaf-certificate", _v(f"pki_int/cert/{_serial_glob(leaf['serial_number'])}"),
                          fails))
    _enable(api, "database", {"type": "database"})
    api.call("POST", "sys/mounts/database/tune", {"default_lease_ttl": "1h", "max_lease_ttl": "24h"})
    api.call("POST", "database/config/prod-pg", {
        "plugin_name": "postgresql-database-plugin", "verify_connection": False, "allowed_roles": ["*"],
        "connection_url": "postgresql://{{username}}:{{password}}@db.prod.northwind.internal:5432/app",
        "username": "vault-admin", "password": value("db:prod-pg"),
    })
    for name, (ttl, mx, fails) in DB_ROLES.items():
        api.call("POST", f"database/roles/{name}", {"db_name": "prod-pg", "creation_statements": ["SELECT 1"],
                                                    "default_ttl": ttl, "max_ttl": mx})
        items.append(Item("vault", "dynamic-db", _v(f"database/roles/{name}"), fails))
    _enable(api, "ssh", {"type": "ssh"})
    api.call("POST", "sys/mounts/ssh/tune", {"default_lease_ttl": "30m", "max_lease_ttl": "8h"})
    items += [Item("vault", "engine", _v(m)) for m in ("transit/", "pki/", "pki_int/", "database/", "ssh/")]


def _serial_glob(serial: str) -> str:
    """A serial in either spelling the API uses (``1a:2b`` or ``1a-2b``)."""
    return re.sub(r"[:-]", "?", serial)


# --- AWS (moto): tables ------------------------------------------------------------------------------

APPS = ("payments", "orders", "web", "analytics")
#: Parameter Store configuration per app and environment (issue 11 class 1): name -> (type, value).
SSM_CONFIG: dict[str, tuple[str, str]] = {
    "db-host": ("String", "db.{env}.northwind.internal"), "db-port": ("String", "5432"),
    "db-name": ("String", "{app}"), "api-url": ("String", "https://api.{env}.northwind.example/{app}"),
    "log-level": ("String", "info"), "feature-flags/new-checkout-enabled": ("String", "true"),
    "timeout-ms": ("String", "3000"), "ami-id": ("String", "ami-0a1b2c3d4e5f60718"),
    "region": ("String", "us-east-1"), "allowed-hosts": ("StringList", "{app}.northwind.example,localhost"),
}
#: Configuration does not rotate: these ages are all clean.
CONFIG_AGES = (45, 120, 200, 365, 540, 700)
#: Hand-written parameters: name -> (type, age days, tags, checks it must fail, class).
SSM_SPECIAL: dict[str, tuple[str, int, dict[str, str], tuple[str, ...], str]] = {
    "/prod/payments/webhook-token": ("String", 250, {"owner": "payments-team", "env": "prod"},
                                     ("AWS016", "LCY001", "LCY002"), "plaintext-secret"),
    "/prod/orders/smtp-password": ("String", 400, {}, ("AWS016", "LCY001", "LCY002"), "plaintext-secret"),
    "/staging/web/partner-api-key": ("SecureString", 200, {"owner": "web-team", "rotation_days": "90"},
                                     ("LCY001",), "stale-secret"),
    "/dev/analytics/etl-db-password": ("SecureString", 5, {}, ("LCY002",), "rotation"),
    "/prod/analytics/db-password": ("SecureString", 10, {"owner": "analytics-team", "rotation_days": "30"},
                                    ("LCY007",), "static-db-password"),
}
#: Secrets Manager: name -> (region index, age, rotation days, rotated days ago, CMK, public policy, type,
#: checks it must fail, class). Clean ones rotate within their type's maximum and are read or recent.
SM_SECRETS: dict[str, tuple[int, int, int | None, int | None, bool, bool, str, tuple[str, ...], str]] = {
    "prod/payments/db-password": (0, 60, 7, 3, True, False, "db-password", (), "rotating-secret"),
    "prod/orders/db-password": (0, 50, 7, 2, True, False, "db-password", (), "rotating-secret"),
    "prod/web/db-password": (0, 45, 7, 1, True, False, "db-password", (), "rotating-secret"),
    "prod/analytics/db-password": (0, 70, 7, 4, True, False, "db-password", (), "rotating-secret"),
    "staging/payments/db-password": (0, 80, 30, 10, True, False, "db-password", (), "rotating-secret"),
    "staging/orders/db-password": (0, 40, 30, 5, True, False, "db-password", (), "rotating-secret"),
    "prod/payments/stripe-api-key": (0, 85, 90, 20, True, False, "api-key", (), "rotating-secret"),
    "prod/orders/partner-api-key": (0, 30, 90, 30, True, False, "api-key", (), "rotating-secret"),
    "prod/web/recaptcha-secret": (0, 2, 90, 2, True, False, "api-key", (), "recent-secret"),
    "prod/eu/crm-api-key": (1, 20, 60, 10, True, False, "api-key", (), "rotating-secret"),
    "prod/legacy/ftp-password": (0, 800, None, None, False, True, "ftp-password",
                                 ("AWS001", "AWS003", "AWS004", "AWS005", "LCY001"), "stale-secret"),
    "prod/orders/stripe-api-key": (0, 300, None, None, True, False, "api-key",
                                   ("AWS001", "AWS004", "LCY001"), "stale-secret"),
    "staging/web/db-password": (0, 120, 90, 100, True, False, "db-password",
                                ("AWS002", "AWS004", "LCY001"), "stale-secret"),
    "dev/web/api-key": (0, 10, None, None, False, False, "api-key", ("AWS001", "AWS003"), "rotation"),
    "prod/platform/jwt-signing-key": (0, 30, 90, 30, True, False, "signing-key", ("LCY008",), "key-material"),
}
#: KMS: alias -> (region index, age, rotation period or None, key spec, checks it must fail).
KMS_KEYS: dict[str, tuple[int, int, int | None, str, tuple[str, ...]]] = {
    "prod-payments": (0, 500, 365, "SYMMETRIC_DEFAULT", ()), "prod-orders": (0, 300, 180, "SYMMETRIC_DEFAULT", ()),
    "prod-params": (0, 400, 365, "SYMMETRIC_DEFAULT", ()), "staging-params": (0, 200, 365, "SYMMETRIC_DEFAULT", ()),
    "dev-params": (0, 100, 365, "SYMMETRIC_DEFAULT", ()), "prod-eu-data": (1, 90, 365, "SYMMETRIC_DEFAULT", ()),
    "prod-signing": (0, 200, None, "RSA_2048", ()),
    "prod-legacy-data": (0, 700, None, "SYMMETRIC_DEFAULT", ("AWS006",)),
    "prod-archive": (0, 600, 365, "SYMMETRIC_DEFAULT", ()),
}
#: IAM users: name -> (age, console, MFA, access keys as (age, active), user checks, key checks).
IAM_USERS: dict[str, tuple[int, bool, bool, tuple[tuple[int, bool], ...], tuple[str, ...], tuple[str, ...]]] = {
    "alice": (600, True, True, (), (), ()), "dana": (300, True, True, (), (), ()),
    "bob": (500, True, False, (), ("AWS012",), ()),
    "backup-bot": (250, False, False, ((200, False), (10, True)), (), ()),
    "ci-deployer": (420, False, False, ((400, True),), ("AWS035",), ("AWS008", "AWS009")),
    "metrics-bot": (100, False, False, ((20, True), (5, True)), ("AWS011",), ()),
    "report-bot": (90, False, False, ((60, True),), ("AWS035",), ("AWS009",)),
}
#: Users whose policies are attached to the user itself rather than through a group (AWS035).
DIRECT_POLICIES = {"ci-deployer": "secrets-read-all", "report-bot": "kms-decrypt-all"}
#: The account's IAM password policy: long and not reusable, but passwords live 180 days (AWS034).
PASSWORD_POLICY = {"MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 180,
                   "RequireSymbols": True, "RequireNumbers": True, "RequireUppercaseCharacters": True,
                   "RequireLowercaseCharacters": True}
GHA = "token.actions.githubusercontent.com"
#: GitHub OIDC trusts (issue 11 class 5): role -> (conditions, checks it must fail).
OIDC_ROLES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "gha-checkout-deploy": ({"StringEquals": {
        f"{GHA}:aud": "sts.amazonaws.com", f"{GHA}:sub": "repo:northwind/checkout-service:ref:refs/heads/main"}}, ()),
    "gha-orders-prod": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                          f"{GHA}:sub": "repo:northwind/orders-service:environment:prod"}}, ()),
    "gha-web-release": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"},
                         "StringLike": {f"{GHA}:sub": "repo:northwind/web-frontend:ref:refs/tags/v*"}}, ()),
    "gha-infra-plan": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                         f"{GHA}:sub": "repo:northwind/platform-infra:pull_request"}}, ()),
    "gha-ledger-deploy": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com", f"{GHA}:sub": [
        "repo:northwind/ledger-service:ref:refs/heads/main", "repo:northwind/ledger-service:environment:prod"]}},
        ()),
    "gha-payments-release": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                               f"{GHA}:sub": "repo:northwind/payments-api:ref:refs/heads/release"}},
                             ()),
    "gha-analytics-etl": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                            f"{GHA}:sub": "repo:northwind/analytics-etl:environment:prod"}}, ()),
    "gha-web-staging": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"},
                         "StringLike": {f"{GHA}:sub": "repo:northwind/web-frontend:environment:staging"}}, ()),
    "gha-docs-publish": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                           f"{GHA}:sub": "repo:northwind/docs:ref:refs/heads/main"}}, ()),
    "gha-orders-staging": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com",
                                             f"{GHA}:sub": "repo:northwind/orders-service:environment:staging"}}, ()),
    "gha-any-repo": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"},
                      "StringLike": {f"{GHA}:sub": "repo:*"}}, ("AWS015",)),
    "gha-org-wide": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"},
                      "StringLike": {f"{GHA}:sub": "repo:northwind/*"}}, ("AWS015",)),
    "gha-every-repo-main": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"},
                             "StringLike": {f"{GHA}:sub": "repo:*/*:ref:refs/heads/main"}}, ("AWS015",)),
    "gha-no-sub": ({"StringEquals": {f"{GHA}:aud": "sts.amazonaws.com"}}, ("AWS015",)),
    "gha-no-aud": ({"StringEquals": {f"{GHA}:sub": "repo:northwind/checkout-service:ref:refs/heads/main"}},
                   ("AWS015",)),
}
SM_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
#: Customer-managed IAM policies: name -> (statements, checks it must fail, checks it may fail).
IAM_POLICIES: dict[str, tuple[list[dict[str, Any]], tuple[str, ...], tuple[str, ...]]] = {
    "payments-secrets-read": ([{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                                "Resource": f"{SM_ARN}prod/payments/*"}], (), ()),
    "ssm-read-payments": ([{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
                            "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/payments/*"}], (), ()),
    "s3-read-all": ([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], (), ()),
    "deny-outside-org": ([{"Effect": "Deny", "Action": "*", "Resource": "*",
                           "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-northwind"}}}], (), ()),
    "northwind-admin": ([{"Effect": "Allow", "Action": "*", "Resource": "*"}], ("AWS013",), ("AWS014",)),
    "secrets-read-all": ([{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
                         ("AWS014",), ()),
    "kms-decrypt-all": ([{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}], ("AWS014",), ()),
}
#: ACM certificates (imported): domain -> (days until expiry, checks it must fail).
ACM_CERTS: dict[str, tuple[int, tuple[str, ...]]] = {
    "www.northwind.example": (300, ()), "api.northwind.example": (200, ()),
    "checkout.northwind.example": (150, ()), "api.staging.northwind.example": (250, ()),
    "old.northwind.example": (20, ("LCY003",)),
}
SECRET = object()  # stands for "a canary literal" in the environment tables below
#: Lambda functions' environments (issue 11 class 7): SECRET marks a literal credential.
LAMBDAS: dict[str, dict[str, Any]] = {
    "payments-api": {"LOG_LEVEL": "info", "PORT": "8080", "DB_HOST": "db.prod.northwind.internal",
                     "DB_NAME": "payments", "DB_SECRET_ARN": f"{SM_ARN}prod/payments/db-password-AbCdEf",
                     "FEATURE_NEW_CHECKOUT_ENABLED": "true", "TIMEOUT_MS": "3000",
                     "API_URL": "https://api.northwind.example/v1", "REGION": "us-east-1",
                     "HEALTHCHECK_URL": "https://status.northwind.example/ping",
                     "REDIS_URL": "redis://cache.prod.northwind.internal:6379/0"},
    "web-renderer": {"SESSION_COOKIE_NAME": "sid", "TOKEN_TTL_SECONDS": "3600", "PASSWORD_MIN_LENGTH": "12",
                     "API_KEY_HEADER": "X-Api-Key", "CDN_URL": "https://cdn.northwind.example",
                     "STRIPE_KEY_PARAMETER": "/prod/payments/stripe-api-key"},
    "orders-worker": {"LOG_LEVEL": "debug", "DB_PASSWORD": SECRET, "STRIPE_API_KEY": SECRET,
                      "QUEUE_URL": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/orders"},
    "notify-slack": {"CHANNEL": "#alerts", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0NW/B0AL/{v}"},
    "reports-export": {"S3_BUCKET": "northwind-reports",
                       "DATABASE_URL": "postgres://reports:{v}@db.prod.northwind.internal:5432/reports"},
}
#: Functions whose environment is encrypted with a customer KMS key (alias); the others fail AWS028.
LAMBDA_CMK = {"payments-api": "prod-payments", "orders-worker": "prod-orders"}
#: ECS task definitions: family -> container environment (same conventions as LAMBDAS).
ECS_TASKS: dict[str, dict[str, Any]] = {
    "checkout-api": {"PORT": "8080", "LOG_LEVEL": "info", "DB_HOST": "db.prod.northwind.internal"},
    "legacy-batch": {"BATCH_SIZE": "500", "DB_PASSWORD": SECRET, "AWS_SECRET_ACCESS_KEY": SECRET,
                     "AMQP_URL": "amqp://batch:{v}@mq.prod.northwind.internal:5672/"},
}


def _env_value(fn: str, name: str, v: Any, values: list[str]) -> tuple[str, bool]:
    """The literal to write and whether it is a credential (a canary, alone or inside a URL)."""
    if v is SECRET or "{v}" in str(v):
        values.append(c := canary(f"env:{fn}:{name}"))
        return (c if v is SECRET else v.format(v=c)), True
    return v, False


# --- AWS (moto): seeding ---------------------------------------------------------------------------


def seed_aws(endpoint_url: str, values: list[str], now: datetime) -> list[Item]:
    """Seed the AWS account into an in-process moto (freezegun back-dates creation and rotation)."""
    c = [aws_seed._clients(endpoint_url, r) for r in REGIONS]
    at = lambda days: aws_seed._at(now - timedelta(days=days))
    items: list[Item] = []

    def value(label: str) -> str:
        values.append(v := canary(label))
        return v

    keys: dict[str, str] = {}
    for alias, (ri, days, period, spec, fails) in KMS_KEYS.items():
        env = alias.split("-")[0]
        kw = {"KeySpec": spec, "KeyUsage": "SIGN_VERIFY"} if spec != "SYMMETRIC_DEFAULT" else {}
        with at(days):
            k = c[ri].kms.create_key(Description=f"Northwind {alias}", Tags=[
                {"TagKey": "env", "TagValue": env}, {"TagKey": "owner", "TagValue": "platform-team"}],
                **kw)["KeyMetadata"]
        c[ri].kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=k["KeyId"])
        if period:
            c[ri].kms.enable_key_rotation(KeyId=k["KeyId"], RotationPeriodInDays=period)
        keys[alias] = k["Arn"]
        items.append(Item("aws", "kms-key", k["Arn"], fails))

    # Parameters are written grouped by age: one frozen clock per age (each freeze costs ~50 ms).
    params: dict[int, list[tuple[str, str, str, dict[str, str], int]]] = defaultdict(list)
    for i, (app, env) in enumerate((a, e) for a in APPS for e in ENVS):
        tags = {"owner": f"{app}-team", "env": env} if i % 2 else {}
        for j, (name, (ptype, text)) in enumerate(SSM_CONFIG.items()):
            name = f"/{env}/{app}/{name}"
            params[CONFIG_AGES[(i + j) % len(CONFIG_AGES)]].append(
                (name, ptype, text.format(env=env, app=app), tags, (i + j) % 2))
            items.append(Item("aws", "config", _ssm_arn(name, (i + j) % 2)))
        for stype in ("api-key", "db-password")[: 1 if env == "prod" else 2]:
            name = f"/{env}/{app}/{stype}"
            params[3 + i % 2 * 7].append((name, "SecureString", value(f"ssm:{name}"), {
                "owner": f"{app}-team", "env": env, "rotation_days": ROTATION_DAYS[stype]}, 0))
            items.append(Item("aws", "rotating-secret", _ssm_arn(name, 0)))
    for name, (ptype, days, tags, fails, cls) in SSM_SPECIAL.items():
        params[days].append((name, ptype, value(f"ssm:{name}"), tags, 0))
        items.append(Item("aws", cls, _ssm_arn(name, 0), fails))
    for days, group in params.items():
        with at(days):
            for name, ptype, text, tags, region in group:
                kw: dict[str, Any] = {"KeyId": f"alias/{name.split('/')[1]}-params"} if ptype == "SecureString" else {}
                if tags:
                    kw["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
                c[region].ssm.put_parameter(Name=name, Type=ptype, Value=text, **kw)

    public = aws_seed._policy({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                               "Resource": "*"})
    for name, (ri, days, rot, rotated, cmk, pub, stype, fails, cls) in SM_SECRETS.items():
        env, owner = name.split("/")[0], name.split("/")[1]
        kw: dict[str, Any] = {"KmsKeyId": keys["prod-eu-data" if ri else "prod-payments"]} if cmk else {}
        with at(days):
            arn = c[ri].secretsmanager.create_secret(Name=name, SecretString=value(f"sm:{name}"), Tags=[
                {"Key": "env", "Value": env}, {"Key": "secret_type", "Value": stype},
                {"Key": "owner", "Value": f"{owner}-team" if owner in TEAMS else "platform-team"}], **kw)["ARN"]
        if rot:
            with at(rotated):
                c[ri].secretsmanager.rotate_secret(SecretId=arn, RotateImmediately=False,
                                                   RotationRules={"AutomaticallyAfterDays": rot})
        if pub:
            c[ri].secretsmanager.put_resource_policy(SecretId=arn, ResourcePolicy=public)
        items.append(Item("aws", cls, arn, fails))

    items += _seed_iam(c[0].iam, at, keys)
    for domain, (days, fails) in ACM_CERTS.items():
        pem, key = aws_seed._self_signed(domain, now - timedelta(days=30), now + timedelta(days=days))
        arn = c[0].acm.import_certificate(Certificate=pem, PrivateKey=key)["CertificateArn"]
        items.append(Item("aws", "certificate", arn, fails))
    items += _seed_compute(c[0], values, keys)
    items += _seed_trails(c, keys["prod-payments"])
    items.append(Item("aws", "account", f"aws-account:{ACCOUNT}"))
    return items


def _ssm_arn(name: str, region: int) -> str:
    return f"arn:aws:ssm:{REGIONS[region]}:{ACCOUNT}:parameter{name}"


def _seed_iam(iam: Any, at: Any, keys: dict[str, str]) -> list[Item]:
    items: list[Item] = []
    arns = {}
    for name, (statements, fails, may) in IAM_POLICIES.items():
        arns[name] = iam.create_policy(PolicyName=name, PolicyDocument=aws_seed._policy(*statements))["Policy"]["Arn"]
        items.append(Item("aws", "iam-policy", arns[name], fails, may))
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=arns["northwind-admin"])
    iam.create_group(GroupName="developers")
    iam.put_group_policy(GroupName="developers", PolicyName="dev-secrets", PolicyDocument=aws_seed._policy(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": f"{SM_ARN}dev/*"}))
    items.append(Item("aws", "iam-policy", f"arn:aws:iam::{ACCOUNT}:group/developers/inline/dev-secrets"))
    for name, (days, console, mfa, access_keys, fails, key_fails) in IAM_USERS.items():
        with at(days):
            arn = iam.create_user(UserName=name)["User"]["Arn"]
        if console:
            iam.create_login_profile(UserName=name, Password="Not-a-real-pw-1!")
            iam.add_user_to_group(GroupName="developers", UserName=name)
        if mfa:
            dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{name}-mfa")["VirtualMFADevice"]
            iam.enable_mfa_device(UserName=name, SerialNumber=dev["SerialNumber"],
                                  AuthenticationCode1="123456", AuthenticationCode2="654321")
        items.append(Item("aws", "iam-user", arn, fails))
        for key_days, active in access_keys:
            with at(key_days):
                k = iam.create_access_key(UserName=name)["AccessKey"]
            if not active:
                iam.update_access_key(UserName=name, AccessKeyId=k["AccessKeyId"], Status="Inactive")
            items.append(Item("aws", "access-key", f"{arn}/access-key/{k['AccessKeyId']}",
                              key_fails if active else ()))
    for user, policy in DIRECT_POLICIES.items():
        iam.attach_user_policy(UserName=user, PolicyArn=arns[policy])
    iam.update_account_password_policy(**PASSWORD_POLICY)
    items += [Item("aws", "account", f"aws-account:{ACCOUNT}:password-{name}", fails)
              for name, fails in (("policy", ()), ("reuse", ()), ("expiry", ("AWS034",)))]
    # moto's root user has no MFA device, as at a client that never set one up
    items.append(Item("aws", "account", f"arn:aws:iam::{ACCOUNT}:root", ("AWS029", "AWS030")))
    trust = lambda principal, action="sts:AssumeRole", cond=None: aws_seed._policy(
        {"Effect": "Allow", "Principal": principal, "Action": action, **({"Condition": cond} if cond else {})})
    oidc = iam.create_open_id_connect_provider(Url=f"https://{GHA}", ClientIDList=["sts.amazonaws.com"],
                                               ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])
    federated = {"Federated": oidc["OpenIDConnectProviderArn"]}
    roles = {name: (trust(federated, "sts:AssumeRoleWithWebIdentity", cond), fails)
             for name, (cond, fails) in OIDC_ROLES.items()}
    roles["orders-lambda"] = (trust({"Service": "lambda.amazonaws.com"}), ())
    roles["legacy-admin"] = (trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), ())
    with at(100):
        for name, (doc, fails) in roles.items():
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc)["Role"]["Arn"]
            items.append(Item("aws", "oidc-trust" if name.startswith("gha-") else "iam-role", arn, fails))
    for name in roles:
        iam.attach_role_policy(RoleName=name, PolicyArn=arns["payments-secrets-read"])
    iam.put_role_policy(RoleName="legacy-admin", PolicyName="everything", PolicyDocument=aws_seed._policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    items.append(Item("aws", "iam-policy", f"arn:aws:iam::{ACCOUNT}:role/legacy-admin/inline/everything",
                      ("AWS013",), ("AWS014",)))
    iam.put_role_policy(RoleName="orders-lambda", PolicyName="orders-secrets", PolicyDocument=aws_seed._policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"{SM_ARN}prod/orders/*"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": keys["prod-orders"]}))
    items.append(Item("aws", "iam-policy", f"arn:aws:iam::{ACCOUNT}:role/orders-lambda/inline/orders-secrets"))
    return items


def _seed_compute(c: Any, values: list[str], keys: dict[str, str]) -> list[Item]:
    items: list[Item] = []
    role = f"arn:aws:iam::{ACCOUNT}:role/orders-lambda"
    for fn, env in LAMBDAS.items():
        literal = {k: _env_value(fn, k, v, values) for k, v in env.items()}
        kms = {"KMSKeyArn": keys[LAMBDA_CMK[fn]]} if fn in LAMBDA_CMK else {}
        arn = getattr(c, "lambda").create_function(
            FunctionName=fn, Runtime="python3.12", Role=role, Handler="handler.handler", **kms,
            Code={"ZipFile": aws_seed._zip()}, Environment={"Variables": {k: v for k, (v, _) in literal.items()}},
        )["FunctionArn"]
        holds = any(secret for _, secret in literal.values())
        items.append(Item("aws", "env-secret", arn, () if kms else ("AWS028",), ("AWS020",) if holds else (),
                          listed=False))
        items += [Item("aws", "env-secret", f"{arn}#env:{k}", ("*",) if secret else (), listed=secret)
                  for k, (_, secret) in literal.items()]
    for family, env in ECS_TASKS.items():
        literal = {k: _env_value(family, k, v, values) for k, v in env.items()}
        td = c.ecs.register_task_definition(family=family, containerDefinitions=[{
            "name": "app", "image": f"ghcr.io/northwind/{family}:2026.11", "memory": 512,
            "environment": [{"name": k, "value": v} for k, (v, _) in literal.items()],
            "secrets": [{"name": "API_KEY", "valueFrom": f"{SM_ARN}prod/payments/stripe-api-key-AbCdEf"}],
        }])["taskDefinition"]["taskDefinitionArn"]
        holds = any(secret for _, secret in literal.values())
        items.append(Item("aws", "env-secret", td, may=("AWS020",) if holds else (), listed=False))
        items += [Item("aws", "env-secret", f"{td}#container=app#env:{k}", ("*",) if secret else (), listed=secret)
                  for k, (_, secret) in literal.items()]
    return items


def _seed_trails(c: list[Any], key_arn: str) -> list[Item]:
    bucket = "northwind-cloudtrail-logs"
    c[0].s3.create_bucket(Bucket=bucket)
    org = c[0].cloudtrail.create_trail(Name="northwind-org-trail", S3BucketName=bucket, IsMultiRegionTrail=True,
                                       EnableLogFileValidation=True, KmsKeyId=key_arn)["TrailARN"]
    c[0].cloudtrail.start_logging(Name=org)
    c[0].cloudtrail.put_event_selectors(TrailName=org, EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    debug = c[1].cloudtrail.create_trail(Name="eu-debug-trail", S3BucketName=bucket,
                                         EnableLogFileValidation=False)["TrailARN"]
    return [Item("aws", "trail", org), Item("aws", "trail", debug, ("AWS019",))]


# --- git: tables and seeding -------------------------------------------------------------------------

GITIGNORE = "__pycache__/\n.env\n.env.*\n!.env.example\n"
PRECOMMIT = ("repos:\n  - repo: https://github.com/gitleaks/gitleaks\n    rev: v8.21.2\n"
             "    hooks:\n      - id: gitleaks\n")
_WF = "name: {name}\non: {on}\n{extra}jobs:\n  {name}:\n    runs-on: ubuntu-latest\n{body}"
_STEPS = "    steps:\n      - uses: actions/checkout@v4\n"
OIDC_PERMS = "permissions:\n  id-token: write\n  contents: read\n"
#: CI workflows: repo -> {path: (text, checks it must fail)}.
WORKFLOWS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "checkout": {
        "deploy.yml": (git_seed.DEPLOY_OIDC, ()),
        "secret-scan.yml": (git_seed.SECRET_SCAN, ()),
        "legacy-deploy.yml": (_WF.format(name="legacy", on="workflow_dispatch", extra="", body=_STEPS + (
            "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n"
            "          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
            "          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n"
            "          aws-region: us-east-1\n")), ("CI001",)),
        "debug.yml": (_WF.format(name="debug", on="workflow_dispatch", extra="", body=_STEPS + (
            '      - run: echo "deploy token ${{ secrets.DEPLOY_TOKEN }}"\n')), ("CI003",)),
        "call-release.yml": (_WF.format(name="release", on="push", extra="", body="").replace(
            "    runs-on: ubuntu-latest\n", "    uses: northwind/workflows/.github/workflows/release.yml@main\n"
            "    secrets: inherit\n"), ("CI002",)),
        "migrate.yml": (_WF.format(name="migrate", on="workflow_dispatch", extra=OIDC_PERMS, body=_STEPS + (
            "      - run: ./migrate.sh\n        env:\n"
            "          DATABASE_PASSWORD: ${{ secrets.PROD_DB_PASSWORD }}\n")), ("CI004",)),
        "notify.yml": (_WF.format(name="notify", on="push", extra=OIDC_PERMS, body=_STEPS + (
            "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n"
            "          role-to-assume: ${{ secrets.PROD_DEPLOY_ROLE_ARN }}\n          aws-region: us-east-1\n"
            "      - run: ./notify.sh ${{ vars.PROD_API_URL }}\n        env:\n"
            "          SLACK_WEBHOOK: ${{ secrets.SLACK_WEBHOOK }}\n")), ()),
        "test.yml": (_WF.format(name="test", on="[pull_request]", extra="", body=_STEPS + (
            "      - run: pytest\n      - uses: codecov/codecov-action@v4\n        with:\n"
            "          token: ${{ secrets.CODECOV_TOKEN }}\n")), ()),
    },
    "web": {"ci.yml": (_WF.format(name="ci", on="[push, pull_request]", extra="", body=_STEPS + (
        "      - run: npm ci && npm test\n")), ())},
    "infra": {"plan.yml": (_WF.format(name="plan", on="[pull_request]", extra=OIDC_PERMS, body=_STEPS + (
        "      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n"
        f"          role-to-assume: arn:aws:iam::{ACCOUNT}:role/gha-checkout-deploy\n"
        "          aws-region: us-east-1\n      - run: terraform plan\n")), ())},
    "ledger": {"deploy.yml": (git_seed.DEPLOY_OIDC, ()), "secret-scan.yml": (git_seed.SECRET_SCAN, ())},
}
#: Commits per repository: (branch, message, {path: text, or None to delete}). ``{v}`` is the file's
#: own canary, ``{shared}`` one value committed in two environments, ``{key}`` a generated PEM key,
#: ``{jwt}`` a bearer token (JWT-shaped, as a real one is), ``{cert}`` a public CA certificate.
GIT_COMMITS: dict[str, list[tuple[str, str, dict[str, str | None]]]] = {
    "checkout": [
        ("main", "Initial commit", {
            "README.md": "# checkout-service\n", ".gitignore": GITIGNORE, ".pre-commit-config.yaml": PRECOMMIT,
            "app/__init__.py": "", "app/settings.py": git_seed.SETTINGS_GOOD,
            "config/prod.yaml": ("database:\n  host: db.prod.northwind.internal\n  port: 5432\n  name: checkout\n"
                                 "  password_ref: vault:secret/prod/payments/db-password\nlog_level: info\n"
                                 "api_url: https://api.northwind.example\ntimeout_ms: 3000\n"
                                 "feature_flags:\n  new_checkout_enabled: true\n"),
            ".env.example": "DB_HOST=localhost\nDB_PASSWORD=changeme\nSTRIPE_SECRET_KEY=<your-stripe-key>\n",
            "certs/ca.pem": "{cert}", "k8s/external-secret.yaml": git_seed.EXTERNAL,
            "k8s/sealed-secret.yaml": git_seed.SEALED, "k8s/sops-secret.yaml": git_seed.SOPS,
            "k8s/configmap.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: checkout-config\ndata:\n"
                                   "  DB_HOST: db.prod.northwind.internal\n  DB_PORT: \"5432\"\n"
                                   "  LOG_LEVEL: info\n  API_URL: https://api.northwind.example\n"),
            "charts/checkout/values.yaml": ("image:\n  tag: 1.2.0\ndatabase:\n  host: db.prod.northwind.internal\n"
                                            "  existingSecret: checkout-db\n  passwordKey: password\n"),
        }),
        ("main", "Legacy payment client", {"app/legacy.py": 'import os\n\nDB_PASSWORD = "{v}"\n'}),
        ("main", "Local env for docker", {".env": "DB_HOST=db.internal\nDB_PASSWORD={v}\nLOG_LEVEL=debug\n"}),
        ("main", "Read settings from the environment", {"app/legacy.py": None, ".env": None}),
        ("main", "Stripe client", {"app/payment_client.py": 'import stripe\n\nSTRIPE_SECRET_KEY = "{v}"\n'}),
        ("main", "Container", {"Dockerfile": ("FROM python:3.12-slim\nENV LOG_LEVEL=info\nENV PORT=8080\n"
                                              "ENV API_TOKEN={v}\nRUN --mount=type=secret,id=pip pip install -r "
                                              "requirements.txt\nCOPY app/ app/\n")}),
        ("main", "Deploy key", {"deploy/id_ed25519": "{key}"}),
        ("main", "Debug output", {"logs/debug.log": ("2026-10-01T10:00:00Z GET /v1/charges "
                                                      "Authorization: Bearer {jwt}\n2026-10-01T10:00:01Z 200 OK\n")}),
    ],
    "web": [("main", "Initial commit", {
        "README.md": "# web-frontend\n", ".gitignore": "node_modules/\ndist/\n",
        "src/config.ts": ('export const API_URL = "https://api.northwind.example";\n'
                          "export const TOKEN_REFRESH_SECONDS = 300;\nexport const PASSWORD_MIN_LENGTH = 12;\n"
                          'export const STRIPE_KEY_PARAMETER = "/prod/web/stripe-publishable-key";\n'),
        ".env.example": "API_URL=http://localhost:8080\nSENTRY_DSN=\nSTRIPE_KEY=<stripe-key>\n",
        "docs/deploy.md": "Secrets live in Vault under `secret/prod/web/`; never put `DB_PASSWORD` here.\n",
    })],
    "infra": [("main", "Initial commit", {
        "README.md": "# platform-infra\n", ".gitignore": GITIGNORE, ".pre-commit-config.yaml": PRECOMMIT,
        "deploy/prod/values.yaml": "database:\n  host: db.prod.northwind.internal\n  password: {shared}\n",
        "deploy/dev/values.yaml": "database:\n  host: db.dev.northwind.internal\n  password: {shared}\n",
        "deploy/staging/values.yaml": "database:\n  host: db.staging.northwind.internal\n  existingSecret: stg-db\n",
        "terraform/variables.tf": 'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n',
        "terraform/prod.tfvars": 'db_host = "db.prod.northwind.internal"\ndb_port = 5432\nlog_level = "info"\n',
    })],
}
#: Findings the repositories must produce: (store, path glob) -> (checks it must fail, checks it may fail).
#: SRC001 overlaps with the file-kind rules (a key, a log, an image file still in HEAD is in the tree).
GIT_FINDINGS: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("checkout", "app/legacy.py"): (("SRC002",), ()),
    ("checkout", ".env"): (("SRC002", "SRC003"), ()),
    ("checkout", "app/payment_client.py"): (("SRC001",), ()),
    ("checkout", "Dockerfile"): (("SRC006",), ("SRC001",)),
    ("checkout", "deploy/id_ed25519"): (("SRC009",), ("SRC001",)),
    ("checkout", "logs/debug.log"): (("SRC008",), ("SRC001",)),
    ("infra", "deploy/[pd]*/values.yaml"): (("SRC006", "SRC007"), ("SRC001",)),  # prod and dev
}
GIT_REPO_FAILS = {"web": ("SRC004", "SRC005")}


def seed_git(root: Path, values: list[str]) -> tuple[list[Item], dict[str, Path]]:
    """Write the repositories with ``git fast-import``; returns items and store name -> path."""
    items: list[Item] = []
    paths: dict[str, Path] = {}
    shared = canary("git:shared-db-password")
    key = git_seed.fake_private_key("noisy-deploy-key")
    jwt = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=") for part in (
        {"alg": "HS256", "typ": "JWT"}, {"sub": "checkout-service", "jti": canary("git:jwt")}, {"sig": canary("sig")}))
    values += [shared, key, jwt]
    for store in ("checkout", "web", "infra", "ledger"):
        fi = git_seed._ledger_service("noisy") if store == "ledger" else git_seed.FastImport()
        for branch, message, files in GIT_COMMITS.get(store, []):
            body: dict[str, str | bytes | None] = {}
            for path, text in files.items():
                if text is None:  # deleted: what it held stays in history
                    body[path] = None
                    continue
                if "{v}" in text:
                    values.append(own := canary(f"git:{store}:{path}"))
                    text = text.replace("{v}", own)
                for mark, planted in (("{shared}", shared), ("{key}", key), ("{jwt}", jwt),
                                      ("{cert}", git_seed.fake_certificate(store))):
                    text = text.replace(mark, planted)
                body[path] = text
                items.append(Item("git", "source", f"git:{store}:{path}:*", listed=False))
            fi.commit(branch, message, body)
        if store != "ledger":
            fi.commit("main", "CI", {f".github/workflows/{n}": t for n, (t, _) in WORKFLOWS[store].items()})
        items += [Item("git", "ci", f"git:{store}:.github/workflows/{n}", fails)
                  for n, (_, fails) in WORKFLOWS[store].items()]
        fi.write(paths.setdefault(store, root / store))
        items.append(Item("git", "repository", f"git:{store}", GIT_REPO_FAILS.get(store, ())))
    for (store, glob), (fails, may) in GIT_FINDINGS.items():
        resource = f"git:{store}:{glob}:*"
        items = [i for i in items if not fnmatch.fnmatchcase(i.resource, resource)]
        items.append(Item("git", "source", resource, fails, may))
    return items, paths


# --- audit traffic: the log window the consultant receives --------------------------------------------


def drive_traffic(address: str, h: VaultHandles) -> list[Item]:
    """Service reads after the estate was set up: one reader per secret, plus four planted anomalies.

    A consumer pinned to an old KV version (AUD010), two services sharing one
    secret (AUD012, on the secret), a read outside a service's policy (AUD004)
    and a burst of failed logins, which carry no token (AUD005, never AUD004).
    """
    def get(token: str, path: str, ok: int = 200, **params: Any) -> None:
        r = requests.get(f"{address}/v1/secret/data/{path}", headers={"X-Vault-Token": token}, params=params,
                         timeout=10)
        assert r.status_code == ok, f"traffic GET {path}: HTTP {r.status_code}"

    for _ in range(3):
        get(h.tokens["payments-api"], "prod/payments/api-key")
        get(h.tokens["orders-worker"], "prod/orders/api-key")
    get(h.tokens["orders-worker"], "prod/orders/api-key", version=1)
    for reader in ("warehouse-loader", "warehouse-reporter"):
        get(h.tokens[reader], "prod/analytics/warehouse-api-key")
    get(h.tokens["payments-api"], "prod/orders/api-key", ok=403)
    for i in range(6):
        r = requests.post(f"{address}/v1/auth/userpass/login/carol", json={"password": f"wrong-{i}"}, timeout=10)
        assert r.status_code in (400, 403)
    return [
        Item("audit", "audit-signal", "core:stale_version_read:*secret/data/prod/orders/api-key*", ("AUD010",)),
        Item("audit", "audit-signal", "core:denied:*secret/data/prod/orders/api-key*", ("AUD004",)),
        Item("audit", "audit-signal", "core:failed_logins:*", ("AUD005",)),
        Item("audit", "audit-store", "audit:core"),
        # what the window does not hold: each must not fail (no stale or denied read by the other consumers,
        # failed logins are no policy denial, no human read, no root use, no change, no long-TTL token)
        *(Item("audit", "audit-signal", f"core:{sig}*", listed=False) for sig in (
            "stale_version_read:*payments-api*", "stale_version_read:*warehouse*", "denied:*auth/userpass/*",
            "off_hours_human", "root_token_use", "policy_change", "auth_change", "long_ttl_token",
            "new_source_ip", "volume_spike")),
    ]


# --- the engagement, as a consultant writes it ---------------------------------------------------------

OWNERS = (  # (owner, pager, globs): first match wins; tags come after these rules
    ("payments-team", "pagerduty:payments-oncall", ["*payments*", "*stripe*", "*checkout*"]),
    ("orders-team", "pagerduty:orders-oncall", ["*orders*"]),
    ("web-team", "#web-oncall", ["*/web/*", "*web-*", "*northwind.example*", "*recaptcha*"]),
    ("analytics-team", "pagerduty:analytics-oncall", ["*analytics*", "*warehouse*", "*report*"]),
    ("platform-team", "pagerduty:platform-oncall", ["*platform*", "*legacy*", "transit*", "*pki*", "*alias/*",
                                                    "*Acme Payments*", "*:user/*", "*/eu/*"]),
)


def engagement_document(stores: dict[str, Any], today: date) -> dict[str, Any]:
    """The engagement: stores, classification, owners with pagers, waivers, attestations."""
    ahead, fresh, stale = today + timedelta(days=120), today - timedelta(days=40), today - timedelta(days=400)
    waiver = lambda check, resource, reason, approver, expires: {
        "check": check, "resource": resource, "reason": reason, "approver": approver, "expires": expires}
    attest = lambda item, when, **kw: {"item": item, "evidence": f"{WIKI}/{item.replace('_', '-')}",
                                       "owner": "security-team", "date": when, **kw}
    return {
        "client": CLIENT,
        "description": "Northwind Payments: quarterly secrets-posture review (noisy precision estate)",
        "stores": stores,
        "classification": {
            "environments": [
                {"environment": "prod", "match": ["*prod*", "*production*"]},
                {"environment": "staging", "match": ["*staging*"]},
                {"environment": "dev", "match": ["*dev*", "*sandbox*"]},
                {"environment": "prod", "match": ["*northwind.example"]},  # public domains serve production
            ],
            "secret_types": [
                {"type": "db-password", "match": ["*db-password*", "*database-url*"]},
                {"type": "api-key", "match": ["*api-key*", "*stripe*"]},
                {"type": "signing-key", "match": ["*signing-key*"]},
                {"type": "webhook-secret", "match": ["*webhook*"]},
            ],
            "owners": [{"owner": o, "pager": p, "match": m} for o, p, m in OWNERS],
            "classes": [
                {"class": "regulated", "match": ["*payments*", "*card*", "*stripe*"]},
                {"class": "confidential", "match": ["*prod*"]},
                {"class": "internal", "match": ["*staging*", "*dev*"]},
            ],
        },
        "waivers": [
            waiver("INV003", f"vault:{VAULT_STORE}:secret/shared/*", "shared/ holds environment-independent "
                   "secrets by design (one Datadog key, the CA bundle)", "ciso@northwind-payments.example", ahead),
            waiver("INV003", f"vault:{VAULT_STORE}:secret/common/*", "common/ is configuration read by every "
                   "environment", "ciso@northwind-payments.example", ahead),
            waiver("VLT016", "*legacy*", "KV v1 legacy/ is read-only and retires with the ledger migration",
                   "cto@northwind-payments.example", ahead),
            waiver("VLT00[78]", "*/posture-assessor", "the assessor's read-only policy from 'posture policy "
                   "vault', revoked when the engagement ends", "ciso@northwind-payments.example", ahead),
            waiver("VLT001", f"vault:{VAULT_STORE}:server", "raft migration was planned for last quarter",
                   "cto@northwind-payments.example", today - timedelta(days=30)),  # expired: fails again
        ],
        "attestations": [
            attest("rotation_runbook", fresh), attest("leak_playbook", fresh), attest("audit_retention", fresh),
            attest("anomaly_alerting", fresh), attest("time_to_revoke", fresh, value=11.0),
            attest("access_review", stale),  # more than a year old: stale evidence fails
        ],
        "business_timezone": "Europe/London",
    }


ENGAGEMENT_ITEMS = [Item("engagement", "attestation", f"attestation:{a}") for a in (
    "rotation_runbook", "leak_playbook", "audit_retention", "anomaly_alerting", "time_to_revoke")] + [
    Item("engagement", "attestation", "attestation:access_review", ("OPS012",))]


# --- build, collect, assess ----------------------------------------------------------------------------


@dataclass
class NoisyEstate:
    """The seeded estate: its workspace, the ground truth and every planted value."""

    ws: Workspace
    quarter: str
    items: list[Item]
    values: list[str]
    env: dict[str, str]
    assessor_token: str
    root_token: str
    seconds: float = 0.0

    def secrets(self) -> tuple[str, ...]:
        """Every value no written file may contain: the canaries, generated keys and both tokens."""
        return tuple(v for v in dict.fromkeys([*self.values, self.assessor_token, self.root_token]) if v)


def build_estate(root: Path, bao: Any, moto: Any) -> NoisyEstate:
    """Seed OpenBao, moto and git (``root/estate``), write the engagement (``root/workspace``); collect nothing.

    The estate's repositories and audit log hold the planted values, so they
    live outside the workspace, where everything the kit writes must be clean.

    ``bao`` is a running `OpenBaoDevServer` of its own (its audit log must hold
    this estate only), ``moto`` a fresh (or reset) in-process `MotoServer`.
    """
    started = time.perf_counter()
    now, values = datetime.now(UTC), []
    estate_dir = root / "estate"
    estate_dir.mkdir(parents=True, exist_ok=True)
    demo = DemoEstate(dir=estate_dir, bao=bao, moto=moto, root_token=bao.root_token)
    env = _collector_env(demo)
    items, handles = seed_vault(bao.address, bao.root_token, values)
    grant_assessor(demo)
    for name, token in (("root", bao.root_token), (POLICY_NAME, demo.assessor_token)):
        handles.accessors[name] = _Api(bao.address, token).call("GET", "auth/token/lookup-self")["data"]["accessor"]
    items += [Item("vault", "assessor", f"vault:{VAULT_STORE}:sys/policies/acl/{POLICY_NAME}",
                   waived=("VLT007", "VLT008")),
              Item("vault", "token", f"token:{POLICY_NAME}")]
    live_log = bao.audit_log("file")
    offset = live_log.stat().st_size
    items += drive_traffic(bao.address, handles)
    window = estate_dir / "logs" / "openbao-audit.log"
    window.parent.mkdir(parents=True, exist_ok=True)
    with open(live_log, "rb") as src:
        src.seek(offset)
        window.write_bytes(src.read())
    with scoped_environ(env, ("VAULT_", "AWS_")):
        items += seed_aws(moto.endpoint_url, values, now)
    git_items, repos = seed_git(estate_dir / "repos", values)
    items += git_items + ENGAGEMENT_ITEMS

    stores = {
        "vault": [{"name": VAULT_STORE, "address": bao.address, "auth": {"method": "token", "token_env": "VAULT_TOKEN"},
                   "concurrency": 8, "audit_logs": [str(window)]}],
        "aws": [{"name": AWS_STORE, "regions": list(REGIONS), "endpoint_url": moto.endpoint_url, "concurrency": 8}],
        "git": [{"name": name, "url": str(path)} for name, path in repos.items()],
    }
    ws = _write_engagement(root / "workspace", engagement_document(stores, now.date()))
    key = ws.fingerprint_key()
    tokens = {f"token:{n}": f"vault:{VAULT_STORE}:token:{fingerprint(key, a)}" for n, a in handles.accessors.items()}
    items = [Item(i.source, i.cls, tokens.get(i.resource, i.resource), i.fails, i.may, i.waived, i.listed)
             for i in items]
    env = {**env, "VAULT_TOKEN": demo.assessor_token}
    return NoisyEstate(ws=ws, quarter=current_quarter(now.date()), items=items, values=values, env=env,
                       assessor_token=demo.assessor_token, root_token=bao.root_token,
                       seconds=time.perf_counter() - started)


def _write_engagement(root: Path, doc: dict[str, Any]) -> Workspace:
    import io

    from ruamel.yaml import YAML

    from posture.model.engagement import parse_engagement

    buf = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    yaml.representer.ignore_aliases = lambda *_: True
    yaml.dump(doc, buf)
    path = root / "engagements" / CLIENT / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# Engagement for Northwind Payments (issue 11 precision estate). Credentials come from the environment.\n"
    parse_engagement(text + buf.getvalue(), path)
    path.write_text(text + buf.getvalue())
    return Workspace(root=root, client=CLIENT, engagement_path=path)


def collect_and_assess(estate: NoisyEstate, run_notebooks: bool = False) -> AssessOutcome:
    """``posture collect`` (SSM tags on) and ``posture assess`` use cases with the assessor's token."""
    with scoped_environ(estate.env, ("VAULT_", "AWS_")):
        collect(estate.ws, estate.quarter, options={"aws_parameter_tags": True})
    return assess(estate.ws, estate.quarter, run_notebooks=run_notebooks)


# --- scoring -------------------------------------------------------------------------------------------

#: Issue 11's classes, for routing misses and false failures: first by check, then by the item's class.
ROUTES = (("AUD*", "8 audit"), ("VLT008", "2 VLT008 cross-env"), ("VLT007", "3 VLT007 sys access"),
          ("LCY004", "4 CA vs leaf"), ("AWS015", "5 OIDC trust"), ("VLT010", "6 periodic tokens"))
ISSUE_CLASS = {
    **dict.fromkeys(("config", "plaintext-secret", "static-db-password", "rotating-secret", "recent-secret",
                     "stale-secret"), "1 config vs secret"),
    "cross-env": "2 VLT008 cross-env", "deny-overlay": "2 VLT008 cross-env", "env-less": "2 VLT008 cross-env",
    "least-privilege": "2 VLT008 cross-env", "sys": "3 VLT007 sys access", "sys-self-service": "3 VLT007 sys access",
    "ca-certificate": "4 CA vs leaf", "leaf-certificate": "4 CA vs leaf", "oidc-trust": "5 OIDC trust",
    "token": "6 periodic tokens", "env-secret": "7 Lambda/ECS secrets", "audit-signal": "8 audit",
}


def route(check: str, item: Item | None) -> str:
    """Which of issue 11's classes a miss or false failure belongs to (``other`` if none)."""
    for glob, name in ROUTES:
        if fnmatch.fnmatchcase(check, glob):
            return name
    return ISSUE_CLASS.get(item.cls if item else "", "other")


FAMILIES = ("VLT", "AWS", "SRC", "CI", "INV", "LCY", "AUD", "OPS")


def _rx(glob: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(glob))


def family(check: str) -> str:
    return re.match(r"[A-Z]*", check).group() or "ANY"


@dataclass
class Score:
    """An assessment against the ground truth, pair by pair: (resource, check)."""

    found: list[tuple[Item, str, str]]  # item, expected check (or glob), the check that failed it
    misses: list[tuple[Item, str, str]]  # item, expected check, what the kit said instead
    false_failures: list[tuple[str, str, str, Item | None]]  # resource, check, source, the item it is
    true_failures: list[tuple[str, str, str]]  # resource, check, source
    unseen: list[Item]  # listed items the snapshot does not hold
    waived: int  # rows the engagement's waivers cover, as written
    unexpected_waivers: list[tuple[str, str]]  # (resource, check) waived that no waiver was written for

    def table(self, by: str) -> list[tuple[str, int, int, int, int, float, float]]:
        """(group, expected, found, failed, false, precision, recall) per source or family."""
        key = (lambda src, chk: src) if by == "source" else (lambda src, chk: family(chk))
        exp, got, fails, false = Counter(), Counter(), Counter(), Counter()
        for item, _, chk in self.found:
            exp[key(item.source, chk)] += 1
            got[key(item.source, chk)] += 1
        for item, chk, _ in self.misses:
            exp[key(item.source, chk)] += 1
        for _, chk, src in self.true_failures:
            fails[key(src, chk)] += 1
        for _, chk, src, _ in self.false_failures:
            fails[key(src, chk)] += 1
            false[key(src, chk)] += 1
        order = (*FAMILIES, "ANY") if by == "family" else ()
        groups = sorted(set(exp) | set(fails), key=lambda g: (order.index(g) if g in order else len(order), g))
        rows = []
        for g in [*groups, "total"]:
            e = sum(exp.values()) if g == "total" else exp[g]
            f = sum(got.values()) if g == "total" else got[g]
            n = sum(fails.values()) if g == "total" else fails[g]
            x = sum(false.values()) if g == "total" else false[g]
            rows.append((g, e, f, n, x, (n - x) / n if n else 1.0, f / e if e else 1.0))
        return rows

    def by_class(self) -> dict[str, list[str]]:
        """Misses and false failures, one line each, grouped by issue-11 class (`route`)."""
        grouped: dict[str, list[str]] = defaultdict(list)
        for item, chk, seen in self.misses:
            grouped[route(chk, item)].append(f"  MISS  {chk:<7} {item.resource}  [{item.cls}] kit: {seen}")
        for res, chk, _, item in self.false_failures:
            grouped[route(chk, item)].append(f"  FALSE {chk:<7} {res}  [{item.cls if item else 'no seeded item'}]")
        return {g: sorted(lines) for g, lines in sorted(grouped.items())}

    def report(self) -> str:
        """Misses and false failures grouped by issue-11 class, for routing."""
        out = []
        for g, lines in self.by_class().items():
            out += [f"{g}: {len(lines)}", *lines]
        if self.unseen:
            out.append(f"not in the snapshot ({len(self.unseen)}): " + ", ".join(i.resource for i in self.unseen))
        if self.unexpected_waivers:
            out.append("waived without a waiver written for it: " + ", ".join(
                f"{c} {r}" for r, c in self.unexpected_waivers))
        return "\n".join(out) or "full recall, no false failure"


def score(assessment: Any, snapshot: Any, items: list[Item]) -> Score:
    """Compare an `Assessment`'s findings and its `Snapshot` with the truth.

    Every required (resource, check) pair must fail; any other failing row is a
    false failure; every listed item must be in the snapshot.
    """
    f = assessment.findings
    res, chk, src = (f[c].astype(str).to_numpy() for c in ("resource", "check_id", "source"))
    status = f["status"].astype(str).to_numpy()
    exact: dict[str, list[Item]] = defaultdict(list)
    globs = []
    for i in items:
        if any(ch in i.resource for ch in "*?["):
            globs.append((_rx(i.resource), i))
        else:
            exact[i.resource].append(i)
    matches: dict[str, list[Item]] = {}

    def items_of(resource: str) -> list[Item]:
        if resource not in matches:
            matches[resource] = exact.get(resource, []) + [i for r, i in globs if r.match(resource)]
        return matches[resource]

    rows_of: dict[int, list[int]] = defaultdict(list)  # id(item) -> result rows about it
    for k, r in enumerate(res):
        for i in items_of(r):
            rows_of[id(i)].append(k)
    failing = {(r, c, s) for r, c, s, st in zip(res, chk, src, status) if st == "fail"}
    true, false = [], []
    for r, c, s in sorted(failing):
        owners = items_of(r)
        if any(fnmatch.fnmatchcase(c, g) for i in owners for g in (*i.fails, *i.may)):
            true.append((r, c, s))
        else:
            false.append((r, c, s, owners[0] if owners else None))
    reasons = None
    found, misses = [], []
    for item in items:
        for want in item.fails:
            hit = [k for k in rows_of[id(item)] if fnmatch.fnmatchcase(chk[k], want)]
            failed = [chk[k] for k in hit if status[k] == "fail"]
            if failed:
                found.append((item, want, failed[0]))
                continue
            if reasons is None:
                reasons = assessment.evidence_records()
            seen = sorted({status[k] + (f" ({reasons[k].get('not_assessed_reason')})"
                                        if status[k] == "not_assessed" else "") for k in hit})
            misses.append((item, want, "; ".join(seen) or "no result row"))
    ids = set(res)
    for table in snapshot.tables:
        ids |= set(snapshot.frame(table)["id"].astype(str))
    unseen = [i for i in items if i.listed and i.resource not in ids
              and not (any(ch in i.resource for ch in "*?[") and any(map(_rx(i.resource).match, ids)))]
    waived = {(r, c) for r, c, st in zip(res, chk, status) if st == "waived"}
    unexpected = sorted((r, c) for r, c in waived
                        if not any(fnmatch.fnmatchcase(c, g) for i in items_of(r) for g in i.waived))
    return Score(found, misses, false, true, unseen, len(waived) - len(unexpected), unexpected)
