"""Kubernetes checks: who can read Secrets, legacy tokens, how pods take secrets, secret managers.

Inputs come from `collectors.kubernetes`: bound RBAC rules (``policy_rule``
rows with a ``binding``), service accounts (``principal`` kind
``k8s_serviceaccount``), workloads (``cloud_resource`` kind ``k8s_workload``),
integration custom resources (``cloud_resource`` kind
``k8s_secret_integration``), literal env findings (``source_finding``) and,
when the engagement asked for it, Secret metadata (``secret`` kind
``kubernetes_secret``). A coverage gap on any input leaves the dependent rows
not_assessed (the engine), never passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from checks.catalog import CheckContext, as_list, check, emit, stores_of
from checks.ops_checks import attested

K8S = ("kubernetes",)
READ_VERBS = {"get", "list", "watch", "*"}
BROAD_GROUPS = {"group:system:authenticated", "group:system:unauthenticated", "group:system:serviceaccounts",
                "user:system:anonymous"}
CIS = "CIS Kubernetes Benchmark v1.9"


def reads_secrets(groups: Any, resources: Any, verbs: Any) -> bool:
    """An RBAC rule that lets its holder read Secret values: get/list/watch (or *) on secrets (or *)
    in the core API group (or *). ``list`` and ``watch`` return values just like ``get``."""
    return (bool({"", "*"} & set(as_list(groups))) and bool({"secrets", "*"} & set(as_list(resources)))
            and bool(READ_VERBS & set(as_list(verbs))))


def is_broad_group(subject: str) -> bool:
    """Every authenticated user, anonymous requests (the group or the system:anonymous user), or every
    service account (of a namespace)."""
    return subject in BROAD_GROUPS or subject.startswith("group:system:serviceaccounts:")


def is_default_sa(subject: str) -> bool:
    return subject.startswith("serviceaccount:") and subject.endswith("/default")


def is_system(subject: str) -> bool:
    """A control-plane identity: a ``system:`` user or group (not the broad groups), or a
    kube-system service account (not its default one)."""
    kind, _, name = subject.partition(":")
    if kind in ("user", "group"):
        return (name.startswith("system:") and not is_broad_group(subject)
                and not name.startswith("system:serviceaccount:"))  # a service account, not the control plane
    return name.startswith("kube-system/") and not is_default_sa(subject)


def secret_reader_verdict(principals: Any, namespace: Any, names: Any) -> tuple[bool, str]:
    """(passed, why) for one bound rule that reads Secrets."""
    subjects = [str(s) for s in as_list(principals)]
    broad = [s for s in subjects if is_broad_group(s)]
    if broad:
        return False, f"granted to {', '.join(broad)}"
    default = [s for s in subjects if is_default_sa(s)]
    if default:
        return False, f"granted to the default service account {', '.join(default)} (every pod that names none)"
    cluster_wide = not isinstance(namespace, str) or not namespace
    if cluster_wide and not as_list(names):
        people = [s for s in subjects if not is_system(s)]
        if people:
            return False, f"cluster-wide on every Secret to {', '.join(people)}"
        return True, "cluster-wide, control-plane identities only"
    if as_list(names):
        return True, f"limited to {', '.join(map(str, as_list(names)))}"
    return True, f"namespace {namespace} only, named subjects"


@check("K8S001", "Broad Kubernetes Secret readers", stage=2, item=2, anti_pattern="wildcard",
       severity="critical", inputs=("policy_rule",), sources=K8S, controls=("least_privilege", "public_access"),
       references=(f"{CIS} 5.1.2 Minimize access to secrets", f"{CIS} 5.1.5 default service accounts",
                   "Kubernetes RBAC good practices: 'Listing secrets'"),
       detects="A (Cluster)RoleBinding whose role can get, list or watch Secrets (resources secrets or *, "
               "apiGroups '' or *, verbs get/list/watch or *) and grants it to system:authenticated, "
               "system:unauthenticated, system:anonymous or system:serviceaccounts[:ns]; to a namespace's default service "
               "account; or cluster-wide, on every Secret, to a subject that is not a control-plane identity "
               "(system:* users and groups, kube-system service accounts). Rules limited by resourceNames "
               "and namespaced grants to named subjects pass.",
       why="list and watch on Secrets return their values, so a broad reader holds every credential of the "
           "cluster; the default service account is mounted into every pod that names no other.",
       fix="Bind Secret access per namespace to named service accounts with resourceNames; remove grants "
           "to system:authenticated/unauthenticated and default service accounts; keep cluster-admin to "
           "break-glass.")
def broad_secret_readers(ctx: CheckContext) -> pd.DataFrame:
    """General class: a read grant on credentials whose audience is wider than the workload that needs
    them (everyone, anonymous, every pod of a namespace, any person cluster-wide). One row per bound
    rule that reads Secrets; rules that cannot read them are no row."""
    r = ctx.frame("policy_rule")
    r = r[r["source"].eq("kubernetes") & r["binding"].notna()]
    mask = [reads_secrets(g, res, v) for g, res, v in zip(r["api_groups"], r["resources"], r["capabilities"])]
    r = r[np.asarray(mask, dtype=bool)] if len(r) else r
    verdicts = [secret_reader_verdict(p, ns, n) for p, ns, n in zip(r["principals"], r["namespace"],
                                                                      r["resource_names"])]
    passed = pd.Series([v[0] for v in verdicts], index=r.index, dtype="boolean")
    return emit(r, passed, name=r["binding"], path=r["path"], role=r["policy"], reason=pd.Series([v[1] for v in verdicts], index=r.index, dtype=object),
                principals=r["principals"], namespace=r["namespace"], verbs=r["capabilities"])


@check("K8S002", "Legacy long-lived service account token Secrets", stage=2, item=2,
       anti_pattern="long_lived_tokens", severity="high", inputs=("principal", "secret"), sources=K8S,
       controls=("identity", "rotation"),
       references=("Kubernetes docs: Legacy ServiceAccount token cleaner (1.29+)",
                   "KEP-2799 Reduction of Secret-based Service Account Tokens"),
       detects="A service account with a Secret annotated kubernetes.io/service-account.name for it (from "
               "Secret metadata), or, when Secret metadata was not read, one listing Secrets in "
               "ServiceAccount.secrets (unconfirmed: the type is not visible).",
       why="Seed 000 identity binding: runtime identity (a K8s service account) instead of static tokens. "
           "Such tokens never expire and are not bound to a pod; a copy in a log or a backup works until "
           "the Secret is deleted.",
       fix="Use projected, short-lived tokens (TokenRequest); delete the token Secrets and the "
           "ServiceAccount.secrets references; enable the legacy token cleaner.")
def legacy_service_account_tokens(ctx: CheckContext) -> pd.DataFrame:
    """General class: a workload identity backed by a static, non-expiring bearer credential. One row
    per service account; confirmed from Secret metadata when it was read, else from its references."""
    p = ctx.frame("principal")
    p = p[p["source"].eq("kubernetes") & p["kind"].eq("k8s_serviceaccount")]
    known = p["token_secrets"].map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    tokens = pd.Series([(as_list(t) if k else as_list(refs)) for t, k, refs in
                        zip(p["token_secrets"], known, p["secret_refs"])], index=p.index, dtype=object)
    passed = tokens.map(len).eq(0).astype("boolean")
    return emit(p, passed, path=p["name"], token_secrets=tokens, confirmed=known,
                secret_refs=p["secret_refs"])


def _workloads(ctx: CheckContext) -> pd.DataFrame:
    c = ctx.frame("cloud_resource")
    return c[c["source"].eq("kubernetes") & c["kind"].eq("k8s_workload")]


@check("K8S003", "Secrets consumed as environment variables instead of files", stage=4, item=4,
       anti_pattern="env_files", severity="medium", inputs=("cloud_resource",), sources=K8S,
       controls=("secrets_in_code", "log_redaction"),
       references=(f"{CIS} 5.4.1 Prefer using secrets as files over secrets as environment variables",),
       detects="A pod or pod template (Deployment, StatefulSet, DaemonSet) that takes a Secret through "
               "env[].valueFrom.secretKeyRef or envFrom[].secretRef. Workloads that mount their Secrets as "
               "files (secret or projected volumes) pass; configMap references are not secrets.",
       why="Environment variables leak into crash dumps, /proc, child processes and debug endpoints, and "
           "do not change when the Secret rotates until the pod restarts.",
       fix="Mount the Secret as a read-only volume and read the file; or have an agent (Vault agent, "
           "Secrets Store CSI) write it.")
def secrets_as_env(ctx: CheckContext) -> pd.DataFrame:
    """General class: a secret delivered through the process environment instead of a file. One row per
    workload that consumes any Secret (workloads that consume none have nothing to judge)."""
    w = _workloads(ctx)
    env = w["secret_env"].map(as_list)
    files = w["secret_files"].map(as_list)
    w = w[(env.map(len) + files.map(len)) > 0]
    env = env[w.index]
    return emit(w, env.map(len).eq(0).astype("boolean"), path=w["name"], secret_env=env,
                secret_files=files[w.index], service_account=w["service_account"])


@check("K8S004", "Literal secret in a pod spec environment", stage=1, item=1, anti_pattern="hardcoded",
       severity="high", inputs=("cloud_resource", "source_finding"), sources=K8S,
       controls=("secrets_in_code",),
       references=(f"{CIS} 5.4.1", "Kubernetes docs: Good practices for Kubernetes Secrets"),
       detects="A pod or pod template whose env[].value holds a literal credential (a known format, a "
               "URL with a password, a secret-named variable with a literal, a random string); the kit "
               "keeps the variable name and a keyed fingerprint only. Plain settings, file paths and "
               "references pass.",
       why="The value is readable by anyone who can get pods or deployments (a much wider group than "
           "Secret readers) and sits in every manifest, Helm values file and GitOps repository.",
       fix="Move the value to a Secret (or a secret manager) and reference it; rotate it, since it was "
           "exposed.")
def literal_env_secrets(ctx: CheckContext) -> pd.DataFrame:
    """General class: a credential written in clear into deployment configuration. One row per
    workload; it fails when the collector fingerprinted a literal secret in its env."""
    w = _workloads(ctx)
    f = ctx.frame("source_finding")
    f = f[f["source"].eq("kubernetes") & f["category"].eq("config_env")]
    by = f.groupby("repo")["variable"].agg(lambda s: sorted(set(map(str, s)))).to_dict() if len(f) else {}
    variables = w["id"].map(lambda i: by.get(i, []))
    return emit(w, variables.map(len).eq(0).astype("boolean"), path=w["name"], variables=variables)


INTEGRATION_NAMES = {"external-secrets.io/externalsecrets": "External Secrets Operator",
                     "bitnami.com/sealedsecrets": "Sealed Secrets",
                     "secrets-store.csi.x-k8s.io/secretproviderclasses": "Secrets Store CSI driver"}


@check("K8S005", "Cluster uses only native Secrets (no external secret manager)", stage=2, item=3,
       anti_pattern="seed 001 CI/CD integration: Vault Agent sidecar / External Secrets Operator (Kubernetes)",
       severity="medium", inputs=("server", "cloud_resource", "secret"), sources=K8S,
       controls=("rotation", "key_management", "inventory"),
       references=(f"{CIS} 5.4.2 Consider external secret storage",),
       detects="A cluster whose workloads consume Secrets (as env or files), or that holds Secrets other "
               "than service-account tokens (Secret metadata), while no ExternalSecret, SealedSecret or "
               "SecretProviderClass object exists and no workload uses the Vault agent injector or a "
               "Secrets Store CSI volume. A cluster that consumes no Secrets passes.",
       why="Seed 001 integrates Kubernetes workloads through the Vault Agent injector or the External "
           "Secrets Operator. Native Secrets created by hand have no owner, no history and no rotation "
           "outside the cluster; they are copied between clusters and into manifests to recreate them.",
       fix="Deliver secrets from the secret store (External Secrets Operator, Vault agent, Secrets Store "
           "CSI) or at least keep them sealed in Git (Sealed Secrets), with the store as the source of truth.")
def native_secrets_only(ctx: CheckContext) -> pd.DataFrame:
    """General class: secrets that exist only where they are used, with no managed source of truth.
    One row per cluster (its server record): in use and unmanaged fails; managed or unused passes."""
    s = stores_of(ctx, "kubernetes")
    c = ctx.frame("cloud_resource")
    c = c[c["source"].eq("kubernetes")]
    w = c[c["kind"].eq("k8s_workload")]
    crs = c[c["kind"].eq("k8s_secret_integration")]
    sec = ctx.frame("secret")
    sec = sec[sec["source"].eq("kubernetes") & sec["kind"].eq("kubernetes_secret")]
    sa_key = "kubernetes.io/service-account.name"
    token = sec["custom_metadata"].map(lambda m: isinstance(m, dict) and sa_key in m).astype(bool)
    own = sec.loc[~token]
    rows: list[dict[str, Any]] = []
    for store in s["store"]:
        ws = w[w["store"].eq(store)]
        consumers = int(((ws["secret_env"].map(lambda v: len(as_list(v))) + ws["secret_files"].map(
            lambda v: len(as_list(v)))) > 0).sum())
        injected = sorted({i for v in ws["secret_integrations"] for i in as_list(v)})
        present = crs[crs["store"].eq(store) & (crs["objects"].fillna(0).astype(float) > 0)]
        managed = injected + [INTEGRATION_NAMES[n] for n in present["name"] if n in INTEGRATION_NAMES]
        rows.append({"consumers": consumers, "native": int(own["store"].eq(store).sum()), "managed": managed})
    ev = pd.DataFrame(rows, index=s.index)
    if not len(s):
        return emit(s, pd.Series(dtype="boolean"), name=s["address"])
    uses = (ev["consumers"] > 0) | (ev["native"] > 0)
    passed = (~uses | ev["managed"].map(bool)).astype("boolean")
    return emit(s, passed, name=s["store"], path=s["address"], workloads_consuming_secrets=ev["consumers"],
                native_secrets=ev["native"], integrations=ev["managed"])


@check("K8S006", "Kubernetes Secrets encrypted at rest in etcd", stage=2, item=2,
       anti_pattern="seed 003: Kubernetes Secrets are base64-encoded, not encrypted by default",
       severity="high",
       inputs=(), sources=("engagement",), controls=("encryption_at_rest", "key_management"),
       thresholds=("attestation_max_age_days",), attestation="k8s_encryption_at_rest",
       references=(f"{CIS} 1.2.27/1.2.28 --encryption-provider-config",
                   "Kubernetes docs: Encrypting Confidential Data at Rest"),
       detects="Evidence that the API server encrypts Secrets in etcd with a KMS provider (or aescbc/"
               "aesgcm/secretbox) listed before identity in its EncryptionConfiguration; the API does not "
               "show this (EKS: see AWS038).",
       why="Without it every Secret is base64 in etcd and in every etcd backup and snapshot.",
       fix="Configure an EncryptionConfiguration with a KMS v2 provider for secrets, then rewrite all "
           "Secrets (kubectl get secrets -A -o json | kubectl replace -f -); record the evidence.")
def attested_k8s_encryption_at_rest(ctx: CheckContext) -> pd.DataFrame:
    """General class: a control no API shows, evidenced by a dated attestation (`attested`)."""
    return attested(ctx, "k8s_encryption_at_rest")
