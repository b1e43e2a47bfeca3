"""The clinician finds a patient whatever the accents, and meets the duplicate warning
when enrolling the same person again (Chromium against the real server)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.e2e.journeys import (
    Journey,
    PatientDetails,
    enrol_patient,
    fill_enrolment,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

JOSE = PatientDetails(family_name="Núñez Peña", given_name="José",
                      medical_record_number="HC-0042", email="jose@example.org",
                      birth_date=date(1958, 11, 30), kl_grade=2)


def search(trip: Journey, query: str) -> list[str]:
    """Type ``query`` into the patient list's search box; the study IDs listed."""
    page = trip.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.wait_for_url(re.compile(r"/patients/"))
    page.get_by_label("Find a patient").fill(query)
    page.get_by_label("Find a patient").press("Enter")
    page.wait_for_url(re.compile(r"/patients/\?"))
    return [text.strip() for text in page.locator(
        "table tbody tr td:first-child a").all_inner_texts()]


def test_search_with_accents_and_the_duplicate_warning(journey: Journey) -> None:
    page = journey.page
    sign_in(journey, "clinician", check=False)
    patient_id, study_id = enrol_patient(journey, JOSE, check=False)

    for query in ("jose nunez", "NÚÑEZ", "Núñez Peña, José", "pena jose", study_id.lower(),
                  "hc 0042"):
        assert search(journey, query) == [study_id], query
    journey.check_page()
    journey.shot("search-accents")
    assert search(journey, "nunez maria") == []

    # The same person again, typed without accents and with another record number.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Enrol patient").click()
    page.wait_for_url(re.compile(r"/patients/new$"))
    fill_enrolment(page, PatientDetails(family_name="NUNEZ PENA", given_name="jose",
                                        medical_record_number="HC-9001",
                                        email="jose@example.org", birth_date=JOSE.birth_date))
    page.get_by_role("button", name="Enrol patient").click()
    warning = page.locator("#likely-duplicates")
    warning.wait_for()
    assert page.url.endswith("/patients/new")
    assert "Possibly already enrolled" in warning.inner_text()
    row = warning.locator("tbody tr")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith(study_id)
    assert cells[2:5] == [JOSE.birth_date.isoformat(), "Núñez Peña, José", "HC-0042"]
    assert warning.get_by_role("link", name=re.compile(study_id)).get_attribute("href") \
        == f"/patients/{patient_id}"
    box = page.get_by_label("This is a different person: enrol as a new patient")
    assert not box.is_checked()
    assert box.get_attribute("aria-describedby") == "not_duplicate-error"
    journey.check_page()
    journey.assert_accessible()
    journey.shot("duplicate-warning")

    # Pressing "Enrol" again without the tick does not enrol.
    page.get_by_role("button", name="Enrol patient").click()
    page.locator("#likely-duplicates").wait_for()
    assert page.url.endswith("/patients/new")

    # Ticked, by keyboard: enrolled as a new patient.
    page.get_by_label("This is a different person: enrol as a new patient").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Enrol patient").click()
    page.wait_for_url(re.compile(r"/patients/\d+/treatment$"))
    second = re.search(r"Patient (\S+) enrolled", journey.flash())
    assert second is not None
    assert second.group(1) != study_id
    journey.shot("duplicate-confirmed")
    assert sorted(search(journey, "jose nunez")) == sorted([study_id, second.group(1)])
    assert not journey.console_errors, journey.console_errors
