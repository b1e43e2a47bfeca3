"""Plausible ranges (registry/limits.py): every number and date of the clinical and
follow-up forms has one, the messages name the field and the range, non-finite numbers
are refused, and the database itself refuses implausible values written past the app."""

from __future__ import annotations

import math
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from wtforms import DateField, DecimalField, FloatField, IntegerField

from registry.clinical.forms import AdverseEventForm, EnrolForm, TreatmentForm, VisitForm
from registry.followup.forms import ContactForm, WithdrawalForm
from registry.limits import DATES, NUMBERS, problems
from registry.models import AdverseEvent, ContactAttempt

FORMS = [EnrolForm, TreatmentForm, VisitForm, AdverseEventForm, ContactForm, WithdrawalForm]
TODAY = date(2026, 6, 1)


@pytest.mark.parametrize("form_class", FORMS, ids=lambda form: form.__name__)
def test_every_number_and_date_field_has_a_plausible_range(app, form_class):
    with app.test_request_context():
        form = form_class(meta={"csrf": False})
    typed = [field for field in form if isinstance(field, DateField | FloatField |
                                                   IntegerField | DecimalField)]
    assert typed
    for field in typed:
        assert field.name in DATES or field.name in NUMBERS, (form_class.__name__, field.name)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e308, 0, 10_000.01, -3,
                                   "abc", "1e400"])
def test_cell_dose_outside_its_range_or_not_finite_is_refused(value):
    assert problems({"cell_dose_million": value}, TODAY) == {
        "cell_dose_million": "Cell dose must be between 0.01 and 10,000 million cells."}


@pytest.mark.parametrize("value", [0.01, 25, 10_000, None])
def test_cell_dose_in_range(value):
    assert problems({"cell_dose_million": value}, TODAY) == {}


@pytest.mark.parametrize(("name", "value", "message"), [
    ("birth_date", date(1, 1, 1),
     "Date of birth must be between 1900-01-01 and today (2026-06-01)."),
    ("birth_date", date(2026, 6, 2),
     "Date of birth must be between 1900-01-01 and today (2026-06-01)."),
    ("consent_date", date(1999, 12, 31),
     "Consent date must be between 2000-01-01 and today (2026-06-01)."),
    ("appointment_date", date(2027, 6, 3),
     "Appointment date must be between 2000-01-01 and a year from today (2027-06-02)."),
    ("height_cm", 251, "Height must be between 50 and 250 cm."),
    ("injections", 11, "Number of injections must be between 1 and 10."),
])
def test_messages_name_the_field_and_the_range(name, value, message):
    assert problems({name: value}, TODAY) == {name: message}


def test_bounds_are_inclusive():
    assert problems({"birth_date": date(1900, 1, 1), "consent_date": TODAY,
                     "appointment_date": date(2027, 6, 2), "height_cm": 50,
                     "weight_kg": 350}, TODAY) == {}


def test_a_field_without_a_range_is_a_programming_error():
    with pytest.raises(KeyError, match="no plausible range"):
        problems({"shoe_size": 44}, TODAY)


def _refused(db, statement: str, **values) -> None:
    savepoint = db.begin_nested()
    with pytest.raises(IntegrityError):
        db.connection().execute(text(statement), values)
    savepoint.rollback()


@pytest.mark.parametrize(("statement", "value"), [
    ("UPDATE treatment SET cell_dose_million = :value WHERE id = :id", math.inf),
    ("UPDATE treatment SET cell_dose_million = :value WHERE id = :id", 1e308),
    ("UPDATE treatment SET treatment_date = :value WHERE id = :id", date(1, 1, 1)),
])
def test_the_database_refuses_an_implausible_treatment(db, treated, statement, value):
    """Written past the application (no form, no service): the CHECK constraint
    (PostgreSQL) or the trigger (SQLite) refuses it."""
    _refused(db, statement, value=value, id=treated.treatment.id)


@pytest.mark.parametrize(("column", "value"), [
    ("birth_date", date(1, 1, 1)), ("consent_date", date(1, 6, 1)),
    ("consent_date", date(1950, 1, 1)), ("withdrawn_on", date(1999, 1, 1))])
def test_the_database_refuses_an_implausible_patient(db, treated, column, value):
    _refused(db, f"UPDATE patient SET {column} = :value WHERE id = :id",  # noqa: S608
             value=value, id=treated.id)


def test_the_database_refuses_implausible_visit_event_and_contact_dates(db, treated):
    visit = treated.visits[0]
    _refused(db, "UPDATE visit SET visit_date = :value WHERE id = :id",
             value=date(1, 1, 1), id=visit.id)
    event = AdverseEvent(patient_id=treated.id, onset_date=date(2026, 1, 5), description="x",
                         category="fever", severity_grade=1, relatedness="possibly",
                         outcome="ongoing")
    attempt = ContactAttempt(patient_id=treated.id, visit_id=visit.id,
                             attempted_on=date(2026, 1, 5), method="phone", outcome="reached")
    db.add_all([event, attempt])
    db.flush()
    _refused(db, "UPDATE adverse_event SET onset_date = :value WHERE id = :id",
             value=date(1, 1, 1), id=event.id)
    _refused(db, "UPDATE contact_attempt SET attempted_on = :value WHERE id = :id",
             value=date(1, 1, 1), id=attempt.id)
    # Plausible values still pass.
    db.connection().execute(text("UPDATE treatment SET cell_dose_million = 30 WHERE id = :id"),
                            {"id": treated.treatment.id})


def test_upgrade_stops_at_rows_already_out_of_range_and_names_them(fresh_database_url):
    """Data stored before the ranges existed (the field test's ``inf`` dose) stops the
    migration with the rows to correct, instead of a promise the database does not keep."""
    from sqlalchemy.orm import Session

    from registry import migrate
    from registry.db import make_engine
    from registry.models import IndexKnee

    migrate.upgrade(fresh_database_url, "0005")
    engine = make_engine(fresh_database_url)
    try:
        with Session(engine) as session:
            # Site and protocol rows as of 0005 (the ORM models have columns of later
            # revisions).
            site_id = session.execute(text(
                "INSERT INTO site (code, name, active, version) VALUES ('OLD', 'Old data', "
                "true, 1) RETURNING id")).scalar_one()
            protocol_id = session.execute(text(
                "INSERT INTO protocol (name, is_default, version) VALUES ('Old', true, 1) "
                "RETURNING id")).scalar_one()
            patient_id = session.execute(text(
                "INSERT INTO patient (study_id, site_id, site_sequence, protocol_id, sex, "
                "birth_date, consent_date, status, created_at, version) VALUES ('OLD-0001', "
                ":site, 1, :protocol, 'male', '1950-01-01', '2026-01-01', 'active', "
                "CURRENT_TIMESTAMP, 1) RETURNING id"),
                {"site": site_id, "protocol": protocol_id}).scalar_one()
            session.add(IndexKnee(patient_id=patient_id, laterality="left", kl_grade=2,
                                  eligibility={}))
            # The treatment as of 0005 too (the model has the columns of 0011).
            treatment_id = session.execute(text(
                "INSERT INTO treatment (patient_id, treatment_date, cell_source, product_name, "
                "lot_number, operator, cell_dose_million, injections, co_interventions, "
                "recorded_at, version) VALUES (:patient, '2026-01-02', 'bmac', 'x', 'L1', "
                "'Dr', :dose, 1, '[]', CURRENT_TIMESTAMP, 1) RETURNING id"),
                {"patient": patient_id, "dose": math.inf}).scalar_one()
            session.commit()
        with pytest.raises(RuntimeError, match=rf"treatment dose_range .*ids \[{treatment_id}\]"):
            migrate.upgrade(fresh_database_url)
        assert migrate.current_revision(engine) == "0005"
        with engine.begin() as connection:
            connection.execute(text("UPDATE treatment SET cell_dose_million = 20"))
        migrate.upgrade(fresh_database_url)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
