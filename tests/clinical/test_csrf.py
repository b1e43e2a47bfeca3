"""With CSRF protection on (as in production), every clinical form carries the token."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from tests.clinical.conftest import TODAY
from tests.clinical.helpers import enrol_data


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, make_user, site) -> None:
    from tests.fixtures.accounts import PASSWORD

    user = make_user("clinician", sites=[site])
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": token(page)})
    assert response.status_code == 302


def test_forms_carry_csrf_token_and_posts_without_it_are_refused(client, make_user, site_a,
                                                                 make_patient):
    login(client, make_user, site_a)
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visit = patient.visits[0]
    for url in ("/patients/new", f"/patients/{patient.id}/treatment",
                f"/patients/{patient.id}/visits/{visit.id}",
                f"/patients/{patient.id}/adverse-events/new", f"/patients/{patient.id}"):
        assert token(client.get(url).get_data(as_text=True)), url
    refused = client.post("/patients/new", data=enrol_data(site_a.id))
    assert refused.status_code in (400, 422)
    page = client.get("/patients/new").get_data(as_text=True)
    accepted = client.post("/patients/new", data={**enrol_data(site_a.id),
                                                  "csrf_token": token(page)})
    assert accepted.status_code == 302
