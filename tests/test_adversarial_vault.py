"""Adversarial Vault inputs (issue #12), each a regression test against the real OpenBao.

- Mount names are literals (item 15): a KV v2 mount named ``team/+`` lends no
  read rule to the KV v1 mount ``team/legacy`` (whose GET returns a value), and
  mounts named ``+`` or ``*`` are collected like any other, SCAN included.
- A ``sys/mounts`` / ``sys/auth`` answer of an unexpected shape (item 17) is a
  ``malformed`` coverage gap, never a traceback and never "nothing there"; the
  rest is collected. The faults are injected by `faultproxy.FaultProxy`, a
  loopback proxy in front of the same server.
- ``list_tokens: false`` is an ``excluded`` gap on the token table, not a crash.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
import requests
from conftest import CANARIES, assert_no_canary
from faultproxy import FaultProxy, Reply
from vault_fixtures import audit_entries, rows, run_collector, vault_estate, write_engagement  # noqa: F401

from collectors.vault.http import VaultHTTP
from posture.cli import main
from posture.model.errors import ReadOnlyViolation
from posture.model.snapshot import Snapshot

CANARY = CANARIES[0]
#: (mount path, KV version); "team/+" and "team/legacy" side by side is the issue's estate.
PATTERN_MOUNTS = (("team/+", 2), ("team/legacy", 1), ("+", 2), ("*", 2))
VALUE_PATH = "team/legacy/metadata/foo"  # a KV v1 secret named "metadata/foo": a GET reads its value


def _root(openbao) -> dict[str, str]:
    return {"X-Vault-Token": openbao.root_token}


def _api(openbao, path: str) -> str:
    return f"{openbao.address}/v1/{quote(path, safe='/')}"


@pytest.fixture(scope="module")
def pattern_mounts(openbao):
    """The mounts of `PATTERN_MOUNTS` on the shared server, with a canary in the KV v1 one;
    removed afterwards, so other modules see the server as before."""
    for path, version in PATTERN_MOUNTS:
        r = requests.post(_api(openbao, f"sys/mounts/{path}"), headers=_root(openbao), timeout=10,
                          json={"type": "kv", "options": {"version": str(version)}})
        assert r.status_code == 204, r.text
    put = [(VALUE_PATH, {"v": CANARY}), ("team/+/data/app/one", {"data": {"v": CANARY}}),
           ("+/data/x/y", {"data": {"v": CANARY}}), ("*/data/z", {"data": {"v": CANARY}})]
    for path, body in put:
        requests.post(_api(openbao, path), headers=_root(openbao), json=body, timeout=10).raise_for_status()
    yield [p for p, _ in PATTERN_MOUNTS]
    for path, _ in PATTERN_MOUNTS:
        requests.delete(_api(openbao, f"sys/mounts/{path}"), headers=_root(openbao), timeout=10)


def _value_reads(openbao) -> list[dict]:
    return [e for e in audit_entries(openbao, VALUE_PATH) if e["request"]["operation"] == "read"]


# --- Mount names are literals (item 15) ----------------------------------------------------------


def test_kv2_mount_named_like_a_pattern_lends_no_read_to_a_kv1_mount(openbao, pattern_mounts):
    """Root token, real server: the collector's own guard refuses the value read before sending."""
    direct = requests.get(_api(openbao, VALUE_PATH), headers=_root(openbao), timeout=10)
    assert direct.status_code == 200 and direct.json()["data"] == {"v": CANARY}  # what is at stake
    before = _value_reads(openbao)  # that one read, ours
    assert len(before) >= 1

    _, collector = run_collector(openbao.address, openbao.root_token, mounts=["team/+", "team/legacy"])
    guard = collector.http.guard  # registered from the live sys/mounts, as in every run
    assert guard.check("GET", "team/+/metadata/app/one").kind == "kv2"
    assert guard.check("LIST", "team/legacy/metadata/").kind == "kv1"  # names only
    http = VaultHTTP(openbao.address, guard=guard, token=openbao.root_token)
    try:
        for method, path in (("GET", VALUE_PATH), ("GET", "team/legacy/metadata/"),
                             ("GET", "team/x/metadata/foo"), ("GET", "sys/mounts/team/x/tune")):
            with pytest.raises(ReadOnlyViolation, match="outside the read-only allow-list"):
                http.request(method, path)
        assert http.requests == 0  # nothing was sent
    finally:
        http.close()
    assert _value_reads(openbao) == before  # no read since: the server's audit log agrees


@pytest.mark.parametrize("scan", [True, False], ids=["scan", "walk"])
def test_mounts_named_plus_and_star_are_collected(openbao, pattern_mounts, scan):
    log = openbao.audit_log("file")
    start = log.stat().st_size
    sink, collector = run_collector(openbao.address, openbao.root_token, mounts=pattern_mounts,
                                    options={"vault_scan": scan})
    assert sink.gaps() == []
    mode = "scan" if scan else "walk"
    assert {m: collector.kv_mode[m] for m in ("team/+", "+", "*")} == {"team/+": mode, "+": mode, "*": mode}
    secrets = {s.path: s.kind for s in sink.rows("secret")}
    assert secrets == {"team/+/app/one": "kv2", "+/x/y": "kv2", "*/z": "kv2", VALUE_PATH: "kv1"}
    assert {m.path for m in sink.rows("mount")} == {"team/+/", "team/legacy/", "+/", "*/"}
    blob = b"".join(orjson.dumps(r.model_dump(mode="json")) for t in sink.counts() for r in sink.rows(t))
    assert CANARY.encode() not in blob
    new = [orjson.loads(line) for line in log.read_bytes()[start:].splitlines() if line.strip()]
    ops = {(e["request"]["operation"], e["request"]["path"]) for e in new if e.get("type") == "request"}
    assert not any(p.startswith("team/legacy/") and op != "list" for op, p in ops)
    assert not any("/data/" in p for _, p in ops)


def test_collect_cli_with_pattern_named_mounts_exits_0(openbao, pattern_mounts, workspace: Path, monkeypatch,
                                                     capsys):
    """Before the fix a mount named "+" made the guard refuse the collector's own SCAN: exit 4, no snapshot."""
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    mounts = ", ".join(orjson.dumps(m).decode() for m in pattern_mounts)
    write_engagement(workspace, openbao.address, extra=f"      mounts: [{mounts}]\n")
    assert main(["collect", "acme"]) == 0
    assert "no coverage gaps" in capsys.readouterr().out
    snap = Snapshot.load(next((workspace / "evidence/acme").glob("*/snapshot")))
    assert snap.manifest.gaps == 0 and len(snap.frame("secret")) == 4
    assert_no_canary(workspace, extra=(openbao.root_token,))


def test_policy_does_not_grant_pattern_named_mounts(openbao, pattern_mounts, workspace, monkeypatch, capsys):
    """In an ACL policy "team/+/metadata/*" would grant reading team/legacy's values: not granted."""
    monkeypatch.setenv("VAULT_ADDR", openbao.address)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    assert main(["policy", "vault"]) == 0
    out = capsys.readouterr().out
    for name in ("team/+", "+", "*"):
        assert f"# NOT COVERED: mount {name!r}" in out
    stanzas = [line.split('"')[1] for line in out.splitlines() if line.startswith("path ")]
    assert "team/legacy/*" in stanzas
    assert not any(p.startswith(("+", "*", "team/+")) for p in stanzas)
    assert not any(p.startswith("team/legacy/") and p != "team/legacy/*" for p in stanzas)


# --- Malformed sys/mounts and sys/auth (item 17) ---------------------------------------------------


@pytest.fixture
def proxy(openbao):
    with FaultProxy(openbao.address) as p:
        yield p


def _mangle_mounts(real: Reply) -> Reply:
    doc = real.json()
    doc["data"]["transit/"]["type"] = 7                 # an unexpected type
    doc["data"]["legacy/"] = "kv"                        # an entry that is not an object
    doc["data"]["pki/"]["options"] = "version=2"         # options that are not an object
    doc["data"]["sys/evil/"] = {"type": "kv", "options": {"version": "2"}}  # a place Vault reserves
    return real.with_json(doc)


def test_fault_proxy_forwards_and_substitutes(openbao, proxy):
    """The helper itself: untouched requests reach the real server, substituted ones do not."""
    assert requests.get(f"{proxy.address}/v1/sys/health", timeout=10).json()["initialized"] is True
    proxy.substitute("GET", "/v1/sys/leader", Reply.html(status=200))
    r = requests.get(f"{proxy.address}/v1/sys/leader", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    r = requests.request("LIST", f"{proxy.address}/v1/sys/policies/acl", headers=_root(openbao), timeout=10)
    assert "default" in r.json()["data"]["keys"]
    assert proxy.count("GET", "/v1/sys/leader") == 1 and [s.path for s in proxy.substituted] == ["/v1/sys/leader"]


def test_malformed_mount_entries_are_gaps_and_the_rest_is_collected(openbao, vault_estate, proxy):  # noqa: F811
    proxy.substitute("GET", "/v1/sys/mounts", _mangle_mounts)
    sink, _ = run_collector(proxy.address, openbao.root_token)
    gaps = {(g.operation, g.reason, g.scope) for g in sink.gaps()}
    assert gaps == {("mount transit/", "malformed", "transit/"), ("mount legacy/", "malformed", "legacy/"),
                    ("mount pki/", "malformed", "pki/"), ("mount sys/evil/", "malformed", "sys/evil/")}
    assert all(set(g.tables) >= {"mount", "secret"} for g in sink.gaps())
    mounts = {m.path for m in sink.rows("mount")}
    assert {"secret/", "apps/", "database/"} <= mounts and not mounts & {"transit/", "legacy/", "pki/"}
    assert "vault:core:secret/prod/payments/db-password" in rows(sink, "secret")
    assert not any(s.mount == "legacy/" for s in sink.rows("secret")) and not sink.rows("key")
    assert sink.rows("auth_method") and sink.rows("policy") and sink.rows("token")


def test_malformed_auth_entry_is_a_gap(openbao, vault_estate, proxy):  # noqa: F811
    def mangle(real: Reply) -> Reply:
        doc = real.json()
        doc["data"]["approle/"]["config"] = ["not", "an", "object"]
        return real.with_json(doc)

    proxy.substitute("GET", "/v1/sys/auth", mangle)
    sink, _ = run_collector(proxy.address, openbao.root_token)
    assert [(g.operation, g.reason, g.tables) for g in sink.gaps()] == [
        ("auth method approle/", "malformed", ["auth_method", "auth_role"])]
    assert "auth/approle/" not in {m.path for m in sink.rows("auth_method")}
    assert {"auth/userpass/", "auth/token/"} <= {m.path for m in sink.rows("auth_method")}
    assert not any(r.mount == "auth/approle/" for r in sink.rows("auth_role"))


@pytest.mark.parametrize("reply", [
    Reply.html(),                                     # an SSO page with 200
    Reply.of_json({"data": ["secret/", "legacy/"]}),  # a list where an object belongs
    Reply.of_json(["secret/"]),
], ids=["html", "data-list", "list"])
def test_unreadable_mount_listing_is_one_gap_via_cli(openbao, vault_estate, proxy, reply, workspace,  # noqa: F811
                                                     monkeypatch, capsys):
    proxy.substitute("GET", "/v1/sys/mounts", reply)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    write_engagement(workspace, proxy.address)
    assert main(["collect", "acme"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    snap = Snapshot.load(next((workspace / "evidence/acme").glob("*/snapshot")))
    gaps = snap.gaps
    assert list(zip(gaps["operation"], gaps["reason"], strict=True)) == [("GET sys/mounts", "malformed")]
    assert set(gaps["tables"].iloc[0]) == {"mount", "secret", "key", "certificate"}
    assert snap.frame("mount").empty and snap.frame("secret").empty  # nothing guessed
    assert len(snap.frame("auth_method")) >= 3 and len(snap.frame("policy")) >= 3  # the rest collected
    assert_no_canary(workspace, extra=(openbao.root_token,))


def test_policy_from_malformed_listing(openbao, vault_estate, proxy, workspace, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("VAULT_ADDR", proxy.address)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    proxy.substitute("GET", "/v1/sys/mounts", _mangle_mounts)
    assert main(["policy", "vault"]) == 0
    out = capsys.readouterr().out
    for key in ("transit/", "legacy/", "pki/", "sys/evil/"):
        assert f"# NOT COVERED: mount {key!r} in sys/mounts:" in out
    assert 'path "secret/metadata/*"' in out and 'path "legacy/*"' not in out and "transit/keys" not in out

    proxy.substitute("GET", "/v1/sys/mounts", Reply.html())
    assert main(["policy", "vault"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sys/mounts" in err and "--mount" in err and "Traceback" not in err


def test_tokens_left_out_by_the_engagement_are_an_excluded_gap(openbao, vault_estate):  # noqa: F811
    """``list_tokens: false`` crashed (the gap reason was not in the vocabulary); it is a gap, not a pass."""
    sink, _ = run_collector(openbao.address, openbao.root_token, list_tokens=False, mounts=["secret"])
    assert [(g.operation, g.reason, g.tables) for g in sink.gaps()] == [
        ("LIST auth/token/accessors", "excluded", ["token"])]
    assert not sink.rows("token") and sink.rows("secret")
