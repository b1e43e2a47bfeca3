"""Lot tests: the clock pinned and CSRF on (forms submitted as rendered).  The product,
lot and treatment fixtures are shared ones (``tests/fixtures/lots.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

TODAY = date(2026, 6, 1)


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}
