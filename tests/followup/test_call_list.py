"""The call list: downloaded with the worklist page's own button form (its filters in
hidden inputs, CSRF on), exactly the filtered list, audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import select

from registry.models import AuditEvent
from tests.clinical.browser import form_for, submit
from tests.followup.conftest import TODAY

M3_OVERDUE_10 = 115
M3_DUE = 95


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


def test_csv_call_list_of_the_filtered_list_is_audited(browser, db, as_user, site_a,
                                                       treated_days_ago):
    coordinator = as_user("coordinator", sites=[site_a])
    overdue = treated_days_ago(site_a, M3_OVERDUE_10, family_name="=HYPERLINK(\"x\")")
    treated_days_ago(site_a, M3_DUE)
    page = browser.get("/followup/", params={"status": "overdue", "timepoint": "m3"})
    form = form_for(page, action="/followup/call-list.csv")
    assert (form["status"].value, form["timepoint"].value) == ("overdue", "m3")
    response = submit(form)
    assert response.status_int == 200
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [row["study_id"] for row in rows] == [overdue.study_id]
    assert rows[0]["family_name"] == "'=HYPERLINK(\"x\")"  # not run as a formula
    assert rows[0]["phone"] == overdue.identity.phone
    assert rows[0]["days_overdue"] == "10"
    # day 115 of the 3-month visit: target day 91, window until day 120
    assert (rows[0]["days_past_target"], rows[0]["days_left_in_window"]) == ("24", "5")
    assert rows[0]["status"] == "Overdue"
    db.expire_all()
    event_ = db.scalars(select(AuditEvent).where(AuditEvent.action == "export",
                                                 AuditEvent.entity_type == "worklist_call_list")
                        ).one()
    assert '"rows": 1' in event_.new_value
    assert '"identifying": true' in event_.new_value
    assert event_.actor_id == coordinator.id
