"""A fictional client's AWS estate ("Northwind Payments"), seeded into moto.

`seed` builds the estate the tests and ``posture demo`` collect: two regions,
good and bad items across prod/staging/dev, with the caller's CANARIES as the
only secret values. `seed_bulk` builds a large, flat estate for the benchmark.

Back-dating: moto stamps creation, rotation and key times with its own clock.
``ThreadedMotoServer`` (and ``mock_aws``) run moto inside this process, so
``freezegun.freeze_time`` moves moto's clock as well as ours while an item is
created; that is how secrets, keys, access keys and users get their ages.
What works that way: Secrets Manager CreatedDate / LastChangedDate /
LastRotatedDate (rotate_secret under the frozen clock), KMS CreationDate, IAM
user and access-key CreateDate, role CreateDate, SSM LastModifiedDate.
What does not: "last used" times (moto only stamps those when it enforces IAM
auth, so keys here are "never used"); and against an out-of-process moto or
LocalStack nothing is back-dated (pass ``backdate=False``; ages are then 0).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"  # moto's default account
REGIONS = ("us-east-1", "eu-west-1")
BUCKET = "northwind-cloudtrail-logs"


@dataclass
class AwsEstate:
    """What was seeded: names the tests assert on, and the planted values."""

    account: str
    regions: tuple[str, ...]
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> facts
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # alias -> facts (+ "arn")
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)
    env_findings: dict[str, str] = field(default_factory=dict)  # location#env:NAME -> value
    trails: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)


def _clients(endpoint_url: str | None, region: str) -> Any:
    cfg = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32)

    class _C:
        def __getattr__(self, service: str) -> Any:
            c = boto3.client(service, region_name=region, endpoint_url=endpoint_url, config=cfg)
            setattr(self, service, c)
            return c

    return _C()


@contextmanager
def _at(when: datetime | None) -> Iterator[None]:
    """Run with moto's (in-process) clock at ``when``; a no-op when ``when`` is None."""
    if when is None:
        yield
        return
    from freezegun import freeze_time

    with freeze_time(when, tick=True):
        yield


def _self_signed(domain: str, not_before: datetime, not_after: datetime) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                          serialization.NoEncryption()),
    )


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return {'ok': True}\n")
    return buf.getvalue()


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def seed(
    endpoint_url: str | None,
    canaries: Sequence[str],
    *,
    regions: Sequence[str] = REGIONS,
    now: datetime | None = None,
    backdate: bool = True,
) -> AwsEstate:
    """Seed the Northwind estate. Secret values are taken, cycling, from ``canaries``."""
    now = now or datetime.now(UTC)
    r1, r2 = regions[0], regions[1] if len(regions) > 1 else regions[0]
    est = AwsEstate(account=ACCOUNT, regions=tuple(regions))
    pool = list(canaries)
    counter = [0]

    def value() -> str:
        v = pool[counter[0] % len(pool)]
        counter[0] += 1
        est.values.append(v)
        return v

    def ago(days: float) -> datetime | None:
        return now - timedelta(days=days) if backdate else None

    c1, c2 = _clients(endpoint_url, r1), _clients(endpoint_url, r2)

    # --- KMS ----------------------------------------------------------------------
    def key(c: Any, region: str, alias: str, days: int, rotation: int | None, **kw: Any) -> str:
        with _at(ago(days)):
            k = c.kms.create_key(Description=f"Northwind {alias}", Tags=[
                {"TagKey": "env", "TagValue": alias.split("-")[0]}], **kw)["KeyMetadata"]
        c.kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=k["KeyId"])
        if rotation:
            c.kms.enable_key_rotation(KeyId=k["KeyId"], RotationPeriodInDays=rotation)
        est.keys[alias] = {"arn": k["Arn"], "region": region, "rotation": bool(rotation),
                           "period": rotation, "age_days": days, "spec": kw.get("KeySpec", "SYMMETRIC_DEFAULT")}
        return k["Arn"]

    prod_key = key(c1, r1, "prod-payments", 500, 180)
    key(c1, r1, "legacy-data", 700, None)
    key(c1, r1, "staging-app", 60, None)
    key(c1, r1, "prod-signing", 200, None, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
    eu_key = key(c2, r2, "prod-eu-data", 90, 365) if r2 != r1 else prod_key

    # --- Secrets Manager -----------------------------------------------------------
    def secret(c: Any, region: str, name: str, days: int, *, env: str, stype: str,
               rotate_days: int | None = None, rotated_days_ago: int | None = None,
               kms: str | None = None, policy: str | None = None, replica: str | None = None,
               delete: bool = False) -> None:
        kw: dict[str, Any] = {"Name": name, "SecretString": value(),
                              "Tags": [{"Key": "env", "Value": env}, {"Key": "secret_type", "Value": stype},
                                       {"Key": "owner", "Value": name.split("/")[1]}]}
        if kms:
            kw["KmsKeyId"] = kms
        if replica:
            kw["AddReplicaRegions"] = [{"Region": replica}]
        with _at(ago(days)):
            arn = c.secretsmanager.create_secret(**kw)["ARN"]
        if rotate_days:
            with _at(ago(rotated_days_ago if rotated_days_ago is not None else days)):
                c.secretsmanager.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": rotate_days},
                                               RotateImmediately=False)
        if policy:
            c.secretsmanager.put_resource_policy(SecretId=arn, ResourcePolicy=policy)
        if delete:
            c.secretsmanager.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
        est.secrets[name] = {"arn": arn, "region": region, "env": env, "age_days": days,
                             "rotation": bool(rotate_days), "rotate_days": rotate_days,
                             "rotated_days_ago": rotated_days_ago, "cmk": kms is not None,
                             "policy": policy is not None, "replica": replica, "deleted": delete}

    public_policy = _policy({"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                             "Resource": "*"})
    secret(c1, r1, "prod/payments/db-password", 400, env="prod", stype="db-password",
           rotate_days=30, rotated_days_ago=20, kms=prod_key)
    secret(c1, r1, "prod/payments/stripe-api-key", 300, env="prod", stype="api-key")
    secret(c1, r1, "prod/legacy/ftp-password", 800, env="prod", stype="db-password", policy=public_policy)
    secret(c1, r1, "prod/shared/jwt-signing-key", 45, env="prod", stype="signing-key",
           rotate_days=90, rotated_days_ago=45, replica=r2 if r2 != r1 else None)
    secret(c1, r1, "staging/orders/db-password", 120, env="staging", stype="db-password",
           rotate_days=90, rotated_days_ago=100)
    secret(c1, r1, "dev/orders/api-key", 10, env="dev", stype="api-key")
    secret(c1, r1, "dev/old/service-token", 200, env="dev", stype="token", delete=True)
    if r2 != r1:
        secret(c2, r2, "prod/eu/crm-api-token", 200, env="prod", stype="api-key", kms=eu_key)

    # --- IAM -----------------------------------------------------------------------
    iam = c1.iam

    def user(name: str, days: int, *, console: bool = False, mfa: bool = False,
             keys: Sequence[tuple[int, bool]] = (), groups: Sequence[str] = (), env: str = "prod") -> None:
        with _at(ago(days)):
            arn = iam.create_user(UserName=name, Tags=[{"Key": "env", "Value": env}])["User"]["Arn"]
        if console:
            iam.create_login_profile(UserName=name, Password="Not-a-real-pw-1!")
        if mfa:
            dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{name}-mfa")["VirtualMFADevice"]
            iam.enable_mfa_device(UserName=name, SerialNumber=dev["SerialNumber"],
                                  AuthenticationCode1="123456", AuthenticationCode2="654321")
        key_ids = []
        for key_days, active in keys:
            with _at(ago(key_days)):
                k = iam.create_access_key(UserName=name)["AccessKey"]
            if not active:
                iam.update_access_key(UserName=name, AccessKeyId=k["AccessKeyId"], Status="Inactive")
            key_ids.append({"id": k["AccessKeyId"], "age_days": key_days, "active": active})
        for g in groups:
            iam.add_user_to_group(GroupName=g, UserName=name)
        est.users[name] = {"arn": arn, "console": console, "mfa": mfa, "keys": key_ids, "groups": list(groups)}

    iam.create_group(GroupName="admins")
    try:  # moto has AWS-managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES=true
        iam.attach_group_policy(GroupName="admins", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    except iam.exceptions.NoSuchEntityException:
        admin = iam.create_policy(PolicyName="northwind-admin", PolicyDocument=_policy(
            {"Effect": "Allow", "Action": "*", "Resource": "*"}))["Policy"]["Arn"]
        iam.attach_group_policy(GroupName="admins", PolicyArn=admin)
    iam.create_group(GroupName="developers")
    iam.put_group_policy(GroupName="developers", PolicyName="dev-secrets", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": f"arn:aws:secretsmanager:{r1}:{ACCOUNT}:secret:dev/*"}))
    read_all = iam.create_policy(PolicyName="secrets-read-all", PolicyDocument=_policy(
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))["Policy"]["Arn"]

    user("alice", 600, console=True, mfa=True, groups=["admins"])
    user("bob", 500, console=True, mfa=False, groups=["admins", "developers"])
    user("ci-deployer", 420, keys=[(400, True)])
    user("backup-bot", 250, keys=[(200, False), (10, True)])
    user("old-contractor", 380, console=True, keys=[(300, True)], groups=["developers"], env="dev")
    iam.attach_user_policy(UserName="ci-deployer", PolicyArn=read_all)

    def role(name: str, days: int, trust: str, inline: str | None = None, managed: str | None = None) -> None:
        with _at(ago(days)):
            arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        if inline:
            iam.put_role_policy(RoleName=name, PolicyName=f"{name}-inline", PolicyDocument=inline)
        if managed:
            iam.attach_role_policy(RoleName=name, PolicyArn=managed)
        est.roles[name] = {"arn": arn}

    oidc = iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com", ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["6938fd4d98bab03faadb97b34396831e3780aea1"])["OpenIDConnectProviderArn"]
    est.roles["__oidc__"] = {"arn": oidc}
    role("orders-lambda", 300, _policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                        "Action": "sts:AssumeRole"}),
         inline=_policy({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                         "Resource": f"arn:aws:secretsmanager:{r1}:{ACCOUNT}:secret:prod/payments/db-password-*"}))
    role("legacy-admin", 900, _policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                       "Action": "sts:AssumeRole"}),
         inline=_policy({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    role("github-deploy", 100, _policy({
        "Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                      "StringLike": {"token.actions.githubusercontent.com:sub": "repo:northwind/payments-api:ref:refs/heads/main"}}}),
         managed=read_all)
    role("github-any-repo", 50, _policy({
        "Effect": "Allow", "Principal": {"Federated": oidc}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}),
         inline=_policy({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}))

    # --- SSM Parameter Store -----------------------------------------------------------
    def param(c: Any, region: str, name: str, ptype: str, days: int, env: str, secret_value: bool = True,
              key_id: str | None = None) -> None:
        kw: dict[str, Any] = {"Name": name, "Type": ptype,
                              "Value": value() if secret_value else "enabled",
                              "Tags": [{"Key": "env", "Value": env}]}
        if key_id:
            kw["KeyId"] = key_id
        with _at(ago(days)):
            c.ssm.put_parameter(**kw)
        est.parameters[name] = {"region": region, "type": ptype, "age_days": days, "env": env,
                                "secret": secret_value, "key": key_id}

    param(c1, r1, "/prod/payments/db-password", "SecureString", 40, "prod", key_id="alias/prod-payments")
    param(c1, r1, "/prod/payments/webhook-token", "String", 250, "prod")
    param(c1, r1, "/staging/orders/db-password", "SecureString", 150, "staging")
    param(c1, r1, "/dev/orders/feature-flags", "String", 5, "dev", secret_value=False)
    if r2 != r1:
        param(c2, r2, "/prod/eu/smtp-password", "String", 400, "prod")

    # --- ACM -----------------------------------------------------------------------
    def cert(c: Any, region: str, domain: str, expires_in: int) -> None:
        pem, key_pem = _self_signed(domain, now - timedelta(days=365 - expires_in if expires_in < 365 else 1),
                                    now + timedelta(days=expires_in))
        arn = c.acm.import_certificate(Certificate=pem, PrivateKey=key_pem,
                                       Tags=[{"Key": "env", "Value": "prod"}])["CertificateArn"]
        est.certificates[domain] = {"arn": arn, "region": region, "expires_in": expires_in, "imported": True}

    cert(c1, r1, "api.northwind.example", 20)
    cert(c1, r1, "www.northwind.example", 300)
    issued = c2.acm.request_certificate(DomainName="eu.northwind.example", ValidationMethod="DNS")["CertificateArn"]
    est.certificates["eu.northwind.example"] = {"arn": issued, "region": r2, "imported": False}

    # --- Secrets hiding in configuration ----------------------------------------------------
    fn_value, aws_key = value(), "AKIA" + "NORTHWIND0EXAMPL"[:16]
    fn = getattr(c1, "lambda")
    fn_arn = fn.create_function(
        FunctionName="orders-worker", Runtime="python3.12", Role=est.roles["orders-lambda"]["arn"],
        Handler="handler.handler", Code={"ZipFile": _zip()},
        Environment={"Variables": {
            "DB_PASSWORD": fn_value, "LOG_LEVEL": "info",
            "DB_SECRET_ARN": est.secrets["prod/payments/db-password"]["arn"],
            "LEGACY_AWS_ACCESS_KEY_ID": aws_key,
        }},
    )["FunctionArn"]
    est.env_findings[f"{fn_arn}#env:DB_PASSWORD"] = fn_value
    est.env_findings[f"{fn_arn}#env:LEGACY_AWS_ACCESS_KEY_ID"] = aws_key
    td_value = value()
    td = c1.ecs.register_task_definition(
        family="payments-api",
        containerDefinitions=[{
            "name": "api", "image": "northwind/payments-api:2026.11", "memory": 512,
            "environment": [{"name": "STRIPE_API_KEY", "value": td_value}, {"name": "PORT", "value": "8080"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": est.secrets["prod/payments/db-password"]["arn"]}],
        }],
    )["taskDefinition"]["taskDefinitionArn"]
    est.env_findings[f"{td}#container=api#env:STRIPE_API_KEY"] = td_value

    # --- CloudTrail --------------------------------------------------------------------
    c1.s3.create_bucket(Bucket=BUCKET)
    c1.s3.put_bucket_policy(Bucket=BUCKET, Policy=_policy(
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}))
    org = c1.cloudtrail.create_trail(Name="northwind-org-trail", S3BucketName=BUCKET, IsMultiRegionTrail=True,
                                     EnableLogFileValidation=True, KmsKeyId=prod_key)["TrailARN"]
    c1.cloudtrail.start_logging(Name=org)
    c1.cloudtrail.put_event_selectors(TrailName=org, EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    est.trails["northwind-org-trail"] = {"arn": org, "region": r1, "multi": True, "validation": True,
                                         "kms": True, "logging": True, "secrets_events": True}
    dbg = c2.cloudtrail.create_trail(Name="eu-debug-trail", S3BucketName=BUCKET, IsMultiRegionTrail=False,
                                     EnableLogFileValidation=False)["TrailARN"]
    c2.cloudtrail.put_event_selectors(TrailName=dbg, EventSelectors=[
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    est.trails["eu-debug-trail"] = {"arn": dbg, "region": r2, "multi": False, "validation": False,
                                    "kms": False, "logging": False, "secrets_events": False}
    return est


def seed_bulk(
    endpoint_url: str | None,
    canary: str,
    *,
    secrets: int = 2000,
    keys: int = 200,
    users: int = 500,
    parameters: int = 2000,
    regions: Sequence[str] = REGIONS,
    workers: int = 16,
) -> dict[str, int]:
    """A large flat estate for the benchmark: items spread evenly over ``regions``."""
    envs = ("prod", "staging", "dev")
    clients = {r: _clients(endpoint_url, r) for r in regions}
    for r in regions:  # create clients up front: boto3 client creation is not thread-safe
        for s in ("secretsmanager", "kms", "ssm"):
            getattr(clients[r], s)
    iam = clients[regions[0]].iam

    def mk_secret(i: int) -> None:
        c = clients[regions[i % len(regions)]]
        env = envs[i % 3]
        name = f"{env}/svc{i // 10:03d}/secret-{i:05d}"
        try:  # moto is not thread-safe: a 500 retried by botocore may have created it already
            arn = c.secretsmanager.create_secret(Name=name, SecretString=canary,
                                                 Tags=[{"Key": "env", "Value": env}])["ARN"]
        except c.secretsmanager.exceptions.ResourceExistsException:
            arn = name
        if i % 4 == 0:
            c.secretsmanager.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30},
                                           RotateImmediately=False)

    def mk_key(i: int) -> None:
        c = clients[regions[i % len(regions)]]
        k = c.kms.create_key(Description=f"bulk key {i}")["KeyMetadata"]["KeyId"]
        if i % 2 == 0:
            c.kms.enable_key_rotation(KeyId=k)

    def mk_user(i: int) -> None:
        name = f"user-{i:04d}"
        try:
            iam.create_user(UserName=name)
        except iam.exceptions.EntityAlreadyExistsException:
            pass
        if i % 2 == 0:
            iam.create_access_key(UserName=name)
        if i % 10 == 0:
            iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=_policy(
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))

    def mk_param(i: int) -> None:
        c = clients[regions[i % len(regions)]]
        env = envs[i % 3]
        c.ssm.put_parameter(Name=f"/{env}/app{i // 20:03d}/param-{i:05d}", Overwrite=True,
                            Type="SecureString" if i % 2 else "String", Value=canary)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fn, n in ((mk_secret, secrets), (mk_key, keys), (mk_user, users), (mk_param, parameters)):
            list(pool.map(fn, range(n)))
    return {"secrets": secrets, "keys": keys, "users": users, "parameters": parameters,
            "regions": len(regions)}
