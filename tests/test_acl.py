"""The Vault ACL evaluator (`posture.model.acl`): unit rules, then OpenBao as the oracle.

The oracle test writes overlapping policies to the real OpenBao dev server and asserts that
the evaluator's capabilities equal ``sys/capabilities`` for a token holding each policy set.
"""

from __future__ import annotations

import itertools
import json

import pytest
import requests

from posture.model.acl import ACL, Rule, parse_pattern
from posture.model.errors import ConfigError
from posture.model.records import PolicyRule


def acl(*rules: tuple[str, list[str]]) -> ACL:
    return ACL.from_rules(Rule.of(path, caps) for path, caps in rules)


# --- path classification --------------------------------------------------------------


def test_glob_only_as_last_character():
    assert parse_pattern("secret/a*b").kind == "exact"  # inner * is a literal
    assert parse_pattern("secret/a*b").matches("secret/a*b")
    assert not parse_pattern("secret/a*b").matches("secret/aXb")
    lit = parse_pattern("secret/x*y*")
    assert (lit.kind, lit.is_prefix) == ("prefix", True)
    assert lit.matches("secret/x*yz/deeper") and not lit.matches("secret/xAyz")
    assert parse_pattern("*").matches("anything/at/all")


def test_plus_is_exactly_one_segment_possibly_empty():
    p = parse_pattern("secret/+/db")
    assert p.matches("secret/prod/db") and p.matches("secret//db")
    assert not p.matches("secret/prod/eu/db") and not p.matches("secret/prod/db/x")
    assert parse_pattern("a/+/*").matches("a/x/") and not parse_pattern("a/+/*").matches("a/x")
    # '+' inside a segment is a literal character (the server still files it as a segment path)
    literal_plus = parse_pattern("secret/+x")
    assert literal_plus.matches("secret/+x") and not literal_plus.matches("secret/ax")
    assert parse_pattern("a+/b").kind == "exact"


def test_is_wildcard_and_leading_slash():
    assert parse_pattern("secret/*").is_wildcard and parse_pattern("secret/+/db").is_wildcard
    assert not parse_pattern("secret/a*b").is_wildcard and not parse_pattern("secret/+x").is_wildcard
    assert parse_pattern("/secret/db").path == "secret/db"
    assert acl(("/secret/db", ["read"])).capabilities("//secret/db") == {"read"}


def test_plus_star_is_rejected_like_the_server_does():
    with pytest.raises(ConfigError):
        parse_pattern("secret/+*")


def test_reaches_a_prefix():
    assert parse_pattern("+/+").reaches("sys/") and parse_pattern("s*").reaches("sys/")
    assert parse_pattern("*").reaches("sys/") and parse_pattern("sys/*").reaches("sys/")
    assert not parse_pattern("sys").reaches("sys/") and not parse_pattern("sysfoo/*").reaches("sys/")
    assert not parse_pattern("secret/*").reaches("sys/")
    one = parse_pattern("secret/+/db")
    assert one.reaches("secret/pr") and one.reaches("secret/x/d") and not one.reaches("secret/x/db/")
    glob = parse_pattern("secret/data/app*")
    assert glob.reaches("secret/data/") and glob.reaches("secret/data/application/x")
    assert not glob.reaches("secret/data/b")


# --- evaluation -----------------------------------------------------------------------


def test_exact_wins_outright_even_when_it_grants_nothing():
    a = acl(("secret/db", ["read"]), ("secret/*", ["update", "list"]), ("secret/none", []))
    assert a.capabilities("secret/db") == {"read"}
    assert a.capabilities("secret/other") == {"update", "list"}
    assert a.capabilities("secret/none") == frozenset()  # no fall-through to secret/*


def test_highest_priority_wildcard_decides_alone():
    # A later first wildcard wins (foo/a* over foo/+), capabilities are not added up.
    a = acl(("foo/+", ["read"]), ("foo/a*", ["list"]))
    assert a.capabilities("foo/abc") == {"list"} and a.capabilities("foo/bcd") == {"read"}
    a = acl(("a/b/+", ["read"]), ("a/+/c", ["update"]))
    assert a.capabilities("a/b/c") == {"read"}
    # Same first wildcard: non-prefix over prefix.
    a = acl(("foo/+/bar", ["read"]), ("foo/+/ba*", ["update"]))
    assert a.capabilities("foo/x/bar") == {"read"} and a.capabilities("foo/x/baz") == {"update"}
    # Then fewer '+' segments.
    a = acl(("a/+/b/c", ["read"]), ("a/+/+/c", ["update"]))
    assert a.capabilities("a/x/b/c") == {"read"}
    # Then the longer path.
    a = acl(("foo/+/bar/ba*", ["read"]), ("foo/+/bar/b*", ["update"]))
    assert a.capabilities("foo/x/bar/baz") == {"read"}
    # Then the lexicographically larger one ('b' > '+').
    for order in (1, -1):  # whatever the insertion order
        a = acl(*[("a/+/b/+", ["read"]), ("a/+/+/c", ["update"])][::order])
        assert a.capabilities("a/x/b/c") == {"read"}
    # A narrower glob shadows a broader one: secret/* does not add 'read' under secret/app/.
    a = acl(("secret/*", ["read"]), ("secret/app/*", ["list"]))
    assert a.capabilities("secret/app/x") == {"list"}
    assert a.deciding_rule("secret/app/x") == "secret/app/*"


def test_same_path_merges_and_deny_wins_there_only():
    a = ACL.from_rules([Rule.of("secret/*", ["read"]), Rule.of("secret/*", ["list"]),
                        Rule.of("kv/*", ["read"]), Rule.of("kv/*", ["deny"]),
                        Rule.of("kv/open", ["read"])])
    assert a.capabilities("secret/x") == {"read", "list"}
    assert a.capabilities("kv/x") == frozenset() and not a.allows("kv/x", "read")
    assert a.capabilities("kv/open") == {"read"}  # an exact rule beats the denied glob
    b = acl(("kv/data/*", ["read"]), ("kv/data/prod/*", ["deny"]))
    assert b.allows("kv/data/dev/x", "read") and not b.allows("kv/data/prod/x", "read")


def test_list_fallbacks_apply_to_listing_only():
    a = acl(("secret/metadata/app", ["list", "read"]), ("kv/+", ["list", "read"]))
    assert a.capabilities("secret/metadata/app/") == {"list", "read"}  # sys/capabilities view
    assert a.allows("secret/metadata/app/", "list")
    assert not a.allows("secret/metadata/app/", "read")  # a read is not a list request
    assert a.allows("kv/x/", "list") and not a.allows("kv/x/", "read")
    assert a.deciding_rule("kv/x/", listing=True) == "kv/+" and a.deciding_rule("kv/x/") is None


def test_root_and_records():
    rules = [PolicyRule(id=f"r{i}", store="core", source="vault", policy_id=p, policy=p, path=path,
                        capabilities=caps)
             for i, (p, path, caps) in enumerate([("app", "secret/data/app/*", ["read"]),
                                                  ("ops", "sys/*", ["sudo", "read"])])]
    assert ACL.from_records(rules, ["app"]).capabilities("sys/mounts") == frozenset()
    assert ACL.from_records(rules).capabilities("sys/mounts") == {"sudo", "read"}
    root = ACL.from_records(rules, ["root"])
    assert root.capabilities("anything") == {"root"} and root.allows("sys/seal", "sudo")


# --- OpenBao as the oracle --------------------------------------------------------------

PREFIX = "acl-oracle"

ORACLE_POLICIES: dict[str, list[tuple[str, list[str]]]] = {
    f"{PREFIX}-base": [
        ("kv/data/app/config", ["read"]),               # exact
        ("kv/data/app/*", ["read", "list"]),            # * suffix
        ("kv/data/app/secret*", ["update"]),            # longer * suffix
        ("kv/data/+/shared", ["create", "read"]),       # + segment
        ("kv/data/+/shared/*", ["list"]),               # + segment and * suffix
        ("kv/+/+/db", ["delete"]),                      # two + segments
        ("kv/data/lit*eral/*", ["patch"]),              # inner * literal, * suffix
        ("kv/data/star*mid", ["read"]),                 # inner * literal, exact
        ("kv/metadata/app", ["list"]),                  # exact, for the trailing-slash list path
        ("kv/metadata/+/team", ["list", "read"]),       # + segment, for the list fallback
        ("+/sys-like/*", ["read"]),                     # + first segment
        ("kv/data/empty", []),                          # exact, grants nothing
        ("a/+/+/c", ["update"]), ("a/+/b/+", ["read"]),  # lexicographic tie-break
    ],
    f"{PREFIX}-deny": [
        ("kv/data/app/secret-prod", ["deny"]),           # exact deny
        ("kv/data/+/shared", ["deny", "read"]),          # deny overlay on a shared path
        ("kv/data/app/*", ["update"]),                   # same path as in base: merged
        ("kv/data/locked/*", ["deny"]),
    ],
    f"{PREFIX}-extra": [
        ("kv/data/app/*", ["create"]),                   # same path, a third policy
        ("kv/data/+/shared", ["update"]),
        ("kv/data/team/+", ["read"]),
        ("kv/data/team/+/x", ["sudo"]),
        ("kv/data/team/a*", ["list"]),                   # glob later than the + of team/+
        ("kv/data/+/+", ["read", "scan"]),
        ("kv/data/+/shared*", ["patch"]),
        ("kv/data/+x/y", ["read"]),                      # '+' inside a segment: literal
    ],
    f"{PREFIX}-star": [("*", ["read"]), ("kv/*", ["list"]), ("kv/data/+/", ["update"])],
}

ORACLE_SETS: list[tuple[str, ...]] = [
    ("base",), ("deny",), ("base", "deny"), ("base", "extra"), ("base", "deny", "extra"),
    ("extra",), ("star",), ("star", "base"), ("star", "extra", "deny"),
]

ORACLE_PATHS = [
    "kv/data/app/config", "kv/data/app/config/", "kv/data/app/other", "kv/data/app/", "kv/data/app",
    "kv/data/app/secret", "kv/data/app/secret-prod", "kv/data/app/secretx/y", "kv/data/x/shared",
    "kv/data/x/shared/", "kv/data/x/shared/a/b", "kv/data/x/sharedfoo", "kv/data/app/shared",
    "kv/a/b/db", "kv/data/app/db", "kv/data/lit*eral/z", "kv/data/litXeral/z", "kv/data/star*mid",
    "kv/data/starXmid", "kv/metadata/app/", "kv/metadata/app", "kv/metadata/q/team/",
    "kv/metadata/q/team", "zzz/sys-like/q", "zzz/sys-like", "kv/data/empty", "kv/data/empty/",
    "kv/data/team/abc", "kv/data/team/b", "kv/data/team/b/x", "kv/data/team/abc/x",
    "kv/data/locked/q", "kv/data/locked", "kv/data//", "kv/data/q/", "kv/data/+x/y", "kv/data/zz/y",
    "a/x/b/c", "sys/mounts", "/kv/data/app/config", "kv", "kv/",
]


def _hcl(rules: list[tuple[str, list[str]]]) -> str:
    return "".join(f'path "{path}" {{\n  capabilities = {json.dumps(caps)}\n}}\n' for path, caps in rules)


def _records() -> list[PolicyRule]:
    """The oracle policies as the collector records them (`policy_rule` rows)."""
    return [
        PolicyRule(id=f"{name}#{i}", store="oracle", source="vault", policy_id=name, policy=name,
                   path=path, capabilities=caps)
        for name, rules in ORACLE_POLICIES.items() for i, (path, caps) in enumerate(rules)
    ]


def test_acl_equals_openbao_sys_capabilities(openbao):
    session = requests.Session()
    session.headers["X-Vault-Token"] = openbao.root_token

    def call(method: str, path: str, **kw) -> dict:
        r = session.request(method, f"{openbao.address}/v1/{path}", timeout=10, **kw)
        assert r.status_code < 300, (path, r.status_code, r.text)
        return r.json() if r.content else {}

    for name, rules in ORACLE_POLICIES.items():
        call("PUT", f"sys/policies/acl/{name}", json={"policy": _hcl(rules)})
    records = _records()

    table = list(itertools.product(ORACLE_SETS, ORACLE_PATHS))
    assert len(table) >= 40
    mismatches = []
    for short_names in ORACLE_SETS:
        names = [f"{PREFIX}-{n}" for n in short_names]
        created = call("POST", "auth/token/create",
                       json={"policies": names, "no_default_policy": True, "ttl": "10m"})
        token = created["auth"]["client_token"]
        evaluator = ACL.from_records(records, names)
        for path in ORACLE_PATHS:
            answer = call("POST", "sys/capabilities", json={"token": token, "paths": [path]})[path]
            server = frozenset() if answer == ["deny"] else frozenset(answer)
            ours = evaluator.capabilities(path)
            if ours != server:
                mismatches.append((short_names, path, sorted(server), sorted(ours)))
    assert not mismatches, mismatches

    root = call("POST", "sys/capabilities", json={"token": openbao.root_token, "paths": ["sys/seal"]})
    assert frozenset(root["sys/seal"]) == ACL.from_records(records, ["root"]).capabilities("sys/seal")
