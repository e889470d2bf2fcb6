"""The one secret-likeness judge (posture.model.secretlike) every collector uses.

Pure functions over names and values, so the tests are tables: secret names
against configuration names, references and placeholders against real-looking
literals, and the edges of the entropy measure.
"""

from __future__ import annotations

import math

import pytest

from posture.model import secretlike
from posture.model.secretlike import (
    classify_value,
    credential_pattern,
    is_literal_value,
    is_placeholder,
    is_random,
    is_reference,
    is_secret_name,
    looks_real,
    names_a_secret_object,
    public_prefix,
    shannon_entropy,
)

REAL_LOOKING = "q8Zr3Lx0VbW1nT7yKc2Pj5Hs9Dm4Gf6A"


@pytest.mark.parametrize("name", [
    "db_password", "DB_PASSWORD", "DB_PASS", "dbPasswd", "GPG_PASSPHRASE", "MYSQL_PWD", "client_secret",
    "GITHUB_TOKEN", "STRIPE_API_KEY", "apikey", "AWS_ACCESS_KEY", "private_key", "JWT_SIGNING_KEY",
    "STRIPE_KEY", "key", "SENTRY_DSN", "DB_CONNECTION_STRING", "BASIC_AUTH", "GCP_CREDENTIALS", "SECRET",
    "AUTHORIZATION", "HTTP_AUTH_HEADER", "OAUTH_TOKEN",
])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", [
    "db_host", "db_port", "log_level", "feature_flag_enabled", "DB_USER", "REGION", "PORT", "TIMEOUT_SECONDS",
    "monkey", "CACHE_TTL", "AUTHOR", "GIT_AUTHOR_EMAIL", "OIDC_AUTHORITY",
    # names that point at where the secret is kept: the good pattern
    "DB_PASSWORD_FILE", "TOKEN_PATH", "API_KEY_ID", "passwordSecretName", "secretRef", "existingSecret",
])
def test_configuration_and_pointer_names_are_not_secret_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize("key, expected", [
    ("existingSecret", True), ("secretKeyRef", True), ("passwordSecretName", True), ("tokenKey", True),
    ("secretKey", True), ("secrets", True), ("secret", True), ("api_key_id", True),
    # keys that hold the secret itself
    ("api_key", False), ("stripe_api_key", False), ("privateKey", False), ("password", False),
    ("client_id", False), ("db_host", False),
])
def test_keys_that_name_a_secret_object(key: str, expected: bool) -> None:
    assert names_a_secret_object(key) is expected


@pytest.mark.parametrize("value", [
    "${DB_PASSWORD}", "postgres://app:${DB_PASS}@db:5432/app", "$DB_PASSWORD", "$(cat /run/secrets/db)",
    "{{ .Values.db.password }}", "{{resolve:secretsmanager:prod/db:SecretString:password}}", "%(password)s",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/prod/db",
    "vault:secret/data/prod/db#password", "ssm:/prod/db/password", "/aws/reference/secretsmanager/prod/db",
    "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/db)",
])
def test_references(value: str) -> None:
    assert is_reference(value) and not is_literal_value(value)
    assert classify_value("DB_PASSWORD", value) is None


@pytest.mark.parametrize("value", [
    "changeme", "CHANGE_ME", "<your-key>", "<password>", "xxxx", "XXXXXXXXXXXX", "***", "...", "your-api-key",
    "your_token_here", "put-it-here", "TODO", "placeholder", "example", "dummy", "fake_token_123", "test",
    "none", "null", "true", "False", "secret", "password", "redacted", "'changeme'",
])
def test_placeholders(value: str) -> None:
    assert is_placeholder(value) and not is_literal_value(value) and not looks_real(value)


@pytest.mark.parametrize("value", ["/run/secrets/db", "./certs/key.pem", "~/.ssh/id_rsa", "file:/etc/app/key",
                                   "https://orders.internal/api", "postgres://db.internal:5432/app", "abc", ""])
def test_paths_plain_urls_and_short_values_are_not_literals(value: str) -> None:
    assert not is_literal_value(value)


@pytest.mark.parametrize("value", ["hunter2", "s3cr3t-Pa55", REAL_LOOKING, "postgres://app:hunter2@db/app"])
def test_literals(value: str) -> None:
    assert is_literal_value(value) and not is_reference(value) and not is_placeholder(value)


@pytest.mark.parametrize("value, expected", [
    (REAL_LOOKING, True), ("s3cr3t-Pa55w0rd", True), ("sk_live_" + REAL_LOOKING[:24], True),
    ("changeme", False), ("aaaaaaaaaaaa", False), ("password", False), ("short1A", False),
    ("${API_KEY}", False), ("abcdefghijk", False),  # one character class
])
def test_looks_real(value: str, expected: bool) -> None:
    assert looks_real(value) is expected


def test_entropy_edges() -> None:
    assert shannon_entropy("") == 0.0
    single = shannon_entropy("aaaaaaaa")
    assert single == 0.0 and math.copysign(1.0, single) == 1.0  # no -0.0
    assert shannon_entropy("ab") == pytest.approx(1.0)
    assert shannon_entropy("abcd" * 8) == pytest.approx(2.0)
    assert shannon_entropy("0123456789abcdef") == pytest.approx(4.0)
    # bounded by log2 of the distinct characters, whatever the length
    for s in (REAL_LOOKING, "hello world and more", "aab"):
        assert shannon_entropy(s) <= math.log2(len(set(s))) + 1e-9


def test_random_needs_length_no_space_and_entropy() -> None:
    assert is_random(REAL_LOOKING)
    assert not is_random(REAL_LOOKING[: secretlike.RANDOM_MIN_LENGTH - 1])  # too short
    assert not is_random("q8Zr3Lx0 VbW1nT7yKc2Pj5Hs9Dm4Gf6A")  # prose has spaces
    assert not is_random("abcdabcdabcdabcdabcdabcdabcd")  # long but 2 bits per character
    assert is_random(REAL_LOOKING[:16] + "\n" + REAL_LOOKING[16:])  # a wrapped blob still counts


@pytest.mark.parametrize("value, prefix", [
    ("AKIAIOSFODNN7EXAMPLE", "AKIA"), ("ASIAXXXX", "ASIA"), ("ghp_abc", "ghp_"), ("github_pat_11AB", "github_pat_"),
    ("glpat-xyz", "glpat-"), ("xoxb-123", "xoxb-"), ("sk_live_abc", "sk_live_"), ("npm_abc", "npm_"),
    ("SG.abc.def", "SG."), ("hunter2", None), ("akia-lowercase", None),
])
def test_public_prefix(value: str, prefix: str | None) -> None:
    assert public_prefix(value) == prefix


def test_credential_pattern_recognises_formats_not_names() -> None:
    assert credential_pattern("AKIAIOSFODNN7EXAMPLE") == "AWS Access Key"
    assert credential_pattern("hunter2-long-enough") is None
    assert credential_pattern("203.0.113.7") is None  # a public IP is not a secret


@pytest.mark.parametrize("name, value, expected", [
    ("DB_PASSWORD", "hunter2-long-enough", "Secret Keyword"),
    ("DB_PASSWORD", "changeme", None),  # placeholder
    ("DB_PASSWORD", "hunter2", None),  # shorter than MIN_CONFIG_SECRET: configuration-sized
    ("DB_PASSWORD_FILE", "/run/secrets/db-password", None),
    ("DB_HOST", "db.internal.example", None),
    ("FEATURE_FLAG_ENABLED", "true", None),
    ("LEGACY_KEY_ID", "AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),  # the format wins over the name
    ("BLOB", REAL_LOOKING, "High Entropy String"),
    ("CALLBACK_URL", "https://example.com/" + REAL_LOOKING, None),  # an address, not a credential
    ("DATABASE_URL", "postgres://app:hunter2@db.internal/app", "Basic Auth Credentials"),
])
def test_classify_value(name: str, value: str, expected: str | None) -> None:
    assert classify_value(name, value) == expected


def test_verdicts_never_carry_the_value() -> None:
    value = "sk_live_" + REAL_LOOKING
    for verdict in (classify_value("STRIPE_API_KEY", value), credential_pattern(value), public_prefix(value)):
        assert verdict is None or REAL_LOOKING not in verdict


def test_store_items_named_as_configuration_are_configuration():
    """Settings kept in a secret store: only the name's head decides, container words never do."""
    from posture.model.secretlike import store_item_class

    for name in ("prod/payments/db-host", "prod/payments/db-port", "common/log-level",
                 "common/feature-flags", "shared/tls/ca-bundle", "staging/app/service-urls"):
        assert store_item_class(name) is not None and store_item_class(name)[0] == "configuration", name
    # secrets, bundles that may hold secrets, and names that decide nothing stay secrets
    for name in ("prod/payments/db-password", "prod/orders/config", "prod/app/settings",
                 "prod/payments/stripe", "prod/payments/postgres", "dev/app/api-key", "prod/db/host-password"):
        assert store_item_class(name) is None, name


def test_configuration_headed_variable_names_are_not_secret_keywords():
    """API_KEY_HEADER holds a header name; a credential format is still found whatever the name."""
    assert classify_value("API_KEY_HEADER", "X-Api-Key-Header") is None
    assert classify_value("TOKEN_HEADER_NAME", "Authorization-Bearer") is None
    assert classify_value("API_KEY", "Zx81kQp3LmN7vR2tY6wB") == "Secret Keyword"
    assert classify_value("API_KEY_HEADER", "AKIAZ3MHQ7RXCVB2N4PL") is not None
