"""The rotation planner (issue #17 parts 2 and 4): schedule, steps, calendar, CLI and site page.

An estate with one item of every rotation type of seed 001's table (a database
password, an API key, a TLS certificate, an SSH key, dynamic database
credentials, a transit encryption key) plus an item with no dates, assessed by
the real checks and exporter; the plan is read back through the contract. The
.ics is parsed by the independent `icalendar` library, not by the writer. The
canary test collects the seeded OpenBao estate (real dev server, secret values
are the canaries) with the real CLI, then plans, writes the calendar and builds
the site pages, and scans every file written.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from conftest import assert_no_canary
from vault_fixtures import vault_estate, write_engagement  # noqa: F401  (fixture)

from checks.rotation_steps import (
    CLOUD_ACCESS_KEY,
    DUAL_ACCOUNT,
    DYNAMIC,
    KEY_VERSIONING,
    OVERLAP_WINDOW,
    SSH_CA,
    TLS_RENEWAL,
    method_for,
    numbered,
)
from posture.cli import main
from posture.model.records import Certificate, Key, Secret
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink
from posture.report import Assessment
from posture.report.ical import fold
from posture.report.plans import event_uid, plan_table, rotation_events, rotation_ics
from posture.site.pages.plans import rotation_calendar_page
from posture.workspace import Workspace, quarter_end

Q = "2026-Q4"
AS_OF = quarter_end(Q)  # 2026-12-31
NOW = datetime.combine(AS_OF, datetime.min.time(), tzinfo=UTC)
HOSTILE_OWNER = 'Ops, Inc; night "crew"'
DB = "vault:core:secret/prod/payments/db_password"
API = "vault:core:secret/prod/stripe/api_key"
CERT = "vault:core:pki/cert/01"
SSH = "vault:core:secret/prod/bastion/ssh_key"
DYN = "vault:core:database/creds/app"
TRANSIT = "vault:core:transit/keys/payments-transit"
UNKNOWN = "vault:core:secret/prod/legacy/api_key"

ENGAGEMENT = f"""\
client: acme
stores:
  vault:
    - name: core
      address: http://127.0.0.1:1
classification:
  owners:
    - match: ["*payments*"]
      owner: team-payments
      pager: payments-oncall@example.com
    - match: ["*bastion*"]
      owner: '{HOSTILE_OWNER}'
    - match: ["*stripe*", "*pki*", "*legacy*"]
      owner: platform
"""

# Seed 001's two numbered sequences, verbatim: the planner's steps follow them in this order.
SEED_DUAL_ACCOUNT = (
    "Two database accounts exist: app_user_a and app_user_b",
    "Application currently uses app_user_a",
    "Rotation rotates app_user_b password, updates secret store",
    "Application switches to app_user_b on next credential fetch",
    "After grace period, app_user_a password is rotated",
    "Cycle repeats",
)
SEED_OVERLAP_WINDOW = (
    "Generate new API key with provider",
    "Store new key in secret store as current, move old to previous",
    "Deploy applications — they read current",
    "After all instances restarted (or TTL expired), revoke previous",
    "Monitoring confirms zero usage of old key before revocation",
)


def _secret(path: str, **kw) -> Secret:
    kind = kw.pop("kind", "kv2")
    return Secret(id=f"vault:core:{path}", store="core", source="vault", kind=kind, path=path,
                  mount=path.split("/", 1)[0] + "/", name=path.rsplit("/", 1)[-1],
                  custom_metadata={"env": "prod"}, **kw)


def build(root: Path) -> Workspace:
    """The estate, collected into a snapshot and assessed by the real checks and exporter."""
    from checks.engine import run_assessment
    from checks.export import write_assessment

    path = root / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ENGAGEMENT)
    ws = Workspace(root=root, client="acme", engagement_path=path)
    d = lambda n: NOW - timedelta(days=n)
    sink = SnapshotSink()
    for r in (
        _secret("secret/prod/payments/db_password", created_at=d(400), updated_at=d(40)),
        _secret("secret/prod/stripe/api_key", created_at=d(300), updated_at=d(10)),
        _secret("secret/prod/bastion/ssh_key", created_at=d(200), updated_at=d(5)),
        _secret("database/creds/app", kind="database_role", default_ttl=3600, max_ttl=86400),
        _secret("secret/prod/legacy/api_key"),
        Certificate(id=CERT, store="core", source="vault", subject="shop.example.com",
                    not_before=d(20), not_after=NOW + timedelta(days=100)),
        Key(id=TRANSIT, store="core", source="vault", name="payments-transit", kind="transit",
            rotation_enabled=True, created_at=d(100), last_rotated_at=d(30)),
    ):
        sink.add(r)
    manifest = Manifest(client="acme", quarter=Q, engagement_sha256=ws.load().sha256,
                        started_at=NOW, finished_at=NOW)
    sink.write(ws.snapshot_dir(Q), manifest)
    snap = Snapshot.load(ws.snapshot_dir(Q))
    a = run_assessment(snap, ws.load().engagement, as_of=AS_OF)
    write_assessment(a, snap, ws.assessment_dir(Q), client="acme", quarter=Q,
                     generated_at=datetime(2027, 1, 2, 9, 30, tzinfo=UTC))
    return ws


@pytest.fixture
def planned(tmp_path) -> tuple[Workspace, Assessment]:
    ws = build(tmp_path)
    return ws, Assessment.load(ws.assessment_dir(Q))


def _rows(a: Assessment) -> dict:
    return {r.id: r for r in a.rows("rotation_plan")}


def _events(data: bytes) -> list:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


# --- the plan: methods, steps, due dates ---------------------------------------------------


def test_every_type_gets_the_seed_method_and_its_steps_in_order(planned):
    _, a = planned
    rows = _rows(a)
    expected = {DB: DUAL_ACCOUNT, API: OVERLAP_WINDOW, CERT: TLS_RENEWAL, SSH: SSH_CA, DYN: DYNAMIC,
                TRANSIT: KEY_VERSIONING}
    for item, method in expected.items():
        r = rows[item]
        assert r.rotation_method == method.key, item
        assert r.steps == numbered(method.steps), item
        assert r.overlap_window == method.overlap and r.seed == method.seed
        assert r.revocation_path.startswith(method.revocation), item
    assert rows[DB].method == "Dual-account swap (A/B rotation)"
    assert rows[API].method == "Generate new, deprecate old (overlap window)"
    assert rows[TRANSIT].method == "Key versioning (rewrap)"
    assert rows[SSH].method == "Vault-signed SSH certificates (CA-based)"
    # the store's own revocation command follows the seed's path
    assert "bao kv put secret/prod/payments/db_password" in rows[DB].revocation_path
    assert "bao write pki/revoke serial_number=01" in rows[CERT].revocation_path  # the store's own command


def test_the_sequences_follow_seed_001_step_by_step():
    """Each seed step has its counterpart at the same position (same key words), so the
    order of operations is the seed's, not a reordering."""
    dual = [("app_user_a and app_user_b", "account A and account B"), ("uses app_user_a", "uses account A"),
            ("rotates app_user_b password, updates secret store", "Rotate account B's password and update the secret store"),
            ("switches to app_user_b on next credential fetch", "switches to account B on its next credential fetch"),
            ("After grace period, app_user_a password is rotated", "After the grace period, rotate account A's password"),
            ("Cycle repeats", "cycle repeats")]
    for (seed_words, ours), seed_line, step in zip(dual, SEED_DUAL_ACCOUNT, DUAL_ACCOUNT.steps, strict=True):
        assert seed_words in seed_line and ours.lower() in step.lower(), (seed_line, step)
    overlap = [("Generate new API key", "Generate a new API key"), ("as current, move old to previous", "as current; move the old key to previous"),
               ("they read current", "they read current"), ("revoke previous", "revoke previous"),
               ("zero usage of old key", "zero usage of the old key")]
    for (seed_words, ours), seed_line, step in zip(overlap, SEED_OVERLAP_WINDOW, OVERLAP_WINDOW.steps, strict=True):
        assert seed_words in seed_line and ours in step, (seed_line, step)
    # dynamic credentials are never scheduled; a static cloud key still has its overlap sequence
    assert method_for("token", "dynamic-short-lived") is DYNAMIC and not DYNAMIC.scheduled
    assert method_for("cloud-access-key", "static-long-lived") is CLOUD_ACCESS_KEY
    assert method_for("webhook-secret", "static-long-lived") is OVERLAP_WINDOW


def test_due_dates_come_from_last_rotation_or_expiry_and_unknown_is_never_a_date(planned):
    _, a = planned
    rows = _rows(a)
    day = lambda r: r.next_due.date()
    assert day(rows[DB]) == AS_OF - timedelta(days=40 - 30) and rows[DB].status == "overdue"
    assert rows[DB].due_basis == "last rotated + max age" and -11 <= rows[DB].days_until_due <= -10
    assert day(rows[API]) == AS_OF + timedelta(days=80) and rows[API].status == "ok"
    assert day(rows[CERT]) == AS_OF + timedelta(days=100 - 60)  # 60 days before expiry (seed 001)
    assert rows[CERT].due_basis.startswith("certificate expiry") and rows[CERT].status == "ok"
    assert rows[CERT].overlap_days == 60
    assert day(rows[SSH]) == AS_OF + timedelta(days=85)
    assert rows[SSH].overlap_days == pytest.approx(8 / 24, abs=1e-3)  # the signed certificate's TTL
    assert day(rows[TRANSIT]) == AS_OF + timedelta(days=60)
    assert rows[DYN].status == "dynamic" and rows[DYN].next_due is None and rows[DYN].overlap_days is None
    u = rows[UNKNOWN]
    assert u.status == "unknown" and u.next_due is None and u.days_until_due is None
    assert u.due_basis.startswith("unknown")
    assert rows[DB].owner == "team-payments" and rows[DB].pager == "payments-oncall@example.com"


def test_events_recur_by_period_overdue_sits_on_the_as_of_date(planned):
    _, a = planned
    ev = rotation_events(a, 90)
    per_item: dict[str, list] = {}
    for e in ev:
        per_item.setdefault(e.item_id, []).append(e)
    assert DYN not in per_item and UNKNOWN not in per_item  # no event without a date
    db = per_item[DB]
    assert [e.on for e in db] == [AS_OF + timedelta(days=n) for n in (0, 30, 60, 90)]
    assert db[0].overdue and db[0].due == AS_OF - timedelta(days=10) and not db[1].overdue
    assert [len(per_item[i]) for i in (API, CERT, SSH, TRANSIT)] == [1, 1, 1, 1]
    assert [e.on for e in rotation_events(a, 30) if e.item_id == DB] == [AS_OF, AS_OF + timedelta(days=30)]
    assert {e.item_id for e in rotation_events(a, 30)} == {DB}
    table = plan_table(a, 30)  # undated rows stay; later ones are left out
    assert set(table["id"]) == {DB, DYN, UNKNOWN}


# --- the calendar ------------------------------------------------------------------------


def test_ics_parses_with_events_dates_attendees_and_folding(planned):
    _, a = planned
    data = rotation_ics(a, 90)
    assert data == rotation_ics(a, 90)  # deterministic: the same assessment, the same bytes
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    physical = data.split(b"\r\n")
    assert max(len(line) for line in physical) <= 75 and any(line.startswith(b" ") for line in physical)
    cal = icalendar.Calendar.from_ical(data)
    assert str(cal["VERSION"]) == "2.0" and "Secrets Posture Kit" in str(cal["PRODID"])
    events = _events(data)
    assert len(events) == 4 + 1 + 1 + 1 + 1
    by_uid = {str(e["UID"]): e for e in events}
    assert len(by_uid) == len(events)
    first_db = next(e for e in events if "db_password" in str(e["SUMMARY"]) and "OVERDUE" in str(e["SUMMARY"]))
    assert first_db["DTSTART"].dt == AS_OF and first_db["DTEND"].dt == AS_OF + timedelta(days=1)
    assert isinstance(first_db["DTSTART"].dt, date) and not isinstance(first_db["DTSTART"].dt, datetime)
    assert first_db["DTSTAMP"].dt == datetime(2027, 1, 2, 9, 30, tzinfo=UTC)
    assert str(first_db["UID"]).endswith("-20261221@secrets-posture-kit")  # item + due date
    att = first_db["ATTENDEE"]
    assert str(att) == "mailto:payments-oncall@example.com" and att.params["CN"] == "team-payments"
    desc = str(first_db["DESCRIPTION"])
    positions = [desc.index(s) for s in numbered(DUAL_ACCOUNT.steps)]
    assert positions == sorted(positions)  # the steps, in order, unfolded and unescaped intact
    assert "Overlap window: 1 day(s)" in desc and "Revocation path: Rotate the account's password" in desc
    assert "Due 2026-12-21" in desc and "OVERDUE" in desc
    tls = next(e for e in events if "shop.example.com" in str(e["SUMMARY"]))
    assert tls["DTSTART"].dt == AS_OF + timedelta(days=40) and str(tls["ATTENDEE"]).startswith("urn:uuid:")
    ssh = next(e for e in events if "ssh_key" in str(e["SUMMARY"]))
    assert ssh["ATTENDEE"].params["CN"] == "Ops, Inc; night 'crew'"  # quoted parameter, no DQUOTE
    assert str(ssh["ATTENDEE"]).startswith("urn:uuid:")
    assert "Vault acts as the SSH CA" in str(ssh["DESCRIPTION"])


def test_uid_is_stable_per_item_and_due_date(planned, tmp_path):
    _, a = planned
    uids = [event_uid(a, e) for e in rotation_events(a, 90)]
    assert len(set(uids)) == len(uids)
    again = Assessment.load(build(tmp_path / "again").assessment_dir(Q))
    assert [event_uid(again, e) for e in rotation_events(again, 90)] == uids


def test_fold_never_splits_a_utf8_sequence():
    line = "DESCRIPTION:" + "é" * 100
    folded = fold(line).encode()
    parts = folded.split(b"\r\n")
    assert all(len(p) <= 75 for p in parts)
    assert b"".join(p[1:] if i else p for i, p in enumerate(parts)).decode() == line


# --- the command -------------------------------------------------------------------------


def test_cli_table_csv_json_and_ics(planned, monkeypatch, capsys, tmp_path):
    ws, _ = planned
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["plan", "rotation", "acme"]) == 0
    out = capsys.readouterr().out
    assert "payments/db_password" in out and "overdue" in out and "dynamic" in out and "unknown" in out
    ics = tmp_path / "acme.ics"
    assert main(["plan", "rotation", "acme", "-q", Q, "--format", "json", "--ics", str(ics)]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    items = {i["id"]: i for i in doc["items"]}
    assert doc["as_of"] == "2026-12-31" and items[UNKNOWN]["next_due"] is None
    assert items[DYN]["status"] == "dynamic" and items[DB]["steps"] == numbered(DUAL_ACCOUNT.steps)
    assert f"wrote {ics} (8 event(s))" in cap.err and len(_events(ics.read_bytes())) == 8
    assert main(["plan", "rotation", "acme", "--format", "csv", "--horizon", "30"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("status,next_due,days_until_due,id") and len(lines) == 1 + 3


@pytest.mark.parametrize("args, message", [
    (["-q", "2026-Q5"], "is not of the form YYYY-QN"),
    (["-q", "2025-Q1"], "no assessment of acme 2025-Q1"),
    (["--format", "xml"], "--format 'xml'"),
    (["--ics", "plan.txt"], "must end in .ics"),
    (["--horizon", "0"], "--horizon"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(planned, monkeypatch, capsys, tmp_path, args, message):
    ws, _ = planned
    monkeypatch.setenv("POSTURE_HOME", str(ws.root))
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "rotation", "acme", *args, "--ics", str(tmp_path / "x.ics")]
                if "--ics" not in args else ["plan", "rotation", "acme", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "x.ics").exists() and not (tmp_path / "plan.txt").exists()


def test_cli_without_any_assessment(tmp_path, monkeypatch, capsys):
    path = tmp_path / "engagements" / "acme" / "engagement.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(ENGAGEMENT)
    monkeypatch.setenv("POSTURE_HOME", str(tmp_path))
    assert main(["plan", "rotation", "acme"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: no assessment for acme yet (run 'posture collect acme' and "
                   "'posture assess acme' first)")


# --- the site page -----------------------------------------------------------------------


def test_calendar_page_months_owners_download_and_escaping(planned):
    _, a = planned
    page = rotation_calendar_page(a)
    assert 'href="../../downloads/rotation-plan.ics" download' in page
    assert "## Overdue" in page and "## January 2027" in page and "## March 2027" in page
    assert "## By owner" in page and "## Order of operations" in page and "## No date" in page
    assert "Ops, Inc; night &quot;crew&quot;" in page and HOSTILE_OWNER not in page
    assert "<li>Rotate account B&#x27;s password and update the secret store with it.</li>" in page
    assert page.count('id="method-') == len({r.rotation_method for r in a.rows("rotation_plan")})
    assert "**" not in page and "`" not in page  # no Markdown a reader would see literally


def test_build_docs_puts_the_calendar_in_the_plans_section(planned, tmp_path):
    from posture.site.pages import build_docs
    from posture.site.publishing import static_dir

    ws, a = planned
    docs = build_docs(ws, Q, tmp_path / "docs", static=static_dir(), published=[], history=[])
    plans = next(entry["Plans"] for entry in docs.nav if "Plans" in entry)
    assert {"Rotation plan": "rotation-plan.md"} in plans
    assert {"Rotation calendar": "plans/rotation-calendar.md"} in plans
    assert (tmp_path / "docs/plans/rotation-calendar.md").exists()
    assert (tmp_path / "docs/downloads/rotation-plan.ics").read_bytes() == rotation_ics(a)
    assert "rotation-plan.ics" in (tmp_path / "docs/downloads.md").read_text()
    from posture.site.pages import plans as plans_pages

    if plans_pages.suggested_policies_page is not None:  # the suggestions page, when installed
        assert {"Suggested policies": "plans/suggested-policies.md"} in plans


def test_plans_section_holds_the_calendar_alone_without_the_suggestions_page(planned, monkeypatch):
    from posture.site.pages import plans as plans_pages

    _, a = planned
    written: dict[str, str] = {}

    def page(rel, build):
        written[rel] = build("../../")
        return rel

    monkeypatch.setattr(plans_pages, "suggested_policies_page", None)
    assert plans_pages.plans_section(a, page) == [{"Rotation calendar": "plans/rotation-calendar.md"}]
    assert list(written) == ["plans/rotation-calendar.md"]


# --- never a secret value ----------------------------------------------------------------


def test_no_canary_in_plan_calendar_or_site(openbao, vault_estate, workspace, monkeypatch, capsys):  # noqa: F811
    """The seeded OpenBao estate (its secret values are the canaries), collected and assessed
    by the CLI, then planned (every format), written as .ics and built into the site pages."""
    from posture.site.pages import build_docs
    from posture.site.publishing import static_dir

    write_engagement(workspace, openbao.address)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    q = "2026-Q4"
    assert main(["collect", "acme", "-q", q, "--as-of", "2026-12-01"]) == 0
    assert main(["assess", "acme", "-q", q, "--no-notebooks"]) == 0
    capsys.readouterr()
    out = workspace / "plan-out"
    out.mkdir()
    for fmt in ("table", "csv", "json"):
        assert main(["plan", "rotation", "acme", "-q", q, "--format", fmt, "--horizon", "3660",
                     "--ics", str(out / f"{fmt}.ics")]) == 0
        (out / f"stdout.{fmt}").write_text(capsys.readouterr().out)
    ws = Workspace.resolve("acme")
    a = Assessment.load(ws.assessment_dir(q))
    assert len(a.rows("rotation_plan")) > 3 and len(_events((out / "json.ics").read_bytes())) > 0
    build_docs(ws, q, workspace / "docs", static=static_dir(), published=[], history=[])
    assert assert_no_canary(out) == 6
    assert (workspace / "docs" / "plans" / "rotation-calendar.md").exists()
    assert assert_no_canary(workspace / "docs" / "plans") >= 1
    assert assert_no_canary(workspace / "docs" / "downloads") >= 1
