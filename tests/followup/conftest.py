"""Follow-up tests: the clock is pinned (config TODAY) and patients are built at chosen
numbers of days since treatment."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from registry.models import Patient, Site, User, Visit

TODAY = date(2026, 6, 1)  # a Monday


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat()}


@pytest.fixture
def as_user(browser, make_user) -> Callable[..., User]:
    """Sign ``browser`` in through the rendered sign-in form as a new user (modules that
    submit forms as rendered turn CSRF protection on in their ``app_settings``)."""
    from tests.fixtures.webtest import sign_in

    def login(role: str = "coordinator", sites: list[Site] | None = None) -> User:
        user = make_user(role, sites=sites or [])
        sign_in(browser, user.email)
        return user

    return login


def visit_of(patient: Patient, code: str) -> Visit:
    return next(visit for visit in patient.visits
                if visit.timepoint is not None and visit.timepoint.code == code)


@pytest.fixture
def treated_days_ago(make_patient: Callable[..., Patient]) -> Callable[..., Patient]:
    """A patient whose treatment was ``days`` days before TODAY."""

    def make(site: Site, days: int, **kwargs: Any) -> Patient:
        return make_patient(site, treatment_date=TODAY - timedelta(days=days), **kwargs)

    return make


def row_visit_ids(html: str) -> list[int]:
    """The visit ids of the worklist's rows, in page order."""
    return [int(match) for match in re.findall(r'<tr data-visit="(\d+)"', html)]


def shown_count(html: str, status: str) -> int:
    match = re.search(rf'data-status="{status}">(\d+)<', html)
    assert match, f"no count for {status}"
    return int(match.group(1))
