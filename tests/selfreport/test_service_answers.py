"""The patient's draft and its submission into the visit: same validation and scoring as
staff entry, never over staff answers, reviewed with a reason, audited with the link as
actor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select

import scoring
from registry.clinical.services.visits import save_visit
from registry.models import AuditEvent, ScoreValue, SelfReport, Visit
from registry.selfreport import review, service
from registry.services import ConflictError, ValidationFailed
from tests.selfreport.conftest import TODAY, TREATED, visit_of

ANSWERS = {"vas": {"VAS": 63}, "pga": {"PGA": 40}, "grc": {"GRC": 2}}


def _open(app, db, visit, staff) -> SelfReport:
    link, _token = service.issue_link(db, visit, channel="link", created_by_id=staff.id)
    report = service.open_report(db, link)
    report.instruments = ["vas", "pga", "grc"]  # the shipped texts, whatever packs exist
    db.flush()
    return report


def _fill(db, report: SelfReport, answers: Mapping[str, Mapping[str, Any]]) -> None:
    for instrument, items in answers.items():
        form = {f"{instrument}.{item}": str(value) for item, value in items.items()}
        assert service.save_answers(db, report, instrument, form) == {}


def _scores(db, visit: Visit) -> dict[str, float | None]:
    return dict(db.execute(select(ScoreValue.score_code, ScoreValue.value)
                           .where(ScoreValue.visit_id == visit.id)).all())


def test_answers_are_kept_step_by_step_even_partial(app, db, open_visit, staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        assert service.save_answers(db, report, "vas", {"vas.VAS": " 55 "}) == {}
        assert report.started_at is not None
        assert service.link_state(report) == "started"
        errors = service.save_answers(db, report, "grc", {"skip.grc.GRC": "1"})
        assert errors == {}
    assert report.draft == {"vas": {"VAS": 55}, "grc": {"GRC": None}}
    assert report.skipped == ["grc.GRC"]
    assert service.draft_answers(report)["pga"] == {"PGA": None}


@pytest.mark.parametrize("raw", ["101", "-1", "5.5", "abc", "١٠", "1_0"])
def test_an_unusable_answer_gets_a_message_naming_the_question(app, db, open_visit, staff,
                                                               raw):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        service.save_answers(db, report, "vas", {"vas.VAS": "30"})
        errors = service.save_answers(db, report, "vas", {"vas.VAS": raw})
    assert list(errors) == ["vas.VAS"]
    assert errors["vas.VAS"].startswith("Question 1:")
    assert "0 to 100" in errors["vas.VAS"]
    assert report.draft["vas"] == {"VAS": 30}  # the earlier answer is not lost


def test_a_choice_outside_its_codes_is_refused(app, db, open_visit, staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        errors = service.save_answers(db, report, "grc", {"grc.GRC": "9"})
    assert "choose one of the answers" in errors["grc.GRC"]


def test_only_offered_instruments_can_be_saved(app, db, open_visit, staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        with pytest.raises(ValidationFailed):
            service.save_answers(db, report, "koos", {"koos.S1": "1"})


def test_submission_scores_equal_staff_entry_of_the_same_answers(app, db, make_patient,
                                                                 site_a, open_visit, staff):
    twin = visit_of(make_patient(site_a, treatment_date=TREATED), "m3")
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        _fill(db, report, ANSWERS)
        assert service.submit(db, report, mode="self_link") == "submitted"
        save_visit(db, twin, visit_date=TODAY, version=str(twin.version), reason=None,
                   clinician_id=staff.id,
                   answers={code: dict(items) for code, items in ANSWERS.items()})
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert (visit.status, visit.visit_date, visit.collection_mode) == ("done", TODAY,
                                                                       "self_link")
    assert visit.clinician_id is None
    assert _scores(db, visit) == _scores(db, twin)
    assert _scores(db, visit)["vas_pain"] == 63
    assert {r.instrument: r.answers for r in visit.responses} == ANSWERS
    assert db.get(SelfReport, report.id).state == "submitted"


def test_the_audit_trail_names_the_link_and_the_site(app, db, open_visit, staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        _fill(db, report, {"vas": {"VAS": 20}})
        link = report.links[0]
        service.submit(db, report, mode="self_kiosk")
    rows = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "visit",
                                               AuditEvent.entity_id == str(open_visit.id),
                                               AuditEvent.field == "visit_date")).all()
    assert [(row.actor_id, row.actor_email, row.site_id) for row in rows] == [
        (None, f"self-report link {link.id}", open_visit.patient.site_id)]
    assert db.get(Visit, open_visit.id).collection_mode == "self_kiosk"


def test_submitting_twice_saves_once(app, db, open_visit, staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        _fill(db, report, ANSWERS)
        assert service.submit(db, report, mode="self_link") == "submitted"
        version = db.get(Visit, open_visit.id).version
        assert service.submit(db, report, mode="self_link") == "submitted"
        with pytest.raises(ValidationFailed):
            service.save_answers(db, report, "vas", {"vas.VAS": "1"})
    assert db.get(Visit, open_visit.id).version == version
    assert db.get(SelfReport, report.id).draft["vas"] == {"VAS": 63}


def test_nothing_answered_cannot_be_submitted(app, db, open_visit, staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        service.save_answers(db, report, "vas", {"skip.vas.VAS": "on"})
        with pytest.raises(ValidationFailed) as caught:
            service.submit(db, report, mode="self_link")
    assert "at least one question" in caught.value.errors["answers"]
    assert db.get(Visit, open_visit.id).status == "scheduled"


def _staff_recorded_then_submitted(app, db, visit, staff, record_visit) -> SelfReport:
    with app.test_request_context():
        report = _open(app, db, visit, staff)
        _fill(db, report, ANSWERS)
    record_visit(visit, TODAY, {"vas": {"VAS": 10}})  # staff, meanwhile
    with app.test_request_context():
        assert service.submit(db, report, mode="self_link") == "pending_review"
    return report


def test_a_submission_never_overwrites_staff_answers(app, db, open_visit, staff,
                                                     record_visit):
    report = _staff_recorded_then_submitted(app, db, open_visit, staff, record_visit)
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert {r.instrument: r.answers for r in visit.responses} == {"vas": {"VAS": 10}}
    assert visit.collection_mode is None
    assert db.get(SelfReport, report.id).submitted_at is not None
    assert service.link_state(db.get(SelfReport, report.id)) == "pending_review"


def test_accepting_replaces_the_answers_with_a_reason_in_the_audit(app, db, open_visit,
                                                                   staff, record_visit):
    report = _staff_recorded_then_submitted(app, db, open_visit, staff, record_visit)
    with app.test_request_context():
        db.info["audit_actor"] = (staff.id, staff.email)
        with pytest.raises(ValidationFailed) as caught:
            review.accept(db, report, user_id=staff.id, reason="  ", version=report.version)
        assert "reason" in caught.value.errors
        with pytest.raises(ConflictError):
            review.accept(db, report, user_id=staff.id, reason="x", version=report.version - 1)
        review.accept(db, report, user_id=staff.id, reason="patient's own answers preferred",
                       version=report.version)
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert {r.instrument: r.answers for r in visit.responses} == ANSWERS
    assert visit.collection_mode == "self_link"
    assert _scores(db, visit)["vas_pain"] == 63
    saved = db.get(SelfReport, report.id)
    assert (saved.state, saved.reviewed_by_id) == ("accepted", staff.id)
    change = db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "instrument_response", AuditEvent.action == "update")).all()
    assert change
    assert {(row.actor_id, row.reason) for row in change} == {
        (staff.id, "patient's own answers preferred")}
    with app.test_request_context(), pytest.raises(ValidationFailed):
        review.dismiss(db, saved, user_id=staff.id, reason="again")


def test_dismissing_keeps_the_staff_answers(app, db, open_visit, staff, record_visit):
    report = _staff_recorded_then_submitted(app, db, open_visit, staff, record_visit)
    with app.test_request_context():
        db.info["audit_actor"] = (staff.id, staff.email)
        review.dismiss(db, report, user_id=staff.id, reason="taken in clinic the same day")
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert {r.instrument: r.answers for r in visit.responses} == {"vas": {"VAS": 10}}
    assert db.get(SelfReport, report.id).state == "dismissed"
    row = db.scalars(select(AuditEvent).where(AuditEvent.entity_type == "self_report",
                                              AuditEvent.field == "state")
                     .order_by(AuditEvent.id.desc())).first()
    assert (row.new_value, row.reason, row.actor_id) == ('"dismissed"',
                                                         "taken in clinic the same day",
                                                         staff.id)


def test_every_catalogue_item_of_the_offered_instruments_is_in_the_submission(app, db,
                                                                              open_visit,
                                                                              staff):
    with app.test_request_context():
        report = _open(app, db, open_visit, staff)
        _fill(db, report, {"vas": {"VAS": 5}})
        service.submit(db, report, mode="self_link")
    visit = db.get(Visit, open_visit.id)
    for response in visit.responses:
        assert set(response.answers) == set(scoring.INSTRUMENTS[response.instrument]
                                            .item_codes)
