"""Key/value credentials in structured files, read line by line in each file's own syntax.

detect-secrets wants quotes and knows few formats, so ``password = hunter2``
(INI), ``<Pass>x</Pass>`` (XML), ``define('DB_PASSWORD', 'x')`` (PHP) or
``export TOKEN=x`` (``.bashrc``) go unseen. Each parser here takes one line of
one format and returns ``(key, value)`` pairs; `posture.model.secretlike`
judges the key as words and the value as a literal (`secret_pair`). Reading
line by line works the same on HEAD's files and on the added lines of a diff,
and the line of a hit is the line of its value.

Parsers, by the class of files they cover (`format_of`):

- ``shell``: ``.bashrc``, ``.bash_profile``, ``.profile``, ``.zshrc``, ``*.sh``:
  ``export X=...``, ``X=...``, ``setenv``.
- ``plain``: extension-less files and dotfiles (``etc/default/app``,
  ``.credentials``), ``*.txt``, ``*.log``: shell lines, else INI lines.
- ``ini``: ``*.ini``, ``*.cfg``, ``*.cnf``, ``.my.cnf``, ``.s3cfg``, ``.boto``,
  ``.aws/credentials``, ``.esmtprc``, ``.gitconfig``: ``key = value`` / ``key: value``.
- ``conf``: ``*.conf``, ``.yarnrc``: INI lines plus ``key value`` (``requirepass x``).
- ``properties`` (Java), ``toml`` (also inline tables): ``key = value``.
- ``yaml``: ``key: value`` (quoted or plain, list items, ``- NAME=value``).
- ``json``: every ``"key": "value"`` pair of a line, minified or not.
- ``xml`` (``*.xml``, ``*.config``, ``*.plist``): ``<Pass>x</Pass>`` elements,
  ``password="x"`` attributes, ``<add key="K" value="V"/>`` pairs.
- ``php``: ``define('K', 'v')``, ``$cfg['a']['password'] = 'v';``, ``'k' => 'v'``.
- ``code`` (Python, JS/TS, Ruby, Go, Java, C#, Terraform, ...): assignments and
  keyword arguments of string literals, setters, map puts, environment defaults.
- ``sql``: ``IDENTIFIED BY '...'``, ``PASSWORD '...'`` and INSERT/COPY rows mapped
  to their columns (`sql_pairs`, stateful over a dump's lines).
- ``doc`` (Markdown, reStructuredText): the code and shell parsers.

Every format also gets command-line password flags (``--password x``,
``mysql -pX``, ``curl -u user:pass``), ADO/JDBC connection strings
(``Password=x;``) and URL credentials (``scheme://user:pass@``, ``?token=``).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from functools import lru_cache

from collectors.git_context import is_translation
from posture.model.secretlike import (
    is_code_secret,
    is_documentation_host,
    is_reference,
    is_sample_value,
    secret_pair,
)

Pair = tuple[str, str]  # (key, value)

_BY_NAME = {
    ".bashrc": "shell", ".bash_profile": "shell", ".bash_login": "shell", ".profile": "shell", ".zshrc": "shell",
    ".zprofile": "shell", ".zshenv": "shell", ".kshrc": "shell", ".envrc": "shell", "environment": "shell",
    ".my.cnf": "ini", "my.cnf": "ini", ".s3cfg": "ini", ".boto": "ini", ".esmtprc": "ini", ".gitconfig": "ini",
    ".yarnrc": "conf", ".tugboat": "yaml", "hub": "yaml", "Jenkinsfile": "code", "Vagrantfile": "code",
}
_BY_EXT = {
    "sh": "shell", "bash": "shell", "zsh": "shell", "ksh": "shell", "bat": "shell", "cmd": "shell",
    "ini": "ini", "cfg": "ini", "cnf": "ini", "conf": "conf", "properties": "properties", "toml": "toml",
    "yaml": "yaml", "yml": "yaml", "json": "json", "jsonc": "json", "json5": "json", "xml": "xml",
    "config": "xml", "plist": "xml", "php": "php", "inc": "php", "sql": "sql", "md": "doc", "markdown": "doc",
    "rst": "doc", "adoc": "doc", "txt": "plain", "log": "plain",
    **{e: "code" for e in (
        "py", "pyi", "js", "mjs", "cjs", "jsx", "ts", "tsx", "rb", "go", "java", "kt", "kts", "scala", "groovy",
        "gradle", "cs", "vb", "fs", "swift", "m", "mm", "rs", "c", "cc", "cpp", "h", "hpp", "dart", "lua", "pl",
        "pm", "r", "ex", "exs", "erl", "clj", "ps1", "psm1", "tf", "tfvars", "hcl", "nomad", "cr", "jl")},
}
_NO_KEYVALUE = re.compile(r"(^|/)(Dockerfile|Containerfile|Makefile|LICENSE|COPYING|NOTICE|AUTHORS)[^/]*$")


@lru_cache(maxsize=8192)
def format_of(path: str) -> str | None:
    """The key/value syntax of a repository file, by its name (None: not a key/value file)."""
    base = path.rsplit("/", 1)[-1]
    if base in _BY_NAME:
        return _BY_NAME[base]
    if re.search(r"(^|/)\.aws/(credentials|config)$", path):
        return "ini"
    ext = base.rsplit(".", 1)[-1].lower() if "." in base.lstrip(".") else ""
    if ext:
        return _BY_EXT.get(ext)
    return None if _NO_KEYVALUE.search(path) else "plain"


#: A lower-cased line without one of these holds no named credential (a cheap gate before parsing).
ATOMS = ("pass", "pw", "secret", "token", "key", "auth", "cred", "salt", "identified", "://", "cookie", "bearer",
         "mysql", " -u ", "--user")


def may_hold_credential(line: str) -> bool:
    """The gate: does the line hold one of `ATOMS` (substring tests, cheaper than any regex)?"""
    low = line.lower()
    return any(a in low for a in ATOMS)

# --- values -----------------------------------------------------------------------------

_DQ = r'"((?:[^"\\]|\\.)*)"'
_SQ = r"'((?:[^'\\]|\\.)*)'"


def _unquote_plain(raw: str, comment: str = "#;") -> str:
    """A config value: quoted content, or the text up to an inline comment."""
    v = raw.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    for mark in comment:
        cut = v.find(" " + mark)
        if cut >= 0:
            v = v[:cut]
    return v.strip().rstrip(";").strip()


def _shell_word(raw: str) -> str:
    """The first word of a shell assignment's right-hand side, quotes removed."""
    if raw.startswith("'"):
        end = raw.find("'", 1)
        return raw[1:end] if end > 0 else raw[1:]
    if raw.startswith('"'):
        m = re.match(_DQ, raw)
        return m.group(1).replace('\\"', '"') if m else raw[1:]
    m = re.match(r"[^\s;&|#]*", raw)
    return m.group(0) if m else ""


def _json_string(s: str) -> str:
    try:
        return json.loads(f'"{s}"')
    except ValueError:
        return s


_AUTH_SCHEME = re.compile(r"^(Bearer|Basic|Token|token|Digest|Bot)\s+(\S+)$")


def credential_part(value: str) -> str | None:
    """The credential of an ``Authorization`` value (``Bearer x`` -> ``x``), else the value.

    None for ``Basic`` credentials that decode to a sample password (RFC 2617's
    ``Aladdin:open sesame``).
    """
    m = _AUTH_SCHEME.match(value.strip())
    if not m:
        return value
    return m.group(2) if m.group(1) != "Basic" or basic_auth_is_real(m.group(2)) else None


def basic_auth_is_real(value: str) -> bool:
    """A base64 ``user:password`` (HTTP Basic, docker ``auth``) whose password is no sample or prose.

    A value that is not base64 of ``user:password`` is judged as any other literal (True); a
    password that is a plain word (``tobi:ferret``) is a test or documentation dummy.
    """
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return True
    return bool(sep) and password != user and not is_sample_value(password) and is_code_secret(password)


# --- per-format parsers -----------------------------------------------------------------

SHELL = re.compile(r"^\s*(?:export\s+|declare\s+-\w+\s+|typeset\s+-\w+\s+|readonly\s+|local\s+|set\s+)?"
                   r"\"?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
SETENV = re.compile(r"^\s*(?:setenv|set\s+-[gxU]+)\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+)$")
INI = re.compile(r"^\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z_][\w .@/-]*?))\s*[=:]\s*(.*?)\s*$")
CONF_SPACED = re.compile(r"^\s*(?:\"([^\"]+)\"|([A-Za-z_][\w.-]*))\s+(\S.*?)\s*$")
YAML = re.compile(r"^\s*(?:-\s+)*(?:\"([^\"]+)\"|'([^']+)'|:?([A-Za-z_$@][^:#\"'{}\[\],]*?))\s*:(?:\s+(.*?))?\s*$")
JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*"((?:[^"\\]|\\.)*)"')
XML_ELEMENT = re.compile(r"<([A-Za-z_][\w:.-]*)((?:\s[^<>]*)?)>\s*(?:<!\[CDATA\[(.*?)\]\]>|([^<]+?))\s*</\1\s*>")
XML_ATTR = re.compile(r"([A-Za-z_][\w:.-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
PHP_DEFINE = re.compile(r"define\(\s*(['\"])([^'\"]+)\1\s*,\s*(['\"])((?:\\.|(?!\3)[^\\])*)\3\s*\)", re.IGNORECASE)
PHP_ARRAY = re.compile(r"(['\"])([^'\"]+)\1\s*=>\s*(['\"])((?:\\.|(?!\3)[^\\])*)\3")
PHP_VAR = re.compile(r"\$([A-Za-z_]\w*)((?:\s*\[[^\]]*\])*)\s*=\s*(['\"])((?:\\.|(?!\3)[^\\])*)\3\s*;")
CODE_ASSIGN = re.compile(
    r"(?<![\w$])([A-Za-z_$][\w$]*)(?:\s*:\s*[A-Za-z_][\w.\[\], |]{0,40}?)?\s*(?::=|=>|\|\|=|\?\?=|=|:)\s*"
    r"[rRuUbBfF]{0,2}([\"'`])((?:\\.|(?!\2)[^\\])*)\2"
)
CODE_QUOTED_KEY = re.compile(r"([\"'])([^\"'\n]{1,80})\1\s*(?::|=>|=)\s*[rRuUbB]{0,2}([\"'])((?:\\.|(?!\3)[^\\])*)\3")
CODE_SETTER = re.compile(r"\bset([A-Z]\w*)\(\s*([\"'])((?:\\.|(?!\2)[^\\])*)\2\s*\)")
CODE_PUT = re.compile(r"\.(?:put|set|setProperty|add|append|header|setHeader)\(\s*([\"'])([^\"']+)\1\s*,\s*"
                      r"([\"'])((?:\\.|(?!\3)[^\\])*)\3")
ENV_DEFAULT = re.compile(r"(?:getenv|environ\.get|\benv|ENV\.fetch|Getenv|getProperty|config)\(\s*([\"'])([\w.]+)\1"
                         r"\s*,\s*([\"'])((?:\\.|(?!\3)[^\\])*)\3")
JS_ENV_DEFAULT = re.compile(r"process\.env\.(\w+)\s*(?:\|\||\?\?)\s*([\"'`])((?:\\.|(?!\2)[^\\])*)\2")
_CONCATENATED = re.compile(r"\s*(?:\+|\.(?!\d)|%|\[|\?\?|\|\|)")


def _shell(line: str) -> list[Pair]:
    """Shell files (``.bashrc``, ``*.sh``, ``.bat``): ``export X=v``, ``X=v``, ``setenv X v``, ``set "X=v"``."""
    s = line.lstrip()
    if not s or s[0] == "#" or s.lower().startswith("rem "):
        return []
    m = SHELL.match(line)
    if m:
        raw = m.group(2)
        if s.lower().startswith('set "') and raw.endswith('"'):  # cmd.exe: set "NAME=value"
            raw = raw[:-1]
        return [(m.group(1), _shell_word(raw))]
    m = SETENV.match(line)
    return [(m.group(1), _shell_word(m.group(2)))] if m else []


def _ini(line: str, spaced: bool = False) -> list[Pair]:
    """INI / ``.cfg`` / ``.cnf`` / ``.properties`` / TOML: ``key = value``, ``key: value``; ``.conf``: also ``key value``."""
    s = line.lstrip()
    if not s or s[0] in "#;[" or s.startswith("//"):
        return []
    m = INI.match(line)
    if m:
        key = m.group(1) or m.group(2) or m.group(3)
        raw = m.group(4)
        if raw.startswith("{"):  # TOML inline table
            return [(k, v) for k, v in _code_pairs(raw)]
        return [(key, _unquote_plain(raw))]
    if spaced:
        m = CONF_SPACED.match(line)
        if m:
            return [(m.group(1) or m.group(2), _unquote_plain(m.group(3)))]
    return []


def _yaml(line: str) -> list[Pair]:
    """YAML: ``key: value`` (plain or quoted, in list items), ``- NAME=value`` (compose environment lists)."""
    s = line.lstrip()
    if not s or s[0] == "#":
        return []
    m = YAML.match(line)
    if m:
        key = m.group(1) or m.group(2) or m.group(3)
        raw = m.group(4) or ""
        if not raw or raw[0] in "|>&*" or raw.startswith("!!"):
            return []
        return [(key, _unquote_plain(raw, "#").replace('\\"', '"'))]
    item = re.match(r"^\s*-\s+[\"']?([A-Za-z_][A-Za-z0-9_]*)=(.*?)[\"']?\s*$", line)
    return [(item.group(1), item.group(2))] if item else []


def _json(line: str) -> list[Pair]:
    """JSON (also minified, and JSON with comments): every ``"key": "value"`` pair of the line."""
    return [(_json_string(k), _json_string(v)) for k, v in JSON_PAIR.findall(line)]


def _xml(line: str) -> list[Pair]:
    """XML (``*.xml``, ``*.config``, ``*.plist``): ``<Pass>v</Pass>``, ``password="v"``, ``<add key="K" value="V"/>``."""
    out: list[Pair] = []
    for m in XML_ELEMENT.finditer(line):
        tag, attrs, text = m.group(1), m.group(2), m.group(3) if m.group(3) is not None else m.group(4)
        named = {k.lower(): a or b for k, a, b in XML_ATTR.findall(attrs or "")}
        key = named.get("name") or named.get("key") or tag.rsplit(":", 1)[-1]
        out.append((key, html.unescape(text or "")))
    attrs = {k: html.unescape(a or b) for k, a, b in XML_ATTR.findall(line)}
    lowered = {k.lower(): v for k, v in attrs.items()}
    pointer = lowered.get("key") or lowered.get("name")
    if pointer and "value" in lowered:
        out.append((pointer, lowered["value"]))
    out += [(k, v) for k, v in attrs.items() if k.lower() not in ("key", "name", "value")]
    return out


def _php(line: str) -> list[Pair]:
    """PHP: ``define('K', 'v')``, ``$cfg['a']['password'] = 'v';``, ``'k' => 'v'``, ``env('K', 'v')``."""
    out = [(m.group(2), m.group(4)) for m in PHP_DEFINE.finditer(line)]
    out += [(m.group(2), m.group(4)) for m in PHP_ARRAY.finditer(line)]
    for m in PHP_VAR.finditer(line):
        index = re.findall(r"\[\s*['\"]?([^'\"\]]+)['\"]?\s*\]", m.group(2))
        out.append((index[-1] if index else m.group(1), m.group(4)))
    return out + _env_defaults(line)


def _env_defaults(line: str) -> list[Pair]:
    """Code of any language: the default of an environment lookup (``os.getenv("K", "v")``, ``|| "v"``)."""
    out = [(m.group(2), m.group(4)) for m in ENV_DEFAULT.finditer(line)]
    return out + [(m.group(1), m.group(3)) for m in JS_ENV_DEFAULT.finditer(line)]


def _code_pairs(line: str) -> list[Pair]:
    """Source code: string-literal assignments, keyword arguments, quoted keys, setters, map puts."""
    out: list[Pair] = []
    for m in CODE_ASSIGN.finditer(line):
        if _CONCATENATED.match(line, m.end()) or (m.group(2) == "`" and "${" in m.group(3)):
            continue
        out.append((m.group(1), m.group(3)))
    for m in CODE_QUOTED_KEY.finditer(line):
        if not _CONCATENATED.match(line, m.end()):
            out.append((m.group(2), m.group(4)))
    out += [(m.group(1), m.group(3)) for m in CODE_SETTER.finditer(line)]
    out += [(m.group(2), m.group(4)) for m in CODE_PUT.finditer(line)]
    return out + _env_defaults(line)


def _code(line: str) -> list[Pair]:
    """Source code (Python, JS/TS, Ruby, Go, Java, C#, Terraform, ...): `_code_pairs` minus templates."""
    pairs = _code_pairs(line)
    return [(k, v) for k, v in pairs if not (v.startswith("{") and "}" in v)]  # f-string / format template


#: A reStructuredText / Sphinx role before its target (``:data:`x```, ``:py:class:`y```): a cross-reference.
RST_ROLE = re.compile(r"(?<![\w`]):[a-z][\w.+-]*(?::[a-z][\w.+-]*)*:(?=`)")


def _doc(line: str) -> list[Pair]:
    """Markdown / reStructuredText: code and shell lines of examples.

    Sphinx roles are dropped first: in ``never pass :data:`~app.proxy``` the
    role is markup, not a typed assignment of a backtick string to ``pass``.
    """
    line = RST_ROLE.sub("", line)
    return _code(line) + _shell(line.strip().strip("`$ ").strip())


def _plain(line: str) -> list[Pair]:
    """Extension-less files, dotfiles, ``*.txt``, ``*.log``: shell lines, else INI lines."""
    return _shell(line) or _ini(line)


PARSERS = {
    "plain": _plain, "shell": _shell, "ini": _ini, "conf": lambda line: _ini(line, spaced=True), "properties": _ini,
    "toml": _ini, "yaml": _yaml, "json": _json, "xml": _xml, "php": _php, "code": _code, "doc": _doc,
}
#: Formats whose strings are also labels and messages: values must look like credentials.
CODE_LIKE = frozenset({"code", "php", "doc", "json", "xml"})

# --- rules for every format -------------------------------------------------------------

CLI_FLAG = re.compile(
    r"(?:^|[\s\"'(])--?(password|passwd|pass|pwd|passphrase|token|api-key|apikey|secret|client-secret"
    r"|access-token|auth-token)(?:=|\s+)([\"']?)([^\s\"']+)\2(?=$|[\s\"');])"
)
MYSQL_SHORT = re.compile(r"\bmysql(?:dump|admin|import)?\b[^|;&\n]*?\s-p([\"']?)([^\s\"'-][^\s\"']*)\1")
CURL_USER = re.compile(r"\b(?:curl|wget|http)\b[^|;&\n]*?\s(?:-u|--user|--http-user)[=\s]+([\"']?)([^\s:\"']+):"
                       r"([^\s\"']+)\1")
SSHPASS = re.compile(r"\bsshpass\s+-p\s*([\"']?)([^\s\"']+)\1")
CONNECTION_STRING = re.compile(r"(?:^|[;\"'\s{(])(password|pwd)\s*=\s*([^;\"'<>\s]+)", re.IGNORECASE)
_CONNECTION_HINT = re.compile(r"(server|data source|host|user id|uid|database|initial catalog|provider)\s*=",
                              re.IGNORECASE)
URL_USERINFO = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/\s:@'\"`<>]*):([^/\s@'\"`<>]+)@([\w.-]+)")
URL_QUERY = re.compile(r"[?&](password|passwd|pass|pwd|token|access_token|api_key|apikey|secret|client_secret"
                       r"|sig|signature|auth|key)=([^&\s'\"#<>`]+)", re.IGNORECASE)


def common_pairs(line: str) -> list[tuple[str, str, str]]:
    """``(rule, key, value)`` for CLI password flags, connection strings and URL credentials.

    General class: credentials passed inline, whatever the file: shell and CI
    scripts (``mysql -pX``, ``curl -u user:pass``, ``--token x``), ADO.NET /
    JDBC connection strings, and URLs (``scheme://user:pass@host``, ``?token=``;
    not to documentation hosts such as ``example.com``).
    """
    out: list[tuple[str, str, str]] = []
    if "-" in line:
        out += [("cli-password-flag", m.group(1), m.group(3)) for m in CLI_FLAG.finditer(line)]
        out += [("cli-password-flag", "password", m.group(2)) for m in MYSQL_SHORT.finditer(line)]
        out += [("cli-password-flag", "password", m.group(3)) for m in CURL_USER.finditer(line)
                if m.group(2) != m.group(3)]
        out += [("cli-password-flag", "password", m.group(2)) for m in SSHPASS.finditer(line)]
    if "=" in line and ";" in line and _CONNECTION_HINT.search(line):
        out += [("connection-string", m.group(1), m.group(2)) for m in CONNECTION_STRING.finditer(line)]
    if "://" in line:
        for m in URL_USERINFO.finditer(line):
            # postgres:postgres@ is a local default; a URL to example.com is an example
            if m.group(1) != m.group(2) and not is_documentation_host(m.group(3)):
                out.append(("url-credentials", "password", m.group(2)))
        out += [("url-credentials", m.group(1), m.group(2)) for m in URL_QUERY.finditer(line)]
    return out


def url_hosts(line: str, password: str) -> list[str]:
    """The hosts of the URLs on ``line`` whose user part holds ``password``."""
    return [m.group(3) for m in URL_USERINFO.finditer(line) if m.group(2) == password]


def keyvalue_hits(path: str, fmt: str | None, line: str, *, lenient: bool = False) -> list[tuple[str, str, str]]:
    """``(detector, value, key)`` for each credential written in place on one line of ``path``.

    ``lenient`` (credential files: FileZilla, sftp configs) takes any literal
    under a credential key, as in configuration formats.
    """
    if len(line) > 4000 or not may_hold_credential(line):
        return []
    out: list[tuple[str, str, str]] = []
    code = fmt in CODE_LIKE and not lenient
    parser = None if is_translation(path) else PARSERS.get(fmt or "")
    if parser is not None:
        for key, value in parser(line):
            value = credential_part(value)
            if value is not None and secret_pair(key, value, code=code, credential_file=lenient):
                out.append((f"{fmt}-literal", value, key))
    for rule, key, value in common_pairs(line):
        if not is_reference(value) and secret_pair(key, value, credential_file=lenient):
            out.append((rule, value, key))
    return out


# --- SQL dumps: rows mapped to their columns --------------------------------------------

SQL_IDENTIFIED = re.compile(r"\b(?:IDENTIFIED\s+(?:WITH\s+\w+\s+)?BY|PASSWORD\s*(?:=|\()?)\s*'((?:''|[^'])*)'",
                            re.IGNORECASE)
SQL_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`\"\[]?(?:\w+[`\"\]]?\.[`\"\[]?)?(\w+)",
                        re.IGNORECASE)
SQL_COLUMN = re.compile(r"^\s*[`\"\[]?(\w+)[`\"\]]?\s+\w+")
SQL_INSERT = re.compile(r"INSERT\s+INTO\s+[`\"\[]?(?:\w+[`\"\]]?\.[`\"\[]?)?(\w+)[`\"\]]?\s*(?:\(([^)]*)\))?\s*VALUES\s*",
                        re.IGNORECASE)
SQL_COPY = re.compile(r"^COPY\s+(?:\w+\.)?(\w+)\s*\(([^)]*)\)\s+FROM\s+stdin", re.IGNORECASE)
SQL_LITERAL = re.compile(r"'((?:''|\\.|[^'\\])*)'|(NULL|-?[\d.]+(?:e[-+]?\d+)?|\w+\([^)]*\))|(\(|\))", re.IGNORECASE)


def _sql_tuples(text: str) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    current: list[str | None] | None = None
    for m in SQL_LITERAL.finditer(text):
        if m.group(3) == "(":
            current = []
        elif m.group(3) == ")":
            if current is not None:
                rows.append(current)
            current = None
        elif current is not None:
            current.append(m.group(1).replace("''", "'") if m.group(1) is not None else None)
    return rows


def sql_pairs(lines: list[tuple[int, str]]) -> list[tuple[int, str, str]]:
    """``(line, key, value)`` from a SQL dump: passwords set by statements, rows of secret columns.

    General class: database dumps (``mysqldump``, ``pg_dump``): ``CREATE USER ...
    IDENTIFIED BY '...'``, ``WITH PASSWORD '...'``, and INSERT / COPY rows whose
    column is named like a credential; columns come from the INSERT's list, the
    COPY header or the table's ``CREATE TABLE`` earlier in the same lines.
    """
    columns: dict[str, list[str]] = {}
    creating: str | None = None
    copying: list[str] | None = None
    out: list[tuple[int, str, str]] = []
    for lineno, line in lines:
        if copying is not None:
            if line.startswith("\\."):
                copying = None
                continue
            for col, value in zip(copying, line.split("\t")):
                out.append((lineno, col, value))
            continue
        if creating is not None:
            if line.lstrip().startswith(")"):
                creating = None
            else:
                m = SQL_COLUMN.match(line)
                if m and m.group(1).upper() not in ("PRIMARY", "KEY", "UNIQUE", "CONSTRAINT", "INDEX", "FOREIGN"):
                    columns[creating].append(m.group(1))
            continue
        m = SQL_CREATE.match(line)
        if m:
            creating = m.group(1).lower()
            columns[creating] = []
            continue
        m = SQL_COPY.match(line)
        if m:
            copying = [c.strip().strip('"') for c in m.group(2).split(",")]
            continue
        out += [(lineno, "password", v.replace("''", "'")) for v in SQL_IDENTIFIED.findall(line)]
        m = SQL_INSERT.search(line)
        if m:
            cols = [c.strip().strip("`\"[]") for c in m.group(2).split(",")] if m.group(2) else \
                columns.get(m.group(1).lower(), [])
            for row in _sql_tuples(line[m.end():]):
                out += [(lineno, col, v) for col, v in zip(cols, row) if v is not None]
    return out
