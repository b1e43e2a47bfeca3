"""Contact attempts, booked appointments, not applicable, withdrawal, and the home page —
every form submitted as the follow-up pages render it (CSRF on, hidden version included)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, ContactAttempt, Patient, Visit
from tests.clinical.browser import fill, form_for, open_form, sign_in, submit, webtest
from tests.followup.conftest import TODAY, row_visit_ids, shown_count, visit_of

OVERDUE_M3 = 115


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def coordinator_a(as_user, site_a):
    return as_user("coordinator", sites=[site_a])


def visit_page(browser, visit_id: int):
    return browser.get(f"/followup/visits/{visit_id}", status=200)


def contact(browser, visit_id: int, **values):
    form = form_for(visit_page(browser, visit_id), action=f"/visits/{visit_id}/contact")
    return submit(fill(form, {"method": "phone", "outcome": "no_answer", **values}))


def not_applicable(browser, visit_id: int, reason: str):
    form = form_for(visit_page(browser, visit_id), action=f"/visits/{visit_id}/not-applicable")
    return submit(fill(form, {"reason": reason}))


def withdrawal_form(browser, patient_id: int):
    return open_form(browser, f"/followup/patients/{patient_id}/withdraw", field="withdrawn_on")


def csrf_token(browser) -> str:
    return form_for(browser.get("/home"), action="/logout")["csrf_token"].value


def test_contact_attempt_is_recorded_and_audited(browser, db, site_a, treated_days_ago,
                                                 coordinator_a):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    form = form_for(visit_page(browser, visit.id), action=f"/visits/{visit.id}/contact")
    assert form["attempted_on"].value == TODAY.isoformat()  # today, as rendered
    response = submit(fill(form, {"method": "sms", "outcome": "wrong_number",
                                  "note": "Old no."}))
    assert response.status_int == 302
    db.expire_all()
    attempt = db.scalars(select(ContactAttempt).where(ContactAttempt.visit_id == visit.id)).one()
    assert (attempt.method, attempt.outcome, attempt.attempted_on, attempt.user_id) == (
        "sms", "wrong_number", TODAY, coordinator_a.id)
    audit = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "contact_attempt",
                                                AuditEvent.entity_id == str(attempt.id))).one()
    assert audit.action == "create"
    assert audit.actor_id == coordinator_a.id
    page = visit_page(browser, visit.id).text
    assert "Wrong number" in page
    assert "Old no." in page


def test_booking_sets_the_appointment_shown_on_worklist_and_home(browser, db, site_a,
                                                                 treated_days_ago,
                                                                 coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3, family_name="Booked")
    visit = visit_of(patient, "m3")
    appointment = TODAY + timedelta(days=3)  # TODAY is a Monday: same week
    response = contact(browser, visit.id, outcome="appointment_booked",
                       appointment_date=appointment.isoformat())
    assert response.status_int == 302
    db.expire_all()
    assert db.get(Visit, visit.id).appointment_date == appointment
    worklist = browser.get("/followup/?timepoint=m3").text
    assert appointment.isoformat() in worklist
    assert "Phone, Appointment booked" in worklist
    home = browser.get("/home").text
    assert "Appointments booked this week" in home
    assert patient.study_id in home
    assert "Booked" in home
    assert appointment.isoformat() in home
    assert shown_count(home, "overdue") == 1


ATTEMPT = "Date of the attempt must be between 2000-01-01 and today (2026-06-01)."
APPOINTMENT = ("Appointment date must be between 2000-01-01 and a year from today "
               "(2027-06-02).")


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"outcome": "appointment_booked"}, "appointment_date", "Give the appointment date"),
    ({"outcome": "appointment_booked", "appointment_date": "2026-05-01"}, "appointment_date",
     "cannot be before the contact date"),
    ({"outcome": "appointment_booked", "appointment_date": "2027-06-03"}, "appointment_date",
     APPOINTMENT),
    ({"outcome": "appointment_booked", "appointment_date": "0001-01-01"}, "appointment_date",
     APPOINTMENT),
    ({"appointment_date": "2026-06-05"}, "appointment_date", "Leave the appointment date empty"),
    ({"attempted_on": "2026-06-02"}, "attempted_on", ATTEMPT),
    ({"attempted_on": "0001-06-01"}, "attempted_on", ATTEMPT),
    ({"attempted_on": "yesterday"}, "attempted_on", "Enter a date as YYYY-MM-DD."),
    ({"method": "pigeon"}, "method", "Choose how you tried to reach the patient."),
    ({"outcome": ""}, "outcome", "Choose the outcome of the attempt."),
])
def test_bad_contact_input_is_refused_next_to_the_field(browser, db, site_a, treated_days_ago,
                                                         coordinator_a, values, field,
                                                         message):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    response = contact(browser, visit.id, note="typed note kept", **values)
    assert response.status_int == 422
    html = response.text
    assert f'id="{field}-error"' in html
    assert message in html
    again = form_for(response, action=f"/visits/{visit.id}/contact")
    assert again["note"].value.strip() == "typed note kept"  # the form keeps what was typed
    for name in {"attempted_on", "appointment_date"} & set(values):
        assert again[name].value == values[name]  # typed dates kept, even bad ones
    db.expire_all()
    assert db.scalars(select(ContactAttempt)).all() == []
    assert db.get(Visit, visit.id).appointment_date is None


def test_other_sites_visit_and_patient_are_forbidden(browser, db, site_a, site_b,
                                                     treated_days_ago, coordinator_a):
    theirs = treated_days_ago(site_b, OVERDUE_M3)
    visit = visit_of(theirs, "m3")
    token = csrf_token(browser)

    def post(url: str, **data: Any) -> int:
        return browser.post(url, {"csrf_token": token, **data}, expect_errors=True).status_int

    assert browser.get(f"/followup/visits/{visit.id}", expect_errors=True).status_int == 403
    assert post(f"/followup/visits/{visit.id}/contact", attempted_on=TODAY.isoformat(),
                method="phone", outcome="no_answer") == 403
    assert post(f"/followup/visits/{visit.id}/not-applicable", reason="x",
                version=visit.version) == 403
    assert browser.get(f"/followup/patients/{theirs.id}/withdraw",
                       expect_errors=True).status_int == 403
    assert post(f"/followup/patients/{theirs.id}/withdraw", withdrawn_on=TODAY.isoformat(),
                reason="died", version=theirs.version) == 403
    assert browser.get("/followup/visits/999999", expect_errors=True).status_int == 404
    db.expire_all()
    assert db.scalars(select(ContactAttempt)).all() == []
    assert db.get(Patient, theirs.id).status == "active"


def test_clinician_cannot_log_contacts(browser, as_user, site_a, treated_days_ago):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    as_user("clinician", sites=[site_a])
    assert browser.get(f"/followup/visits/{visit.id}", expect_errors=True).status_int == 403
    response = browser.post(f"/followup/visits/{visit.id}/contact",
                            {"csrf_token": csrf_token(browser), "method": "phone",
                             "outcome": "no_answer", "attempted_on": TODAY.isoformat()},
                            expect_errors=True)
    assert response.status_int == 403


def test_mark_visit_not_applicable_with_the_rendered_form(browser, db, site_a,
                                                          treated_days_ago, coordinator_a):
    """The form as the page renders it (its hidden version included) is accepted; the
    reason is stored, shown on the follow-up and patient pages, and in the audit trail."""
    patient = treated_days_ago(site_a, OVERDUE_M3)
    visit = visit_of(patient, "m3")
    form = form_for(visit_page(browser, visit.id), action=f"/visits/{visit.id}/not-applicable")
    assert form["version"].value == str(visit.version)
    response = submit(fill(form, {"reason": "Moved abroad"}))
    assert response.status_int == 302, response.text[:2000]
    db.expire_all()
    saved = db.get(Visit, visit.id)
    assert (saved.status, saved.not_applicable_reason) == ("not_applicable", "Moved abroad")
    page = response.follow().text
    assert "Visit marked not applicable" in page
    assert "<dt>Not applicable because</dt><dd>Moved abroad</dd>" in page
    assert "Moved abroad" in browser.get(f"/patients/{patient.id}").text
    html = browser.get("/followup/?status=not_applicable&timepoint=m3").text
    assert row_visit_ids(html) == [visit.id]
    audit = db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "visit", AuditEvent.entity_id == str(visit.id),
        AuditEvent.field == "not_applicable_reason")).one()
    assert audit.new_value == '"Moved abroad"'
    assert audit.reason == "Visit marked not applicable: Moved abroad"
    assert audit.actor_id == coordinator_a.id


def test_not_applicable_without_a_reason_keeps_the_form(browser, db, site_a, treated_days_ago,
                                                        coordinator_a):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    refused = not_applicable(browser, visit.id, "  ")
    assert refused.status_int == 422
    assert "Say why this visit will not be done." in refused.text
    again = form_for(refused, action=f"/visits/{visit.id}/not-applicable")
    again["reason"] = "Declined further visits"
    assert submit(again).status_int == 302  # the re-rendered form still carries the version
    db.expire_all()
    assert db.get(Visit, visit.id).not_applicable_reason == "Declined further visits"


def test_not_applicable_on_a_changed_visit_is_a_conflict_that_keeps_the_reason(
        app, browser, db, site_a, make_user, treated_days_ago, coordinator_a):
    visit = visit_of(treated_days_ago(site_a, OVERDUE_M3), "m3")
    page = visit_page(browser, visit.id)
    mine = fill(form_for(page, action=f"/visits/{visit.id}/not-applicable"),
                {"reason": "Moved abroad"})
    colleague = webtest.TestApp(app)  # meanwhile a colleague books an appointment
    sign_in(colleague, make_user("coordinator", sites=[site_a]).email)
    booked = contact(colleague, visit.id, outcome="appointment_booked",
                     appointment_date=(TODAY + timedelta(days=2)).isoformat())
    assert booked.status_int == 302
    conflict = submit(mine)
    assert conflict.status_int == 409
    assert "changed by someone else" in conflict.text
    assert (TODAY + timedelta(days=2)).isoformat() in conflict.text  # the visit as it is now
    again = form_for(conflict, action=f"/visits/{visit.id}/not-applicable")
    assert again["reason"].value.strip() == "Moved abroad"  # what was typed is not lost
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"
    assert submit(again).status_int == 302  # sent again, knowingly: accepted
    db.expire_all()
    assert db.get(Visit, visit.id).status == "not_applicable"


def test_withdrawal_makes_future_visits_not_applicable_and_keeps_data(
        browser, db, site_a, treated_days_ago, record_visit, coordinator_a):
    # Treated 130 days ago: w2_6 done, m3 (window closed at day 120) missed, m6_12 ahead.
    patient = treated_days_ago(site_a, 130)
    done = record_visit(visit_of(patient, "w2_6"), TODAY - timedelta(days=100),
                        {"vas": {"vas_pain": 40}})
    missed, future = visit_of(patient, "m3"), visit_of(patient, "m6_12")
    form = withdrawal_form(browser, patient.id)
    assert "consent_withdrawn" in [value for value, _s, _t in form["reason"].options]
    assert form["version"].value == str(patient.version)
    response = submit(fill(form, {"withdrawn_on": (TODAY - timedelta(days=2)).isoformat(),
                                  "reason": "consent_withdrawn", "note": "Phoned the clinic"}))
    assert response.status_int == 302
    db.expire_all()
    saved = db.get(Patient, patient.id)
    assert (saved.status, saved.withdrawn_on, saved.withdrawal_reason, saved.withdrawal_note) \
        == ("withdrawn", TODAY - timedelta(days=2), "consent_withdrawn", "Phoned the clinic")
    assert db.get(Visit, done.id).status == "done"
    assert len(db.get(Visit, done.id).responses) == 1  # collected data stays
    assert db.get(Visit, future.id).status == "not_applicable"
    assert "Consent withdrawn" in db.get(Visit, future.id).not_applicable_reason
    assert db.get(Visit, missed.id).status == "scheduled"  # it was missed before withdrawal
    html = browser.get("/followup/?status=all").text
    assert shown_count(html, "not_applicable") == 3  # baseline, m3 and m6_12: nobody chases
    assert shown_count(html, "done") == 1
    reasons = db.scalars(select(AuditEvent.reason).where(AuditEvent.entity_type == "patient",
                                                         AuditEvent.field == "status"))
    assert list(reasons) == ["Withdrawal from follow-up: Consent withdrawn"]


WITHDRAWN = "Date of withdrawal must be between 2000-01-01 and today (2026-06-01)."


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"reason": ""}, "reason", "Choose the reason for the withdrawal."),
    ({"reason": "other", "note": ""}, "note", "Describe the reason"),
    ({"withdrawn_on": "2026-06-09"}, "withdrawn_on", WITHDRAWN),
    ({"withdrawn_on": "0001-01-01"}, "withdrawn_on", WITHDRAWN),
    ({"withdrawn_on": "2020-01-01"}, "withdrawn_on", "cannot be before consent"),
    ({"withdrawn_on": ""}, "withdrawn_on", "Enter the date."),
])
def test_bad_withdrawal_input_changes_nothing(browser, db, site_a, treated_days_ago,
                                              coordinator_a, values, field, message):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    form = fill(withdrawal_form(browser, patient.id),
                {"reason": "died", "note": "typed note", **values})
    response = submit(form)
    assert response.status_int == 422
    html = response.text
    assert f'id="{field}-error"' in html
    assert message in html
    again = form_for(response, field="withdrawn_on")
    assert again["withdrawn_on"].value == values.get("withdrawn_on", TODAY.isoformat())
    assert again["note"].value.strip() == values.get("note", "typed note")
    db.expire_all()
    assert db.get(Patient, patient.id).status == "active"
    assert all(visit.status == "scheduled" for visit in db.get(Patient, patient.id).visits)


def test_withdrawal_from_a_stale_form_is_a_conflict(app, browser, db, site_a, make_user,
                                                    treated_days_ago, coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    mine = fill(withdrawal_form(browser, patient.id), {"reason": "died"})
    colleague = webtest.TestApp(app)
    sign_in(colleague, make_user("coordinator", sites=[site_a]).email)
    theirs = fill(withdrawal_form(colleague, patient.id), {"reason": "lost_to_follow_up"})
    assert submit(theirs).status_int == 302
    response = submit(mine)
    assert response.status_int == 409
    db.expire_all()
    assert db.get(Patient, patient.id).withdrawal_reason == "lost_to_follow_up"


def test_withdrawn_patients_visits_take_no_contacts(browser, db, site_a, treated_days_ago,
                                                    coordinator_a):
    patient = treated_days_ago(site_a, OVERDUE_M3)
    visit = visit_of(patient, "m3")
    assert submit(fill(withdrawal_form(browser, patient.id),
                       {"reason": "lost_to_follow_up"})).status_int == 302
    page = visit_page(browser, visit.id)
    assert not any(form.action.endswith("/contact") for form in page.forms.values())
    response = browser.post(f"/followup/visits/{visit.id}/contact", {
        "csrf_token": csrf_token(browser), "attempted_on": TODAY.isoformat(),
        "method": "phone", "outcome": "no_answer"}, expect_errors=True)
    assert response.status_int == 422
    assert "withdrawn" in response.text


def test_home_page_of_a_clinician_has_no_followup_panels(browser, as_user, site_a):
    as_user("clinician", sites=[site_a])
    assert "Follow-up at your sites" not in browser.get("/home").text
