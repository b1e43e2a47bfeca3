"""The clinician's day in Chromium: home panels, the patient list, the patient page.

The module's registry (one site, a user per role, gunicorn) gets one patient written
through the app's services in-process: treated by the E2E clinician 200 days before the
server's today, three visits done with VAS, PGA, WOMAC and KOOS answers (the 6–12-month
visit overdue), a serious adverse event awaiting review and a minor one.  The clinician
finds both events and the overdue visit on the home page; sorts and filters the patient
list; opens the patient page, where the serious event comes before everything else and
the charts are drawn in the page (no image request); opens one chart as an image of its
own, which the browser draws under the content security policy; marks the event
reviewed.  The accessibility basics run on every page; a CSP violation would be a
console error.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import scoring
from registry import create_app
from registry.db import get_session, writing
from registry.models import (
    AdverseEvent,
    IndexKnee,
    Patient,
    PatientIdentity,
    Site,
    Treatment,
    User,
)
from registry.scheduling import default_protocol, schedule_visits
from registry.scores import save_response
from tests.e2e.journeys import USERS, Journey, sign_in
from tests.e2e.server import AUDIT_KEY, PSEUDONYM_KEY, SECRET_KEY, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TREATED_DAYS_AGO = 200  # the 6–12-month visit (days 182–365, grace 14) is overdue
LINE_COLOUR = "rgb(11, 92, 173)"  # charts.LINE, as the browser computes it


def _answers(level: int) -> dict[str, dict[str, int]]:
    items = {code: {item.code: level for item in scoring.INSTRUMENTS[code].items}
             for code in ("womac", "koos")}
    return {"vas": {"VAS": 20 * level}, "pga": {"PGA": 15 * level}, **items}


def _seed(server: LiveServer) -> dict[str, Any]:
    today = server.today
    app = create_app({"DATABASE_URL": server.database_url,
                      "INSTANCE_PATH": tempfile.mkdtemp(prefix="e2e-patient-"),
                      "SECRET_KEY": SECRET_KEY, "AUDIT_KEY": AUDIT_KEY,
                      "PSEUDONYM_KEY": PSEUDONYM_KEY, "TODAY": today.isoformat()})
    try:
        with app.app_context(), writing():
            session = get_session()
            site = session.scalar(select(Site).where(Site.code == "E2E"))
            clinician = session.scalar(select(User).where(
                User.email == USERS["clinician"].email))
            assert site is not None
            assert clinician is not None
            treated = today - timedelta(days=TREATED_DAYS_AGO)
            patient = Patient(study_id="E2E-P001", site_id=site.id, site_sequence=901,
                              protocol_id=default_protocol(session, site.id).id,
                              sex="male", birth_date=date(1957, 2, 3),
                              consent_date=treated - timedelta(days=30))
            patient.identity = PatientIdentity(
                site_id=site.id, family_name="Chartperson", given_name="Nils",
                medical_record_number="CHART-0001", preferred_contact="phone")
            patient.index_knee = IndexKnee(laterality="right", kl_grade=3, eligibility={})
            patient.treatment = Treatment(
                treatment_date=treated, cell_source="bmac", product_name="BMAC kit",
                lot_number="L-CHART", injections=1, co_interventions=[],
                operator="Dr Chart", recorded_by_id=clinician.id)
            session.add(patient)
            session.flush()
            visits = {visit.timepoint.code: visit
                      for visit in schedule_visits(session, patient, treated)
                      if visit.timepoint is not None}
            for code, day, level in (("baseline", -5, 3), ("w2_6", 28, 2), ("m3", 92, 1)):
                visit = visits[code]
                visit.status, visit.visit_date = "done", treated + timedelta(days=day)
                for instrument, values in _answers(level).items():
                    save_response(session, visit, instrument, values)
            serious = AdverseEvent(
                patient_id=patient.id, onset_date=treated + timedelta(days=3),
                description="Septic arthritis, admitted for washout", category="infection",
                severity_grade=3, serious=True, serious_criterion="hospitalisation",
                relatedness="possibly", outcome="ongoing")
            minor = AdverseEvent(
                patient_id=patient.id, onset_date=treated + timedelta(days=1),
                description="Swelling after injection", category="swelling",
                severity_grade=1, serious=False, relatedness="probably", outcome="resolved",
                resolution_date=treated + timedelta(days=4))
            session.add_all([serious, minor])
            session.commit()
            return {"id": patient.id, "study_id": patient.study_id, "m6_12": visits["m6_12"].id,
                    "serious": serious.id}
    finally:
        app.extensions["registry.engine"].dispose()


@pytest.fixture(scope="module")
def patient(live_server: LiveServer) -> dict[str, Any]:
    return _seed(live_server)


def test_clinician_home_list_and_patient_page(journey: Journey,
                                              patient: dict[str, Any]) -> None:
    page = journey.page
    sign_in(journey, "clinician")  # lands on the home page (checked there)
    events = page.locator("section#pending-events tbody tr")
    assert events.count() == 2
    assert "Serious" in events.nth(0).inner_text()  # serious first
    assert "Infection: Septic arthritis" in events.nth(0).inner_text()
    visits = page.locator("section#due-visits tbody tr", has_text=patient["study_id"])
    assert "Overdue" in visits.inner_text()
    assert "Your patients’ visits due and overdue" in page.locator("#due-visits h2")\
        .inner_text()
    journey.shot("home")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    page.wait_for_url(re.compile(r"/patients/$"))
    journey.check_page()
    page.get_by_role("link", name=re.compile(r"^Follow-up")).click()
    page.wait_for_url(re.compile(r"sort=followup"))
    header = page.locator("table.patient-list th[aria-sort]")
    assert header.get_attribute("aria-sort") == "ascending"
    assert header.inner_text().startswith("Follow-up")
    page.get_by_label("Follow-up", exact=True).select_option("overdue")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"followup=overdue"))
    assert "sort=followup" in page.url  # the filters keep the sort
    row = page.locator("table.patient-list tbody tr", has_text=patient["study_id"])
    assert "In follow-up" in row.inner_text()
    assert "Overdue" in row.inner_text()
    assert "6–12 months" in row.locator("td.next-visit").inner_text()
    journey.check_page()
    journey.shot("patient-list")

    images: list[str] = []
    page.on("request", lambda request: images.append(request.url)
            if request.resource_type == "image" or request.url.endswith(".svg") else None)
    row.get_by_role("link", name=patient["study_id"]).click()
    page.wait_for_url(re.compile(rf"/patients/{patient['id']}$"))
    page.wait_for_load_state("networkidle")
    journey.check_page()
    journey.shot("patient-page")
    assert images == []  # the charts come with the page: no image request per score
    alert = page.locator("#serious-awaiting-review")
    tops = [page.locator(selector).bounding_box()["y"] for selector in (
        "#serious-awaiting-review", "#ae-summary-heading", "#schedule-heading",
        "#charts-heading")]
    assert tops == sorted(tops), tops  # the serious event first, charts after the visits
    assert "Septic arthritis" in alert.inner_text()
    panels = page.locator("figure.chart-panel")
    assert panels.count() >= 10
    drawn = page.evaluate("""() => Array.from(document.querySelectorAll(
        'figure.chart-panel svg polyline')).map((line) => {
            const box = line.getBBox();
            return [box.width, getComputedStyle(line).stroke];
        })""")
    assert drawn
    assert all(width > 0 and stroke == LINE_COLOUR for width, stroke in drawn), drawn[:3]
    assert not journey.console_errors, journey.console_errors

    # "Open image": the chart as an SVG document of its own, under the CSP.
    link = panels.first.get_by_role("link", name=re.compile(r"^Open image"))
    target = link.get_attribute("href")
    response = page.goto(target)
    assert response is not None
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "style-src 'self'" in response.headers["content-security-policy"]
    shown = page.evaluate("""() => ({
        root: document.documentElement.tagName,
        lines: Array.from(document.querySelectorAll('polyline')).map((line) => [
            line.getBBox().width, getComputedStyle(line).stroke,
            getComputedStyle(line).fill]),
        dashed: Array.from(document.querySelectorAll('line[stroke-dasharray]')).map(
            (line) => getComputedStyle(line).strokeDasharray),
        title: document.querySelector('text').textContent})""")
    assert shown["root"] == "svg"
    assert shown["title"] == "VAS pain"
    assert shown["lines"]
    assert all(width > 0 and stroke == LINE_COLOUR and fill == "none"
               for width, stroke, fill in shown["lines"]), shown["lines"]
    assert shown["dashed"] == ["5px, 3px"] * len(shown["dashed"])
    assert len(shown["dashed"]) == 2  # the baseline and the legend's sample
    picture = journey.artifacts / "chart-image.png"  # (a full-page shot of an SVG hangs)
    page.screenshot(path=str(picture))
    assert _has_colour(picture, (11, 92, 173)), "the line is not drawn"
    assert not journey.console_errors, journey.console_errors

    page.goto(f"/patients/{patient['id']}")
    alert.get_by_role("button", name=re.compile(r"^Mark reviewed")).click()
    page.wait_for_url(re.compile(rf"/patients/{patient['id']}"))
    assert "marked reviewed" in journey.flash()
    assert page.locator("#serious-awaiting-review").count() == 0
    journey.check_page()
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def _has_colour(path: Any, colour: tuple[int, int, int]) -> bool:
    """Whether the screenshot at ``path`` has pixels of ``colour`` (± antialiasing)."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        close = sum(1 for x in range(0, width, 2) for y in range(0, height, 2)
                    if all(abs(a - b) <= 12
                           for a, b in zip(rgb.getpixel((x, y)), colour, strict=True)))
    return close > 50
