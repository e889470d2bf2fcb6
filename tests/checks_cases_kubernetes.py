"""Pass / fail records for the Kubernetes checks (K8S001-K8S005), with clean look-alikes in the pass sets.

Records are built the way `collectors.kubernetes` writes them (bound RBAC rules,
service accounts, workloads, integration custom resources, Secret metadata);
no value appears anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime

from posture.model.records import (
    CloudResource,
    PolicyRule,
    Principal,
    Secret,
    Server,
    SourceFinding,
)

K = {"store": "cluster", "source": "kubernetes"}
CREATED = datetime(2025, 6, 1, tzinfo=UTC)


def server() -> Server:
    return Server(id="kubernetes:cluster", address="https://k8s.acme.test:6443", product="kubernetes",
                  version="v1.30.2", **K)


def grant(binding: str, principals: list[str], *, namespace: str | None = None, resources=("secrets",),
          verbs=("get", "list", "watch"), groups=("",), names=(), role: str = "secret-reader") -> PolicyRule:
    where = f"rolebinding/{namespace}" if namespace else "clusterrolebinding"
    bid = f"kubernetes:cluster:{where}/{binding}"
    return PolicyRule(id=f"{bid}#0", policy_id=bid, policy=role, path=f"{namespace or '*'}/{'|'.join(resources)}",
                      capabilities=list(verbs), principals=principals, api_groups=list(groups),
                      resources=list(resources), resource_names=list(names), namespace=namespace,
                      binding=binding, role_ref=f"kubernetes:cluster:clusterrole/{role}", **K)


def sa(ns: str, name: str, refs=(), tokens: list[str] | None = None) -> Principal:
    return Principal(id=f"kubernetes:cluster:serviceaccount:{ns}/{name}", name=f"{ns}/{name}",
                     kind="k8s_serviceaccount", namespace=ns, secret_refs=list(refs), token_secrets=tokens, **K)


def workload(ns: str, name: str, env=(), files=(), integrations=(), kind: str = "pod") -> CloudResource:
    return CloudResource(id=f"kubernetes:cluster:{ns}/{kind}/{name}", name=f"{ns}/{kind}/{name}",
                         kind="k8s_workload", namespace=ns, service_account="app", secret_env=list(env),
                         secret_files=list(files), secret_integrations=list(integrations), **K)


def integration(name: str, objects: int | None) -> CloudResource:
    return CloudResource(id=f"kubernetes:cluster:integration/{name}", name=name, kind="k8s_secret_integration",
                         objects=objects, enabled=bool(objects), **K)


def k8s_secret(ns: str, name: str, **kw) -> Secret:
    return Secret(id=f"kubernetes:cluster:{ns}/{name}", kind="kubernetes_secret", path=f"{ns}/{name}", mount=ns,
                  name=name, created_at=CREATED, **kw, **K)


def env_finding(w: CloudResource, variable: str) -> SourceFinding:
    loc = f"{w.name}#container=app"
    return SourceFinding(id=f"{loc}#env:{variable}", repo=w.id, category="config_env", detector="Secret Keyword",
                         path=loc, in_tree=True, fingerprint="hmac256:" + "ab" * 32, variable=variable, **K)


_api = workload("prod", "api", env=(), files=("app-config",))
_worker = workload("staging", "worker")

CASES = {
    "K8S001": (
        [  # look-alikes: control plane, kube-system controllers, resourceNames, namespaced named SA,
           # a broad group bound to a role without secrets is no row at all
            grant("system:kube-controller-manager", ["user:system:kube-controller-manager"],
                  verbs=("get", "create", "update"), role="system:kube-controller-manager"),
            grant("cluster-admin", ["group:system:masters"], resources=("*",), verbs=("*",), groups=("*",),
                  role="cluster-admin"),
            grant("system:controller:bootstrap-signer", ["serviceaccount:kube-system/bootstrap-signer"],
                  namespace="kube-system", role="system:controller:bootstrap-signer"),
            grant("web-reads-app-config", ["serviceaccount:prod/web"], namespace="prod", verbs=("get",),
                  names=("app-config",)),
            grant("ci-reads-staging", ["serviceaccount:staging/ci"], namespace="staging"),
            grant("everyone-view", ["group:system:authenticated"], resources=("pods", "configmaps"),
                  role="view"),
            grant("secret-writer", ["user:bob@acme.test"], verbs=("create", "update")),
            grant("apps-secrets", ["user:bob@acme.test"], groups=("apps",)),
        ],
        [
            grant("alice-reads-all-secrets", ["user:alice@acme.test"]),
            grant("everyone-reads-secrets", ["group:system:authenticated"], verbs=("get",), names=("one",)),
            grant("anonymous", ["group:system:unauthenticated"], resources=("*",), verbs=("list",)),
            grant("default-reads-secrets", ["serviceaccount:prod/default"], namespace="prod", verbs=("list",)),
            grant("all-sas", ["group:system:serviceaccounts:prod"], namespace="prod", verbs=("watch",)),
            grant("anonymous-user", ["user:system:anonymous"], namespace="prod", names=("x",)),
            grant("sa-as-user", ["user:system:serviceaccount:ci:deployer"]),
        ],
    ),
    "K8S002": (
        [sa("prod", "web"), sa("prod", "api", refs=("api-dockercfg",), tokens=[]), sa("staging", "ci", tokens=[])],
        [sa("prod", "default", refs=("default-token-x7k2p",), tokens=["default-token-x7k2p"]),
         sa("prod", "old", refs=("old-token-abcde",)),
         sa("prod", "orphaned", tokens=["orphaned-token-q1w2e"])],
    ),
    "K8S003": (
        [_api, workload("prod", "batch", files=("db",), kind="deployment"), workload("prod", "plain")],
        [workload("prod", "web", env=("db-password/password",)),
         workload("staging", "batch", env=("api-key",), files=("tls",), kind="deployment")],
    ),
    "K8S004": (
        [_api, _worker],
        [_worker, env_finding(_worker, "STRIPE_SECRET_KEY"), _api],
    ),
    "K8S005": (
        [server(), workload("prod", "web", env=("db",)), integration("external-secrets.io/externalsecrets", 3),
         integration("bitnami.com/sealedsecrets", None)],
        [server(), workload("prod", "web", env=("db",)), integration("external-secrets.io/secretstores", 1),
         integration("bitnami.com/sealedsecrets", 0), k8s_secret("prod", "db")],
    ),
}
