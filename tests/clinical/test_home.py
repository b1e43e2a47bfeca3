"""The clinician's home page: their patients' due and overdue visits and the adverse events
awaiting review (serious first), their own sites only, labels instead of codes, and a
statement count that does not grow with the rows."""

from __future__ import annotations

from datetime import date

import pytest
from bs4 import BeautifulSoup

from registry.models import AdverseEvent
from tests.fixtures.database import recorded_statements


def event(db, patient, onset: date, *, serious: bool, category: str = "swelling",
          description: str = "Knee swelling") -> AdverseEvent:
    item = AdverseEvent(patient_id=patient.id, onset_date=onset, description=description,
                        category=category, severity_grade=3 if serious else 1,
                        serious=serious, serious_criterion="hospitalisation" if serious
                        else None, relatedness="possibly", outcome="ongoing")
    db.add(item)
    db.flush()
    return item


@pytest.fixture
def world(db, make_patient, make_user, site_a, site_b):
    """Two clinicians of site A, each with a treated patient; a patient at site B."""
    first = make_user("clinician", sites=[site_a])
    second = make_user("clinician", sites=[site_a])
    overdue = make_patient(site_a, treatment_date=date(2025, 11, 1))  # 6–12 months overdue
    overdue.treatment.recorded_by_id = first.id
    due = make_patient(site_a, treatment_date=date(2025, 11, 20))  # 6–12 months due
    due.treatment.recorded_by_id = second.id
    elsewhere = make_patient(site_b, treatment_date=date(2025, 11, 1))
    db.flush()
    events = {
        "mine": event(db, overdue, date(2026, 2, 1), serious=False),
        "colleague_serious": event(db, due, date(2026, 3, 1), serious=True,
                                   category="infection", description="Septic arthritis"),
        "colleague_minor": event(db, due, date(2026, 1, 1), serious=False),
        "elsewhere": event(db, elsewhere, date(2026, 1, 5), serious=True),
    }
    return {"first": first, "second": second, "overdue": overdue, "due": due,
            "elsewhere": elsewhere, "events": events}


def panel(page, heading_id: str) -> list[dict[str, str]]:
    """The rows of a home panel's table as header -> cell text."""
    soup = BeautifulSoup(page.text, "html.parser")
    section = soup.find("section", attrs={"aria-labelledby": heading_id})
    assert section is not None, heading_id
    table = section.find("table")
    if table is None:
        return []
    headers = [th.get_text(" ", strip=True) for th in table.find("thead").find_all("th")]
    return [dict(zip(headers, [td.get_text(" ", strip=True) for td in tr.find_all("td")],
                     strict=True)) for tr in table.find("tbody").find_all("tr")]


def test_clinician_sees_own_patients_visits_and_events_serious_first(browser, world):
    from tests.clinical.browser import sign_in

    sign_in(browser, world["first"].email)
    page = browser.get("/home")
    visits = panel(page, "due-visits-heading")
    assert [row["Patient"] for row in visits] == [world["overdue"].study_id]
    [visit] = visits
    assert visit["Visit"].startswith("6–12 months")
    assert visit["Status"] == "Overdue"
    assert visit["Timing"] == "30 days past target, 153 days left"
    assert "Your patients’ visits due and overdue" in page.text
    events = panel(page, "pending-events-heading")
    # The colleague's serious event (every patient of the site), then this clinician's own
    # patient's event; not the colleague's minor event, nor another site's.
    assert [row["Patient"] for row in events] == [world["due"].study_id,
                                                  world["overdue"].study_id]
    assert events[0]["Event"] == "Infection: Septic arthritis"
    assert events[0]["Serious"] == "Serious Requires or prolongs hospitalisation"
    assert events[0]["Grade"] == "3 — severe"
    assert world["elsewhere"].study_id not in page.text
    # The links: the visit's entry page, the event's row on the patient page.
    soup = BeautifulSoup(page.text, "html.parser")
    visit_row = soup.find("tr", attrs={"data-visit": True})
    hrefs = [a["href"] for a in visit_row.find_all("a")]
    assert f"/patients/{world['overdue'].id}/visits/{visit_row['data-visit']}" in hrefs
    serious = world["events"]["colleague_serious"]
    assert (f'href="/patients/{world["due"].id}#adverse-event-{serious.id}"'
            in page.text)
    # The link leads to the event on the patient page.
    patient_page = browser.get(f"/patients/{world['due'].id}")
    assert f'id="adverse-event-{serious.id}"' in patient_page.text


def test_clinician_without_own_patients_sees_their_sites(browser, db, make_user, world,
                                                         site_a):
    from tests.clinical.browser import sign_in

    newcomer = make_user("clinician", sites=[site_a])
    sign_in(browser, newcomer.email)
    page = browser.get("/home")
    assert "Visits due and overdue at your sites" in page.text
    visits = panel(page, "due-visits-heading")
    assert [row["Patient"] for row in visits] == [world["overdue"].study_id,
                                                  world["due"].study_id]  # overdue first
    assert [row["Status"] for row in visits] == ["Overdue", "Due"]
    events = panel(page, "pending-events-heading")
    assert [row["Serious"].startswith("Serious") for row in events] == [True, False, False]
    assert world["elsewhere"].study_id not in page.text


def test_reviewing_an_event_takes_it_off_the_panel(browser, world):
    from tests.clinical.browser import form_for, sign_in, submit

    sign_in(browser, world["first"].email)
    mine = world["events"]["mine"]
    page = browser.get(f"/patients/{world['overdue'].id}")
    review = f"/patients/{world['overdue'].id}/adverse-events/{mine.id}/review"
    assert submit(form_for(page, action=review)).status_int == 302
    events = panel(browser.get("/home"), "pending-events-heading")
    assert [row["Patient"] for row in events] == [world["due"].study_id]


def test_coordinator_keeps_the_serious_events_panel_with_labels(browser, make_user, world,
                                                                site_a):
    from tests.clinical.browser import sign_in

    sign_in(browser, make_user("coordinator", sites=[site_a]).email)
    page = browser.get("/home")
    soup = BeautifulSoup(page.text, "html.parser")
    section = soup.find("section", attrs={"aria-labelledby": "sae-heading"})
    text = section.get_text(" ", strip=True)
    assert "Infection, grade 3 — severe, onset 2026-03-01" in text
    assert world["elsewhere"].study_id not in text
    assert soup.find("section", attrs={"aria-labelledby": "due-visits-heading"}) is None


def test_home_statement_count_does_not_grow(app, browser, db, make_patient, world, site_a):
    from tests.clinical.browser import sign_in

    sign_in(browser, world["first"].email)
    engine = app.extensions["registry.engine"]
    counts = []
    for _round in range(2):
        for number in range(4):
            patient = make_patient(site_a, treatment_date=date(2025, 10, 1 + number))
            patient.treatment.recorded_by_id = world["first"].id
            event(db, patient, date(2026, 2, 1 + number), serious=number % 2 == 0)
        db.flush()
        browser.get("/home")
        with recorded_statements(engine) as statements:
            page = browser.get("/home")
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert len(panel(page, "due-visits-heading")) == 9
