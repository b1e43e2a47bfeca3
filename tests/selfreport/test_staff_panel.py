"""The staff's self-report panel, used as a browser does: forms submitted as rendered
(CSRF on), the link shown once with a QR code, revocation, stale forms, other sites."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from registry.models import SelfReportLink, Visit
from registry.selfreport.tokens import token_hash
from tests.clinical.browser import fill, form_for, submit
from tests.selfreport.conftest import visit_of

URL = re.compile(r"https://registry\.example\.org/r/([A-Za-z0-9_-]{43})")


def visit_url(visit: Visit) -> str:
    return f"/patients/{visit.patient_id}/visits/{visit.id}"


@pytest.fixture
def clinician(as_user, site_a):
    return as_user("clinician", sites=[site_a])


def _create(browser, visit: Visit, page_url: str | None = None):
    page = browser.get(page_url or visit_url(visit))
    return submit(form_for(page, action=f"/self-report/visits/{visit.id}/link"))


def test_create_link_shows_the_address_once_with_a_qr_code(browser, db, clinician,
                                                           open_visit):
    page = browser.get(visit_url(open_visit))
    assert "Patient self-report" in page.text
    assert "No self-report link yet" in page.text
    created = submit(form_for(page, action=f"/self-report/visits/{open_visit.id}/link"))
    assert created.status_int == 200
    assert created.headers["Cache-Control"] == "no-store"
    [token] = set(URL.findall(created.text))
    assert '<svg' in created.text
    assert 'class="segno"' in created.text
    assert 'data-copy-target="self-report-url"' in created.text
    assert "copy-link.js" in created.text
    assert "E-mail a link to the patient instead" in created.text
    link = db.scalar(select(SelfReportLink).where(SelfReportLink.token_hash
                                                  == token_hash(token)))
    assert link is not None
    assert (link.channel, link.created_by_id) == ("link", clinician.id)
    again = browser.get(visit_url(open_visit))
    assert token not in again.text  # shown once only
    assert "Link sent, not yet opened" in again.text
    assert f'data-link="{link.id}"' in again.text


def test_revoke_as_rendered_stops_the_link(browser, db, clinician, open_visit):
    token = URL.search(_create(browser, open_visit).text).group(1)
    page = browser.get(visit_url(open_visit))
    response = submit(form_for(page, action=f"/self-report/visits/{open_visit.id}/revoke"))
    assert response.status_int == 302
    db.expire_all()
    link = db.scalar(select(SelfReportLink).where(SelfReportLink.token_hash
                                                  == token_hash(token)))
    assert link.revoked_at is not None
    assert link.revoked_by_id == clinician.id
    page = response.follow()
    assert "The link was revoked" in page.text
    assert f"/self-report/visits/{open_visit.id}/revoke" not in page.text


def test_revoking_another_visits_link_is_refused(browser, db, clinician, patient, open_visit):
    _create(browser, open_visit)
    link = db.scalar(select(SelfReportLink))
    other = visit_of(patient, "m6_12")
    page = browser.get(visit_url(open_visit))
    form = form_for(page, action=f"/self-report/visits/{open_visit.id}/revoke")
    form.action = f"/self-report/visits/{other.id}/revoke"
    assert submit(form).status_int == 404
    db.expire_all()
    assert db.get(SelfReportLink, link.id).revoked_at is None


def test_a_stale_panel_gets_409_and_makes_no_link(browser, db, clinician, open_visit):
    page = browser.get(visit_url(open_visit))
    form = form_for(page, action=f"/self-report/visits/{open_visit.id}/link")
    open_visit.appointment_date = open_visit.target_date  # someone saved the visit meanwhile
    db.flush()
    assert submit(form).status_int == 409
    assert db.scalar(select(SelfReportLink.id)) is None


def test_a_closed_visit_offers_no_link_and_refuses_a_forged_one(browser, db, clinician,
                                                                 patient):
    closed = visit_of(patient, "w2_6")
    page = browser.get(visit_url(closed))
    assert "window closed" in page.text
    assert f"/self-report/visits/{closed.id}/link" not in page.text
    open_page = browser.get(visit_url(visit_of(patient, "m3")))
    form = form_for(open_page, action=f"/self-report/visits/{visit_of(patient, 'm3').id}/link")
    form.action = f"/self-report/visits/{closed.id}/link"
    form["version"] = str(closed.version)
    response = submit(form)
    assert response.status_int == 422
    assert "window closed" in response.text
    assert db.scalar(select(SelfReportLink.id)) is None


def test_staff_of_another_site_cannot_create_links(browser, as_user, site_b, open_visit, db):
    as_user("clinician", sites=[site_b])
    response = browser.post(f"/self-report/visits/{open_visit.id}/link",
                            {"version": str(open_visit.version)}, expect_errors=True)
    assert response.status_int in (400, 403)  # no CSRF token of a page they could open
    assert db.scalar(select(SelfReportLink.id)) is None


def test_the_follow_up_visit_page_shows_the_panel_and_returns_to_it(browser, as_user, site_a,
                                                                   open_visit):
    as_user("coordinator", sites=[site_a])
    page = browser.get(f"/followup/visits/{open_visit.id}")
    assert "Patient self-report" in page.text
    form = form_for(page, action=f"/self-report/visits/{open_visit.id}/link")
    assert form["back"].value == "followup"
    created = submit(form)
    assert f'href="/followup/visits/{open_visit.id}"' in created.text


def test_the_visit_form_asks_how_the_answers_were_collected(browser, db, clinician,
                                                            open_visit):
    page = browser.get(visit_url(open_visit))
    form = form_for(page, field="collection_mode")
    assert form["collection_mode"].value == "staff_interview"
    assert [value for value, _sel, _text in form["collection_mode"].options] == [
        "staff_interview", "paper"]
    assert "How were these answers collected?" in page.text
    fill(form, {"collection_mode": "paper", "visit_date": "2026-06-01", "vas-VAS": "40"})
    assert submit(form).status_int == 302
    db.expire_all()
    assert db.get(Visit, open_visit.id).collection_mode == "paper"


def test_a_forged_collection_mode_is_refused(browser, db, clinician, open_visit):
    form = form_for(browser.get(visit_url(open_visit)), field="collection_mode")
    fill(form, {"collection_mode": "self_link", "visit_date": "2026-06-01", "vas-VAS": "40"})
    response = submit(form)
    assert response.status_int == 422
    assert "How were these answers collected?" in response.text
    db.expire_all()
    assert db.get(Visit, open_visit.id).status == "scheduled"
