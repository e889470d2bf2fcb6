"""Source control and CI checks (checklist items 1 and 4).

Source findings only ever hold a location and a keyed fingerprint, one row per
(value, location). Checks over them report one failing row per finding, and
one passing row per scanned repository that has none, so a clean repository is
evidence too. The production checks (SRC001-SRC009, SRC011) read production
locations only; what sits in tests, documentation or vendored code is SRC010's,
at a severity that says so. Per-value views (`secret_values`) group locations
by fingerprint.
"""

from __future__ import annotations

import re

import pandas as pd

from checks.catalog import CheckContext, because, check, emit, empty_result, list_len, na_if

BUILD_CATEGORIES = ("dockerfile", "compose", "k8s", "helm")
ENV_FILE_DETECTORS = ("env-file", "env-example-real-values")
KEY_FILE_DETECTORS = ("private-key-file", "keystore-file", "credentials-file")
ENV_FILE = re.compile(r"(^|/)\.env(\.[\w-]+)?$|(^|/)[\w.-]+\.env$")


def production(f: pd.DataFrame) -> pd.Series:
    """Locations in production code and configuration (rows without a context are production)."""
    return f["context"].astype(object).fillna("production").eq("production")


def secret_values(f: pd.DataFrame, env: pd.Series | None = None) -> pd.DataFrame:
    """One row per distinct value (fingerprint): where it is, how it was found, whether still in HEAD.

    The per-value view of the per-location findings: ``locations``, ``paths``,
    ``detectors``, ``contexts``, ``in_tree`` (any location in HEAD),
    ``first_seen_at`` / ``last_seen_at`` over every location, ``repositories``,
    and with ``env`` (an environment per row) the ``environments`` it is in.
    """
    keep = f["fingerprint"].notna()
    v = f[keep].assign(env=env[keep] if env is not None else "unknown")
    cols = ["locations", "paths", "detectors", "contexts", "in_tree", "first_seen_at", "last_seen_at",
            "repositories", "environments"]
    if v.empty:
        return pd.DataFrame(columns=cols)
    g = v.groupby("fingerprint", sort=True)
    return pd.DataFrame({
        "locations": g.size(),
        "paths": g["path"].agg(lambda x: sorted(set(x))),
        "detectors": g["detectors"].agg(lambda x: sorted({d for ds in x if isinstance(ds, list) for d in ds})),
        "contexts": g["context"].agg(lambda x: sorted(set(x.astype(object).fillna("production")))),
        "in_tree": g["in_tree"].agg(lambda x: bool(x.astype("boolean").fillna(False).any())),
        "first_seen_at": g["first_seen_at"].min(),
        "last_seen_at": g["last_seen_at"].max(),
        "repositories": g["repo"].nunique(),
        "environments": g["env"].agg(lambda x: sorted(set(x) - {"unknown"})),
    })[cols]


def _repo_rollup(ctx: CheckContext, bad: pd.Series, *, needs_history: bool = False,
                 **evidence_cols: str) -> pd.DataFrame:
    """Failing rows for source findings where ``bad``; a passing row per clean repository.

    With ``needs_history``, a clean repository whose history was not (fully)
    scanned is not_assessed: a tree-only scan proves nothing about history.
    """
    f = ctx.frame("source_finding")
    repos = ctx.frame("repository")
    fails = f[bad.reindex(f.index).fillna(False).astype(bool)]
    line = fails["line"].astype("Int64")  # a column with gaps would otherwise print 20.0
    env = ctx.env_of(fails["path"].astype(object)) if len(fails) else pd.Series(dtype=object)
    parts = []
    if len(fails):
        ev = {k: fails[c] for k, c in evidence_cols.items()}
        parts.append(emit(fails, False, name=fails["variable"].fillna(fails["path"]),
                          repo=fails["repo"], file=fails["path"], line=line,
                          commit=fails["commit"], detector=fails["detector"],
                          fingerprint=fails["fingerprint"], environment_guess=env,
                          context=fails["context"], **ev))
    clean = repos[~repos["id"].isin(set(fails["repo"])) & ~repos["url"].isin(set(fails["repo"]))]
    if len(clean):
        ok = pd.Series(True, index=clean.index, dtype="boolean")
        why = None
        if needs_history:
            scanned = clean["history_scanned"].astype("boolean").fillna(False).astype(bool)
            total, done = clean["commits_total"], clean["commits_scanned"]
            partial = total.notna() & done.notna() & (done.fillna(0) < total.fillna(0))
            ok = na_if(~scanned | partial, ok)
            why = because((~scanned, "the repository's history was not scanned (history: false, or HEAD only)"),
                          (partial, "only " + done.map(_count) + " of " + total.map(_count)
                           + " commits of the history were scanned"))
        parts.append(emit(clean, ok, name=clean["url"], path=clean["url"], why_unknown=why,
                          commits_scanned=clean["commits_scanned"], head=clean["head"]))
    return pd.concat(parts, ignore_index=True) if parts else empty_result()


def _count(v: object) -> str:
    return f"{float(v):.0f}" if pd.notna(v) else "?"


def _sf(ctx: CheckContext) -> pd.DataFrame:
    return ctx.frame("source_finding")


@check("SRC001", "Hardcoded secret in the current tree", stage=4, item=1, anti_pattern="hardcoded",
       severity="critical", inputs=("source_finding", "repository"), sources=("git",),
       controls=("secrets_in_code",),
       detects="A secret detected in a file of HEAD's tree (detect-secrets plugins and the kit's "
               "rules; location and keyed fingerprint only).",
       why="Seed 001 anti-pattern #1: leaks via the repo, forks, CI logs and laptops. Every clone "
           "is a copy of the credential.",
       fix="Revoke and rotate the credential first (it is already leaked), then remove it and "
           "fetch it from the secret store at runtime; add a pre-commit scanner.")
def hardcoded_secret(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    bad = f["category"].eq("secret") & f["in_tree"].astype("boolean").fillna(True).astype(bool) & production(f)
    return _repo_rollup(ctx, bad)


@check("SRC002", "Secret in git history", stage=4, item=1, anti_pattern="hardcoded",
       severity="high", inputs=("source_finding", "repository"), sources=("git",),
       controls=("secrets_in_code", "incident"),
       detects="A secret that was committed and later removed: still in history, every clone and "
               "every fork.",
       why="Seed 003: audit git history for accidentally committed secrets; if found, revoke "
           "immediately and rotate. Deleting the line does not un-leak it.",
       fix="Rotate the credential; optionally rewrite history (git filter-repo) and ask forks to "
           "re-clone. Rotation is the fix, rewriting is hygiene.")
def secret_in_history(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    # a credential only a file rule sees (`.env`, `.pgpass`: category config_env) leaks the same way
    bad = f["category"].isin(["secret", "config_env"]) \
        & f["in_history_only"].astype("boolean").fillna(False).astype(bool) & production(f)
    return _repo_rollup(ctx, bad, needs_history=True, first_seen_at="first_seen_at",
                        last_seen_at="last_seen_at")


@check("SRC003", "Environment file with secrets committed", stage=4, item=1,
       anti_pattern="env_files", severity="high", inputs=("source_finding", "repository"),
       sources=("git",), controls=("secrets_in_code",),
       detects="A committed .env / *.env / config env file holding a credential (a secret or a "
               "credential-named value in it), or an env example with real values. An env file holding "
               "only configuration (`DEBUG=1`, an autoenv script) is not this finding.",
       why="Seed 000/003: secrets in env files committed to git; .env files in production instead "
           "of a managed secret service.",
       fix="Delete it, commit a `.env.example` without values, add `.env` to .gitignore, rotate "
           "what it held.")
def env_file_committed(ctx: CheckContext) -> pd.DataFrame:
    """General class: an env file is this finding when it holds a credential; the file-level row
    (``env-file``: the file is committed) joins the rollup only then, so a valueless env file
    (configuration only) passes while a secret anywhere in one fails."""
    f = _sf(ctx)
    named = set(f.loc[f["detector"].eq("env-file"), "path"])  # the collector's own verdict on the file
    env_path = f["path"].fillna("").map(
        lambda p: p in named or (bool(ENV_FILE.search(p)) and not p.endswith(".example")))
    valued = env_path & f["category"].isin(["secret", "config_env"])
    holding = set(f.loc[valued, "path"])
    file_row = f["detector"].eq("env-file") & f["path"].isin(holding)
    bad = (valued | file_row | f["detector"].eq("env-example-real-values")) & production(f)
    return _repo_rollup(ctx, bad)


@check("SRC009", "Private key, keystore or credentials file committed", stage=4, item=1,
       anti_pattern="hardcoded", severity="critical", inputs=("source_finding", "repository"),
       sources=("git",), controls=("secrets_in_code", "key_management"),
       detects="A private key (`*.pem`, `id_rsa`), a keystore (`*.p12`, `*.jks`) or a credentials "
               "file (`.npmrc`, `.pypirc`, `.git-credentials`, `.pgpass`) with credentials, now "
               "or in history.",
       why="Seed 003: private keys belong in a vault, not in version control; every clone holds a "
           "copy of the key, and deleting the file does not remove it from history.",
       fix="Revoke or re-issue the key (new key pair, new certificate, new registry token), remove "
           "the file, ignore the pattern in .gitignore, and fetch it at runtime.")
def key_file_committed(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    return _repo_rollup(ctx, f["detector"].isin(KEY_FILE_DETECTORS) & production(f))


@check("SRC004", ".env not covered by .gitignore", stage=4, item=4, anti_pattern="env_files",
       severity="low", inputs=("repository",), sources=("git",), controls=("secrets_in_code", "ci"),
       detects="A repository whose .gitignore does not ignore .env files.",
       why="Seed 003: store development secrets in .env files that are never committed.",
       fix="Add `.env` and `.env.*` (with `!.env.example`) to .gitignore.")
def env_not_gitignored(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("repository")
    ig = r["env_ignored"].astype("boolean")
    return emit(r, na_if(ig.isna(), ig.fillna(False)), name=r["url"], path=r["url"], env_ignored=r["env_ignored"],
                why_unknown="whether .gitignore covers .env could not be read from the repository")


@check("SRC005", "No secret scanner in pre-commit or CI", stage=4, item=4, anti_pattern="hardcoded",
       severity="medium", inputs=("repository",), sources=("git",), controls=("ci", "secrets_in_code"),
       detects="A repository with neither a pre-commit nor a CI secret scanner (gitleaks, "
               "trufflehog, detect-secrets, git-secrets).",
       why="Seed 000 stage 4: secret scanners in pre-commit/CI make the wrong behaviour hard.",
       fix="Add gitleaks or detect-secrets to .pre-commit-config.yaml and as a CI job.")
def no_secret_scanner(ctx: CheckContext) -> pd.DataFrame:
    r = ctx.frame("repository")
    pre, ci = r["precommit_scanner"].astype("boolean"), r["ci_scanner"].astype("boolean")
    ok = pre.fillna(False) | ci.fillna(False)
    unknown = pre.isna() & ci.isna()
    return emit(r, na_if(unknown, ok), name=r["url"], path=r["url"], precommit_scanner=r["precommit_scanner"],
                ci_scanner=r["ci_scanner"],
                why_unknown="neither the pre-commit configuration nor the CI files could be read for a scanner")


@check("SRC006", "Secret baked into a container image or deployment manifest", stage=3, item=1,
       anti_pattern="images", severity="high", inputs=("source_finding", "repository"),
       sources=("git",), controls=("secrets_in_code",),
       detects="A secret in a Dockerfile (ENV/ARG), docker-compose file, Kubernetes manifest or "
               "Helm values file.",
       why="Seed 002: build artifacts must contain no secrets - an image is pulled by N developers "
           "and lands in registries. Kubernetes Secrets are base64, not encryption (seed 003).",
       fix="Inject at runtime (Vault Agent, External Secrets Operator, CSI driver); use BuildKit "
           "`--secret` for build-time needs.")
def secret_in_build_artifact(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    return _repo_rollup(ctx, f["category"].isin(BUILD_CATEGORIES) & production(f))


@check("SRC007", "Same secret value in several environments", stage=1, item=1,
       anti_pattern="same_across_envs", severity="high", inputs=("source_finding",),
       sources=("git",), controls=("env_separation", "secrets_in_code"),
       detects="One keyed fingerprint found in files of different environments (or repositories).",
       why="Seed 002/003: one secret used across environments - dev compromise = prod compromise.",
       fix="Issue a distinct credential per environment and rotate the shared one.")
def secret_reused_across_envs(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    f = f[f["fingerprint"].notna()]
    env = ctx.env_of(f["path"].astype(object)) if len(f) else pd.Series(dtype=object)
    # per location: a prod and a staging file holding one value is reuse, even in one repository
    values = secret_values(f, env)
    e = f["fingerprint"].map(values["environments"])
    n_repo = f["fingerprint"].map(values["repositories"])
    shared = list_len(e).gt(1) | n_repo.gt(1)
    return emit(f, ~shared.astype(bool), name=f["variable"].fillna(f["path"]), environments=e,
                repositories=n_repo, fingerprint=f["fingerprint"], file=f["path"],
                line=f["line"].astype("Int64"), context=f["context"])


@check("SRC008", "Secret in a log or dump file", stage=4, item=4, anti_pattern="logging",
       severity="high", inputs=("source_finding", "repository"), sources=("git",),
       controls=("log_redaction",),
       detects="A secret found in a committed *.log / *.dump / *.har file.",
       why="Seed 003: logging secrets even by accident; never log authentication headers.",
       fix="Rotate, delete the file, add a redaction filter to the logger "
           "(`Authorization: Bearer [^,\\s]*` -> `***`).")
def secret_in_log_file(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    bad = f["category"].eq("log") | f["path"].fillna("").str.contains(r"\.(?:log|dump|har)(?:\.\d+)?$", regex=True)
    return _repo_rollup(ctx, bad & production(f))


@check("SRC010", "Secret committed in tests, documentation or vendored code", stage=4, item=1,
       anti_pattern="hardcoded", severity="low", inputs=("source_finding", "repository"), sources=("git",),
       controls=("secrets_in_code",),
       detects="A secret, key, credentials file or password hash under tests/ or fixtures/, in a "
               "documentation example (docs/, *.md, *.rst, a docstring) or in vendored third-party code "
               "(vendor/, third_party/, node_modules/); the row's context says which.",
       why="Committing real keys to test fixtures is still a leak (every clone holds them) and a "
           "documentation example is copied into real configurations; but none is a production secret, "
           "and reporting it as one costs the report its credibility.",
       fix="Replace fixture keys with generated ones (created at test time) or vendor-documented example "
           "values; use placeholders in docs; report leaks in vendored code upstream. Rotate any real one.")
def secret_outside_production(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    kinds = f["category"].isin(["secret", "config_env", "hash", *BUILD_CATEGORIES]) \
        | f["detector"].isin(KEY_FILE_DETECTORS + ENV_FILE_DETECTORS)
    return _repo_rollup(ctx, kinds & ~production(f))


@check("SRC011", "Password hash committed", stage=4, item=1, anti_pattern="hardcoded", severity="medium",
       inputs=("source_finding", "repository"), sources=("git",), controls=("secrets_in_code",),
       detects="A crackable password hash (crypt $1$/$5$/$6$, $apr1$, bcrypt $2a/b/y$, argon2, LDAP {SSHA}, "
               "PBKDF2) in a committed shadow or htpasswd file, an ftpd passwd file, LDIF or a SQL dump.",
       why="A leaked hash is an offline guessing target: weak and reused passwords fall in minutes, and "
           "the account names sit beside them. Less than a plaintext secret, more than nothing.",
       fix="Remove the file and rewrite history if it holds real accounts; reset the passwords of the "
           "listed accounts; seed test data with generated hashes of random passwords.")
def password_hash_committed(ctx: CheckContext) -> pd.DataFrame:
    f = _sf(ctx)
    return _repo_rollup(ctx, f["category"].eq("hash") & production(f))


# --- CI --------------------------------------------------------------------------------


def _ci(ctx: CheckContext) -> pd.DataFrame:
    return ctx.frame("ci_config")


@check("CI001", "Static cloud credentials in CI", stage=4, item=4, anti_pattern="fm_ci",
       severity="high", inputs=("ci_config",), sources=("git",), controls=("ci",),
       detects="A CI workflow that authenticates to a cloud with stored keys "
               "(aws-access-key-id, credentials_json, ...) instead of OIDC.",
       why="Seed 002: long-lived secrets in CI are the single most common leak; seed 001: "
           "secrets in CI environment variables are visible in build logs and the process table.",
       fix="Use OIDC federation (`permissions: id-token: write` + "
           "`aws-actions/configure-aws-credentials` with `role-to-assume`), delete the stored keys.")
def ci_static_cloud_credentials(ctx: CheckContext) -> pd.DataFrame:
    c = _ci(ctx)
    return emit(c, list_len(c["static_cloud_credentials"]).eq(0), name=c["path"],
                static_cloud_credentials=c["static_cloud_credentials"], uses_oidc=c["uses_oidc"],
                repo=c["repo"])


@check("CI002", "CI exposes all secrets to a job", stage=4, item=4, anti_pattern="ci_env",
       severity="medium", inputs=("ci_config",), sources=("git",), controls=("ci", "least_privilege"),
       detects="`secrets: inherit` or `toJSON(secrets)` in a workflow.",
       why="Every secret of the repository becomes available to the called workflow or step: "
           "scoped, environment-specific secrets stop being scoped.",
       fix="Pass only the named secrets each job needs; use environments with protection rules.")
def ci_secrets_inherit(ctx: CheckContext) -> pd.DataFrame:
    c = _ci(ctx)
    bad = c["secrets_inherit"].astype(bool) | c["to_json_secrets"].astype(bool)
    return emit(c, ~bad, name=c["path"], secrets_inherit=c["secrets_inherit"],
                to_json_secrets=c["to_json_secrets"], repo=c["repo"])


@check("CI003", "CI prints secrets to the build log", stage=4, item=4, anti_pattern="logging",
       severity="high", inputs=("ci_config",), sources=("git",), controls=("log_redaction", "ci"),
       detects="A workflow step that echoes a secret or writes it to a file/env dump.",
       why="Masking is best-effort (base64, substrings and multi-line values escape it): build "
           "logs are read by many.",
       fix="Never echo secrets; pass them to tools via files with 0600 or stdin.")
def ci_secrets_echoed(ctx: CheckContext) -> pd.DataFrame:
    c = _ci(ctx)
    return emit(c, ~c["secrets_echoed"].astype(bool), name=c["path"], secrets_echoed=c["secrets_echoed"],
                repo=c["repo"])


PROD_STATIC = re.compile(r"(?:^|_)(?:PROD|PRODUCTION|PRD)(?:_|$).*(?:KEY|TOKEN|PASSWORD|PASS|SECRET)|"
                         r"(?:KEY|TOKEN|PASSWORD|PASS|SECRET).*(?:^|_)(?:PROD|PRODUCTION|PRD)(?:_|$)",
                         re.IGNORECASE)


@check("CI004", "CI uses static production credentials", stage=4, item=4, anti_pattern="ci_env",
       severity="high", inputs=("ci_config",), sources=("git",), controls=("ci", "env_separation"),
       detects="A workflow referencing stored secrets named like production passwords, keys or "
               "tokens (e.g. `PROD_DB_PASSWORD`).",
       why="Checklist item 4: CI paths must not encourage static prod credentials; a pipeline "
           "holding them is a standing production credential in a third party.",
       fix="Fetch production credentials at deploy time via OIDC to Vault/cloud with an "
           "environment-bound role; delete the stored secret.")
def ci_static_prod_secret(ctx: CheckContext) -> pd.DataFrame:
    c = _ci(ctx)
    refs = c["secret_refs"].map(lambda rs: sorted(r for r in rs if PROD_STATIC.search(r)))
    return emit(c, list_len(refs).eq(0), name=c["path"], prod_secret_refs=refs, uses_oidc=c["uses_oidc"],
                repo=c["repo"])
