"""A failure half-way through saving a visit leaves nothing behind.

A test-only route writes a new visit, its VAS and WOMAC answers with their scores and
their audit rows (all flushed), then fails before the KOOS.  Whether the failure is an
exception the error page handles, one that propagates, an error response, or the
process dying outright, a fresh connection afterwards finds no partial visit, no orphan
scores, no audit row without its data, an intact audit chain and, on SQLite, a database
that passes ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import multiprocessing
from datetime import date
from typing import Any

import pytest
from flask import Flask, abort
from sqlalchemy import func, select, text

from registry.clinical.services.visits import add_unscheduled_visit
from registry.db import get_session
from registry.models import AuditEvent, InstrumentResponse, Patient, ScoreValue, Visit
from registry.scores import save_response
from tests.integrity.helpers import (
    audit_mismatches,
    committed_app,
    engine_for,
    row_counts,
    seed,
    verify_chain,
    womac_answers,
)

COUNTED = (Visit, InstrumentResponse, ScoreValue, AuditEvent)


class SimulatedCrash(RuntimeError):
    """Raised by the test route after part of the visit was written."""


def write_partial_visit(patient_id: int, ending: str) -> Any:
    """Write a visit with VAS and WOMAC, then fail before the KOOS in the way asked."""
    session = get_session()
    patient = session.get(Patient, patient_id)
    visit = add_unscheduled_visit(session, patient)
    visit.visit_date, visit.status = date(2026, 3, 1), "done"
    save_response(session, visit, "vas", {"VAS": 55})
    save_response(session, visit, "womac", womac_answers(1))
    session.flush()
    assert session.scalar(select(func.count(ScoreValue.id)).where(
        ScoreValue.visit_id == visit.id)) > 0  # really written (uncommitted) before failing
    if ending == "error response":
        abort(422)
    raise SimulatedCrash("failed before the KOOS")


def _counts(database_url: str) -> dict[str, int]:
    with engine_for(database_url) as engine, engine.connect() as connection:
        return row_counts(connection, *COUNTED)


def _assert_nothing_left(database_url: str, before: dict[str, int]) -> None:
    assert _counts(database_url) == before
    with engine_for(database_url) as engine, engine.connect() as connection:
        assert audit_mismatches(connection) == []
        assert verify_chain(connection).ok
        if connection.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA integrity_check")).scalars().all() == ["ok"]


def _app_with_crash_route(database_url: str, patient_id: int, ending: str,
                          testing: bool) -> Flask:
    app = committed_app(database_url, TESTING=testing)
    app.add_url_rule("/_test/partial-visit", "partial_visit",
                     lambda: write_partial_visit(patient_id, ending), methods=["POST"])
    return app


ENDINGS = {
    # (how the request ends, app.testing, status the client sees or None if it raises)
    "handled exception (500 page)": ("exception", False, 500),
    "propagated exception": ("exception", True, None),
    "error response": ("error response", True, 422),
}


@pytest.mark.parametrize(("ending", "testing", "status"), ENDINGS.values(), ids=ENDINGS.keys())
def test_failed_request_leaves_no_partial_visit(shared_database_url: str, ending: str,
                                                testing: bool, status: int | None) -> None:
    (patient_id,) = seed(shared_database_url)
    before = _counts(shared_database_url)
    app = _app_with_crash_route(shared_database_url, patient_id, ending, testing)
    client = app.test_client()
    if status is None:
        with pytest.raises(SimulatedCrash):
            client.post("/_test/partial-visit")
    else:
        assert client.post("/_test/partial-visit").status_code == status
    app.extensions["registry.engine"].dispose()
    _assert_nothing_left(shared_database_url, before)


def _die_mid_transaction(database_url: str, patient_id: int) -> None:
    """Child process: write part of a visit in a writing transaction, then die at once."""
    import os

    from registry.db import writing

    app = committed_app(database_url)
    with app.app_context(), writing():
        try:
            write_partial_visit(patient_id, "exception")
        except SimulatedCrash:
            os._exit(3)  # no rollback, no close: as if the power went


def test_process_dying_mid_visit_leaves_no_partial_visit(shared_database_url: str) -> None:
    (patient_id,) = seed(shared_database_url)
    before = _counts(shared_database_url)
    child = multiprocessing.get_context("spawn").Process(
        target=_die_mid_transaction, args=(shared_database_url, patient_id))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 3
    _assert_nothing_left(shared_database_url, before)
