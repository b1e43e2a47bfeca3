"""Likely duplicate patients at enrolment: the same normalised name and birth date at the
user's sites, or the same record number at another of them, needs the user's confirmation
("This is a different person"); nothing is created without it, and the confirmation is the
audit reason of the new records.  Sites the user cannot see are never revealed."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select

from registry.auth.services import create_user
from registry.clinical.services import duplicates as duplicate_rules
from registry.clinical.services import enrolment
from registry.clinical.services.duplicates import LikelyDuplicates
from registry.db import get_session, writing
from registry.models import AuditEvent, Patient, PatientIdentity, Site
from registry.scheduling import default_protocol
from registry.services import ValidationFailed
from tests.clinical.browser import fill, form_for, open_form, submit
from tests.clinical.helpers import enrol_data
from tests.fixtures.accounts import PASSWORD
from tests.integrity.helpers import committed_app, engine_for

URL = "/patients/new"
BIRTH = date(1961, 4, 2)


def data(user_id: int | None, site_id: int, **overrides) -> enrolment.EnrolmentData:
    values = dict(
        site_id=site_id, family_name="Núñez Peña", given_name="José",
        medical_record_number="HC-0042", phone=None, email=None, preferred_contact="phone",
        email_reminders=False, sex="male", birth_date=BIRTH, height_cm=None, weight_kg=None,
        laterality="left", kl_grade=2, eligibility={}, consent_date=date(2026, 1, 1),
        outside_indication_justification=None, created_by_id=user_id)
    return enrolment.EnrolmentData(**{**values, **overrides})


def count(db) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(Patient)) or 0)


@pytest.fixture
def jose(app, db, site_a):
    """José Núñez Peña, enrolled at site A (AAA-0001)."""
    with app.test_request_context():
        return enrolment.enrol_patient(db, data(None, site_a.id))


@pytest.mark.parametrize(("overrides", "why"), [
    ({"family_name": "Nunez Pena", "given_name": "Jose"}, "name"),
    ({"family_name": "NÚÑEZ PEÑA", "given_name": "josé"}, "name"),
    ({"family_name": "Núñez-Peña", "given_name": " José "}, "name"),
    ({"family_name": "José", "given_name": "Peña Núñez"}, "name"),  # order swapped
    ({"family_name": "Nunez Pena", "given_name": "Jose", "site": "b"}, "name"),
    ({"family_name": "Other", "given_name": "Person", "site": "b"}, "record"),
    ({"family_name": "Other", "given_name": "Person", "medical_record_number": "hc-0042",
      "site": "b"}, "record"),
    ({"birth_date": BIRTH, "site": "b"}, "both"),
])
def test_likely_duplicates_need_a_confirmation(app, db, site_a, site_b, jose, overrides, why):
    """Same name (accents, case, order, punctuation aside) and birth date at any of the
    user's sites, or the same record number at another of them: refused, listed."""
    overrides = dict(overrides)
    site = site_b if overrides.pop("site", "a") == "b" else site_a
    overrides.setdefault("medical_record_number", "HC-1" if why == "name" else "HC-0042")
    if why == "record":
        overrides["birth_date"] = date(1970, 1, 1)
    attempt = data(None, site.id, duplicate_site_ids=frozenset({site_a.id, site_b.id}),
                   **overrides)
    with app.test_request_context(), pytest.raises(LikelyDuplicates) as refused:
        enrolment.enrol_patient(db, attempt)
    [duplicate] = refused.value.duplicates
    assert (duplicate.study_id, duplicate.site_code, duplicate.birth_date) == (
        "AAA-0001", "AAA", BIRTH)
    assert duplicate.display_name == "Núñez Peña, José"
    assert duplicate.same_name_and_birth_date is (why in {"name", "both"})
    assert duplicate.same_record_number is (why in {"record", "both"})
    assert "not_duplicate" in refused.value.errors
    assert count(db) == 1
    with app.test_request_context():
        created = enrolment.enrol_patient(db, replace(
            attempt, confirmed_not_duplicates=frozenset({jose.id})))
    assert created.study_id.endswith("-0001" if site is site_b else "-0002")
    assert count(db) == 2


@pytest.mark.parametrize("overrides", [
    {"birth_date": date(1961, 4, 3)},  # same name, another birth date
    {"given_name": "Josefa"},  # another name, same birth date
    {"family_name": "Núñez", "given_name": "José"},  # one family name of two: not the key
])
def test_not_a_likely_duplicate(app, db, site_a, jose, overrides):
    with app.test_request_context():
        created = enrolment.enrol_patient(db, data(None, site_a.id,
                                                   medical_record_number="HC-2", **overrides))
    assert created.study_id == "AAA-0002"


def test_the_same_record_number_at_the_same_site_keeps_its_own_message(app, db, site_a, jose):
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        enrolment.enrol_patient(db, data(None, site_a.id, family_name="Other",
                                         birth_date=date(1970, 1, 1)))
    assert not isinstance(refused.value, LikelyDuplicates)
    assert refused.value.errors == {
        "medical_record_number": "A patient with this record number is already enrolled at "
                                 "this site."}


def test_a_site_the_user_cannot_see_is_not_revealed(app, db, site_a, site_b, make_site, jose):
    """José at site A; a user of sites B and C only enrols a namesake (same birth date and
    record number) at B: no warning, nothing about site A shown."""
    site_c = make_site("CCC")
    with app.test_request_context():
        created = enrolment.enrol_patient(db, data(
            None, site_b.id, duplicate_site_ids=frozenset({site_b.id, site_c.id})))
    assert created.study_id == "BBB-0001"


def test_a_confirmation_covers_only_the_records_it_was_given_for(app, db, site_a, jose):
    with app.test_request_context():
        twin = enrolment.enrol_patient(db, data(None, site_a.id, medical_record_number="HC-7",
                                                confirmed_not_duplicates=frozenset({jose.id})))
        with pytest.raises(LikelyDuplicates) as refused:
            enrolment.enrol_patient(db, data(None, site_a.id, medical_record_number="HC-8",
                                             confirmed_not_duplicates=frozenset({jose.id})))
    assert [d.study_id for d in refused.value.duplicates] == ["AAA-0001", twin.study_id]


# --- through the page -------------------------------------------------------------------


def enrol(browser, site_id: int, **overrides):
    return submit(fill(open_form(browser, URL, field="family_name"),
                       enrol_data(site_id, **overrides)))


def test_the_page_lists_likely_duplicates_and_enrols_after_the_confirmation(
        browser, db, as_user, site_a, site_b):
    as_user("coordinator", sites=[site_a, site_b])
    assert enrol(browser, site_a.id, family_name="Núñez Peña", given_name="José",
                 medical_record_number="HC-0042").status_int == 302
    first = db.scalar(select(Patient))
    refused = enrol(browser, site_b.id, family_name="NUNEZ PENA", given_name="jose",
                    medical_record_number="B-1")
    html = unescape(refused.text)
    assert refused.status_int == 422
    assert count(db) == 1
    assert "Possibly already enrolled" in html
    assert f'href="/patients/{first.id}"' in html
    for shown in ("AAA-0001", "Clinic A (AAA)", "1958-03-14", "Núñez Peña, José", "HC-0042",
                  "name and date of birth"):
        assert shown in html, shown
    assert 'id="not_duplicate-error"' in html
    # Submitted again as rendered, without the tick: still refused.
    form = form_for(refused, field="family_name")
    assert form["duplicates_shown"].value == str(first.id)
    again = submit(form)
    assert again.status_int == 422
    assert count(db) == 1
    # Ticked: enrolled, and the audit trail says why.
    form = form_for(again, field="family_name")
    form["not_duplicate"] = True
    done = submit(form)
    assert done.status_int == 302, unescape(done.text)[:3000]
    db.expire_all()
    created = db.scalar(select(Patient).where(Patient.study_id == "BBB-0001"))
    reasons = set(db.scalars(select(AuditEvent.reason).where(
        AuditEvent.action == "create", AuditEvent.entity_id == str(created.id),
        AuditEvent.entity_type.in_(["patient", "patient_identity", "index_knee"]))))
    assert reasons == {"Enrolled as a new patient although likely duplicates exist (AAA-0001):"
                       " the enrolling user confirmed this is a different person."}


def test_the_list_is_shown_with_other_errors_and_a_tick_for_it_is_kept(browser, db, as_user,
                                                                      site_a):
    as_user("clinician", sites=[site_a])
    assert enrol(browser, site_a.id).status_int == 302
    refused = enrol(browser, site_a.id, medical_record_number="MRN-2", height_cm="900")
    assert refused.status_int == 422
    assert "Possibly already enrolled" in refused.text
    form = form_for(refused, field="family_name")
    form["not_duplicate"] = True
    form["height_cm"] = "400"  # still wrong: the tick for the same list stays
    refused = submit(form)
    assert refused.status_int == 422
    form = form_for(refused, field="family_name")
    assert form["not_duplicate"].checked
    form["height_cm"] = "165"
    assert submit(form).status_int == 302
    assert count(db) == 2


def test_a_tick_given_for_another_list_asks_again(browser, db, as_user, site_a):
    as_user("clinician", sites=[site_a])
    assert enrol(browser, site_a.id).status_int == 302  # Kari Nordmann, 1958-03-14
    assert enrol(browser, site_a.id, given_name="Kari", family_name="Hansen",
                 medical_record_number="MRN-2").status_int == 302
    refused = enrol(browser, site_a.id, medical_record_number="MRN-3")
    form = form_for(refused, field="family_name")
    form["not_duplicate"] = True
    form["family_name"] = "Hansen"  # now a duplicate of the other Kari
    asked = submit(form)
    assert asked.status_int == 422
    assert "AAA-0002" in asked.text
    assert not form_for(asked, field="family_name")["not_duplicate"].checked
    assert count(db) == 2


@pytest.mark.parametrize("shown", ["x", "0,,abc", "²", "9" * 30, "-1", "1" * 401])
def test_a_tampered_list_of_shown_duplicates_is_refused_cleanly(browser, db, as_user,
                                                                site_a, shown):
    as_user("clinician", sites=[site_a])
    assert enrol(browser, site_a.id).status_int == 302
    form = fill(open_form(browser, URL, field="family_name"),
                enrol_data(site_a.id, medical_record_number="MRN-2"))
    fields = [(name, shown if name == "duplicates_shown" else value)
              for name, value in form.submit_fields()] + [("not_duplicate", "y")]
    response = browser.post(URL, params=fields, expect_errors=True)
    assert response.status_int == 422
    assert count(db) == 1


def test_the_enrolment_form_offers_the_grades_with_their_definitions(browser, as_user, site_a):
    as_user("clinician", sites=[site_a])
    page = browser.get(URL)
    grade = form_for(page, field="kl_grade")["kl_grade"]
    assert [value for value, _selected, _text in grade.options] == ["", "0", "1", "2", "3",
                                                                     "4"]
    html = unescape(page.text)
    assert "3 — moderate: moderate multiple osteophytes, definite narrowing of the joint " \
           "space, some sclerosis, possible deformity of the bone ends" in html
    assert "Kellgren &amp; Lawrence 1957" in page.text


# --- two enrolments of one person at the same moment ------------------------------------


def test_simultaneous_enrolments_of_one_person_do_not_both_pass(migrated_database_url):
    """The first has inserted the patient but not committed when the second checks: the
    second waits (PostgreSQL advisory lock on the person; SQLite BEGIN IMMEDIATE), then
    finds the first and asks for the confirmation.  One patient is created."""
    app = committed_app(migrated_database_url, TODAY="2026-06-01")
    with app.app_context():
        session = get_session()
        site = Site(code="DUP", name="Duplicate clinic")
        session.add(site)
        session.flush()
        user = create_user(session, email="dup@example.org", full_name="Dup", role="clinician",
                           password=PASSWORD, site_codes=["DUP"])
        default_protocol(session, site.id)  # made at a site's first enrolment: made here
        session.commit()
        site_id, user_id = site.id, user.id
    inserted = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with app.test_request_context(), writing():
            session = get_session()
            patient = enrolment.enrol_patient(session, data(user_id, site_id))
            inserted.set()
            threading.Event().wait(0.5)  # the second one checks meanwhile
            session.commit()
            outcome["first"] = patient.study_id

    def second() -> None:
        assert inserted.wait(timeout=30)
        with app.test_request_context(), writing():
            session = get_session()
            try:
                enrolment.enrol_patient(session, data(user_id, site_id,
                                                      medical_record_number="HC-0043"))
            except LikelyDuplicates as error:
                outcome["second"] = [d.study_id for d in error.duplicates]
                session.rollback()
            else:
                session.commit()
                outcome["second"] = "created"

    try:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(first), pool.submit(second)]:
                future.result(timeout=60)
    finally:
        app.extensions["registry.engine"].dispose()
    assert outcome == {"first": "DUP-0001", "second": ["DUP-0001"]}
    with engine_for(migrated_database_url) as engine, engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(PatientIdentity)) == 1


def test_the_lock_keys_do_not_depend_on_accents_or_order():
    one = duplicate_rules.Person(1, "Núñez Peña", "José", BIRTH, "HC-1")
    two = duplicate_rules.Person(2, "peña", "jose NUNEZ", BIRTH, " hc-1 ")
    assert (one.name_key, one.record_key) == (two.name_key, two.record_key)
