"""`registry remind`: e-mails through a real SMTP server (aiosmtpd), exactly once."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from email.message import Message
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import select

from registry.db import get_session, writing
from registry.followup.reminders import RunSummary, claim, run_reminders
from registry.models import (
    IndexKnee,
    Patient,
    PatientIdentity,
    Reminder,
    Site,
    Treatment,
)
from registry.scheduling import default_protocol, schedule_visits
from tests.e2e.server import free_port
from tests.fixtures.accounts import PASSWORD
from tests.followup.conftest import TODAY, visit_of

DUE_M3 = 95  # m3 window open (days 75–120), grace not passed (105)
OVERDUE_M3 = 115
HEALTH_WORDS = ("knee", "pain", "osteoarthritis", "cell", "womac", "koos", "treatment",
                "adverse", "injection")


def smtp_settings(port: int) -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
            "SMTP_SECURITY": "none", "SMTP_SENDER": "registry@clinic.example"}


@pytest.fixture
def app_settings(smtp: Any) -> dict[str, Any]:
    return smtp_settings(smtp[0].port)


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)  # a single-part message: its decoded body
    return payload.decode()


@pytest.fixture
def cohort(db, make_site, make_user, treated_days_ago):
    """Site A: a due and an overdue patient who agreed to e-mail, one who did not; site B:
    an overdue patient; a coordinator per site and an admin without sites."""
    site_a, site_b = make_site("AAA", "Clinic A"), make_site("BBB", "Clinic B")
    people = {
        "due": treated_days_ago(site_a, DUE_M3, email="due@example.org", email_reminders=True),
        "overdue": treated_days_ago(site_a, OVERDUE_M3, email="late@example.org",
                                    email_reminders=True),
        "no_consent": treated_days_ago(site_a, OVERDUE_M3, email="no@example.org"),
        "site_b": treated_days_ago(site_b, OVERDUE_M3, email="b@example.org",
                                   email_reminders=True),
        "coordinator_a": make_user("coordinator", sites=[site_a], email="coord.a@example.org"),
        "coordinator_b": make_user("coordinator", sites=[site_b], email="coord.b@example.org"),
        "admin": make_user("admin", sites=[], email="admin@example.org"),
        "clinician": make_user("clinician", sites=[site_a], email="doc@example.org"),
    }
    return people


def test_reminders_and_digests_reach_the_smtp_server(runner, db, inbox, cohort):
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 0, result.output
    assert sorted(message["To"] for message in inbox.messages) == [
        "b@example.org", "coord.a@example.org", "coord.b@example.org", "due@example.org",
        "late@example.org"]
    assert all(sender == "registry@clinic.example" for sender, _to in inbox.envelopes)

    due_visit = visit_of(cohort["due"], "m3")
    (opened,) = inbox.to("due@example.org")
    assert opened["Subject"] == "Your follow-up visit at Clinic A"
    assert "“3 months”" in body(opened)
    # The date as the patient reads it (the e-mail carries their self-report link now).
    assert format_date(due_visit.target_date, format="long", locale="en") in body(opened)
    (late,) = inbox.to("late@example.org")
    assert late["Subject"] == "Reminder: your follow-up visit at Clinic A"
    for message in (opened, late):
        text = body(message).lower()
        assert not [word for word in HEALTH_WORDS if word in text]
        assert cohort["due"].study_id.lower() not in text

    (digest,) = inbox.to("coord.a@example.org")
    assert "2 overdue" in digest["Subject"]
    assert cohort["overdue"].study_id in body(digest)
    assert cohort["no_consent"].study_id in body(digest)
    assert cohort["site_b"].study_id not in body(digest)
    assert "Family" not in body(digest)  # study IDs only, no names

    db.expire_all()
    log = {(row.kind, row.recipient): row for row in db.scalars(select(Reminder))}
    assert set(log) == {("window_open", "due@example.org"), ("overdue", "late@example.org"),
                        ("overdue", "b@example.org"),
                        ("coordinator_digest", "coord.a@example.org"),
                        ("coordinator_digest", "coord.b@example.org")}
    assert all(row.status == "sent" and row.sent_at is not None for row in log.values())
    assert log[("window_open", "due@example.org")].visit_id == due_visit.id
    assert log[("coordinator_digest", "coord.a@example.org")].digest_date == TODAY


def test_a_second_run_sends_nothing_again(runner, inbox, cohort):
    assert runner.invoke(args=["remind"]).exit_code == 0
    first = len(inbox.messages)
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 0
    assert len(inbox.messages) == first
    assert "0 sent" in result.output


def test_overdue_follows_window_open_for_the_same_visit(app, runner, db, inbox, cohort):
    runner.invoke(args=["remind"])
    assert [m["Subject"] for m in inbox.to("due@example.org")] == [
        "Your follow-up visit at Clinic A"]
    app.config["TODAY"] = (TODAY + timedelta(days=12)).isoformat()  # day 107: overdue
    runner.invoke(args=["remind"])
    assert [m["Subject"] for m in inbox.to("due@example.org")] == [
        "Your follow-up visit at Clinic A", "Reminder: your follow-up visit at Clinic A"]
    # A new day brings a new digest; patients already reminded are not reminded again.
    assert len(inbox.to("late@example.org")) == 1
    assert len(inbox.to("coord.a@example.org")) == 2


def test_dry_run_prints_and_sends_or_claims_nothing(runner, db, inbox, cohort):
    result = runner.invoke(args=["remind", "--dry-run"])
    assert result.exit_code == 0
    assert "would send window_open to due@example.org" in result.output
    assert "would send coordinator_digest to coord.a@example.org" in result.output
    assert "5 message(s) would be sent" in result.output
    assert inbox.messages == []
    db.expire_all()
    assert db.scalars(select(Reminder)).all() == []


def test_failed_sends_are_recorded_and_retried_next_run(app, runner, db, inbox, cohort):
    working_port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 1
    assert "5 failed" in result.output
    db.expire_all()
    rows = db.scalars(select(Reminder)).all()
    assert len(rows) == 5
    assert all(row.status == "failed" and row.error for row in rows)
    app.config["SMTP_PORT"] = working_port
    result = runner.invoke(args=["remind"])
    assert result.exit_code == 0, result.output
    assert len(inbox.messages) == 5
    db.expire_all()
    assert {row.status for row in db.scalars(select(Reminder))} == {"sent"}
    assert len(db.scalars(select(Reminder)).all()) == 5  # the same rows, claimed again


def test_a_claim_already_taken_is_refused_by_the_database(app, db, cohort):
    visit_id = visit_of(cohort["due"], "m3").id
    assert claim(db, kind="window_open", visit_id=visit_id, recipient="due@example.org")
    assert claim(db, kind="window_open", visit_id=visit_id, recipient="due@example.org") is None
    assert claim(db, kind="overdue", visit_id=visit_id, recipient="due@example.org")
    user_id = cohort["coordinator_a"].id
    assert claim(db, kind="coordinator_digest", user_id=user_id, digest_date=TODAY,
                 recipient="coord.a@example.org")
    assert claim(db, kind="coordinator_digest", user_id=user_id, digest_date=TODAY,
                 recipient="coord.a@example.org") is None


def test_unknown_smtp_security_is_a_clear_error(app, runner, cohort):
    app.config["SMTP_SECURITY"] = "tls-please"
    result = runner.invoke(args=["remind"])
    assert result.exit_code != 0
    assert "SMTP_SECURITY must be one of none, starttls, ssl" in result.output


# -- two runs at once, against a real committed database --------------------------------

def _seed(session: Any, patients: int) -> list[str]:
    site = Site(code="CCC", name="Clinic C")
    session.add(site)
    session.flush()
    from registry.auth.services import create_user

    create_user(session, email="coord.c@example.org", full_name="Coordinator C",
                role="coordinator", password=PASSWORD, site_codes=["CCC"])
    protocol = default_protocol(session, site.id)
    addresses = []
    for number in range(1, patients + 1):
        treated = TODAY - timedelta(days=DUE_M3 if number % 2 else OVERDUE_M3)
        address = f"patient{number}@example.org"
        patient = Patient(study_id=f"CCC-{number:04d}", site_id=site.id, site_sequence=number,
                          protocol_id=protocol.id, sex="female", birth_date=date(1960, 1, 1),
                          consent_date=treated - timedelta(days=10))
        patient.identity = PatientIdentity(site_id=site.id, family_name="F", given_name="G",
                                           medical_record_number=f"M{number}", email=address,
                                           email_reminders=True)
        patient.index_knee = IndexKnee(laterality="left", kl_grade=2, eligibility={})
        patient.treatment = Treatment(treatment_date=treated, cell_source="bmac",
                                      product_name="P", lot_number="L", injections=1,
                                      co_interventions=[], operator="Dr")
        session.add(patient)
        session.flush()
        schedule_visits(session, patient, treated)
        addresses.append(address)
    session.commit()
    return addresses


def test_two_concurrent_runs_send_each_reminder_exactly_once(migrated_database_url, tmp_path,
                                                             smtp, app_factory):
    controller, inbox = smtp
    app = app_factory(migrated_database_url, tmp_path / "instance",
                   **smtp_settings(controller.port))
    with app.app_context(), writing():
        addresses = _seed(get_session(), 12)
    inbox.delay = 0.05
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    summaries: list[RunSummary] = []

    def run() -> None:
        try:
            with app.app_context(), writing():
                start.wait()
                summaries.append(run_reminders(get_session(), app.config,
                                               echo=lambda _line: None))
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(summary.sent for summary in summaries) == 13
    # Both runs planned (some of) the same messages: the database refused the second claim.
    assert sum(summary.planned for summary in summaries) > 13
    assert sum(summary.skipped for summary in summaries) > 0
    received = sorted(message["To"] for message in inbox.messages)
    assert received == sorted([*addresses, "coord.c@example.org"])  # once each
    with app.app_context():
        rows = get_session().scalars(select(Reminder)).all()
        assert len(rows) == 13
        assert {row.status for row in rows} == {"sent"}
    app.extensions["registry.engine"].dispose()
