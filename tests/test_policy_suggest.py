"""Least-privilege suggestions and generated auth config, proved on a real OpenBao dev server.

Real traffic from several identities in two environments (prod, staging) goes through the
session's OpenBao (fixture ``openbao``: its file audit device is the log the kit reads);
``posture collect`` reads the server and the log; every suggested policy is then written to the
server and checked with ``sys/capabilities`` and with real requests under a token holding only
that policy: every observed access still allowed, the other environment and unobserved siblings
denied. Generated auth config (AppRole, JWT, Kubernetes) is applied to the same server and, where
a login is possible offline, logged in with. AWS: a CloudTrail log in the documented record
format (the same shape `posture.demo.estates.audit` writes, as tests/test_audit.py reads) gives
the IAM suggestion. Canary values sit in every secret and never reach a policy or a file.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pandas as pd
import pytest
import requests
from conftest import CANARIES, assert_no_canary
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from checks.classify import Classifier
from checks.policy_generate import generate
from checks.policy_suggest import (
    ObservedAccess,
    collapse_siblings,
    render_hcl,
    suggest_policies,
)
from collectors.audit import AuditCollector
from collectors.base import CollectContext
from posture.cli import main
from posture.demo.devservers import bao_binary
from posture.model.app_requirements import parse_requirements
from posture.model.engagement import Engagement
from posture.model.errors import ConfigError
from posture.model.snapshot import Snapshot, SnapshotSink

Q = "2026-Q4"
P = "ps"  # every name this module creates on the shared server starts with it
KV = f"{P}-kv"
EXTRA_CANARY = "CANARY-3e8d1f20-suggest-value"
ENV_OF = Classifier().environment_of_paths

PROD_PAYMENTS = ["db-password", "stripe-key", "webhook", "unread-sibling"]
PROD_REPORTS = [f"r{i}" for i in range(1, 6)]


def _call(addr: str, token: str, method: str, path: str, ok=(200, 204), **kw) -> dict:
    r = requests.request(method, f"{addr}/v1/{path}", headers={"X-Vault-Token": token}, timeout=10, **kw)
    assert r.status_code in ok, (method, path, r.status_code, r.text[:300])
    return r.json() if r.content else {}


def _value(i: int) -> str:
    return (CANARIES + (EXTRA_CANARY,))[i % (len(CANARIES) + 1)]


@pytest.fixture(scope="module")
def estate(openbao):
    """Mounts, secrets (canary values), today's over-broad policies, identities and their traffic."""
    a, root = openbao.address, openbao.root_token
    _call(a, root, "POST", f"sys/mounts/{KV}", json={"type": "kv", "options": {"version": "2"}})
    names = ([f"prod/payments/{n}" for n in PROD_PAYMENTS] + [f"prod/reports/{n}" for n in PROD_REPORTS]
             + ["staging/payments/db-password", "staging/reports/r1"])
    for i, n in enumerate(names):
        _call(a, root, "POST", f"{KV}/data/{n}", json={"data": {"value": _value(i), "password": _value(i + 1)}})
    policies = {
        f"{P}-payments-broad": f'path "{KV}/data/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}\n'
                               f'path "{KV}/metadata/*" {{ capabilities = ["list", "read", "delete"] }}\n',
        f"{P}-reports-today": f'path "{KV}/data/+/reports/*" {{ capabilities = ["read", "list"] }}\n',
        f"{P}-dev-unused": f'path "{KV}/data/dev/*" {{ capabilities = ["read"] }}\n',
    }
    for n, hcl in policies.items():
        _call(a, root, "PUT", f"sys/policies/acl/{n}", json={"policy": hcl})
    ar, up = f"{P}-approle", f"{P}-userpass"
    _call(a, root, "POST", f"sys/auth/{ar}", json={"type": "approle"})
    _call(a, root, "POST", f"sys/auth/{up}", json={"type": "userpass"})
    tokens = {}
    for role, pols in (("payments-api", [f"{P}-payments-broad", f"{P}-dev-unused"]),
                       ("stg-payments", [f"{P}-payments-broad"])):
        _call(a, root, "POST", f"auth/{ar}/role/{role}", json={"token_policies": pols, "token_ttl": "1h"})
        rid = _call(a, root, "GET", f"auth/{ar}/role/{role}/role-id")["data"]["role_id"]
        sid = _call(a, root, "POST", f"auth/{ar}/role/{role}/secret-id")["data"]["secret_id"]
        tokens[role] = _call(a, "", "POST", f"auth/{ar}/login", json={"role_id": rid, "secret_id": sid})["auth"]["client_token"]
    pw = f"{EXTRA_CANARY}-pw"
    _call(a, root, "POST", f"auth/{up}/users/reporter", json={"password": pw, "token_policies": f"{P}-reports-today"})
    tokens["reporter"] = _call(a, "", "POST", f"auth/{up}/login/reporter", json={"password": pw})["auth"]["client_token"]

    pay, stg, rep = tokens["payments-api"], tokens["stg-payments"], tokens["reporter"]
    for _ in range(3):
        _call(a, pay, "GET", f"{KV}/data/prod/payments/db-password")
    for _ in range(2):
        _call(a, pay, "GET", f"{KV}/data/prod/payments/stripe-key")
    _call(a, pay, "LIST", f"{KV}/metadata/prod/payments/")
    _call(a, pay, "POST", f"{KV}/data/prod/payments/webhook", json={"data": {"value": _value(3) + "-v2"}})
    _call(a, stg, "GET", f"{KV}/data/staging/payments/db-password")
    for n in PROD_REPORTS:
        _call(a, rep, "GET", f"{KV}/data/prod/reports/{n}")
    _call(a, rep, "GET", f"{KV}/data/staging/reports/r1")
    _call(a, rep, "GET", f"{KV}/data/prod/payments/db-password", ok=(403,))  # denied: never granted
    _call(a, rep, "GET", "auth/token/lookup-self")  # the default policy's: no rule needed
    return openbao


@pytest.fixture(scope="module")
def collected(estate, tmp_path_factory):
    """``posture collect`` of the server and its audit log into a workspace; the snapshot."""
    root = tmp_path_factory.mktemp("ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSTURE_HOME", str(root))
        mp.setenv("VAULT_TOKEN", estate.root_token)
        eng = root / "engagements" / "acme" / "engagement.yaml"
        eng.parent.mkdir(parents=True)
        eng.write_text(f"client: acme\nstores:\n  vault:\n    - name: core\n      address: {estate.address}\n"
                       f"      audit_logs: [\"{estate.audit_log('file')}\"]\n")
        assert main(["collect", "acme", "-q", Q]) == 0
    snap = Snapshot.load(root / "evidence" / "acme" / Q / "snapshot")
    return root, snap


@pytest.fixture(scope="module")
def suggestions(collected):
    _, snap = collected
    return {s.name: s for s in suggest_policies(snap.frame, ENV_OF) if s.identity.startswith(P)}


def _caps(server, token: str, path: str) -> set[str]:
    """``sys/capabilities`` of ``token`` on ``path`` (asked with the root token)."""
    r = _call(server.address, server.root_token, "POST", "sys/capabilities", json={"token": token, "paths": [path]})
    return set(r.get(path) or r["capabilities"])


def _token_with(server, policy: str) -> str:
    return _call(server.address, server.root_token, "POST", "auth/token/create",
                 json={"policies": [policy], "no_default_policy": True, "ttl": "10m"})["auth"]["client_token"]


# --- suggestions from real traffic ------------------------------------------------------------


def test_payments_api_gets_exact_paths_and_a_diff(suggestions):
    s = suggestions["payments-api-write"]
    assert s.identity == f"{P}-approle-payments-api" and s.environment == "prod" and s.auth_method == "approle"
    assert s.rules == {
        f"{KV}/data/prod/payments/db-password": ("read",),
        f"{KV}/data/prod/payments/stripe-key": ("read",),
        f"{KV}/data/prod/payments/webhook": ("update",),
        f"{KV}/metadata/prod/payments/": ("list",),
    }
    assert set(s.current_policies) == {"default", f"{P}-payments-broad", f"{P}-dev-unused"}
    by_path = {(c.policy, c.path): c for c in s.changes}
    data = by_path[(f"{P}-payments-broad", f"{KV}/data/*")]
    assert data.verdict == "narrow" and set(data.used) == {"read", "update"} and "delete" not in data.used
    assert by_path[(f"{P}-dev-unused", f"{KV}/data/dev/*")].verdict == "remove"
    assert f"{P}-dev-unused" in s.unused_policies
    # what it could read today and would no longer reach: the other environment and the unread sibling
    assert f"{KV}/data/staging/payments/db-password" in s.no_longer_reachable
    assert f"{KV}/data/prod/payments/unread-sibling" in s.no_longer_reachable
    assert s.covers_all_observed and not s.cross_environment and not s.collapsed
    assert not any(c.policy == "default" for c in s.changes)  # the built-in policy stays, undiffed
    assert s.document.startswith("# payments-api-write\n") and 'path "ps-kv/data/*"' not in s.document


def test_staging_identity_is_scoped_to_staging(suggestions):
    s = suggestions["stg-payments-read"]
    assert s.environment == "staging" and s.rules == {f"{KV}/data/staging/payments/db-password": ("read",)}


def test_cross_environment_reporter_gets_one_policy_per_environment(suggestions):
    prod, stg = suggestions["reporter-prod-read"], suggestions["reporter-staging-read"]
    assert prod.cross_environment and stg.cross_environment
    # the conservative collapse: all five known secrets of prod/reports were read
    assert prod.rules == {f"{KV}/data/prod/reports/*": ("read",)}
    assert prod.collapsed[f"{KV}/data/prod/reports/*"] == [f"{KV}/data/prod/reports/{n}" for n in PROD_REPORTS]
    assert stg.rules == {f"{KV}/data/staging/reports/r1": ("read",)}  # one leaf: exact
    assert [(d.path, d.capability) for d in prod.denied] == [(f"{KV}/data/prod/payments/db-password", "read")]
    assert not any("lookup-self" in p for p in prod.rules)  # the default policy's path
    # judged against both suggested policies together: the identity keeps every report it read
    assert prod.no_longer_reachable == stg.no_longer_reachable and not any("reports" in p for p in stg.no_longer_reachable)
    today = {(c.path, c.verdict) for c in prod.changes}
    assert (f"{KV}/data/+/reports/*", "narrow") in today  # 'list' never used, wildcard used for 6 paths


def test_every_suggested_policy_holds_on_the_server(estate, suggestions):
    """Each suggestion written to the server: observed accesses allowed, everything else denied."""
    other = {"prod": "staging", "staging": "prod"}
    checked = 0
    for name, s in suggestions.items():
        _call(estate.address, estate.root_token, "PUT", f"sys/policies/acl/{name}", json={"policy": s.document})
        tok = _token_with(estate, name)
        for o in s.observed:
            assert o.capability in _caps(estate, tok, o.path), (name, o.path, o.capability)
            checked += 1
            if o.capability == "read":
                _call(estate.address, tok, "GET", o.path)  # a real read under only this policy
        for o in s.observed:
            twin = o.path.replace(f"/{s.environment}/", f"/{other[s.environment]}/", 1)
            assert _caps(estate, tok, twin) == {"deny"}, (name, twin)
            _call(estate.address, tok, "GET", twin, ok=(403, 404))
        for d in s.denied:
            assert d.capability not in _caps(estate, tok, d.path)
    pay = _token_with(estate, "payments-api-write")
    assert _caps(estate, pay, f"{KV}/data/prod/payments/unread-sibling") == {"deny"}
    _call(estate.address, pay, "GET", f"{KV}/data/prod/payments/unread-sibling", ok=(403,))
    assert _caps(estate, pay, f"{KV}/data/prod/payments/db-password") == {"read"}  # no delete, no update
    assert checked >= 10


def test_cli_suggest_writes_files_without_canaries(collected, tmp_path, monkeypatch, capsys):
    root, _ = collected
    monkeypatch.setenv("POSTURE_HOME", str(root))
    out = tmp_path / "suggested"
    assert main(["policy", "suggest", "acme", "-q", Q, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "=== payments-api-write" in printed and "remove 'ps-kv/data/dev/*'" in printed
    assert (out / "payments-api-write.hcl").read_text().count("\npath ") == 4
    rows = json.loads((out / "suggestions.json").read_text())
    assert any(r["name"] == "reporter-prod-read" and r["cross_environment"] for r in rows)
    assert assert_no_canary(out, extra=(EXTRA_CANARY,)) >= 7
    assert main(["policy", "suggest", "acme", "-q", Q, "--identity", f"{P}-approle-payments-api"]) == 0
    assert "stg-payments" not in capsys.readouterr().out
    assert main(["policy", "suggest", "acme", "-q", Q, "--identity", "nobody"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_assessment_view_and_no_canary(collected, monkeypatch):
    root, _ = collected
    monkeypatch.setenv("POSTURE_HOME", str(root))
    assert main(["assess", "acme", "-q", Q, "--no-notebooks"]) == 0
    rows = json.loads((root / "evidence" / "acme" / Q / "assessment" / "suggested_policies.json").read_text())
    assert {"payments-api-write", "reporter-prod-read"} <= {r["name"] for r in rows}
    assert assert_no_canary(root / "evidence", extra=(EXTRA_CANARY,)) > 20


def test_site_page_and_notebook_cell(collected, monkeypatch, tmp_path):
    """The page shows every suggestion with its policy text, escaped; the stage-2 notebook runs its cell."""
    from posture import notebooks
    from posture.report import Assessment
    from posture.site.pages.suggestions import suggested_policies_page
    from posture.workspace import Workspace

    root, _ = collected
    monkeypatch.setenv("POSTURE_HOME", str(root))
    adir = root / "evidence" / "acme" / Q / "assessment"
    if not (adir / "suggested_policies.json").exists():
        assert main(["assess", "acme", "-q", Q, "--no-notebooks"]) == 0
    page = suggested_policies_page(Assessment.load(adir))
    assert "# Suggested policies" in page and "payments-api-write" in page and "reporter-prod-read" in page
    assert "ps-kv/data/prod/reports/&#42;" in page and "\n\n<pre>" not in page
    assert "<script" not in page and "&quot;ps-kv/data/prod/payments/db-password&quot;" in page
    ws = Workspace.resolve("acme")
    src = notebooks.notebooks_source() / "stage-2-access.ipynb"
    notebooks.execute_one(src, tmp_path / "stage-2-access.ipynb", notebooks.parameters(ws, Q), cwd=root)
    executed = (tmp_path / "stage-2-access.ipynb").read_text()
    assert "payments-api-write" in executed and "Traceback" not in executed
    assert assert_no_canary(tmp_path, extra=(EXTRA_CANARY,)) >= 1


# --- the collapse rule and exact rules, alone -----------------------------------------------------


def _obs(paths: list[str], env: str = "prod") -> list[ObservedAccess]:
    return [ObservedAccess(p, "read", "read", 1, env, "vault:core:" + p.replace("/data/", "/", 1)) for p in paths]


@pytest.mark.parametrize("case, paths, inventory, collapsed", [
    ("all known siblings read", [f"kv/data/prod/app/s{i}" for i in range(5)],
     {f"vault:core:kv/prod/app/s{i}" for i in range(5)}, True),
    ("one known sibling unread", [f"kv/data/prod/app/s{i}" for i in range(5)],
     {f"vault:core:kv/prod/app/s{i}" for i in range(6)}, False),
    ("fewer than collapse_at", [f"kv/data/prod/app/s{i}" for i in range(4)],
     {f"vault:core:kv/prod/app/s{i}" for i in range(4)}, False),
    ("leaves right under the environment", [f"kv/data/prod/s{i}" for i in range(5)],
     {f"vault:core:kv/prod/s{i}" for i in range(5)}, False),
    ("inventory unknown", [f"kv/data/prod/app/s{i}" for i in range(5)], set(), False),
    ("folder of no environment", [f"kv/data/app/s{i}" for i in range(5)],
     {f"vault:core:kv/app/s{i}" for i in range(5)}, False),
])
def test_collapse_rule(case, paths, inventory, collapsed):
    env = "prod" if "/prod/" in paths[0] else "unknown"
    rules = {p: {"read"} for p in paths}
    out, done = collapse_siblings(rules, _obs(paths, env), inventory, env, ENV_OF)
    assert bool(done) is collapsed, case
    assert (out == {"kv/data/prod/app/*": {"read"}}) is collapsed


def test_unexpressible_paths_are_left_out_never_widened():
    """An observed path ending in '*' (or with a '+' segment, a template) cannot be an exact rule."""
    now = datetime.now(UTC)
    rows = []
    for i, path in enumerate(["kv/data/prod/app/a*", "kv/data/prod/+/x", "kv/data/prod/{{identity.entity.id}}",
                              "kv/data/prod/app/ok"]):
        rows.append({"id": f"e{i}", "store": "core", "source": "audit", "principal": "approle-x", "auth_method": "approle",
                     "path": path, "operation": "read", "day": now, "count": 1, "errors": 0, "denied": 0,
                     "first_at": now, "last_at": now, "resource": None})
    frames = _frames({"access_event": rows, "audit_log": [{"id": "l", "store": "core", "source": "audit",
                                                           "path": "x", "format": "vault_file"}]})
    (s,) = suggest_policies(frames, ENV_OF)
    assert s.rules == {"kv/data/prod/app/ok": ("read",)} and len(s.left_out) == 3
    assert not s.current_policies and s.covers_all_observed


def test_hostile_path_renders_as_one_quoted_rule(estate):
    path = f'{KV}/data/prod/x"}}\npath "sys/*" {{ capabilities = ["sudo"]'
    hcl = render_hcl("hostile", {path: ("read",)}, ["header\nline"])
    _call(estate.address, estate.root_token, "PUT", f"sys/policies/acl/{P}-hostile", json={"policy": hcl})
    got = _call(estate.address, estate.root_token, "GET", f"sys/policies/acl/{P}-hostile")["data"]["policy"]
    assert got == hcl
    tok = _token_with(estate, f"{P}-hostile")
    assert _caps(estate, tok, "sys/mounts") == {"deny"}  # no injected sys/* rule


def test_gaps_make_a_suggestion_incomplete(collected):
    _, snap = collected
    gap = {"id": "g", "store": "core", "source": "vault", "tables": ["policy_rule"], "scope": "",
           "operation": "LIST sys/policies/acl", "reason": "denied"}

    def frames(table: str) -> pd.DataFrame:
        if table == "coverage_gap":
            return pd.DataFrame([gap])
        return snap.frame(table)

    found = [s for s in suggest_policies(frames, ENV_OF) if s.identity.startswith(P)]
    assert found and all(any("denied on LIST sys/policies/acl" in g for g in s.coverage_gaps) for s in found)
    clean = [s for s in suggest_policies(snap.frame, ENV_OF) if s.identity.startswith(P)]
    assert all(not s.coverage_gaps for s in clean)


def _frames(tables: dict[str, list[dict]]):
    from posture.model.snapshot import empty_frame, records_frame

    def frame(table: str) -> pd.DataFrame:
        return records_frame(table, tables[table]) if table in tables else empty_frame(table)
    return frame


# --- requirements file -> policy + auth config, applied -----------------------------------------------


REQ = """\
service: {service}
environment: prod
mount: {kv}
secrets:
  - path: payments/db-password
  - path: payments/stripe-key
  - path: payments/
    access: list
runs_on:
{runs_on}
"""


def _req(tmp_path: Path, service: str, runs_on: str) -> Path:
    p = tmp_path / f"{service}.yaml"
    p.write_text(REQ.format(service=service, kv=KV, runs_on=runs_on))
    return p


def _apply(server, cfg) -> None:
    for step in cfg.steps:
        _call(server.address, server.root_token, step.method, step.path, json=step.body)


def _check_policy_scope(server, token: str) -> None:
    _call(server.address, token, "GET", f"{KV}/data/prod/payments/db-password")
    _call(server.address, token, "LIST", f"{KV}/metadata/prod/payments/")
    _call(server.address, token, "GET", f"{KV}/data/staging/payments/db-password", ok=(403,))
    _call(server.address, token, "GET", f"{KV}/data/prod/payments/webhook", ok=(403,))


def test_generated_approle_logs_in_with_the_seed_ttls_and_single_use_secret_ids(estate, tmp_path):
    a, root = estate.address, estate.root_token
    _call(a, root, "POST", f"sys/auth/{P}-gen-approle", json={"type": "approle"})
    req = _req(tmp_path, "ledger-batch", f"  kind: batch\n  auth_mount: {P}-gen-approle")
    cfg = generate(parse_requirements(req.read_text(), req))
    assert cfg.policy_name == "ledger-batch-read"
    _apply(estate, cfg)
    role = _call(a, root, "GET", f"auth/{P}-gen-approle/role/ledger-batch")["data"]
    assert (role["token_ttl"], role["token_max_ttl"], role["secret_id_ttl"], role["secret_id_num_uses"]) == \
        (3600, 14400, 600, 1)
    rid = _call(a, root, "GET", f"auth/{P}-gen-approle/role/ledger-batch/role-id")["data"]["role_id"]
    sid = _call(a, root, "POST", f"auth/{P}-gen-approle/role/ledger-batch/secret-id")["data"]
    assert sid["secret_id_ttl"] == 600 and sid["secret_id_num_uses"] == 1
    login = _call(a, "", "POST", f"auth/{P}-gen-approle/login", json={"role_id": rid, "secret_id": sid["secret_id"]})
    assert login["auth"]["lease_duration"] == 3600 and "ledger-batch-read" in login["auth"]["token_policies"]
    _call(a, "", "POST", f"auth/{P}-gen-approle/login", json={"role_id": rid, "secret_id": sid["secret_id"]},
          ok=(400, 403))  # single use: the second login fails
    _check_policy_scope(estate, login["auth"]["client_token"])


def test_generated_jwt_role_logs_in_only_with_the_bound_claims(estate, tmp_path):
    a, root = estate.address, estate.root_token
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    _call(a, root, "POST", f"sys/auth/{P}-jwt", json={"type": "jwt"})
    _call(a, root, "POST", f"auth/{P}-jwt/config", json={"jwt_validation_pubkeys": [pem],
                                                         "bound_issuer": "https://ci.example"})
    req = _req(tmp_path, "payments-deploy",
               f"  kind: ci\n  auth_mount: {P}-jwt\n  audience: vault\n  bound_claims:\n"
               "    repository: acme/payments\n    ref: refs/heads/main")
    cfg = generate(parse_requirements(req.read_text(), req))
    _apply(estate, cfg)

    def token(**claims) -> str:
        now = int(time.time())
        body = {"iss": "https://ci.example", "sub": "repo:acme/payments:ref:refs/heads/main", "aud": "vault",
                "iat": now, "nbf": now, "exp": now + 300, "repository": "acme/payments", "ref": "refs/heads/main",
                **claims}
        return jwt.encode(body, key, algorithm="RS256")

    ok = _call(a, "", "POST", f"auth/{P}-jwt/login", json={"role": "payments-deploy", "jwt": token()})
    assert ok["auth"]["lease_duration"] == 900 and "payments-deploy-read" in ok["auth"]["token_policies"]
    _check_policy_scope(estate, ok["auth"]["client_token"])
    for bad in ({"repository": "acme/other"}, {"ref": "refs/heads/feature"}, {"aud": "someone-else"}):
        _call(a, "", "POST", f"auth/{P}-jwt/login", json={"role": "payments-deploy", "jwt": token(**bad)},
              ok=(400, 403))


def test_generated_kubernetes_role_applies_through_the_printed_cli(estate, tmp_path, capsys):
    """The printed ``bao`` commands run as a script against the server. No TokenReview API runs
    offline, so a Kubernetes login cannot be proved here: the role is read back instead."""
    a, root = estate.address, estate.root_token
    _call(a, root, "POST", f"sys/auth/{P}-k8s", json={"type": "kubernetes"})
    req = _req(tmp_path, "payments-web", f"  kind: kubernetes\n  auth_mount: {P}-k8s\n"
                                         "  service_account: payments-web\n  namespace: payments")
    out = tmp_path / "gen"
    assert main(["policy", "generate", str(req), "--cli", "bao", "--out", str(out)]) == 0
    script = capsys.readouterr().out
    assert (out / "payments-web-read.sh").read_text() == script
    env = {"BAO_ADDR": a, "VAULT_ADDR": a, "BAO_TOKEN": root, "VAULT_TOKEN": root,
           "PATH": str(Path(bao_binary()).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["bash", "-e", str(out / "payments-web-read.sh")], env=env, check=True, capture_output=True,
                   timeout=60)
    role = _call(a, root, "GET", f"auth/{P}-k8s/role/payments-web")["data"]
    assert role["bound_service_account_names"] == ["payments-web"]
    assert role["bound_service_account_namespaces"] == ["payments"]
    assert role["token_ttl"] == 3600 and role["token_policies"] == ["payments-web-read"]
    pol = _call(a, root, "GET", "sys/policies/acl/payments-web-read")["data"]["policy"]
    assert pol == (out / "payments-web-read.hcl").read_text()
    assert assert_no_canary(out, extra=(EXTRA_CANARY,)) == 3


@pytest.mark.parametrize("text, line, field", [
    ("service: Payments\nenvironment: prod\nsecrets: [{path: a}]\nruns_on: {kind: batch}\n", 1, "service"),
    ("service: p\nenvironment: prod\nsecrets:\n  - path: a/+/b\nruns_on: {kind: batch}\n", 4, "secrets[0].path"),
    ("service: p\nenvironment: prod\nsecrets:\n  - path: a/\n    access: read\nruns_on: {kind: batch}\n", 4,
     "secrets[0]"),
    ("service: p\nenvironment: prod\nsecrets: [{path: a}]\nruns_on:\n  kind: kubernetes\n  namespace: x\n", 4,
     "runs_on"),
    ("service: p\nenvironment: prod\nsecrets: [{path: a}]\nruns_on:\n  kind: ci\n", 4, "runs_on"),
    ("service: p\nenvironment: prod\nsecrets: [{path: a}]\nruns_on:\n  kind: batch\n  token_ttl: forever\n", 6,
     "runs_on.token_ttl"),
    ("service: p\nenvironment: prod\nsecrets: [{path: a, value: s3cr3t}]\nruns_on: {kind: batch}\n", 3,
     "secrets[0].value"),
    ("service: p\nenvironment: prod\nsecrets: []\nruns_on: {kind: batch}\n", 3, "secrets"),
    ("service: p\n  environment: [\n", 2, "invalid YAML"),
])
def test_requirements_errors_are_one_line_with_exit_2(tmp_path, capsys, text, line, field):
    p = tmp_path / "req.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        parse_requirements(text, p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}: {field}") and "\n" not in msg, msg
    out = tmp_path / "never"
    assert main(["policy", "generate", str(p), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1 and not out.exists()


# --- AWS: CloudTrail -> IAM ------------------------------------------------------------------------


ACCOUNT, REGION = "123456789012", "eu-west-1"


def _ct(at: datetime, role: str, source: str, name: str, params: dict, arn: str | None, error: str | None = None):
    """One CloudTrail record, fields as the CloudTrail record contents reference documents them
    (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html)."""
    ev = {
        "eventVersion": "1.09", "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventSource": source,
        "eventName": name, "awsRegion": REGION, "sourceIPAddress": "10.0.1.15", "userAgent": "aws-sdk-go-v2",
        "userIdentity": {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s",
                         "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLE",
                         "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                                              "userName": role}}},
        "requestParameters": params, "responseElements": None, "eventID": f"{name}-{at.timestamp()}-{role}",
        "readOnly": name.startswith(("Get", "List", "Describe", "Decrypt")), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT,
    }
    if arn:
        ev["resources"] = [{"ARN": arn, "accountId": ACCOUNT}]
    if error:
        ev["errorCode"], ev["errorMessage"] = error, "denied"
    return ev


def test_aws_suggestion_from_cloudtrail(tmp_path):
    sm = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
    prod_db, stg_db = sm + "prod/payments/db-AbCdEf", sm + "staging/payments/db-AbCdEf"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1111-2222"
    t = datetime(2026, 11, 2, 10, tzinfo=UTC)
    recs = []
    for i in range(3):
        recs.append(_ct(t + timedelta(minutes=i), "app-prod", "secretsmanager.amazonaws.com", "GetSecretValue",
                        {"secretId": prod_db}, prod_db))
    recs += [
        _ct(t, "app-prod", "kms.amazonaws.com", "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, key),
        _ct(t, "app-prod", "ssm.amazonaws.com", "GetParameter", {"name": "/prod/payments/webhook", "withDecryption": True}, None),
        _ct(t, "app-prod", "secretsmanager.amazonaws.com", "ListSecrets", {}, None),
        _ct(t, "app-prod", "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": stg_db}, stg_db,
            error="AccessDeniedException"),
        _ct(t, "app-prod", "ssm.amazonaws.com", "PutParameter",
            {"name": "/prod/payments/token", "value": CANARIES[1], "overwrite": True}, None),
        _ct(t, "app-prod", "sts.amazonaws.com", "GetCallerIdentity", {}, None),
        _ct(t, "migrator", "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": prod_db}, prod_db),
        _ct(t, "migrator", "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": stg_db}, stg_db),
    ]
    log = tmp_path / "ct.json"
    log.write_text(json.dumps({"Records": recs}))
    eng = Engagement.model_validate({"client": "acme", "stores": {"aws": [{"name": "main", "cloudtrail_logs": [str(log)]}]}})
    sink = SnapshotSink()
    AuditCollector(eng.stores.aws[0], CollectContext(engagement=eng, sink=sink, fingerprint=lambda v: "x",
                                                     as_of=datetime.now(UTC))).run()
    snap = Snapshot.from_records([r for t_ in ("access_event", "audit_log") for r in sink.rows(t_)])
    found = {s.name: s for s in suggest_policies(snap.frame, ENV_OF)}
    app = found["app-prod-write"]
    doc = json.loads(app.document)
    assert doc["Version"] == "2012-10-17" and all(st["Effect"] == "Allow" for st in doc["Statement"])
    granted = {(a, r) for st in doc["Statement"] for a in st["Action"]
               for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])}
    ssm_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/payments/"
    assert granted == {
        ("secretsmanager:GetSecretValue", prod_db), ("kms:Decrypt", key), ("ssm:GetParameter", ssm_arn + "webhook"),
        ("secretsmanager:ListSecrets", "*"), ("ssm:PutParameter", ssm_arn + "token"),
    }
    assert all(a.split(":")[0] in ("secretsmanager", "kms", "ssm") for a, _ in granted)  # no sts
    assert [(d.path, d.capability) for d in app.denied] == [(stg_db, "secretsmanager:GetSecretValue")]
    assert app.environment == "prod" and not app.cross_environment
    mig = {n: s for n, s in found.items() if s.identity.endswith("role/migrator")}
    assert set(mig) == {"migrator-prod-read", "migrator-staging-read"}
    assert json.loads(mig["migrator-staging-read"].document)["Statement"][0]["Resource"] == stg_db
    text = "".join(s.document for s in found.values())
    assert CANARIES[1] not in text


def test_aws_suggestion_diffs_against_the_collected_iam_policies(aws_env, workspace, tmp_path, capsys):
    """Today's grants from the AWS collector on moto (IAM role with an inline and a managed policy,
    secrets, a key, a parameter), the use from a CloudTrail log naming those ARNs."""
    import boto3

    kw = {"region_name": REGION, "endpoint_url": aws_env.endpoint_url}
    iam = boto3.client("iam", **kw)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="app-prod", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="app-prod", PolicyName="app-prod-inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                 "Action": ["secretsmanager:*", "kms:Decrypt", "ssm:GetParameter*"]}]}))
    unused = iam.create_policy(PolicyName="app-prod-s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    iam.attach_role_policy(RoleName="app-prod", PolicyArn=unused["Policy"]["Arn"])
    sm = boto3.client("secretsmanager", **kw)
    prod = sm.create_secret(Name="prod/payments/db", SecretString=CANARIES[1])["ARN"]
    stg = sm.create_secret(Name="staging/payments/db", SecretString=CANARIES[0])["ARN"]
    key = boto3.client("kms", **kw).create_key(Description="payments")["KeyMetadata"]["Arn"]
    boto3.client("ssm", **kw).put_parameter(Name="/prod/payments/webhook", Value=CANARIES[3], Type="SecureString")
    t = datetime(2026, 11, 2, 10, tzinfo=UTC)
    recs = [_ct(t, "app-prod", "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": prod}, prod),
            _ct(t, "app-prod", "kms.amazonaws.com", "Decrypt", {}, key),
            _ct(t, "app-prod", "ssm.amazonaws.com", "GetParameter", {"name": "/prod/payments/webhook"}, None)]
    log = tmp_path / "ct.json"
    log.write_text(json.dumps({"Records": recs}))
    eng = workspace / "engagements" / "northwind" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(f"client: northwind\nstores:\n  aws:\n    - name: main\n      regions: [{REGION}]\n"
                   f"      endpoint_url: {aws_env.endpoint_url}\n      services: [iam, secretsmanager, kms, ssm]\n"
                   f"      cloudtrail_logs: [\"{log}\"]\n")
    assert main(["collect", "northwind", "-q", Q]) == 0
    out = tmp_path / "out"
    assert main(["policy", "suggest", "northwind", "-q", Q, "--identity", role, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "suggestions.json").read_text())
    (row,) = rows
    assert row["name"] == "app-prod-read" and set(row["current_policies"]) == {"app-prod-inline", "app-prod-s3"}
    assert row["unused_policies"] == ["app-prod-s3"]
    assert any(line.startswith("app-prod-inline: narrow '*'") for line in row["removed"])
    assert any(line.startswith("app-prod-s3: remove '*'") for line in row["removed"])
    doc = json.loads((out / "app-prod-read.json").read_text())
    resources = {r for st in doc["Statement"] for r in ([st["Resource"]] if isinstance(st["Resource"], str)
                                                         else st["Resource"])}
    assert resources == {prod, key, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/payments/webhook"}
    assert stg not in printed and "*" not in resources
    assert assert_no_canary(workspace) > 10 and assert_no_canary(out) == 3


def test_generate_json_namespace_and_help(tmp_path, capsys):
    req = tmp_path / "r.yaml"
    req.write_text("service: ledger\nenvironment: staging\nnamespace: team-a\nsecrets:\n"
                   "  - path: ledger/db\n  - path: ledger/db\n    access: write\n  - path: ledger/*\n"
                   "runs_on:\n  kind: service\n  token_ttl: 30m\n")
    assert main(["policy", "generate", str(req), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["policy_name"] == "ledger-write" and doc["namespace"] == "team-a"
    assert [r["path"] for r in doc["requests"]] == ["/v1/sys/policies/acl/ledger-write", "/v1/auth/approle/role/ledger"]
    role = doc["requests"][1]["body"]
    assert role["token_ttl"] == "30m" and role["secret_id_num_uses"] == 1 and role["secret_id_ttl"] == "10m"
    assert 'path "secret/data/staging/ledger/db" {\n  capabilities = ["create", "read", "update"]' in doc["policy_hcl"]
    assert 'path "secret/data/staging/ledger/*"' in doc["policy_hcl"]  # the file's own explicit glob
    assert main(["policy", "generate", str(req)]) == 0
    assert "vault policy write -namespace=team-a ledger-write" in capsys.readouterr().out
    for cmd in (["policy", "suggest", "--help"], ["policy", "generate", "--help"]):
        assert main(cmd) == 0
    helps = capsys.readouterr().out
    assert "--identity" in helps and "{service}-{access-level}" in helps and "FILE:LINE" in helps
