"""The home page's product-lot panel (issue 20, points 4 and 5): the user's sites'
patients flagged after their lot's recall (study ID linking to the review page, the lot
linking to its page) until the review is recorded, and the alert for a lot that reached
the configured number of serious adverse events (default 2) among the sites' patients;
another site's users see neither; the statements do not grow with the rows."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup

from tests.clinical.browser import form_for, sign_in, submit, webtest
from tests.clinical.conftest import TODAY
from tests.fixtures.database import recorded_statements
from tests.followup.lots import make_lot, make_product, recall, serious_event, treat_with


@pytest.fixture
def lots(db, make_patient, site_a, site_b) -> SimpleNamespace:
    """Lot R-001 (recalled) used on two patients of site A and one of site B; lot K-002
    (released) used on two patients of site A; a site A patient without a lot."""
    product = make_product(db)
    recalled = make_lot(db, product, "R-001")
    other = make_lot(db, product, "K-002")

    def treated(site, lot):
        patient = make_patient(site, treatment_date=date(2026, 1, 1))
        return treat_with(db, patient, lot) if lot is not None else patient

    world = SimpleNamespace(
        product=product, recalled=recalled, other=other,
        first=treated(site_a, recalled), second=treated(site_a, recalled),
        kept=treated(site_a, other), kept_too=treated(site_a, other),
        no_lot=treated(site_a, None), elsewhere=treated(site_b, recalled))
    recall(db, recalled, TODAY)
    return world


def home(browser) -> BeautifulSoup:
    response = browser.get("/home")
    assert response.status_int == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def recall_rows(soup: BeautifulSoup) -> list[dict[str, str | None]]:
    """The recall table's rows: study ID, its link, the lot and its link, the flag."""
    rows = []
    for row in soup.select("#lot-panel #lot-recalls tbody tr"):
        patient, lot, _recalled, flag = row.find_all("td")
        rows.append({"study_id": patient.get_text(strip=True), "link": patient.a["href"],
                     "lot": lot.get_text(strip=True), "lot_link": lot.a["href"],
                     "flag": flag.get_text(strip=True)})
    return rows


def alert_rows(soup: BeautifulSoup) -> list[dict[str, str]]:
    rows = []
    for row in soup.select("#lot-panel #lot-alerts tbody tr"):
        lot, patients, serious, status = row.find_all("td")
        rows.append({"lot": lot.get_text(strip=True), "lot_link": lot.a["href"],
                     "patients": patients.get_text(strip=True),
                     "serious": serious.get_text(strip=True),
                     "status": status.get_text(strip=True)})
    return rows


def flagged(world, *patients) -> list[dict[str, str | None]]:
    return [{"study_id": patient.study_id, "link": f"/lots/reviews/{patient.id}",
             "lot": "Test BMAC · R-001", "lot_link": f"/lots/{world.recalled.id}",
             "flag": "lot recalled: review"}
            for patient in sorted(patients, key=lambda patient: patient.study_id)]


@pytest.mark.parametrize("role", ["clinician", "coordinator", "admin"])
def test_site_staff_see_their_flagged_patients(browser, as_user, site_a, lots, role):
    as_user(role, sites=[site_a])
    soup = home(browser)
    assert recall_rows(soup) == flagged(lots, lots.first, lots.second)
    assert soup.select("#lot-alerts") == []  # no lot has serious events


def test_another_sites_user_sees_only_their_own(browser, as_user, site_b, lots):
    as_user("clinician", sites=[site_b])
    assert recall_rows(home(browser)) == flagged(lots, lots.elsewhere)


def test_no_panel_without_flags_or_alerts(browser, as_user, make_site, lots):
    as_user("clinician", sites=[make_site()])
    assert home(browser).select("#lot-panel") == []


def test_a_flag_leaves_the_home_page_once_the_review_is_recorded(browser, as_user, site_a,
                                                                 lots):
    as_user("clinician", sites=[site_a])
    [first, _second] = recall_rows(home(browser))
    review = browser.get(first["link"])
    refused = submit(form_for(review, field="note"))  # no note: nothing recorded
    assert refused.status_int == 422
    assert recall_rows(home(browser)) == flagged(lots, lots.first, lots.second)
    form = form_for(refused, field="note")
    form["note"] = "Seen in clinic: no adverse event; follow-up as planned."
    assert submit(form).status_int == 302
    assert recall_rows(home(browser)) == flagged(lots, lots.second)


def test_the_lot_alert_shows_at_two_serious_events_not_one(app, db, browser, as_user,
                                                           make_user, site_a, site_b, lots):
    as_user("clinician", sites=[site_a])
    serious_event(db, lots.kept, date(2026, 2, 1))
    assert alert_rows(home(browser)) == []
    serious_event(db, lots.kept_too, date(2026, 3, 1))
    soup = home(browser)
    assert alert_rows(soup) == [{"lot": "Test BMAC · K-002", "lot_link": f"/lots/{lots.other.id}",
                                 "patients": "2", "serious": "2", "status": "Released"}]
    assert "at least 2 serious adverse events" in soup.select_one("#lot-panel").get_text()
    assert browser.get(alert_rows(soup)[0]["lot_link"]).status_int == 200
    # Another site's admin (another browser): the events are not among their patients.
    other = webtest.TestApp(app)
    sign_in(other, make_user("admin", sites=[site_b]).email)
    assert alert_rows(home(other)) == []


def test_the_alert_threshold_is_configurable(app, db, browser, as_user, site_a, lots,
                                             monkeypatch):
    monkeypatch.setitem(app.config, "LOT_SERIOUS_ALERT", 3)
    as_user("clinician", sites=[site_a])
    serious_event(db, lots.kept, date(2026, 2, 1))
    serious_event(db, lots.kept_too, date(2026, 3, 1))
    assert alert_rows(home(browser)) == []
    serious_event(db, lots.kept_too, date(2026, 4, 1))
    [row] = alert_rows(home(browser))
    assert row["serious"] == "3"


def test_statements_do_not_grow_with_flagged_patients(app, db, browser, as_user, make_patient,
                                                      site_a, lots):
    as_user("clinician", sites=[site_a])
    engine = app.extensions["registry.engine"]
    counts = []
    for round_ in range(2):
        lot = make_lot(db, lots.product, f"N-{round_}")
        for _ in range(4):
            patient = treat_with(db, make_patient(site_a, treatment_date=date(2026, 1, 1)), lot)
            serious_event(db, patient, date(2026, 2, 1))
        recall(db, lot, TODAY)
        home(browser)
        with recorded_statements(engine) as statements:
            soup = home(browser)
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert len(recall_rows(soup)) == 10
    assert len(alert_rows(soup)) == 2


def test_the_panel_flags_the_same_patients_as_the_worklist_and_grid(db, site_a, lots):
    """The panel's statement (sites, limit, total) follows ``recall_flags``'s rule."""
    from sqlalchemy import select

    from registry.lots.flags import recall_flags
    from registry.lots.services import change_status
    from registry.lots.trace import record_review
    from registry.main.lots import recall_flags_of_sites
    from registry.models import Patient

    site_patients = db.scalars(select(Patient.id).where(Patient.site_id == site_a.id)).all()

    def agree() -> set[int]:
        shown, total = recall_flags_of_sites(db, frozenset({site_a.id}))
        assert total == len(shown)
        assert {flag.patient_id for flag in shown} == set(recall_flags(db, site_patients))
        return {flag.patient_id for flag in shown}

    assert agree() == {lots.first.id, lots.second.id}
    record_review(db, lots.first, "Reviewed.", None)
    assert agree() == {lots.second.id}
    change_status(db, lots.recalled, "released", "Retest passed", TODAY)
    assert agree() == set()
    recall(db, lots.recalled, TODAY)
    assert agree() == {lots.first.id, lots.second.id}
    shown, total = recall_flags_of_sites(db, frozenset({site_a.id}), limit=1)
    assert ([flag.patient_id for flag in shown], total) == ([lots.first.id], 2)
