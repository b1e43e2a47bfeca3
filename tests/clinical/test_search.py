"""Finding patients: accent-, case- and order-insensitive, by name, study ID and record
number; the same answers on SQLite and PostgreSQL; own sites only; the stored search
column follows a rename and is filled for patients enrolled before revision 0009."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import literal, select

from registry import audit_capture as capture
from registry import migrate
from registry.authz import visible_site_ids
from registry.clinical.services import search
from registry.clinical.services.search import escape_like
from registry.db import make_engine
from registry.models import IndexKnee, Patient, PatientIdentity, Site
from registry.scheduling import default_protocol
from tests.clinical.browser import form_for
from tests.fixtures import accounts


def add_patient(db, site: Site, number: int, family: str, given: str, record: str,
                birth: date = date(1961, 4, 2)) -> Patient:
    """A patient with the study ID ``<site>-<number>`` and these identifying details."""
    patient = Patient(study_id=f"{site.code}-{number:04d}", site_id=site.id,
                      site_sequence=number, protocol_id=default_protocol(db, site.id).id,
                      sex="male", birth_date=birth, consent_date=date(2026, 1, 1))
    patient.identity = PatientIdentity(site_id=site.id, family_name=family, given_name=given,
                                       medical_record_number=record)
    patient.index_knee = IndexKnee(laterality="left", kl_grade=2, eligibility={})
    db.add(patient)
    db.flush()
    return patient


@pytest.fixture
def cohort(db, site_a, site_b):
    """Patients of site A (AAA) and one namesake at site B (BBB)."""
    add_patient(db, site_a, 5, "Núñez Peña", "José", "HC-0042")
    add_patient(db, site_a, 6, "Pérez", "Ana María", "HC-0107")
    add_patient(db, site_a, 7, "Nordmann", "Kari", "MRN 50_5%")
    add_patient(db, site_a, 12, "Øvergård", "Bjørn", "NO-9")
    add_patient(db, site_b, 5, "Nuñez", "José", "B-777")


@pytest.fixture
def user_a(make_user, site_a):
    return make_user("clinician", sites=[site_a])


def found(db, user, query: str, identity_sites: frozenset[int] | None = None) -> list[str]:
    """The study IDs of the user's patients that ``query`` finds (``search.matching``)."""
    statement = (select(Patient.study_id)
                 .outerjoin(PatientIdentity, PatientIdentity.patient_id == Patient.id)
                 .where(Patient.site_id.in_(visible_site_ids(user)))
                 .order_by(Patient.study_id))
    condition = search.matching(query, search.identity_site_ids(user)
                                if identity_sites is None else identity_sites)
    return list(db.scalars(statement if condition is None else statement.where(condition)))


JOSE = ["AAA-0005"]


@pytest.mark.parametrize(("query", "expected"), [
    # accents, case, word order, punctuation, partial words
    ("nunez", JOSE),
    ("Núñez Peña, José", JOSE),
    ("jose nunez", JOSE),
    ("NUÑEZ", JOSE),
    ("  peña   JOSÉ ", JOSE),
    ("nún", JOSE),
    ("jos pen", JOSE),
    ("Peña, José Núñez", JOSE),
    ("perez ana maria", ["AAA-0006"]),
    ("ANA pérez", ["AAA-0006"]),
    ("maría", ["AAA-0006"]),
    ("overgard bjorn", ["AAA-0012"]),  # ø is not decomposed by NFKD: textsearch maps it
    ("Bjørn Øvergård", ["AAA-0012"]),
    ("jose nunez kari", []),  # every word must match
    ("nunezz", []),
    # study ID, with or without its hyphen, in any case
    ("AAA-0005", JOSE),
    ("aaa-0005", JOSE),
    ("AAA 0005", JOSE),
    ("aaa0005", JOSE),
    ("0012", ["AAA-0012"]),
    ("aaa", ["AAA-0005", "AAA-0006", "AAA-0007", "AAA-0012"]),
    # record number, whole or in part
    ("HC-0042", JOSE),
    ("hc 0042", JOSE),
    ("0107", ["AAA-0006"]),
    ("no-9", ["AAA-0012"]),
    # LIKE's wildcards and escape are literal characters, never patterns
    ("%", []),
    ("_", []),
    ("\\", []),
    ("%%", []),
    ("%_\\", []),
    # empty: every patient of the user's sites
    ("", ["AAA-0005", "AAA-0006", "AAA-0007", "AAA-0012"]),
    ("   ", ["AAA-0005", "AAA-0006", "AAA-0007", "AAA-0012"]),
])
def test_search_finds_by_name_study_id_and_record_number(db, cohort, user_a, query, expected):
    assert found(db, user_a, query) == expected


def test_other_sites_patients_are_not_found(db, cohort, user_a, make_user, site_a, site_b):
    """The namesake at site B (same name, study number 5) stays hidden from site A's staff,
    by name, study ID and record number; staff of both sites find both."""
    for query in ("nunez jose", "BBB-0005", "bbb", "B-777", "777"):
        assert "BBB-0005" not in found(db, user_a, query), query
    both = make_user("coordinator", sites=[site_a, site_b])
    assert found(db, both, "José Núñez") == ["AAA-0005", "BBB-0005"]
    assert found(db, both, "0005") == ["AAA-0005", "BBB-0005"]


def test_researchers_find_no_one(db, cohort, make_user):
    assert found(db, make_user("researcher"), "nunez") == []


def test_without_identity_access_only_the_study_id_matches(db, cohort, user_a):
    """A role that may see a site's patients but not their identities finds them by study
    ID only (no role is like that today: the rule is kept for one that will be)."""
    assert search.identity_site_ids(user_a) == user_a.active_site_ids
    none: frozenset[int] = frozenset()
    assert found(db, user_a, "nunez", none) == []
    assert found(db, user_a, "HC-0042", none) == []
    assert found(db, user_a, "aaa-0005", none) == JOSE


def test_a_renamed_patient_is_found_by_the_new_name_only(db, cohort, user_a):
    identity = db.scalar(select(PatientIdentity).where(PatientIdentity.family_name == "Pérez"))
    with capture.reason(db, "Name corrected"):
        identity.family_name = "Gómez Ruiz"
    assert found(db, user_a, "perez") == []
    assert found(db, user_a, "gomez ana") == ["AAA-0006"]
    with capture.reason(db, "Record number corrected"):
        identity.medical_record_number = "HC-9999"
    assert found(db, user_a, "0107") == []
    assert found(db, user_a, "hc-9999") == ["AAA-0006"]


def test_many_words_stay_a_short_query(db, cohort, user_a):
    """A pasted paragraph is cut to its first MAX_WORDS distinct words."""
    matching = ["jose", "nunez", "pena", "pena", "aaa", "0005", "hc", "0042", "aaa0005"]
    query = " ".join([*matching, *(f"unknown{n}" for n in range(50))])
    assert len(set(matching)) == search.MAX_WORDS
    assert found(db, user_a, query) == JOSE
    assert found(db, user_a, " ".join(["unknown", *matching])) == []


@pytest.mark.parametrize(("text", "pattern", "matches"), [
    ("a%b", "%", True), ("ab", "%", False),
    ("a_b", "_", True), ("ab", "_", False),
    ("a\\b", "\\", True), ("ab", "\\", False),
    ("50%_", "0%_", True), ("50x_", "0%_", False),
])
def test_escaped_patterns_are_literal_on_both_databases(db, text, pattern, matches):
    """``escape_like`` (used for every query word) makes ``%``, ``_`` and ``\\`` literal
    with the same ESCAPE clause on SQLite and PostgreSQL."""
    statement = select(literal(text).like(f"%{escape_like(pattern)}%", escape="\\"))
    assert bool(db.scalar(statement)) is matches


def test_patient_list_search_box_finds_accented_names(browser, db, cohort, as_user, site_a):
    as_user("clinician", sites=[site_a])
    page = browser.get("/patients/")
    form = form_for(page, field="q")
    form["q"] = "jose nunez"
    result = form.submit()
    assert result.status_int == 200
    assert ">AAA-0005</a>" in result.text
    assert "Núñez Peña" in result.text
    assert ">AAA-0006</a>" not in result.text


def test_patients_enrolled_before_revision_0009_are_found(fresh_database_url, app_factory,
                                                         tmp_path):
    """A patient stored at revision 0008 (no search columns yet) is found after the
    upgrade: migration 0009 fills ``search_text`` and ``name_key``."""
    migrate.upgrade(fresh_database_url, "0008")
    engine = make_engine(fresh_database_url)
    try:
        tables = sa.MetaData()
        tables.reflect(engine, only=["site", "protocol", "patient", "patient_identity"])
        site, protocol, patient, identity = (tables.tables[name] for name in
                                             ("site", "protocol", "patient",
                                              "patient_identity"))
        assert "search_text" not in identity.c
        with engine.begin() as connection:
            site_id = connection.execute(sa.insert(site).values(
                code="OLD", name="Old clinic").returning(site.c.id)).scalar_one()
            protocol_id = connection.execute(sa.insert(protocol).values(
                name="Old protocol").returning(protocol.c.id)).scalar_one()
            patient_id = connection.execute(sa.insert(patient).values(
                study_id="OLD-0001", site_id=site_id, site_sequence=1,
                protocol_id=protocol_id, sex="female", birth_date=date(1950, 2, 3),
                consent_date=date(2025, 5, 1)).returning(patient.c.id)).scalar_one()
            connection.execute(sa.insert(identity).values(
                patient_id=patient_id, site_id=site_id, family_name="Ibáñez Müller",
                given_name="Inés", medical_record_number="OLD/55"))
    finally:
        engine.dispose()
    migrate.upgrade(fresh_database_url)
    app = app_factory(fresh_database_url, tmp_path / "instance")
    with app.app_context():
        session = app.extensions["registry.sessionmaker"]()
        try:
            stored = session.get(PatientIdentity, patient_id)
            assert stored.search_text == "ibanez muller ines old 55"
            assert stored.name_key == "ibanez ines muller"
            user = accounts.make_user.__wrapped__(session)(
                "clinician", sites=[session.get(Site, site_id)])
            for query in ("ines ibanez", "MÜLLER", "old/55", "old-0001"):
                assert found(session, user, query) == ["OLD-0001"], query
        finally:
            session.rollback()
            session.close()
