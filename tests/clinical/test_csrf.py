"""With CSRF protection on (as in production), every clinical form carries the token."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

import pytest

from registry.models import AdverseEvent, Visit
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


def login(client, make_user, site, role: str = "clinician") -> None:
    from tests.fixtures.accounts import PASSWORD

    user = make_user(role, sites=[site])
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


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form posting to ``action``."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>',
                     html, re.S)
    assert form, f"no form posting to {action}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                           form.group(1)))


def test_button_forms_post_the_token_the_page_carries(client, db, make_user, site_a,
                                                     make_patient):
    """The button-only forms (add an unscheduled visit, mark reviewed, the call list) carry
    the session's token in a plain hidden input: what each form posts is accepted, the
    same post without the token refused; no id repeats on the page."""
    login(client, make_user, site_a, role="coordinator")
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    db.add(AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 9),
                        description="Septic arthritis", category="infection", severity_grade=3,
                        serious=True, serious_criterion="hospitalisation",
                        relatedness="possibly", outcome="ongoing"))
    db.flush()
    [event] = db.query(AdverseEvent).filter_by(patient_id=patient.id).all()
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [name for name, count in ids.items() if count > 1] == []
    worklist = client.get("/followup/?status=all").get_data(as_text=True)
    posts = [(page, f"/patients/{patient.id}/visits/unscheduled", 302),
             (page, f"/patients/{patient.id}/adverse-events/{event.id}/review", 302),
             (worklist, "/followup/call-list.csv", 200)]
    for html, action, accepted in posts:
        fields = form_fields(html, action)
        assert fields.get("csrf_token") == token(html), action
        without = {name: value for name, value in fields.items() if name != "csrf_token"}
        assert client.post(action, data=without).status_code == 400, action
        assert client.post(action, data=fields).status_code == accepted, action
    visits = db.query(Visit).filter_by(patient_id=patient.id, timepoint_id=None).count()
    db.refresh(event)
    assert (visits, event.reviewed_at is not None) == (1, True)
