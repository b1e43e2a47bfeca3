"""Worker processes (started with ``spawn``) that write visits as the app does.

Each worker sets itself up (imports, the app, a pooled database connection) and then
waits at ``start``, a barrier that the starting test process passes too: the timed work
begins in every process at once, and no worker's set-up time counts as contention.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from flask import Flask

from registry.clinical.services.visits import add_unscheduled_visit, save_visit
from registry.db import get_session, writing
from registry.models import Patient, Visit
from tests.integrity.helpers import committed_app, womac_answers

# How long a process waits at the start barrier for the others (spawn start-up of several
# processes on a loaded two-core machine takes seconds).
START_TIMEOUT_S = 180


def ready_app(database_url: str) -> Flask:
    """The worker's app with one database connection opened and back in its pool."""
    app = committed_app(database_url)
    app.extensions["registry.engine"].connect().close()
    return app


def write_visits(database_url: str, patient_id: int, seconds: float, start: Any,
                 results: Any, first_commit: Any = None) -> None:
    """Save complete visits for ``seconds``, each in its own writing transaction.

    Each transaction reads (the patient, the visit's responses, the audit chain's head)
    before it writes, like a request: the case where SQLite without BEGIN IMMEDIATE
    fails with "database is locked".  Puts (committed visit ids, error texts) on
    ``results``.  ``start``: a barrier shared with the test; ``seconds`` counts from it.
    """
    app = ready_app(database_url)
    written: list[int] = []
    errors: list[str] = []
    start.wait(timeout=START_TIMEOUT_S)
    deadline = time.monotonic() + seconds
    number = 0
    while time.monotonic() < deadline:
        number += 1
        try:
            with app.app_context(), writing():
                session = get_session()
                patient = session.get(Patient, patient_id)
                visit = add_unscheduled_visit(session, patient)
                save_visit(session, visit, visit_date=date(2026, 3, 1),
                           answers={"vas": {"VAS": number % 101},
                                    "womac": womac_answers(number)},
                           version=str(visit.version), reason=None, clinician_id=None)
                session.commit()
                written.append(visit.id)
        except Exception as error:  # noqa: BLE001 - every failure is reported to the test
            errors.append(f"{type(error).__name__}: {str(error)[:300]}")
        if first_commit is not None and written:
            first_commit.set()
    app.extensions["registry.engine"].dispose()
    results.put((patient_id, written, errors))


def save_scheduled_visits(database_url: str, patient_ids: list[int], visit_date: date,
                          start: Any, results: Any) -> None:
    """Save every scheduled visit of these patients, one writing transaction each (the
    follow-up status of each visit changes, at the same site as the other workers)."""
    app = ready_app(database_url)
    saved: list[int] = []
    errors: list[str] = []
    start.wait(timeout=START_TIMEOUT_S)
    for patient_id in patient_ids:
        with app.app_context():
            visit_ids = [visit.id for visit in get_session().get(Patient, patient_id).visits]
        for number, visit_id in enumerate(visit_ids):
            try:
                with app.app_context(), writing():
                    session = get_session()
                    visit = session.get(Visit, visit_id)
                    # A baseline is dated on or before day 0 (its target date).
                    baseline = visit.timepoint is not None and visit.timepoint.is_baseline
                    save_visit(session, visit,
                               visit_date=visit.target_date if baseline else visit_date,
                               answers={"vas": {"VAS": number % 101}},
                               version=str(visit.version), reason=None, clinician_id=None)
                    session.commit()
                    saved.append(visit_id)
            except Exception as error:  # noqa: BLE001 - every failure is reported to the test
                errors.append(f"{type(error).__name__}: {str(error)[:300]}")
    app.extensions["registry.engine"].dispose()
    results.put((saved, errors))
