"""The clinicians' patient list: state, follow-up status, next and last visit, KL grade;
sorting by column header, filters submitted as rendered, paging, site separation and a
statement count that does not grow with the page."""

from __future__ import annotations

from datetime import date

import pytest
from bs4 import BeautifulSoup

from registry import audit_capture as capture
from registry.clinical.services import patient_list
from tests.clinical.browser import fill, form_for, submit
from tests.fixtures.database import recorded_statements


def by_visit(patient) -> dict[str, object]:
    return {visit.timepoint.code: visit for visit in patient.visits if visit.timepoint}


@pytest.fixture
def cohort(db, make_patient, record_visit, site_a, site_b):
    """Patients at site A in every state (today is 2026-06-01), and one at site B."""
    overdue = make_patient(site_a, treatment_date=date(2025, 11, 1), kl_grade=3)
    visits = by_visit(overdue)
    record_visit(visits["baseline"], date(2025, 10, 20))
    record_visit(visits["w2_6"], date(2025, 11, 28))
    record_visit(visits["m3"], date(2026, 1, 30))  # m6_12: target 2026-05-02, overdue
    due = make_patient(site_a, treatment_date=date(2025, 11, 20), kl_grade=2)
    by_visit(due)["m6_12"].appointment_date = date(2026, 6, 3)  # due, booked
    fresh = make_patient(site_a, treatment_date=date(2026, 5, 25), kl_grade=4)
    record_visit(by_visit(fresh)["baseline"], date(2026, 5, 20))  # next: 2–6 weeks, upcoming
    untreated = make_patient(site_a, treated=False, kl_grade=1)
    withdrawn = make_patient(site_a, treatment_date=date(2026, 1, 1), kl_grade=2)
    record_visit(by_visit(withdrawn)["baseline"], date(2025, 12, 30))
    with capture.reason(db, "Withdrew consent"):
        withdrawn.status, withdrawn.withdrawn_on = "withdrawn", date(2026, 3, 1)
        withdrawn.withdrawal_reason = "consent_withdrawn"
    other = make_patient(site_b, treatment_date=date(2025, 11, 1))
    db.flush()
    return {"overdue": overdue, "due": due, "fresh": fresh, "untreated": untreated,
            "withdrawn": withdrawn, "other": other}


def rows(page) -> dict[str, dict[str, str]]:
    """Study ID -> column header -> cell text, in page order."""
    soup = BeautifulSoup(page.text, "html.parser")
    table = soup.find("table", class_="patient-list")
    if table is None:
        return {}
    headers = [th.get_text(" ", strip=True).rstrip("▲▼").strip()
               for th in table.find("thead").find_all("th")]
    result = {}
    for tr in table.find("tbody").find_all("tr"):
        cells = [td.get_text(" ", strip=True) for td in tr.find_all("td")]
        result[cells[0]] = dict(zip(headers, cells, strict=True))
    return result


def test_columns_state_followup_next_and_last_visit(browser, cohort, as_user, site_a):
    as_user("clinician", sites=[site_a])
    listed = rows(browser.get("/patients/"))
    ids = {key: patient.study_id for key, patient in cohort.items()}
    assert ids["other"] not in listed  # another site's patient
    assert set(listed) == {ids[key] for key in ("overdue", "due", "fresh", "untreated",
                                                "withdrawn")}
    overdue = listed[ids["overdue"]]
    assert (overdue["Status"], overdue["Follow-up"]) == ("In follow-up", "Overdue")
    assert overdue["Next visit"] == "6–12 months 2026-05-02"
    assert overdue["Last visit"] == "3 months 2026-01-30"
    assert overdue["KL grade"] == "3"
    due = listed[ids["due"]]
    assert due["Follow-up"] == "Due"  # due beats its missed earlier visits
    assert due["Next visit"] == "6–12 months 2026-05-21 booked 2026-06-03"
    assert due["Last visit"] == "—"
    fresh = listed[ids["fresh"]]
    assert (fresh["Follow-up"], fresh["Next visit"]) == ("Upcoming", "2–6 weeks 2026-06-22")
    untreated = listed[ids["untreated"]]
    assert (untreated["Status"], untreated["Follow-up"], untreated["Treatment"]) == (
        "Not treated yet", "—", "—")
    withdrawn = listed[ids["withdrawn"]]
    assert (withdrawn["Status"], withdrawn["Follow-up"], withdrawn["Next visit"]) == (
        "Withdrawn", "—", "—")
    assert withdrawn["Last visit"] == "Baseline 2025-12-30"
    # "In follow-up" is only ever shown for treated patients.
    assert all(row["Treatment"] != "—" for row in listed.values()
               if row["Status"] == "In follow-up")


def test_column_headers_sort_both_ways(browser, cohort, as_user, site_a):
    as_user("clinician", sites=[site_a])
    page = browser.get("/patients/")
    soup = BeautifulSoup(page.text, "html.parser")
    active = soup.find("th", attrs={"aria-sort": True})
    assert active.get_text(strip=True).startswith("Study ID")
    assert active["aria-sort"] == "ascending"
    page = page.click(description="Follow-up", href="sort=followup")
    order = [row["Follow-up"] for row in rows(page).values()]
    assert order == ["Overdue", "Due", "Upcoming", "—", "—"]
    soup = BeautifulSoup(page.text, "html.parser")
    assert soup.find("th", attrs={"aria-sort": "ascending"}).get_text(strip=True)\
        .startswith("Follow-up")
    page = page.click(description="Follow-up", href="order=desc")
    order = [row["Follow-up"] for row in rows(page).values()]
    assert order == ["Upcoming", "Due", "Overdue", "—", "—"]  # empty cells stay last
    page = page.click(description="KL grade", href="sort=kl")
    assert [row["KL grade"] for row in rows(page).values()] == ["1", "2", "2", "3", "4"]
    page = page.click(description="KL grade", href="order=desc")
    assert [row["KL grade"] for row in rows(page).values()] == ["4", "3", "2", "2", "1"]
    page = page.click(description="Next visit", href="sort=next")
    ids = [cohort[key].study_id for key in ("overdue", "due", "fresh")]
    assert list(rows(page))[:3] == ids  # by target date: 2026-05-02, 05-21, 06-22
    page = page.click(description="Last visit", href="sort=last")
    assert list(rows(page))[:3] == [cohort["withdrawn"].study_id, ids[0], ids[2]]


def test_filters_as_rendered_keep_the_sort(browser, cohort, as_user, site_a, site_b):
    as_user("clinician", sites=[site_a, site_b])
    ids = {key: patient.study_id for key, patient in cohort.items()}
    page = browser.get("/patients/?sort=kl&order=desc")
    form = form_for(page, field="followup")
    page = submit(fill(form, {"followup": "overdue"}))
    assert set(rows(page)) == {ids["overdue"], ids["other"]}  # both sites
    form = form_for(page, field="followup")
    assert (form["sort"].value, form["order"].value) == ("kl", "desc")
    page = submit(fill(form, {"site": str(site_a.id)}))
    assert set(rows(page)) == {ids["overdue"]}
    page = submit(fill(form_for(page, field="followup"),
                       {"followup": "", "site": "", "state": "not_treated"}))
    assert set(rows(page)) == {ids["untreated"]}
    page = submit(fill(form_for(page, field="followup"), {"state": "", "kl": "2"}))
    assert list(rows(page)) == sorted([ids["due"], ids["withdrawn"], ids["other"]])
    page = submit(fill(form_for(page, field="followup"), {"kl": "", "state": "in_follow_up",
                                                          "site": str(site_a.id)}))
    assert set(rows(page)) == {ids["overdue"], ids["due"], ids["fresh"]}
    # The search box works with the filters (search is registry.clinical.services.search).
    name = cohort["due"].identity.family_name
    page = submit(fill(form_for(page, field="followup"), {"q": name.upper()}))
    assert set(rows(page)) == {ids["due"]}


@pytest.mark.parametrize(("query", "field"), [
    ("site=999999", "Site"), ("followup=soon", "Follow-up"), ("kl=7", "KL grade"),
    ("state=asleep", "Status"), ("sort=password", "Sort by"), ("order=up", "Sort order"),
])
def test_bad_filter_values_are_named(browser, cohort, as_user, site_a, query, field):
    as_user("clinician", sites=[site_a])
    page = browser.get(f"/patients/?{query}", status=422)
    assert field in page.text
    assert "patient-list" not in page.text


def test_another_sites_patients_and_site_cannot_be_chosen(browser, cohort, as_user, site_a,
                                                          site_b):
    as_user("clinician", sites=[site_a])
    page = browser.get("/patients/")
    options = [value for value, _selected, _text in form_for(page, field="site")["site"].options]
    assert str(site_b.id) not in options
    assert browser.get(f"/patients/?site={site_b.id}", status=422)
    assert rows(browser.get(f"/patients/?q={cohort['other'].study_id}")) == {}


def test_paging_keeps_filters_and_sort(browser, cohort, as_user, site_a, monkeypatch):
    monkeypatch.setattr(patient_list, "PER_PAGE", 2)
    as_user("clinician", sites=[site_a])
    page = browser.get("/patients/?sort=kl&order=desc&state=")
    assert "5 patients, page 1 of 3" in page.text
    first = list(rows(page))
    page = page.click(description="Next page")
    assert "sort=kl" in page.request.url
    assert "order=desc" in page.request.url
    second = list(rows(page))
    assert len(first) == len(second) == 2
    assert not set(first) & set(second)
    assert [row["KL grade"] for row in rows(page).values()] == ["2", "2"]
    page = browser.get("/patients/?page=99")  # past the end: the last page
    assert "page 3 of 3" in page.text


@pytest.mark.parametrize("sort", ["study_id", "followup", "next", "last"])
def test_statement_count_does_not_grow_with_the_page(app, browser, db, make_patient,
                                                     record_visit, as_user, site_a, sort):
    as_user("clinician", sites=[site_a])
    engine = app.extensions["registry.engine"]
    url = f"/patients/?sort={sort}&followup=&kl="
    counts = []
    for extra in (2, 9):
        for number in range(extra):
            patient = make_patient(site_a, treatment_date=date(2025, 11, number + 1))
            record_visit(by_visit(patient)["baseline"], date(2025, 10, 20))
        browser.get(url)  # warm
        with recorded_statements(engine) as statements:
            page = browser.get(url)
        counts.append(len(statements))
        assert len(rows(page)) >= extra
    assert counts[0] == counts[1], counts
    with recorded_statements(engine) as statements:
        browser.get(url + "&followup=missed&state=in_follow_up")
    assert len(statements) == counts[0]
