"""Every POST form of every page, submitted as rendered, as every role: never 409 or 500.

Tests that post their own field values pass even when a page renders a form that cannot
work (a hidden ``version`` lost from the template gave "Mark visit not applicable" a 409
on every use).  Here every GET page of the route matrix is opened as every role (and
signed out) with CSRF protection on; each ``<form method="post">`` found is filled the
way a user would (empty visible fields get plausible values by type and name, hidden
inputs are sent as rendered, the submit button is pressed) and submitted.  The answer
must be a success (2xx/3xx) or a validation message (422 showing the error).  A field
with no fill rule fails the test instead of being skipped, so a new form is covered the
day it appears.  Each submission runs inside a savepoint that is rolled back, with the
browser's cookies restored, so sign-out, password changes and withdrawals cannot spoil
the next form.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from registry.models import AdverseEvent, User
from registry.models.base import utcnow
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.webtest import sign_in, submit, webtest
from tests.security.form_filling import TODAY, UnknownFillRule, fill, read_forms
from tests.security.test_route_matrix import ROLES, _routes, _url

_numbers = itertools.count(1)
ERROR_MARKERS = ('class="error"', 'class="error-summary"', "flash-error")


@pytest.fixture
def app_settings() -> dict[str, object]:
    return {"WTF_CSRF_ENABLED": True, "TODAY": TODAY.isoformat()}


@pytest.fixture
def form_world(db: Session, world: dict) -> dict:
    """The route matrix's world, plus what makes the remaining forms appear: a serious
    event awaiting review ("Mark reviewed") and a locked account ("Unlock")."""
    db.add(AdverseEvent(patient_id=world["own"]["patient_id"], onset_date=date(2026, 2, 1),
                        description="effusion", category="swelling", severity_grade=3,
                        serious=True, serious_criterion="hospitalisation",
                        relatedness="possibly", outcome="ongoing"))
    db.get(User, world["own"]["user_id"]).locked_until = utcnow() + timedelta(hours=1)
    db.flush()
    return {**world["own"], "key": str(world["own"]["cohort_id"])}


@contextmanager
def isolated(connection: Connection, browser: webtest.TestApp) -> Iterator[None]:
    """Undo a submission: its database changes and what it did to the browser's cookies."""
    cookies = list(browser.cookiejar)
    savepoint = connection.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()
        browser.cookiejar.clear()
        for cookie in cookies:
            browser.cookiejar.set_cookie(cookie)


def _post_forms(page: webtest.TestResponse) -> list[webtest.forms.Form]:
    """The page's POST forms, each once."""
    return [form for form in read_forms(page) if form.method.lower() == "post"]


def outcome(response: webtest.TestResponse) -> str | None:
    """None for an acceptable answer, else what is wrong with it."""
    status = response.status_int
    if status < 400:
        return None
    if status == 422 and any(marker in response.text for marker in ERROR_MARKERS):
        return None
    if status == 422:
        return "422 without an error message on the page"
    main = response.html.find("main") if response.content_type == "text/html" else None
    text = main.get_text(" ", strip=True) if main else response.text
    return f"{status}: {text[:300]!r}"


def _endpoint(app: Flask, path: str) -> str | None:
    try:
        return str(app.url_map.bind("localhost").match(path, method="POST")[0])
    except HTTPException:
        return None


def try_form(app: Flask, browser: webtest.TestApp, form: webtest.forms.Form, action: str,
             credentials: dict[str, str]) -> str | None:
    """Fill and submit one form, then undo it; what went wrong, if anything."""
    connection = app.extensions["registry.sessionmaker"].kw["bind"]
    signing_in = _endpoint(app, action) == "auth.login"
    with isolated(connection, browser):
        try:
            fill(form, f"form-test-{next(_numbers)}@example.org",
                 credentials if signing_in else {})
        except UnknownFillRule as error:
            return str(error)
        try:
            return outcome(submit(form))
        except Exception as error:  # noqa: BLE001 - TESTING propagates a 500's cause
            return f"500: {type(error).__name__}: {error}"


def submit_every_form(app: Flask, browser: webtest.TestApp, values: dict,
                      credentials: dict[str, str]) -> tuple[list[str], list[str]]:
    """Submit each distinct POST form found on the GET pages; (failures, actions tried).

    ``credentials``: what a user types into the sign-in form."""
    failures: list[str] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for endpoint, method, arguments in _routes(app):
        if method != "GET":
            continue
        url = _url(app, endpoint, arguments, values)
        try:
            page = browser.get(url, expect_errors=True)
        except Exception as error:  # noqa: BLE001 - TESTING propagates a 500's cause
            failures.append(f"GET {url} ({endpoint}): 500: {type(error).__name__}: {error}")
            continue
        if page.status_int != 200 or page.content_type != "text/html":
            continue
        for form in _post_forms(page):
            action = urlsplit(form.action).path or urlsplit(url).path
            signature = (action, tuple(sorted(str(name) for name in form.fields)))
            if signature in seen:
                continue  # the same form on another page (sign-out is on every page)
            seen.add(signature)
            problem = try_form(app, browser, form, action, credentials)
            if problem:
                failures.append(f"form posting to {action} on {url} ({endpoint}): {problem}")
    return failures, sorted(action for action, _names in seen)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_form_works_as_rendered(app, browser, make_user, form_world, site_a, role):
    user = make_user(role or "clinician", sites=[site_a] if role != "researcher" else [])
    if role is not None:
        sign_in(browser, user.email)
    failures, tried = submit_every_form(app, browser, form_world,
                                        {"email": user.email, "password": PASSWORD})
    assert tried, "no form was found"
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("html", [
    '<input type="file" name="scan">',
    '<input type="color" name="colour">',
    '<input type="password" name="pin">',
    '<select name="site" required><option value="">Choose…</option></select>',
    '<input type="radio" name="knee" value="">',
], ids=["file", "unknown type", "unknown password", "no valid option", "no valid radio"])
def test_a_field_without_a_fill_rule_fails_loudly(html):
    form = webtest.forms.Form(None, f'<form method="post">{html}</form>')
    with pytest.raises(UnknownFillRule):
        fill(form, "someone@example.org", {})


def test_fill_keeps_what_a_user_keeps_and_fills_the_rest():
    form = webtest.forms.Form(None, """<form method="post">
        <input type="hidden" name="version" value="3">
        <input type="date" name="onset_date"><input type="date" name="birth_date">
        <input type="number" name="vas" min="0" max="100" step="1">
        <select name="category" required><option value="">Choose…</option>
          <option value="swelling">Swelling</option></select>
        <select name="action"><option value="">— none recorded —</option>
          <option value="surgery">Surgery</option></select>
        <input type="radio" name="item" value="1"><input type="radio" name="item" value=""
          checked>
        <textarea name="note"></textarea><input name="code" value="AAA" readonly>
        <input type="submit" name="submit" value="Save"></form>""")
    fill(form, "someone@example.org", {})
    assert dict(form.submit_fields("submit")) == {
        "version": "3", "onset_date": TODAY.isoformat(), "birth_date": "1960-05-17",
        "vas": "50", "category": "swelling", "action": "", "item": "", "note": "test",
        "code": "AAA", "submit": "Save"}


def test_a_disabled_field_is_not_sent():
    form = webtest.forms.Form(None, '<form method="post"><input name="a" value="1" disabled>'
                                    '<input name="b" value="2"></form>')
    fill(form, "someone@example.org", {})
    assert form.submit_fields() == [("b", "2")]
