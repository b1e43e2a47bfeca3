"""Adverse events through the rendered forms: record, validation (plausible dates
included), correction with a reason, stale edits, serious-event review."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from registry.models import AdverseEvent, AuditEvent
from tests.clinical.browser import fill, form_for, open_form, sign_in, submit, webtest

TREATED = date(2026, 1, 1)


def ae_data(**overrides) -> dict[str, str | None]:
    data = {"onset_date": "2026-01-03", "description": "Knee swelling after injection",
            "category": "swelling", "severity_grade": "2", "serious": "no",
            "serious_criterion": "", "relatedness": "probably", "action_taken": "medication",
            "outcome": "ongoing", "resolution_date": ""}
    data.update(overrides)
    return data


@pytest.fixture
def treated(make_patient, site_a):
    return make_patient(site_a, treatment_date=TREATED)


def events(db, patient) -> list[AdverseEvent]:
    db.expire_all()
    return list(db.scalars(select(AdverseEvent).where(AdverseEvent.patient_id == patient.id)))


def record(browser, patient, **overrides):
    form = open_form(browser, f"/patients/{patient.id}/adverse-events/new", field="onset_date")
    return submit(fill(form, ae_data(**overrides)))


def test_record_non_serious_event(browser, db, treated, clinician):
    response = record(browser, treated)
    assert response.status_int == 302
    [event] = events(db, treated)
    assert (event.category, event.severity_grade, event.serious) == ("swelling", 2, False)
    page = browser.get(f"/patients/{treated.id}").text
    assert "Swelling / effusion: Knee swelling after injection" in page
    assert 'class="serious"' not in page


def test_serious_event_is_highlighted_until_reviewed(browser, db, as_user, site_a, treated):
    as_user("coordinator", sites=[site_a])
    response = record(browser, treated, category="infection", severity_grade="3",
                      serious="yes", serious_criterion="hospitalisation",
                      action_taken="hospitalisation",
                      description="Septic arthritis, admitted for lavage")
    assert response.status_int == 302
    [event] = events(db, treated)
    assert event.serious
    assert event.serious_criterion == "hospitalisation"
    home = browser.get("/home").text
    assert "Serious adverse events awaiting review" in home
    assert f"/patients/{treated.id}" in home
    page = browser.get(f"/patients/{treated.id}")
    assert '<tr class="serious">' in page.text
    assert "Awaiting review" in page.text
    review_url = f"/patients/{treated.id}/adverse-events/{event.id}/review"
    assert browser.get(review_url, expect_errors=True).status_int == 405  # no GET changes state
    reviewed = submit(form_for(page, action=review_url))  # the page's "Mark reviewed"
    assert reviewed.status_int == 302
    [event] = events(db, treated)
    assert event.reviewed_at is not None
    assert event.reviewed_by_id is not None
    assert "Serious adverse events awaiting review" not in browser.get("/home").text
    page = browser.get(f"/patients/{treated.id}").text
    assert "Reviewed " in page
    assert review_url not in page


ONSET = "Onset date must be between 2000-01-01 and today (2026-06-01)."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"serious": "yes"}, "serious_criterion", "Choose the criterion that makes the event "
                                                  "serious."),
        ({"serious_criterion": "death"}, "serious_criterion", "only recorded for a serious"),
        ({"serious": None}, "serious", "Say whether the event is serious."),
        ({"severity_grade": "6"}, "severity_grade", "Not a valid choice"),
        ({"severity_grade": "5"}, "severity_grade", "A grade 5 event (death) is serious."),
        ({"outcome": "resolved"}, "resolution_date", "Enter the resolution date"),
        ({"outcome": "resolved", "resolution_date": "2026-01-02"}, "resolution_date",
         "cannot be before the onset date"),
        ({"outcome": "resolved", "resolution_date": "2026-06-02"}, "resolution_date",
         "Resolution date must be between 2000-01-01 and today (2026-06-01)."),
        ({"onset_date": "2025-12-31"}, "onset_date", "before the treatment date (2026-01-01)"),
        ({"onset_date": "2026-06-02"}, "onset_date", ONSET),
        ({"onset_date": "0001-01-03"}, "onset_date", ONSET),
        ({"description": ""}, "description", "Describe the event."),
        ({"category": "headache"}, "category", "Not a valid choice"),
        ({"relatedness": ""}, "relatedness", "Choose the relation."),
    ],
)
def test_bad_adverse_event_is_refused(browser, db, treated, clinician, overrides, field,
                                      message):
    response = record(browser, treated, **{"description": "Typed description", **overrides})
    html = unescape(response.text)
    assert response.status_int == 422
    assert message in html
    assert f'id="{field}-error"' in html
    again = form_for(response, field="onset_date")
    if overrides.get("description") != "":
        assert again["description"].value.strip() == "Typed description"
    assert again["onset_date"].value == overrides.get("onset_date", "2026-01-03")
    assert events(db, treated) == []


def test_correcting_an_event_needs_a_reason(browser, db, treated, clinician):
    assert record(browser, treated).status_int == 302
    [event] = events(db, treated)
    url = f"/patients/{treated.id}/adverse-events/{event.id}"
    form = open_form(browser, url, field="onset_date")
    assert form["onset_date"].value == "2026-01-03"  # the saved event, as rendered
    assert form["serious"].value == "no"
    refused = submit(fill(form, {"outcome": "resolved", "resolution_date": "2026-01-10"}))
    assert refused.status_int == 422
    assert "Give a reason for correcting the recorded event" in refused.text
    again = form_for(refused, field="onset_date")
    assert again["resolution_date"].value == "2026-01-10"
    again["reason"] = "Follow-up call: resolved"
    assert submit(again).status_int == 302
    [event] = events(db, treated)
    assert event.outcome == "resolved"
    assert event.resolution_date == date(2026, 1, 10)
    audit = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "adverse_event",
                                               AuditEvent.field == "outcome"))
    assert audit.reason == "Follow-up call: resolved"


def test_stale_event_edit_is_refused_with_409(app, browser, db, treated, clinician, make_user,
                                              site_a):
    assert record(browser, treated).status_int == 302
    [event] = events(db, treated)
    url = f"/patients/{treated.id}/adverse-events/{event.id}"
    mine = fill(open_form(browser, url, field="onset_date"),
                {"description": "mine", "reason": "typo"})
    other = webtest.TestApp(app)
    sign_in(other, make_user("clinician", sites=[site_a]).email)
    theirs = fill(open_form(other, url, field="onset_date"),
                  {"description": "theirs", "reason": "typo"})
    assert submit(theirs).status_int == 302
    stale = submit(mine)
    assert stale.status_int == 409
    assert "changed by someone else" in stale.text
    assert form_for(stale, field="onset_date")["description"].value.strip() == "theirs"
    assert events(db, treated)[0].description == "theirs"


def test_other_site_cannot_review(browser, db, as_user, site_b, treated):
    event = AdverseEvent(patient_id=treated.id, onset_date=date(2026, 1, 5),
                         description="Fever", category="fever", severity_grade=3, serious=True,
                         serious_criterion="hospitalisation", relatedness="possibly",
                         outcome="ongoing")
    db.add(event)
    db.flush()
    as_user("clinician", sites=[site_b])
    token = form_for(browser.get("/patients/new"), field="family_name")["csrf_token"].value
    response = browser.post(f"/patients/{treated.id}/adverse-events/{event.id}/review",
                            {"csrf_token": token}, expect_errors=True)
    assert response.status_int == 403
    assert events(db, treated)[0].reviewed_at is None
