"""The git estate of "Acme Payments": two repositories with planted leaks, and a bulk generator.

``payments-api`` is the messy one: secrets committed and later deleted, a
``.env`` committed then removed, a private key and a keystore, a Dockerfile
that bakes a token, compose and Helm literals, a plain Kubernetes Secret next
to a SealedSecret, an ExternalSecret and a SOPS file, a legacy GitHub Actions
workflow with static AWS keys beside an OIDC one, a GitLab pipeline, feature
and release branches, merges, a tag and binary files.

``ledger-service`` is the well-kept one: everything done right, so it must
produce no source finding at all.

Every secret value is either one of the caller's canaries or a credential
*format* built at runtime from a hash (AWS key id, GitHub token, npm token,
PEM private key), so no real-looking credential sits in this source file and
push protection has nothing to match. Repositories are written with
``git fast-import``: deterministic (fixed authors and dates) and fast.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from posture.model.errors import PostureError

AUTHORS = (
    ("Dana Okafor", "dana@acme-payments.example"),
    ("Lee Marsh", "lee@acme-payments.example"),
    ("Priya Raman", "priya@acme-payments.example"),
)
EPOCH = 1735725600  # 2025-01-01 10:00 UTC
DAY = 86400


def _derive(seed: str, alphabet: str, n: int) -> str:
    """Deterministic pseudo-random string over ``alphabet`` from ``seed``."""
    out, counter = [], 0
    while len(out) < n:
        digest = hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in digest)
        counter += 1
    return "".join(out[:n])


UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64ISH = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def fake_aws_key_id(seed: str) -> str:
    return "AK" + "IA" + _derive(seed + "aki", UPPER_DIGITS, 16)


def fake_aws_secret(seed: str) -> str:
    return _derive(seed + "sak", B64ISH, 40)


def fake_github_token(seed: str) -> str:
    return "gh" + "p_" + _derive(seed + "ghp", ALNUM, 36)


def fake_npm_token(seed: str) -> str:
    return "np" + "m_" + _derive(seed + "npm", ALNUM, 36)


def fake_private_key(seed: str) -> str:
    body = base64.b64encode(hashlib.sha512(seed.encode()).digest() * 12).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    kind = "RSA " + "PRIVATE KEY"
    return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----", ""])


def fake_certificate(seed: str) -> str:
    body = base64.b64encode(hashlib.sha512(seed.encode()).digest() * 8).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])


def _binary(seed: str, n: int) -> bytes:
    data = b"\x89PNG\r\n\x1a\n\x00\x00"
    while len(data) < n:
        data += hashlib.sha256(seed.encode() + data[-32:]).digest()
    return data[:n]


# --- fast-import writer ----------------------------------------------------------------


class FastImport:
    """Builds a fast-import stream: commits with inline files, deletions, merges, tags."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0
        self.tips: dict[str, int] = {}
        self.clock = EPOCH

    def commit(
        self,
        branch: str,
        message: str,
        files: dict[str, str | bytes | None],
        *,
        days: float = 1.0,
        author: int = 0,
        merge: str | None = None,
        start_from: str | None = None,
    ) -> int:
        self.clock += int(days * DAY)
        self.mark += 1
        name, email = AUTHORS[author % len(AUTHORS)]
        msg = message.encode()
        out = [
            f"commit refs/heads/{branch}\nmark :{self.mark}\n".encode(),
            f"author {name} <{email}> {self.clock} +0000\n".encode(),
            f"committer {name} <{email}> {self.clock} +0000\n".encode(),
            b"data %d\n" % len(msg) + msg + b"\n",
        ]
        if branch not in self.tips and start_from:
            out.append(f"from :{self.tips[start_from]}\n".encode())
        elif branch in self.tips:
            out.append(f"from :{self.tips[branch]}\n".encode())
        if merge:
            out.append(f"merge :{self.tips[merge]}\n".encode())
        for path, content in files.items():
            if content is None:
                out.append(f"D {path}\n".encode())
                continue
            data = content.encode() if isinstance(content, str) else content
            out.append(f"M 100644 inline {path}\n".encode() + b"data %d\n" % len(data) + data + b"\n")
        self.parts.append(b"".join(out))
        self.tips[branch] = self.mark
        return self.mark

    def tag(self, name: str, branch: str) -> None:
        self.parts.append(f"reset refs/tags/{name}\nfrom :{self.tips[branch]}\n\n".encode())

    def write(self, repo: Path, checkout: str | None = "main") -> None:
        """Create ``repo`` (non-bare) from the stream; check out ``checkout`` if given."""
        repo.mkdir(parents=True, exist_ok=True)
        # no user/system config (hooks, templates, signing): the same bytes on every machine
        env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        _git(["init", "-q", "-b", "main", str(repo)], env)
        proc = subprocess.run(
            ["git", "-C", str(repo), "fast-import", "--quiet", "--done"],
            input=b"".join(self.parts) + b"done\n", capture_output=True, env=env,
        )
        if proc.returncode != 0:
            raise PostureError(f"git fast-import failed: {proc.stderr.decode(errors='replace')[-300:]}")
        if checkout:
            _git(["-C", str(repo), "symbolic-ref", "HEAD", f"refs/heads/{checkout}"], env)
            _git(["-C", str(repo), "reset", "-q", "--hard", checkout], env)


def _git(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(["git", *args], capture_output=True, env=env)
    if proc.returncode != 0:
        raise PostureError(f"git {' '.join(args[:3])} failed: {proc.stderr.decode(errors='replace')[-300:]}")


# --- the estate -----------------------------------------------------------------------------


@dataclass
class GitEstate:
    """Where the estate's repositories are and what was planted (for tests and the demo)."""

    root: Path
    payments: Path
    ledger: Path
    canaries: tuple[str, ...]
    extra_values: dict[str, str] = field(default_factory=dict)  # generated credential formats

    @property
    def all_values(self) -> tuple[str, ...]:
        return self.canaries + tuple(self.extra_values.values())


def seed_git_estate(root: Path, canaries: Sequence[str]) -> GitEstate:
    """Write both repositories under ``root`` and return where they are."""
    if len(canaries) < 3:
        raise ValueError("the git estate needs at least 3 canary values")
    c = list(canaries) + list(canaries)
    vault_c, aws_c, git_c, param_c = c[0], c[1], c[2], c[3]
    seed = hashlib.sha256("".join(canaries).encode()).hexdigest()[:16]
    extras = {
        "aws_key_id": fake_aws_key_id(seed),
        "aws_secret": fake_aws_secret(seed),
        "github_token": fake_github_token(seed),
        "npm_token": fake_npm_token(seed),
        "private_key": fake_private_key(seed),
    }
    payments = root / "payments-api"
    ledger = root / "ledger-service"
    _payments_api(git_c, vault_c, aws_c, param_c, extras, seed).write(payments)
    _ledger_service(seed).write(ledger)
    return GitEstate(root=root, payments=payments, ledger=ledger,
                     canaries=tuple(canaries), extra_values=extras)


SERVER_PY = '''"""Payments API entry point."""
import os

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/health")
def health():
    return jsonify(status="ok", version=os.environ.get("APP_VERSION", "dev"))
'''

SETTINGS_GOOD = '''import os

DB_HOST = os.environ.get("DB_HOST", "localhost")
DB_PASSWORD = os.environ["DB_PASSWORD"]
STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]
'''

DEPLOY_LEGACY = """name: deploy-legacy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
          aws-region: eu-west-1
      - name: debug
        run: |
          echo "deploying with token ${{ secrets.DEPLOY_TOKEN }}"
          ./deploy.sh
      - name: dump
        env:
          ALL_SECRETS: ${{ toJSON(secrets) }}
        run: ./scripts/render-config.sh
  gcp:
    runs-on: ubuntu-latest
    steps:
      - uses: google-github-actions/auth@v2
        with:
          credentials_json: ${{ secrets.GCP_SA_KEY }}
  notify:
    uses: acme-payments/workflows/.github/workflows/notify.yml@main
    secrets: inherit
"""

DEPLOY_OIDC = """name: deploy
on:
  push:
    branches: [main]
permissions:
  id-token: write
  contents: read
jobs:
  aws:
    runs-on: ubuntu-latest
    environment: prod
    steps:
      - uses: actions/checkout@v4
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          role-to-assume: arn:aws:iam::111122223333:role/gha-deploy-prod
          aws-region: eu-west-1
      - run: ./deploy.sh
        env:
          SLACK_WEBHOOK: ${{ secrets.SLACK_WEBHOOK }}
  gcp:
    runs-on: ubuntu-latest
    steps:
      - uses: google-github-actions/auth@v2
        with:
          workload_identity_provider: projects/123/locations/global/workloadIdentityPools/gh/providers/gh
          service_account: deploy@acme-payments.iam.gserviceaccount.com
  azure:
    runs-on: ubuntu-latest
    steps:
      - uses: azure/login@v2
        with:
          client-id: ${{ vars.AZURE_CLIENT_ID }}
          tenant-id: ${{ vars.AZURE_TENANT_ID }}
          subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}
"""

AZURE_LEGACY = """name: azure-legacy
on: workflow_dispatch
jobs:
  login:
    runs-on: ubuntu-latest
    steps:
      - uses: azure/login@v2
        with:
          creds: ${{ secrets.AZURE_CREDENTIALS }}
"""

SECRET_SCAN = """name: secret-scan
on: [pull_request]
jobs:
  gitleaks:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: gitleaks/gitleaks-action@v2
"""

GITLAB_CI = """stages: [test, deploy]
include:
  - template: Security/Secret-Detection.gitlab-ci.yml
variables:
  APP_NAME: payments-api
test:
  stage: test
  image: python:3.12
  script:
    - pip install -r requirements.txt
    - pytest
deploy-oidc:
  stage: deploy
  id_tokens:
    AWS_ID_TOKEN:
      aud: https://gitlab.acme-payments.example
  script:
    - aws sts assume-role-with-web-identity --role-arn "$ROLE_ARN" --web-identity-token "$AWS_ID_TOKEN"
deploy-legacy:
  stage: deploy
  script:
    - aws configure set aws_access_key_id "$AWS_ACCESS_KEY_ID"
    - echo "db password is $DEPLOY_PASSWORD"
"""

SEALED = """apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: payments-db
  namespace: payments
spec:
  encryptedData:
    password: AgBy8hCF2x9kQ0mZpL4vN7tRwE3sU6yH1jK5oI8uG2fD4aS7dF9gH1jK3lZ5xC7vB9nM1qW3eR5tY7uI9oP
"""

EXTERNAL = """apiVersion: external-secrets.io/v1beta1
kind: ExternalSecret
metadata:
  name: payments-stripe
spec:
  refreshInterval: 1h
  secretStoreRef:
    name: vault-backend
    kind: ClusterSecretStore
  target:
    name: payments-stripe
  data:
    - secretKey: api-key
      remoteRef:
        key: secret/prod/payments/stripe-api-key
"""

SOPS = """apiVersion: v1
kind: Secret
metadata:
  name: payments-sops
type: Opaque
data:
  password: ENC[AES256_GCM,data:p1Xz9Q==,iv:Zm9vYmFy,tag:YmF6,type:str]
sops:
  kms:
    - arn: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  mac: ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]
  version: 3.8.1
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: payments-api
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: api
          image: ghcr.io/acme-payments/payments-api:1.4.2
          envFrom:
            - secretRef:
                name: payments-db
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: payments-api
"""


def _payments_api(git_c: str, vault_c: str, aws_c: str, param_c: str, x: dict[str, str], seed: str) -> FastImport:
    fi = FastImport()
    fi.commit("main", "Initial commit", {
        "README.md": "# payments-api\n\nCard payments for Acme.\n",
        "app/__init__.py": "",
        "app/server.py": SERVER_PY,
        "requirements.txt": "flask==3.0.3\nboto3==1.35.0\n",
        ".gitignore": "__pycache__/\n*.pyc\n.venv/\n",
        "assets/logo.png": _binary(seed + "logo", 4096),
    }, author=0)
    fi.commit("main", "Add settings", {
        "app/settings.py": f'DB_HOST = "db.internal"\nDB_PASSWORD = "{git_c}"\n',
    }, author=1)
    fi.commit("main", "Local env for docker", {
        ".env": f"DB_HOST=db.internal\nDB_PASSWORD={git_c}\nSTRIPE_SECRET_KEY={param_c}\nLOG_LEVEL=debug\n",
        ".npmrc": f"//registry.npmjs.org/:_authToken={x['npm_token']}\n",
    }, author=1)
    # a feature branch with AWS keys, merged, later cleaned up
    fi.commit("feature/s3-upload", "S3 upload of receipts", {
        "app/storage.py": (
            "import boto3\n\n"
            f'AWS_ACCESS_KEY_ID = "{x["aws_key_id"]}"\n'
            f'aws_secret_access_key = "{x["aws_secret"]}"\n\n'
            "def client():\n    return boto3.client('s3', aws_access_key_id=AWS_ACCESS_KEY_ID)\n"
        ),
    }, author=2, start_from="main")
    fi.commit("feature/s3-upload", "Receipts bucket name", {
        "app/receipts.py": 'BUCKET = "acme-receipts-prod"\n',
    }, author=2, days=0.5)
    fi.commit("main", "Merge branch 'feature/s3-upload'", {}, merge="feature/s3-upload", author=0)
    fi.commit("main", "Read settings from the environment", {
        "app/settings.py": SETTINGS_GOOD,
        ".env": None,
        ".npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
        ".env.example": "DB_HOST=localhost\nDB_PASSWORD=changeme\nSTRIPE_SECRET_KEY=<your-stripe-key>\n",
    }, author=0, days=3)
    fi.commit("main", "Use instance role for S3", {
        "app/storage.py": "import boto3\n\n\ndef client():\n    return boto3.client('s3')\n",
    }, author=2)
    # hotfix branch re-adds the old password in a migration script (same secret, new path)
    fi.commit("hotfix/migrate", "One-off migration", {
        "scripts/migrate.py": (
            f'import psycopg\n\nDB_PASSWORD = "{git_c}"\n'
            'conn = psycopg.connect(host="db.internal", password=DB_PASSWORD)\n'
        ),
    }, author=1, start_from="main")
    fi.commit("main", "Merge branch 'hotfix/migrate'", {}, merge="hotfix/migrate", author=0)
    fi.commit("main", "Android release keystore", {
        "android/release.jks": _binary(seed + "jks", 2048),
    }, author=1)
    fi.commit("main", "Remove keystore", {"android/release.jks": None}, author=1)
    fi.commit("main", "Container and deploy files", {
        "Dockerfile": (
            "FROM python:3.12-slim\n"
            "ARG NPM_TOKEN\n"
            "ENV LOG_LEVEL=info\n"
            f"ENV PAYMENTS_API_TOKEN={vault_c}\n"
            "WORKDIR /app\n"
            "COPY requirements.txt .\n"
            "RUN --mount=type=secret,id=pip pip install -r requirements.txt\n"
            "COPY .env /app/.env\n"
            "COPY app/ app/\n"
            'CMD ["flask", "--app", "app.server", "run"]\n'
        ),
        "docker-compose.yml": (
            "services:\n"
            "  api:\n"
            "    build: .\n"
            "    environment:\n"
            "      LOG_LEVEL: debug\n"
            "      REDIS_PASSWORD: ${REDIS_PASSWORD}\n"
            "      API_KEY_FILE: /run/secrets/api_key\n"
            "  db:\n"
            "    image: postgres:16\n"
            "    environment:\n"
            f"      - POSTGRES_PASSWORD={aws_c}\n"
            "      - POSTGRES_USER=payments\n"
        ),
        "k8s/secret.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: payments-db\n  namespace: payments\n"
            f"type: Opaque\nstringData:\n  username: payments\n  password: {git_c}\n"
        ),
        "k8s/sealed-secret.yaml": SEALED,
        "k8s/external-secret.yaml": EXTERNAL,
        "k8s/sops-secret.yaml": SOPS,
        "k8s/deployment.yaml": DEPLOYMENT,
        "charts/payments/Chart.yaml": "apiVersion: v2\nname: payments\nversion: 0.3.0\n",
        "charts/payments/values.yaml": (
            "image:\n  repository: ghcr.io/acme-payments/payments-api\n  tag: 1.4.2\n"
            f"database:\n  host: db.internal\n  password: {param_c}\n  existingSecretName: payments-db\n"
        ),
    }, author=0, days=2)
    fi.commit("main", "CI pipelines", {
        ".github/workflows/deploy-legacy.yml": DEPLOY_LEGACY,
        ".github/workflows/deploy.yml": DEPLOY_OIDC,
        ".github/workflows/azure-legacy.yml": AZURE_LEGACY,
        ".github/workflows/secret-scan.yml": SECRET_SCAN,
        ".gitlab-ci.yml": GITLAB_CI,
    }, author=2)
    fi.commit("main", "Deploy key and CA bundle", {
        "deploy/id_rsa": x["private_key"],
        "certs/ca.pem": fake_certificate(seed + "ca"),
        "deploy/.pgpass": f"db.internal:5432:payments:payments:{git_c}\n",
        "config/.env.sample": f"SENDGRID_API_KEY={param_c}\nDB_PASSWORD=changeme\n",
        "config/staging.env": f"REDIS_HOST=redis.staging.internal\nREDIS_PASSWORD={vault_c}\n",
    }, author=1)
    fi.tag("v1.0.0", "main")
    fi.commit("release/1.x", "Release script", {
        "scripts/release.sh": f'#!/bin/sh\nexport GITHUB_TOKEN="{x["github_token"]}"\ngh release create "$1"\n',
    }, author=2, start_from="main")
    fi.commit("main", "Docs", {"README.md": "# payments-api\n\nCard payments for Acme.\n\nSee docs/.\n"}, author=0)
    return fi


def _ledger_service(seed: str) -> FastImport:
    fi = FastImport()
    fi.commit("main", "Initial commit", {
        "README.md": "# ledger-service\n",
        ".gitignore": "__pycache__/\n.env\n.env.*\n!.env.example\n",
        ".env.example": "DB_HOST=localhost\nDB_PASSWORD=changeme\nAPI_KEY=<your-api-key>\nTOKEN=\n",
        "ledger/main.py": 'import os\n\nDB_PASSWORD = os.environ["DB_PASSWORD"]\n',
        ".npmrc": "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
        ".pre-commit-config.yaml": (
            "repos:\n  - repo: https://github.com/gitleaks/gitleaks\n    rev: v8.21.2\n"
            "    hooks:\n      - id: gitleaks\n"
        ),
        "assets/diagram.png": _binary(seed + "diagram", 3000),
    })
    fi.commit("main", "Container, chart and CI", {
        "Dockerfile": (
            "FROM python:3.12-slim\nARG NPM_TOKEN\nENV LOG_LEVEL=info\n"
            "RUN --mount=type=secret,id=npm npm ci\nCOPY ledger/ ledger/\n"
        ),
        "compose.yaml": (
            "services:\n  ledger:\n    build: .\n    environment:\n"
            "      DB_PASSWORD: ${DB_PASSWORD}\n      DB_PASSWORD_FILE: /run/secrets/db\n"
        ),
        "k8s/sealed.yaml": SEALED,
        "charts/ledger/Chart.yaml": "apiVersion: v2\nname: ledger\nversion: 0.1.0\n",
        "charts/ledger/values.yaml": "image:\n  tag: 2.0.1\ndatabase:\n  existingSecret: ledger-db\n  passwordKey: password\n",
        "certs/ca.pem": fake_certificate(seed + "ledger-ca"),
        ".github/workflows/deploy.yml": DEPLOY_OIDC,
        ".github/workflows/secret-scan.yml": SECRET_SCAN,
    })
    fi.commit("feature/reports", "Reports", {"ledger/reports.py": "def monthly():\n    return []\n"},
              start_from="main")
    fi.commit("main", "Merge reports", {}, merge="feature/reports")
    return fi


# --- bulk history for the benchmark --------------------------------------------------------

_WORDS = ("account", "ledger", "payment", "invoice", "refund", "customer", "merchant", "batch",
          "settlement", "currency", "amount", "status", "retry", "window", "limit", "report")


def _code_block(rng: random.Random, n: int) -> list[str]:
    lines = []
    for _ in range(n):
        w1, w2, w3 = rng.choice(_WORDS), rng.choice(_WORDS), rng.choice(_WORDS)
        k = rng.randrange(1000)
        pick = rng.randrange(10)
        if pick == 0:
            lines.append(f"def {w1}_{w2}_{k}(request, {w3}=None):")
        elif pick == 1:
            lines.append(f'    """Return the {w1} {w2} for the given {w3}."""')
        elif pick == 2:
            lines.append(f'    {w1} = request.args.get("{w2}_{k}", "{w3}")')
        elif pick == 3:
            lines.append(f"    if {w1}.{w2} > {k}:")
        elif pick == 4:
            lines.append(f"        raise ValueError(f\"{w1} {{ {w2} }} exceeds {k}\")")
        elif pick == 5:
            lines.append(f"    # {w1} {w2} {w3}: keep in sync with the {w1} service")
        elif pick == 6:
            lines.append(f'    log.info("{w1}.{w2}", request_id=request.id, n={k})')
        elif pick == 7:
            lines.append(f"    return {{'{w1}': {w2}, '{w3}': {k}}}")
        elif pick == 8:
            lines.append(f"{w1.upper()}_{w2.upper()}_TIMEOUT = {k}")
        else:
            lines.append(f"    {w1}_{w2} = compute_{w3}({w1}, limit={k})")
    return lines


def generate_history_repo(
    path: Path,
    canaries: Sequence[str],
    *,
    commits: int = 2000,
    files: int = 120,
    lines_per_commit: int = 30,
    leak_every: int = 97,
    seed: int = 7,
) -> dict[str, int]:
    """A repository with ``commits`` commits of code churn and a leak every ``leak_every`` commits.

    Every commit rewrites a slice of one or two files; leaked values (canaries and
    generated AWS keys) are added in one commit and removed a few commits later,
    so most of them live in history only. Returns counts for the benchmark.
    """
    rng = random.Random(seed)
    fi = FastImport()
    contents: dict[str, list[str]] = {}
    names = [f"src/{rng.choice(_WORDS)}_{i}.py" for i in range(files)]
    first = {n: _code_block(rng, 80) for n in names}
    first["README.md"] = ["# bulk-service", ""]
    fi.commit("main", "Initial import", {n: "\n".join(v) + "\n" for n, v in first.items()}, days=0.01)
    contents.update(first)
    leaks = 0
    pending_cleanup: dict[int, str] = {}  # commit number -> leak file to delete then
    for i in range(1, commits):
        changed: dict[str, str | bytes | None] = {}
        for _ in range(rng.choice((1, 1, 2))):
            name = rng.choice(names)
            body = contents[name]
            at = rng.randrange(max(1, len(body) - lines_per_commit))
            body[at : at + lines_per_commit // 2] = _code_block(rng, lines_per_commit)
            changed[name] = "\n".join(body) + "\n"
        if i % leak_every == 0:
            leaks += 1
            value = canaries[leaks % len(canaries)] if leaks % 2 else fake_aws_key_id(f"bulk{leaks}")
            changed[f"config/leak_{leaks}.py"] = f'API_TOKEN = "{value}"\nSERVICE_PASSWORD = "{value}"\n'
            if leaks % 3:  # two leaks in three are "cleaned up" five commits later: history only
                pending_cleanup[i + 5] = f"config/leak_{leaks}.py"
        if i in pending_cleanup:
            changed[pending_cleanup.pop(i)] = None
        branch = "main"
        if i % 50 == 0:
            fi.commit(f"topic/{i}", f"Topic {i}", changed, days=0.01, start_from="main")
            fi.commit("main", f"Merge topic/{i}", {}, merge=f"topic/{i}", days=0.01)
            continue
        fi.commit(branch, f"Change {i}", changed, days=0.01, author=i)
    fi.write(path)
    return {"commits": commits, "leaks": leaks, "files": files}
