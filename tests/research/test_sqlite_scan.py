"""On SQLite a large cohort's scores are read by one scan on a second connection
(``registry.research.sqlitescan``): the export must be the same as by the indexed query,
and the scan must never be used where it would not see what the export's session sees."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select

from registry.db import get_session
from registry.models import Visit
from registry.research import cohorts, dataset, scorestream, sqlitescan
from registry.research.statplan import fixed_width
from tests.research.helpers import app_export_members


@pytest.fixture
def committed_registry(app_factory, migrated_database_url, tmp_path, backend, monkeypatch):
    """A demo registry whose data are committed (another connection can read them), small
    enough to be scanned."""
    if backend != "sqlite":
        pytest.skip("the scan is SQLite's")
    monkeypatch.setattr(sqlitescan, "SCAN_MIN_PATIENTS", 0)
    application = app_factory(migrated_database_url, tmp_path / "instance")
    result = application.test_cli_runner().invoke(args=["demo", "--patients", "40"])
    assert result.exit_code == 0, result.output
    return application


def _scans(app, definition=None) -> bool:
    with app.app_context():
        session = get_session()
        try:
            return sqlitescan.worth_scanning(session, cohorts.cohort_select(session,
                                                                            definition or {}))
        finally:
            session.rollback()


@pytest.mark.parametrize("fmt", ["csv", "dta"])
def test_the_scan_gives_the_export_the_indexed_query_gives(committed_registry, tmp_path,
                                                           monkeypatch, fmt):
    app = committed_registry
    assert _scans(app)
    scanned = app_export_members(app, tmp_path / "scanned.zip", fmt)
    monkeypatch.setattr(sqlitescan, "SCAN_SHARE", 2.0)  # never worth it: the indexed query
    assert not _scans(app)
    indexed = app_export_members(app, tmp_path / "indexed.zip", fmt)
    assert scanned == indexed
    assert len(scanned[f"outcomes_long.{fmt}"]) > 10_000


def test_a_small_cohort_is_read_by_the_indexed_query(committed_registry):
    assert not _scans(committed_registry, {"site": ["NO-SUCH-SITE"]})


def test_no_scan_once_the_transaction_has_changed_data(committed_registry):
    """A second connection would not see this transaction's change: the indexed query
    (which does) is used.  Checked once: without the guard this test fails."""
    with committed_registry.app_context():
        session = get_session()
        cohort = cohorts.cohort_select(session, {})
        assert sqlitescan.worth_scanning(session, cohort)
        connection = session.connection()
        connection.exec_driver_sql("UPDATE visit SET status = status WHERE id = -1")  # no row
        assert sqlitescan.worth_scanning(session, cohort)
        first = session.scalars(select(Visit.id).limit(1)).one()
        connection.exec_driver_sql(f"UPDATE visit SET status = status WHERE id = {first}")
        assert not sqlitescan.worth_scanning(session, cohort)
        assert scorestream.start_scan(session, cohort, ["vas_pain"]) is None
        session.rollback()


def test_the_scan_keeps_only_visits_done_in_the_exports_snapshot(committed_registry):
    """A visit the export's snapshot shows not done contributes no rows, whatever the
    scan's own (later) snapshot holds."""
    with committed_registry.app_context():
        session = get_session()
        cohort = cohorts.cohort_select(session, {})
        data = dataset.load(session, cohort, scores=False)
        codes = data.score_codes
        scan = scorestream.start_scan(session, cohort, codes)
        assert scan is not None
        width = scorestream.key_width(codes)
        scan.order(data.visits, width)  # ordered on a helper thread
        everything = np.concatenate([keys for keys, _values in scan.blocks(data.visits, width)])
        again = np.concatenate([keys for keys, _values in scan.blocks(data.visits, width)])
        np.testing.assert_array_equal(again, everything)  # ordered here: the same rows
        done = data.visits.stored_done.copy()
        data.visits.stored_done[np.flatnonzero(done)[0]] = False
        fewer = np.concatenate([keys for keys, _values in scan.blocks(data.visits, width)])
        assert 0 < len(fewer) < len(everything)
        session.rollback()


@pytest.mark.parametrize("texts", [
    ["P-0123456789ab", "P-ba9876543210"],
    ["a", "", "ñandú", "x" * 40, ""],
    [""],
    [],
])
def test_fixed_width_text_is_what_numpy_makes(texts):
    encoded = [text.encode() if isinstance(text, str) else text for text in texts]
    array = pa.array(encoded, pa.large_binary())
    got = fixed_width(array)
    expected = np.array(encoded or [b""], dtype=f"S{max([1, *map(len, encoded)])}")
    assert got.tolist() == expected[:len(encoded)].tolist()
    if encoded:
        assert got.dtype == expected.dtype
    sliced = array.slice(1) if len(encoded) > 1 else array
    assert fixed_width(sliced).tolist() == encoded[len(encoded) - len(sliced):]


def test_a_failed_scan_falls_back_to_the_indexed_query(committed_registry, tmp_path,
                                                      monkeypatch):
    app = committed_registry
    monkeypatch.setattr(sqlitescan, "CHILD", tmp_path / "missing-child.py")
    fallen_back = app_export_members(app, tmp_path / "fallback.zip", "csv")
    monkeypatch.undo()
    monkeypatch.setattr(sqlitescan, "SCAN_SHARE", 2.0)
    indexed = app_export_members(app, tmp_path / "indexed.zip", "csv")
    assert fallen_back == indexed


def test_a_small_registry_is_read_by_the_indexed_query(committed_registry, monkeypatch):
    """Starting the child processes costs more than the indexed query of a few thousand
    patients."""
    monkeypatch.setattr(sqlitescan, "SCAN_MIN_PATIENTS", 5_000)
    assert not _scans(committed_registry)
