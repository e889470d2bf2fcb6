"""Sub-commands registered on `posture.cli.app`, one module per capability.

Importing this package registers every command module that is present.
"""

from __future__ import annotations

import importlib
import pkgutil


def register_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
