"""Browser journey of a lot recall: the admin registers a product and a lot, the clinician
treats a patient with it, the admin recalls the lot, the clinician sees the patient flagged
on the patient page and the worklist's patient, records the review, and the flag is gone.

In Chromium against gunicorn, on the module's registry (one site, a user per role plus an
admin); the accessibility basics run on every page; every form is the page's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.journeys import (
    JOURNEY_PASSWORD,
    T0,
    TREATMENT_DATE,
    USERS,
    Journey,
    JourneyState,
    JourneyUser,
    PatientDetails,
    enrol_patient,
    sign_in,
    sign_out,
    start_registry,
)
from tests.e2e.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN = JourneyUser("admin@e2e.koa-registry.test", "E2E Admin")


@pytest.fixture(scope="module")
def live_server(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One site, a clinician and an admin, served by gunicorn; no lot yet."""
    server = start_registry(tmp_path_factory.mktemp("lots"),
                            {"clinician": USERS["clinician"], "admin": ADMIN}, lots=False)
    yield server
    server.stop()


def sign_in_admin(trip: Journey) -> None:
    page = trip.page
    page.goto("/login")
    page.get_by_label("E-mail").fill(ADMIN.email)
    page.get_by_label("Password").fill(JOURNEY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/home$"))


def test_a_recalled_lot_flags_its_patient_until_the_review(journey: Journey) -> None:
    page = journey.page
    # The admin registers a product and a released lot.
    sign_in_admin(journey)
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Products and lots").click()
    journey.check_page()
    page.get_by_role("link", name="Register a product").click()
    page.get_by_label("Product name").fill("AlloCell-K")
    page.get_by_label("Autologous or allogeneic").select_option("allogeneic")
    page.get_by_label("Tissue source").select_option("umbilical_cord")
    page.get_by_label("Preparation").select_option("culture_expanded_msc")
    journey.check_page()
    page.get_by_role("button", name="Save product").click()
    page.wait_for_url(re.compile(r"/lots/$"))
    page.get_by_role("link", name="Register a lot").click()
    journey.check_page()  # before typing: Tab from a date input stays inside its parts
    page.get_by_label("Product", exact=True).select_option(label="AlloCell-K")
    page.get_by_label("Lot or batch number").fill("AC-E2E-01")
    page.get_by_label("Expiry date").fill(T0.replace(year=T0.year + 1).isoformat())
    page.get_by_label("Release status").select_option("released")
    journey.shot("lot-form")
    page.get_by_role("button", name="Register lot").click()
    page.wait_for_url(re.compile(r"/lots/\d+$"))
    lot_path = journey.path()
    assert "Lot AC-E2E-01 registered." in journey.flash()
    sign_out(journey)

    # The clinician enrols a patient and treats them with the lot.
    state = JourneyState(details=PatientDetails(
        family_name="Lotperson", medical_record_number=f"E2E-LOT-{journey.server.port}"))
    sign_in(journey, "clinician", check=False)
    state.patient_id, state.study_id = enrol_patient(journey, state.details, check=False)
    journey.check_page()
    page.get_by_label("Treatment date (day 0)").fill(TREATMENT_DATE.isoformat())
    page.get_by_label("Treatment", exact=True).select_option("cell_therapy")
    page.get_by_label("Product lot").select_option(
        label=page.locator("#lot_id option", has_text="AC-E2E-01").first.inner_text())
    page.get_by_label("Operator").fill("Dr Journey")
    page.get_by_role("button", name="Save treatment").click()
    page.wait_for_url(re.compile(rf"/patients/{state.patient_id}$"))
    assert "AC-E2E-01" in page.inner_text("main")
    assert page.get_by_text("Lot recalled: review").count() == 0
    sign_out(journey)

    # The admin recalls the lot.
    sign_in_admin(journey)
    page.goto(lot_path)
    assert state.study_id in page.inner_text("main")
    page.get_by_label("New release status").select_option("recalled")
    page.get_by_label(re.compile("^Reason")).fill("Positive sterility test of the retained sample")
    page.get_by_role("button", name="Change status").click()
    page.wait_for_url(re.compile(r"/lots/\d+$"))
    assert "is now recalled" in journey.flash()
    journey.shot("lot-recalled")
    sign_out(journey)

    # The clinician sees the flag, records the review, and the flag is gone.
    sign_in(journey, "clinician", check=False)
    page.goto(f"/patients/{state.patient_id}")
    flag = page.get_by_role("link", name=re.compile("Record the recall review"))
    assert flag.count() == 1
    journey.check_page()
    journey.shot("patient-flagged")
    flag.click()
    page.wait_for_url(re.compile(rf"/lots/reviews/{state.patient_id}$"))
    journey.check_page()
    page.get_by_label("What the review found and decided").fill(
        "Called the patient: no fever, knee not swollen; examined, no effusion. No action.")
    page.get_by_role("button", name="Record the review").click()
    page.wait_for_url(re.compile(rf"/patients/{state.patient_id}$"))
    assert "Recall review recorded" in journey.flash()
    assert page.get_by_role("link", name=re.compile("Record the recall review")).count() == 0
    journey.shot("patient-reviewed")
    journey.assert_accessible()
    assert not journey.console_errors, journey.console_errors
