"""The demo's engagement file: stores, classification, owners, waivers, attestations.

Written as a consultant would, and rewritten before each quarter's
collection: the second quarter brings new attestations (a faster game day,
an access review). The file names the token's environment variable, never a
credential.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from posture.demo.assessor import POLICY_NAME
from posture.demo.client import AWS_STORE, DEMO_CLIENT_NAME, VAULT_STORE
from posture.demo.live_estate import DemoEstate
from posture.workspace import Workspace, quarter_end

WIKI = "https://wiki.northwind-payments.example/security"


def _waivers(previous: str, current: str) -> list[dict[str, Any]]:
    """Two active waivers and one that expired before either quarter: it fails again.

    The assessor's own policy needs ``sudo`` on root-protected read endpoints
    (``sys/audit``), so VLT007 fails on it; the client accepts that for the
    engagement, in writing, as a real client would. (It reads metadata only,
    so VLT008 does not fail on it.)
    """
    return [
        {
            "check": "VLT016",
            "resource": "*legacy*",
            "reason": "KV v1 'legacy/' is read-only and retires with the ledger migration",
            "approver": "cto@northwind-payments.example",
            "expires": quarter_end(current) + timedelta(days=120),
        },
        {
            "check": "AWS016",
            "resource": "*webhook-token*",
            "reason": "Webhook token was to move to Secrets Manager last quarter",
            "approver": "ciso@northwind-payments.example",
            "expires": quarter_end(previous) - timedelta(days=60),
        },
        {
            "check": "VLT007",
            "resource": f"*/{POLICY_NAME}",
            "reason": "The assessor's read-only policy from 'posture policy vault': metadata only, "
                      "sudo only where the read endpoint requires it; revoked when the engagement ends",
            "approver": "ciso@northwind-payments.example",
            "expires": quarter_end(current) + timedelta(days=120),
        },
    ]


def _attestations(previous: str, current: str, first: bool) -> list[dict[str, Any]]:
    """Manual evidence: some present, several missing; the second quarter adds a few.

    Missing on purpose (their checks stay not_assessed): revocation_runbook,
    break_glass, rotation_drill, store_outage_plan, log_redaction, dev_credentials.
    """
    then = quarter_end(previous) - timedelta(days=40)
    out: list[dict[str, Any]] = [
        {"item": "rotation_runbook", "evidence": f"{WIKI}/rotation-runbook", "owner": "payments-team", "date": then},
        {"item": "leak_playbook", "evidence": f"{WIKI}/leak-playbook", "owner": "security-team", "date": then},
        {"item": "audit_retention", "evidence": f"{WIKI}/siem-retention", "owner": "platform-team", "date": then},
        {"item": "time_to_revoke", "evidence": f"{WIKI}/game-day-q2", "owner": "security-team", "date": then,
         "value": 42.0},
    ]
    if not first:
        now = min(datetime.now(UTC).date(), quarter_end(current)) - timedelta(days=7)
        out[-1] = {"item": "time_to_revoke", "evidence": f"{WIKI}/game-day-{current.lower()}",
                   "owner": "security-team", "date": now, "value": 11.0}
        out += [
            {"item": "access_review", "evidence": f"{WIKI}/access-review-{current.lower()}",
             "owner": "platform-team", "date": now},
            {"item": "anomaly_alerting", "evidence": f"{WIKI}/siem-alerts", "owner": "security-team",
             "date": now},
        ]
    return out


def engagement_document(
    client: str, estate: DemoEstate, previous: str, current: str, first: bool
) -> dict[str, Any]:
    """The demo's engagement, as data: stores, classification, owners, waivers, attestations.

    Rewritten before each quarter's collection, as a consultant would: the
    second quarter brings new attestations (a faster game day, an access review).
    """
    owners = [
        {"owner": "payments-team", "pager": "pagerduty:payments-oncall", "match": ["*payments*", "*stripe*", "*card*"]},
        {"owner": "orders-team", "pager": "pagerduty:orders-oncall", "match": ["*orders*"]},
        {"owner": "web-team", "pager": "#web-oncall", "match": ["*web*"]},
        {"owner": "platform-team", "pager": "pagerduty:platform-oncall",
         "match": ["*platform*", "*shared*", "*signing*", "*tls*", "transit*", "pki*", "*eu*"]},
    ]
    doc: dict[str, Any] = {
        "client": client,
        "description": f"{DEMO_CLIENT_NAME}: quarterly secrets-posture review (posture demo)",
        "stores": {
            "vault": [{
                "name": VAULT_STORE,
                "address": estate.bao.address,
                "auth": {"method": "token", "token_env": "VAULT_TOKEN"},
                "concurrency": 8,
                "audit_logs": estate.audit_logs,
            }],
            "aws": [{
                "name": AWS_STORE,
                "regions": ["us-east-1", "eu-west-1"],
                "endpoint_url": estate.moto.endpoint_url,
                "concurrency": 8,
                **({"cloudtrail_logs": estate.cloudtrail_logs} if estate.cloudtrail_logs else {}),
            }],
            "git": [{"name": name, "url": str(path)} for name, path in estate.repos.items()],
            "inventory": [{"name": "declared", "path": DECLARED_INVENTORY}],
        },
        "classification": {
            "environments": [
                {"environment": "prod", "match": ["*prod*", "*production*"]},
                {"environment": "staging", "match": ["*staging*", "*stage*"]},
                {"environment": "dev", "match": ["*dev*", "*sandbox*"]},
            ],
            "secret_types": [
                {"type": "db-password", "match": ["*db-password*", "*database*", "*smtp-password*"]},
                {"type": "api-key", "match": ["*api-key*", "*api-token*", "*stripe*"]},
                {"type": "signing-key", "match": ["*signing*", "*session-key*"]},
                {"type": "token", "match": ["*token*"]},
            ],
            "owners": owners,
            "classes": [
                {"class": "regulated", "match": ["*payments*", "*card*", "*stripe*"]},
                {"class": "confidential", "match": ["*prod*"]},
                {"class": "internal", "match": ["*staging*", "*dev*"]},
            ],
        },
        "waivers": _waivers(previous, current),
        "attestations": _attestations(previous, current, first),
        # Some grants are justified at review; the rest show as missing on the site's access model.
        "access_justifications": [
            {"policy": "payments-prod-read", "justification": "Payments services read their own production "
             "credentials (access review, payments-team)", "approver": "security-team"},
            {"policy": "orders-*", "justification": "Orders workers read the orders credentials",
             "approver": "security-team"},
            {"principal": "alice", "justification": "On-call engineer for payments", "approver": "payments-team"},
            {"policy": "posture-assessor", "justification": "The assessor's read-only metadata policy for "
             "this review", "approver": "security-team"},
        ],
        "business_timezone": "Europe/London",
    }
    return doc


#: The declared inventory (#17) beside the engagement: secrets no store of the demo holds.
DECLARED_INVENTORY = "declared-inventory.yaml"


def declared_inventory(current: str) -> bytes:
    """Four secrets held where the kit cannot connect: a partner API key, an HSM signing key,
    a password found in a wiki runbook (no owner, never rotated) and a partner certificate."""
    from posture.model.inventory_file import write_inventory

    # dated from the quarter's end, or today while it runs: a rotation is never in the future
    end = min(datetime.combine(quarter_end(current), datetime.min.time(), tzinfo=UTC),
              datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    return write_inventory([
        {"id": "acquirer-api-key", "name": "Card acquirer API key", "secret_class": "third-party API key",
         "consumers": ["payments-gateway"], "storage_today": "Acquirer portal; 1Password vault Payments",
         "rotation_frequency": "quarterly", "owner_team": "payments-team", "environment": "prod",
         "last_rotated": end - timedelta(days=70), "pager": "pagerduty:payments-oncall"},
        {"id": "release-signing-key", "name": "Release code-signing key", "secret_class": "asymmetric private key",
         "consumers": ["release pipeline"], "storage_today": "CloudHSM", "rotation_frequency": "yearly",
         "owner_team": "platform-team", "environment": "prod", "last_rotated": end - timedelta(days=200)},
        {"id": "wiki-smtp-password", "name": "SMTP relay password in the ops wiki", "secret_class": "password",
         "consumers": ["notifications"], "storage_today": "Confluence runbook page", "rotation_frequency": "never",
         "environment": "prod"},
        {"id": "partner-mtls-cert", "name": "Partner gateway mTLS certificate", "secret_class": "tls",
         "consumers": ["partner gateway"], "storage_today": "wiki attachment", "rotation_frequency": "1y",
         "owner_team": "platform-team", "environment": "prod", "last_rotated": end - timedelta(days=330),
         "expires": end + timedelta(days=35)},
    ], "yaml")


ENGAGEMENT_HEADER = """\
# Engagement written by 'posture demo' for the fictional client {name}.
# The stores below were throw-away loopback servers and a temporary git
# repository; they are gone once the demo ends. Credentials were passed in the
# environment (VAULT_TOKEN, AWS_*) and are not in this file; VAULT_TOKEN was a
# token bound only to the 'posture-assessor' policy of 'posture policy vault'.
"""


def write_engagement(
    root: Path, client: str, estate: DemoEstate, previous: str, current: str, first: bool
) -> Workspace:
    """Write ``engagements/CLIENT/engagement.yaml`` (validated first) and return the workspace."""
    import io

    from ruamel.yaml import YAML

    from posture.model.engagement import parse_engagement
    from posture.model.fsutil import atomic_write_text

    doc = engagement_document(client, estate, previous, current, first)
    buf = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 120
    yaml.representer.ignore_aliases = lambda *_: True  # no &id001 anchors for shared dates
    yaml.dump(doc, buf)
    text = ENGAGEMENT_HEADER.format(name=DEMO_CLIENT_NAME) + buf.getvalue()
    path = root / "engagements" / client / "engagement.yaml"
    parse_engagement(text, path)
    from posture.model.fsutil import atomic_write_bytes

    atomic_write_bytes(path.parent / DECLARED_INVENTORY, declared_inventory(current))
    atomic_write_text(path, text)
    gitignore = path.parent / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, ".fingerprint-key\n")
    return Workspace(root=root, client=client, engagement_path=path)


