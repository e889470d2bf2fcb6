"""Ed25519 signatures over published manifests: who published this quarter, provably.

A hash in a manifest proves nothing if whoever edits a page can also edit the
manifest beside it. Each engagement therefore has an Ed25519 key, kept like the
fingerprint key (``engagements/CLIENT/.signing-key``, mode 0600, never
published, made by the first publish), and every quarter's manifest is signed
with it. The public key sits beside it (``engagements/CLIENT/signing-key.pem``)
and on the site (``QUARTER/signing-key.pem``, and on the evidence page with its
fingerprint), so anyone can check a quarter without the private key, with
`posture verify` or, from an exported site, with OpenSSL alone::

    openssl pkeyutl -verify -pubin -inkey 2026-Q4/signing-key.pem -rawin \\
        -in manifests/2026-Q4.json -sigfile manifests/2026-Q4.json.sig
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from posture.model.errors import IntegrityError
from posture.model.fsutil import atomic_write_bytes
from posture.workspace import Workspace

PRIVATE_NAME = ".signing-key"
PUBLIC_NAME = "signing-key.pem"


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """``sha256:`` + the SHA-256 of the DER public key (``openssl pkey -pubin -outform DER | sha256sum``)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def signing_key(ws: Workspace) -> tuple[Ed25519PrivateKey, bool]:
    """(key, new): the engagement's private key, or a new one that `save_key` keeps.

    A new key is kept only once a quarter is on the site, so the key's
    existence means "something was published" (`posture verify` relies on it).
    """
    private, public = ws.engagement_dir / PRIVATE_NAME, ws.engagement_dir / PUBLIC_NAME
    if private.exists():
        try:
            key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        except ValueError:
            key = None
        if not isinstance(key, Ed25519PrivateKey):
            raise IntegrityError(f"{private}: not an Ed25519 private key in PEM")
        if public.exists() and public.read_bytes() != public_pem(key.public_key()):
            raise IntegrityError(f"{public}: is not the public key of {private}")
        return key, False
    if public.exists():  # a new key would orphan every quarter signed with the old one
        raise IntegrityError(f"{private}: missing while its public key {public} is there: restore "
                             f"the private key to publish (or move {public.name} away to start a new "
                             "key; earlier quarters then verify only with the old public key)")
    return Ed25519PrivateKey.generate(), True


def save_key(ws: Workspace, key: Ed25519PrivateKey) -> None:
    """Keep a new key beside the engagement: private 0600 (and git-ignored), public 0644."""
    private, public = ws.engagement_dir / PRIVATE_NAME, ws.engagement_dir / PUBLIC_NAME
    _ignore_in_git(ws.engagement_dir, PRIVATE_NAME)
    atomic_write_bytes(private, key.private_bytes(  # mkstemp: 0600 from the first byte
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    private.chmod(0o600)
    atomic_write_bytes(public, public_pem(key.public_key()))
    public.chmod(0o644)


def has_key(ws: Workspace) -> bool:
    """Whether the engagement has a signing key, i.e. has published at least once."""
    return any((ws.engagement_dir / n).exists() for n in (PRIVATE_NAME, PUBLIC_NAME))


def trusted_public_key(ws: Workspace) -> Ed25519PublicKey:
    """The key a quarter's signature must verify with: the engagement's, never the site's own copy.

    The public file is enough (a verifier need not hold the private key); the
    private key stands in if the public file was removed.
    """
    public = ws.engagement_dir / PUBLIC_NAME
    if public.exists():
        try:
            key = serialization.load_pem_public_key(public.read_bytes())
        except ValueError:
            key = None
        if not isinstance(key, Ed25519PublicKey):
            raise IntegrityError(f"{public}: not an Ed25519 public key")
        return key
    if (ws.engagement_dir / PRIVATE_NAME).exists():
        return signing_key(ws)[0].public_key()
    raise IntegrityError(f"{public}: missing, so no signature can be checked (it is written at "
                         "the first publish; restore it from a backup or from the site's evidence page "
                         "after checking its fingerprint)")


def signature_valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _ignore_in_git(folder: Path, name: str) -> None:
    """List ``name`` in the folder's .gitignore, so committing the engagement never commits the key."""
    gitignore = folder / ".gitignore"
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if name not in lines:
        atomic_write_bytes(gitignore, ("\n".join([*lines, name]) + "\n").encode("utf-8"))
        gitignore.chmod(0o644)
