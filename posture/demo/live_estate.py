"""One demo run's live estate: the servers, the throw-away folder, the credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posture.model.errors import PostureError


@dataclass
class DemoEstate:
    """The running servers and the throw-away folder that holds the estate."""

    dir: Path
    bao: Any
    moto: Any
    #: The dev server's root token: the client's admin seeds and fixes with it.
    root_token: str
    #: The token bound only to the assessor policy; every collection uses it.
    assessor_token: str = ""
    repos: dict[str, Path] = field(default_factory=dict)
    audit_logs: list[str] = field(default_factory=list)
    cloudtrail_logs: list[str] = field(default_factory=list)
    secret_values: tuple[str, ...] = ()
    handles: dict[str, Any] = field(default_factory=dict)

    def known_secrets(self) -> tuple[str, ...]:
        """Every value no output may contain: the estate's values and both tokens."""
        tokens = tuple(t for t in (self.root_token, self.assessor_token) if t)
        return tuple(dict.fromkeys(self.secret_values + tokens))


def admin_call(estate: DemoEstate, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One OpenBao request as the client's admin (the root token); not 200/204 is an error."""
    import requests

    r = requests.request(
        method,
        f"{estate.bao.address}/v1/{path}",
        json=body,
        headers={"X-Vault-Token": estate.root_token},
        timeout=30,
    )
    if r.status_code not in (200, 204):
        raise PostureError(f"demo: {method} {path} -> HTTP {r.status_code}")
    return r.json() if r.content else None
