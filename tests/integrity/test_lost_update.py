"""No lost update: the second of two edits based on the same version is refused.

Two sessions on separate connections load the same record; the first commits a change;
the second's flush then raises ``StaleDataError`` (the version counter in the UPDATE's
WHERE clause matched no row), and ``check_version`` refuses the stale form version
before anything is written.  (The HTTP 409 of each form is tested with the forms.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from registry import audit_capture as capture
from registry.models import AdverseEvent, Base, InstrumentResponse, Patient, Visit
from registry.scores import save_response
from registry.services import ConflictError, check_version
from tests.integrity.helpers import add_adverse_event, add_patient, add_site, engine_for

EDITS: dict[str, tuple[type[Base], Callable[[Any, int], None]]] = {
    "patient weight": (Patient, lambda record, n: setattr(record, "weight_kg", 80.0 + n)),
    "visit date": (Visit, lambda record, n: setattr(record, "visit_date", date(2026, 2, n))),
    "adverse event grade": (AdverseEvent,
                            lambda record, n: setattr(record, "severity_grade", n)),
    "questionnaire answers": (InstrumentResponse,
                              lambda record, n: setattr(record, "answers", {"VAS": 10 * n})),
}


@pytest.fixture(scope="module")
def records(shared_database_url: str) -> dict[type[Base], int]:
    with engine_for(shared_database_url) as engine, Session(engine) as session:
        session.info[capture.AUDIT_KEY] = b"test-audit-key"
        capture.install(session)
        site = add_site(session, "LOST")
        patient = add_patient(session, site, 1)
        visit = Visit(patient_id=patient.id, status="done", visit_date=date(2026, 2, 1))
        session.add(visit)
        session.flush()
        response = save_response(session, visit, "vas", {"VAS": 40})
        event = add_adverse_event(session, patient)
        session.commit()
        return {Patient: patient.id, Visit: visit.id, InstrumentResponse: response.id,
                AdverseEvent: event.id}


@pytest.mark.parametrize(("model", "edit"), EDITS.values(), ids=EDITS.keys())
def test_second_concurrent_writer_gets_stale_data_error(shared_database_url: str, records,
                                                        model, edit) -> None:
    with engine_for(shared_database_url) as engine:
        maker = sessionmaker(bind=engine, expire_on_commit=False,
                             info={capture.AUDIT_KEY: b"test-audit-key"})
        capture.install(maker)
        with maker() as first, maker() as second:
            mine = first.get(model, records[model])
            first.commit()  # the form was shown; its read transaction has ended
            theirs = second.get(model, records[model])
            with capture.reason(second, "their correction"):
                edit(theirs, 2)
            second.commit()
            with pytest.raises(StaleDataError), capture.reason(first, "my correction"):
                edit(mine, 3)
            first.rollback()
            fresh = second.get(model, records[model])
            second.refresh(fresh)
            assert fresh.version == theirs.version  # their edit stands, mine was not written


@pytest.mark.parametrize("submitted", [None, "", "abc", 0, "1", 1, "-1"])
def test_check_version_refuses_a_stale_or_missing_version(submitted) -> None:
    record = Patient(version=2)
    with pytest.raises(ConflictError, match="changed by someone else") as raised:
        check_version(record, submitted)
    assert raised.value.current_version == 2


@pytest.mark.parametrize("submitted", [2, "2", " 2"])
def test_check_version_accepts_the_current_version(submitted) -> None:
    check_version(Patient(version=2), submitted)
