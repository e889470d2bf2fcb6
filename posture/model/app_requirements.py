"""The application requirements file: what one service needs from Vault, and how it runs.

``posture policy generate REQUIREMENTS.yaml`` turns it into the service's policy and auth
config (`checks.policy_generate`). Validated like the engagement file: a mistake is one line
``FILE:LINE: field: message`` (exit 2), never a traceback.

Example::

    service: payments-api          # policy name: {service}-{access-level} (seed 001)
    environment: prod              # paths live under <mount>/data/<environment>/
    mount: secret                  # KV v2 mount (default "secret")
    secrets:
      - path: payments/db-password
        access: read               # read | write | list
      - path: payments/            # list: a folder, ends with "/"
        access: list
    runs_on:
      kind: kubernetes             # kubernetes | ci | batch | service
      service_account: payments-api
      namespace: payments

The secrets are *names*, never values: the file has no field that could hold one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from posture.model.bounded_yaml import YamlInputError, load_bounded_yaml
from posture.model.engagement import _line_of, _loc_str, _plain
from posture.model.errors import ConfigError
from posture.model.fsutil import input_text, read_input_file

MAX_REQUIREMENTS_BYTES = 256 * 1024
NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
NAME_RULE = "lowercase letters, digits and '-', 1-63 characters, starting and ending with a letter or digit"
DURATION = re.compile(r"^[1-9][0-9]*[smh]$")
#: A secret path below the environment: plain segments, a trailing "/" for a list, or "/*" as the
#: one explicit glob (the whole folder); no "+", no inner "*", no "..", no templates.
SECRET_PATH = re.compile(r"^(?:[A-Za-z0-9_.@=-]+/)*(?:[A-Za-z0-9_.@=-]+|\*)?$")


def _duration_seconds(text: str) -> int:
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600}[text[-1]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretNeed(_Strict):
    """One secret (or folder) the service uses and what it does with it."""

    path: str = Field(description="Below <mount>/data/<environment>/; a folder ends with '/' (list) or '/*'.")
    access: Literal["read", "write", "list"] = "read"

    @field_validator("path")
    @classmethod
    def _plain_path(cls, v: str) -> str:
        if not v or v.startswith("/") or ".." in v.split("/") or not SECRET_PATH.match(v) or v == "*":
            raise ValueError("a relative path of plain segments (letters, digits, _ . @ = -), a folder "
                             "ending in '/', or a folder ending in '/*'; no '+', '..', '{{' or inner '*'")
        return v

    @model_validator(mode="after")
    def _list_is_a_folder(self) -> SecretNeed:
        if self.access == "list" and not self.path.endswith("/"):
            raise ValueError("access 'list' needs a folder path ending in '/'")
        if self.access != "list" and self.path.endswith("/"):
            raise ValueError(f"access {self.access!r} needs a secret path (a folder ends with '/*')")
        return self


class RunsOn(_Strict):
    """How the service authenticates: the seed's auth method for each way of running.

    ``kubernetes``: a Kubernetes role bound to the service account and namespace; ``ci``: a JWT
    role with bound claims (the CI's OIDC token); ``batch`` and ``service``: AppRole with short
    token and secret-id TTLs and single-use secret ids.
    """

    kind: Literal["kubernetes", "ci", "batch", "service"]
    auth_mount: str | None = Field(None, description="Auth mount path (default: kubernetes, jwt or approle).")
    service_account: str | None = None
    namespace: str | None = None
    audience: str | None = Field(None, description="JWT/Kubernetes audience the token must carry.")
    bound_claims: dict[str, str] = Field(default_factory=dict, description="CI: claims the JWT must carry.")
    user_claim: str = "sub"
    token_ttl: str | None = Field(None, description="e.g. 1h, 15m (default per kind, from the seed).")
    token_max_ttl: str | None = None
    secret_id_ttl: str | None = Field(None, description="AppRole only (default 10m).")

    @field_validator("token_ttl", "token_max_ttl", "secret_id_ttl")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and not DURATION.match(v):
            raise ValueError("a duration such as 10m, 1h or 3600s")
        return v

    @field_validator("auth_mount")
    @classmethod
    def _mount(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$", v):
            raise ValueError("a mount path of letters, digits, '_' and '-' segments")
        return v

    @model_validator(mode="after")
    def _needs(self) -> RunsOn:
        if self.kind == "kubernetes" and not (self.service_account and self.namespace):
            raise ValueError("kind 'kubernetes' needs service_account and namespace")
        if self.kind == "ci" and not self.bound_claims:
            raise ValueError("kind 'ci' needs bound_claims (e.g. repository and ref): an unbound JWT role "
                             "lets any job of the issuer log in")
        if self.kind != "kubernetes" and (self.service_account or self.namespace):
            raise ValueError("service_account and namespace are for kind 'kubernetes'")
        if self.kind not in ("batch", "service") and self.secret_id_ttl:
            raise ValueError("secret_id_ttl is for AppRole (kind 'batch' or 'service')")
        if self.token_ttl and self.token_max_ttl and \
                _duration_seconds(self.token_ttl) > _duration_seconds(self.token_max_ttl):
            raise ValueError("token_ttl is longer than token_max_ttl")
        return self


class AppRequirements(_Strict):
    service: str
    environment: str
    mount: str = "secret"
    namespace: str | None = Field(None, description="Vault namespace (Enterprise/OpenBao namespaces).")
    secrets: list[SecretNeed] = Field(min_length=1)
    runs_on: RunsOn

    @field_validator("service", "environment")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(NAME_RULE)
        return v

    @field_validator("mount")
    @classmethod
    def _mount(cls, v: str) -> str:
        v = v.strip("/")
        if not re.match(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$", v):
            raise ValueError("a mount path of letters, digits, '_' and '-' segments")
        return v

    @model_validator(mode="after")
    def _unique(self) -> AppRequirements:
        seen: set[tuple[str, str]] = set()
        for s in self.secrets:
            if (s.path, s.access) in seen:
                raise ValueError(f"secret {s.path!r} with access {s.access!r} is listed twice")
            seen.add((s.path, s.access))
        return self


def parse_requirements(text: str, path: Path) -> AppRequirements:
    """Validate a requirements document; `ConfigError` ``FILE:LINE: field: message`` on the first problem."""
    try:
        doc = load_bounded_yaml(text, max_depth=16, max_nodes=20_000)
    except YamlInputError as e:
        line = f":{e.line}" if e.line else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {e.message}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}:1: the requirements file must be a mapping with service, environment, "
                          "secrets and runs_on")
    try:
        return AppRequirements.model_validate(_plain(doc))
    except ValidationError as e:
        err = e.errors()[0]
        loc: tuple[Any, ...] = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = _line_of(doc, loc) or 1
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{path}:{line}: {_loc_str(loc)}: {msg}{more}") from None


def load_requirements(path: Path) -> AppRequirements:
    raw = read_input_file(path, MAX_REQUIREMENTS_BYTES, "requirements file")
    return parse_requirements(input_text(path, raw), path)
