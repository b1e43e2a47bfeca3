"""Browser journey: a clinician corrects a treatment with a reason, then opens the patient's
History from the patient page and reads the change: who, when, field, old → new, reason."""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import (
    Journey,
    JourneyState,
    PatientDetails,
    enrol_patient,
    record_treatment,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_clinician_reads_a_patients_history(journey: Journey) -> None:
    page = journey.page
    state = JourneyState(details=PatientDetails(
        family_name="Historyperson", medical_record_number=f"E2E-HIST-{journey.server.port}"))
    sign_in(journey, "clinician", check=False)
    state.patient_id, state.study_id = enrol_patient(journey, state.details, check=False)
    record_treatment(journey, check=False)

    page.get_by_role("link", name="Correct the treatment").click()
    page.wait_for_url(re.compile(r"/treatment$"))
    page.get_by_label("Product lot").select_option(
        label=page.locator("#lot_id option", has_text="L2512-E2E-B").first.inner_text())
    page.get_by_label(re.compile(r"^Reason for the change")).fill("lot label misread")
    page.get_by_role("button", name="Save treatment").click()
    page.wait_for_url(re.compile(rf"/patients/{state.patient_id}$"))

    page.get_by_role("link", name="History of changes").click()
    page.wait_for_url(re.compile(rf"/audit/patients/{state.patient_id}/history$"))
    journey.check_page()
    assert page.locator("h1").inner_text() == f"History of {state.study_id}"
    # The lot changed: its catalogue link and the lot number it gives the treatment.
    changed = page.locator("table.history tbody tr", has_text="lot label misread")
    assert changed.count() == 2
    row = changed.filter(has_text="Lot number")
    assert row.count() == 1
    cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
    when, who, what, record, field, change, reason = cells
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T", when), when  # Europe/Oslo
    assert who.startswith("E2E Clinician")
    assert (what, record, field) == ("Changed", "Treatment", "Lot number")
    # Seen as "old → new"; heard as "before: old, after: new" (the arrow is hidden).
    assert re.fullmatch(r"before:\s*L2512-E2E\s*→\s*after:\s*L2512-E2E-B", change), change
    assert row.locator(".old").inner_text().split()[-1] == "L2512-E2E"
    assert row.locator(".new").inner_text().split()[-1] == "L2512-E2E-B"
    assert row.locator("[aria-hidden=true]").inner_text() == "→"
    assert reason == "lot label misread"
    # The record's name links to where it is shown; the enrolment is there too.
    assert row.get_by_role("link", name="Treatment").get_attribute("href") \
        == f"/patients/{state.patient_id}"
    assert page.locator("table.history tbody tr", has_text="Created").count() >= 4
    journey.shot("patient-history")
    journey.assert_accessible()
    assert not journey.console_errors, journey.console_errors
