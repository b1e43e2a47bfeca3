"""Self-report links: hashed tokens, who can get one, expiry in the site's time zone,
revocation, and what ``find_link`` / ``open_report`` give back."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from registry import audit_capture as capture
from registry.models import AuditEvent, SelfReport, SelfReportLink
from registry.selfreport import service
from registry.services import ValidationFailed
from registry.textpacks import self_reportable
from tests.selfreport.conftest import TODAY, visit_of


def test_the_database_holds_only_the_tokens_hash(app, db, open_visit, staff):
    with app.test_request_context():
        link, token = service.issue_link(db, open_visit, channel="link",
                                         created_by_id=staff.id)
    assert len(token) == 43
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    for table in ("self_report_link", "self_report", "audit_event"):
        rows = db.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608 - fixed names
        assert token not in repr(rows), f"plain token stored in {table}"
    audit = db.scalars(select(AuditEvent.new_value).where(
        AuditEvent.entity_type == "self_report_link")).all()
    assert audit
    assert all(link.token_hash not in (value or "") for value in audit)


def test_a_link_works_until_the_visits_window_closes(app, db, open_visit, staff):
    with app.test_request_context():
        link, token = service.issue_link(db, open_visit, channel="email",
                                         created_by_id=staff.id)
        assert link.expires_on == open_visit.window_end
        assert service.find_link(db, token) is link
        report = link.self_report
        assert (report.visit_id, report.patient_id, report.site_id, report.language) == (
            open_visit.id, open_visit.patient_id, open_visit.patient.site_id, "en")
        assert service.link_url(token, app.config["BASE_URL"]) == \
            f"https://registry.example.org/r/{token}"


def test_an_unscheduled_visits_link_works_for_the_configured_days(app, db, patient, staff):
    from registry.clinical.services.visits import add_unscheduled_visit

    visit = add_unscheduled_visit(db, patient)
    with app.test_request_context():
        link, _token = service.issue_link(db, visit, channel="link", created_by_id=staff.id)
    assert link.expires_on == TODAY + timedelta(days=14)


def test_a_second_link_reuses_the_visits_self_report(app, db, open_visit, staff):
    with app.test_request_context():
        first, _ = service.issue_link(db, open_visit, channel="link", created_by_id=staff.id)
        second, _ = service.issue_link(db, open_visit, channel="email",
                                       created_by_id=staff.id)
    assert first.self_report_id == second.self_report_id
    assert first.token_hash != second.token_hash


def _refusal(app, db, visit, staff) -> str:
    with app.test_request_context(), pytest.raises(ValidationFailed) as caught:
        service.issue_link(db, visit, channel="link", created_by_id=staff.id)
    return caught.value.errors["visit"]


def test_visits_that_cannot_take_a_self_report_are_refused(app, db, patient, staff,
                                                            record_visit):
    done = record_visit(visit_of(patient, "m3"), TODAY, {"vas": {"VAS": 40}})
    assert "already recorded" in _refusal(app, db, done, staff)
    closed = visit_of(patient, "w2_6")  # window days 14-42 (+14 grace): long over
    assert "window closed" in _refusal(app, db, closed, staff)
    later = visit_of(patient, "m6_12")
    later.status, later.not_applicable_reason = "not_applicable", "moved away"
    db.flush()
    assert "not applicable" in _refusal(app, db, later, staff)
    with capture.reason(db, "test: withdrawn"):
        patient.status, patient.withdrawn_on = "withdrawn", TODAY
        patient.withdrawal_reason = "consent_withdrawn"
    assert "withdrawn" in _refusal(app, db, visit_of(patient, "m6_12"), staff)
    assert db.scalar(select(SelfReportLink.id)) is None


def test_a_submitted_self_report_gets_no_new_link(app, db, open_visit, staff):
    with app.test_request_context():
        link, _token = service.issue_link(db, open_visit, channel="link",
                                          created_by_id=staff.id)
        link.self_report.state = "submitted"
        db.flush()
        assert "already sent" in _refusal(app, db, open_visit, staff)


@pytest.mark.parametrize("token", ["", "short", "x" * 44, "!" * 43, "a" * 43])
def test_malformed_and_unknown_tokens_find_nothing(app, db, open_visit, staff, token):
    with app.test_request_context():
        service.issue_link(db, open_visit, channel="link", created_by_id=staff.id)
        assert service.find_link(db, token) is None


def test_revoked_and_expired_links_find_nothing(app, db, open_visit, staff):
    with app.test_request_context():
        revoked, revoked_token = service.issue_link(db, open_visit, channel="link",
                                                    created_by_id=staff.id)
        expired, expired_token = service.issue_link(db, open_visit, channel="link",
                                                    created_by_id=staff.id)
        assert service.revoke(db, revoked, user_id=staff.id) is True
        assert service.revoke(db, revoked, user_id=staff.id) is False
        assert revoked.revoked_by_id == staff.id
        expired.expires_on = TODAY - timedelta(days=1)
        db.flush()
        assert service.find_link(db, revoked_token) is None
        assert service.find_link(db, expired_token) is None
        expired.expires_on = TODAY  # the last day still works
        db.flush()
        assert service.find_link(db, expired_token) is expired


def test_a_submitted_reports_link_is_still_found_for_its_thank_you_page(app, db, open_visit,
                                                                        staff):
    with app.test_request_context():
        link, token = service.issue_link(db, open_visit, channel="link",
                                         created_by_id=staff.id)
        link.self_report.state = "submitted"
        db.flush()
        assert service.find_link(db, token) is link


class _Clock(datetime):
    """2026-06-01 20:00 UTC: already 2 June at UTC+14 (Kiribati's Line Islands)."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[override]
        moment = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
        return moment if tz is None else moment.astimezone(tz)


def test_expiry_is_the_end_of_the_last_day_in_the_sites_time_zone(app, db, open_visit, staff,
                                                                   monkeypatch):
    with app.test_request_context():
        link, token = service.issue_link(db, open_visit, channel="link",
                                         created_by_id=staff.id)
        app.config["TODAY"] = None
        monkeypatch.setattr("registry.clock.datetime", _Clock)
        link.expires_on = date(2026, 6, 1)
        db.flush()
        assert service.find_link(db, token) is link  # 1 June, 20:00 at a UTC site
        open_visit.patient.site.timezone = "Pacific/Kiritimati"
        db.flush()
        assert service.find_link(db, token) is None  # 2 June there: expired


def test_opening_records_times_and_fixes_the_instruments_offered(app, db, open_visit, staff):
    with app.test_request_context():
        link, _token = service.issue_link(db, open_visit, channel="link",
                                          created_by_id=staff.id)
        report = service.open_report(db, link)
        offered = self_reportable(db, ["vas", "pga", "womac", "koos", "grc"], "en")
        assert report.instruments == offered
        assert "vas" in offered
        assert "koos" not in offered
        assert "womac" not in offered
        first = link.first_opened_at
        assert first is not None
        assert report.opened_at is not None
        assert service.link_state(report) == "opened"
        report.instruments = ["vas"]
        again = service.open_report(db, link)
        assert again.instruments == ["vas"]  # fixed at the first opening
        assert link.first_opened_at == first
        assert link.last_opened_at >= first
    actors = db.scalars(select(AuditEvent.actor_email).where(
        AuditEvent.entity_type == "self_report_link", AuditEvent.field == "first_opened_at"))
    assert list(actors) == [f"self-report link {link.id}"]


def test_link_state_follows_the_report(app, db, open_visit, staff):
    assert service.link_state(None) is None
    with app.test_request_context():
        link, _ = service.issue_link(db, open_visit, channel="link", created_by_id=staff.id)
    report: SelfReport = link.self_report
    assert service.link_state(report) == "sent"
    report.opened_at = report.started_at = datetime.now(UTC)
    assert service.link_state(report) == "started"
    for state, shown in (("submitted", "submitted"), ("pending_review", "pending_review"),
                         ("accepted", "submitted"), ("dismissed", "submitted")):
        report.state = state
        assert service.link_state(report) == shown
