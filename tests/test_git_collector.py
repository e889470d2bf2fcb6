"""Git + CI collector against real repositories built by the git estate.

The estate (posture/estates/git.py) is written once per module with git
fast-import; each test reads the collector's records and asserts both what
must be found and what must not (OIDC, SealedSecret, placeholders, ...).
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
from rich.console import Console
from rich.progress import Progress

from collectors.base import CollectContext
from collectors.git import GitCollector, redact_url
from collectors.git_scan import detect_secrets_settings, scan_history_chunk, scan_tree_chunk
from conftest import CANARIES, assert_no_canary
from posture.cli import main
from posture.model.engagement import Engagement, GitStore
from posture.demo.estates.git import GitEstate, seed_git_estate
from posture.model.snapshot import Snapshot, SnapshotSink
from posture.workspace import fingerprint

KEY = bytes(range(32))
VAULT_C, AWS_C, GIT_C, PARAM_C = CANARIES


def fp(value: str) -> str:
    return fingerprint(KEY, value)


def collect(url: str, name: str = "repo", **options) -> SnapshotSink:
    sink = SnapshotSink()
    ctx = CollectContext(
        engagement=Engagement(client="acme"), sink=sink, fingerprint=fp,
        as_of=datetime.now(timezone.utc), progress=options.pop("progress", None),
        options={"git_workers": 1, **options},
    )
    store = GitStore(name=name, url=url, **options.pop("store", {}))
    GitCollector(store, ctx).run()
    return sink


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> GitEstate:
    return seed_git_estate(tmp_path_factory.mktemp("git-estate"), CANARIES)


@pytest.fixture(scope="module")
def payments(estate: GitEstate) -> SnapshotSink:
    return collect(str(estate.payments), "payments-api")


@pytest.fixture(scope="module")
def ledger(estate: GitEstate) -> SnapshotSink:
    return collect(str(estate.ledger), "ledger-service")


def findings(sink: SnapshotSink, **where) -> list:
    return [f for f in sink.rows("source_finding") if all(getattr(f, k) == v for k, v in where.items())]


def locations(sink: SnapshotSink, value: str) -> list:
    """Every (value, location) row of one value: secret and config_env rows, first seen first."""
    rows = findings(sink, category="secret", fingerprint=fp(value)) + findings(
        sink, category="config_env", fingerprint=fp(value)
    )
    return sorted(rows, key=lambda f: (f.first_seen_at is None, f.first_seen_at, f.path, f.line))


def by_fp(sink: SnapshotSink, value: str):
    """The one row of a value found at a single location (several locations are several rows)."""
    rows = locations(sink, value)
    assert len(rows) == 1, f"expected one location, got {rows}"
    return rows[0]


def value_view(sink: SnapshotSink, value: str):
    """The per-value view (checks.source_checks.secret_values) of one value's locations."""
    import pandas as pd

    from checks.source_checks import secret_values

    frame = pd.DataFrame([f.model_dump() for f in sink.rows("source_finding")])
    return secret_values(frame).loc[fp(value)]


def commit_of(repo: Path, message: str) -> str:
    return git(repo, "log", "--all", "--format=%H", f"--grep=^{message}$").split()[0]


# --- secrets in tree and history -----------------------------------------------------------


def test_one_secret_in_many_commits_and_paths_is_one_finding_per_location(payments, estate):
    rows = locations(payments, GIT_C)
    view = value_view(payments, GIT_C)
    # settings.py, .env, migrate.py (hotfix), k8s Secret, .pgpass: one row each, one commit each
    assert [f.commits for f in rows] == [1] * 5 and len({f.first_seen_commit for f in rows}) == 5
    assert set(view.paths) == {"app/settings.py", ".env", "scripts/migrate.py", "k8s/secret.yaml", "deploy/.pgpass"}
    assert all(set(f.paths) == set(view.paths) for f in rows)
    first = rows[0]
    assert first.first_seen_commit == commit_of(estate.payments, "Add settings")
    assert (first.path, first.line) == ("app/settings.py", 2)
    assert view.first_seen_at == first.first_seen_at == datetime(2025, 1, 3, 10, 0, tzinfo=timezone.utc)
    assert view.last_seen_at > view.first_seen_at
    assert view.in_tree and first.in_history_only  # still in HEAD, though no longer in settings.py
    # the hotfix merge keeps main's tree (fast-import writes no merge result): migrate.py is history only
    assert {(f.path, f.line) for f in rows if f.in_tree} == {("k8s/secret.yaml", 9), ("deploy/.pgpass", 1)}
    assert first.tree_path in {"scripts/migrate.py", "k8s/secret.yaml", "deploy/.pgpass"}
    assert {"Secret Keyword", "env-literal", "pgpass-credentials"} <= set(view.detectors)
    assert first.id == f"git:payments-api:app/settings.py:2@{first.commit[:12]}"
    assert "refs/heads/main" in first.refs and "refs/tags/v1.0.0" in first.refs
    assert all(isinstance(f.line, int) for f in rows)


def test_env_file_secret_deleted_from_env_but_still_in_helm_values(payments):
    rows = {(f.path, f.line): f for f in locations(payments, PARAM_C)}
    env = rows[(".env", 3)]
    assert (env.path, env.line, env.variable) == (".env", 3, "STRIPE_SECRET_KEY")
    assert env.in_history_only and env.tree_path == "charts/payments/values.yaml"
    assert value_view(payments, PARAM_C).in_tree
    helm = rows[("charts/payments/values.yaml", 6)]
    assert helm.in_tree and (helm.tree_path, helm.tree_line) == ("charts/payments/values.yaml", 6)


def test_history_only_secrets(payments, estate):
    x = estate.extra_values
    aws = by_fp(payments, x["aws_key_id"])
    assert aws.detector == "AWS Access Key" and aws.public_prefix == "AKIA"
    assert (aws.path, aws.line, aws.commits) == ("app/storage.py", 3, 1)
    assert aws.in_tree is False and aws.in_history_only is True
    assert aws.commit == commit_of(estate.payments, "S3 upload of receipts")
    assert {"refs/heads/feature/s3-upload", "refs/heads/main"} <= set(aws.refs)

    secret_key = by_fp(payments, x["aws_secret"])
    assert (secret_key.line, secret_key.in_history_only, secret_key.public_prefix) == (4, True, None)

    npm = by_fp(payments, x["npm_token"])
    assert (npm.detector, npm.path, npm.public_prefix, npm.in_tree) == ("NPM tokens", ".npmrc", "npm_", False)

    # only on an unmerged release branch; GitHub Token and entropy plugins agree on one value
    gh = by_fp(payments, x["github_token"])
    assert gh.detector == "GitHub Token" and gh.public_prefix == "ghp_"
    assert set(gh.detectors) == {"GitHub Token", "Base64 High Entropy String", "shell-literal"}
    assert gh.refs == ["refs/heads/release/1.x"] and gh.in_history_only


def test_private_key_in_tree_and_exact_secret_set(payments, estate):
    key = findings(payments, category="secret", detector="Private Key")
    assert len(key) == 1 and key[0].path == "deploy/id_rsa" and key[0].in_tree
    assert key[0].fingerprint == fp(estate.extra_values["private_key"].strip())
    compose = by_fp(payments, AWS_C)
    assert compose.path == "docker-compose.yml" and compose.in_tree
    staging = by_fp(payments, VAULT_C)  # only our .env rule sees it: unquoted, unknown file type
    assert (staging.category, staging.detector, staging.path, staging.line) == (
        "config_env", "env-literal", "config/staging.env", 2)
    assert staging.variable == "REDIS_PASSWORD" and staging.in_tree
    expected = {fp(v) for v in (GIT_C, PARAM_C, AWS_C, VAULT_C)} | {
        fp(estate.extra_values[k]) for k in ("aws_key_id", "aws_secret", "npm_token", "github_token")
    } | {key[0].fingerprint}
    got = {f.fingerprint for f in payments.rows("source_finding") if f.category in ("secret", "config_env")}
    assert got == expected  # nothing else: sealed ciphertext, secrets: inherit, names are not secrets
    repo = payments.rows("repository")[0]
    assert repo.secrets_found == 9 and repo.secrets_in_tree == 5  # 4 canaries + the private key


# --- files that should not be committed -----------------------------------------------------


def test_file_findings(payments, estate):
    files = {(f.detector, f.path): f for f in findings(payments, category="file")}
    assert set(files) == {
        ("env-file", ".env"),
        ("env-file", "config/staging.env"),
        ("keystore-file", "android/release.jks"),
        ("private-key-file", "deploy/id_rsa"),
        ("credentials-file", "deploy/.pgpass"),
        ("env-not-ignored", ".gitignore"),
        ("env-example-real-values", "config/.env.sample"),
    }
    env = files[("env-file", ".env")]
    assert env.in_history_only and env.commit == commit_of(estate.payments, "Local env for docker")
    staging = files[("env-file", "config/staging.env")]
    assert staging.in_tree and staging.commit == commit_of(estate.payments, "Deploy key and CA bundle")
    assert files[("keystore-file", "android/release.jks")].in_history_only  # binary, committed then removed
    assert files[("private-key-file", "deploy/id_rsa")].in_tree
    assert files[("env-example-real-values", "config/.env.sample")].variable == "SENDGRID_API_KEY"
    assert files[("env-example-real-values", "config/.env.sample")].fingerprint == fp(PARAM_C)
    # not flagged: certs/ca.pem (a certificate), .env.example (placeholders), .npmrc (${NPM_TOKEN} now)
    assert not findings(payments, path="certs/ca.pem")
    assert not findings(payments, path=".env.example")
    assert not [f for f in findings(payments, path=".npmrc") if f.category == "file"]


# --- build and deploy files -------------------------------------------------------------------


def test_dockerfile_compose_k8s_helm(payments):
    docker = {(f.detector, f.line, f.variable) for f in findings(payments, path="Dockerfile")}
    assert docker == {("dockerfile-secret-env", 4, "PAYMENTS_API_TOKEN"), ("dockerfile-copy-secret-file", 8, ".env")}
    assert findings(payments, detector="dockerfile-secret-env")[0].fingerprint == fp(VAULT_C)

    compose = findings(payments, category="compose")
    assert [(f.variable, f.line) for f in compose] == [("POSTGRES_PASSWORD", 11)]
    assert compose[0].fingerprint == fp(AWS_C)

    k8s = findings(payments, category="k8s")
    assert [(f.path, f.variable, f.line) for f in k8s] == [("k8s/secret.yaml", "password", 9)]
    assert k8s[0].fingerprint == fp(GIT_C)
    for safe in ("k8s/sealed-secret.yaml", "k8s/external-secret.yaml", "k8s/sops-secret.yaml", "k8s/deployment.yaml"):
        assert not findings(payments, path=safe), safe

    helm = findings(payments, category="helm")
    assert [(f.variable, f.line) for f in helm] == [("database.password", 6)]
    assert helm[0].fingerprint == fp(PARAM_C)


# --- CI ------------------------------------------------------------------------------------------


def test_ci_static_keys_vs_oidc(payments):
    ci = {c.path: c for c in payments.rows("ci_config")}
    legacy = ci[".github/workflows/deploy-legacy.yml"]
    assert legacy.static_cloud_credentials == ["aws-access-key-id", "credentials_json"]
    assert (legacy.uses_oidc, legacy.secrets_inherit, legacy.to_json_secrets, legacy.secrets_echoed) == (
        False, True, True, True)
    assert legacy.secret_refs == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DEPLOY_TOKEN", "GCP_SA_KEY"]

    oidc = ci[".github/workflows/deploy.yml"]
    assert oidc.uses_oidc and oidc.id_token_write and oidc.oidc_providers == ["aws", "gcp", "azure"]
    assert oidc.static_cloud_credentials == [] and not oidc.secrets_echoed and not oidc.secrets_inherit
    assert not findings(payments, path=".github/workflows/deploy.yml")

    assert ci[".github/workflows/azure-legacy.yml"].static_cloud_credentials == ["creds"]
    assert ci[".github/workflows/secret-scan.yml"].secret_scanners == ["gitleaks"]

    gl = ci[".gitlab-ci.yml"]
    assert gl.provider == "gitlab_ci" and gl.uses_oidc and gl.oidc_providers == ["gitlab"]
    assert gl.static_cloud_credentials == ["AWS_ACCESS_KEY_ID"] and gl.secrets_echoed
    assert gl.secret_scanners == ["secret-detection"]

    rules = {(f.path, f.detector, f.line) for f in findings(payments, category="ci")}
    assert rules == {
        (".github/workflows/deploy-legacy.yml", "ci-static-cloud-credentials", 10),
        (".github/workflows/deploy-legacy.yml", "ci-static-cloud-credentials", 26),
        (".github/workflows/deploy-legacy.yml", "ci-secret-echoed", 17),
        (".github/workflows/deploy-legacy.yml", "ci-tojson-secrets", 21),
        (".github/workflows/deploy-legacy.yml", "ci-secrets-inherit", 31),
        (".github/workflows/azure-legacy.yml", "ci-static-cloud-credentials", 7),
        (".gitlab-ci.yml", "ci-static-cloud-credentials", 22),
        (".gitlab-ci.yml", "ci-secret-echoed", 23),
    }
    repo = payments.rows("repository")[0]
    assert (repo.ci_scanner, repo.precommit_scanner, repo.env_ignored) == (True, False, False)
    assert repo.secret_scanners == ["gitleaks", "secret-detection"]


def test_well_kept_repository_has_no_findings(ledger, estate):
    assert ledger.rows("source_finding") == []
    assert ledger.gaps() == []
    repo = ledger.rows("repository")[0]
    assert (repo.env_ignored, repo.precommit_scanner, repo.ci_scanner) == (True, True, True)
    assert repo.head == git(estate.ledger, "rev-parse", "HEAD").strip()
    assert repo.commits_scanned == 3 and repo.commits_total == 3 and repo.refs == 2
    assert repo.lines_scanned > 50
    ci = {c.path: c for c in ledger.rows("ci_config")}
    assert ci[".github/workflows/deploy.yml"].uses_oidc


# --- scanning mechanics ---------------------------------------------------------------------------


def _hits(res) -> set[tuple]:
    return {(c, p, h.detector, h.line, hashlib.sha256(h.value.encode()).hexdigest()) for c, _, p, h in res.hits}


def test_gates_do_not_change_detect_secrets_results(estate):
    git_dir = str(estate.payments / ".git")
    commits = git(estate.payments, "rev-list", "--all", "--no-merges").split()
    gated, plain = scan_history_chunk(git_dir, commits, True), scan_history_chunk(git_dir, commits, False)
    assert _hits(gated) == _hits(plain) and len(_hits(gated)) >= 15
    assert gated.lines == plain.lines and gated.commits == len(commits)
    tree = [(line.split("\t")[1], line.split()[2]) for line in git(estate.payments, "ls-tree", "-r", "HEAD").splitlines()]
    assert _hits(scan_tree_chunk(git_dir, tree, True)) == _hits(scan_tree_chunk(git_dir, tree, False))


def test_file_exists_filter_is_off_for_history(estate):
    from detect_secrets.settings import get_settings

    with detect_secrets_settings():
        assert "detect_secrets.filters.common.is_invalid_file" not in get_settings().filters
        assert not any("verification" in f for f in get_settings().filters)
    # restored for anyone else using detect-secrets in this process
    assert "detect_secrets.filters.common.is_invalid_file" in get_settings().filters


def test_process_pool_gives_the_same_records(estate, payments):
    progress = Progress(console=Console(file=io.StringIO()), auto_refresh=False)
    pooled = collect(str(estate.payments), "payments-api", git_workers=2, git_parallel_min_commits=1,
                     progress=progress)
    dump = lambda s: sorted(r.model_dump_json() for r in s.rows("source_finding"))  # noqa: E731
    assert dump(pooled) == dump(payments)
    task = progress.tasks[0]
    assert task.total == task.completed and task.total > 15


def test_head_only_and_no_history(estate):
    head = collect(str(estate.payments), "p", store={"refs": "head"})
    gh = fp(estate.extra_values["github_token"])
    assert not findings(head, fingerprint=gh)  # only on release/1.x
    assert findings(head, fingerprint=fp(estate.extra_values["aws_key_id"]))  # merged into main

    tree_only = collect(str(estate.payments), "p", store={"history": False})
    secrets = findings(tree_only, category="secret")
    assert secrets and all(f.in_tree and f.first_seen_commit is None for f in secrets)
    assert not findings(tree_only, fingerprint=fp(estate.extra_values["aws_key_id"]))
    # .env only ever existed in history; config/staging.env is in HEAD
    assert [f.path for f in findings(tree_only, detector="env-file")] == ["config/staging.env"]
    assert tree_only.rows("repository")[0].commits_scanned == 0


def test_clone_url_is_mirrored_and_matches_the_local_scan(estate, payments):
    mirrored = collect(f"file://{estate.payments}", "payments-api")
    assert mirrored.gaps() == []
    key = lambda s: sorted(repr((f.fingerprint, f.detector, f.path, f.line, f.commits, f.in_tree))  # noqa: E731
                           for f in s.rows("source_finding"))
    assert key(mirrored) == key(payments)
    assert mirrored.rows("repository")[0].url == f"file://{estate.payments}"


def test_redact_url():
    assert redact_url("https://bob:ghp_tok@github.com/acme/x.git") == "https://***@github.com/acme/x.git"
    assert redact_url("git@github.com:acme/x.git") == "git@github.com:acme/x.git"
    assert redact_url("fatal: unable to access 'https://u:tok@h/x/'") == "fatal: unable to access 'https://***@h/x/'"


def test_not_a_repository_and_unreachable_url_are_gaps(tmp_path):
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    (plain / "README").write_text("hello\n")
    s = collect(str(plain), "plain")
    [gap] = s.gaps()
    assert gap.reason == "not_found" and "not a git repository" in gap.detail
    assert set(gap.tables) == {"source_finding", "ci_config", "repository"}
    assert s.rows("repository") == [] and s.rows("source_finding") == []

    missing = collect(str(tmp_path / "nowhere"), "missing")
    assert missing.gaps()[0].reason == "not_found" and "no such directory" in missing.gaps()[0].detail

    unreachable = collect("http://alice:s3cr3t-token@127.0.0.1:9/acme/x.git", "remote")
    [gap] = unreachable.gaps()
    assert gap.reason == "unreachable" and gap.operation == "git clone --mirror"
    assert "cannot clone" in gap.detail
    assert "s3cr3t-token" not in gap.model_dump_json()


def test_no_value_or_unsalted_hash_in_records(payments, ledger, estate):
    blob = b"".join(
        orjson.dumps(r.model_dump(mode="json")) for s in (payments, ledger) for t in
        ("source_finding", "ci_config", "repository") for r in s.rows(t)
    )
    for value in estate.all_values:
        v = value.strip()
        assert v.encode() not in blob
        assert hashlib.sha256(v.encode()).hexdigest().encode() not in blob
    for value in estate.extra_values.values():  # no prefix beyond the public one (AKIA, ghp_, npm_)
        assert value.strip()[:8].encode() not in blob


# --- end to end ------------------------------------------------------------------------------------


def test_posture_collect_end_to_end(workspace: Path, estate, capsys):
    eng = workspace / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(textwrap.dedent(f"""\
        client: acme
        stores:
          git:
            - name: payments-api
              url: {estate.payments}
            - name: ledger-service
              url: file://{estate.ledger}
            - name: gone
              url: {workspace / "no-such-repo"}
        """))
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    out = capsys.readouterr()
    assert "source_finding" in out.out and "coverage gap" in out.err
    snap = Snapshot.load(workspace / "evidence" / "acme" / "2026-Q4" / "snapshot")
    sf = snap.frame("source_finding")
    assert set(sf["store"]) == {"payments-api"}
    secret_rows = sf[sf["category"] == "secret"]
    assert secret_rows["fingerprint"].nunique() == 8 and len(secret_rows) == 10  # 8 values at 10 locations
    assert set(snap.frame("repository")["id"]) == {"git:payments-api", "git:ledger-service"}
    gaps = snap.frame("coverage_gap")
    assert list(gaps["store"]) == ["gone"] and list(gaps["reason"]) == ["not_found"]
    assert snap.manifest.collectors["git"] == GitCollector.version
    key = (workspace / "engagements" / "acme" / ".fingerprint-key").read_text().strip()
    assert assert_no_canary(workspace, extra=tuple(v.strip() for v in estate.extra_values.values())) > 5
    assert assert_no_canary(workspace / "evidence", extra=(key,)) > 5


# --- rule units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, line, expected",
    [
        (".env", f"DB_PASSWORD={GIT_C}", ("env-literal", GIT_C, "DB_PASSWORD")),
        ("svc/.env.prod", f"export API_TOKEN='{GIT_C}'", ("env-literal", GIT_C, "API_TOKEN")),
        (".env", "DB_PASSWORD=${DB_PASSWORD}", None),
        (".env", "DB_PASSWORD_FILE=/run/secrets/db", None),
        (".env", "LOG_LEVEL=debug", None),
        (".env.example", f"DB_PASSWORD={GIT_C}", None),  # example files have their own rule
        (".npmrc", f"//npm.acme.example/:_authToken={GIT_C}", ("npmrc-credentials", GIT_C, "_authToken")),
        (".npmrc", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}", None),
        ("home/.pypirc", f"password = {GIT_C}", ("pypirc-credentials", GIT_C, "password")),
        (".git-credentials", f"https://deploy:{GIT_C}@git.acme.example", ("git-credentials", GIT_C, None)),
        (".pgpass", f"db:5432:*:app:{GIT_C}", ("pgpass-credentials", GIT_C, None)),
        (".pgpass", "# host:port:db:user:password", None),
    ],
)
def test_config_line_rules(path, line, expected):
    from collectors.git_scan import line_rule_hits

    hits = line_rule_hits(path, line)
    assert hits == ([expected] if expected else [])


def test_dockerfile_rule_forms():
    from collectors.git_rules import dockerfile_rules

    text = (
        "FROM alpine\nARG GITHUB_TOKEN\nARG DB_PASSWORD=hunter2-prod\nENV API_KEY abcd1234efgh\n"
        "ENV A=1 SECRET_KEY=\"s3cr3t-value\" \\\n    LOG=info\nENV TOKEN=${TOKEN}\n"
        "ADD --chown=app id_rsa /home/app/.ssh/\nCOPY certs/server.crt /etc/ssl/\n"
    )
    got = {(h.detector, h.line, h.variable) for h in dockerfile_rules("Dockerfile", text)}
    assert got == {
        ("dockerfile-secret-arg", 3, "DB_PASSWORD"),
        ("dockerfile-secret-env", 4, "API_KEY"),
        ("dockerfile-secret-env", 5, "SECRET_KEY"),
        ("dockerfile-copy-secret-file", 8, "id_rsa"),
    }


def test_gitlab_variable_literals_and_env_ignore_patterns():
    from collectors.git_rules import env_ignored, gitlab_ci_rules

    facts, hits = gitlab_ci_rules(".gitlab-ci.yml", "variables:\n  DEPLOY_TOKEN: glpat-abcdef123456\n"
                                  "  REGION: eu-west-1\nbuild:\n  script: [make]\n")
    assert [(h.detector, h.variable, h.line) for h in hits] == [("ci-variable-literal", "DEPLOY_TOKEN", 2)]
    assert not facts.uses_oidc and facts.static_cloud_credentials == []
    assert env_ignored("*.env\n") and env_ignored("/.env\n") and env_ignored(".env*\n")
    assert not env_ignored(".env\n!.env\n") and not env_ignored("node_modules/\n") and not env_ignored(None)


def test_k8s_secret_data_is_decoded_before_fingerprinting():
    import base64

    from collectors.git_rules import k8s_rules

    doc = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: api}\ndata:\n"
        f"  token: {base64.b64encode(GIT_C.encode()).decode()}\n  user: YXBp\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: sa}\ntype: kubernetes.io/service-account-token\n"
    )
    hits = k8s_rules("k8s/api.yaml", doc)
    assert [(h.variable, h.line, h.value) for h in hits] == [("token", 5, GIT_C)]


def test_empty_repository_is_not_a_gap(tmp_path):
    repo = tmp_path / "empty"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    s = collect(str(repo), "empty")
    assert s.gaps() == [] and s.rows("source_finding") == []
    row = s.rows("repository")[0]
    assert row.head is None and row.commits_scanned == 0 and row.refs == 0


def test_subfolder_of_a_repository_is_not_the_repository(estate):
    s = collect(str(estate.payments / "app"), "sub")
    assert s.gaps()[0].reason == "not_found" and "not a git repository" in s.gaps()[0].detail


def test_gates_match_plain_detect_secrets_on_every_plugin_format():
    """Lines in the formats of many plugins (built at runtime): gated and plain scans agree."""
    from collectors.git_scan import LineScanner
    from posture.demo.estates.git import ALNUM, _derive

    r = lambda n, s="x": _derive(s, ALNUM, n)  # noqa: E731
    lines = [
        'server = "8.8.4.4"', "url = 'https://deploy:" + r(12) + "@git.acme.example/repo'",
        "SLACK = '" + "xo" + "xb-1234567890-" + r(24).lower() + "'",
        "stripe = '" + "sk" + "_live_" + r(24) + "'", "twilio = '" + "A" + "C" + r(32, "t").lower() + "'",
        "jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + r(43, "j") + "'",
        "sendgrid = '" + "SG." + r(22, "a") + "." + r(43, "b") + "'",
        "hex = '" + _derive("h", "0123456789abcdef", 40) + "'", 'password = "' + GIT_C + '"',
        "aws_secret = '" + r(40, "aws") + "'", "mailchimp = '" + _derive("m", "0123456789abcdef", 32) + "-us12'",
        "-----BEGIN OPENSSH " + "PRIVATE KEY-----", "nothing to see here", "x = compute(a, b)  # password?",
        "api_key: " + r(32, "k"), "AccountKey=" + r(86, "az") + "==;", "glpat-" + r(20, "gl"),
    ]
    numbered = list(enumerate(lines, start=1))
    with detect_secrets_settings():
        gated = LineScanner(gated=True).scan("conf/app.yaml", numbered)
        plain = LineScanner(gated=False).scan("conf/app.yaml", numbered)
        gated_py = LineScanner(gated=True).scan("app/settings.py", numbered)
        plain_py = LineScanner(gated=False).scan("app/settings.py", numbered)
    key = lambda hits: sorted((h.detector, h.line, h.value) for h in hits)  # noqa: E731
    assert key(gated) == key(plain) and key(gated_py) == key(plain_py)
    assert len({h.detector for h in gated + gated_py}) >= 8


def test_github_env_level_static_keys_and_vault_jwt():
    from collectors.git_rules import github_actions_rules

    wf = textwrap.dedent("""\
        on: push
        env:
          AWS_ACCESS_KEY_ID: ${{ secrets.AWS_KEY }}
        jobs:
          a:
            runs-on: ubuntu-latest
            steps:
              - run: make
          b:
            runs-on: ubuntu-latest
            permissions:
              id-token: write
            steps:
              - uses: hashicorp/vault-action@v3
                with:
                  method: jwt
                  role: ci
              - run: printf '%s' "$TOKEN" > token.txt && echo "$TOKEN"
                env:
                  TOKEN: ${{ secrets.NPM_TOKEN }}
        """)
    facts, hits = github_actions_rules(".github/workflows/x.yml", wf)
    assert [(h.detector, h.line) for h in hits if h.detector == "ci-static-cloud-credentials"] == [
        ("ci-static-cloud-credentials", 3)]
    assert facts.uses_oidc and facts.oidc_providers == ["vault"] and facts.id_token_write
    assert facts.secrets_echoed and facts.secret_refs == ["AWS_KEY", "NPM_TOKEN"]


def test_unreadable_history_is_a_gap_not_a_silent_pass(tmp_path):
    repo = tmp_path / "corrupt"
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, env=env,  # noqa: E731
                                    capture_output=True, text=True).stdout
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "settings.py").write_text(f'DB_PASSWORD = "{GIT_C}"\n')
    run("add", "settings.py")
    run("commit", "-qm", "add")
    blob = run("rev-parse", "HEAD:settings.py").strip()
    (repo / "settings.py").unlink()
    (repo / "README").write_text("x\n")
    run("add", "-A")
    run("commit", "-qm", "remove")
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()  # history can no longer be read
    s = collect(str(repo), "corrupt")
    [gap] = s.gaps()
    assert gap.operation == "git log -p" and gap.reason == "error" and "source_finding" in gap.tables
    assert s.rows("repository")[0].head == run("rev-parse", "HEAD").strip()


# --- Kingfisher as the second token engine (issue #13) ----------------------------------------------

KINGFISHER_CANARIES = (
    "hf_" + "CanaryKingfisherHuggingFaceTokenQz",  # 34 letters after hf_
    "dop_" + "v1_" + hashlib.sha256(b"kingfisher-canary").hexdigest(),  # DigitalOcean: 64 hex
    "shp" + "at_" + "c4a7a12ee5c4a7a12ee5c4a7a12ee5aa",  # Shopify: 32 hex
)


@pytest.mark.skipif(__import__("collectors.git_kingfisher", fromlist=["x"]).kingfisher_binary() is None,
                    reason="kingfisher-bin is not installed")
def test_kingfisher_finds_provider_tokens_and_no_value_reaches_disk_or_logs(workspace: Path, capfd, caplog):
    """Canary tokens in formats only Kingfisher's rules know: found at their lines, in HEAD and in history,
    with validation off; no value in any file the kit writes, nor on stdout/stderr or the log."""
    from posture.demo.estates.git import FastImport

    hf, do, shop = KINGFISHER_CANARIES
    fi = FastImport()
    fi.commit("main", "add clients", {
        "app/clients.py": f'hub = HfApi("{hf}")\nshop = Session("acme.myshopify.com", "{shop}")\n',
        "ops/notes.txt": f"droplets via {do}\n",
    })
    fi.commit("main", "drop notes", {"ops/notes.txt": None})
    repo = workspace / "repo"
    fi.write(repo)
    eng = workspace / "engagements" / "acme" / "engagement.yaml"
    eng.parent.mkdir(parents=True)
    eng.write_text(f"client: acme\nstores:\n  git:\n    - name: app\n      url: {repo}\n")
    assert main(["collect", "acme", "--quarter", "2026-Q4"]) == 0
    assert main(["assess", "acme", "-q", "2026-Q4", "--no-notebooks"]) == 0
    out = capfd.readouterr()
    snap = Snapshot.load(workspace / "evidence" / "acme" / "2026-Q4" / "snapshot")
    sf = snap.frame("source_finding")
    rows = {(r.path, int(r.line), bool(r.in_tree)): r for r in sf.itertuples() if r.line == r.line}
    assert {("app/clients.py", 1, True), ("app/clients.py", 2, True), ("ops/notes.txt", 1, False)} <= set(rows)
    kf = {k for k, r in rows.items() if any(str(d).startswith("kingfisher:") for d in r.detectors)}
    assert ("ops/notes.txt", 1, False) in kf and ("app/clients.py", 1, True) in kf
    assert snap.frame("coverage_gap").empty
    log = out.out + out.err + caplog.text
    assert not [c for c in KINGFISHER_CANARIES if c in log]
    assert assert_no_canary(workspace / "evidence", extra=KINGFISHER_CANARIES) > 5
    assert assert_no_canary(workspace / "engagements", extra=KINGFISHER_CANARIES) >= 1


def test_kingfisher_never_validates_and_reads_a_pipe():
    """The command always disables live validation and update checks and writes no report or archive."""
    from collectors.git_kingfisher import command

    for history in (False, True):
        cmd = command("kingfisher", "/repo/.git", history=history, all_refs=True)
        assert "--no-validate" in cmd and "--no-update-check" in cmd and "--no-extract-archives" in cmd
        assert not {"--output", "-o", "--view-report", "--alert-webhook", "--blast-radius", "--disk-offload"} & set(cmd)
    assert command("k", "/r", history=False, all_refs=True)[-4:] == ["--git-history", "none", "--branch", "HEAD"]


def test_kingfisher_off_and_missing_binary(estate, monkeypatch):
    """``git_kingfisher: False`` never runs it; asked for but not installed is a coverage gap, not a silent pass."""
    import collectors.git as git_module

    off = collect(str(estate.payments), git_kingfisher=False)
    assert not [f for f in off.rows("source_finding") if any(d.startswith("kingfisher:") for d in f.detectors or [])]
    monkeypatch.setattr(git_module, "kingfisher_binary", lambda: None)
    missing = collect(str(estate.payments), git_kingfisher=True)
    assert [(g.operation, g.reason) for g in missing.gaps()] == [("kingfisher scan", "unsupported")]
    assert not collect(str(estate.payments)).gaps()  # auto: absent binary, no gap
