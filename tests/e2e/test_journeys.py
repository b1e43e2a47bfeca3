"""End-to-end journeys in Debian's Chromium against a real gunicorn server.

One registry (SQLite, one site, a user per role) serves the module.  The clinician's
journey creates the patient that the coordinator and researcher journeys then work on;
run on their own, those journeys create it first (``journey_patient``).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from registry.research.pseudonyms import Pseudonymiser
from tests.e2e.journeys import (
    APPOINTMENT_DATE,
    BASELINE_DATE,
    CONSENT_DATE,
    M3_DATE,
    PROJECT,
    T0,
    T1,
    TREATMENT_DATE,
    Journey,
    JourneyState,
    clinician_records_patient,
    sign_in,
)
from tests.e2e.server import PSEUDONYM_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def journey_patient(journey: Journey, journey_state: JourneyState) -> JourneyState:
    """The clinician's patient; recorded here first when that journey did not run."""
    if journey_state.patient_id is None or "m3" not in journey_state.visit_ids:
        if journey.server.today != T0:
            journey.server.restart(today=T0)
        journey_state.details = type(journey_state.details)(
            medical_record_number=f"E2E-MRN-{journey.server.port}")
        clinician_records_patient(journey, journey_state, check=False)
        journey.page.context.clear_cookies()
    return journey_state


def score_row(page: object, label: str) -> list[str]:
    """The cells (text) of a row of the patient page's score table."""
    row = page.locator("table.scores tbody tr", has=page.locator(  # type: ignore[attr-defined]
        "th .score-label", has_text=re.compile(rf"^{re.escape(label)}$")))
    return [cell.strip() for cell in row.locator("td").all_inner_texts()]


def test_clinician_enrols_treats_records_visits_and_reads_change(
        journey: Journey, journey_state: JourneyState) -> None:
    clinician_records_patient(journey, journey_state)
    page = journey.page
    page.wait_for_url(re.compile(rf"/patients/{journey_state.patient_id}$"))
    journey.check_page()
    journey.shot("patient-page")

    header = page.locator("h1").inner_text()
    assert journey_state.study_id in header
    assert journey_state.details.family_name in header  # the clinician sees the identity
    vas = score_row(page, "VAS pain")
    assert len(vas) == 2, vas  # baseline and 3 months
    assert vas[0].startswith("72"), vas
    assert vas[1].startswith("24"), vas
    assert "-48" in vas[1].replace("−", "-"), vas
    assert "better" in vas[1], vas
    koos_pain = score_row(page, "KOOS Pain")
    assert koos_pain[0].startswith("25"), koos_pain  # every item 3 -> 100 - 3*25
    assert koos_pain[1].startswith("75"), koos_pain
    assert "better" in koos_pain[1], koos_pain
    responder = score_row(page, "OMERACT-OARSI responder")
    assert "Responder" in responder[-1], responder
    assert "Non-responder" not in responder[-1], responder
    assert page.locator("figure.chart-panel svg polyline").count() >= 1  # drawn inline
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def test_coordinator_sees_overdue_visit_logs_contact_and_books(
        journey: Journey, journey_patient: JourneyState) -> None:
    page = journey.page
    journey.server.restart(today=T1)  # the clock moves on to day 250 after treatment
    sign_in(journey, "coordinator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    page.wait_for_url(re.compile(r"/followup/"))
    journey.check_page()
    journey.shot("worklist")
    row = page.locator("table.worklist tbody tr", has_text=journey_patient.study_id).filter(
        has_text="6–12 months")
    assert row.count() == 1, page.locator("table.worklist").inner_text()
    assert "Overdue" in row.inner_text()
    row.get_by_role("link", name="Contact / update").click()
    page.wait_for_url(re.compile(r"/followup/visits/\d+$"))
    journey.check_page()
    journey.shot("visit-overdue")
    assert "Overdue" in page.locator("dl.facts").inner_text()

    page.get_by_label("Method").select_option("phone")
    page.get_by_label("Outcome").select_option("no_answer")
    page.get_by_label("Note (optional; no clinical details)").fill("Voicemail full.")
    page.get_by_role("button", name="Record contact attempt").click()
    page.wait_for_url(re.compile(r"/followup/visits/\d+$"))
    assert "Contact attempt recorded" in journey.flash()
    journey.shot("contact-logged")

    page.get_by_label("Method").select_option("phone")
    page.get_by_label("Outcome").select_option("appointment_booked")
    page.get_by_label("Appointment date (when one was booked)").fill(
        APPOINTMENT_DATE.isoformat())
    page.get_by_role("button", name="Record contact attempt").click()
    page.wait_for_url(re.compile(r"/followup/visits/\d+$"))
    assert "Contact attempt recorded" in journey.flash()
    journey.check_page()
    journey.shot("appointment-booked")
    facts = page.locator("dl.facts").inner_text()
    assert APPOINTMENT_DATE.isoformat() in facts, facts
    attempts = page.locator("section[aria-labelledby=contacts-heading] tbody tr")
    assert attempts.count() == 2
    assert "Appointment booked" in attempts.all_inner_texts()[0]  # newest first

    page.get_by_role("link", name="← Worklist").click()
    row = page.locator("table.worklist tbody tr", has_text=journey_patient.study_id).filter(
        has_text="6–12 months")
    # Shown as booked, with the date abbreviated ("27 Aug 2026") in a <time>.
    booked = row.locator(f".badge.booked time[datetime='{APPOINTMENT_DATE.isoformat()}']")
    assert booked.count() == 1, row.inner_html()
    assert "booked" in row.inner_text()
    journey.shot("worklist-after")
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def _export_tables(path: Path) -> dict[str, pd.DataFrame]:
    """Every table of a CSV export (.zip) as strings, by file name."""
    tables = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                with archive.open(name) as handle:
                    tables[name] = pd.read_csv(handle, dtype=str, keep_default_na=False)
    return tables


def _all_text(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "\n".join(archive.read(name).decode("utf-8", errors="replace")
                         for name in archive.namelist())


def test_researcher_builds_cohort_and_exports_pseudonymised_scores(
        journey: Journey, journey_patient: JourneyState) -> None:
    page = journey.page
    sign_in(journey, "researcher")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cohorts").click()
    page.wait_for_url(re.compile(r"/research/"))
    journey.check_page()
    builder = page.locator("form#cohort-builder")
    builder.locator("fieldset#site").get_by_label(re.compile("E2E")).check()
    builder.locator("fieldset#kl_grade").get_by_label(re.compile("3")).first.check()
    builder.get_by_role("button", name="Count").click()
    page.wait_for_url(re.compile(r"count=1"))
    assert page.locator("#cohort-count strong").inner_text() == "< 5"  # 1: suppressed
    journey.shot("cohort-counted")
    page.get_by_label("Name", exact=True).fill("E2E clinic, KL grade 3")
    page.get_by_label("Description").fill("Built by the browser journey.")
    page.get_by_role("button", name="Save cohort").click()
    page.wait_for_url(re.compile(r"/research/cohorts/\d+$"))
    journey.check_page()
    journey.shot("cohort-saved")

    page.get_by_label("Format").select_option("csv")
    page.get_by_label("Shape").select_option("long")
    page.get_by_label(re.compile(r"^Project-stable")).check()
    page.get_by_label(re.compile(r"^Project name")).fill(PROJECT)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download export").click()
    download = download_info.value
    target = journey.artifacts / (download.suggested_filename or "export.zip")
    download.save_as(target)
    journey.shot("exported")

    page.get_by_role("link", name="Outcome summary and charts").click()
    page.wait_for_url(re.compile(r"/summary"))
    journey.check_page()
    journey.shot("cohort-summary")

    pid = Pseudonymiser(PSEUDONYM_KEY, PROJECT).pseudonym(journey_patient.patient_id or 0)
    tables = _export_tables(target)
    long_name = next(name for name in tables if "long" in name)
    outcomes = tables[long_name]
    mine = outcomes[outcomes["pid"] == pid]
    assert not mine.empty, f"pseudonym {pid} not in {long_name}: {outcomes['pid'].unique()}"
    vas = mine[mine["score"] == "vas_pain"].set_index("timepoint")["value"]
    assert float(vas["baseline"]) == 72, vas
    assert float(vas["m3"]) == 24, vas
    koos_pain = mine[mine["score"] == "koos_pain"].set_index("timepoint")["value"]
    assert float(koos_pain["baseline"]) == 25, koos_pain
    assert float(koos_pain["m3"]) == 75, koos_pain

    text = _all_text(target)
    identifying = {**journey_patient.details.identifying_values(),
                   "study ID": journey_patient.study_id or "",
                   "treatment date": TREATMENT_DATE.isoformat(),
                   "consent date": CONSENT_DATE.isoformat(),
                   "baseline visit date": BASELINE_DATE.isoformat(),
                   "3-month visit date": M3_DATE.isoformat()}
    leaked = {what: value for what, value in identifying.items() if value and value in text}
    assert not leaked, f"identifying values in the export: {leaked}"
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def test_researcher_is_refused_a_patients_identifying_page(
        journey: Journey, journey_patient: JourneyState) -> None:
    page = journey.page
    sign_in(journey, "researcher", check=False)
    response = page.goto(f"/patients/{journey_patient.patient_id}")
    assert response is not None
    assert response.status == 403
    assert page.locator("h1").inner_text() == "Not allowed"
    body = page.locator("main").inner_text()
    assert journey_patient.details.family_name not in body
    journey.check_page()
    journey.shot("refused-403")
    journey.assert_accessible()


SIGNED_OUT_PAGES = ["/", "/home", "/patients/", "/patients/new", "/patients/{patient}",
                    "/patients/{patient}/visits/{visit}", "/followup/", "/research/",
                    "/admin/users", "/admin/audit/", "/account/password"]


def test_signed_out_visitor_is_sent_to_the_login_page(
        journey: Journey, journey_patient: JourneyState) -> None:
    page = journey.page
    for template in SIGNED_OUT_PAGES:
        path = template.format(patient=journey_patient.patient_id,
                               visit=journey_patient.visit_ids.get("baseline", 1))
        page.goto(path)
        assert journey.path().startswith("/login"), f"{path} showed {page.url}"
        assert page.locator("h1").inner_text() == "Sign in", path
        assert journey_patient.details.family_name not in page.content(), path
    journey.check_page(signed_in=False)
    journey.shot("login-page")
    journey.assert_accessible()
