"""Key Vault data plane, metadata only: secrets, keys and certificates of one vault.

Operations (Key Vault REST API 7.5, https://learn.microsoft.com/rest/api/keyvault/):
``GetSecrets`` and ``GetSecretVersions`` (attributes, content type, tags; never
the value), ``GetKeys``, ``GetKeyVersions`` and ``GetKeyRotationPolicy``,
``GetCertificates`` and ``GetCertificatePolicy``. The SDK calls used are the
``list_properties_of_*`` and ``get_*_policy`` ones; ``get_secret``,
``get_key`` and ``get_certificate`` are never called, and the guard refuses
them if anything tried.

Dates: a listing shows the *current* version's attributes, so its ``created``
is when the value was last set (``last_rotated_at``); ``updated`` also moves on
a tag edit and is kept apart; the oldest version's ``created`` is the item's
``created_at``. Items Key Vault manages for a certificate (``managed: true``:
the certificate's key and its PFX secret) are represented by the certificate
row, whose renewal rotates them; they are not listed twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from collectors.azure.calls import AzureCalls
from posture.model.records import Certificate, Key, Secret

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T.*)?$", re.IGNORECASE)


def duration_days(iso: str | None) -> int | None:
    """Whole days of an ISO 8601 duration as Key Vault writes them (P90D, P3M, P1Y, P2W); None if not one."""
    m = _DURATION.match(iso or "")
    if not m or not any(m.groups()):
        return None
    y, mo, w, d = (int(g or 0) for g in m.groups())
    return y * 365 + mo * 30 + w * 7 + d


def _tags(t: dict[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (t or {}).items()}


def _oldest(versions: list[Any]) -> datetime | None:
    created = [v.created_on for v in versions if getattr(v, "created_on", None)]
    return min(created) if created else None


class VaultReader:
    """Reads one vault's data plane with its three guarded clients."""

    def __init__(self, calls: AzureCalls, vault: Any, sub: str, clients: dict[str, Any]) -> None:
        self.calls = calls
        self.vault = vault
        self.sub = sub
        self.secrets, self.keys, self.certificates = clients["secrets"], clients["keys"], clients["certificates"]
        self.base = vault.id
        self.url = str(vault.properties.vault_uri).rstrip("/")

    def _common(self) -> dict[str, Any]:
        return {"store": self.calls.store.name, "source": "azure", "account": self.sub, "region": self.vault.location}

    # --- secrets -----------------------------------------------------------------------------

    def read_secrets(self) -> None:
        scope = f"{self.base}/secrets/"
        items, _ = self.calls.pages(self.secrets.list_properties_of_secrets, scope=scope, operation="GetSecrets",
                                    tables=["secret"], service="keyvault", what=self.vault.name)
        for s in items:
            if getattr(s, "managed", None):
                continue
            self.calls.submit(self._secret, s)

    def _secret(self, s: Any) -> None:
        sid = f"{self.base}/secrets/{s.name}"
        versions, complete = self.calls.pages(lambda: self.secrets.list_properties_of_secret_versions(s.name),
                                              scope=sid, operation="GetSecretVersions", tables=["secret"],
                                              service="keyvault", what=f"{self.vault.name}/{s.name}")
        self.calls.sink.add(Secret(
            id=sid, kind="azure_keyvault_secret", path=f"{self.vault.name}/{s.name}", mount=self.vault.name,
            name=s.name, arn=f"{self.url}/secrets/{s.name}",
            created_at=_oldest(versions) or s.created_on, updated_at=s.updated_on, last_rotated_at=s.created_on,
            expires_at=s.expires_on, not_before=s.not_before, enabled=s.enabled, content_type=s.content_type,
            version_count=len(versions) if complete else None, tags=_tags(s.tags), encrypted=True,
            **self._common(),
        ))

    # --- keys --------------------------------------------------------------------------------

    def read_keys(self) -> None:
        scope = f"{self.base}/keys/"
        items, _ = self.calls.pages(self.keys.list_properties_of_keys, scope=scope, operation="GetKeys",
                                    tables=["key"], service="keyvault", what=self.vault.name)
        for k in items:
            if getattr(k, "managed", None):
                continue
            self.calls.submit(self._key, k)

    def _rotation_policy(self, name: str, kid: str) -> tuple[Any, bool]:
        """(policy, read): a 404 means the key has no rotation policy (read, none); a failure is a gap."""
        none = object()

        def get() -> Any:
            try:
                return self.keys.get_key_rotation_policy(name)
            except ResourceNotFoundError:
                return none

        got = self.calls.call(get, scope=kid, operation="GetKeyRotationPolicy", tables=["key"], service="keyvault",
                              what=f"{self.vault.name}/{name}")
        return (None, True) if got is none else (got, got is not None)

    def _key(self, k: Any) -> None:
        kid = f"{self.base}/keys/{k.name}"
        versions, complete = self.calls.pages(lambda: self.keys.list_properties_of_key_versions(k.name), scope=kid,
                                              operation="GetKeyVersions", tables=["key"], service="keyvault",
                                              what=f"{self.vault.name}/{k.name}")
        policy, read = self._rotation_policy(k.name, kid)
        actions: list[str] = []
        period: int | None = None
        for a in (getattr(policy, "lifetime_actions", None) or []):
            verb = str(getattr(a.action, "value", a.action)).lower()
            if a.time_after_create:
                actions.append(f"{verb} after create {a.time_after_create}")
                if verb == "rotate":
                    period = duration_days(a.time_after_create)
            if a.time_before_expiry:
                actions.append(f"{verb} before expiry {a.time_before_expiry}")
                expires_in = duration_days(getattr(policy, "expires_in", None))
                before = duration_days(a.time_before_expiry)
                if verb == "rotate" and period is None and expires_in is not None and before is not None:
                    period = max(expires_in - before, 0)
        rotates = any(a.startswith("rotate ") for a in actions)
        self.calls.sink.add(Key(
            id=kid, name=f"{self.vault.name}/{k.name}", kind="azure_keyvault_key", arn=f"{self.url}/keys/{k.name}",
            manager="CUSTOMER", state="Enabled" if k.enabled else "Disabled", enabled=k.enabled,
            created_at=_oldest(versions) or k.created_on, last_rotated_at=k.created_on, expires_at=k.expires_on,
            not_before=k.not_before, exportable=getattr(k, "exportable", None),
            version_count=len(versions) if complete else None,
            rotation_enabled=rotates if read else None, rotation_period_days=period if rotates else None,
            rotation_supported=True, rotation_actions=actions, tags=_tags(k.tags), **self._common(),
        ))

    # --- certificates ------------------------------------------------------------------------

    def read_certificates(self) -> None:
        scope = f"{self.base}/certificates/"
        items, _ = self.calls.pages(self.certificates.list_properties_of_certificates, scope=scope,
                                    operation="GetCertificates", tables=["certificate"], service="keyvault",
                                    what=self.vault.name)
        for c in items:
            self.calls.submit(self._certificate, c)

    def _certificate(self, c: Any) -> None:
        cid = f"{self.base}/certificates/{c.name}"
        policy = self.calls.call(lambda: self.certificates.get_certificate_policy(c.name), scope=cid,
                                 operation="GetCertificatePolicy", tables=["certificate"], service="keyvault",
                                 what=f"{self.vault.name}/{c.name}")
        issuer = getattr(policy, "issuer_name", None)
        renews = None
        key_alg = is_ca = None
        if policy is not None:
            verbs = {str(getattr(a.action, "value", a.action)).lower() for a in policy.lifetime_actions or []}
            renews = "autorenew" in verbs and (issuer or "").lower() != "unknown"
            size = policy.key_size or getattr(policy.key_curve_name, "value", policy.key_curve_name)
            kty = getattr(policy.key_type, "value", policy.key_type)
            key_alg = f"{kty}-{size}" if kty and size else (str(kty) if kty else None)
            usage = {str(getattr(u, "value", u)).lower() for u in policy.key_usage or []}
            is_ca = "keycertsign" in usage
        sans = list(getattr(policy, "san_dns_names", None) or []) if policy is not None else []
        self.calls.sink.add(Certificate(
            id=cid, name=c.name, arn=f"{self.url}/certificates/{c.name}",
            subject=getattr(policy, "subject", None), domains=sans, issuer=issuer,
            not_before=c.not_before, not_after=c.expires_on, managed_renewal=renews, key_algorithm=key_alg,
            is_ca=is_ca, enabled=c.enabled, status="Enabled" if c.enabled else "Disabled",
            type=None if issuer is None else ("SELF_SIGNED" if issuer.lower() == "self" else
                                              "UNKNOWN_ISSUER" if issuer.lower() == "unknown" else "CA_ISSUED"),
            account=self.sub, store=self.calls.store.name, source="azure", region=self.vault.location,
        ))
