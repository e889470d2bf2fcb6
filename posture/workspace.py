"""Where an engagement's files live, and the quarter arithmetic.

A workspace is a folder (the current directory, or ``$POSTURE_HOME``) with::

    engagements/CLIENT/engagement.yaml     what to assess
    engagements/CLIENT/.fingerprint-key    per-engagement HMAC key (never published)
    engagements/CLIENT/.signing-key        Ed25519 key signing published quarters (never published)
    engagements/CLIENT/signing-key.pem     its public key, to verify without the private key
    evidence/CLIENT/QUARTER/snapshot/      collected records
    evidence/CLIENT/QUARTER/assessment/    findings, scores, exports
    evidence/CLIENT/QUARTER/notebooks/     executed notebooks
    sites/CLIENT/                          the versioned site (git branch for mike)
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from hashlib import sha256
from pathlib import Path

from posture.model.engagement import LoadedEngagement, client_name_problem, load_engagement
from posture.model.errors import ConfigError
from posture.model.fsutil import recover_directory

QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")


def current_quarter(today: date | None = None) -> str:
    today = today or datetime.now(timezone.utc).date()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def parse_quarter(q: str) -> str:
    if not QUARTER_RE.match(q):
        raise ConfigError(f"quarter {q!r} is not of the form YYYY-QN (e.g. 2026-Q4)")
    return q


def quarter_end(q: str) -> date:
    """Last day of quarter ``q``."""
    m = QUARTER_RE.match(parse_quarter(q))
    assert m
    year, n = int(m.group(1)), int(m.group(2))
    if n == 4:
        return date(year, 12, 31)
    first_next = date(year, 3 * n + 1, 1)
    return date.fromordinal(first_next.toordinal() - 1)


def home() -> Path:
    return Path(os.environ.get("POSTURE_HOME") or Path.cwd())


@dataclass(frozen=True)
class Workspace:
    """Paths of one client's engagement inside a workspace root."""

    root: Path
    client: str
    engagement_path: Path

    @classmethod
    def resolve(cls, client_or_path: str, root: Path | None = None) -> "Workspace":
        """Accept a client name (``acme``) or a path to an engagement file."""
        root = root or home()
        p = Path(client_or_path)
        if p.suffix in (".yaml", ".yml") or p.is_file():
            if not p.exists():
                raise ConfigError(f"{p}: no such engagement file")
            loaded = load_engagement(p)
            return cls(root=root, client=loaded.engagement.client, engagement_path=p)
        problem = client_name_problem(client_or_path)
        if problem:
            raise ConfigError(f"{client_or_path!r} is no engagement file and {problem}")
        path = root / "engagements" / client_or_path / "engagement.yaml"
        if not path.exists():
            raise ConfigError(
                f"no engagement for {client_or_path!r} at {path} (run 'posture init {client_or_path}')"
            )
        return cls(root=root, client=client_or_path, engagement_path=path)

    def load(self) -> LoadedEngagement:
        return load_engagement(self.engagement_path)

    @property
    def engagement_dir(self) -> Path:
        return self.engagement_path.parent

    @property
    def evidence_root(self) -> Path:
        return self.root / "evidence" / self.client

    def quarter_dir(self, quarter: str) -> Path:
        return self.evidence_root / parse_quarter(quarter)

    def _evidence_dir(self, quarter: str, name: str) -> Path:
        """An atomically written evidence folder, repaired first if a swap of it was killed."""
        path = self.quarter_dir(quarter) / name
        recover_directory(path)
        return path

    def snapshot_dir(self, quarter: str) -> Path:
        return self._evidence_dir(quarter, "snapshot")

    def assessment_dir(self, quarter: str) -> Path:
        return self._evidence_dir(quarter, "assessment")

    def notebooks_dir(self, quarter: str) -> Path:
        return self._evidence_dir(quarter, "notebooks")

    def quarters(self) -> list[str]:
        if not self.evidence_root.exists():
            return []
        return sorted(p.name for p in self.evidence_root.iterdir() if QUARTER_RE.match(p.name))

    @property
    def site_dir(self) -> Path:
        return self.root / "sites" / self.client

    def fingerprint_key(self) -> bytes:
        """The engagement's HMAC key, created on first use, kept beside the engagement.

        It never enters the snapshot or the site, so fingerprints can be matched
        across quarters by whoever holds the engagement, and by nobody else.
        """
        path = self.engagement_dir / ".fingerprint-key"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return bytes.fromhex(path.read_text().strip())


def fingerprint(key: bytes, value: str | bytes) -> str:
    """Keyed fingerprint of a secret value: HMAC-SHA256, hex, prefixed ``hmac256:``."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return "hmac256:" + hmac.new(key, data, sha256).hexdigest()
