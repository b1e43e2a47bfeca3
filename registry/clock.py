"""Today's date for the registry's rules (follow-up status, date validation).

Normally the UTC date (or the site's time zone where one is set).  ``REGISTRY_TODAY``
(config ``TODAY``, ISO date) pins it, for tests and training set-ups.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def today(timezone: str | None = None) -> date:
    pinned = current_app.config.get("TODAY") if has_app_context() else None
    if pinned:
        return pinned if isinstance(pinned, date) else date.fromisoformat(str(pinned))
    now = datetime.now(UTC)
    if timezone:
        now = now.astimezone(ZoneInfo(timezone))
    return now.date()
