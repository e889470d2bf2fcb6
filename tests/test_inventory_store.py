"""The declared inventory (#17): the file format, the inventory store, the export and the round trip.

Real components only: the parser reads real files, collection runs the real
`posture collect` (with a real OpenBao dev server for the observed items of the
round trip), assessment the real engine and exporter.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from conftest import CANARIES, assert_no_canary

from checks.classify import DEFAULT_TYPES, Classifier
from checks.engine import run_assessment
from checks.views import leak_cards, rotation_plan
from collectors.inventory import entry_record
from posture.cli import main
from posture.model.engagement import Classification, Engagement, OwnerRule
from posture.model.errors import ConfigError
from posture.model.inventory_file import (
    COLUMNS,
    SECRET_CLASSES,
    parse_inventory,
    rotation_days,
    secret_class,
    write_inventory,
)
from posture.model.records import Secret
from posture.model.snapshot import Snapshot

NOW = datetime(2026, 11, 15, tzinfo=UTC)
HEADER = "id,name,secret_class,consumers,storage_today,rotation_frequency,owner_team,environment,last_rotated,expires,pager\n"
GOOD_CSV = HEADER + (
    "stripe-live,Stripe live API key,third-party API key,checkout; billing,1Password vault Payments,quarterly,"
    "payments-team,prod,2026-09-01,,payments-oncall\n"
    "hsm-signing,Code signing key,asymmetric private key,release pipeline,HSM (Thales Luna),yearly,release-eng,prod,"
    "2026-01-10,,release-oncall\n"
    "partner-tls,partner.acme.example TLS,tls,partner gateway,wiki page SEC-42,90d,,prod,2026-10-01,2026-12-01,\n"
    "wiki-db,Legacy DB password in wiki,DB password,reporting,Confluence wiki,never,,prod,,,\n"
)
GOOD_YAML = """\
- id: stripe-live
  name: Stripe live API key
  secret_class: third-party API key
  consumers: [checkout, billing]
  storage_today: 1Password vault Payments
  rotation_frequency: quarterly
  owner_team: payments-team
  environment: prod
  last_rotated: 2026-09-01
  pager: payments-oncall
- id: hsm-signing
  name: Code signing key
  secret_class: asymmetric private key
  consumers: release pipeline
  storage_today: HSM (Thales Luna)
  rotation_frequency: yearly
  owner_team: release-eng
  environment: prod
  last_rotated: 2026-01-10
  pager: release-oncall
- id: partner-tls
  name: partner.acme.example TLS
  secret_class: tls
  consumers: [partner gateway]
  storage_today: wiki page SEC-42
  rotation_frequency: 90d
  environment: prod
  last_rotated: 2026-10-01
  expires: 2026-12-01
- id: wiki-db
  name: Legacy DB password in wiki
  secret_class: DB password
  consumers: [reporting]
  storage_today: Confluence wiki
  rotation_frequency: never
  environment: prod
"""


def parse(text: str, name: str = "inv.csv"):
    return parse_inventory(text.encode(), Path(name), today=NOW)


def problem(text: str, name: str = "inv.csv") -> str:
    with pytest.raises(ConfigError) as e:
        parse(text, name)
    msg = str(e.value)
    assert "\n" not in msg and e.value.exit_code == 2
    return msg


# --- the format --------------------------------------------------------------------


def test_secret_classes_are_the_classifications_types():
    # and the classifier's own type for auth roles and principals, so an export always reads back
    assert set(SECRET_CLASSES) == {n for n, _ in DEFAULT_TYPES} | {"generic", "workload-identity"}
    # seed 000's words for the classes
    assert [secret_class(w) for w in ("symmetric keys", "Asymmetric private key", "bearer token",
                                      "DB password", "cloud IAM", "third-party API key")] == [
        None, "signing-key", "token", "db-password", "cloud-access-key", "api-key"]
    assert secret_class("symmetric key") == "encryption-key" and secret_class("TLS") == "tls"


def test_csv_and_yaml_read_the_same_rows():
    a, b = parse(GOOD_CSV), parse(GOOD_YAML, "inv.yaml")
    strip = lambda es: [{k: v for k, v in e.__dict__.items() if k not in ("line", "given")} for e in es]
    assert strip(a) == strip(b)
    stripe = a[0]
    assert (stripe.secret_class, stripe.consumers, stripe.rotation_days, stripe.rotation_frequency) == (
        "api-key", ("checkout", "billing"), 90, "90d")
    assert stripe.last_rotated == datetime(2026, 9, 1, tzinfo=UTC) and stripe.pager == "payments-oncall"
    assert a[3].rotation_days is None and a[3].rotation_frequency == "never"
    assert [e.line for e in a] == [2, 3, 4, 5] and [e.line for e in b] == [1, 11, 21, 30]
    assert a[1].is_key and not a[0].is_key and a[2].is_certificate


def test_headers_are_read_as_people_write_them():
    text = ("Id;Secret class;Owner team;Storage today;Rotation frequency\n"
            "x;api key;payments;wiki;30 days\n")
    (e,) = parse(text)
    assert (e.id, e.secret_class, e.owner_team, e.storage_today, e.rotation_days) == (
        "x", "api-key", "payments", "wiki", 30)


@pytest.mark.parametrize("text, days", [
    ("30d", 30), ("90 days", 90), ("quarterly", 90), ("24h", 1), ("36h", 2), ("12w", 84), ("6 months", 180),
    ("1y", 365), ("every 2 weeks", 14), ("Monthly", 30), ("never", None)])
def test_rotation_frequency_syntax(text, days):
    assert rotation_days(text) == days


@pytest.mark.parametrize("text", ["30m", "0d", "sometimes", "90", "-5d", "1.5d", "10000000d"])
def test_rotation_frequency_refused(text):
    with pytest.raises(ValueError):
        rotation_days(text)


ROW = "a,x,api key,,,,,,,,\n"


@pytest.mark.parametrize("text, name, expected", [
    (HEADER + "a,x,dragon scale,,,,,,,,\n", "inv.csv", "inv.csv:2: secret_class: unknown secret class 'dragon scale'"),
    (HEADER + "a,x,api key,,,,,,2026-02-30,,\n", "inv.csv", "inv.csv:2: last_rotated: '2026-02-30': not a date"),
    (HEADER + "a,x,api key,,,,,,yesterday,,\n", "inv.csv", "inv.csv:2: last_rotated: 'yesterday': not a date"),
    (HEADER + "a,x,api key,,,,,,,next year,\n", "inv.csv", "inv.csv:2: expires: 'next year': not a date"),
    (HEADER + "a,x,api key,,,30m,,,,,\n", "inv.csv", "inv.csv:2: rotation_frequency: '30m': not a rotation frequency"),
    (HEADER + "a,x,api key,,,sometimes,,,,,\n", "inv.csv", "inv.csv:2: rotation_frequency: 'sometimes'"),
    ("id,name\na,x\n", "inv.csv", "inv.csv:1: secret_class: required column missing from the header"),
    ("name,secret_class\nx,api key\n", "inv.csv", "inv.csv:1: id: required column missing"),
    (HEADER + ROW + "\n" + ROW, "inv.csv", "inv.csv:4: id: duplicate id 'a' (first on line 2)"),
    ("id,secret_class,colour\na,api key,red\n", "inv.csv", "inv.csv:1: 'colour': unknown column"),
    ("", "inv.csv", "inv.csv:1: (file): empty inventory file"),
    ("  \n\n", "inv.yaml", "inv.yaml:1: (file): empty inventory file"),
    (HEADER, "inv.csv", "inv.csv:1: (file): no rows"),
    ("[]\n", "inv.yaml", "inv.yaml:1: (file): no rows"),
    ("id: a\nsecret_class: api key\n", "inv.yaml", "inv.yaml:1: (top level): expected a list of mappings"),
    ("- a\n- b\n", "inv.yaml", "inv.yaml:1: [0]: expected a mapping"),
    ("- id: a\n  secret_class: api key\n  colour: red\n", "inv.yaml", "inv.yaml:3: 'colour': unknown column"),
    ("- id: a\n  secret_class: api key\n- id: b\n  secret_class: [1, 2]\n", "inv.yaml",
     "inv.yaml:4: secret_class: must be text"),
    ("- id: a\n  secret_class: api key\n  last_rotated: 2026-13-01\n", "inv.yaml", "inv.yaml:3: last_rotated:"),
    ("- id: a\n  secret_class: api key\n- id: a\n  secret_class: tls\n", "inv.yaml",
     "inv.yaml:3: id: duplicate id 'a' (first on line 1)"),
    ("- id: a\n  secret_class: [unclosed\n", "inv.yaml", "inv.yaml:3: (file): invalid YAML"),
    ("- name: no id\n  secret_class: api key\n", "inv.yaml", "inv.yaml:1: id: required"),
    ("- id: a\n  owner_team: x\n", "inv.yaml", "inv.yaml:1: secret_class: required unless the row has a ref"),
    (HEADER + "a,x,api key,,,,,prod env,,,\n", "inv.csv", "inv.csv:2: environment: 'prod env' is not an environment"),
    (HEADER + "a,x,api key,,,,,,2030-01-01,,\n", "inv.csv", "inv.csv:2: last_rotated: is in the future"),
    (HEADER + "a,x,api key,,,,,,,,,extra\n", "inv.csv", "inv.csv:2: (row): 12 cells but 11 columns"),
    (HEADER + 'a,"multi\nline",api key,,,,,,,,\n', "inv.csv", "inv.csv:2: name: contains a control character"),
    ("id,ref,secret_class\na,vault:core:x,\nb,vault:core:x,\n", "inv.csv",
     "inv.csv:3: ref: 'vault:core:x' is enriched twice (first on line 2)"),
    ("id,secret_class\na,api key\n", "inv.txt", "inv.txt: an inventory file is .csv, .yaml or .yml"),
])
def test_every_mistake_is_one_line_with_file_line_and_column(text, name, expected):
    assert expected in problem(text, name)


def test_several_mistakes_report_the_first_and_count_the_rest():
    msg = problem(HEADER + "a,x,dragon,,,,,,,,\nb,x,api key,,,30m,,,,,\n")
    assert msg.startswith("inv.csv:2: secret_class:") and msg.endswith("(+1 more)")


PASTED = {  # a credential pasted into a cell: refused by line and column, never echoed
    "sk_" + "live_51H8xQeLkd93JfUa0Zq7WmPzRt": "Stripe Access Key",
    "AKIA" + "QX7ZP3M9V2KD4R6T": "AWS Access Key",
    "postgres://app:" + "Xk82hfPq0sLz@db.internal:5432/app": "Basic Auth Credentials",
    "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5": "High Entropy String",
    "ghp_" + "8vT2LmQ9xR4kZp1NcW7yB3sHd6Fj0Ga5Ue2K": "GitHub Token",
}


@pytest.mark.parametrize("value, detector", list(PASTED.items()))
@pytest.mark.parametrize("column", ["name", "storage_today", "owner_team", "pager", "consumers"])
def test_a_secret_value_in_any_cell_is_refused_without_echoing_it(value, detector, column):
    cells = {"id": "a", "secret_class": "api key", column: value}
    text = ",".join(cells) + "\n" + ",".join(cells.values()) + "\n"
    msg = problem(text)
    assert msg.startswith(f"inv.csv:2: {column}: looks like a secret value ({detector})")
    assert value not in msg and value[:12] not in msg
    ymsg = problem(f"- id: a\n  secret_class: api key\n  {column}: '{value}'\n", "inv.yaml")
    assert ymsg.startswith(f"inv.yaml:3: {column}: looks like a secret value") and value not in ymsg


@pytest.mark.parametrize("value", [
    "vault:core:secret/prod/payments/stripe-api-key",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/payments/db-AbCdEf",
    "aws:main:arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "projects/acme-prod/secrets/stripe-live-key",
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
    "1Password vault 'Payments'", "Confluence wiki page SEC-42", "laptop of the DBA", "payments-oncall (PagerDuty)",
    "https://wiki.acme.example/display/SEC/Partner+keys",
])
def test_metadata_that_only_looks_technical_is_not_a_secret(value):
    """Precision: store ids, ARNs, resource paths and prose are the inventory's business."""
    (e,) = parse(f"id,ref,storage_today,secret_class\nrow1,{value},{value},api key\n")
    assert e.ref == value and e.storage_today == value


def test_write_then_parse_round_trips_and_escapes_formulas():
    rows = [{"id": "a", "ref": "vault:core:secret/x", "name": "=HYPERLINK(\"http://evil\")", "secret_class": "api-key",
             "consumers": ["svc-a", "svc-b"], "rotation_frequency": "30d", "owner_team": "-team",
             "last_rotated": datetime(2026, 9, 1, tzinfo=UTC)}]
    for fmt, name in (("csv", "x.csv"), ("yaml", "x.yaml")):
        data = write_inventory(rows, fmt)  # type: ignore[arg-type]
        if fmt == "csv":
            assert data.decode().splitlines()[0] == ",".join(COLUMNS)
            assert "'=HYPERLINK" in data.decode() and ",'-team," in data.decode()
        (e,) = parse_inventory(data, Path(name), today=NOW)
        assert (e.name, e.owner_team, e.consumers, e.rotation_days, e.ref) == (
            '=HYPERLINK("http://evil")', "-team", ("svc-a", "svc-b"), 30, "vault:core:secret/x")


# --- records, classification, checks, views -----------------------------------------


def declared_snapshot(text: str = GOOD_CSV, extra: list | None = None) -> Snapshot:
    records = [entry_record(e, "declared") for e in parse(text)]
    return Snapshot.from_records(records + (extra or []))


def test_rows_become_secrets_keys_and_certificates_marked_declared():
    snap = declared_snapshot()
    s = {r["id"]: r for r in snap.rows("secret")}
    (k,) = snap.rows("key")
    (c,) = snap.rows("certificate")
    assert set(s) == {"inventory:declared:stripe-live", "inventory:declared:wiki-db"}
    stripe = s["inventory:declared:stripe-live"]
    assert (stripe["kind"], stripe["source"], stripe["declared"], stripe["storage"]) == (
        "declared", "inventory", True, "1Password vault Payments")
    assert stripe["tags"] == {"owner": "payments-team", "environment": "prod", "secret_type": "api-key"}
    assert stripe["custom_metadata"] == {"rotation_days": "90"} and stripe["rotation_interval_days"] == 90
    assert stripe["consumers"] == ["checkout", "billing"] and stripe["pager"] == "payments-oncall"
    assert s["inventory:declared:wiki-db"]["custom_metadata"] == {}  # "never" records no policy
    assert (k["kind"], k["declared"], k["usage"], k["rotation_period_days"]) == ("declared", True, "SIGN_VERIFY", 365)
    assert (c["subject"], c["declared"], c["not_after"][:10]) == ("partner.acme.example TLS", True, "2026-12-01")


def by_check(a, cid: str) -> dict[str, str]:
    f = a.findings
    return dict(zip(f.loc[f["check_id"].eq(cid), "resource"], f.loc[f["check_id"].eq(cid), "status"]))


def test_declared_items_are_classified_scored_planned_and_carded():
    eng = Engagement(client="acme")
    snap = declared_snapshot()
    a = run_assessment(snap, eng, as_of=NOW)
    it = a.items.set_index("id")
    D = "inventory:declared:"
    assert set(it["provenance"]) == {"declared"}
    assert it.loc[D + "stripe-live", ["environment", "secret_type", "owner", "pager", "critical"]].tolist() == [
        "prod", "api-key", "payments-team", "payments-oncall", True]
    assert it.loc[D + "hsm-signing", "table"] == "key" and it.loc[D + "partner-tls", "table"] == "certificate"
    assert it.loc[D + "wiki-db", "secret_type"] == "db-password"
    inv1, inv2 = by_check(a, "INV001"), by_check(a, "INV002")
    assert inv1[D + "stripe-live"] == "pass" and inv1[D + "wiki-db"] == "fail"
    assert inv2[D + "hsm-signing"] == "pass" and inv2[D + "partner-tls"] == "fail"
    lcy2 = by_check(a, "LCY002")
    assert lcy2[D + "stripe-live"] == "pass" and lcy2[D + "wiki-db"] == "fail"  # quarterly vs never
    assert by_check(a, "LCY003")[D + "partner-tls"] == "fail"  # expires within the renew-before window
    assert by_check(a, "LCY007")[D + "wiki-db"] == "fail"  # a static production DB password
    assert by_check(a, "LCY008")[D + "hsm-signing"] == "pass"  # an HSM key is a key, not a value
    assert by_check(a, "LCY001")[D + "wiki-db"] == "not_assessed"  # no date: unknown, never pass
    plan = rotation_plan(a).set_index("id")
    assert {D + x for x in ("stripe-live", "hsm-signing", "partner-tls", "wiki-db")} <= set(plan.index)
    assert plan.loc[D + "wiki-db", "status"] == "unknown"
    cards = {c["id"]: c for c in leak_cards(a, snap)}
    assert cards[D + "hsm-signing"]["pager"] == "release-oncall"  # the pager came from the file
    assert "page release-oncall" in cards[D + "hsm-signing"]["steps"][4]
    assert cards[D + "wiki-db"]["pager"] is None
    assert cards[D + "wiki-db"]["revoke_first"].startswith("rotate it at its issuer, then delete every copy")


def test_a_signing_key_kept_as_a_value_is_a_secret_and_fails_lcy008():
    """Precision: the same class in an HSM passes (previous test); in a wiki it is a copyable value."""
    snap = declared_snapshot(HEADER + "wiki-key,Signing key,signing key,,Confluence wiki,,ops,prod,,,\n")
    assert [r["id"] for r in snap.rows("secret")] == ["inventory:declared:wiki-key"]
    a = run_assessment(snap, Engagement(client="acme"), as_of=NOW)
    assert by_check(a, "LCY008")["inventory:declared:wiki-key"] == "fail"


def test_engagement_rules_beat_the_declaration_and_tag_keys_follow_the_engagement():
    rules = Classification(owners=[OwnerRule(match=["stripe-*"], owner="finance", pager="finance-oncall"),
                                   OwnerRule(match=["matches-nothing"], owner="release-eng", pager="fallback")],
                           owner_tag_keys=["team"])
    a = run_assessment(declared_snapshot(), Engagement(client="acme", classification=rules), as_of=NOW)
    it = a.items.set_index("id")
    assert it.loc["inventory:declared:stripe-live", ["owner", "pager"]].tolist() == ["finance", "finance-oncall"]
    # owner_tag_keys: [team] still reads the declared owner team
    assert it.loc["inventory:declared:hsm-signing", "owner"] == "release-eng"
    # the row's own pager beats the pager of its owner's rule; without one, the owner's applies
    assert it.loc["inventory:declared:hsm-signing", "pager"] == "release-oncall"
    snap = declared_snapshot(HEADER + "k,Key,api key,,wiki,,release-eng,prod,,,\n")
    (pager,) = run_assessment(snap, Engagement(client="acme", classification=rules), as_of=NOW).items["pager"]
    assert pager == "fallback"


def observed(**kw) -> Secret:
    base = {"id": "vault:core:secret/prod/payments/stripe", "store": "core", "source": "vault", "kind": "kv2",
                "path": "secret/prod/payments/stripe", "mount": "secret/", "name": "stripe",
                "updated_at": NOW - timedelta(days=10), "tags": {"team": "someone-else"}}
    return Secret(**{**base, **kw})


def test_a_ref_row_enriches_the_observed_item_instead_of_duplicating_it():
    text = ("id,ref,secret_class,owner_team,pager,consumers,rotation_frequency,environment\n"
            "stripe,vault:core:secret/prod/payments/stripe,api key,payments-team,payments-oncall,checkout,30d,prod\n"
            "gone,vault:core:secret/prod/removed,api key,payments-team,,,,prod\n")
    snap = declared_snapshot(text, [observed()])
    items = Classifier(Classification()).inventory(snap.frame, __import__("pandas").Timestamp(NOW))
    assert sorted(items["id"]) == ["inventory:declared:gone", "vault:core:secret/prod/payments/stripe"]
    row = items.set_index("id").loc["vault:core:secret/prod/payments/stripe"]
    assert (row["owner"], row["pager"], row["provenance"], row["declared_in"]) == (
        "payments-team", "payments-oncall", "observed", "declared:stripe")
    assert row["consumers"] == ["checkout"] and row["rotation_interval_days"] == 30
    assert row["tags"]["rotation_days"] == "30" and "team" not in row["tags"]  # the declaration replaced it
    assert row["secret_type"] == "api-key"
    # a ref naming no observed item stays: the client says it exists
    gone = items.set_index("id").loc["inventory:declared:gone"]
    assert gone["provenance"] == "declared"


# --- the CLI: collect refuses a bad file before any store; export; round trip -----------


def write_engagement(root: Path, stores: str) -> Path:
    path = root / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("client: acme\nstores:\n" + stores)
    return path


@pytest.mark.parametrize("name, text, where", [
    ("inventory.csv", HEADER + "a,x,api key,,,,,,2026-02-30,,\n", "inventory.csv:2: last_rotated:"),
    ("inventory.csv", HEADER + "a," + "sk_" + "live_51H8xQeLkd93JfUa0Zq7WmPzRt,api key,,,,,,,,\n",
     "inventory.csv:2: name: looks like a secret value"),
    ("inventory.yaml", "client: not a list\n", "inventory.yaml:1: (top level): expected a list"),
])
def test_collect_refuses_a_bad_inventory_before_contacting_any_store(workspace, capsys, name, text, where):
    """The Vault store listed first points at a closed port: had it been contacted, the exit
    would be 3 (unassessable store); the inventory's 2 proves validation came first."""
    eng = write_engagement(workspace, "  vault:\n    - name: core\n      address: http://127.0.0.1:9\n"
                                      "      timeout: 1\n      retries: 0\n"
                                      f"  inventory:\n    - name: declared\n      path: {name}\n")
    (eng.parent / name).write_text(text)
    capsys.readouterr()
    assert main(["collect", "acme"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and "Traceback" not in err
    assert "sk_live" not in err
    assert not (workspace / "evidence").exists()


def test_the_path_is_relative_to_the_engagement_file_or_absolute(workspace, tmp_path_factory, capsys):
    elsewhere = tmp_path_factory.mktemp("client-share")
    (elsewhere / "inv.yaml").write_text(GOOD_YAML)
    folder = tmp_path_factory.mktemp("engagement-folder")
    (folder / "sub").mkdir()
    (folder / "sub" / "inv.csv").write_text(GOOD_CSV)
    eng = folder / "acme.yaml"
    eng.write_text("client: acme\nstores:\n  inventory:\n    - name: here\n      path: sub/inv.csv\n"
                   f"    - name: there\n      path: {elsewhere / 'inv.yaml'}\n")
    assert main(["collect", str(eng)]) == 0
    snap = Snapshot.load(next((workspace / "evidence" / "acme").iterdir()) / "snapshot")
    ids = {r["id"] for t in ("secret", "key", "certificate") for r in snap.rows(t)}
    assert "inventory:here:stripe-live" in ids and "inventory:there:stripe-live" in ids and len(ids) == 8


def test_missing_inventory_file_is_one_line(workspace, capsys):
    write_engagement(workspace, "  inventory:\n    - name: declared\n      path: /nonexistent/inv.csv\n")
    assert main(["collect", "acme"]) == 2
    assert "/nonexistent/inv.csv: no such inventory file" in capsys.readouterr().err


def test_export_needs_a_snapshot_and_keeps_an_existing_file(workspace, capsys):
    eng = write_engagement(workspace, "  inventory:\n    - name: declared\n      path: inventory.csv\n")
    (eng.parent / "inventory.csv").write_text(GOOD_CSV)
    assert main(["inventory", "acme", "--export", str(workspace / "out.csv")]) == 2
    assert "has no snapshot" in capsys.readouterr().err
    assert main(["collect", "acme"]) == 0
    (workspace / "out.csv").write_text("the client's answers")
    assert main(["inventory", "acme", "--export", str(workspace / "out.csv")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (workspace / "out.csv").read_text() == "the client's answers"
    assert main(["inventory", "acme", "--export", str(workspace / "out.txt")]) == 2
    assert main(["inventory", "acme", "--export", str(workspace / "out.txt"), "--format", "yaml"]) == 0
    assert main(["inventory", "acme", "--export", str(workspace / "o.csv"), "--format", "xml"]) == 2


def test_declared_items_export_as_themselves(workspace):
    eng = write_engagement(workspace, "  inventory:\n    - name: declared\n      path: inventory.yaml\n")
    (eng.parent / "inventory.yaml").write_text(GOOD_YAML)
    assert main(["collect", "acme"]) == 0
    for out in ("out.csv", "out.yaml"):
        assert main(["inventory", "acme", "--export", str(workspace / out)]) == 0
        again = parse_inventory((workspace / out).read_bytes(), workspace / out)
        original = parse(GOOD_YAML, "x.yaml")
        key = lambda es: sorted((e.id, e.ref, e.secret_class, e.consumers, e.rotation_frequency, e.owner_team,
                                 e.environment, e.last_rotated, e.expires, e.pager, e.storage_today) for e in es)
        assert key(again) == key(original)


def seed_kv(openbao, mount: str) -> None:
    h = {"X-Vault-Token": openbao.root_token}
    r = requests.post(f"{openbao.address}/v1/sys/mounts/{mount}", headers=h,
                      json={"type": "kv", "options": {"version": "2"}}, timeout=10)
    assert r.status_code in (200, 204, 400), r.text  # 400: mounted by an earlier test
    for path, value in (("prod/payments/stripe-api-key", CANARIES[0]), ("prod/orders/db-password", CANARIES[0]),
                        ("staging/orders/api-key", CANARIES[0])):
        r = requests.post(f"{openbao.address}/v1/{mount}/data/{path}", headers=h,
                          json={"data": {"value": value}}, timeout=10)
        assert r.status_code == 200, r.text


def test_round_trip_collect_export_fill_in_owner_reimport_assess(workspace, openbao, monkeypatch, capsys):
    """Observed items from a real OpenBao; the exported file, with an owner filled in, comes back
    as an inventory store and enriches them: the owner is there, INV001 passes, no duplicates."""
    seed_kv(openbao, "inv17")
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    vault = (f"  vault:\n    - name: core\n      address: {openbao.address}\n      mounts: [inv17]\n"
             "      list_tokens: false\n      timeout: 5\n      retries: 1\n")
    write_engagement(workspace, vault)
    assert main(["collect", "acme"]) == 0
    assert main(["assess", "acme", "--no-notebooks"]) in (0, 1)
    export = workspace / "engagements" / "acme" / "inventory.csv"
    assert main(["inventory", "acme", "--export", str(export)]) == 0
    assert "wrote " in capsys.readouterr().out
    # the session's OpenBao also holds other tests' auth roles (credentials too): only inv17 is judged
    everything = list(csv.DictReader(io.StringIO(export.read_text())))
    rows = [r for r in everything if r["ref"].startswith("vault:core:inv17/")]
    others = [r["ref"] for r in everything if not r["ref"].startswith("vault:core:inv17/")]
    assert all(ref.startswith("vault:core:auth/") for ref in others), others
    stripe_id = "vault:core:inv17/prod/payments/stripe-api-key"
    assert {r["ref"] for r in rows} == {stripe_id, "vault:core:inv17/prod/orders/db-password",
                                        "vault:core:inv17/staging/orders/api-key"}
    assert all(r["id"] == r["ref"] for r in rows) and {r["owner_team"] for r in rows} == {""}
    # the client fills in an owner, a pager and a consumer for one row, and declares a new secret
    for r in rows:
        if r["ref"] == stripe_id:
            r.update(owner_team="payments-team", pager="payments-oncall", consumers="checkout; billing",
                     rotation_frequency="quarterly")
    rows.append({"id": "partner-key", "secret_class": "partner API key", "storage_today": "wiki",
                 "owner_team": "partners", "environment": "prod"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows + [r for r in everything if r not in rows])
    export.write_text(buf.getvalue())
    write_engagement(workspace, vault + "  inventory:\n    - name: declared\n      path: inventory.csv\n")
    assert main(["collect", "acme", "--force"]) == 0
    assert main(["assess", "acme", "--no-notebooks"]) in (0, 1)
    q = next((workspace / "evidence" / "acme").iterdir())
    inv = json.loads((q / "assessment" / "inventory.json").read_text())
    ids = [r["id"] for r in inv if r["id"] not in others]
    assert len(ids) == len(set(ids)) == 4  # three observed (enriched, not duplicated) + one declared
    by_id = {r["id"]: r for r in inv}
    stripe = by_id[stripe_id]
    assert (stripe["owner"], stripe["pager"], stripe["provenance"], stripe["declared_in"]) == (
        "payments-team", "payments-oncall", "observed", "declared:" + stripe_id)
    assert by_id["inventory:declared:partner-key"]["provenance"] == "declared"
    assert by_id["vault:core:inv17/prod/orders/db-password"]["owner"] is None
    findings = json.loads((q / "assessment" / "findings.json").read_text())["findings"]
    inv001 = {f["resource"]: f["status"] for f in findings if f["check_id"] == "INV001"}
    assert inv001[stripe_id] == "pass" and inv001["vault:core:inv17/prod/orders/db-password"] == "fail"
    assert inv001["inventory:declared:partner-key"] == "pass"
    assert not any(f["resource"].startswith("inventory:declared:vault:") for f in findings)
    lcy2 = {f["resource"]: f["status"] for f in findings if f["check_id"] == "LCY002"}
    assert lcy2[stripe_id] == "pass"  # the declared quarterly rotation is its recorded policy
    cards = {c["id"]: c for c in json.loads((q / "assessment" / "leak_cards.json").read_text())}
    assert cards[stripe_id]["pager"] == "payments-oncall"
    # the site's inventory page tells observed from declared
    from posture.report.loader import Assessment as Report
    from posture.site.pages.tables import inventory_page

    page = inventory_page(Report.load(q / "assessment"))
    assert "Provenance" in page and "declared:" + stripe_id in page and "1 declared in an inventory file" in page
    # a second export carries the answers back out; nothing anywhere holds the secret value
    assert main(["inventory", "acme", "--export", str(workspace / "again.yaml")]) == 0
    again = {e.ref or e.id: e for e in parse_inventory((workspace / "again.yaml").read_bytes(), Path("a.yaml"))}
    assert again[stripe_id].owner_team == "payments-team" and again[stripe_id].pager == "payments-oncall"
    assert again[stripe_id].consumers == ("checkout", "billing") and again["partner-key"].ref is None
    assert assert_no_canary(workspace) > 5


@pytest.fixture(params=["libyaml", "round-trip"])
def yaml_reader(request, monkeypatch):
    """Both YAML readers: libyaml (fast, the default) and ruamel's bounded round-trip loader."""
    import posture.model.inventory_file as fmt

    monkeypatch.setattr(fmt, "FAST_YAML", request.param == "libyaml")
    return request.param


@pytest.mark.parametrize("text, expected", [
    ("- id: a\n  secret_class: api key\n  colour: red\n", "inv.yaml:3: 'colour': unknown column"),
    ("id: a\n", "inv.yaml:1: (top level): expected a list of mappings"),
    ("- a\n- b\n", "inv.yaml:1: [0]: expected a mapping"),
    ("- id: a\n  secret_class: {x: 1}\n", "inv.yaml:2: secret_class: must be text"),
    ("- id: a\n  secret_class: api key\n  consumers: [x, {y: 1}]\n", "inv.yaml:3: consumers: must be text"),
    ("- id: a\n  secret_class: api key\n  environment: true\n", "inv.yaml:3: environment: must be text, not a boolean"),
    ("- id: a\n  secret_class: api key\n  last_rotated: 2026-02-30\n", "inv.yaml:3: last_rotated: '2026-02-30'"),
    ("- id: a\n  secret_class: [unclosed\n", "inv.yaml:3: (file): invalid YAML"),
    ("- id: a\n  secret_class: api key\n- id: a\n  secret_class: tls\n", "inv.yaml:3: id: duplicate id 'a'"),
    ("- id: a\n  secret_class: api key\n  pager: '" + "AKIA" + "QX7ZP3M9V2KD4R6T'\n",
     "inv.yaml:3: pager: looks like a secret value (AWS Access Key)"),
    ("- " * 12 + "x\n", "(file): invalid YAML: nested deeper than 8 levels"),
])
def test_both_yaml_readers_agree(yaml_reader, text, expected):
    assert expected in problem(text, "inv.yaml")


def test_both_yaml_readers_read_the_same_rows_and_lines(yaml_reader):
    rows = parse(GOOD_YAML, "inv.yaml")
    assert [e.line for e in rows] == [1, 11, 21, 30]
    assert rows[0].last_rotated == datetime(2026, 9, 1, tzinfo=UTC) and rows[0].consumers == ("checkout", "billing")


def test_a_large_yaml_export_reads_fast():
    """Scale: an export of a 5,000-item estate reads back in seconds (libyaml), not minutes."""
    import time

    rows = [{"id": f"vault:core:secret/prod/app{i}/db-password", "ref": f"vault:core:secret/prod/app{i}/db-password",
             "secret_class": "db-password", "storage_today": f"vault store core: secret/prod/app{i}",
             "environment": "prod", "owner_team": "payments-team", "consumers": ["svc-a", "svc-b"],
             "last_rotated": datetime(2026, 1, 1, tzinfo=UTC)} for i in range(5000)]
    for fmt in ("yaml", "csv"):
        data = write_inventory(rows, fmt)  # type: ignore[arg-type]
        started = time.perf_counter()
        assert len(parse_inventory(data, Path(f"x.{fmt}"), today=NOW)) == 5000
        assert time.perf_counter() - started < 20


@pytest.mark.parametrize("fmt", ["csv", "yaml"])
def test_export_reads_back_whatever_type_the_classification_gave(fmt):
    """General class: an exported file always reads back. Types the file has no word for (an
    engagement's own ``secret_types`` rule, the classifier's ``workload-identity`` for auth roles)
    stay the store's on a row with a ref, and become ``generic`` on a declared row."""
    import pandas as pd

    from posture.commands.inventory import export_rows

    now = datetime(2026, 12, 1, tzinfo=UTC)
    base = {"item_class": "secret", "store": "core", "source": "vault", "path": None, "owner": None,
            "pager": None, "environment": "prod", "last_rotated_at": None, "expires_at": None,
            "rotation_interval_days": None, "consumers": [], "name": None}
    items = pd.DataFrame([
        {**base, "id": "vault:core:auth/approle/role/batch", "secret_type": "workload-identity",
         "provenance": "observed"},
        {**base, "id": "vault:core:secret/prod/pay/token", "secret_type": "payment-token", "provenance": "observed"},
        {**base, "id": "inventory:declared:wiki-pass", "store": "declared", "source": "inventory",
         "secret_type": "payment-token", "provenance": "declared", "declared_ref": None, "storage": "wiki"},
    ])
    rows, observed, declared, skipped = export_rows(items, now)
    assert (observed, declared, skipped) == (2, 1, 0)
    by_id = {r["id"]: r for r in rows}
    assert by_id["vault:core:auth/approle/role/batch"]["secret_class"] == "workload-identity"
    assert by_id["vault:core:secret/prod/pay/token"]["secret_class"] is None
    assert by_id["wiki-pass"]["secret_class"] == "generic"
    back = parse_inventory(write_inventory(rows, fmt), f"inventory.{fmt}", today=now)
    assert {e.id for e in back} == set(by_id)
