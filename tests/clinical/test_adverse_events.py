"""Adverse events: record, validation, correction with a reason, serious-event review."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from registry.models import AdverseEvent, AuditEvent

TREATED = date(2026, 1, 1)


def ae_data(**overrides) -> dict[str, str]:
    data = {"onset_date": "2026-01-03", "description": "Knee swelling after injection",
            "category": "swelling", "severity_grade": "2", "serious": "no",
            "serious_criterion": "", "relatedness": "probably", "action_taken": "medication",
            "outcome": "ongoing", "resolution_date": ""}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def treated(make_patient, site_a):
    return make_patient(site_a, treatment_date=TREATED)


def events(db, patient) -> list[AdverseEvent]:
    db.expire_all()
    return list(db.scalars(select(AdverseEvent).where(AdverseEvent.patient_id == patient.id)))


def test_record_non_serious_event(auth, client, db, site_a, treated):
    auth.login("clinician", sites=[site_a])
    assert client.get(f"/patients/{treated.id}/adverse-events/new").status_code == 200
    response = client.post(f"/patients/{treated.id}/adverse-events/new", data=ae_data())
    assert response.status_code == 302
    [event] = events(db, treated)
    assert (event.category, event.severity_grade, event.serious) == ("swelling", 2, False)
    page = client.get(f"/patients/{treated.id}").get_data(as_text=True)
    assert "Swelling / effusion: Knee swelling after injection" in page
    assert 'class="serious"' not in page


def test_serious_event_is_highlighted_until_reviewed(auth, client, db, site_a, treated):
    auth.login("coordinator", sites=[site_a])
    response = client.post(f"/patients/{treated.id}/adverse-events/new", data=ae_data(
        category="infection", severity_grade="3", serious="yes",
        serious_criterion="hospitalisation", action_taken="hospitalisation",
        description="Septic arthritis, admitted for lavage"))
    assert response.status_code == 302
    [event] = events(db, treated)
    assert event.serious
    assert event.serious_criterion == "hospitalisation"
    home = client.get("/home").get_data(as_text=True)
    assert "Serious adverse events awaiting review" in home
    assert f"/patients/{treated.id}" in home
    page = client.get(f"/patients/{treated.id}").get_data(as_text=True)
    assert '<tr class="serious">' in page
    assert "Awaiting review" in page
    assert "Mark reviewed" in page

    assert client.get(f"/patients/{treated.id}/adverse-events/{event.id}/review") \
        .status_code == 405  # no GET changes state
    reviewed = client.post(f"/patients/{treated.id}/adverse-events/{event.id}/review")
    assert reviewed.status_code == 302
    [event] = events(db, treated)
    assert event.reviewed_at is not None
    assert event.reviewed_by_id is not None
    assert "Serious adverse events awaiting review" not in client.get("/home").get_data(
        as_text=True)
    assert "Reviewed " in client.get(f"/patients/{treated.id}").get_data(as_text=True)


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
        ({"onset_date": "2025-12-31"}, "onset_date", "before the treatment date (2026-01-01)"),
        ({"onset_date": "2026-06-02"}, "onset_date", "The date cannot be in the future"),
        ({"description": ""}, "description", "Describe the event."),
        ({"category": "headache"}, "category", "Not a valid choice"),
        ({"relatedness": ""}, "relatedness", "Choose the relation."),
    ],
)
def test_bad_adverse_event_is_refused(auth, client, db, site_a, treated, overrides, field,
                                      message):
    auth.login("clinician", sites=[site_a])
    data = ae_data(**{"description": "Typed description", **overrides})
    response = client.post(f"/patients/{treated.id}/adverse-events/new", data=data)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html
    if data.get("description"):
        assert "Typed description" in html
    assert events(db, treated) == []


def test_correcting_an_event_needs_a_reason(auth, client, db, site_a, treated):
    auth.login("clinician", sites=[site_a])
    client.post(f"/patients/{treated.id}/adverse-events/new", data=ae_data())
    [event] = events(db, treated)
    url = f"/patients/{treated.id}/adverse-events/{event.id}"
    form = client.get(url).get_data(as_text=True)
    assert 'value="2026-01-03"' in form
    changed = ae_data(outcome="resolved", resolution_date="2026-01-10",
                      version=str(event.version))
    refused = client.post(url, data=changed)
    assert refused.status_code == 422
    assert "Give a reason for correcting the recorded event" in refused.get_data(as_text=True)
    changed["reason"] = "Follow-up call: resolved"
    assert client.post(url, data=changed).status_code == 302
    [event] = events(db, treated)
    assert event.outcome == "resolved"
    assert event.resolution_date == date(2026, 1, 10)
    audit = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "adverse_event",
                                               AuditEvent.field == "outcome"))
    assert audit.reason == "Follow-up call: resolved"
    stale = client.post(url, data={**changed, "description": "other", "version": "1"})
    assert stale.status_code == 409


def test_other_site_cannot_review(auth, client, db, site_a, site_b, treated):
    event = AdverseEvent(patient_id=treated.id, onset_date=date(2026, 1, 5),
                         description="Fever", category="fever", severity_grade=3, serious=True,
                         serious_criterion="hospitalisation", relatedness="possibly",
                         outcome="ongoing")
    db.add(event)
    db.flush()
    auth.login("clinician", sites=[site_b])
    response = client.post(f"/patients/{treated.id}/adverse-events/{event.id}/review")
    assert response.status_code == 403
    assert events(db, treated)[0].reviewed_at is None
