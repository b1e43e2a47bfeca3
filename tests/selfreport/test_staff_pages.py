"""Where staff see self-reports: the patient page marks self-reported visits and scores and
shows a submission awaiting review; the clinicians' home page lists new self-reports of
their own sites."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from registry.models import SelfReport, Visit
from registry.selfreport import service
from tests.selfreport.conftest import TODAY, TREATED, visit_of


def _self_report(app, db, visit: Visit, staff, answers: Mapping[str, Mapping[str, Any]],
                 mode: str = "self_link", meanwhile: Callable[[], Any] | None = None
                 ) -> SelfReport:
    """A self-report answered and submitted; ``meanwhile`` runs just before submission."""
    with app.test_request_context():
        link, _token = service.issue_link(db, visit, channel="link", created_by_id=staff.id)
        report = service.open_report(db, link)
        report.instruments = list(answers)
        for instrument, items in answers.items():
            service.save_answers(db, report, instrument, {
                f"{instrument}.{item}": str(value) for item, value in items.items()})
        if meanwhile is not None:
            meanwhile()
        service.submit(db, report, mode=mode)
    db.info.pop("audit_actor", None)
    return report


@pytest.mark.parametrize(("mode", "mark"), [("self_link", "self-reported by link"),
                                             ("self_kiosk", "self-reported on clinic tablet")])
def test_the_patient_page_marks_self_reported_visits_and_scores(app, browser, db, as_user,
                                                                site_a, patient, open_visit,
                                                                staff, mode, mark):
    _self_report(app, db, open_visit, staff, {"vas": {"VAS": 37}}, mode)
    as_user("clinician", sites=[site_a])
    page = browser.get(f"/patients/{patient.id}")
    assert page.text.count(mark) == 2  # the schedule's visit date and the score column
    assert f'data-mode="{mode}"' in page.text


def test_the_patient_page_shows_a_self_report_awaiting_review(app, browser, db, as_user,
                                                              site_a, patient, open_visit,
                                                              staff, record_visit):
    _self_report(app, db, open_visit, staff, {"vas": {"VAS": 70}}, meanwhile=lambda:
                 record_visit(open_visit, TODAY, {"vas": {"VAS": 10}}))
    as_user("clinician", sites=[site_a])
    page = browser.get(f"/patients/{patient.id}")
    assert "patient's self-report awaiting review" in page.text.replace("&#39;", "'")
    assert f'href="/self-report/visits/{open_visit.id}/review"' in page.text
    assert "self-reported by link" not in page.text  # the visit keeps the staff's answers


def test_the_home_page_lists_new_self_reports_of_own_sites_only(app, browser, db, as_user,
                                                                site_a, site_b, patient,
                                                                open_visit, staff,
                                                                make_patient, make_user,
                                                                record_visit):
    _self_report(app, db, open_visit, staff, {"vas": {"VAS": 37}})
    other = visit_of(make_patient(site_b, treatment_date=TREATED), "m3")
    _self_report(app, db, other, make_user("clinician", sites=[site_b]), {"vas": {"VAS": 5}})
    pending_visit = visit_of(make_patient(site_a, treatment_date=TREATED), "m3")
    pending = _self_report(app, db, pending_visit, staff, {"vas": {"VAS": 70}}, meanwhile=lambda:
                           record_visit(pending_visit, TODAY, {"vas": {"VAS": 10}}))
    as_user("clinician", sites=[site_a])
    page = browser.get("/home")
    assert "New self-reports from patients" in page.text
    rows = page.html.select("tr[data-self-report-visit]")
    assert [row["data-self-report-visit"] for row in rows] == [str(pending_visit.id),
                                                               str(open_visit.id)]
    assert "Awaiting review" in rows[0].get_text()
    assert "Saved into the visit" in rows[1].get_text()
    assert f"/self-report/visits/{pending_visit.id}/review" in page.text
    assert str(other.id) not in [row["data-self-report-visit"] for row in rows]
    assert pending.state == "pending_review"


def test_old_submissions_leave_the_home_page_but_pending_ones_stay(app, browser, db, as_user,
                                                                   site_a, open_visit, staff):
    from datetime import timedelta

    report = _self_report(app, db, open_visit, staff, {"vas": {"VAS": 37}})
    report.submitted_at = report.submitted_at - timedelta(days=15)
    db.flush()
    as_user("clinician", sites=[site_a])
    assert "New self-reports from patients" not in browser.get("/home").text
    report.state = "pending_review"
    db.flush()
    assert "New self-reports from patients" in browser.get("/home").text
