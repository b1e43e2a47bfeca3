"""A form saved after the idle timeout is kept and given back after signing in again.

Driven as a browser would (WebTest, CSRF on): open the visit page, type answers, stay idle
past the limit (the session cookie's ``last_seen`` moved back, as 31 minutes of idling
would leave it), press Save, sign in on the page that follows, find the answers back.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.auth import pending
from registry.models import PendingSubmission, Visit, utcnow
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.webtest import sign_in, submit

KEPT = "Your session had expired; your entries were kept"
TYPED = {"visit_date": "2025-12-30", "vas-VAS": "37", "womac-P1": "3", "womac-P2": "0"}


@pytest.fixture
def app_settings():
    return {"WTF_CSRF_ENABLED": True, "TODAY": "2026-06-01"}


@pytest.fixture
def patient(make_patient, site_a):
    return make_patient(site_a, treatment_date=date(2026, 1, 1))


@pytest.fixture
def clinician(make_user, site_a):
    return make_user("clinician", sites=[site_a])


def idle(app, browser, minutes: float) -> None:
    """Move the session's last activity ``minutes`` into the past (as idling would)."""
    serializer = app.session_interface.get_signing_serializer(app)
    for cookie in browser.cookiejar:
        if cookie.name == app.config["SESSION_COOKIE_NAME"]:
            data = serializer.loads(cookie.value)
            data["last_seen"] -= minutes * 60
            cookie.value = serializer.dumps(data)


def session_data(app, browser) -> dict:
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.loads(browser.cookies[app.config["SESSION_COOKIE_NAME"]])


def visit_url(patient) -> str:
    return f"/patients/{patient.id}/visits/{patient.visits[0].id}"


def type_visit(browser, patient):
    form = browser.get(visit_url(patient)).forms["visit-form"]
    for name, value in TYPED.items():
        form[name] = value
    return form


def login_form(page):
    return next(form for form in page.forms.values() if "email" in form.fields)


def sign_in_on(page, email: str, password: str = PASSWORD):
    form = login_form(page)
    form["email"], form["password"] = email, password
    return form.submit()


def kept_rows(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count(PendingSubmission.id)))


def test_expired_save_is_kept_and_given_back_after_sign_in(app, browser, db, clinician,
                                                             patient):
    sign_in(browser, clinician.email)
    form = type_visit(browser, patient)
    idle(app, browser, 31)
    response = submit(form)
    assert response.status_int == 302
    assert response.headers["Location"] == f"/login?next={visit_url(patient)}"
    db.expire_all()
    assert db.get(Visit, patient.visits[0].id).status != "done"  # nothing saved
    kept = db.scalar(select(PendingSubmission))
    assert kept.user_id == clinician.id
    assert ["vas-VAS", "37"] in kept.fields
    assert not any(name == "csrf_token" for name, _value in kept.fields)
    cookie = session_data(app, browser)
    assert pending._hash(cookie[pending.KEPT_KEY]) == kept.token_hash
    assert "vas" not in repr(cookie)  # the answers stay on the server

    login_page = response.follow()
    assert "They have been kept: sign in again to get them back." in login_page.text
    signed_in = sign_in_on(login_page, clinician.email)
    assert signed_in.headers["Location"] == visit_url(patient)
    page = signed_in.follow()
    assert KEPT in page.text
    restored = page.forms["visit-form"]
    assert {name: restored[name].value for name in TYPED} == TYPED
    db.expire_all()
    assert db.get(Visit, patient.visits[0].id).status != "done"  # still only shown

    # Two of WOMAC's 24 items answered: the save asks to confirm the unanswered items
    # (nothing saved yet); the re-shown form still holds the kept answers.
    refused = submit(restored)
    assert refused.status_int == 422
    assert "More than half of the items are unanswered" in refused.text
    again = refused.forms["visit-form"]
    assert {name: again[name].value for name in TYPED} == TYPED
    again["confirm_incomplete"] = True
    saved = submit(again)
    assert saved.status_int == 302, saved.status
    db.expire_all()
    visit = db.get(Visit, patient.visits[0].id)
    assert (visit.status, visit.visit_date) == ("done", date(2025, 12, 30))
    assert kept_rows(db) == 0  # used, so gone
    again = browser.get(visit_url(patient))
    assert KEPT not in again.text


def test_sign_in_after_an_expired_post_lands_on_the_form_page_even_with_nothing_kept(
        app, browser, db, clinician, patient):
    sign_in(browser, clinician.email)
    page = browser.get(f"/patients/{patient.id}")
    token = page.forms[0]["csrf_token"].value
    idle(app, browser, 31)
    response = browser.post(f"/patients/{patient.id}/visits/unscheduled", {"csrf_token": token},
                            headers={"Referer": f"http://localhost/patients/{patient.id}"})
    assert response.headers["Location"] == f"/login?next=/patients/{patient.id}"
    assert kept_rows(db) == 0  # a bare button: nothing to keep
    assert sign_in_on(response.follow(), clinician.email).headers["Location"] == (
        f"/patients/{patient.id}")


def test_a_kept_form_is_never_given_to_another_user(app, browser, db, clinician, patient,
                                                      make_user, site_a):
    sign_in(browser, clinician.email)
    form = type_visit(browser, patient)
    idle(app, browser, 31)
    login_page = submit(form).follow()
    assert kept_rows(db) == 1
    colleague = make_user("clinician", sites=[site_a])
    landed = sign_in_on(login_page, colleague.email).follow()
    assert KEPT not in landed.text
    assert landed.forms["visit-form"]["vas-VAS"].value == ""
    assert kept_rows(db) == 0  # deleted, not left for anyone


def test_a_save_after_the_session_already_ended_is_kept_too(app, browser, db, clinician,
                                                             patient):
    """Another tab (or the warning's ping) met the expiry first and ended the session."""
    sign_in(browser, clinician.email)
    form = type_visit(browser, patient)
    idle(app, browser, 31)
    assert "/login" in browser.get("/home").headers["Location"]
    response = submit(form)  # the open page's CSRF token still verifies
    assert response.headers["Location"] == f"/login?next={visit_url(patient)}"
    page = sign_in_on(response.follow(), clinician.email).follow()
    assert page.forms["visit-form"]["vas-VAS"].value == "37"


def test_a_kept_form_expires_after_a_day(app, browser, db, clinician, patient):
    sign_in(browser, clinician.email)
    form = type_visit(browser, patient)
    idle(app, browser, 31)
    login_page = submit(form).follow()
    db.expire_all()
    kept = db.scalar(select(PendingSubmission))
    assert kept.expires_at - utcnow() > timedelta(hours=23)
    kept.expires_at = utcnow() - timedelta(seconds=1)
    db.flush()
    page = sign_in_on(login_page, clinician.email).follow()
    assert KEPT not in page.text
    assert page.forms["visit-form"]["vas-VAS"].value == ""
    assert kept_rows(db) == 0  # swept at sign-in


def test_passwords_are_never_kept(app, browser, db, clinician):
    sign_in(browser, clinician.email)
    form = next(form for form in browser.get("/account/password").forms.values()
                if "new_password" in form.fields)
    form["current_password"] = PASSWORD
    form["new_password"] = form["confirm"] = "an entirely new passphrase"
    idle(app, browser, 31)
    assert "/login" in submit(form).headers["Location"]
    assert kept_rows(db) == 0


def test_keepalive_restarts_the_idle_limit(app, browser, clinician):
    sign_in(browser, clinician.email)
    idle(app, browser, 29)
    answer = browser.get("/account/session")
    assert answer.json == {"seconds_left": 30 * 60}
    idle(app, browser, 29)
    assert browser.get("/home").status_int == 200  # 58 minutes since sign-in, 29 idle


def test_signed_in_pages_carry_the_expiry_warning(browser, clinician):
    assert "session-expiry.js" not in browser.get("/login").text
    sign_in(browser, clinician.email)
    page = browser.get("/home").text
    box = re.search(r'<div class="session-expiry" id="session-expiry"[^>]*>', page).group(0)
    assert 'data-idle-seconds="1800"' in box
    assert 'data-warn-seconds="120"' in box
    assert 'data-keepalive-url="/account/session"' in box
    left = int(re.search(r'data-seconds-left="(\d+)"', box).group(1))
    assert 1700 < left <= 1800
    assert '<p id="session-expiry-message" role="alert"></p>' in page
    assert '<script src="/static/session-expiry.js"></script>' in page
    assert browser.get("/static/session-expiry.js").status_int == 200


def test_the_token_is_kept_only_as_a_hash(app, db, clinician, patient):
    with app.test_request_context(visit_url(patient), method="POST",
                                  data={"vas-VAS": "12", "csrf_token": "x"}):
        from flask import request

        token, page = pending.keep(db, clinician.id, request)
    assert page == visit_url(patient)
    stored = db.scalar(select(PendingSubmission.token_hash))
    assert token not in stored
    assert len(stored) == 64


@pytest.mark.parametrize("path", ["/no-such-page", "/patients/" + "x" * 3000,
                                  "/account/session"])
def test_a_post_to_no_form_route_keeps_nothing_and_spares_the_kept_form(
        app, browser, db, clinician, patient, path):
    """An unknown path or a GET-only route answers 404/405 after the request hooks, with
    no CSRF check: it must neither keep anything nor replace the form already kept."""
    sign_in(browser, clinician.email)
    form = type_visit(browser, patient)
    idle(app, browser, 31)
    assert submit(form).status_int == 302
    assert kept_rows(db) == 1
    stray = browser.post(path, {"note": "x"}, expect_errors=True,
                         headers={"Referer": f"http://localhost{visit_url(patient)}"})
    assert stray.status_int in {302, 404, 405}
    assert kept_rows(db) == 1
    db.expire_all()
    assert ["vas-VAS", "37"] in db.scalar(select(PendingSubmission)).fields
