"""Audit traffic against the live estate, cut into one log slice per quarter.

Everything the client's side does before a quarter's cut lands in that
quarter's logs: real OpenBao requests (the seeded anomalies in the first
quarter, scoped service reads after the clean-up), the client granting the
assessor's read-only access, and the quarter's CloudTrail files.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import requests
from rich.console import Console

from posture.demo.assessor import grant_assessor
from posture.demo.client import DEMO_VALUES
from posture.demo.live_estate import DemoEstate, admin_call
from posture.demo.progress import run_steps
from posture.model.errors import PostureError
from posture.workspace import quarter_end


def _quiet_quarter_traffic(estate: DemoEstate) -> None:
    """After the clean-up: services read with short, scoped tokens; nothing anomalous."""
    tok = admin_call(estate, "POST", "auth/token/create", {
        "policies": ["payments-prod-read"], "ttl": "1h", "display_name": "payments-api",
    })["auth"]["client_token"]
    with requests.Session() as s:
        s.headers["X-Vault-Token"] = tok
        for _ in range(4):
            for path in ("prod/payments/db-password", "prod/payments/stripe-api-key"):
                r = s.get(f"{estate.bao.address}/v1/secret/data/{path}", timeout=10)
                if r.status_code != 200:
                    raise PostureError(f"demo traffic: GET secret/data/{path} -> HTTP {r.status_code}")
        s.post(f"{estate.bao.address}/v1/auth/token/revoke-self", timeout=10)


def generate_traffic(estate: DemoEstate, quarter: str, first: bool, console: Console) -> None:
    """Real OpenBao traffic and the quarter's CloudTrail files, cut into this quarter's logs.

    The audit device writes one growing file; like a rotated production log,
    each quarter's assessment reads only what was written since the last one.
    The assessor's grant comes after the traffic (which mounts engines the
    policy must name) and before the cut, so it is this quarter's evidence.
    CloudTrail files cover the three weeks before the quarter's end (or now).
    """
    from posture.demo.estates import audit as audit_estate

    def openbao() -> None:
        if first:
            estate.handles["traffic"] = audit_estate.drive_openbao_traffic(
                estate.bao.address, estate.root_token, DEMO_VALUES, prefix="ops"
            )
        else:
            _quiet_quarter_traffic(estate)

    def cut_log() -> None:
        live = estate.bao.audit_log("file")
        start = estate.handles.get("audit_offset", 0)
        dest = estate.dir / "logs" / "openbao" / "openbao-audit.log"
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(live, "rb") as src, open(dest, "wb") as out:
            src.seek(start)
            shutil.copyfileobj(src, out)
            estate.handles["audit_offset"] = src.tell()

    def cloudtrail() -> None:
        folder = estate.dir / "logs" / "cloudtrail"
        shutil.rmtree(folder, ignore_errors=True)
        now = datetime.now(UTC)
        end = min(now, datetime.combine(quarter_end(quarter), datetime.min.time(), UTC))
        records = audit_estate.cloudtrail_records(
            DEMO_VALUES, start=end - timedelta(days=21), days=21, anomalies=first
        )
        audit_estate.write_cloudtrail(folder, records)

    run_steps(console, "traffic", [
        ("OpenBao: reads, denials, logins, tokens" if first else "OpenBao: scoped service reads", openbao),
        ("OpenBao: the assessor's policy ('posture policy vault') and token", lambda: grant_assessor(estate)),
        ("cut this quarter's audit log", cut_log),
        ("CloudTrail files", cloudtrail),
    ])

