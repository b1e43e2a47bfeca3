"""The record status grid in Chromium: a coordinator's morning, by mouse and by keyboard.

The module's registry (one site, a user per role, gunicorn) gets a small cohort written
through the app's models in-process, with visits in every open status, one done and one
booked.  The coordinator opens the grid from the navigation, filters it by status,
follows a cell to the visit; then reaches a cell link with the Tab key alone and opens
it with Enter.  The accessibility basics run on every page; the CSP would report an
inline style as a console error.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry import create_app
from registry.db import get_session, writing
from registry.models import IndexKnee, Patient, PatientIdentity, Site, Treatment, Visit
from registry.scheduling import default_protocol, schedule_visits
from tests.e2e.journeys import Journey, sign_in
from tests.e2e.server import AUDIT_KEY, PSEUDONYM_KEY, SECRET_KEY, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDE = {"width": 1920, "height": 1080}
# Days since treatment -> what the 3-month visit is on the server's today
# (window days 75–120, grace until day 105).
COHORT = {"overdue": 115, "overdue-2": 110, "due": 95, "upcoming": 65, "missed": 140,
          "recorded": 100, "booked": 112, "early": 20}


def _seed(server: LiveServer) -> dict[str, dict[str, Any]]:
    """Patients of the E2E site, treated ``COHORT`` days before the server's today."""
    today = server.today
    app = create_app({"DATABASE_URL": server.database_url,
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="e2e-grid-"),
                      "SECRET_KEY": SECRET_KEY, "AUDIT_KEY": AUDIT_KEY,
                      "PSEUDONYM_KEY": PSEUDONYM_KEY, "TODAY": today.isoformat()})
    made: dict[str, dict[str, Any]] = {}
    try:
        with app.app_context(), writing():
            session = get_session()
            site = session.scalar(select(Site).where(Site.code == "E2E"))
            assert site is not None
            protocol = default_protocol(session, site.id)
            existing = session.scalar(select(Patient.site_sequence).where(
                Patient.site_id == site.id).order_by(Patient.site_sequence.desc()).limit(1))
            for number, (label, days) in enumerate(COHORT.items(), start=(existing or 0) + 1):
                treated = today - timedelta(days=days)
                patient = Patient(
                    study_id=f"E2E-G{number:03d}", site_id=site.id, site_sequence=number,
                    protocol_id=protocol.id, sex="female", birth_date=date(1958, 3, 9),
                    consent_date=treated - timedelta(days=20))
                patient.identity = PatientIdentity(
                    site_id=site.id, family_name=f"Gridperson-{label}", given_name="Astrid",
                    medical_record_number=f"GRID-{number:04d}", preferred_contact="phone")
                patient.index_knee = IndexKnee(laterality="left", kl_grade=2, eligibility={})
                patient.treatment = Treatment(
                    treatment_date=treated, cell_source="bmac", product_name="BMAC kit",
                    lot_number=f"G{number}", injections=1, co_interventions=[],
                    operator="Dr Grid")
                session.add(patient)
                session.flush()
                visits = {visit.timepoint.code: visit
                          for visit in schedule_visits(session, patient, treated)
                          if visit.timepoint is not None}
                with capture.reason(session, "end-to-end test cohort"):
                    if label == "recorded":
                        _done(visits["m3"], treated + timedelta(days=92))
                    if label == "booked":
                        visits["m3"].appointment_date = today + timedelta(days=6)
                    session.flush()
                made[label] = {"id": patient.id, "study_id": patient.study_id,
                               "m3": visits["m3"].id}
            session.commit()
    finally:
        app.extensions["registry.engine"].dispose()
    return made


def _done(visit: Visit, on: date) -> None:
    visit.status, visit.visit_date = "done", on


@pytest.fixture(scope="module")
def cohort(live_server: LiveServer) -> dict[str, dict[str, Any]]:
    return _seed(live_server)


def _rows(page: Any) -> list[str]:
    return [text.strip() for text in page.locator(
        "table.status-grid tbody th[scope=row] > a").all_inner_texts()]


def _open_grid(journey: Journey) -> Any:
    page = journey.page
    page.set_viewport_size(WIDE)
    sign_in(journey, "coordinator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Status grid").click()
    page.wait_for_url(re.compile(r"/followup/grid$"))
    journey.check_page()
    return page


def test_coordinator_filters_the_grid_and_follows_a_cell(
        journey: Journey, cohort: dict[str, dict[str, Any]]) -> None:
    page = _open_grid(journey)
    journey.shot("grid")
    assert page.locator("table.status-grid caption").inner_text().startswith("Follow-up status")
    assert set(_rows(page)) >= {patient["study_id"] for patient in cohort.values()}
    # Sticky header row and patient column (grid.css): the table scrolls under them.
    positions = page.evaluate("""() => [
        getComputedStyle(document.querySelector('.status-grid thead th')).position,
        getComputedStyle(document.querySelector('.status-grid tbody th')).position]""")
    assert positions == ["sticky", "sticky"]

    overdue = cohort["overdue"]
    cell = page.locator(f"td[data-visit='{overdue['m3']}']")
    assert cell.get_attribute("data-status") == "overdue"
    assert cell.locator(".cell-label").inner_text() == "Overdue"  # text, not colour alone
    booked = " ".join(page.locator(f"td[data-visit='{cohort['booked']['m3']}']")
                      .inner_text().split())
    assert re.fullmatch(r"E2E-G\d+, 3 months: Overdue ?, booked \d+ \w+ \d{4}", booked), booked
    done = page.locator(f"td[data-visit='{cohort['recorded']['m3']}'] .cell-label")
    assert done.inner_text() == "Done"

    page.get_by_label("Has a visit that is").select_option("overdue")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"status=overdue"))
    journey.check_page()
    journey.shot("grid-overdue")
    shown = set(_rows(page))
    assert shown >= {cohort[label]["study_id"] for label in ("overdue", "overdue-2", "booked")}
    assert cohort["due"]["study_id"] not in shown
    assert cohort["early"]["study_id"] not in shown

    # The link's name is what a screen reader announces for the cell.
    page.get_by_role("link", name=f"{overdue['study_id']}, 3 months: Overdue").click()
    page.wait_for_url(re.compile(rf"/followup/visits/{overdue['m3']}$"))
    journey.check_page()
    journey.shot("visit-from-grid")
    assert "Overdue" in page.locator("dl.facts").inner_text()
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def _focused(page: Any) -> dict[str, str]:
    return dict(page.evaluate("""() => { const e = document.activeElement;
        const cell = e.closest('td.cell');
        return {tag: e.tagName.toLowerCase(), href: e.getAttribute('href') || '',
                visit: cell ? cell.dataset.visit : ''}; }"""))


def test_keyboard_alone_reaches_and_opens_a_cell(
        journey: Journey, cohort: dict[str, dict[str, Any]]) -> None:
    page = _open_grid(journey)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    reached: dict[str, str] = {}
    for _ in range(80):  # skip link, navigation, filters, pager, row header, then cells
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused["visit"]:
            reached = focused
            break
    assert reached, "Tab never reached a cell link"
    assert reached["tag"] == "a"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focused cell shows where the keyboard is
    journey.shot("cell-focused")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/(followup/visits|patients/\d+/visits)/\d+$"))
    assert page.url.endswith(reached["href"])
    journey.check_page()
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def test_clinician_cells_open_the_visit_entry(
        journey: Journey, cohort: dict[str, dict[str, Any]]) -> None:
    page = journey.page
    sign_in(journey, "clinician")
    page.goto("/followup/grid")
    journey.check_page()
    overdue = cohort["overdue"]
    page.get_by_role("link", name=f"{overdue['study_id']}, 3 months: Overdue").click()
    page.wait_for_url(re.compile(rf"/patients/{overdue['id']}/visits/{overdue['m3']}$"))
    journey.check_page()
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()
