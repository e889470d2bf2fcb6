"""The Kubernetes collector, driven end to end through the official ``kubernetes`` client's HTTP transport.

No real API server runs offline, so `k8s_api.KubeApiServer` (tests/k8s_api.py)
answers on loopback with objects shaped as the Kubernetes API Reference v1.30
documents (https://kubernetes.io/docs/reference/generated/kubernetes-api/v1.30/:
RoleList, ClusterRoleList, RoleBindingList, ClusterRoleBindingList,
ServiceAccountList, PodList, DeploymentList, PartialObjectMetadataList of
meta.k8s.io/v1, custom-resource lists, ``Status`` errors); the client's own
models deserialise them. The server holds Secret data (canaries) that it would
return to a plain list, and pods carry a literal secret env value: the guard
must never request the first, and the kit must never write either. Every gap
path (403, 429, 5xx, HTML, a JSON that is no list, remainingItemCount, a page
cap) goes through the real client, and dependent checks come out not_assessed.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_no_canary
from k8s_api import (
    CANARIES,
    ENV_CANARY,
    PARTIAL,
    SECRET_CANARY,
    TOKEN,
    KubeApiServer,
    estate,
    with_integrations,
)
from kubernetes import client as k8s

from checks.engine import run_assessment
from collectors.base import CollectContext
from collectors.kubernetes import guard as k8s_guard
from collectors.kubernetes.client import connect
from collectors.kubernetes.collector import KubernetesCollector
from collectors.kubernetes.guard import ReadOnlyGuard
from collectors.kubernetes.policy import cluster_role_yaml
from posture.cli import main
from posture.model.engagement import Engagement, KubernetesStore
from posture.model.errors import CollectionError, ReadOnlyViolation
from posture.model.snapshot import Snapshot, SnapshotSink

QUARTER = "2026-Q4"


def _ctx(sink: SnapshotSink, **options: Any) -> CollectContext:
    return CollectContext(engagement=Engagement(client="acme"), sink=sink, fingerprint=lambda v: "hmac256:" + "0" * 64,
                          as_of=datetime.now(UTC), options=options)


def collect(server: KubeApiServer, tmp_path: Path, **kw: Any) -> tuple[SnapshotSink, KubernetesCollector]:
    options = kw.pop("options", {})
    store = KubernetesStore(name="cluster", kubeconfig=str(server.kubeconfig(tmp_path / "kubeconfig")), **kw)
    sink = SnapshotSink()
    c = KubernetesCollector(store, _ctx(sink, **options))
    c.run()
    return sink, c


def statuses(sink: SnapshotSink, check_id: str) -> dict[str, str]:
    a = run_assessment(Snapshot.from_records([r for t in sink.counts() for r in sink.rows(t)]),
                       Engagement(client="acme"), only=[check_id])
    assert not a.errors, a.errors
    f = a.findings
    return dict(zip(f["resource"].astype(str), f["status"].astype(str)))


def _dump(sink: SnapshotSink) -> str:
    return json.dumps([r.model_dump(mode="json") for t in sink.counts() for r in sink.rows(t)])


# --- the estate, read whole -------------------------------------------------------------------------


def test_estate_is_read_through_the_client_models_and_no_value_is_kept(tmp_path: Path):
    with KubeApiServer() as server:
        sink, _c = collect(server, tmp_path, secret_metadata=True)
        seen = list(server.requests)
    assert not sink.gaps(), sink.gaps()
    counts = sink.counts()
    assert counts["server"] == 1 and counts["secret"] == 4 and counts["source_finding"] == 1
    srv = sink.rows("server")[0]
    assert srv.version == "v1.30.2" and srv.address == server.url
    # Secrets were asked for as metadata only, and only that way
    secret_requests = [(p, a) for _, p, a in seen if p.split("?")[0].endswith("/secrets")]
    assert secret_requests and all(a == PARTIAL for _, a in secret_requests)
    assert all(m == "GET" for m, _, _ in seen)
    dump = _dump(sink)
    for canary in CANARIES:
        assert canary not in dump
    rows = {r.id: r for r in sink.rows("secret")}
    db = rows["kubernetes:cluster:prod/db-password"]
    assert db.kind == "kubernetes_secret" and db.path == "prod/db-password" and db.tags == {"app": "web"}
    assert db.custom_metadata["kubectl.kubernetes.io/last-applied-configuration"] == "(not kept)"
    assert db.created_at == datetime(2024, 1, 10, 8, tzinfo=UTC) and db.updated_at == datetime(2024, 2, 1, 8, tzinfo=UTC)
    sas = {r.name: r for r in sink.rows("principal") if r.kind == "k8s_serviceaccount"}
    assert sas["prod/default"].token_secrets == ["default-token-x7k2p"] and sas["prod/web"].token_secrets == []
    assert "kubernetes:cluster:clusterrole/view" in sas["staging/ci"].policies  # User system:serviceaccount:...
    assert not any(r.name.startswith("system:serviceaccount:") for r in sink.rows("principal"))
    finding = sink.rows("source_finding")[0]
    assert finding.variable == "STRIPE_SECRET_KEY" and finding.fingerprint.startswith("hmac256:")
    assert finding.repo == "kubernetes:cluster:staging/pod/worker-5b2a0"
    work = {r.name: r for r in sink.rows("cloud_resource") if r.kind == "k8s_workload"}
    assert work["prod/pod/web-6d4f9"].secret_env == ["db-password/password"]  # the configMapKeyRef is not a secret
    assert work["prod/pod/api-7c8d1"].secret_files == ["app-config"]  # the projected SA token is not a Secret
    assert work["staging/deployment/batch"].secret_env == ["api-key"]
    crs = {r.name: r.objects for r in sink.rows("cloud_resource") if r.kind == "k8s_secret_integration"}
    assert crs["bitnami.com/sealedsecrets"] == 0 and crs["external-secrets.io/externalsecrets"] is None


def test_verdicts_on_the_estate(tmp_path: Path):
    with KubeApiServer() as server:
        sink, _ = collect(server, tmp_path, secret_metadata=True)
    k1 = statuses(sink, "K8S001")
    crb, rb = "kubernetes:cluster:clusterrolebinding/", "kubernetes:cluster:rolebinding/"
    assert k1[f"{crb}alice-reads-all-secrets#0"] == "fail"
    assert k1[f"{crb}everyone-reads-secrets#0"] == "fail"
    assert k1[f"{rb}prod/default-reads-secrets#0"] == "fail"
    for clean in (f"{crb}system:kube-controller-manager#0", f"{crb}cluster-admin#0", f"{rb}prod/web-reads-app-config#0",
                  f"{rb}kube-system/system:controller:bootstrap-signer#0", f"{rb}staging/ci-reads-staging-secrets#0"):
        assert k1[clean] == "pass", clean
    assert not any("everyone-view" in r for r in k1)  # a broad group bound to a role without secrets
    k2 = statuses(sink, "K8S002")
    assert k2["kubernetes:cluster:serviceaccount:prod/default"] == "fail"
    assert k2["kubernetes:cluster:serviceaccount:prod/web"] == "pass"
    k3 = statuses(sink, "K8S003")
    assert k3 == {"kubernetes:cluster:prod/pod/web-6d4f9": "fail", "kubernetes:cluster:prod/pod/api-7c8d1": "pass",
                  "kubernetes:cluster:staging/deployment/batch": "fail"}
    k4 = statuses(sink, "K8S004")
    assert k4["kubernetes:cluster:staging/pod/worker-5b2a0"] == "fail"
    assert k4["kubernetes:cluster:prod/pod/api-7c8d1"] == "pass"  # LOG_LEVEL, DB_HOST, DB_PASSWORD_FILE
    assert statuses(sink, "K8S005") == {"kubernetes:cluster": "fail"}


def test_external_secrets_and_vault_injection_pass_the_manager_check(tmp_path: Path):
    (tmp_path / "eso").mkdir()
    with KubeApiServer(objects=with_integrations(estate())) as server:
        sink, _ = collect(server, tmp_path / "eso")
    assert statuses(sink, "K8S005") == {"kubernetes:cluster": "pass"}
    objs = {**estate(), ("external-secrets.io/v1", "externalsecrets"):  # ESO 0.17+: v1, v1beta1 no longer served
            with_integrations({})[("external-secrets.io/v1beta1", "externalsecrets")]}
    (tmp_path / "v1").mkdir()
    with KubeApiServer(objects=objs) as server:
        sink, _ = collect(server, tmp_path / "v1")
        asked = [p for _, p, _ in server.requests if "externalsecrets" in p]
    assert asked == ["/apis/external-secrets.io/v1/externalsecrets?limit=500"]
    assert statuses(sink, "K8S005") == {"kubernetes:cluster": "pass"}
    objs = estate()
    objs[("v1", "pods")].append({"metadata": {"name": "vaulted", "namespace": "prod",
                                              "annotations": {"vault.hashicorp.com/agent-inject": "true"}},
                                 "spec": {"containers": [{"name": "app", "image": "app:1"}]}})
    (tmp_path / "va").mkdir()
    with KubeApiServer(objects=objs) as server:
        sink, _ = collect(server, tmp_path / "va")
    assert statuses(sink, "K8S005") == {"kubernetes:cluster": "pass"}
    objs = estate()
    for key in [k for k in objs if k[1] in ("pods", "deployments", "secrets")]:
        objs[key] = []
    (tmp_path / "none").mkdir()
    with KubeApiServer(objects=objs) as server:  # consumes no Secret at all: nothing to manage
        sink, _ = collect(server, tmp_path / "none", secret_metadata=True)
    assert statuses(sink, "K8S005") == {"kubernetes:cluster": "pass"}


def test_without_secret_metadata_no_secret_is_listed_and_references_count(tmp_path: Path):
    with KubeApiServer() as server:
        sink, _c = collect(server, tmp_path)
        assert not any(p.split("?")[0].endswith("/secrets") for _, p, _ in server.requests)
    assert "secret" not in sink.counts()
    sa = next(r for r in sink.rows("principal") if r.name == "prod/default")
    assert sa.token_secrets is None and sa.secret_refs == ["default-token-x7k2p"]
    assert statuses(sink, "K8S002")["kubernetes:cluster:serviceaccount:prod/default"] == "fail"


def test_printed_role_covers_every_issued_request(tmp_path: Path):
    with KubeApiServer() as server:
        _, c = collect(server, tmp_path, secret_metadata=True, namespaces=["prod", "staging"])
    role = cluster_role_yaml(secret_metadata=True)
    for line in c.issued:
        path = line.split(" ", 1)[1].rstrip("/")
        if path == "/version":
            continue
        resource = path.rsplit("/", 1)[-1]
        assert resource in role, line
    assert "resources: [secrets]\n    verbs: [list]" in role
    assert "resources: [secrets]" not in cluster_role_yaml(secret_metadata=False)


def test_policy_command_prints_yaml_and_refuses_a_bad_subject(monkeypatch: pytest.MonkeyPatch):
    import yaml

    with pytest.MonkeyPatch.context() as mp:
        rc, text = _cli(mp, "policy", "kubernetes", "--subject", "Group:auditors")
    assert rc == 0
    docs = list(yaml.safe_load_all(text.split("note:")[0]))
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding"]
    assert all(set(r["verbs"]) == {"get", "list"} and "secrets" not in r["resources"] for r in docs[0]["rules"])
    assert docs[1]["subjects"] == [{"kind": "Group", "name": "auditors", "apiGroup": "rbac.authorization.k8s.io"}]
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _cli(mp, "policy", "kubernetes", "--secret-metadata", "--subject", "ServiceAccount:audit/bot")
    docs = list(yaml.safe_load_all(text.split("note:")[0]))
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]} in docs[0]["rules"]
    assert docs[1]["subjects"] == [{"kind": "ServiceAccount", "name": "bot", "namespace": "audit"}]
    assert "list on secrets can read every Secret's data" in text
    with pytest.MonkeyPatch.context() as mp:
        rc, text = _cli(mp, "policy", "kubernetes", "--subject", "alice")
    assert rc == 2 and "Traceback" not in text and len(text.strip().splitlines()) == 1


# --- the guard: every value operation refused before it is sent ------------------------------------------


def _guarded(server: KubeApiServer, tmp_path: Path) -> k8s.ApiClient:
    api, _ = connect(KubernetesStore(name="c", kubeconfig=str(server.kubeconfig(tmp_path / "kc"))))
    return ReadOnlyGuard().install(api)


def test_guard_refuses_every_value_read_and_write_with_zero_requests_sent(tmp_path: Path):
    with KubeApiServer() as server:
        api = _guarded(server, tmp_path)
        core = k8s.CoreV1Api(api)
        body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="x"), string_data={"k": "v"})
        attempts = [
            lambda: core.list_secret_for_all_namespaces(),
            lambda: core.list_namespaced_secret("prod"),
            lambda: core.read_namespaced_secret("db-password", "prod"),
            lambda: core.list_namespaced_secret("prod", _headers={"Accept": PARTIAL + ",application/json"}),
            lambda: api.call_api("/api/v1/namespaces/prod/secrets", "GET", {}, [], {"Accept": PARTIAL + ",application/json"},
                                 auth_settings=["BearerToken"], _preload_content=False),
            lambda: api.call_api("/api/v1/namespaces/prod/secrets/db-password", "GET", {}, [], {"Accept": PARTIAL},
                                 auth_settings=["BearerToken"], _preload_content=False),
            lambda: api.call_api("/api/v1/secrets", "GET", {}, [("watch", "true")], {"Accept": PARTIAL},
                                 auth_settings=["BearerToken"], _preload_content=False),
            lambda: core.list_pod_for_all_namespaces(watch=True),
            lambda: api.call_api("/api/v1/watch/pods", "GET", {}, [], {}, auth_settings=["BearerToken"]),
            lambda: core.create_namespaced_secret("prod", body),
            lambda: core.delete_namespaced_secret("db-password", "prod"),
            lambda: core.patch_namespaced_service_account("default", "prod", {"secrets": []}),
            lambda: core.connect_get_namespaced_pod_exec("web-6d4f9", "prod", command=["env"]),
            lambda: core.read_namespaced_config_map("app", "prod"),
            lambda: k8s.RbacAuthorizationV1Api(api).create_cluster_role_binding(k8s.V1ClusterRoleBinding(
                metadata=k8s.V1ObjectMeta(name="x"), role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io",
                                                                             kind="ClusterRole", name="x"))),
        ]
        for attempt in attempts:
            with pytest.raises(ReadOnlyViolation):
                attempt()
        assert server.requests == []
        # what the collector does ask passes: metadata only
        resp = api.call_api("/api/v1/secrets", "GET", {}, [], {"Accept": PARTIAL}, auth_settings=["BearerToken"],
                            _preload_content=False, _return_http_data_only=True)
        assert SECRET_CANARY not in resp.data.decode() and "PartialObjectMetadataList" in resp.data.decode()
        assert len(server.requests) == 1


def test_refusal_rules_are_exact():
    r = k8s_guard.refusal
    assert r("GET", "http://h/api/v1/secrets", [], {"Accept": PARTIAL}) is None
    assert r("GET", "http://h/api/v1/namespaces/a/secrets", [("limit", 5)], {"accept": PARTIAL}) is None
    assert r("GET", "http://h/api/v1/secrets", [], {"Accept": "application/json"})
    assert r("GET", "http://h/api/v1/secrets", [("includeObject", "Object")], {"Accept": PARTIAL})
    assert r("GET", "http://h/api/v1/namespaces/a/secrets/b", [], {"Accept": PARTIAL})
    assert r("GET", "http://h/api/v1/pods?watch=1", [], {})
    assert r("HEAD", "http://h/api/v1/pods", [], {})
    assert r("GET", "http://h/api/v1/configmaps", [], {})  # not read by the collector at all
    assert r("GET", "http://h/apis/rbac.authorization.k8s.io/v1/namespaces/a/roles", [], {}) is None


# --- gaps: one per failure, scoped, and the dependent checks not_assessed ------------------------------------

HTML = b"<html><body>Sign in to continue</body></html>"
GAP_CASES = [
    ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", 403, None, "application/json", "denied", "K8S001"),
    ("/api/v1/pods", 429, None, "application/json", "throttled", "K8S003"),
    ("/api/v1/serviceaccounts", 503, None, "application/json", "error", "K8S002"),
    ("/apis/rbac.authorization.k8s.io/v1/rolebindings", 200, HTML, "text/html", "malformed", "K8S001"),
    ("/api/v1/pods", 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}, "application/json",
     "malformed", "K8S004"),
    ("/apis/external-secrets.io/v1beta1/externalsecrets", 403, None, "application/json", "denied", "K8S005"),
]


@pytest.mark.parametrize(("path", "code", "body", "ctype", "reason", "check_id"), GAP_CASES)
def test_each_failure_is_a_gap_and_its_checks_are_not_assessed(tmp_path, path, code, body, ctype, reason, check_id):
    with KubeApiServer(objects=with_integrations(estate())) as server:
        server.fail(path, code, body, ctype)
        sink, _ = collect(server, tmp_path)
        hits = sum(1 for _, p, _ in server.requests if p.split("?")[0] == path)
    gaps = sink.gaps()
    assert [g.reason for g in gaps] == [reason], gaps
    assert gaps[0].scope == "" and path.rsplit("/", 1)[-1] in gaps[0].operation
    if reason == "throttled":
        assert hits == 3  # retried, then a gap
    st = statuses(sink, check_id)
    assert st and set(st.values()) == {"not_assessed"}, st


def test_truncated_lists_are_gaps(tmp_path: Path):
    with KubeApiServer() as server:
        server.cut("/api/v1/secrets", remaining=3)
        sink, _ = collect(server, tmp_path, secret_metadata=True)
    assert [(g.reason, g.service) for g in sink.gaps()] == [("truncated", "secrets")]
    assert set(statuses(sink, "K8S002").values()) == {"not_assessed"}
    (tmp_path / "pages").mkdir()
    with KubeApiServer() as server:  # three pods, pages of one, a cap of two pages: still a continue token
        sink, _ = collect(server, tmp_path / "pages", options={"k8s_page_size": 1, "k8s_max_pages": 2})
        continued = [p for _, p, _ in server.requests if p.startswith("/api/v1/pods") and "continue=" in p]
    assert continued, "the client followed the continue token"
    cut = {(g.reason, g.service) for g in sink.gaps()}
    assert ("truncated", "pods") in cut and {r for r, _ in cut} == {"truncated"}
    assert ("truncated", "deployments") not in cut  # one item: complete within the cap
    (tmp_path / "paged").mkdir()
    with KubeApiServer() as server:  # paging to the end is complete
        sink, _ = collect(server, tmp_path / "paged", options={"k8s_page_size": 1})
    assert not sink.gaps() and len([r for r in sink.rows("cloud_resource") if r.kind == "k8s_workload"]) == 4


def test_a_server_ignoring_the_metadata_accept_header_is_a_gap_and_nothing_is_kept(tmp_path: Path):
    with KubeApiServer(ignore_partial=True) as server:
        sink, _ = collect(server, tmp_path, secret_metadata=True)
    assert [(g.reason, g.service) for g in sink.gaps()] == [("malformed", "secrets")]
    assert "secret" not in sink.counts()
    dump = _dump(sink)
    assert not any(c in dump for c in CANARIES)
    assert set(statuses(sink, "K8S002").values()) == {"not_assessed"}


def test_namespaced_gap_leaves_other_namespaces_assessed(tmp_path: Path):
    with KubeApiServer() as server:
        server.fail("/api/v1/namespaces/staging/pods", 403)
        sink, _ = collect(server, tmp_path, namespaces=["prod", "staging", "missing"])
    gaps = {(g.reason, g.scope) for g in sink.gaps()}
    assert ("denied", "staging/") in gaps and ("not_found", "missing/") in gaps
    k3 = statuses(sink, "K8S003")
    assert k3["kubernetes:cluster:prod/pod/web-6d4f9"] == "fail"
    assert k3["kubernetes:cluster:staging/deployment/batch"] == "not_assessed"


def test_crd_not_installed_is_a_fact_not_a_gap(tmp_path: Path):
    with KubeApiServer() as server:
        sink, _ = collect(server, tmp_path)
        crd_hits = [p for _, p, _ in server.requests if "external-secrets.io" in p]
    assert crd_hits and not sink.gaps()


def test_https_with_the_kubeconfig_ca_and_a_tls_failure_without_it(tmp_path: Path):
    with KubeApiServer(tls=True) as server:
        sink, _ = collect(server, tmp_path)
        assert server.url.startswith("https://") and not sink.gaps() and sink.counts()["policy_rule"] > 5
        store = KubernetesStore(name="cluster", kubeconfig=str(server.kubeconfig(tmp_path / "no-ca", with_ca=False)),
                                timeout=5)
        with pytest.raises(CollectionError) as err:
            KubernetesCollector(store, _ctx(SnapshotSink())).run()
    assert "kubernetes store cluster" in str(err.value) and "\n" not in str(err.value)


# --- a store that cannot be assessed: one line, exit 3 -----------------------------------------------


def _engagement(root: Path, kubeconfig: Path | str, extra: str = "") -> None:
    eng = root / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True, exist_ok=True)
    eng.write_text(f"client: acme\nstores:\n  kubernetes:\n    - name: cluster\n      kubeconfig: {kubeconfig}\n"
                   f"      timeout: 5\n{extra}")


def _cli(mp: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    out, err = StringIO(), StringIO()
    mp.setattr(sys, "stdout", out)
    mp.setattr(sys, "stderr", err)
    rc = main(list(args))
    mp.undo()
    return rc, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("problem", ["unreachable", "bad_kubeconfig", "missing", "bad_context", "bad_token"])
def test_unusable_store_is_one_line_and_nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem):
    monkeypatch.setenv("POSTURE_HOME", str(tmp_path))
    with KubeApiServer() as server:
        kc = tmp_path / "kubeconfig"
        if problem == "unreachable":
            server.kubeconfig(kc)
            text = kc.read_text().replace(server.url, "http://127.0.0.1:9")
            kc.write_text(text)
        elif problem == "bad_kubeconfig":
            kc.write_text("clusters: [this is: not a kubeconfig\n")
        elif problem == "missing":
            kc = tmp_path / "nope"
        elif problem == "bad_context":
            server.kubeconfig(kc)
        else:
            server.kubeconfig(kc, token="wrong-token")
        _engagement(tmp_path, kc, "      context: nowhere\n" if problem == "bad_context" else "")
        with pytest.MonkeyPatch.context() as mp:
            rc, text = _cli(mp, "collect", "acme", "-q", QUARTER)
    assert rc == 3, text
    assert "Traceback" not in text and "kubernetes store cluster" in text
    assert len([ln for ln in text.strip().splitlines() if ln.strip()]) == 1, text
    assert not (tmp_path / "evidence" / "acme" / QUARTER / "snapshot").exists()


# --- end to end through the CLI ---------------------------------------------------------------------


def test_collect_and_assess_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POSTURE_HOME", str(tmp_path))
    with KubeApiServer() as server:
        kc = server.kubeconfig(tmp_path / "engagements-kubeconfig")
        _engagement(tmp_path, kc, "      secret_metadata: true\n")
        with pytest.MonkeyPatch.context() as mp:
            rc, text = _cli(mp, "collect", "acme", "-q", QUARTER)
            assert rc == 0, text
        with pytest.MonkeyPatch.context() as mp:
            rc, text = _cli(mp, "assess", "acme", "-q", QUARTER, "--no-notebooks")
            assert rc == 0, text
        with pytest.MonkeyPatch.context() as mp:
            rc, role = _cli(mp, "policy", "kubernetes", "acme")
            assert rc == 0 and "resources: [secrets]" in role and "list on secrets can read" in role
    evidence = tmp_path / "evidence" / "acme" / QUARTER
    findings = json.loads((evidence / "assessment" / "findings.json").read_text())["findings"]

    def status(check_id: str, resource: str) -> set[str]:
        return {f["status"] for f in findings if f["check_id"] == check_id and resource in f["resource"]}

    assert status("K8S001", "alice-reads-all-secrets") == {"fail"}
    assert status("K8S001", "bootstrap-signer") == {"pass"}
    assert status("K8S002", "serviceaccount:prod/default") == {"fail"}
    assert status("K8S003", "prod/pod/web-6d4f9") == {"fail"}
    assert status("K8S004", "staging/pod/worker-5b2a0") == {"fail"}
    assert status("K8S005", "kubernetes:cluster") == {"fail"}
    assert status("K8S006", "k8s_encryption_at_rest") == {"not_assessed"}
    # the generic inventory and lifecycle checks score the Secret metadata rows
    k8s_items = [f for f in findings if f["resource"].startswith("kubernetes:cluster:prod/")
                 and f["check_id"][:3] in ("INV", "LCY")]
    assert {f["check_id"] for f in k8s_items} >= {"INV001", "LCY001"}, sorted({f["check_id"] for f in k8s_items})
    assert status("LCY001", "kubernetes:cluster:prod/db-password") == {"fail"}
    assert assert_no_canary(tmp_path / "evidence", extra=(*CANARIES, TOKEN)) > 5  # nor the bearer token
    assert assert_no_canary(tmp_path, extra=CANARIES) > 5  # the whole workspace
    assert ENV_CANARY not in text
