"""Recall flags on the worklist and the status grid (issue 20, point 4): marking a lot
recalled flags each of its patients ("lot recalled: review") until a clinician records
the review through the review page's form; the flag links to that page for users who
may write clinical data, is plain text for others, is limited to the user's sites, and
costs one statement per page, not one per row."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from registry import authz
from registry.authz import Permission
from registry.lots.services import change_status
from registry.models import LotRecallReview, Role
from tests.clinical.browser import form_for, submit
from tests.fixtures.database import recorded_statements
from tests.fixtures.webtest import sign_in, webtest
from tests.followup.conftest import TODAY
from tests.followup.lots import make_lot, make_product, recall, treat_with

WORKLIST = "/followup/"
GRID = "/followup/grid"
M3_OVERDUE = 115  # days since treatment: the 3-month visit is overdue (worklist and grid)
FLAG_TEXT = "lot recalled: review"


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def lots(db, site_a, site_b, treated_days_ago) -> SimpleNamespace:
    """One product, two lots: two patients of site A treated with the lot that gets
    recalled, one with the other lot, one without a lot; a site B patient of the
    recalled lot."""
    product = make_product(db)
    recalled = make_lot(db, product, "R-001")
    other = make_lot(db, product, "K-002")
    world = SimpleNamespace(
        recalled=recalled, other=other,
        first=treat_with(db, treated_days_ago(site_a, M3_OVERDUE), recalled),
        second=treat_with(db, treated_days_ago(site_a, M3_OVERDUE), recalled),
        kept=treat_with(db, treated_days_ago(site_a, M3_OVERDUE), other),
        no_lot=treated_days_ago(site_a, M3_OVERDUE),
        elsewhere=treat_with(db, treated_days_ago(site_b, M3_OVERDUE), recalled))
    recall(db, recalled, TODAY)
    return world


def review_url(patient) -> str:
    return f"/lots/reviews/{patient.id}"


def _flags(rows) -> dict[str, str | None]:
    """study ID -> the flag's link (None: shown as plain text), for the flagged rows."""
    found: dict[str, str | None] = {}
    for study_id, cell in rows:
        flag = cell.select_one(".recall-flag")
        if flag is None:
            continue
        assert flag.get_text(" ", strip=True).startswith(FLAG_TEXT), flag
        found[study_id] = flag.get("href") if flag.name == "a" else None
    return found


def worklist_rows(html: str) -> list[tuple[str, Any]]:
    """(study ID, its cell) of each worklist row."""
    soup = BeautifulSoup(html, "html.parser")
    return [(row.find("td").find(string=True).strip(), row.find("td"))
            for row in soup.select("table.worklist tbody tr[data-visit]")]


def grid_rows(html: str) -> list[tuple[str, Any]]:
    """(study ID, its row header) of each grid row."""
    soup = BeautifulSoup(html, "html.parser")
    return [(row.th.a.get_text(strip=True), row.th)
            for row in soup.select("table.status-grid tbody tr[data-patient]")]


def page(browser, url: str) -> str:
    response = browser.get(url)
    assert response.status_int == 200, response.text[:500]
    return response.text


def shown(rows) -> set[str]:
    return {study_id for study_id, _cell in rows}


def test_site_users_see_the_flag_linking_to_the_review(browser, as_user, site_a, lots):
    as_user("coordinator", sites=[site_a])
    expected = {lots.first.study_id: review_url(lots.first),
                lots.second.study_id: review_url(lots.second)}
    for url, rows_of in ((WORKLIST, worklist_rows), (GRID, grid_rows)):
        rows = rows_of(page(browser, url))
        # Every patient of the site is listed; only the recalled lot's are flagged.
        assert shown(rows) == {lots.first.study_id, lots.second.study_id,
                               lots.kept.study_id, lots.no_lot.study_id}, url
        assert _flags(rows) == expected, url


def test_another_sites_user_sees_only_their_own_patients_flag(browser, as_user, site_b,
                                                              lots):
    as_user("coordinator", sites=[site_b])
    for url, rows_of in ((WORKLIST, worklist_rows), (GRID, grid_rows)):
        rows = rows_of(page(browser, url))
        assert shown(rows) == {lots.elsewhere.study_id}, url
        assert _flags(rows) == {lots.elsewhere.study_id: review_url(lots.elsewhere)}, url


def test_a_user_who_may_not_write_clinical_data_sees_plain_text(browser, as_user, site_a,
                                                                lots, monkeypatch):
    monkeypatch.setitem(authz.MATRIX, Role.CLINICIAN,
                        frozenset({Permission.CLINICAL_READ, Permission.IDENTITY_READ}))
    as_user("clinician", sites=[site_a])
    flags = _flags(grid_rows(page(browser, GRID)))
    assert flags == {lots.first.study_id: None, lots.second.study_id: None}


def test_the_flag_clears_only_when_the_review_is_recorded(app, db, browser, as_user,
                                                          make_user, site_a, lots):
    reviewer = as_user("clinician", sites=[site_a])
    # The clinician follows the flag's link on the grid to the review page.
    link = _flags(grid_rows(page(browser, GRID)))[lots.first.study_id]
    assert link == review_url(lots.first)
    review_page = browser.get(link)
    assert review_page.status_int == 200, review_page.text[:500]

    # Submitting the form without a note records nothing: the flag stays.
    refused = submit(form_for(review_page, field="note"))
    assert refused.status_int == 422
    assert lots.first.study_id in _flags(grid_rows(page(browser, GRID)))

    form = form_for(refused, field="note")
    form["note"] = "Patient called and knee examined: no sign of infection; monitor."
    recorded = submit(form)
    assert recorded.status_int == 302, recorded.text[:500]
    assert recorded.follow().status_int == 200

    [review] = db.scalars(select(LotRecallReview)
                          .where(LotRecallReview.patient_id == lots.first.id)).all()
    assert review.lot_id == lots.recalled.id
    assert review.reviewed_by_id == reviewer.id
    assert review.note.startswith("Patient called")
    remaining = {lots.second.study_id: review_url(lots.second)}
    assert _flags(grid_rows(page(browser, GRID))) == remaining

    # The site's coordinator (another browser) sees the same on the worklist and grid.
    other = webtest.TestApp(app)
    sign_in(other, make_user("coordinator", sites=[site_a]).email)
    assert _flags(worklist_rows(page(other, WORKLIST))) == remaining
    assert _flags(grid_rows(page(other, GRID))) == remaining


def test_a_review_before_a_new_recall_does_not_clear_it(db, browser, as_user, site_a,
                                                        lots):
    as_user("clinician", sites=[site_a])
    form = form_for(browser.get(review_url(lots.first)), field="note")
    form["note"] = "Reviewed after the first recall."
    assert submit(form).status_int == 302
    assert lots.first.study_id not in _flags(grid_rows(page(browser, GRID)))
    change_status(db, lots.recalled, "released", "Retest passed", TODAY)
    assert _flags(grid_rows(page(browser, GRID))) == {}
    recall(db, lots.recalled, TODAY)
    assert set(_flags(grid_rows(page(browser, GRID)))) == {lots.first.study_id,
                                                           lots.second.study_id}


def _statements(browser, engine, url: str) -> tuple[int, int]:
    with recorded_statements(engine) as statements:
        html = page(browser, url)
    rows = worklist_rows(html) if url == WORKLIST else grid_rows(html)
    return len(statements), len(_flags(rows))


@pytest.mark.parametrize("url", [WORKLIST, GRID])
def test_flags_cost_one_statement_whatever_their_number(db, engine, browser, as_user,
                                                        site_a, treated_days_ago, lots, url):
    as_user("coordinator", sites=[site_a])
    page(browser, url)  # warm: the first request of a test loads more (user, sites)
    few, flagged_few = _statements(browser, engine, url)
    product = make_product(db, "Second product")
    for number in range(3):
        lot = make_lot(db, product, f"S-{number}")
        for _ in range(2):
            treat_with(db, treated_days_ago(site_a, M3_OVERDUE), lot)
        recall(db, lot, TODAY)
    many, flagged_many = _statements(browser, engine, url)
    assert (flagged_few, flagged_many) == (2, 8)
    assert few == many, (few, many)
