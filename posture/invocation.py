"""How to call ``posture`` again, in a hint the user can paste as printed.

A fresh ``python3 -m venv .venv && .venv/bin/pip install -e .`` does not put
``posture`` on PATH until the venv is activated, so a hint that says
``posture serve acme`` fails there. `command` names the program as it can be
run from any directory: plain ``posture`` when that resolves to this
installation, else the absolute path of the script that is running (or of
this environment's own ``posture`` script).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def _same(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def command() -> str:
    """``posture``, or the absolute path of this environment's ``posture`` when PATH has another or none."""
    here = Path(sys.executable).parent / ("posture.exe" if os.name == "nt" else "posture")
    running = Path(sys.argv[0]) if sys.argv and Path(sys.argv[0]).name.startswith("posture") else None
    script = running if running is not None and running.exists() else here
    on_path = shutil.which("posture")
    if on_path and (_same(on_path, script) or not script.exists()):
        return "posture"
    return str(script.resolve()) if script.exists() else "posture"
