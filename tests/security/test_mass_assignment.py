"""Extra form fields cannot change what they must not (mass assignment)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from registry.models import ContactAttempt, Patient, User, Visit
from tests.clinical.helpers import enrol_data, visit_data


def test_enrolment_ignores_study_id_status_and_sequence(auth, client, db, site_a):
    auth.login("clinician", sites=[site_a])
    response = client.post("/patients/new", data=enrol_data(
        site_a.id, study_id="EVIL-9999", status="withdrawn", site_sequence="77",
        version="42", protocol_id="999", created_by_id="1"))
    assert response.status_code == 302
    db.expire_all()
    patient = db.scalar(select(Patient))
    assert (patient.study_id, patient.status, patient.site_sequence, patient.version) == (
        "AAA-0001", "active", 1, 1)


def test_enrolment_at_another_site_is_refused(auth, client, db, site_a, site_b):
    auth.login("clinician", sites=[site_a])
    response = client.post("/patients/new", data=enrol_data(site_b.id))
    assert response.status_code in (403, 422)
    db.expire_all()
    assert db.scalar(select(Patient)) is None


def test_visit_form_cannot_move_a_visit_to_another_patient(auth, client, db, site_a,
                                                           make_patient):
    first = make_patient(site_a, treatment_date=date(2026, 1, 10))
    second = make_patient(site_a, treatment_date=date(2026, 1, 10))
    visit = first.visits[0]
    auth.login("clinician", sites=[site_a])
    data = visit_data(date(2026, 1, 5), {"vas": {"VAS": 40}}, version=visit.version)
    data.update(patient_id=str(second.id), timepoint_id="", status="not_applicable")
    response = client.post(f"/patients/{first.id}/visits/{visit.id}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    db.expire_all()
    saved = db.get(Visit, visit.id)
    assert (saved.patient_id, saved.timepoint_id, saved.status) == (
        first.id, visit.timepoint_id, "done")


def test_visit_of_another_patient_in_the_url_is_refused(auth, client, site_a, site_b,
                                                        make_patient):
    own = make_patient(site_a)
    other = make_patient(site_b)
    auth.login("clinician", sites=[site_a])
    response = client.get(f"/patients/{own.id}/visits/{other.visits[0].id}")
    assert response.status_code in (403, 404)


def test_contact_log_ignores_user_and_patient_fields(auth, client, db, site_a, site_b,
                                                    make_patient, make_user):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 10))
    elsewhere = make_patient(site_b)
    someone_else = make_user("coordinator", sites=[site_a])
    coordinator = auth.login("coordinator", sites=[site_a])
    visit = patient.visits[2]
    response = client.post(f"/followup/visits/{visit.id}/contact", data={
        "attempted_on": "2026-04-01", "method": "phone", "outcome": "no_answer",
        "user_id": str(someone_else.id), "patient_id": str(elsewhere.id)})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:1000]
    db.expire_all()
    attempt = db.scalar(select(ContactAttempt))
    assert (attempt.user_id, attempt.patient_id) == (coordinator.id, patient.id)


def test_user_edit_cannot_set_email_password_or_token(auth, client, db, site_a, make_user):
    victim = make_user("clinician", sites=[site_a])
    before = (victim.email, victim.password_hash, victim.failed_logins)
    auth.login("admin", sites=[site_a])
    response = client.post(f"/admin/users/{victim.id}", data={
        "full_name": "Renamed", "role": "clinician", "sites": [str(site_a.id)], "active": "y",
        "reason": "name change", "email": "attacker@example.org",
        "password_hash": "scrypt:forged", "failed_logins": "0", "session_token": "known"})
    assert response.status_code == 302
    db.expire_all()
    saved = db.get(User, victim.id)
    assert saved.full_name == "Renamed"
    assert (saved.email, saved.password_hash, saved.failed_logins) == before
    assert saved.session_token != "known"
