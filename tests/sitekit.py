"""A small real workspace for the notebook and site tests.

Builds a snapshot with `SnapshotSink` (prod/staging/dev secrets, a policy with a
wildcard, a leaked key in git, a coverage gap, and two hostile names; the engagement
justifies the fixed quarter's narrowed grant only), then
assesses it with the real checks and exporter, so the notebooks and the site
read exactly the contract `posture assess` writes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from posture.model.records import AuthRole, Key, Policy, PolicyRule, Secret, SourceFinding
from posture.model.snapshot import Manifest, Snapshot, SnapshotSink
from posture.workspace import Workspace, quarter_end

HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_LINK = "[x](javascript:alert(1))"
SEARCHABLE = "payments-ledger-db"

ENGAGEMENT = """\
client: {client}
stores:
  vault:
    - name: core
      address: http://127.0.0.1:1
classification:
  owners:
    - match: ["*payments*"]
      owner: team-payments
      pager: payments-oncall
access_justifications:
  - policy: ci-deployer
    path: "secret/data/prod/ci/*"
    justification: CI deploys the production services
    approver: security
attestations:
  - item: rotation_runbook
    evidence: https://wiki.example/rotation
    owner: platform
    date: 2026-01-05
  - item: leak_playbook
    evidence: https://wiki.example/leak
    owner: security
    date: 2026-01-05
"""


def make_workspace(root: Path, client: str = "acme") -> Workspace:
    path = root / "engagements" / client / "engagement.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ENGAGEMENT.format(client=client))
    return Workspace(root=root, client=client, engagement_path=path)


def _secrets(as_of: datetime, fixed: bool) -> list[Secret]:
    def s(path: str, env: str, age: int, owner: str | None, rotated: int | None = None) -> Secret:
        return Secret(
            id=f"vault:core:{path}", store="core", source="vault", kind="kv2", path=path,
            mount="secret/", name=path.rsplit("/", 1)[-1],
            created_at=as_of - timedelta(days=age),
            last_rotated_at=None if rotated is None else as_of - timedelta(days=rotated),
            custom_metadata={"env": env, **({"owner": owner} if owner else {})},
        )

    out = [
        s(f"secret/prod/{SEARCHABLE}", "prod", 400, "team-payments", 10 if fixed else 200),
        s("secret/prod/api-gateway-key", "prod", 120, None, 100),
        s("secret/staging/api-gateway-key", "staging", 30, "platform", 5),
        s("secret/dev/sandbox-token", "dev", 10, "platform", 1),
        s(f"secret/dev/{HOSTILE_SCRIPT}", "dev", 50, HOSTILE_LINK, 40),
        s(f"secret/prod/{HOSTILE_LINK}", "prod", 50, "platform", 40),
    ]
    return out


def build_snapshot(ws: Workspace, quarter: str, fixed: bool = False) -> Path:
    as_of = datetime.combine(quarter_end(quarter), datetime.min.time(), tzinfo=UTC)
    sink = SnapshotSink()
    for r in _secrets(as_of, fixed):
        sink.add(r)
    sink.add(Policy(id="vault:core:policy/ci-deployer", store="core", source="vault",
                    name="ci-deployer", kind="vault_acl", document='path "secret/*" {}'))
    sink.add(PolicyRule(id="vault:core:policy/ci-deployer#0", store="core", source="vault",
                        policy_id="vault:core:policy/ci-deployer", policy="ci-deployer",
                        path="secret/*" if not fixed else "secret/data/prod/ci/*",
                        capabilities=["read", "update"], wildcard=True, wildcard_all=False))
    sink.add(Key(id="vault:core:transit/keys/payments", store="core", source="vault",
                 name="payments", kind="transit", rotation_enabled=True,
                 last_rotated_at=as_of - timedelta(days=30)))
    sink.add(AuthRole(id="vault:core:auth/approle/role/ci", store="core", source="vault",
                      mount="auth/approle/", method="approle", name="ci",
                      policies=["ci-deployer"], token_ttl=3600, token_max_ttl=14400))
    if not fixed:
        sink.add(SourceFinding(id="git:app:config/.env:3@0123456789ab", store="app",
                               source="git", repo="app", category="secret",
                               detector="AWSKeyDetector", path="config/.env", line=3,
                               commit="0123456789ab", in_tree=True,
                               fingerprint="hmac256:" + "ab" * 32, variable="AWS_SECRET"))
    sink.gap(store="core", source="vault", tables=["token"], operation="LIST auth/token/accessors",
             reason="denied", scope="auth/token/")
    manifest = Manifest(client=ws.client, quarter=quarter, engagement_sha256=ws.load().sha256,
                        started_at=as_of, finished_at=as_of)
    dest = ws.snapshot_dir(quarter)
    sink.write(dest, manifest)
    return dest


def assess(ws: Workspace, quarter: str) -> Path:
    """The real assessment of the quarter's snapshot (checks + exporter), as `posture assess` writes it."""
    from checks.engine import run_assessment
    from checks.export import write_assessment

    snap = Snapshot.load(ws.snapshot_dir(quarter))
    a = run_assessment(snap, ws.load().engagement, as_of=quarter_end(quarter))
    dest = ws.assessment_dir(quarter)
    write_assessment(a, snap, dest, client=ws.client, quarter=quarter)
    return dest


#: A value for every field of each contract row, so a test names only what it is about.
ROW_DEFAULTS: dict[str, dict] = {
    "findings": dict(check_id="X", name="x", title="X", status="pass", severity="low", stage=1,
                     stage_name="stage", checklist_item=1, checklist_text="item", anti_pattern="x",
                     source="vault", store="core", resource="r", resource_name=None, environment="prod",
                     owner=None, evidence={}, remediation="Fix it.", controls={}, waiver=None),
    "inventory": dict(table="secret", store="core", source="vault", kind="kv2", name=None, path=None,
                      item_class="secret", classified_by="default", environment="prod", secret_type="generic", owner=None, pager=None,
                      data_class="internal", lifecycle_class="static-long-lived", critical=False,
                      age_days=1.0, last_rotated_at=None, expires_at=None),
    "access_model": dict(principal_kind="vault_approle_role", principal_id="p", via="auth_role",
                         store="core", source="vault", policy="pol", policy_id="pol", path="secret/*",
                         capabilities=["read"], effect="allow", environment="prod", justification=None),
    "rotation_plan": dict(table="secret", store="core", name=None, path=None, environment="prod",
                          secret_type="generic", lifecycle_class="static-long-lived", owner=None,
                          last_rotated_at=None, max_age_days=90.0, next_due=None, days_until_due=None,
                          status="unknown", method="rotate"),
    "leak_cards": dict(name=None, store="core", source="vault", path=None, environment="prod",
                       secret_type="generic", data_class="confidential", lifecycle_class="static-long-lived",
                       owner=None, pager=None, revoke_first="revoke it", principals_can_read=[],
                       principals_did_read=[], tokens_to_revoke=[], steps=[], target_minutes=15),
    "cross_env": dict(kind="policy", store="core", environments=["*"], prod_paths=[], nonprod_paths=[]),
    "coverage_gaps": dict(store="core", source="vault", tables=["token"], scope="", service=None,
                          operation="LIST x", reason="denied", detail=None, dependent_checks=[]),
    "waivers": dict(reason="accepted", approver="ciso", expires="2027-01-01", active=True,
                    findings_waived=0, findings_failing_after_expiry=0),
    "attestations": dict(evidence=None, owner="security", date="2026-01-05", scope="*", value=None,
                         age_days=10, stale=False, check_id=None),
}


def write_contract(dest: Path, findings: list[dict] = (), **views: list[dict]) -> Path:
    """A complete assessment directory through the contract models: the given rows (every
    field not named takes `ROW_DEFAULTS`), every other view empty, empty scores."""
    from posture.model.assessment import AssessmentFiles
    from posture.model.thresholds import Thresholds

    def rows(name: str, given: list[dict]) -> list[dict]:
        return [{**ROW_DEFAULTS[name], **r} for r in given]

    found = rows("findings", list(findings))
    counts = {s: sum(f["status"] == s for f in found) for s in ("pass", "fail", "waived", "not_assessed")}
    empty = {"score": None, "grade": "N/A", "coverage": 0.0, **dict.fromkeys(counts, 0)}
    contract = AssessmentFiles.model_validate({
        "findings": {"client": "c", "quarter": "2026-Q1", "as_of": "2026-03-31",
                     "generated_at": "2026-04-01T00:00:00+00:00", "thresholds": Thresholds(),
                     "business_timezone": "UTC", "counts": counts, "errors": [], "findings": found},
        "scores": {"client": "c", "quarter": "2026-Q1", "as_of": "2026-03-31", "overall": empty,
                   "by_checklist_item": [], "by_stage": [], "by_environment": [], "by_store": [],
                   "method": ""},
        "catalog": [],
        **{name: rows(name, views.get(name, [])) for name in ROW_DEFAULTS if name != "findings"},
    })
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in contract.json_files().items():
        (dest / name).write_bytes(data)
    return dest


QUARTERS = (("2026-Q3", False), ("2026-Q4", True))
# 2026-Q4 runs every notebook (run_all, as `posture assess` does); 2026-Q3 only one, to keep
# the suite fast while the site still has a real executed notebook in both versions.
Q3_NOTEBOOKS = ("stage-1-inventory",)


def published_workspace(root: Path) -> Workspace:
    """Two quarters collected, assessed and published (Q4 fixes some Q3 findings)."""
    from posture.notebooks import discover, parameters, run_all, run_notebooks
    from posture.site import publish

    ws = make_workspace(root)
    for quarter, fixed in QUARTERS:
        build_snapshot(ws, quarter, fixed=fixed)
        assess(ws, quarter)
        if quarter == "2026-Q4":
            run_all(ws, quarter)
        else:
            chosen = [p for p in discover() if p.stem in Q3_NOTEBOOKS]
            run_notebooks(chosen, ws.notebooks_dir(quarter), parameters(ws, quarter))
        publish(ws, quarter)
    return ws


def copy_workspace(ws: Workspace, root: Path) -> Workspace:
    """An independent copy (evidence, engagement and the site's git repo) to mutate."""
    import shutil

    shutil.copytree(ws.root, root, symlinks=True, dirs_exist_ok=True)
    return Workspace(root=root, client=ws.client,
                     engagement_path=root / ws.engagement_path.relative_to(ws.root))


import pytest

_PUBLISHED: list[Workspace] = []


@pytest.fixture(scope="session")
def published_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A published two-quarter site, built once per test session and shared read-only.

    Under pytest-xdist the workers share one build (the first builds it under a
    file lock, the others wait for it); tests that mutate take a `copy_workspace`.
    """
    import fcntl

    if _PUBLISHED:
        return _PUBLISHED[0]
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "posture-published"
    with open(shared / "posture-published.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "posture-published.done").exists():
            import shutil

            shutil.rmtree(root, ignore_errors=True)
            published_workspace(root)
            (shared / "posture-published.done").write_text("ok")
    ws = Workspace(root=root, client="acme", engagement_path=root / "engagements/acme/engagement.yaml")
    _PUBLISHED.append(ws)
    return ws
