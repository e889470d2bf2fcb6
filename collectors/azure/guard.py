"""The Azure collector's read-only guard, at the SDK's HTTP transport.

Every client the collector builds (the credential, the two ARM clients, each
vault's three data-plane clients) sends through `GuardedTransport`, the last
stage of the azure-core pipeline: after retries, redirects and the bearer /
Key Vault challenge policies have built the final request, and before a byte
leaves the process. `ReadOnlyGuard.check` matches (method, path) against one
allow-list, `ALLOWED`; anything else raises `ReadOnlyViolation`:

- Key Vault value operations are simply absent: ``GET /secrets/{name}`` and
  ``/secrets/{name}/{version}`` (getSecret returns the value), backups, key
  export / decrypt / unwrap / sign, certificate downloads, every write.
- The only non-GET is the OAuth token request (``POST /{tenant}/oauth2/v2.0/token``),
  and only to a host that is neither the management endpoint nor a vault.

The same list gives `posture policy azure` its custom role: each rule names
the RBAC action (control plane) or data action (Key Vault) it needs, so a test
can prove the collector issued nothing the printed role lacks.

The transport also checks the shape of every 200 before the SDK parses it
(`MalformedAnswer`): a list operation must answer a JSON object with a
``value`` list, an object operation a JSON object. An HTML page from a proxy
or a body lacking ``value`` would otherwise read as "no items".
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.transport import HttpTransport

from posture.model.errors import ReadOnlyViolation

_SEG = r"[^/]+"
_SCOPE = (rf"(?:/subscriptions/{_SEG}(?:/resourceGroups/{_SEG}(?:/providers/Microsoft\.KeyVault/vaults/{_SEG})?)?"
          rf"|/providers/Microsoft\.Management/managementGroups/{_SEG})?")


@dataclass(frozen=True)
class Rule:
    """One allowed operation: HTTP method, path pattern, the answer's shape, the permission it needs."""

    name: str
    method: str
    path: str
    plane: str  # "management", "data", "identity"
    shape: str  # "list", "object", "token"
    permission: str | None  # RBAC action or data action; None for identity traffic

    @property
    def regex(self) -> re.Pattern[str]:
        return re.compile(rf"^{self.path}/?$", re.IGNORECASE)


ALLOWED: tuple[Rule, ...] = (
    # Azure Resource Manager (https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults,
    # https://learn.microsoft.com/rest/api/authorization/role-assignments, .../role-definitions)
    Rule("Vaults - List By Subscription", "GET", rf"/subscriptions/{_SEG}/providers/Microsoft\.KeyVault/vaults",
         "management", "list", "Microsoft.KeyVault/vaults/read"),
    Rule("Vaults - Get", "GET",
         rf"/subscriptions/{_SEG}/resourceGroups/{_SEG}/providers/Microsoft\.KeyVault/vaults/{_SEG}",
         "management", "object", "Microsoft.KeyVault/vaults/read"),
    Rule("Role Assignments - List For Scope", "GET", rf"{_SCOPE}/providers/Microsoft\.Authorization/roleAssignments",
         "management", "list", "Microsoft.Authorization/roleAssignments/read"),
    Rule("Role Definitions - List", "GET", rf"{_SCOPE}/providers/Microsoft\.Authorization/roleDefinitions",
         "management", "list", "Microsoft.Authorization/roleDefinitions/read"),
    Rule("Role Definitions - Get By Id", "GET",
         rf"{_SCOPE}/providers/Microsoft\.Authorization/roleDefinitions/{_SEG}",
         "management", "object", "Microsoft.Authorization/roleDefinitions/read"),
    # Key Vault data plane, metadata only (https://learn.microsoft.com/rest/api/keyvault/, 7.5)
    Rule("GetSecrets", "GET", r"/secrets", "data", "list", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"),
    Rule("GetSecretVersions", "GET", rf"/secrets/{_SEG}/versions", "data", "list",
         "Microsoft.KeyVault/vaults/secrets/readMetadata/action"),
    Rule("GetKeys", "GET", r"/keys", "data", "list", "Microsoft.KeyVault/vaults/keys/read"),
    Rule("GetKeyVersions", "GET", rf"/keys/{_SEG}/versions", "data", "list", "Microsoft.KeyVault/vaults/keys/read"),
    Rule("GetKeyRotationPolicy", "GET", rf"/keys/{_SEG}/rotationpolicy", "data", "object",
         "Microsoft.KeyVault/vaults/keyrotationpolicies/read"),
    Rule("GetCertificates", "GET", r"/certificates", "data", "list", "Microsoft.KeyVault/vaults/certificates/read"),
    Rule("GetCertificatePolicy", "GET", rf"/certificates/{_SEG}/policy", "data", "object",
         "Microsoft.KeyVault/vaults/certificates/read"),
    # Microsoft Entra ID token acquisition (client credentials, workload identity, managed identity)
    Rule("OpenID configuration", "GET", rf"/{_SEG}/v2\.0/\.well-known/openid-configuration", "identity", "token", None),
    Rule("Token request", "POST", rf"/{_SEG}/oauth2(?:/v2\.0)?/token", "identity", "token", None),
    Rule("Managed identity token", "GET", r"/metadata/identity/oauth2/token", "identity", "token", None),
    Rule("App Service managed identity token", "GET", r"/msi/token", "identity", "token", None),
)

#: Operations that return or move secret material, named in the refusal (all are outside ALLOWED anyway).
VALUE_OPERATIONS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx, re.IGNORECASE)) for name, rx in (
        ("getSecret (returns the secret value)", rf"^GET /secrets/{_SEG}(?:/{_SEG})?/?$"),
        ("getDeletedSecret / recovery", r"^\w+ /deletedsecrets/"),
        ("backup", r"^POST /(?:secrets|keys|certificates)/[^/]+/backup/?$"),
        ("key export (returns private key material)", r"^POST /keys/[^/]+(?:/[^/]+)?/export/?$"),
        ("key decrypt / unwrap / sign", r"^POST /keys/[^/]+(?:/[^/]+)?/(?:decrypt|unwrapkey|sign)/?$"),
        ("getKey (JSON Web Key, not needed)", rf"^GET /keys/{_SEG}(?:/{_SEG})?/?$"),
        ("getCertificate (certificate body, not needed)", rf"^GET /certificates/{_SEG}(?:/{_SEG})?/?$"),
    ))


class MalformedAnswer(Exception):
    """A 200 that is not the shape its operation answers (raised before the SDK parses it)."""


def _path(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.netloc.lower(), parts.path or "/"


class ReadOnlyGuard:
    """Refuses every request outside `ALLOWED`; records what it let through.

    ``data_hosts`` / ``management_hosts`` name the hosts (``host:port``) that
    may never receive a token request; token traffic goes anywhere else (the
    authority host, IMDS, the workload identity endpoint).
    """

    def __init__(self) -> None:
        self.management_hosts: set[str] = set()
        self.data_hosts: set[str] = set()
        self.issued: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add_host(self, url: str, plane: str) -> None:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            (self.management_hosts if plane == "management" else self.data_hosts).add(host)

    def check(self, method: str, url: str) -> Rule:
        host, path = _path(url)
        method = method.upper()
        line = f"{method} {path}"
        for rule in ALLOWED:
            if rule.method == method and rule.regex.match(path):
                if rule.plane == "identity" and (host in self.management_hosts or host in self.data_hosts):
                    break  # token traffic never goes to a resource host
                with self._lock:
                    self.issued[rule.name] += 1
                return rule
        named = next((name for name, rx in VALUE_OPERATIONS if rx.match(line)), None)
        what = f" ({named})" if named else ""
        raise ReadOnlyViolation(f"azure guard refused {method} {host}{path}{what}: not in the read-only allow-list")

    def permissions(self) -> set[str]:
        """RBAC actions and data actions of every operation that passed."""
        with self._lock:
            names = set(self.issued)
        return {r.permission for r in ALLOWED if r.name in names and r.permission}


def shape_problem(rule: Rule, body: bytes) -> str | None:
    """Why a 200 ``body`` is not the shape ``rule``'s operation answers, or None."""
    if rule.shape == "token":
        return None
    try:
        doc = json.loads(body or b"null")
    except ValueError:
        return "the answer is not JSON (an HTML page: a proxy, a captive portal or a wrong endpoint?)"
    if not isinstance(doc, dict):
        return "the answer is not a JSON object"
    if rule.shape == "list" and not isinstance(doc.get("value"), list):
        return "the answer has no 'value' list"
    return None


class GuardedTransport(HttpTransport):
    """An azure-core transport that asks the guard before sending and checks 200s before parsing."""

    def __init__(self, inner: HttpTransport, guard: ReadOnlyGuard) -> None:
        self.inner = inner
        self.guard = guard

    def __enter__(self) -> GuardedTransport:  # noqa: PYI034 - azure-core's HttpTransport contract
        self.inner.__enter__()
        return self

    def __exit__(self, *args: object) -> None:
        self.inner.__exit__(*args)

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def sleep(self, duration: float) -> None:
        self.inner.sleep(duration)

    def send(self, request: Any, **kwargs: Any) -> Any:
        rule = self.guard.check(request.method, request.url)
        response = self.inner.send(request, **kwargs)
        if response.status_code == 200:
            problem = shape_problem(rule, response.body())
            if problem:
                raise MalformedAnswer(f"{rule.name}: {problem}")
        return response
