"""A large cohort's scores and visits on SQLite: sequential reads by Arrow's ADBC driver.

Reading a large cohort's scores through the visits' index costs a random page access per
row, and the sqlite3 module a Python object per value: about 1.5 µs a row, 15 s for the
9.6 M rows of 100,000 patients.  When the cohort is a large part of the registry
(``worth_scanning``), the score table (in storage order) and every visit
(``visitrows.visits_query``) are read instead by the ADBC SQLite driver (Apache Arrow's,
``adbc-driver-sqlite``), which hands the rows over as Arrow arrays: no Python object per
row.  The score rows are then put into patient order with numpy.

The driver runs in child processes (two, one per query, while this one loads the
patients): it brings its own copy of the SQLite library, and two copies in one process
break each other's file locks (SQLite, "How To Corrupt An SQLite Database File", 2.2.1).
Their read-only connections see what is committed, so the scan is used only while the
export's own transaction has changed nothing (``registry.db.sqlite_transaction_wrote``).
They may see commits made after the export began: the patients are those of the export's
own snapshot (other patients' visits are left out), and score rows are kept only for the
visits the visit read shows done (``Visits.stored_done``): a visit done between the two
reads adds nothing, and a visit's scores are read whole (a score set is written in one
transaction).  An in-memory database, a machine without the driver, or a failed child
uses the indexed queries.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess  # nosec B404 - this module's own child, no shell
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from registry.db import sqlite_transaction_wrote
from registry.models import Patient, ScoreValue
from registry.research.visitrows import VISIT_FIELDS, VISIT_ROW, Visits, visits_query

SCAN_SHARE = 0.25  # scan when the cohort holds at least this share of the patients
# ... and at least this many: below it the indexed query (~150 µs a patient) is quicker
# than starting the child processes (~0.5 s).
SCAN_MIN_PATIENTS = 5_000
BLOCK_ROWS = 1 << 20  # rows handed on at a time, in patient order
CHILD = Path(__file__).with_name("scanchild.py")
logger = logging.getLogger(__name__)


def database_file(session: Session) -> Path | None:
    """The SQLite database's file, or None (another database, or one in memory)."""
    url = session.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    path = Path(url.database)
    return path if path.is_file() else None


def driver_available() -> bool:
    """Whether the driver is installed (looked up, not imported: its SQLite library must
    never be loaded into this process)."""
    return importlib.util.find_spec("adbc_driver_sqlite") is not None


def worth_scanning(session: Session, cohort: Select[int]) -> bool:
    """Whether reading the whole score table beats the indexed query for this cohort."""
    if database_file(session) is None or not driver_available():
        return False
    if sqlite_transaction_wrote(session.connection()):
        return False  # the scan's connection would not see this transaction's changes
    size = session.scalar(select(func.count()).select_from(cohort.subquery())) or 0
    patients = session.scalar(select(func.count()).select_from(Patient)) or 0
    return size >= max(SCAN_MIN_PATIENTS, SCAN_SHARE * patients, 1)


def scan_query(session: Session, key: Any, value: Any) -> str:
    """The scan's SQL: every score row's ``key`` (visit id × W + score index; -1 for a
    score code the export does not list) and ``value``, in storage order."""
    return _sql(session, select(func.coalesce(key, -1), value).select_from(ScoreValue))


def _sql(session: Session, query: Any) -> str:
    return str(query.compile(dialect=session.get_bind().dialect,
                             compile_kwargs={"literal_binds": True}))


class ScoreScan:
    """The score table and every visit, each read by a child process while the export
    loads the patients (two children: they run on other cores than this thread)."""

    def __init__(self, path: Path, score_sql: str, visit_sql: str) -> None:
        pool = ThreadPoolExecutor(2, thread_name_prefix="export-scan")
        self._scores = pool.submit(_read, path, score_sql)
        self._visits = pool.submit(_read, path, visit_sql)
        pool.shutdown(wait=False)  # the threads end when the children are read
        self._ordered: tuple[Visits, int, Future[Any]] | None = None

    def read(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The scanned (keys, values); None when the scan failed (the caller then uses
        the indexed query: a slower export, not a failed one)."""
        table = _result(self._scores)
        if table is None:
            return None
        if not table.num_rows:
            return np.empty(0, np.int64), np.empty(0)
        return (table.column(0).to_numpy().astype(np.int64, copy=False),
                table.column(1).to_numpy().astype(np.float64, copy=False))

    def visit_rows(self) -> np.ndarray | None:
        """Every visit as ``visitrows.VISIT_ROW`` numbers; None when the read failed."""
        table = _result(self._visits)
        if table is None:
            return None
        rows = np.empty(table.num_rows, VISIT_ROW)
        for name, column in zip(VISIT_FIELDS, table.columns, strict=True):
            rows[name] = column.to_numpy() if table.num_rows else []
        return rows

    def order(self, visits: Visits, width: int) -> None:
        """Start putting the scanned rows into patient order (``blocks``) on a helper
        thread, while this one goes on with the patients' table (numpy's sorting and
        indexing release the GIL): about a second less of one core alone."""
        helper = ThreadPoolExecutor(1, thread_name_prefix="export-order")
        self._ordered = (visits, width, helper.submit(self._in_order, visits, width))
        helper.shutdown(wait=False)

    def blocks(self, visits: Visits, width: int) -> Iterator[tuple[np.ndarray, np.ndarray]] | None:
        """(keys, values) of the cohort's done visits, in patient order (a visit's rows in
        storage order), ``BLOCK_ROWS`` at a time; None when the scan failed."""
        if self._ordered is not None and self._ordered[0] is visits and (
                self._ordered[1] == width):
            ordered = self._ordered[2].result()
        else:
            ordered = self._in_order(visits, width)
        self._ordered = None
        return None if ordered is None else self._blocks(*ordered)

    @staticmethod
    def _blocks(keys: np.ndarray, values: np.ndarray,
                order: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(order), BLOCK_ROWS):
            part = order[start:start + BLOCK_ROWS]
            yield keys[part], values[part]

    def _in_order(self, visits: Visits,
                  width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The kept rows' keys and values, and their order."""
        rows = self.read()
        if rows is None:
            return None
        keys, values = rows
        shift = width.bit_length() - 1
        visit = visits.index_of(np.where(keys >= 0, keys >> shift, -1))
        keep = visit >= 0
        keep[keep] = visits.stored_done[visit[keep]] & (visits.position[visit[keep]] >= 0)
        keys, values, visit = keys[keep], values[keep], visit[keep]
        return keys, values, np.argsort(visits.position[visit], kind="stable")


def _result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - any failure of the child means: do without it
        logger.warning("the SQLite scan failed; using the indexed queries", exc_info=True)
        return None


def _read(path: Path, sql: str) -> Any:
    """The rows of ``sql`` as an Arrow table, read by the driver in a child process
    (``scanchild.py``, run as a script: it imports only the driver and Arrow) and handed
    over in a temporary file that is memory-mapped here (no copy through a pipe)."""
    import pyarrow as pa

    handle, name = tempfile.mkstemp(prefix="registry-scan-", suffix=".arrows")
    os.close(handle)
    try:
        # Our own script with file paths: no shell, no user input.
        child = subprocess.run(  # noqa: S603  # nosec B603
            [sys.executable, str(CHILD), str(path), name], input=sql.encode(),
            capture_output=True, check=False)
        if child.returncode:
            message = child.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"the SQLite scan failed: {message[-1] if message else '?'}")
        # The map outlives the file's name (POSIX): removed below, freed with the table.
        return pa.ipc.open_stream(pa.memory_map(name)).read_all()
    finally:
        os.unlink(name)


def start(session: Session, cohort: Select[int], key: Any, value: Any) -> ScoreScan | None:
    """A scan of the score table started for ``cohort``, or None when the indexed query
    is the better way (a small cohort, an in-memory database, no driver)."""
    if not worth_scanning(session, cohort):
        return None
    path = database_file(session)
    assert path is not None
    return ScoreScan(path, scan_query(session, key, value),
                     _sql(session, visits_query(session, None)))

