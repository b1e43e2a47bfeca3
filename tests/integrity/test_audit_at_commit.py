"""Audit rows join the chain at COMMIT, so writers do not queue for each other's requests.

With the chain's lock taken at a transaction's first audited flush (as before), every
writer waited for the previous writer's COMMIT, i.e. for the rest of its request
(benchmarks/results/self_report.md); now the lock is held for the INSERT and the COMMIT.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from registry.models import IndexKnee, Patient
from tests.integrity.helpers import committed_app, seed, verify_chain


def test_a_writer_does_not_wait_for_another_writers_commit(migrated_database_url):
    """The second writer commits while the first, with audited changes flushed, is still
    open; before, it waited for the first's COMMIT (here: failed on the lock timeout)."""
    if migrated_database_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers with its database lock from the first write")
    first_id, second_id = seed(migrated_database_url, patients=2)
    app = committed_app(migrated_database_url)
    maker = app.extensions["registry.sessionmaker"]
    first, second = maker(), maker()
    try:
        for session in (first, second):
            session.execute(text("SET lock_timeout = '2s'"))
            session.info["audit_reason"] = "concurrent"
        knee = first.get(Patient, first_id).index_knee
        assert isinstance(knee, IndexKnee)
        knee.kl_grade = 4
        first.flush()  # the first writer's audit rows exist; its transaction is open
        other_knee = second.get(Patient, second_id).index_knee
        assert isinstance(other_knee, IndexKnee)
        other_knee.kl_grade = 4
        second.commit()  # appends to the chain without waiting for the first
        first.commit()
    finally:
        first.close()
        second.close()
    with app.extensions["registry.engine"].connect() as connection:
        assert verify_chain(connection).ok
    app.extensions["registry.engine"].dispose()
