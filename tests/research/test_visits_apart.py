"""On PostgreSQL an export reads its visits on a second connection while it loads the
patients (``visitrows.start_read``), by binary COPY: the export must be the same as when
they are read on its own session, and the second connection must never be used where it
would not see what the session sees."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

from registry.db import get_session
from registry.research import cohorts, visitrows
from tests.research.helpers import app_export_members


@pytest.fixture
def committed_registry(app_factory, migrated_database_url, tmp_path, backend):
    """A demo registry whose data are committed (another connection can read them)."""
    if backend != "postgresql":
        pytest.skip("the second connection is PostgreSQL's")
    application = app_factory(migrated_database_url, tmp_path / "instance")
    result = application.test_cli_runner().invoke(args=["demo", "--patients", "30"])
    assert result.exit_code == 0, result.output
    return application


@pytest.mark.parametrize("fmt", ["csv", "parquet"])  # no time stamp inside
def test_visits_read_apart_give_the_export_the_session_gives(committed_registry, tmp_path,
                                                              monkeypatch, fmt):
    started: list[object] = []
    real_start = visitrows.start_read

    def recording_start(session, cohort):
        pending = real_start(session, cohort)
        started.append(pending)
        return pending

    monkeypatch.setattr(visitrows, "start_read", recording_start)
    apart = app_export_members(committed_registry, tmp_path / "apart.zip", fmt)
    assert len(started) == 1
    assert started[0] is not None  # the second connection was used
    monkeypatch.setattr(visitrows, "start_read", lambda session, cohort: None)
    on_session = app_export_members(committed_registry, tmp_path / "session.zip", fmt)
    assert apart == on_session
    assert len(apart[f"visits.{fmt}"]) > 1_000


def test_copied_rows_are_the_cursor_rows(committed_registry):
    with committed_registry.app_context():
        session = get_session()
        query = visitrows.visits_query(session, cohorts.cohort_select(session, {}))
        copied = visitrows.read_rows(session, query)
        fetched = np.concatenate(list(visitrows.fetch_numbers(session, query,
                                                              visitrows.VISIT_ROW)))
        session.rollback()
    assert len(copied) > 100
    order = np.argsort(copied["id"])
    assert np.array_equal(copied[order], fetched[np.argsort(fetched["id"])])


def test_a_session_that_wrote_reads_its_visits_itself(committed_registry):
    with committed_registry.app_context():
        session = get_session()
        cohort = cohorts.cohort_select(session, {})
        pending = visitrows.start_read(session, cohort)
        assert pending is not None
        assert len(visitrows.rows_read(pending)) > 100
        session.execute(text("CREATE TEMPORARY TABLE scratch (x integer)"))  # a write
        assert visitrows.start_read(session, cohort) is None  # would miss what it wrote
        session.rollback()


def test_a_failed_read_apart_falls_back_to_the_session(committed_registry, monkeypatch,
                                                       tmp_path, caplog):
    def broken(engine, query):
        raise RuntimeError("the second connection broke")

    monkeypatch.setattr(visitrows, "_read_apart", broken)
    members = app_export_members(committed_registry, tmp_path / "fallback.zip", "csv")
    assert members["visits.csv"].count(b"\n") > 100
    assert "second connection failed" in caplog.text


WORKERS = "SELECT current_setting('max_parallel_workers_per_gather')"


def test_an_export_reads_without_parallel_workers_until_its_transaction_ends(
        committed_registry, monkeypatch, tmp_path):
    """Both connections plan the export's reads serially (``db.plan_serially``); the
    setting is transaction-local."""
    from registry.research import export, scorestream

    seen: dict[str, str] = {}
    real_read, real_blocks = visitrows.read_rows, scorestream._postgres_blocks

    def recording_read(session, query):
        seen["visits"] = session.scalar(text(WORKERS))
        return real_read(session, query)

    def recording_blocks(session, cohort, codes):
        seen["scores"] = session.scalar(text(WORKERS))
        return real_blocks(session, cohort, codes)

    monkeypatch.setattr(visitrows, "read_rows", recording_read)
    monkeypatch.setattr(scorestream, "_postgres_blocks", recording_blocks)
    with committed_registry.app_context():
        session = get_session()
        before = session.scalar(text(WORKERS))
        assert before != "0"
        export.export_cohort(session, cohort_name="All", definition={},
                             options=export.ExportOptions(format="csv", shape="long"),
                             pseudonym_key="k", free_text_allowed=False,
                             target=tmp_path / "serial.zip")
        session.rollback()
        assert session.scalar(text(WORKERS)) == before
        session.rollback()
    assert seen == {"visits": "0", "scores": "0"}
