"""Secret engines: KV v1/v2, transit, PKI and database, read for metadata only.

KV v2 metadata comes from OpenBao's ``SCAN <mount>/detailed-metadata/`` (one
request per mount) where supported, else from a concurrent LIST + GET walk.
KV v1 is listed (names only) and never read: a v1 GET returns the value.
Transit keys, certificates and database roles are configuration and public
parts only. Every read goes through `VaultSession.call`, so a failure is a gap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from collectors.vault.guard import logical_path_ok
from collectors.vault.hcl import as_int, as_strings, parse_duration
from collectors.vault.mounts import VaultMount
from collectors.vault.session import TaskGroup, VaultSession
from posture.model.records import Certificate, Key, Secret
from posture.model.timeutil import parse_utc


def collect_engine(s: VaultSession, group: TaskGroup, mount: VaultMount, kinds: list[str]) -> None:
    """Queue the reads of one secret mount, by the guard kinds of its type."""
    m = mount.path
    if "kv2" in kinds:
        group.submit(collect_kv2, s, group, m)
    elif "kv1" in kinds:
        group.submit(walk_kv, s, group, m, 1, "")
    elif "transit" in kinds:
        s.list_then(group, f"{m}/keys", ["key"], f"{m}/", lambda n: transit_key(s, m, n))
    elif "pki" in kinds:
        group.submit(collect_pki, s, group, m)
    elif "database" in kinds:
        for kind in ("roles", "static-roles"):
            s.list_then(group, f"{m}/{kind}", ["secret"], f"{m}/",
                        lambda n, kind=kind: database_role(s, m, kind, n))


# --- KV ------------------------------------------------------------------------------


def collect_kv2(s: VaultSession, group: TaskGroup, mount: str) -> None:
    if s.product == "openbao" and s.ctx.options.get("vault_scan", True):
        resp = s.call("SCAN", f"{mount}/detailed-metadata/", tables=["secret"], scope=f"{mount}/", quiet=True)
        if resp is not None:
            info = s.data(resp).get("key_info") or {}
            s.progress(total=len(info) + 1, advance=1)
            for name, meta in info.items():
                if logical_path_ok(name):
                    add_kv2(s, mount, name, meta)
                else:
                    s.unaddressable_name(f"{mount}/", name, ["secret"], f"{mount}/")
            s.progress(advance=len(info))
            s.kv_mode[mount] = "scan"
            return
    s.kv_mode[mount] = "walk"
    walk_kv(s, group, mount, 2, "")


def walk_kv(s: VaultSession, group: TaskGroup, mount: str, version: int, prefix: str) -> None:
    """LIST one folder; sub-folders and (KV v2) metadata GETs go back on the pool."""
    list_path = f"{mount}/metadata/{prefix}" if version == 2 else f"{mount}/{prefix}"
    names = s.keys(s.call("LIST", list_path, tables=["secret"], scope=f"{mount}/"))
    s.progress(advance=1, total=1 + len(names))
    for key in names:
        full = prefix + key
        if not logical_path_ok(full):
            s.unaddressable_name(f"{mount}/", full, ["secret"], f"{mount}/")
            s.progress(advance=1)
            continue
        if key.endswith("/"):
            group.submit(walk_kv, s, group, mount, version, full)
            s.progress(advance=1)
        elif version == 2:
            group.submit(kv2_metadata, s, mount, full)
        else:
            add_kv1(s, mount, full)
            s.progress(advance=1)


def kv2_metadata(s: VaultSession, mount: str, name: str) -> None:
    resp = s.call("GET", f"{mount}/metadata/{name}", tables=["secret"], scope=f"{mount}/",
                  needs=("versions", "current_version"))
    s.progress(advance=1)
    if resp is not None:
        add_kv2(s, mount, name, s.data(resp))


def add_kv1(s: VaultSession, mount: str, name: str) -> None:
    s.sink.add(Secret(
        id=s.rid(f"{mount}/{name}"), store=s.store.name, source="vault", kind="kv1",
        path=f"{mount}/{name}", mount=f"{mount}/", name=name,
    ))


def add_kv2(s: VaultSession, mount: str, name: str, meta: dict[str, Any]) -> None:
    versions = meta.get("versions") or {}
    nums = sorted(int(v) for v in versions if str(v).isdigit())
    current = as_int(meta.get("current_version"))
    cur = versions.get(str(current)) or {} if current else {}
    custom = meta.get("custom_metadata") or {}
    s.sink.add(Secret(
        id=s.rid(f"{mount}/{name}"),
        store=s.store.name,
        source="vault",
        kind="kv2",
        path=f"{mount}/{name}",
        mount=f"{mount}/",
        name=name,
        created_at=parse_utc(meta.get("created_time")),
        updated_at=parse_utc(meta.get("updated_time")),
        last_rotated_at=parse_utc(cur.get("created_time")) or parse_utc(meta.get("updated_time")),
        deleted_at=parse_utc(cur.get("deletion_time")),
        current_version=current,
        oldest_version=nums[0] if nums else as_int(meta.get("oldest_version")),
        version_count=len(nums),
        max_versions=as_int(meta.get("max_versions")),
        delete_version_after=parse_duration(meta.get("delete_version_after")),
        custom_metadata={str(k): str(v) for k, v in custom.items()},
    ))


# --- Transit ---------------------------------------------------------------------------


def transit_key(s: VaultSession, mount: str, name: str) -> None:
    path = f"{mount}/keys/{name}"
    d = s.data(s.call("GET", path, tables=["key"], scope=f"{mount}/", needs=("keys",)))
    s.progress(advance=1)
    if not d:
        return
    times: dict[int, datetime] = {}
    for v, t in (d.get("keys") or {}).items():
        when = parse_utc(t.get("creation_time") if isinstance(t, dict) else t)
        if when and str(v).isdigit():
            times[int(v)] = when
    latest = as_int(d.get("latest_version"))
    period = as_int(d.get("auto_rotate_period")) or 0
    s.sink.add(Key(
        id=s.rid(path), store=s.store.name, source="vault", name=name, kind="transit",
        spec=d.get("type"),
        usage="sign" if d.get("supports_signing") else "encrypt",
        created_at=times.get(min(times)) if times else None,
        last_rotated_at=times.get(latest) if latest in times else (max(times.values()) if times else None),
        latest_version=latest,
        min_decryption_version=as_int(d.get("min_decryption_version")),
        rotation_enabled=period > 0,
        rotation_period_days=round(period / 86400) if period else None,
        exportable=d.get("exportable"),
        deletion_allowed=d.get("deletion_allowed"),
        version_created_at=[times[v] for v in sorted(times)],
    ))


# --- PKI -----------------------------------------------------------------------------------


def collect_pki(s: VaultSession, group: TaskGroup, mount: str) -> None:
    if s.product == "openbao" and s.ctx.options.get("vault_scan", True):
        resp = s.call("LIST", f"{mount}/certs/detailed", tables=["certificate"], scope=f"{mount}/", quiet=True)
        if resp is not None:
            info = s.data(resp).get("key_info") or {}
            # The listing does not say which certificates are CAs. A CA names no host, so those
            # without DNS names are read in full for BasicConstraints (`pki_cert`).
            full = [serial for serial, c in info.items() if not c.get("dns_names")]
            for serial, c in info.items():
                if c.get("dns_names"):
                    add_cert(s, mount, serial, c)
            for serial in full:
                group.submit(pki_cert, s, mount, serial)
            s.progress(advance=1 + len(info) - len(full), total=1 + len(info))
            return
    s.list_then(group, f"{mount}/certs", ["certificate"], f"{mount}/", lambda n: pki_cert(s, mount, n))


def add_cert(s: VaultSession, mount: str, serial: str, c: dict[str, Any]) -> None:
    s.sink.add(Certificate(
        id=s.rid(f"{mount}/cert/{serial}"), store=s.store.name, source="vault",
        serial=serial,
        subject=c.get("common_name") or c.get("subject"),
        domains=as_strings(c.get("dns_names")),
        issuer=c.get("issuer"),
        not_before=parse_utc(c.get("not_before")),
        not_after=parse_utc(c.get("not_after")),
        revoked=c.get("revoked"),
        key_algorithm=(f"{c['key_type']}-{c['key_bits']}" if c.get("key_type") and c.get("key_bits")
                       else c.get("key_type")),
        is_ca=c.get("is_ca"),
    ))


def pki_cert(s: VaultSession, mount: str, serial: str) -> None:
    d = s.data(s.call("GET", f"{mount}/cert/{serial}", tables=["certificate"], scope=f"{mount}/",
                      needs=("certificate",)))
    s.progress(advance=1)
    pem = d.get("certificate") if d else None
    if not pem:
        return
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_pem_x509_certificate(pem.encode())
    except Exception as e:  # noqa: BLE001 - unparsable certificate is a gap, not a crash
        s.gap(f"GET {mount}/cert/{serial}", "error", ["certificate"], f"{mount}/", f"unparsable: {e}")
        return
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        domains = san.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        domains = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    add_cert(s, mount, serial, {
        "common_name": str(cn[0].value) if cn else cert.subject.rfc4514_string(),
        "dns_names": domains,
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "revoked": (d.get("revocation_time") or 0) > 0 if isinstance(d.get("revocation_time"), int) else None,
        "key_type": type(cert.public_key()).__name__.replace("PublicKey", "").replace("_", "").lower(),
        "key_bits": getattr(cert.public_key(), "key_size", None),
        "is_ca": is_ca,
    })


# --- Database --------------------------------------------------------------------------------


def database_role(s: VaultSession, mount: str, kind: str, name: str) -> None:
    path = f"{mount}/{kind}/{name}"
    d = s.data(s.call("GET", path, tables=["secret"], scope=f"{mount}/", needs=("db_name",)))
    s.progress(advance=1)
    if not d:
        return
    static = kind == "static-roles"
    period = as_int(d.get("rotation_period"))
    s.sink.add(Secret(
        id=s.rid(path), store=s.store.name, source="vault", kind="database_role",
        path=path, mount=f"{mount}/", name=name,
        default_ttl=None if static else as_int(d.get("default_ttl")),
        max_ttl=None if static else as_int(d.get("max_ttl")),
        rotation_enabled=bool(period) if static else None,
        rotation_interval_days=round(period / 86400) if static and period else None,
        last_rotated_at=parse_utc(d.get("last_vault_rotation")) if static else None,
        tags={"db_name": str(d["db_name"])} if d.get("db_name") else {},
    ))
