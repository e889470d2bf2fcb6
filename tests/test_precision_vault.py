"""Precision of the Vault policy and token checks on a real OpenBao (issue #11, items 2, 3 and 6).

Each check meets its problem and clean look-alikes of it, all written to the session OpenBao
and read back by the real collector: deny-overlaid and environment-less ("shared/",
"common/") policies next to engine-wide ones (VLT008), the built-in ``default`` policy and
fenced broad policies next to admin ones (VLT007), periodic tokens and roles with and
without an explicit max TTL (VLT010). Where a verdict rests on what a policy grants, the
server is asked too (``sys/capabilities``) and must agree; the periodic-token rule is shown
on the server by renewing past a max TTL. Canary values are planted; none may reach a file.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
import requests
from conftest import CANARIES, assert_no_canary
from vault_fixtures import FP_KEY, run_collector

from checks.engine import run_assessment
from checks.export import write_assessment
from checks.vault_reach import ROOT_EQUIVALENT_PATHS, secret_api_paths
from checks.views import access_model, cross_env, leak_cards
from posture.model.acl import common_path, parse_pattern
from posture.model.engagement import Classification, Engagement, EnvironmentRule
from posture.model.snapshot import Manifest, Snapshot
from posture.workspace import fingerprint

KV, SHARED, APPROLE = "pv-kv", "pv-shared", "pv-approle"
#: mount-relative secret names; shared/ and common/ carry no environment
KV_SECRETS = ("prod/payments/db-password", "prod/orders/api-key", "staging/payments/db-password",
              "dev/payments/db-password", "shared/partner-api-key", "common/feature-key")
SHARED_SECRETS = ("tls/ca-chain", "config/partner-api-key")


def hcl(rules: list[tuple[str, list[str]]]) -> str:
    return "".join(f'path "{p}" {{\n  capabilities = {list(c)!r}\n}}\n'.replace("'", '"') for p, c in rules)


DEFAULT_LIKE = [  # a service policy that copied the default policy's self-service paths
    ("auth/token/lookup-self", ["read"]), ("auth/token/renew-self", ["update"]),
    ("sys/capabilities-self", ["update"]), ("sys/leases/renew", ["update"]), ("sys/renew", ["update"]),
    ("sys/wrapping/unwrap", ["update"]), ("sys/control-group/request", ["update"]),
    ("identity/entity/id/{{identity.entity.id}}", ["read"]), ("cubbyhole/*", ["create", "read", "update"]),
    (f"{KV}/data/prod/payments/*", ["read"]),
]
POLICIES: dict[str, list[tuple[str, list[str]]]] = {
    # VLT008 look-alikes: one environment after denies, or environment-less extras
    "pv-prod-read": [(f"{KV}/data/prod/payments/*", ["read"]), (f"{KV}/metadata/prod/payments/*", ["list"])],
    "pv-prod-plus-shared": [(f"{KV}/data/prod/*", ["read"]), (f"{KV}/data/shared/*", ["read"]),
                            (f"{KV}/data/common/*", ["read"])],
    "pv-dev-only": [(f"{KV}/data/*", ["read"]), (f"{KV}/data/prod/*", ["deny"]), (f"{KV}/data/staging/*", ["deny"])],
    "pv-payments-dev": [(f"{KV}/data/+/payments/*", ["read"]), (f"{KV}/data/prod/*", ["deny"]),
                        (f"{KV}/data/staging/*", ["deny"])],
    "pv-shared-engine": [(f"{SHARED}/data/*", ["read"]), (f"{KV}/data/prod/*", ["read"])],
    "pv-lists-all": [(f"{KV}/metadata/*", ["list", "read"]), (f"{KV}/data/dev/*", ["read"])],
    # VLT008 problems
    "pv-engine-wide": [(f"{KV}/data/*", ["read"])],
    "pv-payments-every-env": [(f"{KV}/data/+/payments/*", ["read"])],
    "pv-prod-dev": [(f"{KV}/data/prod/payments/*", ["read"]), (f"{KV}/data/dev/payments/*", ["read"])],
    "pv-prod-db-denied": [(f"{KV}/data/*", ["read"]), (f"{KV}/data/prod/payments/db-password", ["deny"])],
    "pv-prod-and-empty-qa": [(f"{KV}/data/prod/*", ["read"]), (f"{KV}/data/qa/*", ["read", "create"])],
    # who can read, and principals judged on all their policies together
    "pv-all-read": [(f"{KV}/*", ["read"])],
    "pv-deny-prod-staging": [(f"{KV}/data/prod/*", ["deny"]), (f"{KV}/data/staging/*", ["deny"])],
    # VLT007 look-alikes
    "pv-ops-viewer": [("sys/mounts", ["read"]), ("sys/auth", ["read"]), ("sys/policies/acl/*", ["read", "list"]),
                      ("sys/health", ["read"])],
    "pv-fenced-broad": [("+/*", ["read", "update"]), ("sys/*", ["deny"]), ("identity/*", ["deny"]),
                        ("auth/*", ["deny"])],
    "pv-default-like": DEFAULT_LIKE,
    # VLT007 problems
    "pv-admin": [("sys/policies/acl/*", ["create", "read", "update", "delete", "list"]),
                 ("sys/mounts/*", ["create", "update", "delete"]), ("sys/auth/*", ["create", "update", "sudo"])],
    "pv-two-deep": [("+/+", ["update"])],
    "pv-identity-admin": [("identity/entity/*", ["create", "update"]), ("identity/group/*", ["update"])],
    "pv-sudo-audit-reader": [("sys/audit", ["read", "sudo"])],
    "pv-sys-glob": [("sys/*", ["create", "read", "update"])],
}
VLT008_CLEAN = ("pv-prod-read", "pv-prod-plus-shared", "pv-dev-only", "pv-payments-dev", "pv-shared-engine",
                "pv-lists-all")
VLT008_PROBLEMS = ("pv-engine-wide", "pv-payments-every-env", "pv-prod-dev", "pv-prod-db-denied",
                   "pv-prod-and-empty-qa", "pv-all-read")
VLT007_CLEAN = ("pv-ops-viewer", "pv-fenced-broad", "pv-default-like", "pv-prod-read", "pv-dev-only")
VLT007_PROBLEMS = ("pv-admin", "pv-two-deep", "pv-identity-admin", "pv-sudo-audit-reader", "pv-sys-glob")
ROLE_POLICIES = {  # approle roles binding policy sets (principals)
    "pv-reader-prod": ["pv-prod-read"],
    "pv-reader-fenced": ["pv-all-read", "pv-deny-prod-staging"],
    "pv-combined-cross": ["pv-prod-read", "pv-lists-all"],
}


class Bao:
    """A root-token client for seeding the session OpenBao (writes are the point here).

    Every token it sees issued is remembered, so `cleanup` leaves the shared server as the
    other test modules expect it.
    """

    def __init__(self, openbao) -> None:
        self.address = openbao.address
        self.root = openbao.root_token
        self.session = requests.Session()
        self.issued: list[str] = []  # accessors

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None,
             ok: tuple[int, ...] = (200, 204)) -> dict[str, Any]:
        r = self.session.request(method, f"{self.address}/v1/{path}", json=body, timeout=10,
                                 headers={"X-Vault-Token": token or self.root})
        assert r.status_code in ok, (method, path, r.status_code, r.text[:300])
        out = r.json() if r.content else {}
        if isinstance(out.get("auth"), dict) and out["auth"].get("accessor"):
            self.issued.append(out["auth"]["accessor"])
        return out

    def cleanup(self) -> None:
        """Revoke the tokens, drop the roles, policies, auth method and mounts this module made."""
        ok = (200, 204, 400, 403, 404)
        for accessor in self.issued:
            self.call("POST", "auth/token/revoke-accessor", {"accessor": accessor}, ok=ok)
        for role in self.call("LIST", "auth/token/roles", ok=(200, 404)).get("data", {}).get("keys", []):
            if role.startswith("pv-"):
                self.call("DELETE", f"auth/token/roles/{role}", ok=ok)
        for name in self.call("LIST", "sys/policies/acl")["data"]["keys"]:
            if name.startswith("pv-"):
                self.call("DELETE", f"sys/policies/acl/{name}", ok=ok)
        self.call("DELETE", f"sys/auth/{APPROLE}", ok=ok)
        for mount in (KV, SHARED):
            self.call("DELETE", f"sys/mounts/{mount}", ok=ok)

    def token(self, policies: list[str], **extra: Any) -> dict[str, Any]:
        body = {"policies": policies, "no_default_policy": True, "ttl": "1h", **extra}
        return self.call("POST", "auth/token/create", body)["auth"]

    def capabilities(self, token: str, paths: list[str]) -> dict[str, set[str]]:
        answer = self.call("POST", "sys/capabilities", {"token": token, "paths": paths})
        return {p: set(answer[p]) - {"deny"} for p in paths}


@pytest.fixture(scope="module")
def bao(openbao):
    client = Bao(openbao)
    yield client
    client.cleanup()


@pytest.fixture(scope="module")
def estate(bao: Bao) -> dict[str, Any]:
    """Mounts, secrets (canary values), policies, roles and tokens; returns what tests look up."""
    mounts = bao.call("GET", "sys/mounts")["data"]
    for mount in (KV, SHARED):
        if f"{mount}/" not in mounts:
            bao.call("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})
    for i, name in enumerate(KV_SECRETS):
        bao.call("POST", f"{KV}/data/{name}", {"data": {"value": CANARIES[i % len(CANARIES)]}})
    for name in SHARED_SECRETS:
        bao.call("POST", f"{SHARED}/data/{name}", {"data": {"value": CANARIES[0]}})
    for name, rules in POLICIES.items():
        bao.call("PUT", f"sys/policies/acl/{name}", {"policy": hcl(rules)})
    if f"{APPROLE}/" not in bao.call("GET", "sys/auth")["data"]:
        bao.call("POST", f"sys/auth/{APPROLE}", {"type": "approle"})
    for name, policies in ROLE_POLICIES.items():
        bao.call("POST", f"auth/{APPROLE}/role/{name}", {"token_policies": policies, "token_ttl": "1h",
                                                         "token_max_ttl": "4h"})
    # periodic roles: a token_max_ttl does not bound a periodic token; only an explicit max does
    bao.call("POST", f"auth/{APPROLE}/role/pv-periodic", {"token_policies": ["pv-prod-read"],
                                                          "token_period": "1h", "token_max_ttl": "2h"})
    bao.call("POST", f"auth/{APPROLE}/role/pv-periodic-capped", {"token_policies": ["pv-prod-read"],
                                                                 "token_period": "1h",
                                                                 "token_explicit_max_ttl": "4h"})
    bao.call("POST", "auth/token/roles/pv-ci-forever", {"allowed_policies": ["pv-prod-read"], "token_period": "24h"})
    bao.call("POST", "auth/token/roles/pv-ci-bounded", {"allowed_policies": ["pv-prod-read"], "token_period": "24h",
                                                        "token_explicit_max_ttl": "72h"})
    accessors: dict[str, str] = {}
    secrets: list[str] = []  # client tokens and secret ids: must never reach a file

    def keep(name: str, auth: dict[str, Any]) -> None:
        accessors[name] = auth["accessor"]
        secrets.append(auth["client_token"])

    keep("forever", bao.token(["pv-prod-read"], period="24h", display_name="pv-periodic-forever"))
    keep("bounded", bao.token(["pv-prod-read"], period="24h", explicit_max_ttl="72h",
                              display_name="pv-periodic-bounded"))
    keep("capped-high", bao.token(["pv-prod-read"], period="24h", explicit_max_ttl="1440h",
                                  display_name="pv-periodic-60d"))
    keep("plain", bao.token(["pv-prod-read"], display_name="pv-plain"))
    for role in ("pv-ci-forever", "pv-ci-bounded"):
        keep(role, bao.call("POST", f"auth/token/create/{role}", {"display_name": f"from-{role}"})["auth"])
    for role in ("pv-periodic", "pv-periodic-capped"):
        role_id = bao.call("GET", f"auth/{APPROLE}/role/{role}/role-id")["data"]["role_id"]
        secret_id = bao.call("POST", f"auth/{APPROLE}/role/{role}/secret-id")["data"]["secret_id"]
        secrets.append(secret_id)
        keep(f"login-{role}", bao.call("POST", f"auth/{APPROLE}/login",
                                       {"role_id": role_id, "secret_id": secret_id})["auth"])
    return {"accessors": accessors, "secrets": secrets}


def collect(openbao, token: str, estate: dict[str, Any], dest, engagement: Engagement | None = None):
    sink, _ = run_collector(openbao.address, token, mounts=[KV, SHARED])
    now = datetime.now(UTC)
    sink.write(dest / "snapshot", Manifest(client="acme", quarter="2026-Q4", engagement_sha256="",
                                           started_at=now, finished_at=now))
    snap = Snapshot.load(dest / "snapshot")
    a = run_assessment(snap, engagement or Engagement(client="acme"), now)
    assert not a.errors, a.errors
    return snap, a


@pytest.fixture(scope="module")
def assessed(openbao, estate, tmp_path_factory):
    dest = tmp_path_factory.mktemp("precision-vault")
    snap, a = collect(openbao, openbao.root_token, estate, dest)
    return snap, a, dest


def status(a, check_id: str, resource: str) -> str:
    f = a.findings
    hit = f[(f["check_id"].astype(str) == check_id) & (f["resource"].astype(str) == resource)]
    assert len(hit) == 1, (check_id, resource, len(hit))
    return str(hit["status"].iloc[0])


def evidence(a, check_id: str, resource: str) -> dict[str, Any]:
    f = a.findings.reset_index(drop=True)
    ev = a.evidence_records()
    i = f.index[(f["check_id"].astype(str) == check_id) & (f["resource"].astype(str) == resource)][0]
    return ev[i]


def policy_id(name: str) -> str:
    return f"vault:core:sys/policies/acl/{name}"


def token_id(estate, name: str) -> str:
    return f"vault:core:token:{fingerprint(FP_KEY, estate['accessors'][name])}"


# --- VLT008: cross-environment policies ---------------------------------------------------------


def test_cross_env_clean_look_alikes_pass_and_problems_fail(assessed):
    _, a, _ = assessed
    for name in VLT008_CLEAN:
        assert status(a, "VLT008", policy_id(name)) == "pass", (name, evidence(a, "VLT008", policy_id(name)))
    for name in VLT008_PROBLEMS:
        assert status(a, "VLT008", policy_id(name)) == "fail", (name, evidence(a, "VLT008", policy_id(name)))
    assert evidence(a, "VLT008", policy_id("pv-engine-wide"))["environments"] == ["dev", "prod", "staging"]
    assert evidence(a, "VLT008", policy_id("pv-dev-only"))["environments"] == ["dev"]
    assert evidence(a, "VLT008", policy_id("pv-prod-plus-shared"))["environments"] == ["prod"]
    # qa holds no secret: the rule's own path names the environment
    qa = evidence(a, "VLT008", policy_id("pv-prod-and-empty-qa"))
    assert qa["environments"] == ["prod", "test"] and qa["rules_by_environment"]["test"] == [f"{KV}/data/qa/*"]
    assert status(a, "VLT008", policy_id("default")) == "pass"


def test_cross_env_verdicts_agree_with_the_server(assessed, bao):
    """For every policy, the environments the check names are those whose secrets the server
    lets a holder of that policy alone use (sys/capabilities on each secret's exact path)."""
    snap, a, _ = assessed
    secrets = snap.frame("secret")
    secrets = secrets[secrets["mount"].isin([f"{KV}/", f"{SHARED}/"])]
    envs = a.items.set_index("id")["environment"]
    api = dict(zip(secrets["id"], secret_api_paths(secrets)))
    for name in (*VLT008_CLEAN, *VLT008_PROBLEMS):
        token = bao.token([name])["client_token"]
        caps = bao.capabilities(token, list(api.values()))
        server = {envs[i] for i, path in api.items() if caps[path] & {"read", "create", "update"}} - {"unknown"}
        ours = set(evidence(a, "VLT008", policy_id(name))["environments"])
        assert ours - {"test"} == server, (name, ours, server)  # 'test' (qa) holds no secret to ask about


def test_engagement_mapping_gives_shared_paths_an_environment(openbao, estate, tmp_path):
    eng = Engagement(client="acme", classification=Classification(
        environments=[EnvironmentRule(environment="prod", match=[f"{KV}/shared/*"])]))
    _, a = collect(openbao, openbao.root_token, estate, tmp_path, eng)
    assert status(a, "VLT008", policy_id("pv-dev-only")) == "fail"  # dev + shared, now prod
    assert evidence(a, "VLT008", policy_id("pv-dev-only"))["environments"] == ["dev", "prod"]
    assert status(a, "VLT008", policy_id("pv-prod-plus-shared")) == "pass"


# --- VLT007: sudo and root-equivalent paths ----------------------------------------------------


def test_the_shipped_default_policy_is_not_admin(assessed, bao):
    _, a, _ = assessed
    text = bao.call("GET", "sys/policies/acl/default")["data"]["policy"]
    for path in ("sys/capabilities-self", "sys/leases/renew", "sys/leases/lookup", "sys/tools/hash",
                 "sys/wrapping/unwrap", "auth/token/renew-self", "cubbyhole/*", "identity/entity/id/{{"):
        assert path in text, path
    assert status(a, "VLT007", policy_id("default")) == "pass"
    assert evidence(a, "VLT007", policy_id("default"))["privileged_paths"] == []


def _root_equivalent_on_server(bao: Bao, name: str) -> set[str]:
    """Families of ROOT_EQUIVALENT_PATHS (or 'sudo') the server grants a holder of ``name``,
    asked on each family's example path and on where each of the policy's rules meets it."""
    token = bao.token([name])["client_token"]
    rules = [parse_pattern(p) for p, _ in POLICIES.get(name, [])]
    asked: dict[str, tuple[str, frozenset[str]]] = {}
    for family, counted in ROOT_EQUIVALENT_PATHS.items():
        f = parse_pattern(family)
        for path in {common_path(f), *(common_path(r, f) for r in rules)} - {None}:
            asked[path] = (family, frozenset(counted))
    for r in rules:
        example = common_path(r)
        if example is not None:
            asked.setdefault(example, ("sudo", frozenset({"sudo"})))
    caps = bao.capabilities(token, list(asked))
    found = {family for path, (family, counted) in asked.items() if caps[path] & counted}
    return found | ({"sudo"} if any("sudo" in c for c in caps.values()) else set())


def test_admin_policies_fail_look_alikes_pass_and_the_server_agrees(assessed, bao):
    _, a, _ = assessed
    for name in VLT007_CLEAN:
        assert status(a, "VLT007", policy_id(name)) == "pass", (name, evidence(a, "VLT007", policy_id(name)))
        assert _root_equivalent_on_server(bao, name) == set(), name
    for name in VLT007_PROBLEMS:
        assert status(a, "VLT007", policy_id(name)) == "fail", name
        assert _root_equivalent_on_server(bao, name), name
    admin = evidence(a, "VLT007", policy_id("pv-admin"))
    assert {"sudo", "sys/policies/*", "sys/mounts*", "sys/auth*"} <= set(admin["root_equivalent"])
    assert evidence(a, "VLT007", policy_id("pv-sudo-audit-reader"))["root_equivalent"] == ["sudo"]
    assert "identity/entity*" in evidence(a, "VLT007", policy_id("pv-identity-admin"))["root_equivalent"]
    assert evidence(a, "VLT007", policy_id("pv-two-deep"))["privileged_paths"] == ["+/+"]


def test_the_catalog_documents_the_exact_list():
    from checks.catalog import find

    doc = find("VLT007").doc()
    for family in ROOT_EQUIVALENT_PATHS:
        assert f"`{family}`" in doc["detects"], family
    assert "sys/capabilities-self" in doc["detects"] and "sudo" in doc["why"]


# --- VLT010: periodic tokens and roles -----------------------------------------------------------


def test_periodic_tokens_need_a_bounded_explicit_max_ttl(assessed, estate):
    _, a, _ = assessed
    want = {"forever": "fail", "capped-high": "fail", "pv-ci-forever": "fail", "login-pv-periodic": "fail",
            "bounded": "pass", "plain": "pass", "pv-ci-bounded": "pass", "login-pv-periodic-capped": "pass"}
    got = {name: status(a, "VLT010", token_id(estate, name)) for name in want}
    assert got == want
    ev = evidence(a, "VLT010", token_id(estate, "pv-ci-bounded"))
    assert (ev["token_role"], ev["period_seconds"], ev["explicit_max_ttl_seconds"]) == ("pv-ci-bounded", 86400, 259200)
    roles = {"auth/token/roles/pv-ci-forever": "fail", "auth/token/roles/pv-ci-bounded": "pass",
             f"auth/{APPROLE}/role/pv-periodic": "fail", f"auth/{APPROLE}/role/pv-periodic-capped": "pass"}
    assert {r: status(a, "VLT010", f"vault:core:{r}") for r in roles} == roles
    f = a.findings
    vlt010 = set(f[f["check_id"].astype(str) == "VLT010"]["resource"].astype(str))
    assert f"vault:core:auth/{APPROLE}/role/pv-reader-prod" not in vlt010  # not periodic: other checks judge it


def test_on_the_server_only_an_explicit_max_ttl_ends_a_periodic_token(bao):
    """The rule VLT010 applies, shown: a periodic token renews past its role's token_max_ttl;
    one with an explicit max TTL dies at it."""
    bao.call("POST", "auth/token/roles/pv-quick-max", {"allowed_policies": ["pv-prod-read"],
                                                       "token_period": "5s"})
    bao.call("POST", "auth/token/roles/pv-quick-explicit", {"allowed_policies": ["pv-prod-read"],
                                                            "token_period": "5s", "token_explicit_max_ttl": "7s"})
    forever = bao.call("POST", "auth/token/create/pv-quick-max", {"explicit_max_ttl": 0})["auth"]["client_token"]
    capped = bao.call("POST", "auth/token/create/pv-quick-explicit", {})["auth"]["client_token"]
    for _ in range(5):  # 10 s in all: past the 7 s cap and twice the 5 s period
        time.sleep(2)
        bao.call("POST", "auth/token/renew-self", {}, token=forever)
        bao.call("POST", "auth/token/renew-self", {}, token=capped, ok=(200, 204, 400, 403))
    assert bao.call("GET", "auth/token/lookup-self", token=forever)["data"]["ttl"] > 0
    bao.call("GET", "auth/token/lookup-self", token=capped, ok=(403,))


# --- not assessed: what the collector could not read -------------------------------------------


def test_unreadable_inputs_are_not_assessed_never_pass(openbao, bao, estate, tmp_path):
    bao.call("PUT", "sys/policies/acl/pv-collector-fenced", {"policy": hcl([
        ("*", ["read", "list", "scan", "sudo"]), ("auth/token/lookup-accessor", ["update"]),
        (f"{KV}/*", ["deny"]), ("auth/token/roles/pv-ci-*", ["deny"]),
    ])})
    token = bao.token(["pv-collector-fenced"])["client_token"]
    snap, a = collect(openbao, token, estate, tmp_path)
    gaps = snap.frame("coverage_gap")
    assert {f"{KV}/", "auth/token/"} <= set(gaps["scope"])
    # the secrets of pv-kv are unseen: a pass there is unknown; a fail the rules prove stands
    assert status(a, "VLT008", policy_id("pv-prod-read")) == "not_assessed"
    assert KV in evidence(a, "VLT008", policy_id("pv-prod-read"))["not_assessed_reason"]
    assert status(a, "VLT008", policy_id("pv-prod-dev")) == "fail"
    assert status(a, "VLT008", policy_id("pv-ops-viewer")) == "pass"  # reaches no secret at all
    # a token from a role that could not be read
    assert status(a, "VLT010", token_id(estate, "pv-ci-bounded")) == "not_assessed"
    assert status(a, "VLT010", token_id(estate, "login-pv-periodic")) == "fail"


# --- who can read, and principals across environments -------------------------------------------


def test_readers_are_judged_on_the_exact_api_path(assessed, bao):
    snap, a, _ = assessed
    am = access_model(a, snap)
    cards = {c["id"]: c for c in leak_cards(a, snap, am)}
    card = cards[f"vault:core:{KV}/prod/payments/db-password"]
    readers = set(card["principals_can_read"])
    assert "approle:pv-reader-prod" in readers
    assert "approle:pv-reader-fenced" not in readers  # pv-kv/* read, but pv-kv/data/prod/* denied
    fenced = bao.token(ROLE_POLICIES["pv-reader-fenced"])["client_token"]
    path = f"{KV}/data/prod/payments/db-password"
    assert bao.capabilities(fenced, [path, f"{KV}/prod/payments/db-password"]) == {
        path: set(), f"{KV}/prod/payments/db-password": {"read"}}


def test_cross_env_view_judges_a_principal_on_all_its_policies(assessed):
    snap, a, _ = assessed
    ce = cross_env(a, snap)
    rows = {(k, n): e for k, n, e in zip(ce["kind"], ce["name"], ce["environments"])}
    assert rows[("policy", "pv-all-read")] == ["dev", "prod", "staging"]
    assert ("policy", "pv-prod-plus-shared") not in rows and ("policy", "pv-dev-only") not in rows
    assert rows[("principal", "approle:pv-combined-cross")] == ["dev", "prod"]  # each policy alone: one env
    assert ("principal", "approle:pv-reader-fenced") not in rows  # the deny policy fences the other


# --- no value in any file -----------------------------------------------------------------------


def test_no_canary_or_credential_in_any_written_file(assessed, estate, openbao):
    snap, a, dest = assessed
    write_assessment(a, snap, dest / "assessment", client="acme", quarter="2026-Q4")
    extra = (openbao.root_token, *estate["secrets"], *estate["accessors"].values())
    assert assert_no_canary(dest, extra=extra) >= 20


# --- the pattern algebra the checks rely on ------------------------------------------------------


@pytest.mark.parametrize(("a", "b", "want"), [
    ("*", "sys/policy", "sys/policy"),
    ("+/+", "sys/seal", "sys/seal"),
    ("sys/pol*", "sys/policy*", None),  # found below as a shared path, whatever its spelling
    ("sys/+/acl/x", "sys/policies/*", "sys/policies/acl/x"),
    ("cubbyhole/*", "sys/*", ""),
    ("sys/capabilities-self", "sys/policy*", ""),
    ("a/b", "a/b/*", ""),
])
def test_common_path_is_a_path_both_match_or_none(a, b, want):
    got = common_path(parse_pattern(a), parse_pattern(b))
    if want == "":
        assert got is None
    else:
        assert got is not None and parse_pattern(a).matches(got) and parse_pattern(b).matches(got)
        assert want is None or got == want


def test_secret_api_paths_are_exact_per_engine():
    s = pd.DataFrame({"kind": ["kv2", "kv1", "database_role", "database_role", "secretsmanager"],
                      "mount": ["team/kv/", "legacy/", "database/", "database/", None],
                      "name": ["prod/db", "prod/db", "app", "batch", "prod/db"],
                      "path": ["team/kv/prod/db", "legacy/prod/db", "database/roles/app",
                               "database/static-roles/batch", "prod/db"]})
    assert secret_api_paths(s).tolist() == ["team/kv/data/prod/db", "legacy/prod/db", "database/creds/app",
                                            "database/static-creds/batch", "prod/db"]



def _random_patterns(rng, n: int) -> list[str]:
    seg = ["secret", "data", "prod", "dev", "+", "p", "db"]
    out = []
    for _ in range(n):
        parts = [rng.choice(seg) for _ in range(rng.randint(1, 4))]
        path = "/".join(parts)
        out.append(path + rng.choice(["", "*", "/*"]) if not path.endswith("+") else path)
    return out


def test_common_path_and_settled_prefix_hold_on_random_rules():
    """Soundness of the two shortcuts the checks take, on random rules over a small alphabet:
    a common path is matched by both patterns; below a settled prefix the same rule decides
    every path of the universe."""
    import itertools
    import random

    from posture.model.acl import ACL, Rule

    rng = random.Random(11)
    words = ["secret", "data", "prod", "dev", "p", "db", ""]
    universe = ["/".join(t) for n in (1, 2, 3, 4) for t in itertools.product(words, repeat=n)]
    for _ in range(200):
        a, b = (parse_pattern(p) for p in _random_patterns(rng, 2))
        shared = common_path(a, b)
        assert shared is None or (a.matches(shared) and b.matches(shared)), (a.path, b.path, shared)
    for _ in range(60):
        rules = [Rule.of(p, [rng.choice(["read", "deny", "update"])]) for p in _random_patterns(rng, 5)]
        acl = ACL.from_rules(rules)
        for path in rng.sample(universe, 40):
            stem = acl.settled_prefix(path)
            if stem is None:
                continue
            decider = acl.deciding_rule(path)
            below = [q for q in universe if q.startswith(stem)]
            assert all(acl.deciding_rule(q) == decider for q in below), ([r.path for r in rules], path, stem)
