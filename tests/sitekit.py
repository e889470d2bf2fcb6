"""A small real workspace for the notebook and site tests.

Builds a snapshot with `SnapshotSink` (prod/staging/dev secrets, a policy with a
wildcard, a leaked key in git, a coverage gap, and two hostile names), then
produces the assessment with the checks helper's exporter when it exists, or
else writes contract-shaped files derived from that same snapshot.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from posture.model.fsutil import atomic_directory, sha256_file
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
    """Produce the assessment: the real exporter if it exists, else contract-shaped files."""
    real = None if os.environ.get("SITEKIT_CONTRACT_ONLY") == "1" else _real_exporter()
    if real is not None:
        return real(ws, quarter)
    return _contract_assessment(ws, quarter)


def _real_exporter():
    """checks.engine.run_assessment + checks.export.write_assessment, once they exist."""
    try:
        from checks.engine import run_assessment
        from checks.export import write_assessment
    except ImportError:
        return None

    def call(ws: Workspace, quarter: str) -> Path:
        snap = Snapshot.load(ws.snapshot_dir(quarter))
        a = run_assessment(snap, ws.load().engagement, as_of=quarter_end(quarter))
        dest = ws.assessment_dir(quarter)
        write_assessment(a, snap, dest, client=ws.client, quarter=quarter)
        return dest

    return call


_CONTROLS = {"soc2": ["CC6.1"], "iso27001": ["A.5.17"], "pci_dss": ["8.3.2"],
             "nist_800_53": ["IA-5"]}
_CHECKS = [
    # id, name, stage, item, severity, title
    ("INV001", "owner-named", 1, 3, "high", "Secret has a named owner"),
    ("VLT003", "no-wildcard-write", 2, 2, "critical", "Policy grants no wildcard write"),
    ("ROT001", "rotation-age", 3, 3, "high", "Secret rotated within its type's maximum age"),
    ("SRC001", "no-secret-in-git", 4, 1, "critical", "No secret committed to source control"),
    ("AUD001", "token-inventory", 5, 5, "medium", "Token accessors can be listed"),
]


def _contract_assessment(ws: Workspace, quarter: str) -> Path:
    snap = Snapshot.load(ws.snapshot_dir(quarter))
    as_of = quarter_end(quarter).isoformat()
    findings = []

    def add(cid: str, status: str, resource: str, name: str, env: str, owner: str | None,
            evidence: dict) -> None:
        c = next(c for c in _CHECKS if c[0] == cid)
        findings.append({
            "check_id": cid, "name": c[1], "title": c[5], "status": status, "severity": c[4],
            "stage": c[2], "stage_name": f"stage {c[2]}", "checklist_item": c[3],
            "checklist_text": f"item {c[3]}", "anti_pattern": "x", "source": "vault",
            "store": "core", "resource": resource, "resource_name": name, "environment": env,
            "owner": owner, "evidence": evidence, "remediation": f"Fix {name} now.",
            "controls": _CONTROLS, "waiver": None,
        })

    inventory = []
    for s in snap.rows("secret"):
        env = s["custom_metadata"].get("env", "unknown")
        owner = s["custom_metadata"].get("owner")
        rotated = s["last_rotated_at"] or s["created_at"]
        age = (quarter_end(quarter) - datetime.fromisoformat(rotated).date()).days
        inventory.append({"table": "secret", "id": s["id"], "store": "core", "source": "vault",
                          "kind": "kv2", "name": s["name"], "path": s["path"], "environment": env,
                          "secret_type": "db-password" if "db" in s["name"] else "api-key",
                          "owner": owner, "data_class": "confidential" if env == "prod" else "internal",
                          "lifecycle_class": "static long-lived", "age_days": age,
                          "last_rotated_at": s["last_rotated_at"], "expires_at": None})
        add("INV001", "pass" if owner else "fail", s["id"], s["name"], env, owner, {"owner": owner})
        add("ROT001", "fail" if age > 90 else "pass", s["id"], s["name"], env, owner,
            {"age_days": age, "max_days": 90})
    for r in snap.rows("policy_rule"):
        add("VLT003", "fail" if r["path"] == "secret/*" else "pass", r["policy_id"], r["policy"],
            "prod", "platform", {"path": r["path"], "capabilities": r["capabilities"]})
    for f in snap.rows("source_finding"):
        add("SRC001", "fail", f["id"], f["path"], "prod", None, {"detector": f["detector"]})
    if not snap.rows("source_finding"):
        add("SRC001", "pass", "git:app", "app", "prod", None, {"scanned": True})
    add("AUD001", "not_assessed", "vault:core", "core", "prod", None, {"gap": "denied"})

    def score(rows: list[dict]) -> dict:
        p = sum(r["status"] == "pass" for r in rows)
        f = sum(r["status"] == "fail" for r in rows)
        return {"score": round(100 * p / (p + f)) if p + f else 100, "pass": p, "fail": f,
                "waived": 0, "not_assessed": sum(r["status"] == "not_assessed" for r in rows)}

    def dim(key: str, label) -> list[dict]:
        keys = sorted({r[key] for r in findings}, key=str)
        return [{"key": k, "label": label(k), **score([r for r in findings if r[key] == k])}
                for k in keys]

    overall = score(findings)["score"]
    grade = "A" if overall >= 90 else "B" if overall >= 80 else "C" if overall >= 70 else "D" if overall >= 60 else "F"
    docs = {
        "findings.json": {"client": ws.client, "quarter": quarter, "as_of": as_of,
                          "generated_at": datetime.now(UTC).isoformat(),
                          "findings": findings},
        "scores.json": {"overall": {"score": overall, "grade": grade},
                        "by_checklist_item": dim("checklist_item", lambda k: f"Checklist item {k}"),
                        "by_stage": dim("stage", lambda k: f"Stage {k}"),
                        "by_environment": dim("environment", str),
                        "by_store": dim("store", str), "method": "Share of *pass* among pass+fail."},
        "catalog.json": [{"id": c[0], "name": c[1], "title": c[5], "stage": c[2],
                          "stage_name": f"stage {c[2]}", "checklist_item": c[3],
                          "anti_pattern": "x", "severity": c[4], "detects": f"Detects {c[1]}.",
                          "why": "Because.", "fix": "Fix it.", "thresholds": {"max_days": 90},
                          "controls": _CONTROLS, "inputs": ["secret"]} for c in _CHECKS],
        "inventory.json": inventory,
        "access_model.json": [{"principal": "approle/ci", "policy": r["policy"],
                               "permissions": ",".join(r["capabilities"]), "path": r["path"],
                               "environment": "prod", "justification": "deploys"}
                              for r in snap.rows("policy_rule")],
        "rotation_plan.json": [{"resource": i["id"], "owner": i["owner"], "next_due": "2027-01-01",
                                "overdue": i["age_days"] > 90} for i in inventory],
        "leak_cards.json": [{"resource": i["id"], "owner": i["owner"] or "",
                             "paged": "payments-oncall" if i["owner"] else "",
                             "steps": ["revoke", "rotate", "redeploy", "audit", "report"]}
                            for i in inventory if i["environment"] == "prod"],
        "cross_env.json": [],
        "coverage_gaps.json": [{"store": g["store"], "scope": g["scope"], "operation": g["operation"],
                                "reason": g["reason"], "tables": g["tables"]}
                               for g in snap.rows("coverage_gap")],
        "waivers.json": [],
        "attestations.json": [{"item": "rotation_runbook", "owner": "platform", "status": "provided",
                               "evidence": "https://wiki.example/rotation"}],
    }
    dest = ws.assessment_dir(quarter)
    with atomic_directory(dest) as tmp:
        for name, doc in docs.items():
            (tmp / name).write_text(json.dumps(doc, indent=1), encoding="utf-8")
        (tmp / "findings.csv").write_text("check_id,status\n" + "".join(
            f"{f['check_id']},{f['status']}\n" for f in findings), encoding="utf-8")
        (tmp / "findings.sarif").write_text(json.dumps({"version": "2.1.0", "runs": []}))
        (tmp / "oscal-assessment-results.json").write_text(json.dumps({"assessment-results": {}}))
        files = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                 for p in sorted(tmp.iterdir())}
        (tmp / "manifest.json").write_text(json.dumps(
            {"files": files, "snapshot_manifest_sha256": sha256_file(
                ws.snapshot_dir(quarter) / "manifest.json")}))
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
