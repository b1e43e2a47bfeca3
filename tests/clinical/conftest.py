"""Clinical tests run with the clock pinned, so date rules are reproducible."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

TODAY = date(2026, 6, 1)


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat()}


@pytest.fixture
def treated(make_patient, site_a):
    """A patient treated on 2026-01-01 (visits scheduled from it)."""
    return make_patient(site_a, treatment_date=date(2026, 1, 1))


@pytest.fixture
def clinician(auth, site_a):
    """A clinician of site A, signed in."""
    return auth.login("clinician", sites=[site_a])
