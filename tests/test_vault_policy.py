"""``posture policy vault``: the printed policy is minimal, works, and denies values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from conftest import assert_no_canary
from vault_fixtures import make_token, put_policy, vault_estate, write_engagement  # noqa: F401

from collectors.vault.hcl import parse_acl
from posture.cli import main
from posture.model.snapshot import Snapshot


def _stanzas(text: str) -> dict[str, list[str]]:
    return {path: attrs["capabilities"] for path, attrs in parse_acl(text)}


def test_policy_from_command_line_mounts(capsys):
    rc = main(["policy", "vault", "--mount", "kv:secret", "--mount", "kv1:legacy", "--mount", "transit:transit",
               "--auth", "approle:approle"])
    assert rc == 0
    text = capsys.readouterr().out
    s = _stanzas(text)
    assert s["legacy/*"] == ["list"]                       # KV v1: names only
    assert s["secret/metadata/*"] == ["read", "list"]
    assert s["secret/detailed-metadata/*"] == ["scan"]
    assert s["sys/audit"] == ["read", "sudo"]
    assert s["sys/auth/approle/tune"] == ["read", "sudo"] and s["sys/auth/token/tune"] == ["read", "sudo"]
    assert s["auth/token/accessors"] == ["list", "sudo"]
    assert s["auth/token/lookup-accessor"] == ["update"]
    assert s["auth/approle/role/+"] == ["read"] and s["transit/keys/+"] == ["read"]
    for path, caps in s.items():
        assert not path.startswith(("+", "*")), path       # no generic +/... or * rules
        assert "/data/" not in f"/{path}" and "secret-id" not in path and "creds" not in path
        assert set(caps) <= {"read", "list", "scan", "update", "sudo"}
        assert caps != ["update"] or path == "auth/token/lookup-accessor"
    assert "no-default-policy" in text


def test_policy_for_vault_has_no_scan(capsys):
    assert main(["policy", "vault", "--mount", "kv:secret", "--product", "vault"]) == 0
    s = _stanzas(capsys.readouterr().out)
    assert "secret/detailed-metadata/*" not in s and s["secret/metadata/*"] == ["read", "list"]


def test_bad_mount_argument_is_one_line(capsys):
    assert main(["policy", "vault", "--mount", "secret"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "TYPE:PATH" in err


def test_no_source_of_mounts_is_one_line(workspace, capsys):
    assert main(["policy", "vault"]) == 2
    assert "VAULT_ADDR" in capsys.readouterr().err


def test_live_policy_gives_zero_gaps_and_denies_values(openbao, vault_estate, workspace: Path, monkeypatch, capsys):  # noqa: F811
    """The issue's acceptance test: print from live mounts, apply, collect with a token bound only to it."""
    monkeypatch.setenv("VAULT_ADDR", openbao.address)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    assert main(["policy", "vault"]) == 0
    hcl = capsys.readouterr().out
    assert 'path "legacy/*"' in hcl and 'path "database/roles/+"' in hcl and 'path "auth/jwt/role/+"' in hcl
    put_policy(openbao, "posture-assessor", hcl)
    token = make_token(openbao, ["posture-assessor"])

    monkeypatch.delenv("VAULT_ADDR")
    monkeypatch.setenv("VAULT_TOKEN", token)
    write_engagement(workspace, openbao.address)
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    snap = Snapshot.load(workspace / "evidence/acme/2026-Q4/snapshot")
    assert snap.manifest.gaps == 0 and snap.gaps.empty
    assert len(snap.frame("secret")) >= 16 and len(snap.frame("token")) >= 3
    assert len(snap.frame("audit_device")) == 2 and len(snap.frame("certificate")) == 3
    assert_no_canary(workspace, extra=(token, openbao.root_token))

    def status(method: str, path: str, body: dict | None = None) -> int:
        return requests.request(method, f"{openbao.address}/v1/{path}", headers={"X-Vault-Token": token},
                                json=body, timeout=10).status_code

    assert status("GET", "secret/data/prod/payments/db-password") == 403
    assert status("GET", "legacy/config") == 403
    assert status("GET", "legacy/keys/signing") == 403
    assert status("POST", "auth/approle/role/payments-prod/secret-id") == 403
    assert status("GET", "auth/approle/role/payments-prod/role-id") == 403
    assert status("GET", "database/creds/payments-readonly") == 403
    assert status("GET", "secret/metadata/prod/payments/db-password") == 200

    # A mount created after the policy is a coverage gap on the next collection.
    r = requests.post(f"{openbao.address}/v1/sys/mounts/late-kv", headers={"X-Vault-Token": openbao.root_token},
                      json={"type": "kv", "options": {"version": "2"}}, timeout=10)
    assert r.status_code == 204
    try:  # the second collection of the quarter replaces the first only when asked to
        assert main(["collect", "acme", "--quarter", "2026-Q4", "--force"]) == 0
        gaps = Snapshot.load(workspace / "evidence/acme/2026-Q4/snapshot").gaps
        assert set(gaps["scope"]) == {"late-kv/"}
        assert {"GET sys/mounts/late-kv/tune", "LIST late-kv/metadata/"} == set(gaps["operation"])
        assert set(gaps["reason"]) == {"denied"}
    finally:
        requests.delete(f"{openbao.address}/v1/sys/mounts/late-kv", headers={"X-Vault-Token": openbao.root_token},
                        timeout=10)


def test_policy_from_engagement_client(openbao, vault_estate, workspace, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    write_engagement(workspace, openbao.address)
    assert main(["policy", "vault", "acme"]) == 0
    out = capsys.readouterr().out
    assert "live mounts of " + openbao.address in out and 'path "apps/metadata/*"' in out
    assert openbao.root_token not in out


def test_policy_aws(capsys):
    rc = main(["policy", "aws"])
    captured = capsys.readouterr()
    try:
        import collectors.aws.guard  # noqa: F401
    except ImportError:
        assert rc == 1 and captured.err.strip().count("\n") == 0 and "aws.guard" in captured.err
        return
    assert rc == 0
    doc = json.loads(captured.out)
    assert doc["Version"] == "2012-10-17" and doc["Statement"]


@pytest.mark.parametrize("argv", [["policy", "--help"], ["policy", "vault", "--help"]])
def test_help_explains(argv, capsys):
    assert main(argv) == 0
    assert "assessor" in capsys.readouterr().out


def test_mount_names_with_glob_characters_are_not_granted(capsys):
    assert main(["policy", "vault", "--mount", "kv:team*", "--mount", 'kv1:x" { }', "--mount", "kv:ok"]) == 0
    out = capsys.readouterr().out
    stanzas = _stanzas(out)
    assert not any(p.startswith(("team", "x")) or "team*" in p for p in stanzas)
    assert out.count("# NOT COVERED") == 2 and stanzas["ok/metadata/*"] == ["read", "list"]


def test_policy_honours_engagement_mount_filter(openbao, vault_estate, workspace, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    write_engagement(workspace, openbao.address, extra="      mounts: [legacy]\n")
    assert main(["policy", "vault", "acme"]) == 0
    s = _stanzas(capsys.readouterr().out)
    assert s["legacy/*"] == ["list"] and "sys/mounts/legacy/tune" in s
    assert not any(p.startswith(("secret/", "apps/", "transit/", "pki/")) for p in s)
    assert "auth/approle/role/+" in s  # auth methods are always assessed
