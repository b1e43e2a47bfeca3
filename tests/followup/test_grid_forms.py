"""The grid as a browser uses it (WebTest, CSRF on): the navigation link, the filter
form submitted as rendered, the pager and a cell's link."""

from __future__ import annotations

from typing import Any

import pytest

from tests.followup.conftest import TODAY, visit_of
from tests.followup.test_grid import cells, row_ids


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


def _filter_form(page):
    return next(form for form in page.forms.values() if form.action == "/followup/grid")


def test_coordinator_filters_pages_and_opens_a_visit(browser, as_user, site_a,
                                                     treated_days_ago):
    overdue = [treated_days_ago(site_a, 115) for _ in range(30)]
    for _ in range(5):
        treated_days_ago(site_a, 20)  # nothing overdue
    as_user("coordinator", sites=[site_a])
    grid = browser.get("/home").click(description="Status grid", href="/followup/grid")
    assert grid.status_int == 200
    assert len(row_ids(grid.text)) == 35

    form = _filter_form(grid)
    form["status"] = "overdue"
    form["sort"] = "urgency"
    form["per_page"] = "25"
    filtered = form.submit()
    assert filtered.status_int == 200
    assert len(row_ids(filtered.text)) == 25
    assert "30 patients — page 1 of 2" in filtered.text
    assert _filter_form(filtered)["status"].value == "overdue"  # the choices stay shown

    second = filtered.click(description="Next page")
    assert set(row_ids(second.text)) | set(row_ids(filtered.text)) == {p.id for p in overdue}

    patient = next(p for p in overdue if p.id in row_ids(second.text))
    m3 = visit_of(patient, "m3")
    assert cells(second.text)[m3.id] == "overdue"
    visit_page = second.click(href=f"/followup/visits/{m3.id}$")
    assert visit_page.status_int == 200
    assert patient.study_id in visit_page.text
    assert "Overdue" in visit_page.text


def test_a_bad_value_sent_by_the_form_is_named(browser, as_user, site_a):
    as_user("clinician", sites=[site_a])
    form = _filter_form(browser.get("/followup/grid"))
    form["treated_from"] = "2026-05-01"
    form["treated_to"] = "2026-04-01"
    response = form.submit(expect_errors=True)
    assert response.status_int == 400
    assert "Treated until: The end of the range cannot be before its start." in response.text
