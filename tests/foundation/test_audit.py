"""The audit trail: every change recorded, reasons required, tampering detected."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DatabaseError

from registry.audit import capture, chain
from registry.models import AuditEvent

KEY = b"test-audit-key"


def _events(db, entity_type, entity_id):
    return list(db.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.id)))


def _drop_guards(db):
    """What an attacker with database rights would do first."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        db.execute(text("DROP TRIGGER audit_event_no_update"))
        db.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_create_update_delete_are_recorded_with_values(db, site_a, make_patient):
    patient = make_patient(site_a)
    knee = patient.index_knee
    created = _events(db, "index_knee", knee.id)
    assert [event.action for event in created] == ["create"]
    assert json.loads(created[0].new_value)["kl_grade"] == 2
    with capture.reason(db, "re-read radiograph"):
        knee.kl_grade = 3
    updated = _events(db, "index_knee", knee.id)[-1]
    assert (updated.action, updated.field) == ("update", "kl_grade")
    assert (updated.old_value, updated.new_value, updated.reason) == ("2", "3",
                                                                      "re-read radiograph")
    assert updated.site_id == site_a.id
    with capture.reason(db, "entered on the wrong patient"):
        db.delete(knee)
    deleted = _events(db, "index_knee", knee.id)[-1]
    assert deleted.action == "delete"
    assert json.loads(deleted.old_value)["kl_grade"] == 3


def test_json_answers_are_audited_item_by_item(db, site_a, make_patient, record_visit):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 10))
    visit = patient.visits[0]
    record_visit(visit, date(2026, 1, 5), {"vas": {"VAS": 60}})
    response = visit.responses[0]
    with capture.reason(db, "transcription error"):
        response.answers = {"VAS": 55}
    event = _events(db, "instrument_response", response.id)[-1]
    assert (event.field, event.old_value, event.new_value) == ("answers.VAS", "60", "55")


def test_changing_a_recorded_value_requires_a_reason(db, site_a, make_patient):
    knee = make_patient(site_a).index_knee
    knee.kl_grade = 3
    with pytest.raises(capture.ReasonRequired, match="kl_grade"):
        db.flush()
    db.rollback()


def test_deleting_clinical_data_requires_a_reason(db, site_a, make_patient):
    patient = make_patient(site_a)
    db.delete(patient.index_knee)
    with pytest.raises(capture.ReasonRequired):
        db.flush()
    db.rollback()


def test_passwords_and_tokens_are_never_in_the_trail(db, make_user):
    user = make_user("clinician")
    values = " ".join(f"{e.old_value} {e.new_value}" for e in _events(db, "app_user", user.id))
    assert user.password_hash not in values
    assert user.session_token not in values


def test_chain_verifies(db, site_a, make_patient):
    make_patient(site_a)
    result = chain.verify(db.connection(), KEY)
    assert result.ok
    assert result.rows_checked >= 4


def test_database_refuses_update_and_delete_of_audit_rows(db, site_a, make_patient):
    make_patient(site_a)
    first = db.scalar(select(AuditEvent.id).order_by(AuditEvent.id))
    with pytest.raises(DatabaseError, match="append-only"), db.begin_nested():
        db.execute(update(AuditEvent).where(AuditEvent.id == first).values(reason="x"))
    with pytest.raises(DatabaseError, match="append-only"), db.begin_nested():
        db.execute(delete(AuditEvent).where(AuditEvent.id == first))


def _ids(db):
    return list(db.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_edited_field_is_detected(db, site_a, make_patient):
    make_patient(site_a)
    ids = _ids(db)
    _drop_guards(db)
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(new_value='"forged"'))
    result = chain.verify(db.connection(), KEY)
    assert (result.first_broken_id, result.problem) == (
        ids[2], "the row's content does not match its hash")


def test_deleted_row_is_detected(db, site_a, make_patient):
    make_patient(site_a)
    ids = _ids(db)
    _drop_guards(db)
    db.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    assert chain.verify(db.connection(), KEY).first_broken_id == ids[2]


def test_swapped_rows_are_detected(db, site_a, make_patient):
    make_patient(site_a)
    ids = _ids(db)
    rows = {row.id: row for row in db.scalars(select(AuditEvent).where(
        AuditEvent.id.in_(ids[1:3])))}
    columns = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]
    first = {c: getattr(rows[ids[1]], c) for c in columns}
    second = {c: getattr(rows[ids[2]], c) for c in columns}
    db.expunge_all()
    _drop_guards(db)
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(
        **{**second, "row_hash": "tmp"}))
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(**first))
    db.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(
        row_hash=second["row_hash"]))
    assert chain.verify(db.connection(), KEY).first_broken_id == ids[1]


def test_forged_row_without_the_key_is_detected(db, site_a, make_patient):
    make_patient(site_a)
    last = db.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    forged = {"occurred_at": last.occurred_at, "action": "update", "entity_type": "patient",
              "entity_id": "1", "field": "sex", "old_value": '"male"', "new_value": '"female"'}
    chain.append(db.connection(), b"a guessed key", [forged])
    result = chain.verify(db.connection(), KEY)
    assert result.first_broken_id == db.scalar(select(AuditEvent.id).order_by(
        AuditEvent.id.desc()).limit(1))


def test_cli_verify_reports_intact_and_broken(runner, db, site_a, make_patient):
    make_patient(site_a)
    db.commit()  # a savepoint: visible to the command's session, rolled back after the test
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    _drop_guards(db)
    target = _ids(db)[0]
    db.execute(update(AuditEvent).where(AuditEvent.id == target).values(reason="edited"))
    db.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"row id {target}" in broken.output
