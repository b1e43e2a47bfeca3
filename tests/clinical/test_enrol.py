"""Enrolment through the web form: generated study IDs, BMI, eligibility, bad input."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, Patient
from tests.clinical.helpers import enrol_data


def patient_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Patient))


def test_enrol_creates_patient_with_generated_study_id(auth, client, db, site_a):
    auth.login("clinician", sites=[site_a])
    response = client.post("/patients/new", data=enrol_data(site_a.id))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.expire_all()
    patient = db.scalar(select(Patient))
    assert patient.study_id == "AAA-0001"
    assert patient.site_sequence == 1
    assert patient.bmi == pytest.approx(26.4)  # 72 / 1.65² = 26.45 -> 26.4 (stored 1 dp)
    assert patient.identity.family_name == "Nordmann"
    assert patient.identity.medical_record_number == "MRN-4711"
    assert patient.index_knee.kl_grade == 3
    assert patient.index_knee.eligibility["symptomatic"] is True
    assert patient.index_knee.eligibility["active_infection"] is False
    assert patient.outside_indication_justification is None
    assert patient.protocol.is_default
    assert response.headers["Location"].endswith(f"/patients/{patient.id}/treatment")
    created = db.scalars(select(AuditEvent.entity_type).where(AuditEvent.action == "create"))
    assert {"patient", "patient_identity", "index_knee"} <= set(created)


def test_study_ids_follow_the_site_sequence(auth, client, db, site_a, site_b):
    auth.login("coordinator", sites=[site_a, site_b])
    for number, site in enumerate([site_a, site_a, site_b]):
        response = client.post("/patients/new", data=enrol_data(
            site.id, medical_record_number=f"MRN-{number}"))
        assert response.status_code == 302
    db.expire_all()
    assert list(db.scalars(select(Patient.study_id).order_by(Patient.id))) == [
        "AAA-0001", "AAA-0002", "BBB-0001"]


def test_study_id_cannot_be_typed(auth, client, db, site_a):
    auth.login("clinician", sites=[site_a])
    client.post("/patients/new", data=enrol_data(site_a.id, study_id="HACK-9999"))
    db.expire_all()
    assert db.scalar(select(Patient.study_id)) == "AAA-0001"


def test_enrol_form_renders_checklist_and_fields(auth, client, site_a):
    auth.login("clinician", sites=[site_a])
    html = client.get("/patients/new").get_data(as_text=True)
    assert "Eligibility checklist" in html
    assert "<legend>Active infection (local or systemic)</legend>" in html
    assert '<label for="kl_grade">' in html
    assert "study_id" not in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kl_grade": "7"}, "The Kellgren–Lawrence grade must be 0 to 4, not 7."),
        ({"kl_grade": "two"}, "must be a whole number from 0 to 4"),
        ({"kl_grade": ""}, "Enter the Kellgren–Lawrence grade"),
        ({"birth_date": "2030-01-01"}, "The date cannot be in the future"),
        ({"consent_date": "2026-06-02"}, "The date cannot be in the future"),
        ({"consent_date": "1950-01-01"}, "The consent date cannot be before the date of birth."),
        ({"birth_date": "14/03/1958"}, "Not a valid date value."),
        ({"family_name": ""}, "This field is required."),
        ({"medical_record_number": ""}, "This field is required."),
        ({"sex": ""}, "Choose the patient's sex."),
        ({"sex": "robot"}, "Not a valid choice"),
        ({"height_cm": "300"}, "Height must be between 50 and 250 cm."),
        ({"weight_kg": "10"}, "Weight must be between 20 and 350 kg."),
        ({"height_cm": "100", "weight_kg": "300"}, "outside 10–80: check both values"),
        ({"email": "not-an-email"}, "Invalid email address."),
        ({"laterality": None}, "Choose the index knee."),
        ({"elig_symptomatic": None}, "Answer the checklist question"),
        ({"kl_grade": "4"}, "outside the usual indication: give a justification"),
        ({"elig_active_infection": "yes"}, "outside the usual indication: give a justification"),
    ],
)
def test_bad_enrolment_is_refused_and_keeps_typed_values(auth, client, db, site_a,
                                                          overrides, message):
    auth.login("clinician", sites=[site_a])
    data = enrol_data(site_a.id, **{"family_name": "Typedname", **overrides})
    response = client.post("/patients/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in unescape(html)
    assert 'class="error"' in html
    assert f'value="{data["medical_record_number"]}"' in html
    if data["family_name"]:
        assert 'value="Typedname"' in html
    assert patient_count(db) == 0


def test_outside_indication_shows_warning_then_saves_with_justification(auth, client, db,
                                                                         site_a):
    auth.login("clinician", sites=[site_a])
    data = enrol_data(site_a.id, kl_grade="4", elig_bleeding_disorder="yes")
    refused = client.post("/patients/new", data=data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Outside the usual indication" in html
    assert "Kellgren–Lawrence grade 4 is outside the usual indication" in html
    assert "Uncontrolled bleeding disorder or anticoagulation: answered yes" in html
    data["outside_indication_justification"] = "Patient declines arthroplasty; MDT agreed."
    assert client.post("/patients/new", data=data).status_code == 302
    db.expire_all()
    patient = db.scalar(select(Patient))
    assert patient.outside_indication_justification.startswith("Patient declines")
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Enrolled outside the usual indication." in page
    assert "MDT agreed" in page


def test_duplicate_record_number_at_site_is_refused(auth, client, db, site_a):
    auth.login("clinician", sites=[site_a])
    assert client.post("/patients/new", data=enrol_data(site_a.id)).status_code == 302
    response = client.post("/patients/new", data=enrol_data(site_a.id, given_name="Other"))
    assert response.status_code == 422
    assert "already enrolled at this site" in response.get_data(as_text=True)
    assert patient_count(db) == 1


def test_cannot_enrol_at_a_site_that_is_not_mine(auth, client, db, site_a, site_b):
    auth.login("clinician", sites=[site_a])
    response = client.post("/patients/new", data=enrol_data(site_b.id))
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert patient_count(db) == 0


def test_sequence_retry_after_a_concurrent_enrolment(app, db, site_a, make_user, monkeypatch):
    """A racing enrolment took the computed number: the service retries with the next."""
    from datetime import date

    from registry.clinical.services import enrolment

    user = make_user("clinician", sites=[site_a])
    calls = {"n": 0}
    original = enrolment.next_site_sequence

    def stale_first(session, site_id):
        calls["n"] += 1
        return 1 if calls["n"] == 1 else original(session, site_id)

    with app.test_request_context():
        first = enrolment.enrol_patient(db, enrolment.EnrolmentData(
            site_id=site_a.id, family_name="A", given_name="B", medical_record_number="M1",
            phone=None, email=None, preferred_contact="phone", email_reminders=False,
            sex="male", birth_date=date(1960, 1, 1), height_cm=None, weight_kg=None,
            laterality="left", kl_grade=2, eligibility={}, consent_date=date(2026, 1, 1),
            outside_indication_justification=None, created_by_id=user.id))
        assert first.study_id == "AAA-0001"
        monkeypatch.setattr(enrolment, "next_site_sequence", stale_first)
        second = enrolment.enrol_patient(db, enrolment.EnrolmentData(
            site_id=site_a.id, family_name="C", given_name="D", medical_record_number="M2",
            phone=None, email=None, preferred_contact="phone", email_reminders=False,
            sex="male", birth_date=date(1960, 1, 1), height_cm=None, weight_kg=None,
            laterality="left", kl_grade=2, eligibility={}, consent_date=date(2026, 1, 1),
            outside_indication_justification=None, created_by_id=user.id))
    assert calls["n"] == 2
    assert second.study_id == "AAA-0002"
