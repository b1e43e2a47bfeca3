"""Clinical tests run with the clock pinned, so date rules are reproducible, and with CSRF
protection on, as in production: forms are submitted as the pages render them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from registry.models import Site, User
from tests.clinical.browser import sign_in

TODAY = date(2026, 6, 1)


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def treated(make_patient, site_a):
    """A patient treated on 2026-01-01 (visits scheduled from it)."""
    return make_patient(site_a, treatment_date=date(2026, 1, 1))


@pytest.fixture
def as_user(browser, make_user) -> Callable[..., User]:
    """Sign ``browser`` in through the rendered sign-in form as a new user."""

    def login(role: str = "clinician", sites: list[Site] | None = None) -> User:
        user = make_user(role, sites=sites or [])
        sign_in(browser, user.email)
        return user

    return login


@pytest.fixture
def clinician(as_user, site_a) -> User:
    """A clinician of site A, signed in (in ``browser``)."""
    return as_user("clinician", sites=[site_a])

