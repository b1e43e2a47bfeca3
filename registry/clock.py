"""Today's date for the registry's rules (follow-up status, date validation).

Normally the UTC date (or the site's time zone where one is set).  ``REGISTRY_TODAY``
(config ``TODAY``, ISO date) pins it, for tests and training set-ups.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

# session.info key of the app's config, for code that runs outside an app context
# (database hooks during a flush) but must honour the app's pinned TODAY.
CONFIG_KEY = "registry_config"


def today(timezone: str | None = None, config: Mapping[str, Any] | None = None) -> date:
    """Today at ``timezone``; ``config``: the app's settings (default: the current app's)."""
    if config is None and has_app_context():
        config = current_app.config
    pinned = config.get("TODAY") if config is not None else None
    if pinned:
        return pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
    now = datetime.now(UTC)
    if timezone:
        now = now.astimezone(ZoneInfo(timezone))
    return now.date()
