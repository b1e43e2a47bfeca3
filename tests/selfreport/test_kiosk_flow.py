"""The clinic tablet: staff start the patient's form on their device, are signed out
there, and the device shows only that form until it is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.models import SelfReport, SelfReportLink, Visit
from tests.fixtures.webtest import sign_in, webtest
from tests.selfreport.patient_pages import answer_all, identifying, press, step_form


def _visit_page(patient, visit) -> str:
    return f"/patients/{patient.id}/visits/{visit.id}"


def _start_kiosk(browser, patient, visit) -> webtest.TestResponse:
    """Press "Start on this tablet" on the visit page, as rendered."""
    page = browser.get(_visit_page(patient, visit))
    form = next(form for form in page.forms.values()
                if form.action == f"/self-report/kiosk/{visit.id}")
    return form.submit()


@pytest.fixture
def kiosk(browser, staff, patient, open_visit):
    sign_in(browser, staff.email)
    response = _start_kiosk(browser, patient, open_visit)
    assert response.status_int == 303
    assert response.location.startswith("/r/") or "/r/" in response.location
    return response


def test_starting_the_tablet_signs_staff_out_here_only(app, db, browser, staff, patient,
                                                       open_visit, kiosk):
    elsewhere = webtest.TestApp(app)  # the same clinician at their desk
    sign_in(elsewhere, staff.email)
    start = kiosk.follow()
    assert "Your questionnaire" in start.text
    assert staff.full_name not in start.text
    for secret in identifying(patient):
        assert secret not in start.text
    # The desk session still works: only this device's session ended.
    assert elsewhere.get("/patients/").status_int == 200
    link = db.scalars(select(SelfReportLink)).one()
    assert link.channel == "kiosk"


@pytest.mark.parametrize("path", ["/patients/", "/", "/login", "/followup/worklist",
                                  "/admin/users", "/r/" + "x" * 43, "/nowhere"])
def test_every_other_address_leads_back_to_the_form(browser, kiosk, path):
    form_url = kiosk.location
    response = browser.get(path, expect_errors=True)
    assert response.status_int == 303, (path, response.status_int)
    assert response.location.endswith(form_url.split("://")[-1].split("/", 1)[-1]) or \
        response.location == form_url


def test_a_post_elsewhere_is_also_sent_back(browser, kiosk, staff):
    page = kiosk.follow()
    csrf = page.html.find("input", {"name": "csrf_token"})["value"]
    response = browser.post("/login", {"csrf_token": csrf, "email": staff.email,
                                       "password": "x"}, expect_errors=True)
    assert response.status_int == 303
    assert "/r/" in response.location


def test_after_sending_the_thank_you_page_then_staff_sign_in(app, db, browser, kiosk,
                                                            open_visit):
    page = kiosk.follow().click(href=r"/r/.*/1")
    while "/review" not in page.request.path:
        form = step_form(page)
        answer_all(form)
        page = press(form).follow()
    thanks = page.forms[len(page.forms) - 1].submit()
    assert "Thank you" in thanks.text
    assert "hand the tablet back" in thanks.text
    assert 'href="/login"' in thanks.text
    # The kiosk state has ended: other pages behave as for anyone signed out.
    response = browser.get("/patients/")
    assert response.status_int == 302
    assert "/login" in response.location
    assert browser.get("/login").status_int == 200
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert visit.collection_mode == "self_kiosk"
    report = db.scalars(select(SelfReport).where(SelfReport.visit_id == visit.id)).one()
    assert report.mode == "self_kiosk"
    assert report.state == "submitted"


def test_revoking_the_link_elsewhere_releases_the_tablet(app, db, browser, kiosk):
    from registry.selfreport import service

    link = db.scalars(select(SelfReportLink)).one()
    service.revoke(db, link, user_id=None)
    db.flush()
    response = browser.get("/patients/")
    assert response.status_int == 302
    assert "/login" in response.location


def test_a_stale_page_or_another_sites_visit_gets_no_tablet(app, db, browser, make_user,
                                                            make_patient, site_a, site_b,
                                                            patient, open_visit):
    from tests.selfreport.conftest import TREATED, visit_of

    user = make_user("clinician", sites=[site_a])
    sign_in(browser, user.email)
    page = browser.get(_visit_page(patient, open_visit))
    form = next(form for form in page.forms.values()
                if form.action == f"/self-report/kiosk/{open_visit.id}")
    db.get(Visit, open_visit.id).appointment_date = TREATED
    db.flush()
    assert form.submit(expect_errors=True).status_int == 409
    other = visit_of(make_patient(site_b, treatment_date=TREATED), "m3")
    csrf = page.html.find("input", {"name": "csrf_token"})["value"]
    refused = browser.post(f"/self-report/kiosk/{other.id}",
                           {"csrf_token": csrf, "version": str(other.version)},
                           expect_errors=True)
    assert refused.status_int == 403
    assert browser.get("/patients/").status_int == 200  # still signed in
