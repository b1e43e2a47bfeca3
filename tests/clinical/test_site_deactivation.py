"""A site deactivated on the admin page is closed to its staff: patient pages, enrolment,
worklist, call lists and follow-up pages refuse or leave it out; the admin pages still
show it, and reactivating it opens it again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry import audit_capture as capture
from registry.models import Patient, Site, Visit
from tests.clinical.browser import fill, form_for, open_form, sign_in, submit, webtest
from tests.clinical.conftest import TODAY
from tests.clinical.helpers import enrol_data

TREATED = TODAY - timedelta(days=115)  # the 3-month visit is overdue


def set_site_active(app, make_user, site: Site, active: bool) -> None:
    """An administrator (of another site) ticks or unticks "Active" on the site's page."""
    admin = webtest.TestApp(app)
    sign_in(admin, make_user("admin", sites=[]).email)
    form = open_form(admin, f"/admin/sites/{site.id}", field="active")
    form["active"] = active
    assert submit(form).status_int == 302
    listing = admin.get("/admin/sites").text
    assert site.code in listing  # admins still see (and can reactivate) the site


def csrf_token(browser) -> str:
    return form_for(browser.get("/home"), action="/logout")["csrf_token"].value


def patient_urls(patient: Patient) -> list[tuple[str, str]]:
    visit = next(v for v in patient.visits if v.timepoint and v.timepoint.code == "m3")
    return [
        ("GET", f"/patients/{patient.id}"),
        ("GET", f"/patients/{patient.id}/treatment"),
        ("GET", f"/patients/{patient.id}/visits/{visit.id}"),
        ("GET", f"/patients/{patient.id}/adverse-events/new"),
        ("GET", f"/patients/{patient.id}/charts/vas_pain.svg"),
        ("POST", f"/patients/{patient.id}/visits/unscheduled"),
        ("POST", f"/patients/{patient.id}/treatment"),
        ("GET", f"/followup/visits/{visit.id}"),
        ("POST", f"/followup/visits/{visit.id}/contact"),
        ("POST", f"/followup/visits/{visit.id}/not-applicable"),
        ("GET", f"/followup/patients/{patient.id}/withdraw"),
    ]


@pytest.mark.parametrize("role", ["clinician", "coordinator", "admin"])
def test_staff_of_a_deactivated_site_reach_none_of_its_patients(
        app, browser, db, as_user, make_user, make_patient, site_a, role):
    patient = make_patient(site_a, treatment_date=TREATED, family_name="Closedsite")
    as_user(role, sites=[site_a])
    assert browser.get(f"/patients/{patient.id}").status_int == 200
    set_site_active(app, make_user, site_a, False)

    token = csrf_token(browser)
    for method, url in patient_urls(patient):
        if url.startswith("/followup") and role == "clinician":
            continue  # clinicians never manage follow-up (403 either way)
        response = browser.request(url, method=method, expect_errors=True,
                                   POST={"csrf_token": token} if method == "POST" else None)
        assert response.status_int in (403, 404), (method, url, response.status_int)
        assert "Closedsite" not in response.text
    listing = browser.get("/patients/", params={"q": "Closedsite"}).text
    assert patient.study_id not in listing
    home = browser.get("/home").text
    assert "deactivated by an administrator" in home
    assert f"{site_a.code} — {site_a.name}" in home
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Visit).where(
        Visit.patient_id == patient.id, Visit.timepoint_id.is_(None))) == 0

    set_site_active(app, make_user, site_a, True)  # reactivated: open again
    assert browser.get(f"/patients/{patient.id}").status_int == 200
    assert "deactivated" not in browser.get("/home").text


def test_a_deactivated_site_is_no_enrolment_choice(app, browser, db, as_user, make_user,
                                                   site_a, site_b):
    as_user("clinician", sites=[site_a, site_b])
    set_site_active(app, make_user, site_a, False)
    form = open_form(browser, "/patients/new", field="family_name")
    offered = [value for value, _selected, _text in form["site_id"].options]
    assert offered == [str(site_b.id)]
    refused = submit(fill(form, enrol_data(site_a.id)))  # forced in: a tampered request
    assert refused.status_int == 422
    assert "Not a valid choice" in refused.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Patient)) == 0
    assert submit(fill(form_for(refused, field="family_name"),
                       {"site_id": str(site_b.id)})).status_int == 302


def test_only_deactivated_sites_means_no_enrolment(app, browser, as_user, make_user, site_a):
    as_user("clinician", sites=[site_a])
    set_site_active(app, make_user, site_a, False)
    page = browser.get("/patients/new")
    assert "not assigned to an active site" in page.text
    assert form_for(page, field="family_name")["site_id"].options == []


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_worklist_and_call_list_leave_a_deactivated_site_out(
        app, browser, db, as_user, make_user, make_patient, site_a, site_b, role):
    closed = make_patient(site_a, treatment_date=TREATED, family_name="Closedsite")
    open_ = make_patient(site_b, treatment_date=TREATED, family_name="Opensite")
    as_user(role, sites=[site_a, site_b])
    before = browser.get("/followup/", params={"status": "all"}).text
    assert closed.study_id in before
    set_site_active(app, make_user, site_a, False)

    page = browser.get("/followup/", params={"status": "all"})
    assert closed.study_id not in page.text
    assert open_.study_id in page.text
    filters = form_for(page, field="site")
    assert [value for value, _s, _t in filters["site"].options] == ["", str(site_b.id)]
    assert browser.get("/followup/", params={"site": site_a.id},
                       expect_errors=True).status_int == 400
    download = submit(form_for(page, action="/followup/call-list.csv"))
    assert download.status_int == 200
    assert "Opensite" in download.text
    assert "Closedsite" not in download.text
    home = browser.get("/home").text
    assert closed.study_id not in home


def test_a_deactivated_site_gets_no_reminders_and_no_digest_lines(app, db, make_user,
                                                                   make_patient, site_a, site_b):
    from registry.followup.reminders import (
        coordinator_digests,
        patient_reminders,
        run_reminders,
    )
    from registry.followup.status import site_todays

    make_user("coordinator", sites=[site_a, site_b])
    make_patient(site_a, treatment_date=TREATED, email_reminders=True)
    make_patient(site_b, treatment_date=TREATED, email_reminders=True)
    with capture.reason(db, "site closed"):
        site_a.active = False
    with app.app_context():
        todays = site_todays(db, select(Site.id).where(Site.active.is_(True)))
        reminders = patient_reminders(db, todays)
        digests = coordinator_digests(db, todays, TODAY)
        lines: list[str] = []
        summary = run_reminders(db, app.config, dry_run=True, echo=lines.append)  # rolls back
    assert set(todays) == {site_b.id}
    assert reminders
    assert {reminder.clinic for reminder in reminders} == {site_b.name}
    assert digests
    assert {line.site_code for digest in digests for line in digest.lines} == {site_b.code}
    assert summary.planned == len(reminders) + len(digests)
    assert not any(site_a.name in line for line in lines)
