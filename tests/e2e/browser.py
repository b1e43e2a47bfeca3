"""Debian's Chromium for Playwright: where it is and how it is launched.

The project never downloads a browser: ``/usr/bin/chromium`` comes from the Debian
package ``chromium`` (another binary with ``REGISTRY_CHROMIUM``).
"""

from __future__ import annotations

import os
from typing import Any

CHROMIUM_ENV = "REGISTRY_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-dev-shm-usage"]


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM


def chromium_available() -> bool:
    return os.access(chromium_path(), os.X_OK)


def launch(playwright: Any) -> Any:
    """Start headless Chromium (the system's) through a started Playwright."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                      args=LAUNCH_ARGS)
