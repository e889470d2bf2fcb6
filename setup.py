"""Package discovery; everything else is in pyproject.toml.

``find_packages`` cannot see the two asset packages that ``package-dir`` maps
onto the top-level ``notebooks/`` and ``site/`` folders, so they are named here.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["posture*", "collectors*", "checks*"])
    + ["posture.assets.notebooks", "posture.assets.site"],
)
