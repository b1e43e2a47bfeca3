"""Audit rows join the hash chain at COMMIT: savepoints, visibility and the chain's lock.

Each flush collects its audit rows; they are appended to the chain just before the
transaction commits (``registry.audit_capture``), so the chain's lock is held for the
INSERT and the COMMIT only, not from a request's first write to its end.
"""

from __future__ import annotations

from sqlalchemy import func, select

from registry import audit_chain as chain
from registry.models import AuditEvent, IndexKnee

KEY = b"test-audit-key"


def _kl_events(session, knee_id):
    return list(session.scalars(select(AuditEvent.new_value).where(
        AuditEvent.entity_type == "index_knee", AuditEvent.entity_id == str(knee_id),
        AuditEvent.field == "kl_grade").order_by(AuditEvent.id)))


def test_a_rolled_back_savepoint_takes_its_audit_rows_with_it(db, site_a, make_patient):
    patient = make_patient(site_a)
    db.commit()
    knee_id = patient.index_knee.id
    savepoint = db.begin_nested()
    db.info["audit_reason"] = "first try"
    patient.index_knee.kl_grade = 4
    db.flush()
    savepoint.rollback()
    db.info["audit_reason"] = "kept"
    patient.index_knee.kl_grade = 3
    db.commit()
    assert _kl_events(db, knee_id) == ["3"]  # the rolled-back change left no audit row
    assert chain.verify(db.connection(), KEY).ok


def test_a_released_savepoint_keeps_its_rows_for_the_commit(db, site_a, make_patient):
    patient = make_patient(site_a)
    db.commit()
    knee_id = patient.index_knee.id
    with db.begin_nested():
        db.info["audit_reason"] = "inside a savepoint"
        patient.index_knee.kl_grade = 4
    db.commit()
    assert _kl_events(db, knee_id) == ["4"]


def test_rows_are_seen_by_their_own_transaction_and_by_others_after_commit(
        app, db, site_a, make_patient):
    patient = make_patient(site_a)
    db.commit()
    knee_id = patient.index_knee.id
    other = app.extensions["registry.sessionmaker"]()
    try:
        before = other.scalar(select(func.count()).select_from(AuditEvent))
        other.rollback()
        db.info["audit_reason"] = "visible?"
        patient.index_knee.kl_grade = 4
        db.flush()
        assert _kl_events(db, knee_id) == ["4"]  # its own transaction sees the row
        db.commit()
        assert other.scalar(select(func.count()).select_from(AuditEvent)) > before
    finally:
        other.close()


def test_a_rolled_back_transaction_leaves_no_audit_rows(db, site_a, make_patient):
    patient = make_patient(site_a)
    db.commit()
    knee_id = patient.index_knee.id
    db.info["audit_reason"] = "abandoned"
    patient.index_knee.kl_grade = 4
    db.flush()
    db.rollback()
    db.info["audit_reason"] = None
    assert _kl_events(db, knee_id) == []
    assert db.get(IndexKnee, knee_id).kl_grade != 4
