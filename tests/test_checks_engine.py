"""Engine semantics: coverage-gap scoping, waivers, classification, scoring, views, diff."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from checks_cases import (
    AS_OF,
    PROD_DB,
    V,
    audit_dev,
    audit_log,
    cert,
    engagement,
    kv,
    read,
    role,
    sm,
    token,
    vpolicy,
    vserver,
)

from checks.classify import Classifier
from checks.diff import diff_findings
from checks.engine import run_assessment
from checks.scoring import grade_for, score
from checks.views import access_model, cross_env, leak_cards, rotation_plan
from posture.model.engagement import Classification, EnvironmentRule, SecretTypeRule, Waiver
from posture.model.records import CoverageGap, Secret
from posture.model.snapshot import Snapshot


def run(records, eng=None, only=None):
    a = run_assessment(Snapshot.from_records(records), eng or engagement(), AS_OF, only=only)
    assert not a.errors, a.errors
    return a


def status_of(a, check_id, resource):
    f = a.findings
    row = f[(f["check_id"].astype(str) == check_id) & (f["resource"] == resource)]
    assert len(row) == 1, (check_id, resource, f[["check_id", "resource"]])
    return str(row["status"].iloc[0])


# --- coverage gaps ----------------------------------------------------------------------


def test_gap_scope_limits_not_assessed_to_its_mount():
    recs = [kv("secret/prod/a", updated_at=AS_OF_DT(100)), kv("kv/prod/b", mount="kv/", updated_at=AS_OF_DT(100)),
            CoverageGap(id="core:secret/:LIST", store="core", source="vault", tables=["secret"], scope="secret/",
                        operation="LIST secret/metadata/", reason="denied")]
    a = run(recs, only=["LCY001"])
    assert status_of(a, "LCY001", "vault:core:secret/prod/a") == "not_assessed"
    assert status_of(a, "LCY001", "vault:core:kv/prod/b") == "fail"
    ev = a.evidence_records()
    f = a.findings.reset_index(drop=True)
    i = f.index[f["resource"] == "vault:core:secret/prod/a"][0]
    assert ev[i]["coverage_gaps"] == ["core:secret/:LIST"] and ev[i]["verdict_without_gap"] == "fail"


def AS_OF_DT(days):
    from checks_cases import NOW
    return NOW - timedelta(days=days)


def test_missing_audit_device_table_is_not_assessed_not_a_false_fail():
    gap = CoverageGap(id="core::LIST sys/audit", store="core", source="vault", tables=["audit_device"],
                      operation="GET sys/audit", reason="denied")
    a = run([vserver(), gap], only=["VLT004", "VLT005"])
    assert set(a.findings["status"].astype(str)) == {"not_assessed"}


def test_whole_table_missing_for_a_store_adds_a_not_assessed_row():
    gap = CoverageGap(id="core::LIST sys/auth", store="core", source="vault", tables=["auth_role"],
                      operation="LIST sys/auth", reason="denied")
    a = run([vserver(), gap], only=["VLT011", "VLT013"])
    f = a.findings
    assert sorted(f["resource"]) == ["gap:core:*", "gap:core:*"]
    assert set(f["status"].astype(str)) == {"not_assessed"} and set(f["note"]) == {"coverage_gap"}
    # a gap in another source's store does not leak into unrelated checks
    aws_gap = CoverageGap(id="main::kms", store="main", source="aws", tables=["key"], operation="kms:ListKeys",
                          reason="denied")
    a = run([vserver(), aws_gap], only=["VLT019", "AWS006"])
    assert list(a.findings["check_id"].astype(str)) == ["AWS006"]


def test_unknown_field_is_not_assessed_not_pass():
    a = run([vserver(seal_type=None)], only=["VLT003"])
    assert status_of(a, "VLT003", "vault:core") == "not_assessed"
    assert a.findings["note"].iloc[0] == "unknown"


def test_check_error_is_reported_as_not_assessed(monkeypatch):
    from checks import catalog

    c = catalog.REGISTRY["VLT001"]
    monkeypatch.setitem(catalog.REGISTRY, "VLT001", c.__class__(**{**c.__dict__, "fn": lambda ctx: 1 / 0}))
    a = run_assessment(Snapshot.from_records([vserver()]), engagement(), AS_OF, only=["VLT001"])
    assert a.errors and "ZeroDivisionError" in a.errors[0]
    assert list(a.findings["status"].astype(str)) == ["not_assessed"]


# --- waivers ----------------------------------------------------------------------------


@pytest.mark.parametrize("expires_in, expected", [(30, "waived"), (-1, "fail")])
def test_waiver_active_and_expired(expires_in, expected):
    w = Waiver(check="VLT0*", resource="vault:core", reason="migration to raft in Q1", approver="ciso@acme.test",
               expires=AS_OF + timedelta(days=expires_in))
    a = run([vserver(ha_enabled=False, storage_type="inmem")], engagement(waivers=[w]), only=["VLT001", "VLT003"])
    assert status_of(a, "VLT001", "vault:core") == expected
    assert status_of(a, "VLT003", "vault:core") == "pass", "a waiver never changes a pass"
    f = a.findings.reset_index(drop=True)
    i = f.index[f["check_id"].astype(str) == "VLT001"][0]
    assert f.loc[i, "waiver"]["approver"] == "ciso@acme.test"
    ev = a.evidence_records()[i]
    assert ("waiver_expired" in ev) == (expected == "fail")


def test_waiver_resource_glob_must_match():
    w = Waiver(check="LCY001", resource="vault:core:secret/legacy/*", reason="r", approver="a",
               expires=AS_OF + timedelta(days=5))
    a = run([kv("secret/legacy/x", updated_at=AS_OF_DT(400)), kv("secret/prod/y", updated_at=AS_OF_DT(400))],
            engagement(waivers=[w]), only=["LCY001"])
    assert status_of(a, "LCY001", "vault:core:secret/legacy/x") == "waived"
    assert status_of(a, "LCY001", "vault:core:secret/prod/y") == "fail"


# --- classification ---------------------------------------------------------------------


def test_classification_rules_tags_and_defaults():
    cls = Classification(
        environments=[EnvironmentRule(environment="partner", match=["*/partner/*"])],
        secret_types=[SecretTypeRule(type="webhook-secret", match=["*hook*"])],
    )
    recs = [
        kv("secret/partner/x"),
        kv("secret/misc/y", custom_metadata={"env": "Production", "owner": "ops"}),
        kv("secret/dev/github_hook"),
        kv("secret/stage/stripe_api_key"),
        kv("secret/prod/card/pan_key_db"),
        Secret(id="vault:core:database/roles/app", kind="database_role", path="database/creds/app-prod",
               name="app-prod", default_ttl=3600, **V),
        sm("prod/payments/db_password", rotation_interval_days=3),
        token(creation_ttl=3600),
        role("jwt", "github-ci"),
    ]
    a = run(recs, engagement().model_copy(update={"classification": cls}), only=["INV003"])
    it = a.items.set_index("id")
    assert it.loc["vault:core:secret/partner/x", "environment"] == "partner"
    assert it.loc["vault:core:secret/misc/y", "environment"] == "prod"
    assert it.loc["vault:core:secret/misc/y", "owner"] == "ops"
    assert it.loc["vault:core:secret/dev/github_hook", "secret_type"] == "webhook-secret"
    assert it.loc["vault:core:secret/stage/stripe_api_key", ["environment", "secret_type"]].tolist() == ["staging", "api-key"]
    assert it.loc["vault:core:secret/prod/card/pan_key_db", "data_class"] == "regulated"
    assert it.loc["vault:core:secret/misc/y", "data_class"] == "confidential"
    assert it.loc["vault:core:database/roles/app", "lifecycle_class"] == "dynamic-short-lived"
    sm_id = [i for i in it.index if i.startswith("arn:aws:secretsmanager")][0]
    assert it.loc[sm_id, "lifecycle_class"] == "static-short-lived"
    assert it.loc["vault:core:secret/partner/x", "lifecycle_class"] == "static-long-lived"
    assert it.loc["vault:core:auth/jwt/role/github-ci", "lifecycle_class"] == "workload-identity"
    tok = [i for i in it.index if "token" in i][0]
    assert it.loc[tok, "lifecycle_class"] == "dynamic-short-lived"


def test_classifier_environment_of_paths():
    c = Classifier()
    env = c.environment_of_paths(pd.Series(["secret/data/prod/x", "kv/staging-app", "dev.env", "secret/shared"]))
    assert env.tolist() == ["prod", "staging", "dev", "unknown"]


# --- scoring ----------------------------------------------------------------------------


def test_scoring_weights_checks_once_and_caps_grade_by_coverage():
    recs = [vserver(seal_type="shamir", seal_threshold=1, seal_shares=1), *audit_dev(2)]
    recs += [kv(f"secret/prod/x{i}", updated_at=AS_OF_DT(1), custom_metadata={"owner": "o", "rotation": "30"})
             for i in range(50)]
    a = run(recs, only=["VLT002", "VLT005", "LCY001", "INV001"])
    s = score(a.findings, a.thresholds)
    # VLT002 high(5) fails, VLT005 medium(3) + LCY001 high(5) + INV001 medium(3) pass
    assert s["overall"]["score"] == pytest.approx(round(100 * 11 / 16, 1))
    assert s["overall"]["coverage"] == 1.0 and s["overall"]["grade"] == "D"
    item3 = next(r for r in s["by_checklist_item"] if r["key"] == 3)
    assert item3["fail"] == 1 and item3["pass"] == 100  # LCY001 + INV001 over 50 secrets
    assert {r["key"] for r in s["by_stage"]} == {1, 2, 3, 4, 5}
    assert "severity-weighted" in s["method"]
    assert grade_for(95, 0.95, a.thresholds.min_coverage_for_grade) == "A"
    assert grade_for(95, 0.6, a.thresholds.min_coverage_for_grade) == "C"
    assert grade_for(95, 0.1, a.thresholds.min_coverage_for_grade) == "D"
    assert grade_for(None, 0.0, a.thresholds.min_coverage_for_grade) == "N/A"


def test_not_assessed_is_excluded_from_score_but_lowers_coverage():
    a = run([vserver(), *audit_dev(2)], only=["VLT005", "OPS003"])
    s = score(a.findings)
    assert s["overall"]["score"] == 100.0 and s["overall"]["coverage"] == 0.5
    assert s["overall"]["grade"] == "C"


# --- views ------------------------------------------------------------------------------


def test_access_model_cross_env_leak_cards_and_rotation_plan():
    recs = [vserver(), audit_log(),
            *vpolicy("payments-read", [("secret/data/prod/payments/*", ["read"])]),
            *vpolicy("payments-all", [("secret/data/prod/payments/*", ["read"]), ("secret/data/dev/*", ["read"])]),
            role("approle", "payments", policies=["payments-read"]),
            role("approle", "ci", policies=["payments-all"]),
            kv(PROD_DB, updated_at=AS_OF_DT(40)), kv("secret/dev/payments/api_key", updated_at=AS_OF_DT(80)),
            cert(20),
            read("approle-payments", "secret/data/prod/payments/db_password")]
    snap = Snapshot.from_records(recs)
    a = run_assessment(snap, engagement(), AS_OF)
    am = access_model(a, snap)
    row = am[(am["principal"] == "approle:payments")]
    assert row["path"].tolist() == ["secret/data/prod/payments/*"] and row["environment"].tolist() == ["prod"]
    ce = cross_env(a, snap, am)
    assert {(k, n) for k, n in zip(ce["kind"], ce["name"])} == {("policy", "payments-all"), ("principal", "approle:ci")}
    cards = leak_cards(a, snap, am)
    card = next(c for c in cards if c["id"] == f"vault:core:{PROD_DB}")
    assert card["pager"] == "#payments-oncall" and card["owner"] == "payments-team"
    assert set(card["principals_can_read"]) == {"approle:payments", "approle:ci"}
    assert card["principals_did_read"] == ["approle-payments"]
    assert len(card["steps"]) == 6 and card["steps"][1].startswith("2. Revoke immediately")
    plan = rotation_plan(a).set_index("id")
    assert plan.loc[f"vault:core:{PROD_DB}", "status"] == "overdue"  # db-password, 40 d > 30 d
    assert plan.loc["vault:core:secret/dev/payments/api_key", "status"] == "due_soon"  # 80 d of 90
    c = [i for i in plan.index if "acm" in i][0]
    assert plan.loc[c, "status"] == "overdue"  # 20 days left < 60 d renew-before


# --- diff -------------------------------------------------------------------------------


def test_diff_new_resolved_changed_still_open():
    def f(cid, res, st):
        return {(cid, res): {"check_id": cid, "resource": res, "status": st, "severity": "high",
                             "environment": "prod", "owner": None, "title": cid}}
    before = {**f("A", "r1", "fail"), **f("A", "r2", "fail"), **f("B", "r3", "fail"), **f("C", "r4", "pass")}
    after = {**f("A", "r1", "fail"), **f("A", "r2", "pass"), **f("B", "r3", "waived"), **f("C", "r4", "fail"),
             **f("D", "r5", "not_assessed")}
    d = diff_findings(before, after)
    key = lambda rows: sorted((r["check_id"], r["resource"]) for r in rows)
    assert key(d["new"]) == [("C", "r4")]
    assert key(d["resolved"]) == [("A", "r2")]
    assert key(d["still_open"]) == [("A", "r1"), ("B", "r3")]
    assert key(d["changed"]) == [("B", "r3")]


def test_orphaned_secret_without_audit_logs_is_not_assessed():
    a = run([kv(PROD_DB), sm("prod/payments/api_key")], only=["AUD011", "AUD012"])
    assert status_of(a, "AUD011", f"vault:core:{PROD_DB}") == "not_assessed"
    assert status_of(a, "AUD012", f"vault:core:{PROD_DB}") == "not_assessed"
    # Secrets Manager's own last-accessed date is evidence of use even without logs
    sm_id = next(r for r in a.findings["resource"] if r.startswith("arn:"))
    assert status_of(a, "AUD011", sm_id) == "pass"
