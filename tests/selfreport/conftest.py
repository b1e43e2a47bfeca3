"""Self-report tests: the clock pinned, CSRF on (forms submitted as rendered), and a
treated patient whose 3-month visit is open for self-report at one site."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from registry.models import Patient, Site, User, Visit

TODAY = date(2026, 6, 1)  # a Monday
TREATED = TODAY - timedelta(days=90)  # the 3-month visit's window (days 75-120) is open


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True,
            "BASE_URL": "https://registry.example.org"}


def visit_of(patient: Patient, code: str) -> Visit:
    """The patient's visit of timepoint ``code`` (baseline, w2_6, m3, m6_12)."""
    return next(visit for visit in patient.visits
                if visit.timepoint is not None and visit.timepoint.code == code)


@pytest.fixture
def patient(make_patient: Callable[..., Patient], site_a: Site) -> Patient:
    """Treated 90 days before TODAY at site A (e-mail patientN@example.org)."""
    return make_patient(site_a, treatment_date=TREATED)


@pytest.fixture
def open_visit(patient: Patient) -> Visit:
    """The patient's 3-month visit: in its window, nothing recorded."""
    return visit_of(patient, "m3")


@pytest.fixture
def staff(make_user: Callable[..., User], site_a: Site) -> User:
    """A clinician of site A (not signed in)."""
    return make_user("clinician", sites=[site_a])


@pytest.fixture
def as_user(browser, make_user) -> Callable[..., User]:
    """Sign ``browser`` in through the rendered sign-in form as a new user."""
    from tests.fixtures.webtest import sign_in

    def login(role: str = "clinician", sites: list[Site] | None = None) -> User:
        user = make_user(role, sites=sites or [])
        sign_in(browser, user.email)
        return user

    return login

