"""Several processes writing visits at once: no "database is locked", no lost write.

Each process saves complete visits (a read-then-write transaction, with the audit chain's
head read before the append) as fast as it can for a bounded time.  On SQLite this relies
on WAL, the busy timeout and BEGIN IMMEDIATE (``registry.db``); on PostgreSQL on the
audit chain's advisory lock.  Afterwards every committed visit is present, there are no
other visits, and the audit trail verifies and matches the data.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.models import FollowupState, InstrumentResponse, Visit
from tests.followup.test_state import assert_counts_kept
from tests.integrity.helpers import (
    audit_mismatches,
    engine_for,
    seed,
    verify_chain,
)
from tests.integrity.workers import START_TIMEOUT_S, save_scheduled_visits, write_visits

PROCESSES = 4
# Seconds of concurrent writing (issue 7 asks for 20 s on SQLite); override to explore.
SQLITE_SECONDS = float(os.environ.get("REGISTRY_TEST_CONCURRENCY_SECONDS", "20"))
POSTGRESQL_SECONDS = min(SQLITE_SECONDS, 6.0)


def run_writers(database_url: str, patient_ids: list[int], seconds: float
                ) -> tuple[dict[int, list[int]], list[str]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(patient_ids) + 1)  # the workers and this process
    results = context.Queue()
    workers = [context.Process(target=write_visits,
                               args=(database_url, patient_id, seconds, start, results))
               for patient_id in patient_ids]
    for worker in workers:
        worker.start()
    start.wait(timeout=START_TIMEOUT_S)  # every worker is set up: they write from now on
    collected = [results.get(timeout=seconds + 180) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    written = {patient_id: ids for patient_id, ids, _errors in collected}
    errors = [error for _patient, _ids, worker_errors in collected for error in worker_errors]
    return written, errors


@pytest.mark.slow
def test_concurrent_visit_writers_lose_nothing(migrated_database_url: str, backend: str) -> None:
    patient_ids = seed(migrated_database_url, patients=PROCESSES)
    seconds = SQLITE_SECONDS if backend == "sqlite" else POSTGRESQL_SECONDS
    written, errors = run_writers(migrated_database_url, patient_ids, seconds)
    assert errors == []
    assert all(written.values()), written  # every process got to write
    with engine_for(migrated_database_url) as engine, engine.connect() as connection:
        for patient_id, visit_ids in written.items():
            stored = connection.scalars(select(Visit.id).where(
                Visit.patient_id == patient_id).order_by(Visit.id)).all()
            assert stored == sorted(visit_ids)
        total = sum(len(ids) for ids in written.values())
        assert connection.scalar(select(func.count(InstrumentResponse.id))) == 2 * total
        assert audit_mismatches(connection) == []
        result = verify_chain(connection)
        assert result.ok, result


@pytest.mark.slow
def test_concurrent_visit_saves_keep_the_worklist_counts(migrated_database_url: str) -> None:
    """Processes saving scheduled visits of one site at once: every status change reaches
    ``FollowupState`` and the kept counts (``FollowupCount``) equal counting it."""
    patient_ids = seed(migrated_database_url, PROCESSES * 3, treatment_date=date(2026, 1, 5))
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(PROCESSES + 1), context.Queue()
    workers = [context.Process(target=save_scheduled_visits, args=(
        migrated_database_url, patient_ids[number::PROCESSES], date(2026, 2, 1), start,
        results)) for number in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.wait(timeout=START_TIMEOUT_S)
    collected = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert [error for _saved, errors in collected for error in errors] == []
    saved = sorted(visit_id for visit_ids, _errors in collected for visit_id in visit_ids)
    with engine_for(migrated_database_url) as engine, engine.connect() as connection:
        scheduled = connection.scalars(select(Visit.id).where(
            Visit.patient_id.in_(patient_ids), Visit.timepoint_id.is_not(None))).all()
        assert saved == sorted(scheduled)
        statuses = dict(connection.execute(select(FollowupState.visit_id, FollowupState.status)
                                           .where(FollowupState.visit_id.in_(saved))).all())
        assert set(statuses.values()) == {"done"}
        assert len(statuses) == len(saved)
        assert assert_counts_kept(connection)
