"""Enrolment through the rendered web form: generated study IDs, BMI, eligibility, bad
input (including implausible numbers and dates), and the service's own checks."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select

from registry.clinical.services import enrolment
from registry.models import AuditEvent, Patient
from registry.services import ValidationFailed
from tests.clinical.browser import fill, form_for, open_form, submit
from tests.clinical.helpers import enrol_data

URL = "/patients/new"


def patient_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Patient))


def enrol(browser, site_id: int, **overrides):
    """Open the enrolment page, fill it in, press "Enrol patient"."""
    return submit(fill(open_form(browser, URL, field="family_name"),
                       enrol_data(site_id, **overrides)))


def test_enrol_creates_patient_with_generated_study_id(browser, db, site_a, clinician):
    response = enrol(browser, site_a.id)
    assert response.status_int == 302, unescape(response.text)[:2000]
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


def test_study_ids_follow_the_site_sequence(browser, db, as_user, site_a, site_b):
    as_user("coordinator", sites=[site_a, site_b])
    for number, site in enumerate([site_a, site_a, site_b]):  # three people
        assert enrol(browser, site.id, medical_record_number=f"MRN-{number}",
                     given_name=f"Kari {number}").status_int == 302
    db.expire_all()
    assert list(db.scalars(select(Patient.study_id).order_by(Patient.id))) == [
        "AAA-0001", "AAA-0002", "BBB-0001"]


def test_study_id_cannot_be_typed(browser, db, site_a, clinician):
    form = fill(open_form(browser, URL, field="family_name"), enrol_data(site_a.id))
    fields = [*form.submit_fields(), ("study_id", "HACK-9999")]  # a tampered request
    assert browser.post(URL, params=fields).status_int == 302
    db.expire_all()
    assert db.scalar(select(Patient.study_id)) == "AAA-0001"


def test_enrol_form_renders_checklist_and_fields(browser, site_a, clinician):
    page = browser.get(URL)
    assert "Eligibility checklist" in page.text
    assert "<legend>Active infection (local or systemic)</legend>" in page.text
    assert '<label for="kl_grade">' in page.text
    assert "study_id" not in page.text
    assert {"csrf_token", "site_id", "birth_date", "consent_date"} <= set(
        form_for(page, field="family_name").fields)


BIRTH = "Date of birth must be between 1900-01-01 and today (2026-06-01)."
CONSENT = "Consent date must be between 2000-01-01 and today (2026-06-01)."
HEIGHT = "Height must be between 50 and 250 cm."
WEIGHT = "Weight must be between 20 and 350 kg."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kl_grade": "7"}, "kl_grade", "The Kellgren–Lawrence grade must be 0 to 4, not 7."),
        ({"kl_grade": "two"}, "kl_grade", "must be a whole number from 0 to 4"),
        ({"kl_grade": ""}, "kl_grade", "Choose the Kellgren–Lawrence grade (0–4)."),
        ({"birth_date": "2030-01-01"}, "birth_date", BIRTH),
        ({"birth_date": "0001-01-01"}, "birth_date", BIRTH),
        ({"birth_date": "1899-12-31"}, "birth_date", BIRTH),
        ({"consent_date": "2026-06-02"}, "consent_date", CONSENT),
        ({"consent_date": "0001-06-01"}, "consent_date", CONSENT),
        ({"consent_date": "1999-12-31"}, "consent_date", CONSENT),
        ({"birth_date": "2010-01-01", "consent_date": "2005-01-01"}, "consent_date",
         "The consent date cannot be before the date of birth."),
        ({"birth_date": "14/03/1958"}, "birth_date", "Not a valid date value."),
        ({"family_name": ""}, "family_name", "This field is required."),
        ({"medical_record_number": ""}, "medical_record_number", "This field is required."),
        ({"sex": ""}, "sex", "Choose the patient's sex."),
        ({"sex": "robot"}, "sex", "Not a valid choice"),
        ({"height_cm": "300"}, "height_cm", HEIGHT),
        ({"height_cm": "inf"}, "height_cm", HEIGHT),
        ({"height_cm": "nan"}, "height_cm", HEIGHT),
        ({"height_cm": "1e308"}, "height_cm", HEIGHT),
        ({"weight_kg": "10"}, "weight_kg", WEIGHT),
        ({"weight_kg": "-inf"}, "weight_kg", WEIGHT),
        ({"height_cm": "100", "weight_kg": "300"}, "weight_kg",
         "outside 10–80: check both values"),
        ({"email": "not-an-email"}, "email", "Invalid email address."),
        ({"laterality": None}, "laterality", "Choose the index knee."),
        ({"elig_symptomatic": None}, "elig_symptomatic", "Answer the checklist question"),
        ({"kl_grade": "4"}, "outside_indication_justification",
         "outside the usual indication: give a justification"),
        ({"elig_active_infection": "yes"}, "outside_indication_justification",
         "outside the usual indication: give a justification"),
    ],
)
def test_bad_enrolment_is_refused_and_keeps_typed_values(browser, db, site_a, clinician,
                                                          overrides, field, message):
    data = enrol_data(site_a.id, **{"family_name": "Typedname", **overrides})
    form = fill(open_form(browser, URL, field="family_name"), data)
    for name in [name for name, value in overrides.items() if value is None]:
        fill(form, {name: None})
    response = submit(form)
    html = unescape(response.text)
    assert response.status_int == 422
    assert f'id="{field}-error">{message}' in html or (
        f'id="{field}-error"' in html and message in html)
    again = form_for(response, field="family_name")  # the form as re-rendered
    assert again["medical_record_number"].value == data["medical_record_number"]
    if data["family_name"]:
        assert again["family_name"].value == "Typedname"
    for name in ("birth_date", "consent_date", "height_cm", "weight_kg"):
        assert again[name].value == data[name]  # typed values kept, even bad ones
    assert patient_count(db) == 0


def test_outside_indication_shows_warning_then_saves_with_justification(browser, db, site_a,
                                                                         clinician):
    refused = enrol(browser, site_a.id, kl_grade="4", elig_bleeding_disorder="yes")
    html = refused.text
    assert refused.status_int == 422
    assert "Outside the usual indication" in html
    assert "Kellgren–Lawrence grade 4 is outside the usual indication" in html
    assert "Uncontrolled bleeding disorder or anticoagulation: answered yes" in html
    # The re-rendered form still holds every answer: only the justification is added.
    form = form_for(refused, field="family_name")
    form["outside_indication_justification"] = "Patient declines arthroplasty; MDT agreed."
    assert submit(form).status_int == 302
    db.expire_all()
    patient = db.scalar(select(Patient))
    assert patient.index_knee.kl_grade == 4
    assert patient.outside_indication_justification.startswith("Patient declines")
    page = browser.get(f"/patients/{patient.id}").text
    assert "Enrolled outside the usual indication." in page
    assert "MDT agreed" in page


def test_duplicate_record_number_at_site_is_refused(browser, db, site_a, clinician):
    assert enrol(browser, site_a.id).status_int == 302
    response = enrol(browser, site_a.id, given_name="Other")
    assert response.status_int == 422
    assert "already enrolled at this site" in response.text
    assert patient_count(db) == 1


def test_cannot_enrol_at_a_site_that_is_not_mine(browser, db, site_a, site_b, clinician):
    response = enrol(browser, site_b.id)  # not offered: forced in
    assert response.status_int == 422
    assert "Not a valid choice" in response.text
    assert patient_count(db) == 0


def _data(user_id: int, site_id: int, mrn: str, **overrides) -> enrolment.EnrolmentData:
    values = dict(
        site_id=site_id, family_name=f"Family {mrn}", given_name="B",
        medical_record_number=mrn,
        phone=None, email=None, preferred_contact="phone", email_reminders=False,
        sex="male", birth_date=date(1960, 1, 1), height_cm=None, weight_kg=None,
        laterality="left", kl_grade=2, eligibility={}, consent_date=date(2026, 1, 1),
        outside_indication_justification=None, created_by_id=user_id)
    return enrolment.EnrolmentData(**{**values, **overrides})


def test_sequence_retry_after_a_concurrent_enrolment(app, db, site_a, make_user, monkeypatch):
    """A racing enrolment took the computed number: the service retries with the next."""
    user = make_user("clinician", sites=[site_a])
    calls = {"n": 0}
    original = enrolment.next_site_sequence

    def stale_first(session, site_id):
        calls["n"] += 1
        return 1 if calls["n"] == 1 else original(session, site_id)

    with app.test_request_context():
        first = enrolment.enrol_patient(db, _data(user.id, site_a.id, "M1"))
        assert first.study_id == "AAA-0001"
        monkeypatch.setattr(enrolment, "next_site_sequence", stale_first)
        second = enrolment.enrol_patient(db, _data(user.id, site_a.id, "M2"))
    assert calls["n"] == 2
    assert second.study_id == "AAA-0002"


@pytest.mark.parametrize(("overrides", "field"), [
    ({"birth_date": date(1, 1, 1)}, "birth_date"),
    ({"consent_date": date(1, 6, 1)}, "consent_date"),
    ({"consent_date": date(2026, 6, 2)}, "consent_date"),
    ({"height_cm": float("inf")}, "height_cm"),
    ({"weight_kg": float("nan")}, "weight_kg"),
    ({"kl_grade": 9}, "kl_grade"),
])
def test_service_rechecks_ranges_for_every_caller(app, db, site_a, make_user, overrides, field):
    """Not only the form: the service itself refuses implausible values (command line,
    demo, any other caller), naming the field."""
    user = make_user("clinician", sites=[site_a])
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        enrolment.enrol_patient(db, _data(user.id, site_a.id, "M1", **overrides))
    assert field in refused.value.errors
    assert patient_count(db) == 0
