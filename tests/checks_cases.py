"""Purpose-built snapshots per check: records that make each check pass and fail.

Used by tests/test_checks_catalog.py (pass / fail / not_assessed for every
catalog entry). Every record type comes from posture/records.py; secret values
never appear (there is no field for them), canaries live only in the e2e estates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from posture.model.engagement import Attestation, Classification, Engagement, OwnerRule
from posture.model.records import (
    AccessEvent,
    AccessHour,
    AccessKey,
    AuditDevice,
    AuditLog,
    AuditSignal,
    AuthMethod,
    AuthRole,
    Certificate,
    CiConfig,
    CloudResource,
    Key,
    LoginHour,
    Mount,
    Policy,
    PolicyRule,
    Principal,
    Repository,
    Secret,
    Server,
    SourceFinding,
    Token,
    TokenIssue,
    Trail,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 20)
V = {"store": "core", "source": "vault"}
A = {"store": "main", "source": "aws"}
G = {"store": "app", "source": "git"}
ACCT = "111122223333"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def engagement(**kw) -> Engagement:
    return Engagement(
        client="acme",
        classification=Classification(owners=[OwnerRule(owner="payments-team", pager="#payments-oncall",
                                                         match=["*payments*"])]),
        **kw,
    )


# --- small builders --------------------------------------------------------------------

def vserver(**kw) -> Server:
    base = dict(product="openbao", seal_type="awskms", ha_enabled=True, storage_type="raft", raft_peers=3)
    base.update(kw)
    return Server(id="vault:core", address="https://vault.acme.test", **V, **base)


def aserver() -> Server:
    return Server(id=f"aws:main:{ACCT}", product="aws-account", **A)


def audit_dev(n: int) -> list[AuditDevice]:
    return [AuditDevice(id=f"vault:core:audit/d{i}", path=f"d{i}/", type="file", **V) for i in range(n)]


def vpolicy(name: str, rules: list[tuple[str, list[str]]]) -> list:
    pid = f"vault:core:policy/{name}"
    out: list = [Policy(id=pid, name=name, kind="vault_acl", **V)]
    for i, (path, caps) in enumerate(rules):
        out.append(PolicyRule(
            id=f"{pid}#{i}", policy_id=pid, policy=name, path=path, capabilities=caps,
            wildcard="*" in path or "+" in path, wildcard_all=path == "*", sudo="sudo" in caps,
            sys_access=path.startswith("sys/"), **V))
    return out


def token(**kw) -> Token:
    base = dict(accessor_hash="hmac256:aa", display_name="approle-payments", policies=["payments-read"],
                creation_ttl=3600, creation_time=ago(0.01), path="auth/approle/login", period=0,
                explicit_max_ttl=0)
    base.update(kw)
    return Token(id=f"vault:core:token/{base['accessor_hash']}", **V, **base)


def role(method: str, name: str = "svc", **kw) -> AuthRole:
    kw.setdefault("policies", ["payments-read"])
    return AuthRole(id=f"vault:core:auth/{method}/role/{name}", mount=f"{method}/", method=method,
                    name=name, **V, **kw)


def kv(path: str, **kw) -> Secret:
    base = dict(kind="kv2", mount="secret/", name=path.rsplit("/", 1)[-1], created_at=ago(400),
                updated_at=ago(5))
    base.update(kw)
    return Secret(id=f"vault:core:{path}", path=path, **V, **base)


def sm(name: str, **kw) -> Secret:
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:{name}-AbCdEf"
    base = dict(kind="secretsmanager", created_at=ago(400), updated_at=ago(5), last_rotated_at=ago(5),
                rotation_enabled=True, rotation_interval_days=30,
                kms_key_id=f"arn:aws:kms:us-east-1:{ACCT}:key/1234", last_accessed_at=ago(1),
                region="us-east-1", account=ACCT)
    base.update(kw)
    return Secret(id=arn, arn=arn, path=name, name=name, **A, **base)


def ssm(name: str, ptype: str) -> Secret:
    arn = f"arn:aws:ssm:us-east-1:{ACCT}:parameter{name}"
    return Secret(id=arn, arn=arn, kind="ssm_parameter", path=name, name=name.rsplit("/", 1)[-1],
                  parameter_type=ptype, updated_at=ago(5), custom_metadata={"rotation_days": "90"}, **A)


def cmk(**kw) -> Key:
    arn = f"arn:aws:kms:us-east-1:{ACCT}:key/k1"
    base = dict(kind="kms", manager="CUSTOMER", state="Enabled", spec="SYMMETRIC_DEFAULT",
                rotation_enabled=True, rotation_period_days=365, created_at=ago(30))
    base.update(kw)
    return Key(id=arn, arn=arn, name="k1", **A, **base)


def transit(**kw) -> Key:
    base = dict(kind="transit", exportable=False, created_at=ago(400), last_rotated_at=ago(10), latest_version=3)
    base.update(kw)
    return Key(id="vault:core:transit/keys/payments-prod", name="payments-prod", **V, **base)


def iam_user(name: str = "deployer", **kw) -> Principal:
    arn = f"arn:aws:iam::{ACCT}:user/{name}"
    return Principal(id=arn, arn=arn, name=name, kind="iam_user", **A, **kw)


def akey(kid: str = "AKIAEXAMPLE000001", user: str = "deployer", **kw) -> AccessKey:
    base = dict(created_at=ago(10), last_used_at=ago(1))
    base.update(kw)
    return AccessKey(id=f"arn:aws:iam::{ACCT}:user/{user}/accesskey/{kid}", principal=f"arn:aws:iam::{ACCT}:user/{user}",
                     key_id=kid, **A, **base)


def iam_policy(name: str, statements: list[tuple[list[str], str]]) -> list:
    pid = f"arn:aws:iam::{ACCT}:policy/{name}"
    out: list = [Policy(id=pid, name=name, kind="iam_managed", attached_to=f"arn:aws:iam::{ACCT}:role/app", **A)]
    for i, (actions, resource) in enumerate(statements):
        out.append(PolicyRule(id=f"{pid}#{i}", policy_id=pid, policy=name, path=resource, capabilities=actions,
                              wildcard="*" in resource, wildcard_all=resource == "*", **A))
    return out


def res_policy(principal: str) -> Policy:
    doc = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},'
           '"Action":"kms:Decrypt","Resource":"*"}]}' % principal)
    return Policy(id=f"arn:aws:kms:us-east-1:{ACCT}:key/k1#policy", name="key-policy", kind="kms_key",
                  attached_to=f"arn:aws:kms:us-east-1:{ACCT}:key/k1", document=doc, **A)


def oidc_role(conditions: dict) -> Principal:
    arn = f"arn:aws:iam::{ACCT}:role/github-deploy"
    return Principal(id=arn, arn=arn, name="github-deploy", kind="iam_role",
                     trust_principals=[f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"],
                     trust_conditions=conditions, **A)


def cert(days_left: float, validity: float = 90, source: str = "aws", **kw) -> Certificate:
    store = {"store": "main", "source": "aws"} if source == "aws" else V
    cid = f"arn:aws:acm:us-east-1:{ACCT}:certificate/c1" if source == "aws" else "vault:core:pki/cert/01"
    return Certificate(id=cid, arn=cid if source == "aws" else None, subject="CN=api.acme.test",
                       domains=["api.acme.test"], not_after=NOW + timedelta(days=days_left),
                       not_before=NOW + timedelta(days=days_left - validity), **store, **kw)


def listing(service: str = "lambda", region: str = "us-east-1") -> Mount:
    """The `Mount` a collector writes for a service it listed in a region (collectors.aws.scanning.listed)."""
    return Mount(id=f"aws:{ACCT}:{region}:{service}", path=f"{ACCT}/{region}/{service}", type=service, **A)


def env_finding(variable: str, region: str = "us-east-1", detector: str = "Secret Keyword") -> SourceFinding:
    """What collectors.aws.compute writes for a literal secret in a Lambda environment."""
    fn = f"arn:aws:lambda:{region}:{ACCT}:function:payments-api"
    return SourceFinding(id=f"{fn}#env:{variable}", repo=fn, category="config_env", detector=detector, path=fn,
                         in_tree=True, fingerprint="hmac256:e1", variable=variable,
                         refs=["lambda", f"{ACCT}/{region}"], **A)


def trail(**kw) -> Trail:
    base = dict(is_multi_region=True, is_logging=True, log_file_validation=True,
                kms_key_id=f"arn:aws:kms:us-east-1:{ACCT}:key/t", logs_management_events=True)
    base.update(kw)
    return Trail(id=f"arn:aws:cloudtrail:us-east-1:{ACCT}:trail/main", name="main", region="us-east-1", **A, **base)


def repo(**kw) -> Repository:
    base = dict(env_ignored=True, precommit_scanner=True, ci_scanner=True, commits_scanned=12,
                commits_total=12, history_scanned=True, head="abc")
    base.update(kw)
    return Repository(id="git:app", url="/srv/repos/app", **G, **base)


def finding(path: str, category: str = "secret", line: int = 3, fp: str = "hmac256:f1",
            detector: str = "AWSKeyDetector", **kw) -> SourceFinding:
    return SourceFinding(id=f"git:app:{path}:{line}@abcdef012345", repo="git:app", category=category,
                         detector=detector, path=path, line=line, commit="abcdef012345",
                         fingerprint=fp, **G, **kw)


def ci(**kw) -> CiConfig:
    return CiConfig(id="git:app:.github/workflows/deploy.yml", repo="git:app", path=".github/workflows/deploy.yml",
                    provider="github_actions", **G, **kw)


def audit_log(first_days: float = 200) -> AuditLog:
    return AuditLog(id="audit:core:/var/log/bao/audit.log", path="/var/log/bao/audit.log", format="vault_file",
                    lines=1000, first_at=ago(first_days), last_at=ago(0.1), store="core", source="audit")


def signal(kind: str) -> AuditSignal:
    return AuditSignal(id=f"audit:core:{kind}:1", signal=kind, principal="approle-payments",
                       path="secret/data/prod/payments/db", at=ago(2), count=7, store="core", source="audit")


def read(principal: str, path: str, days: float = 3, method: str = "approle", ip: str = "10.0.0.1",
         count: int = 4) -> AccessEvent:
    day = ago(days).replace(hour=0, minute=0, second=0, microsecond=0)
    return AccessEvent(id=f"audit:core:{principal}:{path}:{ip}:{day.date()}", principal=principal,
                       auth_method=method, path=path, operation="read", remote_addr=ip, day=day, count=count,
                       last_at=ago(days), store="core", source="audit")


def daily_reads(days: range, count_on: dict[int, int] | None = None) -> list[AccessEvent]:
    """One service's reads of one path, 4 a day, ``count_on[d]`` on day ``d`` ago."""
    return [read("approle-payments", "secret/data/prod/payments/db", days=d, count=(count_on or {}).get(d, 4))
            for d in days]


def human_hour(hour_utc: int, days: float = 2) -> AccessHour:
    """Alice's reads in one UTC hour, ``days`` ago (NOW is a Friday: 2 days ago is a Wednesday)."""
    hour = ago(days).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return AccessHour(id=f"audit:core:alice:{hour.isoformat()}", principal="userpass-alice",
                      auth_method="userpass", path="secret/data/prod/payments/db", operation="read",
                      remote_addr="10.0.0.5", hour=hour, count=3, store="core", source="audit")


def logins(failed: int, ip: str = "198.51.100.7") -> LoginHour:
    hour = ago(1).replace(minute=0, second=0, microsecond=0)
    return LoginHour(id=f"audit:core:{ip}:userpass:bob:{hour.isoformat()}", remote_addr=ip, mount="userpass",
                     user="bob", hour=hour, succeeded=1, failed=failed, store="core", source="audit")


def token_issued(ttl_hours: float | None, non_expiring: bool = False) -> TokenIssue:
    day = ago(2).replace(hour=0, minute=0, second=0, microsecond=0)
    return TokenIssue(id=f"audit:core:token:{ttl_hours}:{non_expiring}", principal="token", remote_addr="10.0.0.9",
                      path="auth/token/create", display_name="token-ci",
                      ttl_seconds=None if ttl_hours is None else int(ttl_hours * 3600), non_expiring=non_expiring,
                      policies=["ci"], day=day, count=1, first_at=ago(2), last_at=ago(2),
                      accessor_hmacs=["hmac-sha256:abc"], store="core", source="audit")


def attest(item: str, age_days: int = 30, value: float | None = None) -> Attestation:
    return Attestation(item=item, evidence=f"https://wiki.acme.test/{item}", owner="security-team",
                       date=AS_OF - timedelta(days=age_days), value=value)


# --- the cases: id -> (passing records, failing records) ---------------------------------

PROD_DB = "secret/prod/payments/db_password"
#: The self-service paths of OpenBao's built-in ``default`` policy (tests/test_precision_vault.py
#: reads the real one from the server).
SELF_SERVICE = [
    ("auth/token/lookup-self", ["read"]), ("auth/token/renew-self", ["update"]),
    ("auth/token/revoke-self", ["update"]), ("sys/capabilities-self", ["update"]),
    ("identity/entity/id/{{identity.entity.id}}", ["read"]), ("sys/internal/ui/resultant-acl", ["read"]),
    ("sys/leases/renew", ["update"]), ("sys/leases/lookup", ["update"]), ("sys/renew", ["update"]),
    ("cubbyhole/*", ["create", "read", "update", "delete", "list"]), ("sys/wrapping/wrap", ["update"]),
    ("sys/wrapping/lookup", ["update"]), ("sys/wrapping/unwrap", ["update"]), ("sys/tools/hash", ["update"]),
    ("sys/tools/hash/*", ["update"]), ("sys/control-group/request", ["update"]),
    ("identity/oidc/provider/+/authorize", ["read", "update"]),
]

CASES: dict[str, tuple[list, list]] = {
    "VLT001": ([vserver()], [vserver(ha_enabled=False, storage_type="inmem", raft_peers=None)]),
    "VLT002": ([vserver()], [vserver(seal_type="shamir", seal_threshold=1, seal_shares=1)]),
    "VLT003": ([vserver()], [vserver(seal_type="shamir", seal_threshold=3, seal_shares=5)]),
    "VLT004": ([vserver(), *audit_dev(1)], [vserver()]),
    "VLT005": ([vserver(), *audit_dev(2)], [vserver(), *audit_dev(1)]),
    "VLT006": (vpolicy("payments-read", [("secret/data/prod/payments/*", ["read"])]),
               vpolicy("admin", [("*", ["create", "read", "update", "delete", "list"])])),
    "VLT007": ([*vpolicy("payments-read", [("secret/data/prod/payments/*", ["read"]), ("sys/*", ["deny"])]),
                *vpolicy("self-service", SELF_SERVICE),
                *vpolicy("ops-viewer", [("sys/mounts", ["read"]), ("sys/policies/acl/*", ["read", "list"])]),
                *vpolicy("reader-fenced", [("+/*", ["read", "update"]), ("sys/*", ["deny"]),
                                           ("identity/*", ["deny"]), ("auth/*", ["deny"])])],
               [*vpolicy("ops", [("sys/policies/acl/*", ["read", "update", "sudo"])]),
                *vpolicy("platform", [("sys/*", ["create", "update"])]),
                *vpolicy("anything-two-deep", [("+/+", ["update"])])]),
    "VLT008": ([*vpolicy("payments-read", [("secret/data/prod/payments/*", ["read"])]),
                *vpolicy("payments-shared", [("secret/data/prod/payments/*", ["read"]),
                                             ("secret/data/shared/*", ["read"]), ("secret/data/common/*", ["read"])]),
                *vpolicy("all-but-prod", [("secret/data/*", ["read"]), ("secret/data/prod/*", ["deny"])]),
                *vpolicy("lists-everything", [("secret/metadata/*", ["list"]), ("secret/data/dev/*", ["read"])]),
                kv(PROD_DB), kv("secret/dev/payments/db_password"), kv("secret/shared/ca-bundle"),
                kv("secret/common/feature-key")],
               [*vpolicy("payments-all", [("secret/data/prod/payments/*", ["read"]),
                                          ("secret/data/dev/payments/*", ["read"])]),
                *vpolicy("engine-wide", [("secret/data/*", ["read"])]),
                kv(PROD_DB), kv("secret/dev/payments/db_password"), kv("secret/shared/ca-bundle")]),
    "VLT009": ([token()], [token(accessor_hash="hmac256:root", root=True, policies=["root"], creation_ttl=0)]),
    "VLT010": ([token(), token(accessor_hash="hmac256:pb", period=86400, explicit_max_ttl=7 * 86400, creation_ttl=86400),
                role("token", "ci-bounded", period=86400, token_explicit_max_ttl=7 * 86400),
                token(accessor_hash="hmac256:rb", role="ci-bounded", creation_ttl=86400,
                      path="auth/token/create/ci-bounded"),
                role("approle", "not-periodic", period=0, token_explicit_max_ttl=0)],
               [token(creation_ttl=0), token(accessor_hash="hmac256:pf", period=3600, creation_ttl=3600),
                role("token", "ci-forever", period=86400, token_explicit_max_ttl=0),
                token(accessor_hash="hmac256:rf", role="ci-forever", creation_ttl=86400,
                      path="auth/token/create/ci-forever")]),
    "VLT011": ([role("approle", token_ttl=3600, token_max_ttl=14400, secret_id_ttl=600, secret_id_num_uses=1,
                     bind_secret_id=True)],
               [role("approle", token_ttl=86400, token_max_ttl=0, secret_id_ttl=0, secret_id_num_uses=0)]),
    "VLT012": ([role("oidc", "engineering", token_ttl=8 * 3600)], [role("oidc", "engineering", token_ttl=0)]),
    "VLT013": ([role("kubernetes", bound_service_account_names=["api"], bound_service_account_namespaces=["prod"],
                     token_ttl=3600)],
               [role("kubernetes", bound_service_account_names=["*"], bound_service_account_namespaces=["*"],
                     token_ttl=3600)]),
    "VLT014": ([role("jwt", "github-ci", bound_audiences=["https://vault.acme.test"],
                     bound_claims={"repository": "acme/payments"})],
               [role("jwt", "github-ci")]),
    "VLT015": ([AuthMethod(id="vault:core:auth/approle/", path="approle/", type="approle", max_lease_ttl=86400, **V)],
               [AuthMethod(id="vault:core:auth/approle/", path="approle/", type="approle", max_lease_ttl=0, **V)]),
    "VLT016": ([Mount(id="vault:core:mount/secret/", path="secret/", type="kv", kv_version=2, **V)],
               [Mount(id="vault:core:mount/secret/", path="secret/", type="kv", kv_version=1, **V)]),
    "VLT017": ([Mount(id="vault:core:mount/database/", path="database/", type="database",
                      default_lease_ttl=3600, max_lease_ttl=86400, **V)],
               [Mount(id="vault:core:mount/database/", path="database/", type="database",
                      default_lease_ttl=0, max_lease_ttl=0, **V)]),
    "VLT018": ([Mount(id="vault:core:mount/ssh/", path="ssh/", type="ssh", max_lease_ttl=8 * 3600, **V)],
               [Mount(id="vault:core:mount/ssh/", path="ssh/", type="ssh", max_lease_ttl=0, **V)]),
    "VLT019": ([transit()], [transit(exportable=True)]),
    "VLT020": ([vserver(), kv(PROD_DB)], [vserver(), kv(PROD_DB), kv("secret/dev/payments/db_password")]),
    "AWS001": ([sm("prod/payments/db_password")], [sm("prod/payments/db_password", rotation_enabled=False)]),
    "AWS002": ([sm("prod/payments/db_password")], [sm("prod/payments/db_password", rotation_interval_days=90)]),
    "AWS003": ([sm("prod/payments/api_key")], [sm("prod/payments/api_key", kms_key_id=None)]),
    "AWS004": ([sm("prod/payments/api_key")], [sm("prod/payments/api_key", last_accessed_at=ago(200))]),
    "AWS005": ([res_policy(f"arn:aws:iam::{ACCT}:root")], [res_policy("*")]),
    "AWS006": ([cmk()], [cmk(rotation_enabled=False)]),
    "AWS007": ([cmk()], [cmk(state="PendingDeletion")]),
    "AWS008": ([akey()], [akey(created_at=ago(200))]),
    "AWS009": ([akey()], [akey(created_at=ago(200), last_used_at=ago(100))]),
    "AWS010": ([akey()], [AccessKey(id=f"arn:aws:iam::{ACCT}:root/accesskey/AKIAROOT", principal=f"arn:aws:iam::{ACCT}:root",
                                    key_id="AKIAROOT", is_root=True, created_at=ago(5), **A)]),
    "AWS011": ([iam_user(), akey()], [iam_user(), akey(), akey("AKIAEXAMPLE000002")]),
    "AWS012": ([iam_user(password_enabled=True, mfa_active=True)], [iam_user(password_enabled=True, mfa_active=False)]),
    "AWS013": (iam_policy("app", [(["s3:GetObject"], "arn:aws:s3:::acme-app/*")]), iam_policy("admin", [(["*"], "*")])),
    "AWS014": (iam_policy("app", [(["secretsmanager:GetSecretValue"],
                                   f"arn:aws:secretsmanager:us-east-1:{ACCT}:secret:prod/payments/*")]),
               iam_policy("app", [(["secretsmanager:GetSecretValue"], "*")])),
    "AWS015": ([oidc_role({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:ref:refs/heads/main"},
                           "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}})],
               [oidc_role({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}})]),
    "AWS016": ([ssm("/prod/payments/api_key", "SecureString")], [ssm("/prod/payments/api_key", "String")]),
    "AWS017": ([cert(200, key_algorithm="RSA_2048")], [cert(200, key_algorithm="RSA_1024")]),
    "AWS018": ([aserver(), trail()], [aserver()]),
    "AWS019": ([trail()], [trail(log_file_validation=False)]),
    "INV001": ([kv(PROD_DB, custom_metadata={"owner": "payments-team"})], [kv("secret/prod/billing/api_key")]),
    "INV002": ([kv(PROD_DB)], [kv("secret/prod/billing/api_key", custom_metadata={"owner": "billing"})]),
    "INV003": ([kv(PROD_DB)], [kv("secret/misc/api_key")]),
    "LCY001": ([kv(PROD_DB)], [kv(PROD_DB, updated_at=ago(100))]),
    "LCY002": ([kv(PROD_DB, custom_metadata={"rotation_days": "30"})], [kv(PROD_DB)]),
    "LCY003": ([cert(200)], [cert(10)]),
    "LCY004": ([cert(60, validity=90, source="vault")], [cert(60, validity=365, source="vault")]),
    "LCY005": ([transit()], [transit(last_rotated_at=ago(200))]),
    "LCY006": ([token()], [token(creation_ttl=7 * 86400)]),
    "LCY007": ([Secret(id="vault:core:database/roles/payments-prod", kind="database_role",
                       path="database/creds/payments-prod", name="payments-prod-db", default_ttl=3600,
                       max_ttl=86400, **V)],
               [kv(PROD_DB)]),
    "LCY008": ([transit()], [kv("secret/prod/payments/jwt_signing_key")]),
    "LCY009": ([cert(3000, validity=3650, source="vault", is_ca=True, key_algorithm="rsa-4096")],
               [cert(100, validity=3650, source="vault", is_ca=True, key_algorithm="rsa-4096")]),
    # the look-alikes: an expired but disabled secret is out of scope; a future expiry passes
    "LCY010": ([kv("secret/prod/app/api-key", expires_at=ago(-30)),
                kv("secret/prod/app/old-api-key", expires_at=ago(10), enabled=False)],
               [kv("secret/prod/app/api-key", expires_at=ago(10))]),
    "AWS020": ([aserver(), listing("lambda")], [aserver(), listing("lambda"), env_finding("DB_PASSWORD")]),
    "SRC001": ([repo()], [repo(), finding("src/config.py")]),
    "SRC002": ([repo()], [repo(), finding("src/old.py", in_tree=False, in_history_only=True)]),
    "SRC003": ([repo(), finding(".env", category="file", detector="env-file")],  # configuration only
               [repo(), finding(".env", category="file", detector="env-file"), finding(".env", line=2)]),
    "SRC004": ([repo()], [repo(env_ignored=False)]),
    "SRC009": ([repo(), finding("deploy/.env.example", category="file", detector="env-example-real-values")],
               [repo(), finding("keys/id_rsa", category="file", detector="private-key-file")]),
    "SRC005": ([repo()], [repo(precommit_scanner=False, ci_scanner=False)]),
    "SRC006": ([repo()], [repo(), finding("Dockerfile", category="dockerfile")]),
    "SRC007": ([finding("config/prod.env", fp="hmac256:a"), finding("config/dev.env", fp="hmac256:b")],
               [finding("config/prod.env", fp="hmac256:a"), finding("config/dev.env", fp="hmac256:a")]),
    "SRC008": ([repo()], [repo(), finding("logs/app.log")]),
    "SRC010": ([repo(), finding("src/config.py")],
               [repo(), finding("tests/fixtures/keys.py", context="test_fixture")]),
    "SRC011": ([repo(), finding("tests/fixtures/shadow", category="hash", detector="password-hash",
                                context="test_fixture")],
               [repo(), finding("etc/shadow", category="hash", detector="password-hash")]),
    "CI001": ([ci(uses_oidc=True)], [ci(static_cloud_credentials=["aws-access-key-id"])]),
    "CI002": ([ci()], [ci(secrets_inherit=True)]),
    "CI003": ([ci()], [ci(secrets_echoed=True)]),
    "CI004": ([ci(secret_refs=["SLACK_WEBHOOK_NAME"])], [ci(secret_refs=["PROD_DB_PASSWORD"])]),
    "AUD011": ([kv(PROD_DB), audit_log(200), read("approle-payments", "secret/data/prod/payments/db_password")],
               [kv(PROD_DB), audit_log(200)]),
    "AUD012": ([kv(PROD_DB), audit_log(), read("approle-payments", "secret/data/prod/payments/db_password"),
                read("approle-billing", "secret/data/prod/payments/db_password")
                .model_copy(update={"errors": 4, "denied": 4})],  # a refused read is not a consumer
               [kv(PROD_DB), audit_log(), read("approle-payments", "secret/data/prod/payments/db_password"),
                read("approle-billing", "secret/data/prod/payments/db_password")]),
    "AUD013": ([audit_log(), read("alice", "secret/data/dev/x", method="userpass")],
               [audit_log(), *[read("ops", "secret/data/dev/x", method="userpass", ip=f"10.0.0.{i}") for i in range(5)]]),
    "AUD014": ([audit_log()], [AuditLog(id="audit:core:/var/log/bao/audit.log", path="/var/log/bao/audit.log",
                                        format="vault_file", lines=1000, malformed=3, store="core", source="audit")]),
}

# AUD001-AUD010: a covered store without the signal passes; with it, fails. The judged ones
# (AUD001-003, 005, 006) fail on measures past the default threshold, not on a written signal.
CASES.update({
    "AUD001": ([vserver(), audit_log(), read("approle-payments", "secret/data/prod/payments/db", days=30),
                read("approle-payments", "secret/data/prod/payments/db", days=2)],
               [vserver(), audit_log(), read("approle-payments", "secret/data/prod/payments/db", days=30),
                read("approle-payments", "secret/data/prod/payments/db", days=2, ip="203.0.113.9")]),
    "AUD002": ([vserver(), audit_log(), *daily_reads(range(12, 1, -1))],
               [vserver(), audit_log(), *daily_reads(range(12, 1, -1), {2: 40})]),
    "AUD003": ([vserver(), audit_log(), human_hour(10)], [vserver(), audit_log(), human_hour(3)]),
    "AUD004": ([vserver(), audit_log()], [vserver(), audit_log(), signal("denied")]),
    "AUD005": ([vserver(), audit_log(), logins(failed=2)], [vserver(), audit_log(), logins(failed=8)]),
    "AUD006": ([vserver(), audit_log(), token_issued(1)], [vserver(), audit_log(), token_issued(2000)]),
    "AUD007": ([vserver(), audit_log()], [vserver(), audit_log(), signal("root_token_use")]),
    "AUD008": ([vserver(), audit_log()], [vserver(), audit_log(), signal("policy_change")]),
    "AUD009": ([vserver(), audit_log()], [vserver(), audit_log(), signal("auth_change")]),
    "AUD010": ([vserver(), audit_log(), kv("secret/prod/payments/db", current_version=3),
                signal("kv_version_read").model_copy(update={"detail": {"versions": {"3": 7}}})],
               [vserver(), audit_log(), signal("stale_version_read")]),
})


# --- AWS: definitions, published outputs and the account (issue 14) ---------------------------------

def account_server() -> Server:
    """The AWS account record the collector writes (``aws-account:<id>``, its id as address)."""
    return Server(id=f"aws-account:{ACCT}", address=ACCT, product="aws-account", **A)


def definition_finding(place: str, resource: str, where: str, variable: str = "DB_PASSWORD",
                       category: str = "config_definition") -> SourceFinding:
    """What collectors.aws.scanning writes for a literal secret in a definition (``where`` in ``resource``)."""
    return SourceFinding(id=f"{resource}{where}:{variable}", repo=resource, category=category,
                         detector="Secret Keyword", path=f"{resource}{where}", in_tree=True, fingerprint="hmac256:d1",
                         variable=variable, refs=[place, f"{ACCT}/us-east-1"], **A)


def cloud_resource(kind: str, name: str, arn: str, **kw) -> CloudResource:
    return CloudResource(id=arn, kind=kind, name=name, arn=arn, account=ACCT, region="us-east-1", **A, **kw)


def root(**kw) -> Principal:
    arn = f"arn:aws:iam::{ACCT}:root"
    base = dict(mfa_active=True, mfa_virtual=False, read_from="credential_report", last_used_at=ago(200))
    base.update(kw)
    return Principal(id=arn, arn=arn, name="<root_account>", kind="root", account=ACCT, **A, **base)


def password_policy(**settings) -> Policy:
    import json

    good = {"MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 90, "ExpirePasswords": True}
    return Policy(id=f"arn:aws:iam::{ACCT}:account-password-policy", name="account password policy",
                  kind="password_policy", attached_to=f"aws-account:{ACCT}",
                  document=json.dumps({**good, **settings}), **A)


def server_certificate(days_left: float) -> Certificate:
    arn = f"arn:aws:iam::{ACCT}:server-certificate/legacy-tls"
    return Certificate(id=arn, arn=arn, subject="CN=legacy-tls.acme.test", domains=["legacy-tls"],
                       not_after=NOW + timedelta(days=days_left), type="IAM_SERVER_CERTIFICATE", **A)


_EC2 = f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-0abc"
_CB = f"arn:aws:codebuild:us-east-1:{ACCT}:project/build"
_GLUE = f"arn:aws:glue:us-east-1:{ACCT}:job/etl"
_STACK = f"arn:aws:cloudformation:us-east-1:{ACCT}:stack/orders/1"
_DOC = f"arn:aws:ssm:us-east-1:{ACCT}:document/deploy"
_FN = f"arn:aws:lambda:us-east-1:{ACCT}:function:orders"
_CMK = f"arn:aws:kms:us-east-1:{ACCT}:key/k1"
CASES.update({
    "AWS021": ([listing("ec2")], [listing("ec2"), definition_finding("ec2_user_data", _EC2, "#userData")]),
    "AWS022": ([listing("codebuild")], [listing("codebuild"), definition_finding("codebuild_env", _CB, "#env")]),
    "AWS023": ([listing("codebuild")], [listing("codebuild"), definition_finding(
        "codebuild_source", _CB, "#source=primary", "location")]),
    "AWS024": ([listing("glue"), listing("sagemaker")], [listing("glue"), listing("sagemaker"), definition_finding(
        "glue_job", _GLUE, "#arguments", "--db_password")]),
    "AWS025": ([listing("cloudformation")], [listing("cloudformation"), definition_finding(
        "cloudformation_output", _STACK, "#outputs", "AdminPassword", "published_output")]),
    "AWS026": ([listing("ssm-documents")], [listing("ssm-documents"), definition_finding(
        "ssm_document", _DOC, "#content", "API_TOKEN", "published_output")]),
    "AWS027": ([cloud_resource("ssm_document", "deploy", _DOC, shared_with=["444455556666"])],
               [cloud_resource("ssm_document", "deploy", _DOC, shared_with=["all"])]),
    "AWS028": ([cloud_resource("lambda_function", "orders", _FN, has_environment=True, kms_key_id=_CMK),
                cloud_resource("lambda_function", "no-env", _FN + "-2", has_environment=False)],
               [cloud_resource("lambda_function", "orders", _FN, has_environment=True)]),
    "AWS029": ([account_server(), root()], [account_server(), root(mfa_active=False, mfa_virtual=None)]),
    "AWS030": ([account_server(), root()], [account_server(), root(mfa_virtual=True)]),
    "AWS031": ([account_server(), root()], [account_server(), root(last_used_at=ago(3))]),
    "AWS032": ([account_server(), password_policy()], [account_server(), password_policy(MinimumPasswordLength=8)]),
    "AWS033": ([account_server(), password_policy()], [account_server(), password_policy(PasswordReusePrevention=5)]),
    "AWS034": ([account_server(), password_policy()], [account_server(), password_policy(MaxPasswordAge=0,
                                                                                          ExpirePasswords=False)]),
    "AWS035": ([iam_user(groups=["operators"])],
               [iam_user(policies=[f"arn:aws:iam::{ACCT}:user/deployer/inline/direct"])]),
    "AWS036": ([server_certificate(120)], [server_certificate(-30)]),
    "AWS037": ([cloud_resource("access_analyzer", "account", f"arn:aws:access-analyzer:us-east-1:{ACCT}:analyzers",
                               enabled=True)],
               [cloud_resource("access_analyzer", "no analyzer in us-east-1",
                               f"arn:aws:access-analyzer:us-east-1:{ACCT}:analyzers", enabled=False)]),
    "AWS038": ([cloud_resource("eks_cluster", "prod", f"arn:aws:eks:us-east-1:{ACCT}:cluster/prod", encrypted=True,
                               kms_key_id=_CMK)],
               [cloud_resource("eks_cluster", "prod", f"arn:aws:eks:us-east-1:{ACCT}:cluster/prod", encrypted=False)]),
})


def _more_cases() -> None:
    """Cases of other stores live beside this file as ``checks_cases_<store>.py``, each with a CASES dict."""
    import importlib
    from pathlib import Path

    for f in sorted(Path(__file__).parent.glob("checks_cases_*.py")):
        more = importlib.import_module(f.stem).CASES
        assert not set(more) & set(CASES), f"{f.name} repeats cases of {sorted(set(more) & set(CASES))}"
        CASES.update(more)


_more_cases()
