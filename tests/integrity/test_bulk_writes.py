"""No bulk INSERT/UPDATE/DELETE can bypass the audit trail of an audited table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.models import (
    AdverseEvent,
    AuditEvent,
    IndexKnee,
    Patient,
    Reminder,
    Visit,
)
from tests.integrity.helpers import audited_models

REGISTRY_SOURCE = Path(__file__).resolve().parents[2] / "registry"
STATEMENTS = {
    "ORM UPDATE": lambda: update(IndexKnee).values(kl_grade=4),
    "ORM DELETE": lambda: delete(AdverseEvent),
    "Core UPDATE on the table": lambda: update(Patient.__table__).values(sex="male"),
    "Core DELETE on the table": lambda: delete(Visit.__table__),
    "ORM INSERT": lambda: insert(AdverseEvent).values(
        patient_id=1, onset_date="2026-01-01", description="x", category="other",
        severity_grade=1, relatedness="unrelated"),
}


@pytest.mark.parametrize("make_statement", STATEMENTS.values(), ids=STATEMENTS.keys())
def test_bulk_statements_on_audited_tables_are_refused(db: Session, site_a, make_patient,
                                                       make_statement) -> None:
    make_patient(site_a)
    audit_rows = db.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(capture.BulkWriteRefused, match="audit trail"):
        db.execute(make_statement())
    assert db.scalar(select(func.count(AuditEvent.id))) == audit_rows
    assert db.scalar(select(IndexKnee.kl_grade)) == 2


def test_bulk_statements_on_unaudited_tables_still_work(db: Session) -> None:
    """Operational tables (reminder claims) are not audited and keep their bulk updates."""
    db.execute(update(Reminder).where(Reminder.id == -1).values(status="sent"))


def test_every_audited_table_is_guarded() -> None:
    assert capture.audited_tables() >= {"patient", "patient_identity", "index_knee",
                                        "treatment", "visit", "instrument_response",
                                        "adverse_event", "contact_attempt", "app_user"}


def _bulk_writes_in_source() -> list[str]:
    """update()/delete()/insert() Core calls naming an audited model or table in registry/."""
    audited_names = {model.__name__ for model in audited_models()}
    found = []
    for path in sorted(REGISTRY_SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in {"update", "delete", "insert"} and node.args):
                continue
            target = ast.unparse(node.args[0])
            if target.split(".")[0] in audited_names:
                found.append(f"{path.relative_to(REGISTRY_SOURCE.parent)}:{node.lineno} "
                             f"{node.func.id}({target})")
    return found


def test_no_code_writes_audited_tables_in_bulk() -> None:
    """Connection-level statements skip the session guard, so none may exist in the code."""
    assert _bulk_writes_in_source() == []
