"""Policy and auth config from an application requirements file (`posture.model.app_requirements`).

The method's patterns, from seed 001 ("Secrets Vault Manager", *Auth Methods* and *Policy
Design*), each applied as written there:

- policy name ``{service}-{access-level}`` ("Policy naming convention: {service}-{access-level}
  (e.g., payment-service-read, api-gateway-admin)"); paths with path-based granularity under the
  environment (``secret/data/production/payment/*``: here ``<mount>/data/<environment>/<path>``,
  one exact path per secret unless the file itself names a ``folder/*``);
- batch jobs and services: AppRole, ``token_ttl=1h token_max_ttl=4h secret_id_num_uses=1
  secret_id_ttl=10m`` ("AppRole - Machine-to-machine authentication for services and batch jobs");
- Kubernetes: a role bound to the service account and its namespace, ``ttl=1h``
  (``bound_service_account_names``, ``bound_service_account_namespaces``);
- CI: a JWT role with bound claims (the seed's "Eliminate long-lived secrets in CI by using OIDC
  federation", ``method: jwt``, an audience), and a short token: seed 002 "issues credentials
  valid for minutes, not years" - 15 minutes, at most one hour.

The seed writes ``policies=`` and ``ttl=``; the payloads use the current parameter names
``token_policies`` and ``token_ttl`` (the others are their deprecated aliases, same effect).
Pure: requirements in, `GeneratedConfig` (HCL, API payloads, CLI commands) out.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from checks.policy_suggest import access_level, render_hcl
from posture.model.app_requirements import AppRequirements

APPROLE_DEFAULTS = {"token_ttl": "1h", "token_max_ttl": "4h", "secret_id_ttl": "10m", "secret_id_num_uses": 1}
KUBERNETES_DEFAULTS = {"token_ttl": "1h", "token_max_ttl": "4h"}
JWT_DEFAULTS = {"token_ttl": "15m", "token_max_ttl": "1h"}
CAPABILITIES = {"read": ("read",), "write": ("create", "update"), "list": ("list",)}
DEFAULT_MOUNT = {"batch": "approle", "service": "approle", "kubernetes": "kubernetes", "ci": "jwt"}


@dataclass(frozen=True)
class ApiStep:
    """One request to apply: ``method`` on ``/v1/<path>`` with a JSON ``body``."""

    method: str
    path: str
    body: dict[str, Any]
    comment: str = ""


@dataclass
class GeneratedConfig:
    service: str
    environment: str
    policy_name: str
    policy_hcl: str
    rules: dict[str, tuple[str, ...]]
    auth_kind: str
    auth_mount: str
    role_name: str
    steps: list[ApiStep]
    prerequisites: list[str] = field(default_factory=list)
    namespace: str | None = None

    def payload(self) -> dict[str, Any]:
        """Everything as one JSON document (the API requests in order)."""
        return {
            "service": self.service, "environment": self.environment, "policy_name": self.policy_name,
            "policy_hcl": self.policy_hcl, "namespace": self.namespace, "auth_kind": self.auth_kind,
            "auth_mount": self.auth_mount, "role_name": self.role_name, "prerequisites": self.prerequisites,
            "requests": [{"method": s.method, "path": f"/v1/{s.path}", "body": s.body, "comment": s.comment}
                         for s in self.steps],
        }

    def cli(self, binary: str = "vault") -> str:
        """The same as Vault/OpenBao CLI commands (``binary`` ``vault`` or ``bao``)."""
        ns = f" -namespace={shlex.quote(self.namespace)}" if self.namespace else ""
        lines = [(f"# {self.service} ({self.environment}): policy {self.policy_name}, "
                 f"{self.auth_kind} role {self.role_name} on auth/{self.auth_mount}")]
        lines += [f"# prerequisite: {p}" for p in self.prerequisites]
        lines += [f"{binary} policy write{ns} {shlex.quote(self.policy_name)} - <<'EOF'",
                  self.policy_hcl.rstrip("\n"), "EOF"]
        for s in self.steps[1:]:
            if s.comment:
                lines.append(f"# {s.comment}")
            # "-" reads the request body as JSON from stdin: maps and lists arrive exactly as in the API request
            lines += [f"{binary} write{ns} {shlex.quote(s.path)} - <<'EOF'", json.dumps(s.body, indent=2), "EOF"]
        return "\n".join(lines) + "\n"


def policy_rules(req: AppRequirements) -> dict[str, tuple[str, ...]]:
    """Path -> capabilities: ``<mount>/data/<env>/<path>`` for secrets, ``metadata/`` for lists."""
    rules: dict[str, set[str]] = {}
    for s in req.secrets:
        kind = "metadata" if s.access == "list" else "data"
        path = f"{req.mount}/{kind}/{req.environment}/{s.path}"
        rules.setdefault(path, set()).update(CAPABILITIES[s.access])
    return {p: tuple(sorted(c)) for p, c in sorted(rules.items())}


def generate(req: AppRequirements, source: str = "requirements file") -> GeneratedConfig:
    """The policy and the auth role of one requirements document."""
    rules = policy_rules(req)
    level = access_level(c for caps in rules.values() for c in caps)
    name = f"{req.service}-{level}"
    hcl = render_hcl(name, rules, [f"{req.service} in {req.environment}, generated from {source}",
                                   "least privilege: one path per secret the service declared"])
    r = req.runs_on
    mount = r.auth_mount or DEFAULT_MOUNT[r.kind]
    steps = [ApiStep("PUT", f"sys/policies/acl/{name}", {"policy": hcl}, "the policy")]
    method = DEFAULT_MOUNT[r.kind]
    prereq = [f"the {method} auth method is enabled at auth/{mount} (auth enable -path={mount} {method})"]
    role = req.service
    if r.kind in ("batch", "service"):
        body: dict[str, Any] = {
            "token_policies": [name], "token_ttl": r.token_ttl or APPROLE_DEFAULTS["token_ttl"],
            "token_max_ttl": r.token_max_ttl or APPROLE_DEFAULTS["token_max_ttl"],
            "secret_id_ttl": r.secret_id_ttl or APPROLE_DEFAULTS["secret_id_ttl"],
            "secret_id_num_uses": APPROLE_DEFAULTS["secret_id_num_uses"], "bind_secret_id": True,
            "token_type": "service",
        }
        comment = (f"AppRole for a {r.kind}: single-use secret ids, short token and secret-id TTLs (seed 001); "
                   f"deliver the secret id response-wrapped")
    elif r.kind == "kubernetes":
        body = {
            "bound_service_account_names": [r.service_account], "bound_service_account_namespaces": [r.namespace],
            "token_policies": [name], "token_ttl": r.token_ttl or KUBERNETES_DEFAULTS["token_ttl"],
            "token_max_ttl": r.token_max_ttl or KUBERNETES_DEFAULTS["token_max_ttl"],
        }
        if r.audience:
            body["audience"] = r.audience
        comment = "Kubernetes role bound to the service account and its namespace (seed 001)"
        prereq.append(f"auth/{mount}/config names the cluster (kubernetes_host, CA) and can call TokenReview")
    else:
        body = {
            "role_type": "jwt", "user_claim": r.user_claim, "bound_claims": dict(sorted(r.bound_claims.items())),
            "bound_claims_type": "string", "token_policies": [name],
            "token_ttl": r.token_ttl or JWT_DEFAULTS["token_ttl"],
            "token_max_ttl": r.token_max_ttl or JWT_DEFAULTS["token_max_ttl"], "token_type": "service",
        }
        if r.audience:
            body["bound_audiences"] = [r.audience]
        comment = "JWT role for CI: the job's OIDC token, bound claims, a token that outlives no job (seeds 001, 002)"
        prereq.append(f"auth/{mount}/config trusts the CI's issuer (oidc_discovery_url or jwt_validation_pubkeys, "
                      "bound_issuer)")
    steps.append(ApiStep("POST", f"auth/{mount}/role/{role}", body, comment))
    return GeneratedConfig(service=req.service, environment=req.environment, policy_name=name, policy_hcl=hcl,
                           rules=rules, auth_kind=r.kind, auth_mount=mount, role_name=role, steps=steps,
                           prerequisites=prereq, namespace=req.namespace)
