"""Where the non-Python parts live, in a source checkout and in an installed package.

In the repository, ``templates/`` and ``migrations/`` sit at the top level (the layout
the project asked for); ``pip install .`` copies them into the package as
``registry/templates`` and ``registry/migrations`` (see setup.py).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    installed = PACKAGE_DIR / name
    if installed.is_dir():
        return installed
    return PACKAGE_DIR.parent / name
