"""What the client fixes between the two quarters, done for real on the live estate.

Rotate, delete, revoke, tighten: each entry of `FIXES` is one change the
second quarter's report should show as resolved. The client's admin does them
with the root token, as the seeding did.
"""

from __future__ import annotations

import os

from rich.console import Console

from posture.demo.client import DEMO_VALUES
from posture.demo.live_estate import DemoEstate, admin_call
from posture.demo.progress import run_steps
from posture.model.errors import PostureError

#: (source, what was done) for the summary and the docs; each is done for real below.
FIXES: tuple[tuple[str, str], ...] = (
    ("vault", "revoked the long-TTL admin token 'legacy-batch-job'"),
    ("vault", "removed the wildcard policy 'admin-wildcard' (path \"*\")"),
    ("vault", "tightened AppRole 'ci-legacy' to 1 h tokens and single-use 10-minute secret-ids"),
    ("vault", "deleted the unowned secret 'secret/prod/orphaned/legacy-batch-token'"),
    ("vault", "set database role 'payments-admin' to 1 h / 24 h credentials"),
    ("aws", "enabled automatic rotation on KMS key alias/legacy-data"),
    ("aws", "removed the public resource policy of 'prod/legacy/ftp-password'"),
    ("aws", "rotated the overdue 'staging/orders/db-password'"),
    ("aws", "deleted the 400-day-old access key of IAM user 'ci-deployer'"),
    ("aws", "deleted the OIDC role 'github-any-repo' (no subject condition)"),
    ("git", ("payments-api: removed the static-key CI workflows, the plain k8s Secret, "
             "the committed deploy key and .pgpass, and the token baked into the Dockerfile")),
)


def _fix_vault(estate: DemoEstate) -> None:
    seeded = estate.handles["vault"]
    accessor = getattr(seeded, "long_ttl_token_accessor", "")
    if accessor:
        admin_call(estate, "POST", "auth/token/revoke-accessor", {"accessor": accessor})
    admin_call(estate, "DELETE", "sys/policies/acl/admin-wildcard")
    admin_call(estate, "POST", "auth/approle/role/ci-legacy", {
        "token_policies": ["ci-deployer"], "token_ttl": "1h", "token_max_ttl": "4h",
        "secret_id_ttl": "10m", "secret_id_num_uses": 1,
    })
    admin_call(estate, "DELETE", "secret/metadata/prod/orphaned/legacy-batch-token")
    admin_call(estate, "POST", "database/roles/payments-admin", {
        "db_name": "payments-pg", "creation_statements": ["SELECT 1"],
        "default_ttl": "1h", "max_ttl": "24h",
    })


def _fix_aws(estate: DemoEstate) -> None:
    import boto3

    seeded = estate.handles["aws"]
    url = estate.moto.endpoint_url
    region = seeded.regions[0]
    kms = boto3.client("kms", region_name=region, endpoint_url=url)
    kms.enable_key_rotation(KeyId=seeded.keys["legacy-data"]["arn"], RotationPeriodInDays=365)
    sm = boto3.client("secretsmanager", region_name=region, endpoint_url=url)
    sm.delete_resource_policy(SecretId=seeded.secrets["prod/legacy/ftp-password"]["arn"])
    staging = seeded.secrets["staging/orders/db-password"]["arn"]
    sm.put_secret_value(SecretId=staging, SecretString=DEMO_VALUES[1])
    sm.rotate_secret(SecretId=staging, RotateImmediately=True)
    iam = boto3.client("iam", region_name=region, endpoint_url=url)
    for key in seeded.users["ci-deployer"]["keys"]:
        iam.delete_access_key(UserName="ci-deployer", AccessKeyId=key["id"])
    for name in iam.list_role_policies(RoleName="github-any-repo")["PolicyNames"]:
        iam.delete_role_policy(RoleName="github-any-repo", PolicyName=name)
    iam.delete_role(RoleName="github-any-repo")


GIT_FIX_REMOVED = (
    ".github/workflows/deploy-legacy.yml",
    ".github/workflows/azure-legacy.yml",
    "k8s/secret.yaml",
    "deploy/id_rsa",
    "deploy/.pgpass",
)


def _fix_git(estate: DemoEstate) -> None:
    """One clean-up commit on payments-api's main. History keeps the old leaks, as in life."""
    import subprocess

    repo = estate.repos["payments-api"]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(estate.dir),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Dana Okafor",
        "GIT_AUTHOR_EMAIL": "dana@northwind-payments.example",
        "GIT_COMMITTER_NAME": "Dana Okafor",
        "GIT_COMMITTER_EMAIL": "dana@northwind-payments.example",
    }

    def git(*args: str) -> None:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env, check=False)
        if proc.returncode != 0:
            raise PostureError(f"demo fix: git {args[0]} failed: {proc.stderr.decode(errors='replace')[-200:]}")

    git("rm", "-q", "--ignore-unmatch", *GIT_FIX_REMOVED)
    dockerfile = repo / "Dockerfile"
    if dockerfile.exists():
        lines = dockerfile.read_text().splitlines(keepends=True)
        dockerfile.write_text("".join(ln for ln in lines if "_TOKEN=" not in ln or "ARG" in ln))
        git("add", "Dockerfile")
    git("commit", "-q", "-m", "Remove static credentials from CI, k8s and the image")


def apply_fixes(estate: DemoEstate, console: Console) -> None:
    """Do what a client does between two reviews: rotate, delete, revoke, tighten."""
    run_steps(console, "fixing", [
        ("OpenBao", lambda: _fix_vault(estate)),
        ("AWS", lambda: _fix_aws(estate)),
        ("git", lambda: _fix_git(estate)),
    ])
    for source, what in FIXES:
        console.print(f"    [green]fixed[/] {source}: {what}", highlight=False)


