"""Contact attempts, booked appointments, not applicable, withdrawal, and the home page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, ContactAttempt, Patient, Visit
from tests.followup.conftest import TODAY, row_visit_ids, shown_count, visit_of

OVERDUE_M3 = 115


@pytest.fixture
def coordinator_a(auth, site_a):
    return auth.login("coordinator", sites=[site_a])


def _contact(client, visit_id, **overrides):
    data = {"attempted_on": TODAY.isoformat(), "method": "phone", "outcome": "no_answer",
            "appointment_date": "", "note": ""}
    return client.post(f"/followup/visits/{visit_id}/contact", data={**data, **overrides})


def test_contact_attempt_is_recorded_and_audited(client, db, site_a, treated_days_ago,
                                                 coordinator_a):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    response = _contact(client, visit.id, method="sms", outcome="wrong_number", note="Old no.")
    assert response.status_code == 302
    db.expire_all()
    attempt = db.scalars(select(ContactAttempt).where(ContactAttempt.visit_id == visit.id)).one()
    assert (attempt.method, attempt.outcome, attempt.attempted_on, attempt.user_id) == (
        "sms", "wrong_number", TODAY, coordinator_a.id)
    audit = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "contact_attempt",
                                                AuditEvent.entity_id == str(attempt.id))).one()
    assert audit.action == "create"
    assert audit.actor_id == coordinator_a.id
    page = client.get(f"/followup/visits/{visit.id}").get_data(as_text=True)
    assert "Wrong number" in page
    assert "Old no." in page


def test_booking_sets_the_appointment_shown_on_worklist_and_home(client, db, site_a,
                                                                 treated_days_ago,
                                                                 coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3, family_name="Booked")
    visit = visit_of(patient, "m3")
    appointment = TODAY + timedelta(days=3)  # TODAY is a Monday: same week
    response = _contact(client, visit.id, outcome="appointment_booked",
                        appointment_date=appointment.isoformat())
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Visit, visit.id).appointment_date == appointment
    worklist = client.get("/followup/?timepoint=m3").get_data(as_text=True)
    assert appointment.isoformat() in worklist
    assert "Phone, Appointment booked" in worklist
    home = client.get("/home").get_data(as_text=True)
    assert "Appointments booked this week" in home
    assert patient.study_id in home
    assert "Booked" in home
    assert appointment.isoformat() in home
    assert shown_count(home, "overdue") == 1


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"outcome": "appointment_booked"}, "appointment_date", "Give the appointment date"),
    ({"outcome": "appointment_booked", "appointment_date": "2026-05-01"}, "appointment_date",
     "cannot be before the contact date"),
    ({"appointment_date": "2026-06-05"}, "appointment_date", "Leave the appointment date empty"),
    ({"attempted_on": "2026-06-02"}, "attempted_on", "cannot be in the future"),
    ({"attempted_on": "yesterday"}, "attempted_on", "Enter a date as YYYY-MM-DD."),
    ({"method": "pigeon"}, "method", "Choose how you tried to reach the patient."),
    ({"outcome": ""}, "outcome", "Choose the outcome of the attempt."),
])
def test_bad_contact_input_is_refused_next_to_the_field(client, db, site_a, treated_days_ago,
                                                         coordinator_a, overrides, field,
                                                         message):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    response = _contact(client, visit.id, note="typed note kept", **overrides)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    assert "typed note kept" in html  # the form keeps what was typed
    db.expire_all()
    assert db.scalars(select(ContactAttempt)).all() == []
    assert db.get(Visit, visit.id).appointment_date is None


def test_other_sites_visit_and_patient_are_forbidden(client, db, site_a, site_b,
                                                     treated_days_ago, coordinator_a):
    theirs = treated_days_ago(site_b, OVERDUE_M3)
    visit = visit_of(theirs, "m3")
    assert client.get(f"/followup/visits/{visit.id}").status_code == 403
    assert _contact(client, visit.id).status_code == 403
    assert client.post(f"/followup/visits/{visit.id}/not-applicable",
                       data={"reason": "x", "version": visit.version}).status_code == 403
    assert client.get(f"/followup/patients/{theirs.id}/withdraw").status_code == 403
    assert client.post(f"/followup/patients/{theirs.id}/withdraw", data={
        "withdrawn_on": TODAY.isoformat(), "reason": "died", "version": theirs.version,
    }).status_code == 403
    assert client.get("/followup/visits/999999").status_code == 404
    db.expire_all()
    assert db.scalars(select(ContactAttempt)).all() == []
    assert db.get(Patient, theirs.id).status == "active"


def test_clinician_cannot_log_contacts(auth, client, site_a, treated_days_ago):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    auth.login("clinician", sites=[site_a])
    assert _contact(client, visit.id).status_code == 403


def test_mark_visit_not_applicable_with_reason(client, db, site_a, treated_days_ago,
                                               coordinator_a):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    url = f"/followup/visits/{visit.id}/not-applicable"
    refused = client.post(url, data={"reason": "  ", "version": visit.version})
    assert refused.status_code == 422
    assert "Say why this visit will not be done." in refused.get_data(as_text=True)
    stale = client.post(url, data={"reason": "Moved abroad", "version": visit.version + 7})
    assert stale.status_code == 409
    assert client.post(url, data={"reason": "Moved abroad",
                                  "version": visit.version}).status_code == 302
    db.expire_all()
    saved = db.get(Visit, visit.id)
    assert (saved.status, saved.not_applicable_reason) == ("not_applicable", "Moved abroad")
    html = client.get("/followup/?status=not_applicable&timepoint=m3").get_data(as_text=True)
    assert row_visit_ids(html) == [visit.id]


def test_withdrawal_makes_future_visits_not_applicable_and_keeps_data(
        client, db, site_a, treated_days_ago, record_visit, coordinator_a):
    # Treated 130 days ago: w2_6 done, m3 (window closed at day 120) missed, m6_12 ahead.
    patient = treated_days_ago(site_a, 130)
    done = record_visit(visit_of(patient, "w2_6"), TODAY - timedelta(days=100),
                        {"vas": {"vas_pain": 40}})
    missed, future = visit_of(patient, "m3"), visit_of(patient, "m6_12")
    form = client.get(f"/followup/patients/{patient.id}/withdraw")
    assert form.status_code == 200
    assert "Consent withdrawn" in form.get_data(as_text=True)
    response = client.post(f"/followup/patients/{patient.id}/withdraw", data={
        "withdrawn_on": (TODAY - timedelta(days=2)).isoformat(), "reason": "consent_withdrawn",
        "note": "Phoned the clinic", "version": patient.version})
    assert response.status_code == 302
    db.expire_all()
    saved = db.get(Patient, patient.id)
    assert (saved.status, saved.withdrawn_on, saved.withdrawal_reason, saved.withdrawal_note) \
        == ("withdrawn", TODAY - timedelta(days=2), "consent_withdrawn", "Phoned the clinic")
    assert db.get(Visit, done.id).status == "done"
    assert len(db.get(Visit, done.id).responses) == 1  # collected data stays
    assert db.get(Visit, future.id).status == "not_applicable"
    assert "Consent withdrawn" in db.get(Visit, future.id).not_applicable_reason
    assert db.get(Visit, missed.id).status == "scheduled"  # it was missed before withdrawal
    html = client.get("/followup/?status=all").get_data(as_text=True)
    assert shown_count(html, "not_applicable") == 3  # baseline, m3 and m6_12: nobody chases
    assert shown_count(html, "done") == 1
    reasons = db.scalars(select(AuditEvent.reason).where(AuditEvent.entity_type == "patient",
                                                         AuditEvent.field == "status"))
    assert list(reasons) == ["Withdrawal from follow-up: Consent withdrawn"]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"reason": ""}, "reason", "Choose the reason for the withdrawal."),
    ({"reason": "other", "note": ""}, "note", "Describe the reason"),
    ({"withdrawn_on": "2026-06-09"}, "withdrawn_on", "cannot be in the future"),
    ({"withdrawn_on": "2020-01-01"}, "withdrawn_on", "cannot be before consent"),
    ({"withdrawn_on": ""}, "withdrawn_on", "Enter the date."),
])
def test_bad_withdrawal_input_changes_nothing(client, db, site_a, treated_days_ago,
                                              coordinator_a, data, field, message):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    response = client.post(f"/followup/patients/{patient.id}/withdraw", data={
        "withdrawn_on": TODAY.isoformat(), "reason": "died", "version": patient.version,
        **data})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html
    db.expire_all()
    assert db.get(Patient, patient.id).status == "active"
    assert all(visit.status == "scheduled" for visit in db.get(Patient, patient.id).visits)


def test_withdrawal_from_a_stale_form_is_a_conflict(client, db, site_a, treated_days_ago,
                                                    coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    response = client.post(f"/followup/patients/{patient.id}/withdraw", data={
        "withdrawn_on": TODAY.isoformat(), "reason": "died", "version": patient.version - 1})
    assert response.status_code == 409
    db.expire_all()
    assert db.get(Patient, patient.id).status == "active"


def test_withdrawn_patients_visits_take_no_contacts(client, db, site_a, treated_days_ago,
                                                    coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    client.post(f"/followup/patients/{patient.id}/withdraw", data={
        "withdrawn_on": TODAY.isoformat(), "reason": "lost_to_follow_up",
        "version": patient.version})
    response = _contact(client, visit_of(patient, "m3").id)
    assert response.status_code == 422
    assert "withdrawn" in response.get_data(as_text=True)


def test_home_page_of_a_clinician_has_no_followup_panels(auth, client, site_a):
    auth.login("clinician", sites=[site_a])
    assert "Follow-up at your sites" not in client.get("/home").get_data(as_text=True)
