"""Is this name or value secret-like? One value-free judge for every collector.

Collectors meet candidate secrets in many places: ``.env`` lines, Helm values,
CI variables and Kubernetes manifests (git), Lambda and ECS environment
variables (AWS). They ask the same questions, answered here once:

- does a *name* say it holds a credential (`is_secret_name`), or name the
  secret object that holds it (`names_a_secret_object`)? Does a store item's
  name, read as words, say it is a secret or configuration (`name_class`)?
- is a *value* a reference to a secret kept elsewhere (`is_reference`), a
  placeholder (`is_placeholder`), a literal written in place
  (`is_literal_value`), or a URL that carries a credential (`credential_url`)?
- how random is it (`shannon_entropy`, `is_random`), does it look like a real
  credential rather than a sample (`looks_real`), which credential format
  matches it (`credential_pattern`), which public prefix names its type
  (`public_prefix`)?
- the verdict for one (name, value) pair of configuration (`classify_value`).

Every function judges the value in memory and returns a bool, a number or a
detector/prefix name; none stores, logs or returns the value. The caller
fingerprints a value it keeps a finding for, and drops it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Words in a variable or key name that say it holds a credential (``auth`` but not
#: ``author``/``authority``; ``authorization`` stays: its value is a header).
SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|signing[_-]?key|client[_-]?secret|credential|auth(?!or(?!i[sz]))|_key$|^key$|dsn"
    r"|conn(ection)?[_-]?str)",
    re.IGNORECASE,
)
# After a secret word, these say the name points at where the secret is kept.
_POINTER_SUFFIX = re.compile(r"[_-]?(file|path|name|ref|id)$", re.IGNORECASE)
# In manifests and charts a key may also name an entry of a secret object (secretKeyRef, passwordKey).
_OBJECT_SUFFIX = re.compile(r"[_-]?(file|path|name|ref|keyref|key|id)$", re.IGNORECASE)

# --- store item names read as words (SSM parameters, engagement-less defaults) ----------
#
# ``SECRET_NAME`` above is the substring form, for code identifiers that glue words
# together (``dbpass``, ``mysqlPwd``). Store items have names made of words
# (``/prod/payments/db-host``), and there a substring is wrong: ``db`` in ``db-host`` does
# not make it a password, ``pass`` in ``compass`` is no credential. These are the same
# vocabulary as whole words, plus the words that mark configuration.

#: Whole words that name a credential.
SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "passphrase", "pass", "pwd", "secret", "secrets", "token",
    "tokens", "apikey", "apikeys", "credential", "credentials", "creds", "cred", "dsn", "privatekey",
    "bearer", "authorization", "auth", "pat", "hmac", "salt", "pepper", "connstr", "connstring",
    "key", "keys",
})
#: Long secret words also count at the end of a glued word (``dbpassword``, ``accesstoken``).
SECRET_SUFFIXES = ("password", "passwd", "passphrase", "secret", "token", "apikey", "credential",
                   "credentials")
#: Two-word names of a credential, whatever their last word alone would say.
SECRET_PHRASES = frozenset({
    ("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("signing", "key"),
    ("client", "secret"), ("conn", "string"), ("connection", "string"), ("conn", "str"),
    ("license", "key"), ("master", "key"), ("encryption", "key"), ("webhook", "url"),
    ("webhook", "uri"), ("secret", "id"), ("session", "key"), ("auth", "key"),
})
#: Two-word names of something public or a pointer, though their last word is a secret word.
CONFIG_PHRASES = frozenset({
    ("public", "key"), ("kms", "key"), ("pub", "key"), ("key", "id"), ("client", "id"),
    ("access", "key", "id"), ("sort", "key"), ("partition", "key"), ("primary", "key"),
    ("hash", "key"), ("range", "key"), ("cache", "key"), ("idempotency", "key"), ("routing", "key"),
})
#: Configuration words that may name a bundle of secrets in a secret store (``prod/app/config``
#: in Vault KV often holds the app's passwords): not enough to call a store item configuration.
CONTAINER_WORDS = frozenset({"config", "configuration", "settings", "setting", "options", "conf",
                             "env", "environment", "vars", "variables", "properties", "values", "file"})
#: Two-word names of public trust material kept beside secrets (a CA bundle is no secret).
PUBLIC_MATERIAL_PHRASES = frozenset({("ca", "bundle"), ("ca", "cert"), ("ca", "certificate"),
                                     ("ca", "chain"), ("trust", "bundle"), ("root", "ca")})
#: Whole words that mark configuration: addresses, sizes, switches, identifiers, pointers.
CONFIG_WORDS = frozenset({
    "host", "hostname", "hosts", "port", "ports", "url", "urls", "uri", "endpoint", "endpoints",
    "address", "addr", "domain", "domains", "fqdn", "dns", "ip", "ips", "cidr", "cidrs", "subnet",
    "subnets", "vpc", "name", "names", "region", "regions", "zone", "zones", "az", "ami", "image",
    "images", "level", "loglevel", "verbosity", "flag", "flags", "feature", "features", "toggle",
    "enabled", "enable", "disabled", "disable", "timeout", "timeouts", "ttl", "interval", "delay",
    "retries", "retry", "backoff", "version", "versions", "count", "size", "limit", "limits", "max",
    "min", "threshold", "bucket", "buckets", "arn", "arns", "id", "ids", "uuid", "queue", "topic",
    "stream", "table", "schema", "path", "paths", "dir", "directory", "prefix", "suffix",
    "template", "format", "mode", "locale", "lang", "language", "timezone", "tz", "currency",
    "ratio", "percent", "percentage", "rate", "batch", "concurrency", "workers", "threads",
    "memory", "cpu", "replicas", "capacity", "instance", "instances", "type", "class", "alias",
    "namespace", "cluster", "sku", "plan", "owner", "team", "email", "sender", "recipient", "user",
    "username", "header", "origin", "origins", "cors", "allowlist", "length", "policy",
    "rotation", "expiry", "expiration", "schedule", "cron", "window", "days", "hours", "minutes",
    "seconds", "ms", "bytes", "pool", "issuer", "audience", "scope", "scopes", "algorithm",
    "config", "configuration", "settings", "setting", "options", "label", "labels", "tags",
    "title", "description", "banner", "file", "ref", "fingerprint", "thumbprint",
})
#: Words that say nothing about what is held (environments, versions, slots): skipped at the end.
NEUTRAL_WORDS = frozenset({
    "prod", "production", "prd", "live", "staging", "stage", "stg", "preprod", "uat", "test", "qa",
    "ci", "dev", "development", "sandbox", "local", "primary", "secondary", "current", "old", "new",
    "previous", "next", "backup", "main", "default", "value", "b64", "base64", "json", "enc",
})
_NAME_SPLIT = re.compile(r"[/\-_.:@\s]+")
_VERSION = re.compile(r"v\d+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def name_tokens(name: str) -> list[str]:
    """The lower-cased words of a name: split at ``/ - _ . : @``, blanks and camelCase.

    General class: word boundaries in store item names (``/prod/dbHost`` ->
    ``prod db host``, ``APIKey`` -> ``api key``).
    """
    name = name or ""
    low = name.lower()
    if low == name:  # no capitals, no camelCase (most store paths): one split
        return [t for t in _NAME_SPLIT.split(name) if t]
    return [t.lower() for part in _NAME_SPLIT.split(name) if part for t in _CAMEL.split(part) if t]


def _secret_word(tok: str) -> bool:
    return tok in SECRET_WORDS or (len(tok) > 6 and tok.endswith(SECRET_SUFFIXES))


def meaningful_tokens(name: str) -> list[str]:
    """`name_tokens` without the trailing words that say nothing (`NEUTRAL_WORDS`, ``2``, ``v3``)."""
    toks = name_tokens(name)
    while toks and (toks[-1] in NEUTRAL_WORDS or toks[-1].isdigit() or _VERSION.fullmatch(toks[-1])):
        toks.pop()
    return toks


def head_class(toks: list[str]) -> tuple[str, str] | None:
    """What the last meaningful word(s) of ``toks`` say: ``("secret"|"configuration", words)``.

    General class: the head of a compound name. Phrases decide before their
    last word (``webhook url`` is a secret, ``public key`` and ``key id`` are not).
    """
    if not toks:
        return None
    head = toks[-1]
    if len(toks) >= 3 and tuple(toks[-3:]) in CONFIG_PHRASES:
        return "configuration", " ".join(toks[-3:])
    if len(toks) >= 2:
        pair = (toks[-2], head)
        if pair in SECRET_PHRASES:
            return "secret", " ".join(pair)
        if pair in CONFIG_PHRASES:
            return "configuration", " ".join(pair)
    if _secret_word(head):
        return "secret", head
    if head in CONFIG_WORDS:
        return "configuration", head
    return None


def store_item_class(name: str) -> tuple[str, str] | None:
    """``("configuration", words)`` when a secret store's item is named as configuration, else None.

    General class: settings kept in a secret store (Vault KV, Secrets Manager):
    ``prod/payments/db-host``, ``common/log-level``, ``shared/tls/ca-bundle``.
    Stricter than `name_class`: only the head of the name decides (an earlier
    word never does), and container words (`CONTAINER_WORDS`: ``config``,
    ``settings``) do not, because such an item often bundles secrets.
    """
    toks = meaningful_tokens(name)
    if len(toks) >= 2 and tuple(toks[-2:]) in PUBLIC_MATERIAL_PHRASES:
        return "configuration", " ".join(toks[-2:])
    found = head_class(toks)
    if found is None or found[0] != "configuration" or found[1] in CONTAINER_WORDS:
        return None
    return found


def has_secret_word(toks: list[str]) -> bool:
    """Some word or two-word phrase of ``toks`` names a credential (``db password``, ``conn string``)."""
    if not SECRET_WORDS.isdisjoint(toks) or any(len(t) > 6 and t.endswith(SECRET_SUFFIXES) for t in toks):
        return True
    return any(p in SECRET_PHRASES for p in pairwise(toks))


def name_class(name: str) -> tuple[str, str] | None:
    """``("secret"|"configuration", deciding words)`` for a store item's name; None if undecided.

    General class: compound names, whose last meaningful word names what is
    held (``db-password`` holds a password, ``db-host``, ``password-length``,
    ``api-key-id`` and ``db-password-arn`` hold configuration). Trailing
    environment and version words (`NEUTRAL_WORDS`) are skipped; two-word
    phrases decide before their last word (``webhook-url`` is a secret,
    ``public-key`` is not). When the last word decides nothing
    (``/prod/payments/stripe``) an earlier secret word, then an earlier
    configuration word (``/prod/config/stripe``) decides. Value-free: only the
    name is read.
    """
    toks = meaningful_tokens(name)
    found = head_class(toks)
    if found is not None or not toks:
        return found
    for tok in reversed(toks[:-1]):
        if _secret_word(tok):
            return "secret", tok
    for tok in reversed(toks[:-1]):
        if tok in CONFIG_WORDS:
            return "configuration", tok
    return None


#: Values that stand in for a secret (samples, defaults, booleans, the word itself).
PLACEHOLDER = re.compile(
    r"^(<.*>|\[.*\]|\*+|x{3,}|\.\.\.|changeme|change[-_]?me|change[-_]?this|replace[-_]?me|todo|tbd"
    r"|placeholder|example|sample|dummy|fake[-_\w]*|test|testing|none|null|nil|true|false|yes|no"
    r"|your[-_ ].*|.*[-_]here|redacted|secret|password|pass|token|empty|unset|default|localhost)$",
    re.IGNORECASE,
)
#: Values that refer to a secret held elsewhere: interpolation, a store reference, an identifier.
REFERENCE = re.compile(
    r"\$\{[A-Za-z_][^}]*\}|\{\{.*?\}\}|\$\([A-Za-z_ ][^)]*\)"  # ${VAR}, {{ .Values.x }} / {{resolve:...}}, $(cat f)
    r"|^\$[A-Za-z_]|^%\("  # $VAR, %(name)s
    r"|^@Microsoft\.KeyVault"  # Azure Key Vault reference
    r"|^arn:aws[\w-]*:"  # an ARN (secret, parameter, key, role): an identifier, in any partition
    r"|^(ssm|vault):|^/aws/reference/"  # SSM and Vault references, the Lambda extension path
    r"|<%.*?%>|\{%.*?%\}|#\{[\w.'\"\[\]()]+\}|%\{[\w.'\"()]+\}|%env\("  # ERB / Jinja / Ruby / Puppet, Symfony
    r"|^!(Ref|Sub|GetAtt|ImportValue|FindInMap|Join)\b",  # CloudFormation intrinsic tags
    re.IGNORECASE,
)
# A URL with no user:password part is an address, not a credential.
_PLAIN_URL = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]*(/|$)", re.IGNORECASE)

#: Public prefixes that identify a credential type without revealing the credential.
PUBLIC_PREFIXES = (
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
    "github_pat_", "glpat-", "xoxb-", "xoxp-", "xoxa-", "sk_live_", "rk_live_", "sk_test_",
    "npm_", "pypi-", "SG.",
)

#: detect-secrets plugins that only say "something random-looking or secret-named":
#: a finding's primary detector is the most specific one that fired.
GENERIC_DETECTORS = ("Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String")

MIN_CONFIG_SECRET = 8  # a shorter configuration value is a port, a level or a flag
RANDOM_MIN_LENGTH = 24
RANDOM_MIN_ENTROPY = 4.2  # bits per character; English text and identifiers stay below


def _points_elsewhere(name: str, suffix: re.Pattern[str]) -> bool:
    if name.lower().startswith("existing"):
        return True  # existingSecret: a chart value naming a secret created beforehand
    m = suffix.search(name)
    return bool(m) and bool(SECRET_NAME.search(name[: m.start()]))


def is_secret_name(name: str) -> bool:
    """A name that says it holds a credential: DB_PASSWORD, STRIPE_KEY, client_secret.

    General class: credential-bearing names. A name that points at where the
    secret is kept (``DB_PASSWORD_FILE``, ``TOKEN_PATH``, ``API_KEY_ID``,
    ``passwordSecretName``, ``existingSecret``) is the good pattern, not a
    secret; configuration names (``db_host``, ``log_level``) carry no secret word.
    """
    return bool(SECRET_NAME.search(name)) and not _points_elsewhere(name, _POINTER_SUFFIX)


def names_a_secret_object(key: str) -> bool:
    """A manifest or chart key whose value is the *name* of a secret object, not its content.

    General class: indirection keys (``passwordSecretName``, ``secretKeyRef``,
    ``tokenKey``, ``existingSecret``, ``secrets: inherit``). Callers pair it with
    a name-like value: under such a key ``ledger-db`` names a Secret.
    """
    return key.lower() in ("secret", "secrets") or _points_elsewhere(key, _OBJECT_SUFFIX)


def is_reference(value: str) -> bool:
    """A value that refers to a secret kept elsewhere rather than holding one.

    General class: indirection. ``${VAR}``, ``$VAR``, ``$(cmd)``, template
    expressions ``{{ ... }}`` (Helm, CloudFormation ``{{resolve:...}}``),
    ``%(name)s``, ARNs (``arn:aws:secretsmanager:...:secret:x``), ``ssm:`` and
    ``vault:`` references, Azure ``@Microsoft.KeyVault(...)``.
    """
    return bool(REFERENCE.search(value.strip()))


def is_placeholder(value: str) -> bool:
    """A stand-in written where a secret will go: ``changeme``, ``<your-key>``, ``xxxx``, ``***``.

    General class: samples and defaults, including booleans, ``none`` and the
    bare words ``secret``/``password``/``token``.
    """
    return bool(PLACEHOLDER.match(value.strip().strip("'\"").strip()))


def is_literal_value(value: str) -> bool:
    """A value written in place: not empty, not a reference, placeholder, path or plain URL.

    General class: literals. A path (``/run/secrets/db``, ``./key.pem``,
    ``file:...``) or a URL without credentials names where something is, not
    the credential itself; a ``user:password@`` URL stays literal.
    """
    v = value.strip().strip("'\"").strip()
    if len(v) < 4 or is_reference(v) or is_placeholder(v) or _PLAIN_URL.match(v):
        return False
    return not v.startswith(("/", "./", "~/", "file:"))


#: Query parameters whose value is a credential (besides secret-looking names): SAS/presigned signatures.
_SECRET_QUERY_PARAMS = frozenset({"sig", "signature", "x-amz-signature", "x-goog-signature", "code"})


def credential_url(name: str, value: str) -> str | None:
    """Which rule says URL ``value`` (of variable ``name``) carries a credential; None if none.

    General class: URLs that are credentials, not addresses: a password in the
    user part (``scheme://user:pass@host``), a token in a query parameter
    (``?token=``, ``?sig=``), or a URL with a path held by a webhook-named
    variable (a webhook URL is a bearer credential). A plain address
    (``https://orders.internal/api``, even with a random-looking path) is
    configuration; known webhook formats (Slack) are `credential_pattern`'s.
    """
    v = (value or "").strip()
    if "://" not in v or " " in v or is_reference(v):
        return None
    try:
        u = urlsplit(v)
    except ValueError:
        return None
    if not u.scheme or not u.netloc:
        return None
    if u.password and not is_placeholder(u.password) and not is_reference(u.password):
        return "URL with credentials"
    for key, val in parse_qsl(u.query, keep_blank_values=False):
        if (is_secret_name(key) or key.lower() in _SECRET_QUERY_PARAMS) and len(val) >= MIN_CONFIG_SECRET \
                and not is_placeholder(val) and not is_reference(val):
            return "URL with a credential parameter"
    if {"webhook", "webhooks", "hook"} & set(name_tokens(name)) and u.path.strip("/"):
        return "Webhook URL"
    return None


def shannon_entropy(data: str) -> float:
    """Shannon entropy in bits per character (0.0 for the empty string).

    General class: randomness of a string. At most ``log2`` of the number of
    distinct characters, so short or repetitive strings score low.
    """
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values()) + 0.0  # no -0.0


def is_random(value: str) -> bool:
    """A long, unbroken, high-entropy string: a generated key or token whatever its name.

    General class: machine-generated credentials without a known format
    (`RANDOM_MIN_LENGTH` characters, no space, `RANDOM_MIN_ENTROPY` bits each).
    A space marks prose; a line-wrapped base64 blob still counts.
    """
    v = value.strip()
    return len(v) >= RANDOM_MIN_LENGTH and " " not in v and shannon_entropy(v) >= RANDOM_MIN_ENTROPY


def looks_real(value: str) -> bool:
    """A literal that looks like a real credential rather than a sample (for ``.env.example``).

    General class: real-looking literals: at least 8 characters, 3 bits of
    entropy each and two character classes, so ``changeme``/``aaaaaaaa`` do not.
    """
    v = value.strip().strip("'\"")
    classes = sum(bool(re.search(p, v)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    return is_literal_value(v) and len(v) >= 8 and shannon_entropy(v) >= 3.0 and classes >= 2


def public_prefix(value: str) -> str | None:
    """The public prefix naming a credential's type (``AKIA``, ``ghp_``, ...), if it has one.

    General class: typed credential formats; the prefix is published by the
    issuer and reveals nothing of the secret part.
    """
    return next((p for p in PUBLIC_PREFIXES if value.startswith(p)), None)


@lru_cache(maxsize=1)
def _pattern_plugins() -> tuple[Any, ...]:
    """detect-secrets' format plugins (AWS key, GitHub token, private key, JWT, ...).

    The generic plugins need context this module applies itself (names,
    entropy); a public IP is not a secret.
    """
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    skip = {*GENERIC_DETECTORS, "Public IP (ipv4)"}
    return tuple(cls() for t, cls in get_mapping_from_secret_type_to_class().items() if t not in skip)


def credential_pattern(value: str) -> str | None:
    """The detect-secrets plugin whose credential format ``value`` has, if any.

    General class: credentials with a known format, recognised whatever the
    variable is called.
    """
    for plugin in _pattern_plugins():
        try:
            if any(True for _ in plugin.analyze_string(value)):
                return str(plugin.secret_type)
        except Exception:  # noqa: BLE001, S112 - a plugin choking on odd input is not a finding
            continue
    return None


def classify_value(name: str, value: str) -> str | None:
    """Which rule says configuration value ``value`` of variable ``name`` is a secret; None if none.

    General class: secrets in key/value configuration (Lambda and ECS
    environment variables). In order: a known credential format
    (`credential_pattern`), then a URL that carries a credential
    (`credential_url`), then a secret-looking name with a literal value
    (``Secret Keyword``), then a random literal (``High Entropy String``).
    References and values shorter than `MIN_CONFIG_SECRET` are never secrets;
    placeholders, paths and plain URLs only when their format is a credential's.
    """
    v = (value or "").strip()
    if len(v) < MIN_CONFIG_SECRET or is_reference(v):
        return None
    pattern = credential_pattern(v) or credential_url(name, v)
    if pattern is not None:
        return pattern
    if not is_literal_value(v):
        return None
    if is_secret_name(name) and (name_class(name) or ("secret",))[0] == "secret":
        # a name whose head word is configuration (API_KEY_HEADER, TOKEN_URL) names no secret
        return "Secret Keyword"
    if is_random(v):
        return "High Entropy String"
    return None


# --- source files: keys read as words, values for what they are --------------------------
#
# A source scanner meets (key, value) pairs in every configuration format and in code:
# ``password = x`` (INI), ``<Pass>x</Pass>`` (XML), ``define('DB_PASSWORD', 'x')`` (PHP),
# ``"apiKey": "x"`` (JSON). The key is judged as words, like a store item's name
# (`name_class`); the value for what it is: a literal, or a sample, a ciphertext, an
# identifier, a path, a field name or prose, none of which is a leak.

#: Deciding words that only say "some key": the value must itself look generated.
WEAK_SECRET_WORDS = frozenset({"key", "keys", "auth", "pat", "hmac", "dsn"})
#: Configuration keys that hold a credential though no secret word says so.
CREDENTIAL_KEYS = frozenset({"requirepass", "masterauth", "pw", "passcode", "privkey", "masterpassword"})
#: English words that end like a glued password name (``dbpass``) but are none.
_GLUED_PASS_WORDS = frozenset({"bypass", "compass", "encompass", "overpass", "underpass", "trespass",
                               "surpass", "multipass", "impasse"})
_SAMPLE_MARK = re.compile(
    r"x{4,}|\*{3,}|#{4,}|(.)\1{5,}|replace[-_ ]?me|change[-_ ]?(me|it|this)|\byour[-_ ]|[-_ ]here\b"
    r"|<[A-Za-z][\w .-]*>|\.\.\.|(?<![.@/\w])example|dummy|fake|placeholder|redacted|sample|12345678|abcdefgh|qwerty",
    re.IGNORECASE,
)
#: Words written under a credential key that describe it rather than hold it: types, modes, permissions,
#: credential helpers, metasyntactic dummies.
DESCRIPTIVE_VALUES = frozenset({
    "read", "write", "read-only", "readonly", "read-write", "readwrite", "required", "optional", "enabled",
    "disabled", "string", "str", "text", "int", "integer", "number", "boolean", "bool", "object", "array",
    "hidden", "masked", "secure", "encrypted", "inherit", "auto", "manual", "plain", "basic", "bearer", "oauth",
    "oauth2", "jwt", "any", "all", "env", "vault", "keychain", "prompt",
    "desktop", "osxkeychain", "wincred", "secretservice", "ecr-login", "gcloud",  # docker credential helpers
    "foo", "bar", "baz", "qux", "quux", "foobar", "foobarbaz",
})
#: The logins every installation starts with: guessable, so in configuration and code they leak nothing
#: new; in a tool's credential file (``.netrc``, ``.pgpass``) they are that machine's login all the same.
DEFAULT_LOGINS = frozenset({"root", "admin", "administrator", "postgres", "mysql", "guest", "user", "demo",
                            "vagrant", "docker", "oracle"})
_VENDOR_EXAMPLE = re.compile(r"EXAMPLE")  # AWS's documented keys: AKIA...EXAMPLE, ...EXAMPLEKEY
#: Keys the issuers publish in their own documentation (Stripe's API reference).
VENDOR_EXAMPLE_VALUES = frozenset({"sk_" + "test_4eC39HqLyjWDarjtT1zdp7dc", "pk_" + "test_TYooMQauvdEDq54NiTphI7jx"})
_ENCRYPTED = re.compile(
    r"^(ENC\[[A-Z0-9_]+,|ENC\(|\$ANSIBLE_VAULT;|!vault\b|vault:v\d+:)|-----BEGIN PGP MESSAGE-----"
)
_IDENTIFIER = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}"
    r"|(sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]{20,}={0,2}|(sha1|sha256|sha512|md5):[0-9a-f]{32,128})$",
    re.IGNORECASE,
)
_PATH_LIKE = re.compile(
    r"^([A-Za-z]:\\|\\\\|classpath:|[a-z0-9_.-]+(/[a-z0-9_.-]+)+/?$"
    r"|[\w-]+\.(pem|key|crt|cer|p12|pfx|jks|json|ya?ml|txt|conf|cfg|ini|env|properties)$)"
)
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
#: Words joined by separators (``X-Content-Type-Options``, ``rack.session``): a name, not a generated value.
_CALL = re.compile(r"^[A-Za-z_$][\w.$]*\s*\(.*\)[\w.()'\"]*;?$")  # require('crypto').randomBytes(15)
_VERSION_SPEC = re.compile(r"^[~^<>=v*]*\s*\d+(\.[\dx*]+)+([-+][\w.]+)?$")  # a dependency's version
_JOINED_WORDS = re.compile(r"^[-_.]*[A-Za-z]+([-_.:][A-Za-z]+)*[-_.]*$|^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
#: Last words of a code identifier that say it holds something *about* a credential, not the credential.
DESCRIBING_WORDS = frozenset({
    "identifier", "param", "parameter", "field", "attr", "attribute", "column", "var", "variable", "msg",
    "message", "error", "hint", "pattern", "regex", "placeholder", "prompt", "text", "option", "arg",
    "argument", "kind", "method", "scheme", "strategy", "provider", "helper", "store", "storage", "model",
    "expires", "lifetime", "env", "environment", "label", "header", "prefix", "format", "type", "name",
})
_NAME_LIKE_VALUE = re.compile(r"^[a-z][a-z0-9._-]{0,62}$")


@lru_cache(maxsize=65536)
def secret_key_strength(key: str) -> str | None:
    """``"strong"``, ``"weak"`` or None: how surely a configuration key names a credential.

    General class: keys of every configuration format and code, read as whole
    words (`name_class`): ``db_password``, ``dbPassword``, ``Pass``, ``AUTH_SALT``,
    ``secret_key_base`` hold one; ``password_file``, ``token_url``,
    ``passwordLength``, ``existingSecret`` do not. *Weak* keys (``key``,
    ``NONCE_KEY``, ``auth``) only say "some key", so their value must look
    generated. Glued names ending in a password word (``dbpass``, ``mysqlpwd``)
    and `CREDENTIAL_KEYS` (``requirepass``) are strong.
    """
    k = (key or "").strip().strip("'\"`$:@[]")
    if not k or _points_elsewhere(k, _POINTER_SUFFIX):
        return None
    toks = [t for t in name_tokens(k) if t not in NEUTRAL_WORDS]
    if toks and toks[-1] in DESCRIBING_WORDS:
        return None  # GLOBAL_TOKEN_IDENTIFIER, password_param, auth_method
    verdict = name_class(k)
    if verdict is None:
        toks = name_tokens(k)
        last = toks[-1] if toks else ""
        glued = last.endswith(("pass", "passwd", "pwd")) and last not in _GLUED_PASS_WORDS
        return "strong" if last in CREDENTIAL_KEYS or glued else None
    kind, words = verdict
    if kind != "secret":
        return None
    return "weak" if words in WEAK_SECRET_WORDS else "strong"


def is_sample_value(value: str, *, default_logins: bool = True) -> bool:
    """A value written to show where a credential goes, or to describe one, not a credential.

    General class: samples beyond `is_placeholder`: descriptive words
    (`DESCRIPTIVE_VALUES`: ``write``, ``string``, ``required``, ``foobar``) and,
    unless ``default_logins`` is False, `DEFAULT_LOGINS` (``root``), runs (``xxxx``, ``******``,
    ``T00000000``), markers anywhere (``sk_test_replace_me``, ``<your-key>``,
    ``put your unique phrase here``, ``my-example-password``), sequences
    (``12345678``), vendor-documented examples (AWS's ``AKIA...EXAMPLE``,
    Stripe's published test keys, the jwt.io token).
    """
    v = value.strip().strip("'\"").strip()
    low = v.lower()
    if (is_placeholder(v) or v in VENDOR_EXAMPLE_VALUES or low in DESCRIPTIVE_VALUES or _SAMPLE_MARK.search(v)
            or _VENDOR_EXAMPLE.search(v) or (default_logins and low in DEFAULT_LOGINS)):
        return True
    return v.count(".") == 2 and v.startswith("eyJ") and _jwt_payload_mentions(v, b'"John Doe"')


def _jwt_payload_mentions(token: str, needle: bytes) -> bool:
    import base64
    import binascii

    part = token.split(".")[1]
    try:
        return needle in base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return False


def is_encrypted_value(value: str) -> bool:
    """Ciphertext committed on purpose: SOPS ``ENC[AES256_GCM,...]``, Jasypt ``ENC(...)``,
    Ansible Vault, Vault transit ``vault:v1:``, PGP messages.

    General class: encrypted-at-rest configuration; without the key it is no leak.
    """
    return bool(_ENCRYPTED.search(value.strip().strip("'\"")))


def is_identifier_value(value: str) -> bool:
    """A UUID, a hex digest (git SHA, MD5/SHA checksum) or a subresource-integrity hash.

    General class: random-looking identifiers. High entropy alone says nothing
    here; only a secret-named key makes one of them a credential.
    """
    return bool(_IDENTIFIER.match(value.strip().strip("'\"")))


def is_prose(value: str) -> bool:
    """Words with spaces (``Invalid password``, ``Mot de passe``): a message or a label.

    General class: natural-language strings. A punctuation-heavy generated salt
    with a space in it is not prose.
    """
    v = value.strip()
    words = v.split()
    if len(words) < 2 or len(v) / len(words) > 13:  # one word, or "words" as long as a key's lines
        return False
    wordy = sum(c.isalpha() or c.isspace() for c in v)
    return wordy / len(v) >= 0.8 or len(words) >= 5


def is_path_like(value: str) -> bool:
    """A file path or a store path (``secret/prod/db``, ``C:\\keys``, ``server.pem``).

    General class: values that say where a credential is kept.
    """
    return bool(_PATH_LIKE.match(value.strip().strip("'\"")))


def is_field_name_value(value: str) -> bool:
    """A value that is itself the name of a credential field (``access_token``, ``api-key``).

    General class: form-field, parameter and header names assigned to constants.
    """
    v = value.strip().strip("'\"").strip("!#$%&*+-./:;=?@^_~")
    return bool(_FIELD_NAME.fullmatch(v)) and secret_key_strength(v) is not None


def is_code_secret(value: str) -> bool:
    """A string literal of code that can be a credential: six characters of two classes, not words.

    General class: string literals, which in code are mostly labels, messages,
    identifiers and dummies (``'foobar'``, ``'Passwort'``, ``'rack.session'``).
    """
    v = value.strip()
    return len(v) >= 6 and _char_classes(v) >= 2 and not _JOINED_WORDS.match(v) and not _VERSION_SPEC.match(v) \
        and v.lower() not in DESCRIPTIVE_VALUES and not is_prose(v)


#: Hosts reserved for documentation (RFC 2606, RFC 6761): a credential in a URL to one is an example.
_DOC_HOST = re.compile(r"(^|\.)(example\.(com|org|net)|example|test|invalid)$", re.IGNORECASE)


def is_documentation_host(host: str) -> bool:
    """``example.com``, ``api.example.org``, ``db.example``, ``x.test``, ``x.invalid``."""
    return bool(_DOC_HOST.search(host.strip().rstrip(".").split(":")[0]))


GENERATED_MIN_LENGTH = 32
GENERATED_MIN_ENTROPY = 4.8  # bits per character: templates and prose of that length stay below


def is_generated(value: str) -> bool:
    """A long value of near-uniform random characters (a WordPress salt, a Django key, a token).

    General class: machine-generated secrets, punctuation and all. Sample and
    template markers found inside one are chance, not intent.
    """
    v = value.strip()
    return len(v) >= GENERATED_MIN_LENGTH and shannon_entropy(v) >= GENERATED_MIN_ENTROPY


def _char_classes(v: str) -> int:
    return sum(bool(re.search(p, v)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))


def secret_pair(key: str, value: str, *, code: bool = False, credential_file: bool = False) -> bool:
    """Is ``value``, written under ``key``, a credential written in place?

    General class: hardcoded credentials in key/value configuration and code.
    The key must name a credential (`secret_key_strength`); the value must be a
    literal (`is_literal_value`) and none of a sample, a ciphertext, prose, a
    path, a field name, a call (``require('crypto').randomBytes(15)``), a version,
    a name under a key that names a secret object
    (``secret: ledger-db``), or words joined by separators (``rack.session``,
    ``X-Content-Type-Options``). A weak key needs a generated-looking value. In code
    (``code=True``), where strings are also labels and messages, a value needs
    six characters of two classes and must not be a plain word (``Passwort``);
    in configuration any literal counts, except a short number (a port or a PIN
    length); in a tool's credential file (``credential_file=True``) a default
    login (``admin``) counts too.
    """
    strength = secret_key_strength(key)
    if strength is None:
        return False
    v = (value or "").strip()
    if is_generated(v):  # a long random value: a "${" or "<%" inside it is chance, not a template
        return not (is_encrypted_value(v) or v in VENDOR_EXAMPLE_VALUES or _VENDOR_EXAMPLE.search(v))
    literal = is_literal_value(v) or (v[:1] == "/" and is_random(v) and _char_classes(v) >= 3)  # base64 "/x..."
    if (not literal or is_sample_value(v, default_logins=not credential_file) or is_encrypted_value(v) or is_prose(v)
            or is_path_like(v) or is_field_name_value(v)):
        return False
    if key.strip("'\"").lower() in ("secret", "secrets") and _NAME_LIKE_VALUE.match(v):
        return False  # secret: ledger-db names a Secret object
    if _CALL.match(v) or _VERSION_SPEC.match(v) or (_JOINED_WORDS.match(v) and (code or strength == "weak" or "." in v.strip("."))):
        return False
    if strength == "weak":
        return " " not in v and len(v) >= 16 and shannon_entropy(v) >= 3.5 and _char_classes(v) >= 2 and not is_identifier_value(v)
    if code:
        return is_code_secret(v)
    return not (v.isdigit() and len(v) < 6)


#: Crackable password hashes by scheme: crypt(3) ``$id$`` forms, bcrypt, argon2, LDAP ``{SSHA}``.
PASSWORD_HASH = re.compile(
    r"(?<![\w$])(?:"
    r"\$(?:1|apr1)\$[./0-9A-Za-z]{0,8}\$[./0-9A-Za-z]{22}"
    r"|\$5\$(?:rounds=\d+\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{43}"
    r"|\$6\$(?:rounds=\d+\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{86}"
    r"|\$2[abxy]?\$\d{2}\$[./0-9A-Za-z]{53}"
    r"|\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
    r"|\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]{43}"
    r"|\{(?:SSHA|SSHA256|SSHA512|SHA|SHA256|SHA512|SMD5|MD5|CRYPT)\}[A-Za-z0-9+/$.]{8,}={0,2}"
    r"|pbkdf2_sha(?:1|256)\$\d+\$[A-Za-z0-9]+\$[A-Za-z0-9+/]{20,}={0,2}"
    r"|\$pbkdf2(?:-sha(?:256|512))?\$\d+\$[./A-Za-z0-9]+\$[./A-Za-z0-9]+"
    r")(?![\w/+])"
)
_HASH_SCHEMES = (("$1$", "md5-crypt"), ("$apr1$", "apr1"), ("$5$", "sha256-crypt"), ("$6$", "sha512-crypt"),
                 ("$2", "bcrypt"), ("$argon2", "argon2"), ("$y$", "yescrypt"), ("{", "ldap"), ("pbkdf2", "pbkdf2"),
                 ("$pbkdf2", "pbkdf2"))


def password_hash_scheme(value: str) -> str | None:
    """The scheme of a crackable password hash (``bcrypt``, ``sha512-crypt``, ``ldap``), if it is one.

    General class: stored password hashes (shadow, htpasswd, ftpd passwd files,
    LDIF, SQL dumps): not the password, but offline-crackable.
    """
    v = value.strip()
    if not PASSWORD_HASH.fullmatch(v):
        return None
    return next(name for prefix, name in _HASH_SCHEMES if v.startswith(prefix))
