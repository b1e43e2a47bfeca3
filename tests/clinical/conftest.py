"""Clinical tests run with the clock pinned, so date rules are reproducible."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

TODAY = date(2026, 6, 1)


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat()}
