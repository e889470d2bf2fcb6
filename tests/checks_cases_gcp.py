"""Pass / fail cases of the GCP Secret Manager checks (GSM*), with clean look-alikes in the pass cases.

Records are what `collectors.gcp` writes: ``gcp_secret`` secrets with project-id
paths, IAM policies as one rule per binding (the secret's ``<id>/iam`` and the
project's ``gcp:<store>:projects/<id>/iam``), ``gcp_kms`` keys.
"""

from __future__ import annotations

import json

from checks_cases import ago

from posture.model.records import Key, Policy, PolicyRule, Secret, Server

GC = {"store": "gcp-main", "source": "gcp"}
PROJECT = "acme-prod"
NUMBER = "123456789012"
KEY = f"projects/{PROJECT}/locations/global/keyRings/prod-ring/cryptoKeys/secrets-key"


def gsecret(sid: str, **kw) -> Secret:
    path = f"projects/{PROJECT}/secrets/{sid}"
    base = dict(kind="gcp_secret", name=sid, region="global", account=PROJECT, arn=f"projects/{NUMBER}/secrets/{sid}",
                created_at=ago(400), updated_at=ago(5), last_rotated_at=ago(5), rotation_enabled=True,
                rotation_interval_days=30, rotation_topics=[f"projects/{PROJECT}/topics/rotate"],
                next_rotation_at=ago(-25), enabled_versions=1, versions_by_state={"ENABLED": 1, "DESTROYED": 3},
                version_count=4, replication="automatic", kms_key_ids=[KEY], kms_key_id=KEY,
                customer_managed_key=True, encrypted=True, tags={"owner": "payments-team"})
    base.update(kw)
    return Secret(id=f"gcp:gcp-main:{path}", path=path, **GC, **base)


def iam(policy_id: str, name: str, path: str, bindings: list[tuple[str, list[str]]], kind: str) -> list:
    out: list = [Policy(id=policy_id, name=name, kind=kind, document=json.dumps(
        {"bindings": [{"role": r, "members": m} for r, m in bindings]}), **GC)]
    for i, (role, members) in enumerate(bindings):
        out.append(PolicyRule(id=f"{policy_id}#{i}", policy_id=policy_id, policy=name, path=path,
                              capabilities=[role], principals=members, wildcard=path.endswith("*"), **GC))
    return out


def secret_iam(sid: str, bindings: list[tuple[str, list[str]]]) -> list:
    path = f"projects/{PROJECT}/secrets/{sid}"
    return iam(f"gcp:gcp-main:{path}/iam", path, path, bindings, "gcp_secret_iam")


def project_iam(bindings: list[tuple[str, list[str]]]) -> list:
    return iam(f"gcp:gcp-main:projects/{PROJECT}/iam", f"projects/{PROJECT}", f"projects/{PROJECT}/*", bindings,
               "gcp_project_iam")


def project(parents: list[str] | None = None) -> Server:
    """The project record: ``parents`` are the folders / organization above it (None: not read)."""
    return Server(id=f"gcp-project:{PROJECT}", address=PROJECT, product="gcp-project", namespace=NUMBER,
                  parents=[] if parents is None else parents, **GC)


def org_iam(bindings: list[tuple[str, list[str]]]) -> list:
    return iam("gcp:gcp-main:organizations/777/iam", "organizations/777", "organizations/777/*", bindings,
               "gcp_organization_iam")


def gkey(**kw) -> Key:
    base = dict(kind="gcp_kms", name="secrets-key", region="global", account=PROJECT, arn=KEY, manager="CUSTOMER",
                state="ENABLED", usage="ENCRYPT_DECRYPT", created_at=ago(300), last_rotated_at=ago(20),
                rotation_enabled=True, rotation_period_days=90, protection_level="HSM",
                aliases=["prod-ring/secrets-key"])
    base.update(kw)
    return Key(id=f"gcp:gcp-main:{KEY}", **GC, **base)


ACCESSOR = "roles/secretmanager.secretAccessor"
APP_SA = f"serviceAccount:payments-api@{PROJECT}.iam.gserviceaccount.com"
SERVICE_AGENT = f"serviceAccount:service-{NUMBER}@gcp-sa-secretmanager.iam.gserviceaccount.com"
COMPUTE_SA = f"serviceAccount:{NUMBER}-compute@developer.gserviceaccount.com"
APPSPOT_SA = f"serviceAccount:{PROJECT}@appspot.gserviceaccount.com"

# Clean look-alikes: named identities, a team group whose name merely contains "all", a whole
# domain holding only a metadata role, a service agent (Google's, not a default workload account).
CLEAN_PROJECT = project_iam([("roles/secretmanager.viewer", ["domain:acme.test", "allAuthenticatedUsers"]),
                             ("roles/owner", ["user:cto@acme.test"]),
                             ("roles/secretmanager.admin", [SERVICE_AGENT])])
CLEAN_ORG = [project(["organizations/777"]), *org_iam([("roles/secretmanager.viewer", ["domain:acme.test"])])]
CLEAN_SECRET = secret_iam("prod-api-key", [(ACCESSOR, [APP_SA, "group:allocation-team@acme.test",
                                                        "group:payments-team@acme.test"])])

CASES = {
    "GSM001": ([gsecret("prod-api-key"),
                gsecret("no-rotation-legacy"),  # rotates, whatever its name says
                gsecret("preview-env-api-key", rotation_interval_days=None, rotation_topics=[],
                        rotation_enabled=False, created_at=ago(0.5), default_ttl=7 * 86_400,
                        expires_at=ago(-6.5))],  # expires within its type's period: no schedule needed
               [gsecret("prod-api-key", rotation_interval_days=None, rotation_topics=[], rotation_enabled=False,
                        tags={"owner": "payments-team", "rotation": "90d"}),  # a label is not a schedule
                gsecret("period-without-topic", rotation_topics=[], rotation_enabled=False),
                gsecret("long-lived-api-key", rotation_interval_days=None, rotation_topics=[],  # expires, but late
                        rotation_enabled=False, default_ttl=400 * 86_400, expires_at=ago(-300))]),
    "GSM002": ([gsecret("prod-api-key"), *CLEAN_SECRET, *CLEAN_PROJECT, *CLEAN_ORG],
               [gsecret("prod-api-key"), *secret_iam("prod-api-key", [(ACCESSOR, ["allUsers", APP_SA])]),
                gsecret("prod-db-password"), *secret_iam("prod-db-password", [(ACCESSOR, [APP_SA])]),
                *project_iam([("roles/editor", ["group:all-staff@acme.test"]),
                              (ACCESSOR, ["domain:acme.test"])]),
                project(["organizations/777"]),
                *org_iam([(ACCESSOR, ["principalSet://iam.googleapis.com/locations/global/workforcePools/staff/*"])])]),
    "GSM003": ([gsecret("prod-api-key"), *CLEAN_SECRET, *CLEAN_PROJECT, project()],
               [gsecret("prod-api-key"), *secret_iam("prod-api-key", [(ACCESSOR, [APP_SA])]), project(),
                *project_iam([("roles/editor", [COMPUTE_SA]), (ACCESSOR, [APPSPOT_SA])])]),
    "GSM004": ([gsecret("prod-api-key", enabled_versions=2, versions_by_state={"ENABLED": 2, "DISABLED": 6})],
               [gsecret("prod-api-key", enabled_versions=5, versions_by_state={"ENABLED": 5})]),
    "GSM005": ([gsecret("prod-db-password"),
                gsecret("feature-token", customer_managed_key=False, kms_key_ids=[], kms_key_id=None,
                        tags={"owner": "web-team", "env": "dev"})],  # internal: not judged
               [gsecret("pci-card-token", customer_managed_key=False, kms_key_ids=[], kms_key_id=None),
                gsecret("prod-payments-api-key", replication="user_managed", replica_regions=["us-east1", "us-west1"],
                        kms_key_ids=[KEY], customer_managed_key=False)]),
    "GSM006": ([gkey()], [gkey(rotation_period_days=None, rotation_enabled=False)]),
}
