"""Credential files, password hashes and private keys, known by name and by content.

Three classes detect-secrets has no rule for:

- *credential files*: tools' own files that hold a login (`CREDENTIAL_FILES`).
  Some have their own syntax (``.netrc``, ``.git-credentials``, ``.pgpass``,
  ``.npmrc``, Rails ``master.key``); the others are INI, JSON, XML or YAML read
  by `collectors.git_formats` with any literal under a credential key counting.
  Opaque stores encrypted with a key every copy of the tool knows (DBeaver's
  ``credentials-config.json``, MySQL's ``.mylogin.cnf``) count by name alone.
- *password hashes* (`posture.model.secretlike.PASSWORD_HASH`) in shadow,
  htpasswd, ftpd passwd files, LDIF and SQL dumps: crackable offline.
- *private keys by content*, whatever the file is called: PEM, OpenSSH, PGP,
  PuTTY ``.ppk`` blocks (`key_block_hits`), PKCS#12 and Java keystores by
  their magic bytes (`keystore_kind`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from collectors.git_formats import basic_auth_is_real, keyvalue_hits
from posture.model.secretlike import PASSWORD_HASH, is_literal_value, is_sample_value, password_hash_scheme

Found = tuple[str, str, str | None]  # (detector, value, variable)

# --- own-syntax credential files --------------------------------------------------------

NETRC_PASSWORD = re.compile(r"(?:^|\s)password\s+(\"[^\"]*\"|\S+)")
GIT_CRED_LINE = re.compile(r"^\s*[a-z][a-z0-9+.-]*://(.+)@[^@/\s]+(?:/\S*)?\s*$")
PGPASS_LINE = re.compile(r"^[^:#\s][^:]*:[^:]*:[^:]*:(?:\\.|[^:\\])*:(.+)$")
NPMRC_LINE = re.compile(r"(?:_authToken|_auth|_password)\s*=\s*(.+?)\s*$")
PYPIRC_LINE = re.compile(r"^\s*password\s*[=:]\s*(.+?)\s*$", re.IGNORECASE)
RAILS_KEY = re.compile(r"^\s*([0-9a-f]{32}|[0-9a-f]{64})\s*$")


def _netrc(line: str) -> list[Found]:
    """``.netrc`` / ``_netrc``: ``machine h login u password p``, on one line or several."""
    if line.lstrip().startswith("#"):
        return []
    out = []
    for raw in NETRC_PASSWORD.findall(line):
        value = raw.strip('"')
        if is_literal_value(value) and not is_sample_value(value, default_logins=False):
            out.append(("netrc-credentials", value, "password"))
    return out


def _git_credentials(line: str) -> list[Found]:
    """``.git-credentials``: ``https://user:token@host``; the user part may hold an unencoded ``@``."""
    m = GIT_CRED_LINE.match(line)
    if not m or ":" not in m.group(1):
        return []
    value = m.group(1).split(":", 1)[1]
    return [("git-credentials", value, None)] if value and not is_sample_value(value, default_logins=False) else []


def _pgpass(line: str) -> list[Found]:
    """``.pgpass``: ``host:port:database:user:password`` (``\\:`` escapes a colon)."""
    m = PGPASS_LINE.match(line)
    if not m or line.startswith("#"):
        return []
    value = m.group(1).strip()
    return [] if value in ("", "*") or is_sample_value(value, default_logins=False) else [
        ("pgpass-credentials", value, None)]


def _npmrc(line: str) -> list[Found]:
    """``.npmrc``: ``//registry/:_authToken=...``, ``_auth``, ``_password`` (base64)."""
    m = NPMRC_LINE.search(line)
    if not m or line.lstrip().startswith(("#", ";")) or not is_literal_value(m.group(1)):
        return []
    value = m.group(1).strip("'\"")
    return [] if is_sample_value(value, default_logins=False) else [("npmrc-credentials", value, "_authToken")]


def _pypirc(line: str) -> list[Found]:
    """``.pypirc``: ``password = ...`` of an index section."""
    m = PYPIRC_LINE.match(line)
    if not m or not is_literal_value(m.group(1)) or is_sample_value(m.group(1), default_logins=False):
        return []
    return [("pypirc-credentials", m.group(1), "password")]


def _rails_key(line: str) -> list[Found]:
    """Rails ``config/master.key`` and ``config/credentials/<env>.key``: the key of ``*.yml.enc``."""
    m = RAILS_KEY.match(line)
    return [("rails-master-key", m.group(1), "RAILS_MASTER_KEY")] if m else []


@dataclass(frozen=True)
class CredentialFile:
    """One class of tool credential file: how to recognise it and how to read it."""

    pattern: str
    rule: Callable[[str], list[Found]] | None = None  # own syntax
    fmt: str | None = None  # or a key/value format read leniently
    opaque: bool = False  # encrypted with a key every copy of the tool knows: present is leaked


CREDENTIAL_FILES = (
    CredentialFile(r"(^|/)[._]netrc$", _netrc),
    CredentialFile(r"(^|/)\.?git-credentials$|(^|/)\.config/git/credentials$", _git_credentials),
    CredentialFile(r"(^|/)\.pgpass$|(^|/)pgpass\.conf$", _pgpass),
    CredentialFile(r"(^|/)\.npmrc$", _npmrc),
    CredentialFile(r"(^|/)\.pypirc$", _pypirc),
    CredentialFile(r"(^|/)config/master\.key$|(^|/)config/credentials/[\w.-]+\.key$", _rails_key),
    CredentialFile(r"(^|/)\.?my\.cnf$|(^|/)\.esmtprc$|(^|/)\.s3cfg$|(^|/)\.boto$|(^|/)\.aws/credentials$"
                   r"|(^|/)WinSCP\.ini$|(^|/)\.config/rclone/rclone\.conf$", fmt="ini"),
    CredentialFile(r"(^|/)\.docker/config\.json$|(^|/)\.dockercfg$|(^|/)\.dbeaver\d*/data-sources[^/]*\.json$"
                   r"|(^|/)(robomongo|robo3t|studio3t)\.json$|(^|/)(sftp-config|\.remote-sync|ftpsync\.settings"
                   r"|deployment-config)\.json$|(^|/)\.ftpconfig$|(^|/)\.vscode/sftp\.json$"
                   r"|(^|/)\.composer/auth\.json$|(^|/)credentials\.tfrc\.json$", fmt="json"),
    CredentialFile(r"(^|/)(sitemanager|recentservers|filezilla)\.xml$|(^|/)\.idea/(WebServers|dataSources"
                   r"|sshConfigs)[^/]*\.xml$|(^|/)\.m2/settings\.xml$", fmt="xml"),
    CredentialFile(r"(^|/)\.yarnrc\.yml$|(^|/)\.gem/credentials$|(^|/)\.config/(gh/hosts\.yml|hub)$"
                   r"|(^|/)\.kube/config$|(^|/)\.tugboat$", fmt="yaml"),
    CredentialFile(r"(^|/)\.yarnrc$", fmt="conf"),
    CredentialFile(r"(^|/)\.cargo/credentials(\.toml)?$|(^|/)\.terraformrc$", fmt="toml"),
    CredentialFile(r"(^|/)\.dbeaver\d*/credentials-config\.json$|(^|/)\.mylogin\.cnf$", opaque=True),
)
_COMPILED = tuple((re.compile(c.pattern), c) for c in CREDENTIAL_FILES)


@lru_cache(maxsize=8192)
def credential_file(path: str) -> CredentialFile | None:
    """The credential-file class of ``path``, if it is one."""
    return next((c for rx, c in _COMPILED if rx.search(path)), None)


def credential_file_hits(path: str, line: str) -> list[Found]:
    """Credentials on one line of a credential file (``[]`` if ``path`` is none)."""
    cf = credential_file(path)
    if cf is None or cf.opaque:
        return []
    if cf.rule is not None:
        return cf.rule(line)
    found = []
    for _detector, value, key in keyvalue_hits(path, cf.fmt, line, lenient=True):
        if key.lower() == "auth" and not basic_auth_is_real(value):
            continue
        found.append(("credentials-file-literal", value, key))
    return found


# --- password hashes ----------------------------------------------------------------------


def password_hash_hits(line: str) -> list[Found]:
    """Crackable password hashes on a line: ``(password-hash, hash, scheme)``.

    General class: stored password hashes in any file (shadow, htpasswd, ftpd
    passwd, LDIF ``userPassword``, SQL dumps, seed data).
    """
    if "$" not in line and "{S" not in line and "{C" not in line and "{M" not in line and "pbkdf2" not in line:
        return []
    return [("password-hash", m.group(0), password_hash_scheme(m.group(0))) for m in PASSWORD_HASH.finditer(line)]


# --- private keys by content --------------------------------------------------------------

KEY_BEGIN = re.compile(
    r"-----BEGIN (?:RSA |DSA |EC |OPENSSH |ENCRYPTED |SSH2 ENCRYPTED |PGP |)PRIVATE KEY(?: BLOCK)?-----"
    r"|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----|PuTTY-User-Key-File-\d+:"
)
_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----"
                      r"|^\s*Private-MAC:")
_BODY = re.compile(r"[A-Za-z0-9+/=]")


def key_block(texts: list[str], start: int) -> str | None:
    """The whole key block from its BEGIN line (so two keys get two fingerprints); None if no body.

    A BEGIN line with no END within 200 lines, or with a body elided
    (``MIIE...``) or shorter than any key (an Ed25519 key is 64 base64
    characters), is a header in code or docs, not a key.
    """
    first = texts[start]
    begin = KEY_BEGIN.search(first)
    end = _KEY_END.search(first, begin.end()) if begin else None
    if begin and end:  # one line: a key in a JSON string, newlines escaped
        inner = first[begin.start():end.end()].replace("\\n", "\n")
        return key_block(inner.split("\n"), 0) if "\n" in inner else None
    block: list[str] = []
    for t in texts[start : start + 200]:
        block.append(t.strip())
        if len(block) > 1 and _KEY_END.search(t):
            body = "".join(block[1:-1])
            if "..." in body or "xxxx" in body.lower() or len(_BODY.findall(body)) < 32:
                return None
            return "\n".join(block)
    return None


def key_block_hits(texts: list[str], idx: int) -> list[Found]:
    """A private key starting on line ``texts[idx]``, whatever the file is called."""
    line = texts[idx]
    if "PRIVATE KEY" not in line and "PuTTY-User-Key-File" not in line:
        return []
    m = KEY_BEGIN.search(line)
    if not m:
        return []
    block = key_block(texts, idx)
    return [("private-key", block, None)] if block else []


def keystore_kind(data: bytes) -> str | None:
    """``jks``, ``jceks`` or ``pkcs12`` when binary ``data`` is a keystore, by its magic bytes.

    General class: binary key containers under any name. JKS and JCEKS start
    with ``FEEDFEED`` / ``CECECECE``; PKCS#12 is a DER SEQUENCE holding version 3
    and the PKCS#7 ``data`` content type.
    """
    if data[:4] == b"\xfe\xed\xfe\xed":
        return "jks"
    if data[:4] == b"\xce\xce\xce\xce":
        return "jceks"
    if data[:1] == b"\x30" and b"\x02\x01\x03" in data[:8] and b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01" in data[:48]:
        return "pkcs12"
    return None
