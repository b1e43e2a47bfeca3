"""`registry remind` carries the patient's self-report link (a real SMTP server, aiosmtpd):
the e-mailed link opens the patient's form, in the patient's language; reminders stop
once the self-report is sent; a failed send leaves no link that nobody received."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import func, select

from registry import audit_capture as capture
from registry.models import Reminder, SelfReport, SelfReportLink
from registry.selfreport import service
from tests.e2e.server import free_port
from tests.followup.test_reminders import HEALTH_WORDS, body
from tests.selfreport.conftest import TODAY, TREATED, visit_of

URL = re.compile(r"https://registry\.example\.org/r/([A-Za-z0-9_-]{43})")


@pytest.fixture
def app_settings(smtp: Any) -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "BASE_URL": "https://registry.example.org",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp[0].port, "SMTP_SECURITY": "none",
            "SMTP_SENDER": "registry@clinic.example"}


@pytest.fixture
def reminded(make_patient, site_a):
    """A patient at site A who agreed to e-mail reminders; the 3-month window is open."""
    return make_patient(site_a, treatment_date=TREATED, email="ana@example.org",
                        email_reminders=True)


def _remind(runner) -> Any:
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 0, result.output
    return result


def _links(db) -> list[SelfReportLink]:
    db.expire_all()
    return list(db.scalars(select(SelfReportLink).order_by(SelfReportLink.id)))


def test_window_open_email_carries_a_link_that_opens_the_form(app, runner, db, browser, inbox,
                                                              reminded):
    _remind(runner)
    (message,) = inbox.to("ana@example.org")
    text = body(message)
    assert message["Subject"] == "Your follow-up visit at Clinic A"
    (token,) = URL.findall(text)
    words = URL.sub("", text).lower()  # the random token could spell anything
    assert not [word for word in HEALTH_WORDS if word in words]
    assert reminded.study_id.lower() not in words
    (link,) = _links(db)
    assert (link.channel, link.created_by_id) == ("email", None)
    assert link.self_report.visit_id == visit_of(reminded, "m3").id
    with app.app_context():  # the pinned TODAY
        assert service.find_link(db, token).id == link.id
    assert link.token_hash != token
    assert token not in str(link.token_hash)
    page = browser.get(f"/r/{token}")  # the patient opens the e-mailed link
    assert page.status_int == 200
    assert "Clinic A" in page.text
    assert reminded.identity.family_name not in page.text


def test_each_email_gets_its_own_link_and_overdue_follows(app, runner, db, inbox, reminded):
    """The overdue e-mail (grace passed, window still open) carries a new link too."""
    _remind(runner)
    app.config["TODAY"] = (TODAY + timedelta(days=20)).isoformat()  # day 110: overdue
    _remind(runner)
    first, second = inbox.to("ana@example.org")
    assert second["Subject"] == "Reminder: your follow-up visit at Clinic A"
    tokens = [URL.findall(body(message))[0] for message in (first, second)]
    assert tokens[0] != tokens[1]
    assert len(_links(db)) == 2
    assert db.scalar(select(func.count()).select_from(SelfReport)) == 1  # one per visit


def _submit_answers(app, db, visit) -> None:
    with app.app_context():
        _submit_in_context(db, visit)


def _submit_in_context(db, visit) -> None:
    link, _token = service.issue_link(db, visit, channel="link", created_by_id=None)
    service.act_as_link(db, link)
    report = service.open_report(db, link)
    assert service.save_answers(db, report, "vas", {"vas.VAS": "40"}) == {}
    assert service.submit(db, report, mode="self_link") == "submitted"
    db.flush()


def test_no_reminder_once_the_patient_submitted(app, runner, db, inbox, reminded):
    _submit_answers(app, db, visit_of(reminded, "m3"))
    _remind(runner)
    app.config["TODAY"] = (TODAY + timedelta(days=20)).isoformat()
    _remind(runner)
    assert inbox.to("ana@example.org") == []
    assert db.scalar(select(func.count()).select_from(Reminder)
                     .where(Reminder.visit_id == visit_of(reminded, "m3").id)) == 0


def test_no_reminder_while_a_submission_awaits_review(app, runner, db, inbox, reminded):
    """The patient sent answers that staff must review (the visit is not done yet)."""
    _remind(runner)
    report = db.scalar(select(SelfReport))
    report.state = "pending_review"
    db.flush()
    app.config["TODAY"] = (TODAY + timedelta(days=20)).isoformat()
    _remind(runner)
    assert [m["Subject"] for m in inbox.to("ana@example.org")] == [
        "Your follow-up visit at Clinic A"]  # the overdue reminder was not sent


def test_spanish_patient_gets_the_email_in_spanish(app, runner, db, inbox, reminded):
    reminded.language = "es"
    db.flush()
    _remind(runner)
    (message,) = inbox.to("ana@example.org")
    text = body(message)
    target = visit_of(reminded, "m3").target_date
    assert format_date(target, format="long", locale="es") in text  # "28 de mayo de 2026"
    assert format_date(target, format="long", locale="en") not in text
    assert message["Subject"] != "Your follow-up visit at Clinic A"
    assert "Hello," not in text
    (token,) = URL.findall(text)
    with app.app_context():
        assert service.find_link(db, token).self_report.language == "es"


def test_without_a_text_in_the_patients_language_the_email_asks_to_book(runner, db, inbox,
                                                                        reminded):
    """KOOS only at 3 months, and no KOOS text pack loaded: nothing to self-report."""
    with capture.reason(db, "test: KOOS only at 3 months"):
        visit_of(reminded, "m3").timepoint.instruments = ["koos"]
    _remind(runner)
    (message,) = inbox.to("ana@example.org")
    assert "/r/" not in body(message)
    assert "to book an appointment" in body(message)
    assert visit_of(reminded, "m3").target_date.isoformat() in body(message)
    assert _links(db) == []


def test_a_failed_send_leaves_no_link_and_the_retry_sends_one(app, runner, db, inbox,
                                                              reminded):
    working = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 1
    assert _links(db) == []  # nobody received it: no link, no self-report shown as sent
    assert db.scalar(select(func.count()).select_from(SelfReport)) == 0
    app.config["SMTP_PORT"] = working
    _remind(runner)
    (message,) = inbox.to("ana@example.org")
    (token,) = URL.findall(body(message))
    (link,) = _links(db)
    with app.app_context():
        assert service.find_link(db, token).id == link.id


def test_dry_run_says_which_reminders_carry_a_link(runner, db, inbox, reminded):
    result = runner.invoke(args=["remind", "--dry-run"])
    assert result.exit_code == 0
    assert "would send window_open to ana@example.org" in result.output
    assert "in en, with a self-report link" in result.output
    assert _links(db) == []
