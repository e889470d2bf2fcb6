"""Rules over files of HEAD's tree: build/deploy files, CI workflows, hygiene files.

Each rule reads one file's text and returns `RuleHit` rows (location, rule
name, variable name and, where a literal is involved, the literal so the
caller can fingerprint it and drop it). CI files also yield a `CiFacts`. The
rules are deliberately structural (YAML parsed, Dockerfile instructions
parsed) so an OIDC workflow or a SealedSecret is told apart from a static key
or a plain Secret, rather than matched by keywords.
"""

from __future__ import annotations

import base64
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from posture.model.bounded_yaml import load_bounded_yaml
from posture.model.secretlike import is_reference, is_sample_value, is_secret_name, looks_real, secret_pair

SCANNER_NAMES = (
    "gitleaks", "trufflehog", "detect-secrets", "ggshield", "git-secrets", "talisman",
    "secretlint", "kingfisher", "secret-detection", "secret_detection", "noseyparker",
)


@dataclass
class RuleHit:
    """One file-rule match: where, which rule, the variable name; the value lives only in memory."""

    category: str
    detector: str
    path: str
    line: int | None
    message: str
    variable: str | None = None
    value: str | None = None  # fingerprinted by the caller, never stored


@dataclass
class CiFacts:
    """What one CI configuration file says about credentials: OIDC federation vs static cloud keys."""

    path: str
    provider: str
    uses_oidc: bool = False
    oidc_providers: list[str] = field(default_factory=list)
    id_token_write: bool = False
    static_cloud_credentials: list[str] = field(default_factory=list)
    secrets_inherit: bool = False
    to_json_secrets: bool = False
    secrets_echoed: bool = False
    secret_scanners: list[str] = field(default_factory=list)
    secret_refs: list[str] = field(default_factory=list)


def load_yaml_docs(text: str) -> list[Any]:
    """The documents of a repository's YAML file; none if it is broken or could explode (alias bomb)."""
    try:
        docs = load_bounded_yaml(text, max_depth=64, max_nodes=1_000_000,
                                 allow_duplicate_keys=True, all_documents=True)
        return [d for d in docs if d is not None]
    except Exception:  # noqa: BLE001 - a broken YAML file is not a finding and not a crash
        return []


def _line(node: Any, key: Any) -> int | None:
    try:
        if isinstance(node, CommentedMap):
            return node.lc.key(key)[0] + 1
        if isinstance(node, CommentedSeq):
            return node.lc.item(key)[0] + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    return None


def _text_line(text: str, pattern: str) -> int | None:
    for i, line in enumerate(text.splitlines(), start=1):
        if pattern in line:
            return i
    return None


# --- Dockerfile ----------------------------------------------------------------

SENSITIVE_COPY = re.compile(
    r"(^|/)(\.env(\.[\w.-]+)?|id_rsa|id_ed25519|\.npmrc|\.pypirc|\.git-credentials|\.pgpass|credentials(\.json)?"
    r"|[\w.-]+\.(pem|key|p12|pfx|jks))$"
)


def dockerfile_rules(path: str, text: str) -> list[RuleHit]:
    """Dockerfiles / Containerfiles: ``ENV``/``ARG`` literals baked into the image, ``COPY`` of secret files."""
    hits: list[RuleHit] = []
    logical: list[tuple[int, str]] = []
    buf, start = "", 0
    for i, line in enumerate(text.splitlines(), start=1):
        if not buf:
            start = i
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        logical.append((start, buf.strip()))
        buf = ""
    for lineno, instr in logical:
        word, _, rest = instr.partition(" ")
        word = word.upper()
        if word in ("ENV", "ARG"):
            for name, value in _docker_assignments(word, rest):
                if value is not None and secret_pair(name, value):
                    hits.append(RuleHit(
                        "dockerfile", f"dockerfile-secret-{word.lower()}", path, lineno,
                        f"{word} {name} has a literal value baked into the image",
                        variable=name, value=value,
                    ))
        elif word in ("COPY", "ADD"):
            args = [a for a in rest.split() if not a.startswith("--")]
            for src in args[:-1]:
                if SENSITIVE_COPY.search(src.strip("\"'")):
                    hits.append(RuleHit(
                        "dockerfile", "dockerfile-copy-secret-file", path, lineno,
                        f"{word} copies {src} into the image", variable=src,
                    ))
    return hits


def _docker_assignments(word: str, rest: str) -> list[tuple[str, str | None]]:
    rest = rest.strip()
    if "=" not in rest.split(" ", 1)[0]:
        if word == "ENV" and " " in rest:  # legacy form: ENV NAME value
            name, value = rest.split(" ", 1)
            return [(name, value.strip())]
        return [(rest.split(" ", 1)[0], None)] if rest else []
    out: list[tuple[str, str | None]] = []
    for m in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|\'[^\']*\'|\S*))?', rest):
        value = m.group(2)
        out.append((m.group(1), value.strip("\"'") if value is not None else None))
    return out


# --- docker-compose ----------------------------------------------------------------


def compose_rules(path: str, text: str) -> list[RuleHit]:
    """docker-compose files: literal credentials in a service's ``environment`` (map or list form)."""
    hits: list[RuleHit] = []
    for doc in load_yaml_docs(text):
        services = doc.get("services") if isinstance(doc, dict) else None
        if not isinstance(services, dict):
            continue
        for svc_name, svc in services.items():
            env = svc.get("environment") if isinstance(svc, dict) else None
            items: list[tuple[str, Any, int | None]] = []
            if isinstance(env, dict):
                items = [(str(k), v, _line(env, k)) for k, v in env.items()]
            elif isinstance(env, list):
                for i, entry in enumerate(env):
                    k, sep, v = str(entry).partition("=")
                    items.append((k, v if sep else None, _line(env, i)))
            for name, value, line in items:
                if isinstance(value, str) and secret_pair(name, value):
                    hits.append(RuleHit(
                        "compose", "compose-env-literal", path, line,
                        f"service {svc_name}: environment {name} is a literal",
                        variable=name, value=value,
                    ))
    return hits


# --- Kubernetes and Helm ---------------------------------------------------------------


def k8s_rules(path: str, text: str) -> list[RuleHit]:
    """Plain ``Secret`` manifests with data; SealedSecret / ExternalSecret / SOPS are fine."""
    hits: list[RuleHit] = []
    for doc in load_yaml_docs(text):
        if not isinstance(doc, dict) or doc.get("kind") != "Secret":
            continue
        if "sops" in doc:
            continue  # SOPS-encrypted: values are ciphertext
        name = (doc.get("metadata") or {}).get("name", "?")
        found = 0
        for section in ("data", "stringData"):
            data = doc.get(section)
            if not isinstance(data, dict):
                continue
            for key, value in data.items():
                if value is None or str(value) == "":
                    continue
                raw = str(value)
                if section == "data":
                    try:
                        raw = base64.b64decode(raw, validate=True).decode("utf-8", "replace")
                    except ValueError:
                        pass
                if raw.startswith("ENC[") or not raw.strip() or is_reference(raw) or is_sample_value(raw):
                    continue
                found += 1
                if is_secret_name(str(key)) or looks_real(raw):
                    hits.append(RuleHit(
                        "k8s", "k8s-secret-manifest", path, _line(data, key),
                        f"Secret {name} commits {section}.{key}", variable=str(key), value=raw,
                    ))
        if found and not any(h.path == path and name in h.message for h in hits):
            hits.append(RuleHit("k8s", "k8s-secret-manifest", path, None,
                                f"Secret {name} commits {found} value(s) in plain data"))
    return hits


SAFE_KINDS = ("SealedSecret", "ExternalSecret", "ClusterExternalSecret", "SecretProviderClass", "VaultStaticSecret")


def is_encrypted_manifest(text: str) -> bool:
    """SealedSecret / ExternalSecret / SOPS: what is committed is ciphertext or a reference.

    Every document must name a safe kind or hold a ``sops`` key, so a text
    containing neither word is not one, without parsing it.
    """
    if "sops" not in text and not any(kind in text for kind in SAFE_KINDS):
        return False
    docs = [d for d in load_yaml_docs(text) if isinstance(d, dict)]
    return bool(docs) and all(d.get("kind") in SAFE_KINDS or "sops" in d for d in docs)


def is_helm_values(path: str) -> bool:
    """Helm chart values files: ``values.yaml`` and ``values-<env>.yaml`` / ``values.<env>.yml``."""
    base = path.rsplit("/", 1)[-1]
    return bool(re.match(r"^values([.-][\w.-]+)?\.ya?ml$", base))


def helm_rules(path: str, text: str) -> list[RuleHit]:
    """Helm ``values*.yaml``: literal credentials at any depth (``database.password: x``)."""
    hits: list[RuleHit] = []

    def walk(node: Any, trail: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                key = f"{trail}.{k}" if trail else str(k)
                if isinstance(v, str) and secret_pair(str(k), v):
                    hits.append(RuleHit(
                        "helm", "helm-values-literal", path, _line(node, k),
                        f"Helm value {key} is a literal", variable=key, value=v,
                    ))
                else:
                    walk(v, key)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{trail}[{i}]")

    for doc in load_yaml_docs(text):
        walk(doc, "")
    return hits


# --- Hygiene files -------------------------------------------------------------------


def env_example_rules(path: str, text: str) -> list[RuleHit]:
    """``.env.example`` / ``.sample`` / ``.template``: a real-looking value where a placeholder belongs."""
    hits = []
    for i, line in enumerate(text.splitlines(), start=1):
        m = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$", line)
        if not m or line.lstrip().startswith("#"):
            continue
        name, value = m.group(1), m.group(2).split(" #", 1)[0].strip()
        if is_secret_name(name) and looks_real(value) and not is_sample_value(value):
            hits.append(RuleHit(
                "file", "env-example-real-values", path, i,
                f"{name} in an example file holds a real-looking value",
                variable=name, value=value.strip("'\""),
            ))
    return hits


def env_ignored(gitignore: str | None) -> bool:
    """Would the root .gitignore keep a top-level ``.env`` out of commits?"""
    if not gitignore:
        return False
    ignored = False
    for raw in gitignore.splitlines():
        pat = raw.strip()
        if not pat or pat.startswith("#"):
            continue
        negate = pat.startswith("!")
        pat = pat.lstrip("!").lstrip("/").removeprefix("**/").rstrip("/")
        if fnmatch.fnmatchcase(".env", pat):
            ignored = not negate
    return ignored


def precommit_scanners(text: str) -> list[str]:
    """``.pre-commit-config.yaml``: which secret scanners run as hooks."""
    found = set()
    for doc in load_yaml_docs(text):
        for repo in (doc.get("repos") or []) if isinstance(doc, dict) else []:
            if not isinstance(repo, dict):
                continue
            names = [str(repo.get("repo", ""))] + [
                str(h.get("id", "")) for h in repo.get("hooks") or [] if isinstance(h, dict)
            ]
            for n in names:
                found.update(s for s in SCANNER_NAMES if s in n.lower())
    return sorted(found)


# --- CI ---------------------------------------------------------------------------

SECRET_REF = re.compile(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)")
TO_JSON = re.compile(r"toJSON\(\s*secrets\s*\)", re.IGNORECASE)
ECHO = re.compile(r"\b(echo|printf|print|cat\s*<<|tee|Write-Host|Write-Output)\b")
VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# Environment variables that carry long-lived cloud credentials into a job.
STATIC_ENV = frozenset({
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOOGLE_CREDENTIALS", "GCLOUD_SERVICE_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON", "ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET", "AZURE_CREDENTIALS",
})


def _echo_hits(script: str, secret_vars: set[str]) -> list[str]:
    """Lines of a run/script block that print a secret expression or a secret variable."""
    echoed = []
    for line in script.splitlines():
        if not ECHO.search(line):
            continue
        if "secrets." in line or any(v in secret_vars for v in VAR_REF.findall(line)):
            echoed.append(line.strip())
    return echoed


def github_actions_rules(path: str, text: str) -> tuple[CiFacts, list[RuleHit]]:
    """GitHub Actions workflows: static cloud keys vs OIDC, ``secrets: inherit``, ``toJSON(secrets)``, echoes."""
    facts = CiFacts(path=path, provider="github_actions")
    hits: list[RuleHit] = []
    docs = load_yaml_docs(text)
    wf = docs[0] if docs and isinstance(docs[0], dict) else {}
    facts.secret_refs = sorted(set(SECRET_REF.findall(text)) - {"GITHUB_TOKEN"})
    if TO_JSON.search(text):
        facts.to_json_secrets = True
        hits.append(RuleHit("ci", "ci-tojson-secrets", path, _text_line(text, "toJSON(") or
                            _text_line(text, "tojson("), "toJSON(secrets) exposes every secret to the job"))

    def perms_id_token(node: Any) -> bool:
        p = node.get("permissions") if isinstance(node, dict) else None
        return (isinstance(p, dict) and str(p.get("id-token", "")) == "write") or p == "write-all"

    wf_idtoken = perms_id_token(wf)
    wf_env = wf.get("env") if isinstance(wf.get("env"), dict) else {}
    for k, v in wf_env.items():
        if str(k) in STATIC_ENV and "secrets." in str(v):
            _static(facts, hits, path, _line(wf_env, k), str(k), f"workflow env {k} from a stored secret")
    jobs = wf.get("jobs") if isinstance(wf.get("jobs"), dict) else {}
    for job_name, job in jobs.items():
        if not isinstance(job, dict):
            continue
        job_idtoken = wf_idtoken or perms_id_token(job)
        if str(job.get("secrets", "")) == "inherit":
            facts.secrets_inherit = True
            hits.append(RuleHit("ci", "ci-secrets-inherit", path, _line(job, "secrets"),
                                f"job {job_name} passes every secret to a reusable workflow"))
        job_env = job.get("env") if isinstance(job.get("env"), dict) else {}
        for k, v in job_env.items():
            if str(k) in STATIC_ENV and "secrets." in str(v):
                _static(facts, hits, path, _line(job_env, k), str(k), f"job {job_name}: env {k} from a stored secret")
        for i, step in enumerate(job.get("steps") or []):
            if not isinstance(step, dict):
                continue
            uses = str(step.get("uses", ""))
            with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
            line = _line(job["steps"], i)
            if uses.startswith("aws-actions/configure-aws-credentials"):
                if "aws-access-key-id" in with_ or "aws-secret-access-key" in with_:
                    _static(facts, hits, path, line, "aws-access-key-id", f"job {job_name}: static AWS keys")
                elif "role-to-assume" in with_:
                    _oidc(facts, "aws", job_idtoken)
            elif uses.startswith("google-github-actions/auth"):
                if "credentials_json" in with_:
                    _static(facts, hits, path, line, "credentials_json", f"job {job_name}: GCP key JSON")
                elif "workload_identity_provider" in with_:
                    _oidc(facts, "gcp", job_idtoken)
            elif uses.startswith("azure/login"):
                if "creds" in with_:
                    _static(facts, hits, path, line, "creds", f"job {job_name}: Azure service principal secret")
                elif "client-id" in with_ and "tenant-id" in with_:
                    _oidc(facts, "azure", job_idtoken)
            elif uses.startswith("hashicorp/vault-action") and str(with_.get("method", "")) == "jwt":
                _oidc(facts, "vault", job_idtoken)
            step_env = step.get("env") if isinstance(step.get("env"), dict) else {}
            for k, v in step_env.items():
                if str(k) in STATIC_ENV and "secrets." in str(v):
                    _static(facts, hits, path, _line(step_env, k), str(k), f"env {k} from a stored secret")
            low = (uses + " " + str(step.get("run", ""))).lower()
            facts.secret_scanners += [s for s in SCANNER_NAMES if s in low]
            run = step.get("run")
            if isinstance(run, str):
                secret_vars = {
                    str(k) for m in (wf_env, job_env, step_env) for k, v in m.items() if "secrets." in str(v)
                }
                for echoed in _echo_hits(run, secret_vars):
                    facts.secrets_echoed = True
                    hits.append(RuleHit("ci", "ci-secret-echoed", path, _text_line(text, echoed) or line,
                                        f"job {job_name}: a run step prints a secret"))
    facts.secret_scanners = sorted(set(facts.secret_scanners))
    facts.static_cloud_credentials = sorted(set(facts.static_cloud_credentials))
    return facts, hits


def _static(facts: CiFacts, hits: list[RuleHit], path: str, line: int | None, what: str, msg: str) -> None:
    facts.static_cloud_credentials.append(what)
    hits.append(RuleHit("ci", "ci-static-cloud-credentials", path, line, msg, variable=what))


def _oidc(facts: CiFacts, provider: str, id_token_write: bool) -> None:
    facts.uses_oidc = True
    facts.id_token_write = facts.id_token_write or id_token_write
    if provider not in facts.oidc_providers:
        facts.oidc_providers.append(provider)


def gitlab_ci_rules(path: str, text: str) -> tuple[CiFacts, list[RuleHit]]:
    """GitLab CI files: static cloud keys, ``id_tokens`` (OIDC), literal variables, echoed secrets."""
    facts = CiFacts(path=path, provider="gitlab_ci")
    hits: list[RuleHit] = []
    docs = load_yaml_docs(text)
    doc = docs[0] if docs and isinstance(docs[0], dict) else {}
    refs: set[str] = set()
    top_vars = doc.get("variables") if isinstance(doc.get("variables"), dict) else {}
    includes = doc.get("include") or []
    includes = includes if isinstance(includes, list) else [includes]
    for inc in includes:
        s = str(inc).lower()
        facts.secret_scanners += [n for n in SCANNER_NAMES if n in s]
    for name, job in doc.items():
        if not isinstance(job, dict) or str(name) in ("variables", "include", "stages", "default", "workflow"):
            continue
        if isinstance(job.get("id_tokens"), dict) and job["id_tokens"]:
            facts.uses_oidc = True
            facts.id_token_write = True
            if "gitlab" not in facts.oidc_providers:
                facts.oidc_providers.append("gitlab")
        job_vars = job.get("variables") if isinstance(job.get("variables"), dict) else {}
        script_lines: list[str] = []
        for key in ("before_script", "script", "after_script"):
            part = job.get(key)
            script_lines += [str(x) for x in part] if isinstance(part, list) else ([str(part)] if part else [])
        script = "\n".join(script_lines)
        low = (script + " " + str(job.get("image", ""))).lower()
        facts.secret_scanners += [s for s in SCANNER_NAMES if s in low]
        used = set(VAR_REF.findall(script)) | {str(k) for k in {**top_vars, **job_vars}}
        for var in sorted(used):
            if var in STATIC_ENV:
                _static(facts, hits, path, _text_line(text, var), var, f"job {name}: static cloud key {var}")
        secret_vars = {v for v in VAR_REF.findall(script) if is_secret_name(v) and not v.startswith("CI_")}
        refs |= secret_vars
        for echoed in _echo_hits(script, secret_vars):
            facts.secrets_echoed = True
            hits.append(RuleHit("ci", "ci-secret-echoed", path, _text_line(text, echoed),
                                f"job {name}: a script line prints a secret variable"))
        for k, v in job_vars.items():
            if isinstance(v, str) and secret_pair(str(k), v):
                hits.append(RuleHit("ci", "ci-variable-literal", path, _line(job_vars, k),
                                    f"job {name}: variable {k} is a literal", variable=str(k), value=v))
    for k, v in top_vars.items():
        if isinstance(v, str) and secret_pair(str(k), v):
            hits.append(RuleHit("ci", "ci-variable-literal", path, _line(top_vars, k),
                                f"variable {k} is a literal", variable=str(k), value=v))
    facts.secret_refs = sorted(refs)
    facts.secret_scanners = sorted(set(facts.secret_scanners))
    facts.static_cloud_credentials = sorted(set(facts.static_cloud_credentials))
    return facts, hits


def is_github_workflow(path: str) -> bool:
    """GitHub Actions workflows: ``.github/workflows/*.yml|yaml``."""
    return path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml"))


def is_gitlab_ci(path: str) -> bool:
    """GitLab CI: ``.gitlab-ci.yml`` and included ``*.gitlab-ci.yml|yaml`` files."""
    return path == ".gitlab-ci.yml" or (path.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml")))


def is_compose(path: str) -> bool:
    """Docker Compose files: ``compose.yaml``, ``docker-compose[.-<variant>].yml``."""
    base = path.rsplit("/", 1)[-1]
    return bool(re.match(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$", base))


def is_dockerfile(path: str) -> bool:
    """Container build files: ``Dockerfile``, ``Dockerfile.<variant>``, ``*.Dockerfile``, ``Containerfile``."""
    base = path.rsplit("/", 1)[-1]
    return base == "Dockerfile" or base.startswith("Dockerfile.") or base.endswith(".Dockerfile") \
        or base == "Containerfile"


def is_k8s_candidate(path: str) -> bool:
    """YAML that may hold Kubernetes manifests: any ``*.yaml|yml`` but CI workflows and Compose files."""
    return path.endswith((".yaml", ".yml")) and not is_github_workflow(path) and not is_compose(path)
