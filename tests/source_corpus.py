"""A labelled corpus of leaked credentials and clean look-alikes, committed into a real git repository.

What a source scanner must find (risk lines) and must not (clean look-alikes),
by the classes of issue #13: key/value credentials in every structured format
(2), tools' credential files (3), password hashes (4), private keys and
keystores known by content (5), values detect-secrets' own filters drop (6),
secrets in tests, docs and vendored code reported with their context (7), and
the samples, examples, ciphertext and digests that are no leak (8); ``token``
lines are credential formats the token engine knows.

Labels live beside the content: a line ending in ``«risk:CLASS»`` (optionally
``@context``) is a risk line of HEAD, ``«hist:CLASS»`` a risk line of the
commit that adds it and later deletes or rewrites it, ``«clean:CLASS»`` a
look-alike that must not be found; class ``provider`` (9) holds provider token
formats only the optional Kingfisher engine knows. Markers are stripped before the commit;
file-level expectations (a committed ``.env``, a key file, a keystore) are
listed in ``FILE_FINDINGS``. Every value is generated at runtime from a seed
(no credential-shaped literal sits in this file), and `Corpus.values` lists
them all for the canary check.

One concept, one module: this is data, hence its length.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from posture.demo.estates.git import ALNUM, B64ISH, FastImport, _derive, fake_aws_key_id, fake_aws_secret

CRYPT = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEX = "0123456789abcdef"
SALT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#%&()*+,-./:;<=>?@[]^_`{|}~ "
DJANGO = "abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)"
MARK = re.compile(r"\s*«(risk|hist|clean):([\w-]+)(?:@(\w+))?»[ \t]*$")
AWS_DOC_ID = "AKIA" + "IOSFODNN7" + "EXAMPLE"
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCY" + "EXAMPLEKEY"
JWT_IO = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0Ijo"
          "xNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")


@dataclass(frozen=True)
class Label:
    """One expectation: a risk line found at (path, line), a clean line not found, or a file finding."""

    path: str
    line: int | None
    kind: str  # risk, clean, file
    cls: str  # issue class (2-8, token) or, for files, the file detector
    context: str = "production"
    commit: str | None = None  # message of the commit a history-only risk line was added in


@dataclass
class Corpus:
    repo: Path
    labels: list[Label]
    values: tuple[str, ...]
    files: int  # files ever committed

    def of(self, kind: str) -> list[Label]:
        return [lb for lb in self.labels if lb.kind == kind]


class Values:
    """Deterministic credential-shaped values from one seed, remembered for the canary check."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.all: list[str] = []

    def keep(self, value: str) -> str:
        self.all.append(value)
        return value

    def s(self, name: str, n: int = 20, alphabet: str = ALNUM) -> str:
        return self.keep(_derive(f"{self.seed}:{name}", alphabet, n))

    def password(self, name: str) -> str:
        return self.keep(_derive(f"{self.seed}:{name}", ALNUM, 14) + "-" + _derive(f"{self.seed}:{name}!", ALNUM, 4))

    def b64(self, name: str, raw: bytes | None = None) -> str:
        data = raw if raw is not None else hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        return self.keep(base64.b64encode(data).decode())

    def crypt(self, prefix: str, name: str, salt: int, digest: int) -> str:
        return self.keep(f"{prefix}{_derive(self.seed + name + 's', CRYPT, salt)}$"
                         f"{_derive(self.seed + name + 'h', CRYPT, digest)}")

    def pem(self, name: str, kind: str, width: int = 64) -> str:
        body = base64.b64encode(hashlib.sha512(f"{self.seed}:{name}".encode()).digest() * 10).decode()
        lines = [body[i : i + width] for i in range(0, len(body), width)]
        label = f"{kind}PRIVATE KEY" + (" BLOCK" if kind == "PGP " else "")
        return self.keep("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])) + "\n"

    def putty(self, name: str, version: int) -> str:
        pub = base64.b64encode(hashlib.sha512(f"{self.seed}:{name}:pub".encode()).digest()).decode()
        priv = base64.b64encode(hashlib.sha512(f"{self.seed}:{name}:priv".encode()).digest()).decode()
        return self.keep("\n".join([
            f"PuTTY-User-Key-File-{version}: ssh-ed25519", "Encryption: none", "Comment: ops@acme",
            "Public-Lines: 2", pub[:64], pub[64:], "Private-Lines: 1", priv,
            f"Private-MAC: {_derive(self.seed + name, HEX, 64)}",
        ])) + "\n"


def _binary(seed: str, magic: bytes, n: int = 1500) -> bytes:
    data = magic + b"\x00\x00\x00\x02"
    while len(data) < n:
        data += hashlib.sha256(seed.encode() + data[-32:]).digest()
    return data[:n]


PKCS12 = b"\x30\x82\x0a\x1b\x02\x01\x03\x30\x82\x09\xe1\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
JKS = b"\xfe\xed\xfe\xed"

#: File-level findings the corpus must produce: (path, detector, context, commit message if history only).
FILE_FINDINGS = (
    ("laravel/.env", "env-file", "production", None),
    ("deploy/.env.production", "env-file", "production", None),
    (".env", "env-file", "production", "Legacy config and keys"),
    ("deploy/server.txt", "private-key-file", "production", None),
    ("config/gpg/release.asc", "private-key-file", "production", None),
    ("keys/ops.ppk", "private-key-file", "production", None),
    ("backup/session.dat", "private-key-file", "production", None),
    ("ops/ssh/deploy", "private-key-file", "production", None),
    ("keys/signing-ec.key", "private-key-file", "production", None),
    ("tests/fixtures/server.key", "private-key-file", "test_fixture", None),
    ("old/deploy_key", "private-key-file", "production", "Legacy config and keys"),
    ("certs/bundle.bin", "keystore-file", "production", None),
    ("android/signing.store", "keystore-file", "production", None),
    ("android/old.keystore", "keystore-file", "production", "Legacy config and keys"),
    ("assets/cert.dat", "keystore-file", "production", "Legacy config and keys"),
    (".dbeaver/credentials-config.json", "credentials-file", "production", None),
    *((p, "credentials-file", "production", None) for p in (
        "home/.netrc", "home/_netrc", "home/.git-credentials", "home/.pgpass", "home/.my.cnf", "home/.esmtprc",
        "home/.s3cfg", "home/.boto", "home/.aws/credentials", "home/.docker/config.json", "home/.dockercfg",
        "home/.npmrc", ".yarnrc.yml", "legacy/.yarnrc", "ftp/sitemanager.xml", "ftp/recentservers.xml",
        ".dbeaver/data-sources.json", "robomongo.json", ".vscode/sftp.json", "sftp-config.json", ".ftpconfig",
        "config/master.key", "config/credentials/production.key", "home/.pypirc", ".m2/settings.xml",
        ".idea/WebServers.xml", ".kube/config", ".gem/credentials", ".config/gh/hosts.yml", ".cargo/credentials.toml",
        ".terraformrc", "WinSCP.ini")),
)


def _structured(v: Values) -> dict[str, str]:
    """Class 2 (and 6): key/value credentials in each format's own syntax."""
    shared = v.password("shared-db")  # one value in a prod and a staging file: reuse (SRC007)
    return {
        "config/app.ini": (
            "[database]\nhost = db.internal\nport = 5432  «clean:2»\nuser = app\n"
            f"password = {v.password('ini-db')}  «risk:2»\npassword_file = /run/secrets/db  «clean:8»\n"
            f"[api]\napi_key = {v.s('ini-api', 32)}  «risk:2»\ntimeout = 30\n"
            f"session_salt = {v.s('ini-salt', 48, SALT.replace(' ', '').replace(';', '').replace('#', ''))}  «risk:6»\n"),
        "config/service.cfg": (
            "[auth]\nclient_id = svc-orders  «clean:2»\n"
            f"client_secret = {v.s('cfg-client', 40)}  «risk:2»\n"
            "token_url = https://auth.internal/oauth/token  «clean:2»\n"),
        "src/main/resources/application.properties": (
            "spring.datasource.url=jdbc:postgresql://db.internal:5432/orders\n"
            "spring.datasource.username=orders\n"
            f"spring.datasource.password={v.password('props-db')}  «risk:2»\n"
            f"jwt.secret={v.s('props-jwt', 48)}  «risk:2»\n"
            "app.mail.password=${MAIL_PASSWORD}  «clean:8»\napp.password.min-length=12  «clean:2»\n"),
        "config/settings.yaml": (
            f"database:\n  host: db.internal\n  password: {v.password('yaml-db')}  «risk:2»\n"
            "  passwordSecretName: orders-db  «clean:2»\npayments:\n  stripe:\n"
            f"    api_key: \"{v.keep('sk_' + 'live_' + _derive(v.seed + 'stripe', ALNUM, 24))}\"  «risk:2»\n"
            "cache:\n  password: ${REDIS_PASSWORD}  «clean:8»\n"),
        "config/prod.yaml": f"db:\n  host: db.prod.internal\n  password: {shared}  «risk:2»\n",
        "config/staging.yaml": f"db:\n  host: db.staging.internal\n  password: {shared}  «risk:2»\n",
        "config/app.json": (
            '{\n  "name": "orders",\n'
            f'  "apiKey": "{v.s("json-api", 32)}",  «risk:2»\n'
            f'  "dbPassword": "{v.password("json-db")}",  «risk:2»\n'
            '  "passwordMinLength": 12,\n  "auth": {"tokenUrl": "https://auth.internal/token"}  «clean:2»\n}\n'),
        "web/Web.config": (
            "<configuration>\n  <connectionStrings>\n"
            '    <add name="Orders" connectionString="Server=db.internal;Database=orders;User Id=app;'
            f'Password={v.password("ado-db")};" />  «risk:2»\n  </connectionStrings>\n  <appSettings>\n'
            f'    <add key="StripeSecret" value="{v.s("xml-stripe", 32)}" />  «risk:2»\n'
            '    <add key="LogLevel" value="Information" />  «clean:2»\n'
            '    <add key="SmtpPassword" value="" />  «clean:8»\n  </appSettings>\n</configuration>\n'),
        "config/beans.xml": (
            '<beans>\n  <bean id="ds" class="org.apache.commons.dbcp2.BasicDataSource">\n'
            '    <property name="username" value="orders"/>  «clean:2»\n'
            f'    <property name="password" value="{v.password("bean-db")}"/>  «risk:2»\n  </bean>\n</beans>\n'),
        "config/app.toml": (
            "[server]\nport = 8080\n[database]\n"
            f"password = \"{v.password('toml-db')}\"  «risk:2»\n"
            f"[tokens]\ngithub = \"{v.keep('gh' + 'p_' + _derive(v.seed + 'toml-gh', ALNUM, 36))}\"  «risk:token»\n"
            f"db = {{ user = \"orders\", password = \"{v.password('toml-inline')}\" }}  «risk:2»\n"),
        "web/config.php": (
            "<?php\ndefine('DB_HOST', 'localhost');  «clean:2»\n"
            f"define('DB_PASSWORD', '{v.password('php-define')}');  «risk:2»\n"
            f"$cfg['Servers'][$i]['password'] = '{v.password('php-cfg')}';  «risk:2»\n"
            f"$config = array(\n    'smtp_pass' => '{v.password('php-array')}',  «risk:2»\n"
            "    'smtp_user' => 'mailer',  «clean:2»\n);\n"
            "$password = getenv('APP_PASSWORD');  «clean:8»\n"),
        "home/.bashrc": (
            "export EDITOR=vim  «clean:2»\nexport PATH=\"$HOME/bin:$PATH\"\n"
            f"export AWS_SECRET_ACCESS_KEY={v.keep(fake_aws_secret(v.seed + 'bashrc'))}  «risk:2»\n"
            f"export GITHUB_TOKEN={v.keep('gh' + 'p_' + _derive(v.seed + 'bashrc-gh', ALNUM, 36))}  «risk:2»\n"
            "export NPM_TOKEN=\"${NPM_TOKEN:-}\"  «clean:8»\nalias ll='ls -la'\n"),
        "home/.bash_profile": (
            f"export DATABASE_PASSWORD='{v.password('profile-db')}'  «risk:2»\nexport HISTSIZE=10000  «clean:2»\n"),
        "scripts/deploy.sh": (
            "#!/bin/bash\nset -euo pipefail\n"
            f"API_TOKEN={v.s('sh-token', 32)}  «risk:2»\n"
            f"mysql -u root -p{v.password('sh-mysql')} orders < schema.sql  «risk:2»\n"
            f"curl -u deploy:{v.password('sh-curl')} https://ci.internal/api/deploy  «risk:2»\n"
            "TOKEN=\"${DEPLOY_TOKEN:?missing}\"  «clean:8»\n"
            "curl -H \"Authorization: Bearer $TOKEN\" https://ci.internal/api  «clean:8»\n"
            f"docker login -u ci --password {v.password('sh-docker')} registry.internal  «risk:2»\n"
            "docker login -u ci --password-stdin registry.internal < token.txt  «clean:8»\n"),
        "scripts/bootstrap.ps1": (
            f"$password = \"{v.password('ps-password')}\"  «risk:2»\n"
            f"$env:API_KEY = \"{v.s('ps-api', 32)}\"  «risk:2»\n"
            "$token = Get-Secret -Name DeployToken  «clean:8»\n"),
        "etc/default/orders": (
            "# Defaults for the orders service\nORDERS_PORT=8080  «clean:2»\n"
            f"ORDERS_DB_PASSWORD={v.password('default-db')}  «risk:2»\n"
            f"ORDERS_SIGNING_KEY={v.s('default-sign', 40)}  «risk:2»\n"),
        "deploy/.env.production": (
            f"DATABASE_URL=postgres://orders:{v.password('env-url')}@db.internal:5432/orders  «risk:2»\n"
            f"REDIS_URL=redis://:{v.password('env-redis')}@redis.internal:6379/0  «risk:2»\n"
            f"SENDGRID_API_KEY={v.keep('SG.' + _derive(v.seed + 'sg1', ALNUM, 22) + '.' + _derive(v.seed + 'sg2', ALNUM, 43))}"
            "  «risk:2»\n"
            f"JWT_SECRET={v.s('env-jwt', 64)}  «risk:2»\nLOG_LEVEL=info  «clean:2»\n"
            f"SMTP_PASSWORD={v.password('env-smtp')}  «risk:2»\nSENTRY_DSN=  «clean:8»\n"),
        "cloud/.credentials": (f"[default]\naws_access_key_id = {v.keep(fake_aws_key_id(v.seed + 'cloud'))}  «risk:2»\n"
                               f"aws_secret_access_key = {v.keep(fake_aws_secret(v.seed + 'cloud'))}  «risk:2»\n"),
        "notes/passwords.txt": (f"prod db password: {v.password('notes-db')}  «risk:2»\n"
                                "rotate quarterly: yes  «clean:2»\n"),
        ".editorconfig": "root = true\n[*]\nindent_style = space  «clean:2»\n",
        "Makefile": ("deploy:\n\t./build.sh\n"
                     f"\tcurl -u admin:{v.password('make-curl')} -T dist.tgz https://artifacts.internal/upload  «risk:2»\n"),
        "src/main/resources/application.yml": (
            f"spring:\n  datasource:\n    username: orders  «clean:2»\n    password: '{v.password('spring-yml')}'  «risk:2»\n"
            f"  mail:\n    password: \"{v.password('spring-mail')}\"  «risk:2»\n"),
        "app/config/parameters.yml": (f"parameters:\n    database_password: {v.password('symfony-db')}  «risk:2»\n"
                                      f"    secret: {v.s('symfony-secret', 40, HEX)}  «risk:2»\n"
                                      "    mailer_password: '%env(MAILER_PASSWORD)%'  «clean:8»\n"),
        "lib/db.rb": (f"ActiveRecord::Base.establish_connection(adapter: \"postgresql\", password: \"{v.password('ruby-db')}\")"
                      "  «risk:2»\nSTRIPE = ENV.fetch(\"STRIPE_KEY\")  «clean:8»\n"),
        "app/settings.py": (
            "import os\n\nDEBUG = False\n"
            f"SECRET_KEY = 'django-insecure-{v.s('django', 50, DJANGO)}'  «risk:6»\n"
            "ALLOWED_HOSTS = [\"orders.acme.io\"]\nDATABASES = {\n    \"default\": {\n"
            "        \"ENGINE\": \"django.db.backends.postgresql\",\n        \"NAME\": \"orders\",\n"
            f"        \"PASSWORD\": \"{v.password('django-db')}\",  «risk:2»\n"
            "        \"HOST\": os.environ.get(\"DB_HOST\", \"localhost\"),  «clean:2»\n    }\n}\n"
            "EMAIL_HOST_PASSWORD = os.environ[\"EMAIL_HOST_PASSWORD\"]  «clean:8»\n"
            f"AWS_SECRET_ACCESS_KEY = os.getenv(\"AWS_SECRET_ACCESS_KEY\", \"{v.keep(fake_aws_secret(v.seed + 'dj'))}\")"
            "  «risk:2»\n"),
        "src/config/default.js": (
            "module.exports = {\n  port: 3000,  «clean:2»\n"
            f"  db: {{ user: 'orders', password: '{v.password('js-db')}' }},  «risk:2»\n"
            f"  apiKey: \"{v.s('js-api', 32)}\",  «risk:2»\n"
            f"  sessionSecret: process.env.SESSION_SECRET || \"{v.s('js-session', 32)}\",  «risk:2»\n"
            "  passwordPattern: /^(?=.*\\d).{12,}$/,  «clean:2»\n};\n"),
        "src/app.ts": (
            f"const apiKey: string = \"{v.s('ts-api', 32)}\";  «risk:2»\n"
            "const tokenHeader: string = \"X-Api-Token\";  «clean:2»\n"),
        "config/secrets.yml": (
            f"development:\n  secret_key_base: {v.s('rails-dev', 128, HEX)}  «risk:3»\n"
            "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>  «clean:8»\n"),
        "config/database.yml": (
            "production:\n  adapter: postgresql\n  database: orders\n  username: orders  «clean:2»\n"
            f"  password: {v.password('rails-db')}  «risk:2»\n  host: <%= ENV.fetch(\"DB_HOST\") %>\n"
            "development:\n  password: <%= ENV['DEV_DB_PASSWORD'] %>  «clean:8»\n"),
        "config/mongoid.yml": (
            "production:\n  clients:\n    default:\n      database: orders\n      options:\n"
            f"        user: orders\n        password: \"{v.password('mongoid')}\"  «risk:2»\n"),
        "src/main/java/com/acme/Config.java": (
            "package com.acme;\n\npublic final class Config {\n"
            f"    private static final String API_KEY = \"{v.s('java-api', 32)}\";  «risk:2»\n"
            "    private static final String PASSWORD_PARAM = \"password\";  «clean:2»\n"
            "    static String dbPassword() { return System.getenv(\"DB_PASSWORD\"); }  «clean:8»\n}\n"),
        "cmd/server/main.go": (
            f"package main\n\nconst apiToken = \"{v.s('go-token', 32)}\"  «risk:2»\n"
            "var defaultTimeout = \"30s\"\nfunc dsn() string { return os.Getenv(\"DATABASE_URL\") }  «clean:2»\n"),
        "infra/main.tf": (
            "resource \"aws_db_instance\" \"orders\" {\n  engine   = \"postgres\"\n"
            f"  password = \"{v.password('tf-db')}\"  «risk:2»\n}}\n"
            "resource \"aws_db_instance\" \"reports\" {\n  password = var.reports_db_password  «clean:8»\n}\n"),
        "deploy/redis.conf": (
            f"bind 127.0.0.1\nport 6379\nrequirepass {v.password('redis')}  «risk:2»\n"
            "# requirepass foobared  «clean:8»\n"),
        "ansible/group_vars/prod.yml": (
            f"ansible_become_pass: {v.password('ansible-become')}  «risk:2»\n"
            f"mysql_root_password: \"{v.password('ansible-mysql')}\"  «risk:2»\n"
            "vault_db_password: !vault |  «clean:8»\n"
            "  $ANSIBLE_VAULT;1.1;AES256\n"
            f"  {_derive(v.seed + 'vault', HEX, 64)}\n"
            "api_password: \"{{ vault_api_password }}\"  «clean:8»\n"),
        "Jenkinsfile": (
            "pipeline {\n  environment {\n"
            f"    DEPLOY_PASSWORD = '{v.password('jenkins')}'  «risk:2»\n"
            "    REGISTRY_TOKEN = credentials('registry-token')  «clean:8»\n  }\n}\n"),
        "src/Program.cs": (
            f"var conn = \"Server=db.internal;Database=orders;User Id=sa;Password={v.password('cs-db')};\";  «risk:2»\n"
            "var cs = Configuration.GetConnectionString(\"Orders\");  «clean:8»\n"),
        "docker-compose.yml": (
            "services:\n  db:\n    image: postgres:16\n    environment:\n"
            f"      POSTGRES_PASSWORD: {v.password('compose-db')}  «risk:2»\n"
            "      MYSQL_ROOT_PASSWORD: root  «clean:8»\n      POSTGRES_USER: orders\n"),
        "app/client.py": (
            "\"\"\"Orders API client.\n\nExample:\n"
            f"    client = OrdersClient(api_key=\"{v.s('doc-api', 32)}\")  «risk:7@documentation»\n\"\"\"\n"
            "import os\n\n\nclass OrdersClient:\n    def __init__(self, api_key=None):  «clean:2»\n"
            "        self.api_key = api_key or os.environ[\"ORDERS_API_KEY\"]  «clean:8»\n"),
        "config/users.yaml": (
            f"admins:\n  - name: ana\n    password_hash: {v.keep('$argon2id$v=19$m=65536,t=3,p=4$' + _derive(v.seed + 'a2s', ALNUM, 22) + '$' + _derive(v.seed + 'a2h', ALNUM, 43))}"
            "  «risk:4»\n"),
        "db/dump.sql": (
            "-- MySQL dump 10.13\nCREATE TABLE `users` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n"
            "  `email` varchar(255) NOT NULL,\n  `password_hash` varchar(255) NOT NULL,\n"
            "  `api_token` varchar(64) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n);\n"
            f"INSERT INTO `users` VALUES (1,'ana@acme.io','{v.crypt('$2y$10$', 'sql-bcrypt', 0, 53).replace('$2y$10$$', '$2y$10$')}',"
            f"'{v.s('sql-token', 40)}'),(2,'li@acme.io',NULL,NULL);  «risk:4»\n"
            f"CREATE USER 'report'@'%' IDENTIFIED BY '{v.password('sql-user')}';  «risk:2»\n"
            "INSERT INTO `settings` (`name`, `value`) VALUES ('theme','dark');  «clean:2»\n"
            f"COPY public.accounts (id, login, password) FROM stdin;\n1\tops\t{v.password('sql-copy')}  «risk:2»\n\\.\n"),
        "config/tokens.py": (
            f"GITHUB = \"{v.keep('gh' + 'p_' + _derive(v.seed + 'tok-gh', ALNUM, 36))}\"  «risk:token»\n"
            f"GITLAB = \"{v.keep('glp' + 'at-' + _derive(v.seed + 'tok-gl', ALNUM, 20))}\"  «risk:token»\n"
            f"SLACK = \"{v.keep('xo' + 'xb-' + _derive(v.seed + 'tok-s1', '0123456789', 11) + '-' + _derive(v.seed + 'tok-s2', '0123456789', 12) + '-' + _derive(v.seed + 'tok-s3', ALNUM, 24))}\""
            "  «risk:token»\n"
            f"NPM = \"{v.keep('np' + 'm_' + _derive(v.seed + 'tok-npm', ALNUM, 36))}\"  «risk:token»\n"
            f"TWILIO = \"{v.keep('S' + 'K' + _derive(v.seed + 'tok-tw', HEX, 32))}\"  «risk:token»\n"
            f"MAILCHIMP = \"{v.keep(_derive(v.seed + 'tok-mc', HEX, 32) + '-us12')}\"  «risk:token»\n"
            f"AZURE = \"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={v.s('tok-az', 86, B64ISH)}==;\"  «risk:token»\n"
            "GITHUB_EXAMPLE = \"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"  «clean:8»\n"
            "SLACK_DOC = \"xoxb-your-bot-token\"  «clean:8»\n"),
        "config/alerts.yaml": (
            f"slack:\n  webhook_url: https://hooks.slack.com/services/T{v.s('wh1', 8, ALNUM.upper()[:36])}/"
            f"B{v.s('wh2', 10, ALNUM.upper()[:36])}/{v.s('wh3', 24)}  «risk:token»\n"),
    }


def _credential_files(v: Values) -> dict[str, str | bytes]:
    """Class 3: tools' own credential files."""
    auth = v.b64("docker-auth", f"ci:{v.password('docker-pass')}".encode())
    auth2 = v.b64("dockercfg-auth", f"deploy:{v.password('dockercfg-pass')}".encode())
    return {
        "home/.netrc": (f"machine api.heroku.com\n  login ops@acme.io\n  password {v.s('netrc-heroku', 36)}  «risk:3»\n"
                        f"machine ftp.internal login deploy password {v.password('netrc-ftp')}  «risk:3»\n"),
        "home/_netrc": (f"machine git.internal login ci password {v.password('netrc-win')}  «risk:3»\n"
                        "machine nas.internal login backup password admin  «risk:3»\n"),
        "home/.git-credentials": (
            f"https://ops@acme.io:{v.keep('gh' + 'p_' + _derive(v.seed + 'gitcred', ALNUM, 36))}@github.com  «risk:3»\n"
            f"https://ci-bot:{v.password('gitcred-gl')}@gitlab.internal  «risk:3»\n"),
        "home/.pgpass": ("# hostname:port:database:username:password  «clean:3»\n"
                         f"db.internal:5432:orders:orders:{v.password('pgpass-1')}  «risk:3»\n"
                         f"*:*:*:replicator:{v.password('pgpass-2')}  «risk:3»\n"),
        "home/.my.cnf": f"[client]\nuser = root\npassword = {v.password('mycnf')}  «risk:3»\nhost = db.internal  «clean:3»\n",
        "home/.esmtprc": ("hostname = smtp.internal:587\nusername = \"alerts\"  «clean:3»\n"
                          f"password = \"{v.password('esmtp')}\"  «risk:3»\nstarttls = required  «clean:3»\n"),
        "home/.s3cfg": (f"[default]\naccess_key = {v.keep(fake_aws_key_id(v.seed + 's3cfg'))}  «risk:3»\n"
                        f"secret_key = {v.keep(fake_aws_secret(v.seed + 's3cfg'))}  «risk:3»\n"
                        "host_base = s3.amazonaws.com  «clean:3»\nuse_https = True  «clean:3»\n"),
        "home/.boto": (f"[Credentials]\naws_access_key_id = {v.keep(fake_aws_key_id(v.seed + 'boto'))}  «risk:3»\n"
                       f"aws_secret_access_key = {v.keep(fake_aws_secret(v.seed + 'boto'))}  «risk:3»\n"),
        "home/.aws/credentials": (
            f"[default]\naws_access_key_id = {v.keep(fake_aws_key_id(v.seed + 'aws'))}  «risk:3»\n"
            f"aws_secret_access_key = {v.keep(fake_aws_secret(v.seed + 'aws'))}  «risk:3»\n"
            f"[docs]\naws_access_key_id = {AWS_DOC_ID}  «clean:8»\naws_secret_access_key = {AWS_DOC_SECRET}  «clean:8»\n"),
        "home/.docker/config.json": (
            f'{{\n  "auths": {{\n    "registry.internal": {{\n      "auth": "{auth}"  «risk:3»\n    }},\n'
            '    "https://index.docker.io/v1/": {\n'
            f'      "auth": "{base64.b64encode(b"username:password").decode()}"  «clean:8»\n    }}\n  }},\n'
            '  "credsStore": "desktop"  «clean:3»\n}\n'),
        "home/.dockercfg": f'{{"registry.internal": {{"auth": "{auth2}", "email": "ci@acme.io"}}}}  «risk:3»\n',
        "home/.npmrc": ("registry=https://registry.npmjs.org/\n"
                        f"//registry.npmjs.org/:_authToken={v.keep('np' + 'm_' + _derive(v.seed + 'npmrc', ALNUM, 36))}"
                        "  «risk:3»\n"
                        f"//npm.internal/:_auth={v.b64('npmrc-auth', b'ci:' + v.password('npmrc-pass').encode())}  «risk:3»\n"
                        "always-auth=true  «clean:3»\n"),
        ".yarnrc.yml": (f"npmRegistryServer: \"https://npm.internal\"\nnpmAuthToken: \"{v.s('yarn2', 36)}\"  «risk:3»\n"
                        "npmAlwaysAuth: true  «clean:3»\n"),
        "legacy/.yarnrc": (f"registry \"https://npm.internal/\"\n\"//npm.internal/:_authToken\" \"{v.s('yarn1', 36)}\""
                           "  «risk:3»\n"),
        "ftp/sitemanager.xml": (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<FileZilla3>\n  <Servers>\n    <Server>\n"
            "      <Host>ftp.internal</Host>\n      <Port>21</Port>  «clean:3»\n      <User>deploy</User>  «clean:3»\n"
            f"      <Pass encoding=\"base64\">{v.b64('filezilla', v.password('fz').encode())}</Pass>  «risk:3»\n"
            "    </Server>\n  </Servers>\n</FileZilla3>\n"),
        "ftp/recentservers.xml": (
            "<FileZilla3>\n  <RecentServers>\n"
            f"    <Server><Host>files.internal</Host><Port>22</Port><User>ops</User><Pass>{v.password('fz-recent')}"
            "</Pass></Server>  «risk:3»\n  </RecentServers>\n</FileZilla3>\n"),
        ".dbeaver/credentials-config.json": _binary(v.seed + "dbeaver", b"\x8e\x13\x9f\x02"),
        ".dbeaver/data-sources.json": (
            '{\n  "connections": {\n    "postgres-jdbc-1": {\n      "configuration": {\n'
            '        "host": "db.internal",\n        "user": "analyst",  «clean:3»\n'
            f'        "password": "{v.password("dbeaver")}",  «risk:3»\n        "auth-model": "native"  «clean:3»\n'
            "      }\n    }\n  }\n}\n"),
        "robomongo.json": ('{\n    "connections" : [\n        {\n            "serverHost" : "mongo.internal",\n'
                           '            "userName" : "admin",\n'
                           f'            "userPassword" : "{v.password("robo")}",  «risk:3»\n'
                           '            "sshAuthMethod" : 0\n        }\n    ]\n}\n'),
        ".vscode/sftp.json": ('{\n  "name": "prod",\n  "host": "sftp.internal",\n  "username": "deploy",  «clean:3»\n'
                              f'  "password": "{v.password("vscode-sftp")}",  «risk:3»\n  "remotePath": "/var/www"\n}}\n'),
        "sftp-config.json": ('{\n    // sftp, ftp or ftps\n    "type": "sftp",\n    "host": "files.internal",\n'
                             f'    "user": "www",\n    "password": "{v.password("sublime-sftp")}",  «risk:3»\n'
                             '    //"ssh_key_file": "~/.ssh/id_rsa",  «clean:3»\n}\n'),
        ".ftpconfig": ('{\n    "protocol": "ftp",\n    "host": "ftp.internal",\n    "user": "deploy",\n'
                       f'    "pass": "{v.password("atom-ftp")}",  «risk:3»\n    "promptForPass": false  «clean:3»\n}}\n'),
        "config/master.key": f"{v.s('rails-master', 32, HEX)}  «risk:3»\n",
        "config/credentials/production.key": f"{v.s('rails-prod-key', 32, HEX)}  «risk:3»\n",
        "config/credentials.yml.enc": (f"{v.s('enc1', 120, B64ISH)}--{v.s('enc2', 16, B64ISH)}=="
                                       f"--{v.s('enc3', 22, B64ISH)}==  «clean:8»\n"),
        "laravel/.env": ("APP_NAME=Orders\nAPP_ENV=production  «clean:2»\n"
                         f"APP_KEY=base64:{v.b64('laravel-key')}  «risk:3»\n"
                         f"DB_PASSWORD={v.password('laravel-db')}  «risk:3»\nMAIL_PASSWORD=null  «clean:8»\n"),
        "laravel/.env.example": "APP_KEY=  «clean:8»\nDB_PASSWORD=secret  «clean:8»\nMAIL_PASSWORD=null  «clean:8»\n",
        "blog/wp-config.php": "<?php\n" + "".join(
            f"define( '{name}', '{v.s('wp-' + name, 64, SALT).replace(chr(39), '.').replace(chr(92), '.')}' );  «risk:3»\n"
            for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                         "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        + f"define( 'DB_PASSWORD', '{v.password('wp-db')}' );  «risk:3»\ndefine( 'DB_HOST', 'localhost' );  «clean:2»\n",
        "blog/wp-config-sample.php": "<?php\n" + "".join(
            f"define( '{name}', 'put your unique phrase here' );  «clean:8»\n"
            for name in ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "NONCE_SALT"))
        + "define( 'DB_PASSWORD', 'password_here' );  «clean:8»\n",
        "home/.pypirc": ("[pypi]\nusername = __token__  «clean:3»\n"
                         f"password = {v.keep('pypi-' + 'AgEIcHlwaS5vcmc' + _derive(v.seed + 'pypi', ALNUM, 70))}  «risk:3»\n"),
        ".m2/settings.xml": ("<settings>\n  <servers>\n    <server>\n      <id>releases</id>  «clean:3»\n"
                             "      <username>deployer</username>\n"
                             f"      <password>{v.password('maven')}</password>  «risk:3»\n"
                             "    </server>\n  </servers>\n</settings>\n"),
        ".kube/config": (
            "apiVersion: v1\nclusters:\n- cluster:\n    server: https://k8s.internal:6443\n  name: prod\nusers:\n"
            f"- name: admin\n  user:\n    token: {v.s('kube-token', 48)}  «risk:3»\n"
            f"    client-key-data: {v.s('kube-key', 120, B64ISH)}  «risk:3»\n"),
        ".gem/credentials": f"---\n:rubygems_api_key: rubygems_{v.s('gem', 48, HEX)}  «risk:3»\n",
        ".config/gh/hosts.yml": (f"github.com:\n    oauth_token: {v.keep('gh' + 'o_' + _derive(v.seed + 'gh-cli', ALNUM, 36))}"
                                 "  «risk:3»\n    user: ops  «clean:3»\n"),
        ".cargo/credentials.toml": f"[registry]\ntoken = \"cio{v.s('cargo', 32)}\"  «risk:3»\n",
        ".terraformrc": (f"credentials \"app.terraform.io\" {{\n  token = \"{v.s('tfc1', 14)}.atlasv1.{v.s('tfc2', 60)}\""
                         "  «risk:3»\n}\n"),
        "WinSCP.ini": (f"[Sessions\\deploy@ftp.internal]\nHostName=ftp.internal  «clean:3»\nUserName=deploy\n"
                       f"Password={v.s('winscp', 64, HEX.upper())}  «risk:3»\n"),
        ".idea/WebServers.xml": (
            "<project version=\"4\">\n  <component name=\"WebServers\">\n      <webServer id=\"1\" name=\"prod\">\n"
            f"        <fileTransfer host=\"ftp.internal\" port=\"21\" login=\"deploy\" password=\"{v.password('idea')}\" />"
            "  «risk:3»\n      </webServer>\n  </component>\n</project>\n"),
    }


def _hashes_and_keys(v: Values) -> dict[str, str | bytes]:
    """Class 4 (password hashes) and 5 (private keys and keystores by content)."""
    return {
        "etc/shadow": (f"root:{v.crypt('$6$', 'sh-root', 16, 86)}:19700:0:99999:7:::  «risk:4»\n"
                       "daemon:*:19700:0:99999:7:::  «clean:4»\n"
                       f"ops:{v.crypt('$1$', 'sh-ops', 8, 22)}:19700:0:99999:7:::  «risk:4»\n"
                       "nobody:!:19700:0:99999:7:::  «clean:4»\n"
                       f"backup:{v.crypt('$y$j9T$', 'sh-backup', 22, 43)}:19700:0:99999:7:::  «risk:4»\n"),
        "web/.htpasswd": (f"admin:{v.crypt('$apr1$', 'ht-admin', 8, 22)}  «risk:4»\n"
                          f"deploy:$2y$10${v.s('ht-bcrypt', 53, CRYPT)}  «risk:4»\n"
                          f"legacy:{{SHA}}{v.b64('ht-sha', hashlib.sha1(b'x').digest())}  «risk:4»\n"),
        "etc/proftpd/ftpd.passwd": (
            f"ftpuser:{v.crypt('$1$', 'ftp-1', 8, 22)}:2001:2001::/srv/ftp:/bin/false  «risk:4»\n"
            f"uploads:{v.crypt('$5$', 'ftp-2', 16, 43)}:2002:2002::/srv/uploads:/bin/false  «risk:4»\n"),
        "ldap/users.ldif": ("dn: uid=ana,ou=people,dc=acme,dc=io\nobjectClass: inetOrgPerson  «clean:4»\nuid: ana\n"
                            f"userPassword: {{SSHA}}{v.b64('ldap', hashlib.sha256(b'ldap').digest()[:24])}  «risk:4»\n"),
        "deploy/server.txt": v.pem("server-rsa", "RSA ").replace("\n", "  «risk:5»\n", 1),
        "keys/signing-ec.key": v.pem("signing-ec", "EC ").replace("\n", "  «risk:5»\n", 1),
        "keys/ops.ppk": v.putty("ops-ppk", 3).replace("\n", "  «risk:5»\n", 1),
        "backup/session.dat": v.putty("session", 2).replace("\n", "  «risk:5»\n", 1),
        "ops/ssh/deploy": v.pem("openssh", "OPENSSH ", 70).replace("\n", "  «risk:5»\n", 1),
        "config/gpg/release.asc": v.pem("pgp", "PGP ").replace("\n", "  «risk:5»\n", 1),
        "config/service-account.json": (
            '{\n  "type": "service_account",  «clean:3»\n  "project_id": "orders-prod",\n'
            f'  "private_key": "{v.pem("gcp-sa", "").replace(chr(10), chr(92) + "n")}",  «risk:5»\n'
            '  "client_email": "orders@orders-prod.iam.gserviceaccount.com"\n}\n'),
        "certs/bundle.bin": _binary(v.seed + "p12", PKCS12),
        "android/signing.store": _binary(v.seed + "jks", JKS),
        "certs/ca.pem": ("-----BEGIN CERTIFICATE-----  «clean:5»\n"
                         + "\n".join(v.s(f"cert{i}", 64, B64ISH) for i in range(8)) + "\n-----END CERTIFICATE-----\n"),
        "src/crypto/pem.py": ("PEM_HEADER = \"-----BEGIN RSA PRIVATE KEY-----\"  «clean:5»\n"
                              "def is_key(text):\n    return PEM_HEADER in text\n"),
    }


def _contexts_and_lookalikes(v: Values) -> dict[str, str]:
    """Class 7 (reported with their context) and class 8 (never findings)."""
    return {
        "tests/fixtures/config.yaml": (f"password: {v.password('fixture-db')}  «risk:7@test_fixture»\n"
                                       f"api_key: {AWS_DOC_ID}  «clean:8»\n"),
        "tests/test_login.py": (f"PASSWORD = \"{v.password('test-login')}\"  «risk:7@test_fixture»\n\n\n"
                                "def test_login(client):\n    assert client.login(\"ana\", PASSWORD)  «clean:2»\n"),
        "tests/fixtures/server.key": v.pem("fixture-key", "").replace("\n", "  «risk:7@test_fixture»\n", 1),
        "docs/deploy.md": (
            "# Deploying\n\nSet the token before running the script:\n\n"
            f"    export DEPLOY_TOKEN={v.s('doc-deploy', 32)}  «risk:7@documentation»\n\n"
            "Connect with `psql postgres://user:pass@localhost/orders`.  «clean:8»\n"
            "Use your own key: `api_key = \"<your-api-key>\"`.  «clean:8»\n"
            "The `password=` option takes the database password.  «clean:8»\n"),
        "docs/signals.rst": ("Never pass :data:`~app.current_app` as sender to a signal.  «clean:8»\n"
                             "Set :py:attr:`Config.password` to the database password.  «clean:8»\n"
                             "The :pass:`secret` role is rendered as a badge.  «clean:8»\n"),
        "site/_sources/deploy.rst.txt": ("Deploying\n=========\n\n::\n\n"
                                         f"    SECRET_KEY = '{v.s('sphinx-src', 40, HEX)}'  «risk:7@documentation»\n"),
        "docs/tls.md": ("```\n-----BEGIN RSA PRIVATE KEY-----  «clean:5»\nMIIEpAIBAAKCAQEA...\n"
                        "-----END RSA PRIVATE KEY-----\n```\n"),
        "docs/aws.md": (f"    aws_access_key_id = {AWS_DOC_ID}  «clean:8»\n"
                        f"    aws_secret_access_key = {AWS_DOC_SECRET}  «clean:8»\n"),
        "vendor/github.com/acme/sdk/config.go": (
            f"package sdk\n\nconst defaultToken = \"{v.s('vendored-go', 32)}\"  «risk:7@vendored»\n"),
        "node_modules/left-pad/lib/auth.js": f"var apiKey = \"{v.s('vendored-js', 32)}\";  «risk:7@vendored»\n",
        "third_party/legacy/settings.ini": f"[db]\npassword = {v.password('vendored-ini')}  «risk:7@vendored»\n",
        "config/notify.yaml": (
            "slack:\n  webhook_url: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
            "  «clean:8»\n  channel: \"#alerts\"  «clean:8»\n"),
        "app/billing.py": ("STRIPE_KEY = \"sk_test_replace_me\"  «clean:8»\n"
                           "STRIPE_PUBLISHABLE = \"pk_" "test_TYooMQauvdEDq54NiTphI7jx\"  «clean:8»\n"
                           "STRIPE_DOC_SECRET = \"sk_" "test_4eC39HqLyjWDarjtT1zdp7dc\"  «clean:8»\n"),
        ".env.example": ("DB_HOST=localhost  «clean:8»\nDB_PASSWORD=changeme  «clean:8»\n"
                         "STRIPE_SECRET_KEY=<your-stripe-key>  «clean:8»\nAPI_TOKEN=${API_TOKEN}  «clean:8»\n"),
        ".env.template": f"SECRET_KEY=xxxxxxxxxxxxxxxx  «clean:8»\nAWS_ACCESS_KEY_ID={AWS_DOC_ID}  «clean:8»\n",
        "k8s/sealed.yaml": ("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: orders-db\n"
                            f"spec:\n  encryptedData:\n    password: AgB{v.s('sealed', 120, B64ISH)}  «clean:8»\n"),
        "k8s/external.yaml": ("apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata:\n"
                              "  name: orders-stripe\nspec:\n  data:\n    - secretKey: api-key  «clean:8»\n"
                              "      remoteRef:\n        key: secret/prod/orders/stripe-api-key  «clean:8»\n"),
        "secrets/app.enc.yaml": (
            f"db_password: ENC[AES256_GCM,data:{v.s('sops1', 24, B64ISH)}=,iv:{v.s('sops2', 43, B64ISH)}=,"
            f"tag:{v.s('sops3', 22, B64ISH)}==,type:str]  «clean:8»\n"
            f"sops:\n  mac: ENC[AES256_GCM,data:{v.s('sops4', 44, B64ISH)},type:str]  «clean:8»\n  version: 3.8.1\n"),
        "package-lock.json": ('{\n  "packages": {\n    "node_modules/left-pad": {\n'
                              f'      "integrity": "sha512-{v.s("lock", 86, B64ISH)}=="  «clean:8»\n    }}\n  }}\n}}\n'),
        "release/orders.cdx.json": (
            '{\n  "bomFormat": "CycloneDX",\n  "components": [{"name": "orders", "hashes": [\n'
            f'    {{"alg": "SHA-512", "content": "{v.s("cdx", 128, HEX)}"}}  «clean:8»\n  ]}}]\n}}\n'),
        "release/orders.spdx.json": (
            '{\n  "packages": [{"name": "orders", "checksums": [\n'
            f'    {{"algorithm": "SHA256", "checksumValue": "{v.s("spdx", 64, HEX)}"}}  «clean:8»\n  ]}}]\n}}\n'),
        "go.sum": f"github.com/acme/sdk v1.2.0 h1:{v.s('gosum', 43, B64ISH)}=  «clean:8»\n",
        "templates/index.html": (
            f"<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-{v.s('ga', 10, ALNUM.upper())}\">"
            "</script>  «clean:8»\n"
            f"<link rel=\"stylesheet\" href=\"/static/app.css?v={v.s('asset', 40, HEX)}\">  «clean:8»\n"
            f"<div data-key=\"{v.s('html-id', 32, B64ISH)}\"></div>  «clean:8»\n"),
        ".github/workflows/ci.yml": (
            "name: ci\non: [push]\npermissions:\n  id-token: write  «clean:8»\n  contents: read\njobs:\n  test:\n"
            "    runs-on: ubuntu-latest\n    steps:\n"
            f"      - uses: actions/checkout@{v.s('pin', 40, HEX)}  «clean:8»\n"
            "      - run: make test\n        env:\n          TOKEN: ${{ secrets.GITHUB_TOKEN }}  «clean:8»\n"),
        "tests/fixtures/example_keys.py": (f"AWS_KEY = \"{AWS_DOC_ID}\"  «clean:8»\n"
                                           f"AWS_SECRET = \"{AWS_DOC_SECRET}\"  «clean:8»\nJWT = \"{JWT_IO}\"  «clean:8»\n"),
        "app/models.py": (f"DEFAULT_TENANT = \"{_uuid(v, 'tenant')}\"  «clean:8»\n"
                          f"SCHEMA_SHA = \"{v.s('schema', 40, HEX)}\"  «clean:8»\n"
                          "cache_key = \"user:{id}\"  «clean:2»\n"),
        "charts/orders/templates/secret.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-db\ntype: Opaque\ndata:\n"
            "  password: {{ .Values.db.password | b64enc | quote }}  «clean:8»\n"),
        "config/locales/de.json": '{\n  "password": "Passwort",  «clean:2»\n  "api_key": "API-Schluessel"  «clean:2»\n}\n',
        "CHANGELOG.md": (f"- Fix login ({v.s('cl1', 40, HEX)})  «clean:8»\n"
                         f"- Rotate keys, see commit {v.s('cl2', 40, HEX)}  «clean:8»\n"),
        "config/feature.yaml": ("password: changeme  «clean:8»\ntoken: <token>  «clean:8»\nsecret: xxxx  «clean:8»\n"
                                "api_key: \"\"  «clean:8»\nauth_type: basic  «clean:8»\n"),
        "app/views.py": (
            "def login(request):\n    password = request.POST[\"password\"]  «clean:2»\n"
            "    if password == \"\":  «clean:2»\n        return error(\"Invalid password\")  «clean:2»\n"
            "token_type = \"bearer\"  «clean:2»\nPASSWORD_RESET_URL = \"/accounts/reset/\"  «clean:2»\n"
            "password_label = \"Password\"  «clean:2»\nsecret_name = \"orders/stripe\"  «clean:2»\n"),
        ".gitignore": ".env\n.env.*\n!.env.example\n!.env.template\n",
    }


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
URLSAFE = ALNUM + "_-"
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def _provider_tokens(v: Values) -> dict[str, str]:
    """Class 9: provider token formats detect-secrets has no plugin for, on lines no credential key names.

    Each format is the provider's documented shape (prefix, alphabet, length);
    the values are random. They sit where leaks happen without a key name: a
    positional argument, a notebook's output, a curl header in the docs, a
    CLI flag, a neutral YAML key, a build log, a test. Found by the token
    engine (Kingfisher's provider rules); the look-alikes are the same
    formats as documentation placeholders (all ``x``, all zeros, ``<...>``).
    """
    def t(name: str, prefix: str, *parts: tuple[int, str], sep: str = "") -> str:
        return v.keep(prefix + sep.join(_derive(f"{v.seed}:{name}:{i}", al, n) for i, (n, al) in enumerate(parts)))

    ant = t("anthropic", "sk-" + "ant-api03-", (93, URLSAFE)) + "AA"
    return {
        "app/integrations.py": (
            "import anthropic, huggingface_hub, shopify\n\n"
            f"claude = anthropic.Anthropic(\"{ant}\")  «risk:provider»\n"
            f"hub = huggingface_hub.HfApi(\"{t('hf', 'h' + 'f_', (34, LETTERS))}\")  «risk:provider»\n"
            f"shop = shopify.Session(\"acme.myshopify.com\", \"2024-01\", \"{t('shopify', 'shp' + 'at_', (32, HEX))}\")"
            "  «risk:provider»\n"
            f"linear = LinearClient(\"{t('linear', 'lin_' + 'api_', (40, LOWER_ALNUM))}\")  «risk:provider»\n"
            "hub_default = huggingface_hub.HfApi(\"hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\")  «clean:8»\n"),
        "notebooks/usage.ipynb": (
            '{\n "cells": [\n  {\n   "cell_type": "code",\n   "outputs": [\n    {\n     "output_type": "stream",\n'
            f'     "text": ["connected with {t("do", "dop_" + "v1_", (64, HEX))}\\n"]  «risk:provider»\n'
            '    }\n   ],\n   "source": ["client.connect()"]\n  }\n ],\n "nbformat": 4\n}\n'),
        "docs/integrations.md": (
            "# Integrations\n\nCall the API with your token:\n\n"
            "    curl -H \"Authorization: Bearer <your-token>\" https://api.example.com/v1/me  «clean:8»\n\n"
            "Our staging token, for the record:\n\n"
            f"    curl -H \"Authorization: Bearer {t('supabase', 'sb' + 'p_', (40, HEX))}\" "
            "https://api.supabase.com/v1/projects  «risk:provider@documentation»\n"
            f"    age decrypt -i <(echo {t('age', 'AGE-SECRET-' + 'KEY-1', (58, BECH32))}) backup.age"
            "  «risk:provider@documentation»\n"
            "A Grafana service account token looks like `glsa_` followed by 32 characters.  «clean:8»\n"),
        "scripts/sync.sh": (
            "#!/bin/sh\n"
            f"grafana-sync --auth \"{t('grafana', 'gl' + 'sa_', (32, ALNUM), (8, HEX), sep='_')}\" --org 1  «risk:provider»\n"
            f"atlas-cli upload --header \"X-Atlassian: {t('atlassian', 'ATA' + 'TT3', (186, URLSAFE))}\"  «risk:provider»\n"
            f"heroku-sync --key {t('heroku', 'HRKU' + '-AA', (58, URLSAFE))}  «risk:provider»\n"
            "grafana-sync --auth \"$GRAFANA_AUTH\" --org 1  «clean:8»\n"),
        "config/pipeline.yaml": (
            "pipeline:\n  name: nightly  «clean:2»\n"
            f"  registry_login: {t('doppler', 'dp.' + 'pt.', (43, LOWER_ALNUM))}  «risk:provider»\n"
            f"  warehouse: {t('databricks', 'da' + 'pi', (32, HEX))}  «risk:provider»\n"
            f"  notify: {t('slack-app', 'xa' + 'pp-1-A', (10, UPPER_ALNUM), (13, '0123456789'), (64, HEX), sep='-')}"
            "  «risk:provider»\n"
            f"  repo_bot: {t('gh-fine', 'github' + '_pat_', (22, ALNUM), (59, ALNUM), sep='_')}  «risk:provider»\n"
            "  repo_bot_example: github_pat_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
            "  «clean:8»\n"),
        "logs/release.log": (
            "2024-05-01T10:00:00Z INFO release started  «clean:2»\n"
            f"2024-05-01T10:00:02Z INFO publishing with {t('npm', 'np' + 'm_', (36, ALNUM))}  «risk:provider»\n"
            f"2024-05-01T10:00:03Z DEBUG stack {t('pulumi', 'pu' + 'l-', (40, HEX))} selected  «risk:provider»\n"
            f"2024-05-01T10:00:04Z DEBUG monitor {t('dynatrace', 'dt0' + 'c01.', (24, UPPER_ALNUM), (64, UPPER_ALNUM), sep='.')}"
            "  «risk:provider»\n"),
        "tests/test_integrations.py": (
            f"LIVE_POSTMAN = \"{t('postman', 'PM' + 'AK-', (24, HEX), (34, HEX), sep='-')}\"  «risk:provider@test_fixture»\n"
            f"PREFECT = \"{t('prefect', 'pn' + 'u_', (36, ALNUM))}\"  «risk:provider@test_fixture»\n"
            f"SENTRY = \"{t('sentry', 'sntr' + 'yu_', (64, HEX))}\"  «risk:provider@test_fixture»\n"
            "SHOPIFY_PLACEHOLDER = \"shpat_00000000000000000000000000000000\"  «clean:8»\n"),
    }


def _uuid(v: Values, name: str) -> str:
    h = v.s(name, 32, HEX)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _history(v: Values) -> list[tuple[str, dict[str, str | bytes | None]]]:
    """Commits after the initial import: secrets added then deleted or rewritten, a renamed file."""
    legacy = {
        "config/keys.properties": (f"payments.api.key={v.s('legacy-props', 32)}  «hist:2»\n"
                                   f"payments.webhook.secret={v.s('legacy-whsec', 32)}  «hist:2»\n"),
        "config/legacy.ini": (f"[db]\npassword = {v.password('legacy-db')}  «hist:2»\n"
                              f"api_key = {v.s('legacy-api', 32)}  «hist:2»\n"),
        "old/deploy_key": v.pem("old-deploy", "OPENSSH ", 70).replace("\n", "  «hist:5»\n", 1),
        ".env": (f"DB_PASSWORD={v.password('old-env')}  «hist:3»\n"
                 f"STRIPE_SECRET_KEY={v.keep('sk_' + 'live_' + _derive(v.seed + 'old-stripe', ALNUM, 24))}  «hist:3»\n"),
        "scripts/old_deploy.sh": f"#!/bin/sh\nexport API_TOKEN={v.s('old-sh', 32)}  «hist:2»\n",
        "android/old.keystore": _binary(v.seed + "old-jks", JKS),
        "assets/cert.dat": _binary(v.seed + "old-cert", JKS),
    }
    return [
        ("Legacy config and keys", legacy),
        ("Remove legacy config and keys", dict.fromkeys(legacy)),
        ("Rename app config", {"config/app-old.yaml": None, "config/app.yaml": APP_YAML.format(
            v.password("renamed"))}),
        ("Read cache password from env", {"config/cache.yaml": "redis:\n  password: ${CACHE_PASSWORD}  «clean:8»\n"}),
    ]


APP_YAML = "app:\n  name: orders\n  password: {}  «risk:2»\n"


def build_corpus(root: Path, seed: str = "corpus-13") -> Corpus:
    """Write the labelled repository under ``root``; return where it is, its labels and its values."""
    v = Values(seed)
    initial: dict[str, str | bytes | None] = {
        **_structured(v), **_credential_files(v), **_hashes_and_keys(v), **_contexts_and_lookalikes(v),
        **_provider_tokens(v),
        "config/cache.yaml": f"redis:\n  password: {v.password('cache-old')}  «hist:2»\n",
    }
    initial["config/app-old.yaml"] = APP_YAML.format(v.password("renamed"))  # renamed, unchanged, later
    history = _history(v)
    commits = [("Initial import", initial), *history]
    fi = FastImport()
    labels: list[Label] = []
    head: dict[str, str | bytes] = {}
    ever: set[str] = set()
    for message, files in commits:
        body: dict[str, str | bytes | None] = {}
        for path, text in files.items():
            ever.add(path)
            if text is None or isinstance(text, bytes):
                body[path] = text
                if text is None:
                    head.pop(path, None)
                else:
                    head[path] = text
                continue
            clean_text, marks = _strip(text)
            labels += [Label(path, n, "risk", c, ctx or "production", message) for n, k, c, ctx in marks if k == "hist"]
            body[path] = clean_text
            head[path] = text
        fi.commit("main", message, body)
    for path, text in head.items():
        if isinstance(text, str):
            labels += [Label(path, n, "risk" if k == "risk" else "clean", c, ctx or "production")
                       for n, k, c, ctx in _strip(text)[1] if k != "hist"]
    labels += [Label(p, None, "file", kind, ctx, commit) for p, kind, ctx, commit in FILE_FINDINGS]
    repo = root / "corpus"
    fi.write(repo)
    return Corpus(repo=repo, labels=labels, values=tuple(dict.fromkeys(v.all)), files=len(ever))


def _strip(text: str) -> tuple[str, list[tuple[int, str, str, str | None]]]:
    """The text without markers, and (line, kind, class, context) for each marked line."""
    out, marks = [], []
    for n, line in enumerate(text.split("\n"), start=1):
        m = MARK.search(line)
        if m:
            marks.append((n, m.group(1), m.group(2), m.group(3)))
            line = line[: m.start()]
        out.append(line)
    return "\n".join(out), marks
