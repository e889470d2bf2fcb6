"""Score synthetic snapshots of N items with every check; report time and peak memory.

    /tmp/venv/bin/python benchmarks/bench_checks.py            # 100k and 1M items
    /tmp/venv/bin/python benchmarks/bench_checks.py --quick    # 10k and 100k
    /tmp/venv/bin/python benchmarks/bench_checks.py --sizes 250000

Each size runs in a fresh subprocess so the peak RSS (ru_maxrss) belongs to
that size alone. The snapshot's DataFrames are built directly with numpy
(building a million pydantic records would measure pydantic, not the checks).
"Items" = secrets + keys + certificates + access keys + tokens; the snapshot
also holds policies, rules, auth roles, principals, access events (one per
secret), audit signals, source findings, repositories and CI files in
proportion. Timed: classification + all checks + gaps + waivers + scoring
(`run_assessment` + `score`); reported separately: turning the evidence of
every result into dicts (only done by the exporter).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posture.model.records import RECORDS_BY_TABLE
from posture.model.snapshot import Manifest, Snapshot, empty_frame

AS_OF = pd.Timestamp("2026-11-20T12:00:00Z")


class FrameSnapshot(Snapshot):
    """A snapshot whose tables are ready-made DataFrames (benchmarks only)."""

    def __init__(self, frames: dict[str, pd.DataFrame]):
        m = Manifest(client="bench", quarter="2026-Q4", engagement_sha256="", started_at=AS_OF, finished_at=AS_OF)
        super().__init__(Path("."), m, {})
        self._frames = {t: frames.get(t, empty_frame(t)) for t in RECORDS_BY_TABLE}
        self._present = {t for t, df in frames.items() if len(df)}

    def rows(self, table: str) -> list:
        return [None] if table in self._present else []  # presence only


def _frame(table: str, n: int, cols: dict) -> pd.DataFrame:
    base = empty_frame(table)
    out = {}
    for c in base.columns:
        if c in cols:
            v = cols[c]
            out[c] = v if isinstance(v, (np.ndarray, pd.Series, pd.DatetimeIndex, list)) else np.full(n, v, dtype=object)
        else:
            out[c] = pd.Series([None] * n, dtype=base[c].dtype) if str(base[c].dtype).startswith("datetime") else np.full(n, None, dtype=object)
    df = pd.DataFrame(out)
    return df


def _lists(n: int, value: list) -> np.ndarray:
    a = np.empty(n, dtype=object)
    for i in range(n):
        a[i] = value
    return a


def build(n_items: int, seed: int = 7) -> FrameSnapshot:
    rng = np.random.default_rng(seed)
    envs = np.array(["prod", "staging", "dev"])
    apps = np.array([f"app{i:03d}" for i in range(200)])
    kinds = np.array(["db_password", "api_key", "stripe_api_key", "jwt_signing_key", "webhook_secret", "config"])
    days = lambda lo, hi, k: AS_OF - pd.to_timedelta(rng.uniform(lo, hi, k), unit="D")
    f: dict[str, pd.DataFrame] = {}

    n_kv, n_sm, n_ssm = int(n_items * 0.6), int(n_items * 0.15), int(n_items * 0.10)
    n_sec = n_kv + n_sm + n_ssm
    env = envs[rng.integers(0, 3, n_sec)]
    app = apps[rng.integers(0, len(apps), n_sec)]
    kind = kinds[rng.integers(0, len(kinds), n_sec)]
    idx = np.arange(n_sec).astype(str)
    paths = pd.Series(env).str.cat([pd.Series(app), pd.Series(kind), pd.Series(idx)], sep="/").to_numpy()
    skind = np.concatenate([np.full(n_kv, "kv2"), np.full(n_sm, "secretsmanager"), np.full(n_ssm, "ssm_parameter")])
    store = np.concatenate([np.full(n_kv, "core"), np.full(n_sm + n_ssm, "main")])
    source = np.concatenate([np.full(n_kv, "vault"), np.full(n_sm + n_ssm, "aws")])
    full = np.where(skind == "kv2", "secret/" + paths, paths)
    ids = np.where(source == "vault", "vault:core:" + full,
                   "arn:aws:secretsmanager:us-east-1:111122223333:secret:" + full)
    rot = np.where(skind == "kv2", None, rng.random(n_sec) < 0.6).astype(object)
    meta = _lists(n_sec, {})
    owners = rng.random(n_sec) < 0.5
    for i in np.flatnonzero(owners):
        meta[i] = {"owner": f"team-{i % 17}"}
    f["secret"] = _frame("secret", n_sec, {
        "id": ids, "store": store, "source": source, "kind": skind, "path": full, "mount": "secret/",
        "name": kind, "arn": np.where(source == "aws", ids, None), "created_at": days(100, 900, n_sec),
        "updated_at": days(0, 400, n_sec), "last_rotated_at": pd.Series(pd.NaT, index=range(n_sec), dtype="datetime64[ns, UTC]"),
        "last_accessed_at": days(0, 200, n_sec), "deleted_at": pd.Series(pd.NaT, index=range(n_sec), dtype="datetime64[ns, UTC]"),
        "rotation_enabled": rot, "rotation_interval_days": rng.choice([7, 30, 90, 365], n_sec),
        "kms_key_id": np.where(rng.random(n_sec) < 0.5, "alias/aws/secretsmanager", "arn:aws:kms:us-east-1:1:key/x"),
        "parameter_type": np.where(skind == "ssm_parameter", np.where(rng.random(n_sec) < 0.8, "SecureString", "String"), None),
        "tags": _lists(n_sec, {}), "custom_metadata": meta, "replica_regions": _lists(n_sec, []),
    })
    n_key, n_cert, n_ak, n_tok = int(n_items * 0.02), int(n_items * 0.03), int(n_items * 0.05), int(n_items * 0.05)
    f["key"] = _frame("key", n_key, {
        "id": "vault:core:transit/keys/k" + np.arange(n_key).astype(str), "store": "core", "source": "vault",
        "name": "k" + np.arange(n_key).astype(str), "kind": "transit", "exportable": rng.random(n_key) < 0.1,
        "created_at": days(100, 900, n_key), "last_rotated_at": days(0, 300, n_key),
        "aliases": _lists(n_key, []), "tags": _lists(n_key, {}),
    })
    cid = "arn:aws:acm:us-east-1:111122223333:certificate/c" + np.arange(n_cert).astype(str)
    nb = days(0, 300, n_cert)
    f["certificate"] = _frame("certificate", n_cert, {
        "id": cid, "arn": cid, "store": "main", "source": "aws", "subject": "CN=" + envs[rng.integers(0, 3, n_cert)] + ".acme.test",
        "domains": _lists(n_cert, ["acme.test"]), "not_before": nb, "not_after": nb + pd.Timedelta(days=395),
        "managed_renewal": rng.random(n_cert) < 0.5, "key_algorithm": np.where(rng.random(n_cert) < 0.05, "RSA_1024", "RSA_2048"),
    })
    users = "arn:aws:iam::111122223333:user/u" + (np.arange(n_ak) // 2).astype(str)
    f["access_key"] = _frame("access_key", n_ak, {
        "id": users + "/key/" + np.arange(n_ak).astype(str), "store": "main", "source": "aws", "principal": users,
        "key_id": "AKIA" + np.arange(n_ak).astype(str), "active": rng.random(n_ak) < 0.9,
        "created_at": days(0, 500, n_ak), "last_used_at": days(0, 120, n_ak), "is_root": np.zeros(n_ak, dtype=bool),
    })
    f["token"] = _frame("token", n_tok, {
        "id": "vault:core:token/" + np.arange(n_tok).astype(str), "store": "core", "source": "vault",
        "accessor_hash": "hmac256:" + np.arange(n_tok).astype(str), "display_name": "approle-" + apps[rng.integers(0, 200, n_tok)],
        "policies": _lists(n_tok, ["default"]), "creation_ttl": rng.choice([3600, 86400, 0, 40 * 86400], n_tok),
        "creation_time": days(0, 40, n_tok), "root": rng.random(n_tok) < 0.0005, "path": "auth/approle/login",
    })
    n_pol = max(10, n_items // 100)
    pid = "vault:core:policy/p" + np.arange(n_pol).astype(str)
    f["policy"] = _frame("policy", n_pol, {"id": pid, "store": "core", "source": "vault",
                                           "name": "p" + np.arange(n_pol).astype(str), "kind": "vault_acl"})
    n_rule = n_pol * 3
    rp = np.repeat(pid, 3)
    rpath = "secret/data/" + envs[rng.integers(0, 3, n_rule)] + "/" + apps[rng.integers(0, 200, n_rule)] + "/*"
    rpath[::997] = "*"
    f["policy_rule"] = _frame("policy_rule", n_rule, {
        "id": rp + "#" + np.tile(np.arange(3).astype(str), n_pol), "store": "core", "source": "vault",
        "policy_id": rp, "policy": np.repeat(f["policy"]["name"].to_numpy(), 3), "path": rpath,
        "capabilities": _lists(n_rule, ["read"]), "effect": "allow", "wildcard": True,
        "wildcard_all": rpath == "*", "sudo": False, "sys_access": False,
        "principals": _lists(n_rule, []), "conditions": _lists(n_rule, {}),
    })
    n_role = max(10, n_items // 200)
    f["auth_role"] = _frame("auth_role", n_role, {
        "id": "vault:core:auth/approle/role/r" + np.arange(n_role).astype(str), "store": "core", "source": "vault",
        "mount": "approle/", "method": rng.choice(["approle", "kubernetes", "jwt", "oidc"], n_role),
        "name": "r" + np.arange(n_role).astype(str), "policies": _lists(n_role, ["p1"]),
        "token_ttl": rng.choice([3600, 86400, 0], n_role), "token_max_ttl": 14400, "secret_id_ttl": 600,
        "secret_id_num_uses": 1, "bound_service_account_names": _lists(n_role, ["api"]),
        "bound_service_account_namespaces": _lists(n_role, ["prod"]), "bound_audiences": _lists(n_role, []),
        "bound_claims": _lists(n_role, {}), "token_bound_cidrs": _lists(n_role, []),
        "secret_id_bound_cidrs": _lists(n_role, []),
    })
    f["server"] = _frame("server", 2, {"id": np.array(["vault:core", "aws:main"]), "store": np.array(["core", "main"]),
                                       "source": np.array(["vault", "aws"]), "seal_type": "shamir", "seal_threshold": 3,
                                       "seal_shares": 5, "ha_enabled": True, "storage_type": "raft", "raft_peers": 3,
                                       "not_applicable": _lists(2, [])})
    f["audit_device"] = _frame("audit_device", 1, {"id": np.array(["vault:core:audit/file"]), "store": "core",
                                                   "source": "vault", "path": "file/", "type": "file", "enabled": True,
                                                   "options": _lists(1, {})})
    f["audit_log"] = _frame("audit_log", 1, {"id": np.array(["a"]), "store": "core", "source": "audit", "path": "/log",
                                             "format": "vault_file", "lines": 10**6, "malformed": 0,
                                             "first_at": pd.DatetimeIndex([AS_OF - pd.Timedelta(days=200)]),
                                             "last_at": pd.DatetimeIndex([AS_OF])})
    n_ev = n_kv
    evp = np.char.add("secret/data/", paths[:n_kv].astype(str))
    f["access_event"] = _frame("access_event", n_ev, {
        "id": "ev" + np.arange(n_ev).astype(str), "store": "core", "source": "audit",
        "principal": "approle-" + apps[rng.integers(0, 200, n_ev)], "auth_method": "approle", "path": evp,
        "operation": "read", "remote_addr": "10.0.0.1", "day": days(0, 150, n_ev), "count": 3, "errors": 0, "denied": 0,
        "last_at": days(0, 150, n_ev),
    })
    n_sig = max(10, n_items // 1000)
    f["audit_signal"] = _frame("audit_signal", n_sig, {
        "id": "sig" + np.arange(n_sig).astype(str), "store": "core", "source": "audit",
        "signal": rng.choice(["denied", "volume_spike", "new_source_ip", "off_hours_human"], n_sig),
        "principal": "approle-app001", "path": "secret/data/prod/x", "detail": _lists(n_sig, {}),
    })
    n_sf = max(10, n_items // 100)
    n_repo = 100
    repos = "git:r" + np.arange(n_repo).astype(str)
    sfr = repos[rng.integers(0, n_repo, n_sf)]
    sfpath = rng.choice(["src/config.py", ".env", "Dockerfile", "config/prod.env", "logs/app.log"], n_sf)
    f["source_finding"] = _frame("source_finding", n_sf, {
        "id": sfr + ":" + sfpath + ":" + np.arange(n_sf).astype(str), "store": "git", "source": "git", "repo": sfr,
        "category": np.where(sfpath == "Dockerfile", "dockerfile", "secret"), "detector": "KeywordDetector",
        "path": sfpath, "line": 3, "in_tree": rng.random(n_sf) < 0.7,
        "fingerprint": "hmac256:" + rng.integers(0, n_sf // 2 + 1, n_sf).astype(str), "refs": _lists(n_sf, []),
    })
    f["repository"] = _frame("repository", n_repo, {"id": repos, "store": "git", "source": "git", "url": repos,
                                                    "env_ignored": True, "precommit_scanner": False, "ci_scanner": True})
    n_ci = 500
    f["ci_config"] = _frame("ci_config", n_ci, {
        "id": "git:ci" + np.arange(n_ci).astype(str), "store": "git", "source": "git",
        "repo": repos[rng.integers(0, n_repo, n_ci)], "path": ".github/workflows/deploy.yml", "provider": "github_actions",
        "uses_oidc": False, "static_cloud_credentials": _lists(n_ci, []), "secrets_inherit": False,
        "to_json_secrets": False, "secrets_echoed": False, "secret_scanner": False,
        "secret_refs": _lists(n_ci, ["PROD_DB_PASSWORD"]),
    })
    return FrameSnapshot(f)


def run_one(n: int) -> dict:
    from checks.engine import run_assessment
    from checks.scoring import score
    from posture.model.engagement import Engagement

    t0 = time.perf_counter()
    snap = build(n)
    t1, c1 = time.perf_counter(), time.process_time()
    a = run_assessment(snap, Engagement(client="bench"), date(2026, 11, 20))
    s = score(a.findings, a.thresholds)
    t2, c2 = time.perf_counter(), time.process_time()
    ev_s = None
    if n <= 200_000:
        t3 = time.perf_counter()
        a.evidence_records()
        ev_s = round(time.perf_counter() - t3, 2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB -> GiB
    return {"items": n, "results": len(a.findings), "checks": len(a.catalog), "errors": a.errors,
            "build_s": round(t1 - t0, 2), "assess_and_score_s": round(t2 - t1, 2), "cpu_s": round(c2 - c1, 2), "evidence_dicts_s": ev_s,
            "peak_rss_gib": round(peak, 2), "grade": s["overall"]["grade"], "counts": a.counts()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=None)
    ap.add_argument("--quick", action="store_true", help="10k and 100k items only")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [100_000, 1_000_000])
    goals = {100_000: 5.0, 1_000_000: 60.0}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'items':>10} {'results':>10} {'build s':>8} {'assess+score s':>15} {'cpu s':>7} {'evidence s':>11} {'peak GiB':>9}  goal")
    for n in sizes:
        p = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        goal = goals.get(n)
        ok = "" if goal is None else ("OK" if r["assess_and_score_s"] < goal and r["peak_rss_gib"] < 4 else "MISSED")
        print(f"{r['items']:>10,} {r['results']:>10,} {r['build_s']:>8} {r['assess_and_score_s']:>15} {r['cpu_s']:>7} "
              f"{r['evidence_dicts_s'] if r['evidence_dicts_s'] is not None else '-':>11} {r['peak_rss_gib']:>9}  "
              f"{'< %ss, < 4 GiB %s' % (goal, ok) if goal else ''}")
        if r["errors"]:
            print("  check errors:", r["errors"])


if __name__ == "__main__":
    main()
