"""Shipped files found with :mod:`importlib.resources`, so a plain wheel works.

``pyproject.toml`` maps the repository's top-level ``notebooks/`` and ``site/``
folders to the ``posture.assets.notebooks`` and ``posture.assets.site``
packages: the source checkout and an installed wheel resolve them the same way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _folder(package: str) -> Path:
    # A wheel installs real files; an editable install maps to the checkout.
    # Both give a concrete directory (never a zip), which mkdocs and papermill need.
    return Path(str(resources.files(package)))


def notebooks_dir() -> Path:
    """The parameterised notebooks (``notebooks/`` in the checkout)."""
    return _folder("posture.assets.notebooks")


def site_dir() -> Path:
    """The MkDocs base: ``mkdocs.yml``, theme overrides and local assets."""
    return _folder("posture.assets.site")


def mkdocs_base() -> Path:
    """The base ``mkdocs.yml`` every client's site configuration starts from."""
    return site_dir() / "mkdocs.yml"
