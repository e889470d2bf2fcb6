"""Manual checks: evidence no API shows, read from the engagement's attestations.

Missing attestation -> not_assessed (manual), never pass. Present -> pass,
unless it is older than `attestation_max_age_days` or its measured value
misses the target (time to revoke above 15 minutes) -> fail.
"""

from __future__ import annotations

import pandas as pd

from checks.catalog import CheckContext, attestation_for, check, emit

# (id, item key, title, stage, checklist item, anti-pattern, severity, controls, detects, why, fix, value threshold)
MANUAL = (
    ("OPS001", "rotation_runbook", "Rotation runbook with owners", 3, 3, "no_rotation", "high",
     ("rotation", "ownership"),
     "A documented rotation runbook per secret class: order of operations, dual-credential "
     "window, connection-pool drain, owner.",
     "Seed 000 stage 3 exit: a rotation runbook outline and the order of operations for at least "
     "one critical path.",
     "Write it (bootstrap -> fetch -> use -> rotate), name the owner, link it in the engagement.",
     None),
    ("OPS002", "revocation_runbook", "Revocation paths documented with owners", 3, 3,
     "leak_response", "high", ("incident", "ownership"),
     "Documented immediate-invalidation paths per class (API key disable, cert CRL, token/lease "
     "revoke, session kill) with owners.",
     "Checklist item 3; seed 000 stage 3: revocation for compromise must be immediate.",
     "Document `bao lease revoke -prefix`, `bao token revoke -accessor`, provider key disable, "
     "ACM/PKI revoke; assign owners.", None),
    ("OPS003", "leak_playbook", "Leak playbook: step 1-5 at 3am and who is paged", 5, 3,
     "leak_response", "critical", ("incident",),
     "A 'credential leaked on GitHub' playbook: revoke order, scope, blast-radius query, "
     "stakeholder and customer comms, on-call paging.",
     "Seed 000 stage 5 exit condition; seed 001 emergency procedures: contain within 15 minutes.",
     "Adopt seed 001's six steps per critical class; attach the leak cards this kit generates.",
     None),
    ("OPS004", "break_glass", "Break-glass access with approval and logging", 2, 2,
     "long_lived_tokens", "high", ("emergency_access",),
     "A break-glass procedure: who can decrypt in an emergency, step-up auth, approval, "
     "time-boxed grant, audit log with reason, notification, auto-revoke.",
     "Seed 000 stage 2 trade-off; seed 002 operator access. Without it admins keep standing "
     "root-like access 'just in case'.",
     "Define a break-glass role with a short TTL and an approval workflow; test it in a drill.",
     None),
    ("OPS005", "rotation_drill", "Rotation drill in staging with integration tests", 5, 3,
     "fm_consumers", "medium", ("rotation", "backup"),
     "Evidence of a rotation exercised end to end in staging (failed-auth spikes, fetch errors "
     "watched).",
     "Seed 000 stage 5 verification: drills prove that rotation does not cause outages.",
     "Schedule a quarterly rotation drill; record date, scope and findings.", None),
    ("OPS006", "time_to_revoke", "Time to revoke measured in a simulated leak", 5, 3,
     "leak_response", "high", ("incident",),
     "A measured time-to-revoke (minutes) from a simulated leak; passes at or under "
     "`time_to_revoke_minutes`.",
     "Seed 000 metrics: time-to-revoke for a simulated leak; seed 001: contain within 15 minutes.",
     "Run a game day: plant a canary credential, detect, revoke; record the minutes as `value`.",
     "time_to_revoke_minutes"),
    ("OPS007", "anomaly_alerting", "Alerting on anomalous secret reads", 5, 5, "fm_anomaly",
     "high", ("monitoring",),
     "Alerts wired to per-principal read-rate, denied requests and failed logins.",
     "Seed 002 failure mode: no anomaly detection on vault - compromise goes undetected.",
     "Ship audit logs to the SIEM; alert on the signals in seed 001's anomaly table.", None),
    ("OPS008", "audit_retention", "Audit log retention meets the requirements", 5, 5, "no_audit",
     "medium", ("audit",),
     "Retention of secret-access logs: 1 year for reads and failures, 2 years for policy "
     "changes, indefinite for seal operations (seed 001 table).",
     "PCI DSS 10.5.1 requires 12 months; evidence must survive the audit period.",
     "Configure the log pipeline's retention and record where it is enforced.", None),
    ("OPS009", "store_outage_plan", "Plan for the secret store being unreachable", 2, 2,
     "fm_unreachable", "medium", ("availability",),
     "A documented behaviour when the store is down: local cache with a short TTL, "
     "circuit-breaker semantics, tested failover.",
     "Seed 002 failure mode: Vault unreachable = total outage.",
     "Use agent caching or sidecars with cached leases; test a store outage in staging.", None),
    ("OPS010", "log_redaction", "Log redaction of secrets enforced", 4, 4, "logging", "medium",
     ("log_redaction",),
     "Logging configuration that redacts credentials (Authorization headers, tokens, passwords) "
     "in every service.",
     "Seed 003: don't rely on developers to avoid logging secrets.",
     "Add a redaction filter to the shared logging library; test it with a canary.", None),
    ("OPS011", "dev_credentials", "Developer path: short-lived, least-privilege dev credentials", 4,
     4, "ci_env", "medium", ("ci", "identity"),
     "The developer story: clone -> authenticate -> least-privilege short-lived creds; no prod "
     "keys pasted locally.",
     "Seed 000 stage 4 exit condition.",
     "Document and automate dev login (OIDC to Vault, personal sandboxes, .env.example).", None),
    ("OPS012", "access_review", "Periodic access review of secret paths", 2, 2, "wildcard",
     "medium", ("least_privilege",),
     "A dated review of the access model (principals -> permissions -> paths -> justification).",
     "Seed 000 stage 2 exit: a written access model with justification; no 'everyone "
     "read/write production'.",
     "Review access_model.json from this assessment with owners; record the sign-off.", None),
)


def _manual_check(item: str, value_threshold: str | None):
    def fn(ctx: CheckContext) -> pd.DataFrame:
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

    fn.__name__ = f"manual_{item}"
    return fn


for (_id, _item, _title, _stage, _ci, _ap, _sev, _ctl, _det, _why, _fix, _thr) in MANUAL:
    check(_id, _title, stage=_stage, item=_ci, anti_pattern=_ap, severity=_sev, inputs=(),
          sources=("engagement",), controls=_ctl, detects=_det, why=_why, fix=_fix,
          thresholds=("attestation_max_age_days",) + ((_thr,) if _thr else ()),
          attestation=_item, name=f"attested_{_item}")(_manual_check(_item, _thr))
