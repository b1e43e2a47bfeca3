"""Token abuse on the patient's pages: one plain 404 for every wrong token on every /r/
URL, a token reaches only its own report, and a per-address limit on failures."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry.models import RequestThrottle, SelfReport, SelfReportLink
from registry.selfreport import service, tokens
from tests.selfreport.conftest import TODAY
from tests.selfreport.patient_pages import answer_all, issue, press, step_form

FORGED = tokens.new_token()[0]  # well formed, never issued
MALFORMED = ("short", "x" * 44, "a" * 42 + "!", "a/b", "%E2%82%AC" * 43)
ADDRESS = "198.51.100.1"
KEY = f"selfreport-failed:{ADDRESS}"


@pytest.fixture
def browser(app):
    """A browser at one client address."""
    from tests.fixtures.webtest import webtest

    return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": ADDRESS})


def _csrf(browser, token: str) -> str:
    page = browser.get(f"/r/{token}")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]


def _every_url(browser, token: str, csrf: str) -> list:
    """Every patient URL of ``token``, GET and POST (with a valid CSRF token)."""
    answers = {"csrf_token": csrf, "vas.VAS": "10", "go": "next"}
    return [
        browser.get(f"/r/{token}", expect_errors=True),
        browser.get(f"/r/{token}/1", expect_errors=True),
        browser.get(f"/r/{token}/review", expect_errors=True),
        browser.post(f"/r/{token}/1", answers, expect_errors=True),
        browser.post(f"/r/{token}/submit", {"csrf_token": csrf}, expect_errors=True),
        browser.post(f"/r/{token}/language", {"csrf_token": csrf, "language": "es"},
                     expect_errors=True),
        browser.get(f"/r/{token}/elsewhere", expect_errors=True),
    ]


@pytest.fixture
def high_limit(app):
    app.config["SELF_REPORT_FAILED_LIMIT"] = 10_000  # these tests count 404s, not 429s


def test_every_wrong_token_gets_the_same_plain_404(app, db, browser, open_visit, patient,
                                                   make_patient, site_a, high_limit):
    valid = issue(app, db, open_visit)
    csrf = _csrf(browser, valid)
    expired = issue(app, db, open_visit)
    revoked = issue(app, db, open_visit)
    links = {link.token_hash: link for link in db.scalars(select(SelfReportLink))}
    links[tokens.token_hash(expired)].expires_on = TODAY - timedelta(days=1)
    service.revoke(db, links[tokens.token_hash(revoked)], user_id=None)
    db.flush()
    bodies = set()
    for token in (FORGED, expired, revoked, *MALFORMED):
        for response in _every_url(browser, token, csrf):
            assert response.status_int == 404, (token, response.request.path)
            assert response.headers["Cache-Control"] == "no-store"
            assert response.headers["Referrer-Policy"] == "no-referrer"
            bodies.add(response.text)
    assert len(bodies) == 1
    body = bodies.pop()
    assert "This link does not work" in body
    assert 'lang="es"' in body
    assert "Clinic A" not in body
    assert "<form" not in body
    assert "<nav" not in body


def test_a_token_reaches_only_its_own_report(app, db, browser, open_visit, make_patient,
                                             site_b):
    from tests.selfreport.conftest import TREATED, visit_of

    other = make_patient(site_b, treatment_date=TREATED)
    mine, theirs = issue(app, db, open_visit), issue(app, db, visit_of(other, "m3"))
    browser.get(f"/r/{theirs}")  # opened, so that its pages are reachable
    page = browser.get(f"/r/{mine}").click(href=f"/r/{mine}/1")
    assert "Clinic A" in page.text
    assert "Clinic B" not in page.text
    form = step_form(page)
    answer_all(form, line="77")
    # The form of A, sent to B's step address: every page is scoped by its token, so the
    # answers land in B's own draft at most, never in A's — and nothing of A shows there.
    form.action = f"/r/{theirs}/1"
    assert press(form).status_int == 303
    db.expire_all()
    reports = {report.visit_id: report for report in db.scalars(select(SelfReport))}
    assert reports[open_visit.id].draft == {}
    theirs_page = browser.get(f"/r/{theirs}/review")
    assert "Clinic B" in theirs_page.text
    assert "Clinic A" not in theirs_page.text
    # And no URL takes a report or visit id: the token is the only key.
    rules = [rule.rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("selfreport.") and rule.rule.startswith("/r/")]
    assert all(set(re.findall(r"<(?:\w+:)?(\w+)>", rule)) <= {"token", "step", "rest"}
               for rule in rules)


def test_failed_lookups_are_counted_even_though_the_page_answers_404(app, db, browser):
    response = browser.get(f"/r/{FORGED}", expect_errors=True)
    assert response.status_int == 404  # the request's own transaction was rolled back
    db.expire_all()
    counter = db.get(RequestThrottle, KEY)
    assert counter is not None
    assert counter.hits == 1


def test_too_many_failures_get_429_until_the_window_ends(app, db, browser, open_visit):
    valid = issue(app, db, open_visit)
    app.config["SELF_REPORT_FAILED_LIMIT"] = 3
    for _ in range(3):
        assert browser.get(f"/r/{FORGED}", expect_errors=True).status_int == 404
    blocked = browser.get(f"/r/{FORGED}", expect_errors=True)
    assert blocked.status_int == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    assert "Too many attempts" in blocked.text
    # Every /r/ request of that address, a valid token's too, until the window ends.
    assert browser.get(f"/r/{valid}", expect_errors=True).status_int == 429
    other_address = {"REMOTE_ADDR": "192.0.2.7"}
    assert browser.get(f"/r/{valid}", extra_environ=other_address).status_int == 200
    counter = db.get(RequestThrottle, KEY)
    counter.window_start -= timedelta(seconds=901)
    db.flush()
    assert browser.get(f"/r/{valid}").status_int == 200
    assert browser.get(f"/r/{FORGED}", expect_errors=True).status_int == 404


def test_valid_tokens_never_count(app, db, browser, open_visit, patient, make_patient,
                                  site_a):
    """A clinic's patients behind one address (NAT) are never blocked by each other."""
    from tests.selfreport.conftest import TREATED, visit_of

    app.config["SELF_REPORT_FAILED_LIMIT"] = 2
    tokens_ = [issue(app, db, visit_of(make_patient(site_a, treatment_date=TREATED), "m3"))
               for _ in range(5)]
    for token in tokens_ * 3:
        assert browser.get(f"/r/{token}").status_int == 200
        assert browser.get(f"/r/{token}/1").status_int == 200
    assert db.get(RequestThrottle, KEY) is None
