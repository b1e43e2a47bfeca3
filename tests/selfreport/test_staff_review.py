"""Reviewing a self-report kept because staff had recorded the visit: the patient's answers
next to the staff's, accept or dismiss with a required reason, stale forms get 409."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import scoring
from registry.models import AuditEvent, SelfReport, Visit
from registry.selfreport import service
from tests.clinical.browser import fill, form_for, submit
from tests.selfreport.conftest import TODAY


@pytest.fixture
def pending(app, db, open_visit, staff, record_visit) -> SelfReport:
    """The patient answered VAS 63 and PGA 40; staff had recorded VAS 10 meanwhile."""
    with app.test_request_context():
        link, _token = service.issue_link(db, open_visit, channel="link",
                                          created_by_id=staff.id)
        report = service.open_report(db, link)
        report.instruments = ["vas", "pga"]
        service.save_answers(db, report, "vas", {"vas.VAS": "63"})
        service.save_answers(db, report, "pga", {"pga.PGA": "40"})
        record_visit(open_visit, TODAY, {"vas": {"VAS": 10}})
        assert service.submit(db, report, mode="self_link") == "pending_review"
    db.info.pop("audit_actor", None)
    return report


def _review_url(visit: Visit) -> str:
    return f"/self-report/visits/{visit.id}/review"


def test_the_visit_page_points_to_the_review(browser, as_user, site_a, pending, open_visit):
    as_user("clinician", sites=[site_a])
    page = browser.get(f"/patients/{open_visit.patient_id}/visits/{open_visit.id}")
    assert "awaiting review" in page.text
    assert _review_url(open_visit) in page.text


def test_the_review_shows_both_answers_and_scores(browser, as_user, site_a, pending,
                                                  open_visit):
    as_user("clinician", sites=[site_a])
    page = browser.get(_review_url(open_visit))
    rows = [[cell.get_text(strip=True) for cell in row.find_all("td")]
            for row in page.html.find("tbody").find_all("tr")]
    vas, pga = scoring.INSTRUMENTS["vas"], scoring.INSTRUMENTS["pga"]
    assert [vas.short_name, vas.items[0].label, "10 mm", "63 mm", "yes"] in rows
    assert [vas.short_name, scoring.SCORES["vas_pain"].label, scoring.format_score(10),
            scoring.format_score(63), "yes"] in rows
    assert [pga.short_name, pga.items[0].label, "—", "40 mm", "yes"] in rows


def test_a_decision_needs_a_reason(browser, db, as_user, site_a, pending, open_visit):
    as_user("clinician", sites=[site_a])
    form = form_for(browser.get(_review_url(open_visit)), field="decision")
    fill(form, {"decision": "accept"})
    response = submit(form)
    assert response.status_int == 422
    assert "Give a reason for the decision." in response.text
    db.expire_all()
    assert db.get(SelfReport, pending.id).state == "pending_review"


def test_accept_as_rendered_replaces_the_answers(browser, db, as_user, site_a, pending,
                                                 open_visit):
    user = as_user("clinician", sites=[site_a])
    form = form_for(browser.get(_review_url(open_visit)), field="decision")
    fill(form, {"decision": "accept", "reason": "patient's answers are the study's"})
    response = submit(form)
    assert response.status_int == 302
    assert "answers replaced the visit" in response.follow().text
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert {r.instrument: r.answers for r in visit.responses} == {
        "vas": {"VAS": 63}, "pga": {"PGA": 40}}
    assert visit.collection_mode == "self_link"
    report = db.get(SelfReport, pending.id)
    assert (report.state, report.reviewed_by_id) == ("accepted", user.id)
    reasons = set(db.scalars(select(AuditEvent.reason).where(
        AuditEvent.entity_type == "instrument_response", AuditEvent.actor_id == user.id)))
    assert reasons == {"patient's answers are the study's"}


def test_dismiss_as_rendered_keeps_the_staff_answers(browser, db, as_user, site_a, pending,
                                                     open_visit):
    as_user("clinician", sites=[site_a])
    form = form_for(browser.get(_review_url(open_visit)), field="decision")
    fill(form, {"decision": "dismiss", "reason": "recorded in clinic the same day"})
    assert submit(form).status_int == 302
    db.expire_all()
    assert db.get(SelfReport, pending.id).state == "dismissed"
    visit = db.get(Visit, open_visit.id)
    assert {r.instrument: r.answers for r in visit.responses} == {"vas": {"VAS": 10}}
    assert browser.get(_review_url(open_visit)).status_int == 302  # nothing left to review


def test_a_stale_review_form_gets_409(browser, db, as_user, site_a, pending, open_visit):
    as_user("clinician", sites=[site_a])
    form = form_for(browser.get(_review_url(open_visit)), field="decision")
    other = form_for(browser.get(_review_url(open_visit)), field="decision")
    fill(other, {"decision": "dismiss", "reason": "first reviewer"})
    assert submit(other).status_int == 302
    fill(form, {"decision": "accept", "reason": "second reviewer"})
    response = submit(form)
    assert response.status_int == 409
    db.expire_all()
    assert db.get(SelfReport, pending.id).state == "dismissed"


def test_another_sites_clinician_cannot_review(browser, as_user, site_b, pending, open_visit):
    as_user("clinician", sites=[site_b])
    assert browser.get(_review_url(open_visit), expect_errors=True).status_int == 403
