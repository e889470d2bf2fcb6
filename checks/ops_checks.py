"""Manual checks: evidence no API shows, read from the engagement's attestations.

Missing attestation -> not_assessed (manual), never pass. Present -> pass,
unless it is older than `attestation_max_age_days` or its measured value
misses the target (time to revoke above 15 minutes) -> fail.
"""

from __future__ import annotations

import pandas as pd

from checks.catalog import CheckContext, attestation_for, check, emit


def attested(ctx: CheckContext, item: str, value_threshold: str | None = None) -> pd.DataFrame:
    """Manual evidence (the general class: an attestation stands in for what no API shows):
    not_assessed without one, fail when stale or (``value_threshold``) above its target."""
    a = attestation_for(ctx, item)
    row = pd.DataFrame({"id": [f"attestation:{item}"], "store": ["engagement"],
                        "source": ["engagement"], "name": [item], "path": [""]})
    if a is None:
        return emit(row, pd.Series([pd.NA], dtype="boolean"), manual=True, attestation=item,
                    reason="no attestation in the engagement")
    age = (ctx.as_of.date() - a.date).days
    fresh = age <= ctx.thresholds.attestation_max_age_days
    target = getattr(ctx.thresholds, value_threshold) if value_threshold else None
    if value_threshold and a.value is None:
        ok: object = pd.NA
    else:
        ok = fresh and (target is None or a.value <= target)
    return emit(row, pd.Series([ok], dtype="boolean"), manual=True, attestation=item,
                evidence_link=a.evidence, owner=a.owner, date=a.date.isoformat(),
                age_days=age, scope=a.scope, value=a.value, target=target)


@check("OPS001", "Rotation runbook with owners", stage=3, item=3, anti_pattern="no_rotation",
       severity="high", inputs=(), sources=("engagement",), controls=("rotation", "ownership"),
       thresholds=("attestation_max_age_days",), attestation="rotation_runbook",
       detects="A documented rotation runbook per secret class: order of operations, dual-credential "
               "window, connection-pool drain, owner.",
       why="Seed 000 stage 3 exit: a rotation runbook outline and the order of operations for at least "
           "one critical path.",
       fix="Write it (bootstrap -> fetch -> use -> rotate), name the owner, link it in the engagement.")
def attested_rotation_runbook(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "rotation_runbook")


@check("OPS002", "Revocation paths documented with owners", stage=3, item=3, anti_pattern="leak_response",
       severity="high", inputs=(), sources=("engagement",), controls=("incident", "ownership"),
       thresholds=("attestation_max_age_days",), attestation="revocation_runbook",
       detects="Documented immediate-invalidation paths per class (API key disable, cert CRL, token/lease "
               "revoke, session kill) with owners.",
       why="Checklist item 3; seed 000 stage 3: revocation for compromise must be immediate.",
       fix="Document `bao lease revoke -prefix`, `bao token revoke -accessor`, provider key disable, "
           "ACM/PKI revoke; assign owners.")
def attested_revocation_runbook(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "revocation_runbook")


@check("OPS003", "Leak playbook: step 1-5 at 3am and who is paged", stage=5, item=3,
       anti_pattern="leak_response", severity="critical", inputs=(), sources=("engagement",),
       controls=("incident",), thresholds=("attestation_max_age_days",), attestation="leak_playbook",
       detects="A 'credential leaked on GitHub' playbook: revoke order, scope, blast-radius query, "
               "stakeholder and customer comms, on-call paging.",
       why="Seed 000 stage 5 exit condition; seed 001 emergency procedures: contain within 15 minutes.",
       fix="Adopt seed 001's six steps per critical class; attach the leak cards this kit generates.")
def attested_leak_playbook(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "leak_playbook")


@check("OPS004", "Break-glass access with approval and logging", stage=2, item=2,
       anti_pattern="long_lived_tokens", severity="high", inputs=(), sources=("engagement",),
       controls=("emergency_access",), thresholds=("attestation_max_age_days",), attestation="break_glass",
       detects="A break-glass procedure: who can decrypt in an emergency, step-up auth, approval, "
               "time-boxed grant, audit log with reason, notification, auto-revoke.",
       why="Seed 000 stage 2 trade-off; seed 002 operator access. Without it admins keep standing "
           "root-like access 'just in case'.",
       fix="Define a break-glass role with a short TTL and an approval workflow; test it in a drill.")
def attested_break_glass(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "break_glass")


@check("OPS005", "Rotation drill in staging with integration tests", stage=5, item=3,
       anti_pattern="fm_consumers", severity="medium", inputs=(), sources=("engagement",),
       controls=("rotation", "backup"), thresholds=("attestation_max_age_days",), attestation="rotation_drill",
       detects="Evidence of a rotation exercised end to end in staging (failed-auth spikes, fetch errors "
               "watched).",
       why="Seed 000 stage 5 verification: drills prove that rotation does not cause outages.",
       fix="Schedule a quarterly rotation drill; record date, scope and findings.")
def attested_rotation_drill(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "rotation_drill")


@check("OPS006", "Time to revoke measured in a simulated leak", stage=5, item=3,
       anti_pattern="leak_response", severity="high", inputs=(), sources=("engagement",),
       controls=("incident",), thresholds=("attestation_max_age_days", "time_to_revoke_minutes"),
       attestation="time_to_revoke",
       detects="A measured time-to-revoke (minutes) from a simulated leak; passes at or under "
               "`time_to_revoke_minutes`.",
       why="Seed 000 metrics: time-to-revoke for a simulated leak; seed 001: contain within 15 minutes.",
       fix="Run a game day: plant a canary credential, detect, revoke; record the minutes as `value`.")
def attested_time_to_revoke(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "time_to_revoke", "time_to_revoke_minutes")


@check("OPS007", "Alerting on anomalous secret reads", stage=5, item=5, anti_pattern="fm_anomaly",
       severity="high", inputs=(), sources=("engagement",), controls=("monitoring",),
       thresholds=("attestation_max_age_days",), attestation="anomaly_alerting",
       detects="Alerts wired to per-principal read-rate, denied requests and failed logins.",
       why="Seed 002 failure mode: no anomaly detection on vault - compromise goes undetected.",
       fix="Ship audit logs to the SIEM; alert on the signals in seed 001's anomaly table.")
def attested_anomaly_alerting(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "anomaly_alerting")


@check("OPS008", "Audit log retention meets the requirements", stage=5, item=5, anti_pattern="no_audit",
       severity="medium", inputs=(), sources=("engagement",), controls=("audit",),
       thresholds=("attestation_max_age_days",), attestation="audit_retention",
       detects="Retention of secret-access logs: 1 year for reads and failures, 2 years for policy "
               "changes, indefinite for seal operations (seed 001 table).",
       why="PCI DSS 10.5.1 requires 12 months; evidence must survive the audit period.",
       fix="Configure the log pipeline's retention and record where it is enforced.")
def attested_audit_retention(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "audit_retention")


@check("OPS009", "Plan for the secret store being unreachable", stage=2, item=2,
       anti_pattern="fm_unreachable", severity="medium", inputs=(), sources=("engagement",),
       controls=("availability",), thresholds=("attestation_max_age_days",), attestation="store_outage_plan",
       detects="A documented behaviour when the store is down: local cache with a short TTL, "
               "circuit-breaker semantics, tested failover.",
       why="Seed 002 failure mode: Vault unreachable = total outage.",
       fix="Use agent caching or sidecars with cached leases; test a store outage in staging.")
def attested_store_outage_plan(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "store_outage_plan")


@check("OPS010", "Log redaction of secrets enforced", stage=4, item=4, anti_pattern="logging",
       severity="medium", inputs=(), sources=("engagement",), controls=("log_redaction",),
       thresholds=("attestation_max_age_days",), attestation="log_redaction",
       detects="Logging configuration that redacts credentials (Authorization headers, tokens, passwords) "
               "in every service.",
       why="Seed 003: don't rely on developers to avoid logging secrets.",
       fix="Add a redaction filter to the shared logging library; test it with a canary.")
def attested_log_redaction(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "log_redaction")


@check("OPS011", "Developer path: short-lived, least-privilege dev credentials", stage=4, item=4,
       anti_pattern="ci_env", severity="medium", inputs=(), sources=("engagement",),
       controls=("ci", "identity"), thresholds=("attestation_max_age_days",), attestation="dev_credentials",
       detects="The developer story: clone -> authenticate -> least-privilege short-lived creds; no prod "
               "keys pasted locally.",
       why="Seed 000 stage 4 exit condition.",
       fix="Document and automate dev login (OIDC to Vault, personal sandboxes, .env.example).")
def attested_dev_credentials(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "dev_credentials")


@check("OPS012", "Periodic access review of secret paths", stage=2, item=2, anti_pattern="wildcard",
       severity="medium", inputs=(), sources=("engagement",), controls=("least_privilege",),
       thresholds=("attestation_max_age_days",), attestation="access_review",
       detects="A dated review of the access model (principals -> permissions -> paths -> justification).",
       why="Seed 000 stage 2 exit: a written access model with justification; no 'everyone "
           "read/write production'.",
       fix="Review access_model.json from this assessment with owners; record the sign-off.")
def attested_access_review(ctx: CheckContext) -> pd.DataFrame:
    return attested(ctx, "access_review")
