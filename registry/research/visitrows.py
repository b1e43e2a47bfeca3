"""A cohort's visits in one query, as numpy arrays: the spine of the exports' missing reasons.

Every visit of the cohort's patients (scheduled ones of the patient's protocol, whatever
their status, and unscheduled ones), with its follow-up status at export time, its days
since treatment (target, window, grace end, visit) and mode of collection.  The score
stream decodes its rows against these visits; the long table adds a row for every score a
visit should have and does not (``expected``); the ``visits`` table and the wide table's
reason columns are read from the same arrays.

The status is the follow-up rule's (``registry.followup.status.status_expression``, at
each site's today), shown as ``display_status`` shows it (a done visit dated outside its
window is ``done_out_of_window``), with one refinement for withdrawn patients (whom the
rule calls ``not_applicable``): a visit not done is ``withdrawn`` when its window was
still open at the withdrawal, and ``missed`` when the window had closed before it
(``not_applicable`` if a coordinator had marked it so) — the same line
``followup.services.withdraw_patient`` draws when it closes the visits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Engine, Select, case, cast, func, literal, select
from sqlalchemy.orm import Session

import scoring
from registry.db import plan_serially, postgres_transaction_wrote
from registry.followup.status import STATUS_LABELS, site_todays, status_expression
from registry.models import Patient, Timepoint, Treatment, Visit
from registry.research import missing
from registry.research.sqldates import days_between
from registry.scheduling import timepoint_instruments
from registry.vocabularies import COLLECTION_MODES

NO_DAY = np.iinfo(np.int32).min  # a day that is not known (no visit date, no window)
BLOCK_ROWS = 65_536  # rows fetched from the cursor at a time
MODE_CODES = list(COLLECTION_MODES)  # a visit's mode travels as its index in this list
VISIT_CODES = list(missing.VISIT_STATUSES)  # the visits table's status codes
REASON_CODES = [reason.code for reason in missing.SCORE_REASONS]
RULE_CODES = list(STATUS_LABELS)  # the follow-up rule's statuses, as the query returns them
UNSCHEDULED = "unscheduled"  # the timepoint code of unscheduled visits in the exports
AnySelect = Select[*tuple[Any, ...]]
logger = logging.getLogger(__name__)


def reason_index(code: str) -> int:
    return REASON_CODES.index(code)


SCORED = reason_index("scored")
NOT_SCORABLE = reason_index("not_scorable")
NO_BASELINE = reason_index("no_baseline")
# Visit status index -> reason index of a score the visit should have and has not.
REASON_OF_STATUS = np.array([reason_index(missing.REASON_OF_VISIT_STATUS[code])
                             for code in VISIT_CODES], dtype=np.int8)
_STATUS = {code: VISIT_CODES.index(code) for code in VISIT_CODES}
# The rule's status index -> the visits table's status index (before the refinements).
_RULE_TO_VISIT = np.array([_STATUS[code] for code in RULE_CODES], dtype=np.int8)


def fetch_numbers(session: Session, query: AnySelect, dtype: np.dtype,
                  block_rows: int | None = None) -> Iterator[np.ndarray]:
    """The query's rows, block by block, as structured numpy arrays (no Row objects)."""
    # No stream_results: SQLAlchemy's buffered strategy would pre-read rows from the cursor.
    result = session.connection().execute(query)
    try:
        cursor = result.cursor
        while rows := cursor.fetchmany(block_rows or BLOCK_ROWS):
            yield np.fromiter(rows, dtype, len(rows))
    finally:
        result.close()


VISIT_FIELDS = ("id", "patient", "timepoint", "rule", "marked_na", "out_of_window", "target",
                "start", "end", "grace", "day", "mode", "withdrawn", "closed_before",
                "stored_done")
VISIT_ROW = np.dtype([(name, "i8") for name in VISIT_FIELDS])


def read_rows(session: Session, query: AnySelect) -> np.ndarray:
    """The visits query's rows as ``VISIT_ROW`` numbers: on PostgreSQL by binary COPY
    (fixed-size records numpy reads whole: 400,000 visits in a fraction of the time a
    Python object per value takes), elsewhere from the cursor."""
    if session.get_bind().dialect.name == "postgresql":
        return _copied_rows(session, query)
    parts = list(fetch_numbers(session, query, VISIT_ROW))
    return np.concatenate(parts) if parts else np.empty(0, VISIT_ROW)


COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"  # PostgreSQL, COPY: "Binary Format", file header
COPY_RECORD = np.dtype([("fields", ">i2")] + [item for name in VISIT_FIELDS
                                              for item in ((f"{name}_length", ">i4"),
                                                           (name, ">i8"))])


def start_read(session: Session, cohort: Select[int]) -> Future[np.ndarray] | None:
    """PostgreSQL: the cohort's visits read on a connection of their own while the export
    loads its patients (the server computes their status on another core: about as long as
    the patients take); None on another database, or when the session's transaction has
    written (another connection would not see what it wrote).  The other connection sees
    what is committed, as each statement of the session does (read committed); visits of
    patients the export does not hold are left out (``load_visits``)."""
    if session.get_bind().dialect.name != "postgresql" \
            or postgres_transaction_wrote(session.connection()):
        return None
    query = visits_query(session, cohort)  # the sites' todays are read here, on the session
    engine = session.get_bind().engine
    pool = ThreadPoolExecutor(1, thread_name_prefix="export-visits")
    try:
        return pool.submit(_read_apart, engine, query)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its read


def _read_apart(engine: Engine, query: AnySelect) -> np.ndarray:
    with Session(engine) as apart:
        try:
            plan_serially(apart.connection())
            return read_rows(apart, query)
        finally:
            apart.rollback()


def rows_read(pending: Future[np.ndarray] | None) -> np.ndarray | None:
    """The rows of ``start_read``; None when it was not started or failed (the caller then
    reads them on its session: a slower export, not a failed one)."""
    if pending is None:
        return None
    try:
        return pending.result()
    except Exception:  # noqa: BLE001 - any failure of the other connection: do without it
        logger.warning("reading the visits on a second connection failed", exc_info=True)
        return None


def _copied_rows(session: Session, query: AnySelect) -> np.ndarray:
    """PostgreSQL: every column cast to bigint and none NULL, so that each row of
    ``COPY ... (FORMAT BINARY)`` is a record of fixed size (field count, then length and
    big-endian value per field); checked, then turned into ``VISIT_ROW``."""
    inner = query.subquery()
    numbers = select(*(cast(column, BigInteger) for column in inner.c))
    sql = str(numbers.compile(dialect=session.get_bind().dialect,
                              compile_kwargs={"literal_binds": True}))
    connection: Any = session.connection().connection.dbapi_connection  # psycopg's
    with connection.cursor() as cursor, \
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        data = b"".join(bytes(block) for block in copy)
    if not data.startswith(COPY_SIGNATURE) or not data.endswith(b"\xff\xff"):
        raise ValueError("unexpected COPY output from PostgreSQL")
    extension = int.from_bytes(data[15:19], "big")
    body = data[19 + extension:-2]
    if len(body) % COPY_RECORD.itemsize:
        raise ValueError("unexpected COPY record size from PostgreSQL")
    records = np.frombuffer(body, COPY_RECORD)
    lengths = [records[f"{name}_length"] for name in VISIT_FIELDS]
    if (records["fields"] != len(VISIT_FIELDS)).any() or any((n != 8).any() for n in lengths):
        raise ValueError("unexpected COPY record from PostgreSQL (a NULL or another type)")
    rows = np.empty(len(records), VISIT_ROW)
    for name in VISIT_FIELDS:
        rows[name] = records[name]
    return rows


@dataclass
class Visits:
    """The cohort's visits, sorted by id; ``order`` lists them by patient, timepoint
    (unscheduled last), day and id, ``starts[p]`` is where patient position p begins."""

    ids: np.ndarray
    position: np.ndarray  # patient position, -1 when the patient is not in the table
    timepoint: np.ndarray  # index into the timepoint list; n_timepoints when unscheduled
    status: np.ndarray  # index into VISIT_CODES
    out_of_window: np.ndarray  # 1 / 0 for done scheduled visits, -1 otherwise
    target_day: np.ndarray  # days since treatment, NO_DAY when unknown
    window_start_day: np.ndarray
    window_end_day: np.ndarray
    grace_end_day: np.ndarray
    day: np.ndarray  # the visit's date, days since treatment (NO_DAY when not done)
    mode: np.ndarray  # index into MODE_CODES, -1 when not recorded
    # Stored as done with a date: the visits whose scores the exports read.
    stored_done: np.ndarray
    expected: np.ndarray  # (kinds, scores): the scores a visit of each kind should have
    expected_row: np.ndarray  # each visit's row of ``expected``
    n_timepoints: int
    n_patients: int

    @property
    def unscheduled(self) -> np.ndarray:
        return self.timepoint == self.n_timepoints

    @property
    def done(self) -> np.ndarray:
        return (self.status == _STATUS["done"]) | (self.status == _STATUS["done_out_of_window"])

    @property
    def in_grid(self) -> np.ndarray:
        """Visits whose scores the long table lists: scheduled ones, and unscheduled ones
        that were done (an unscheduled visit not done is only a booking)."""
        return (~self.unscheduled | self.done) & (self.position >= 0)

    @cached_property
    def order(self) -> np.ndarray:
        day = np.where(self.day == NO_DAY, np.iinfo(np.int32).max, self.day)
        keep = np.flatnonzero(self.position >= 0)
        sort = np.lexsort((self.ids[keep], day[keep], self.timepoint[keep],
                           self.position[keep]))
        return keep[sort]

    @cached_property
    def rank(self) -> np.ndarray:
        """Each visit's place in ``order`` (-1 for visits of patients not in the table)."""
        rank = np.full(len(self.ids), -1, np.int64)
        rank[self.order] = np.arange(len(self.order))
        return rank

    @cached_property
    def starts(self) -> np.ndarray:
        return np.searchsorted(self.position[self.order], np.arange(self.n_patients + 1))

    @cached_property
    def _table(self) -> np.ndarray | None:
        """visit id -> index, when the ids are dense enough for a direct lookup table."""
        top = int(self.ids[-1]) if len(self.ids) else 0
        if not len(self.ids) or top >= 4 * len(self.ids) + 1_000_000:
            return None
        table = np.full(top + 1, -1, np.int64)
        table[self.ids] = np.arange(len(self.ids))
        return table

    def index_of(self, visit_ids: np.ndarray) -> np.ndarray:
        """Index of each visit id (-1 when not a visit of the cohort)."""
        if not len(self.ids):
            return np.full(len(visit_ids), -1, np.int64)
        table = self._table
        if table is not None:
            top = len(table) - 1
            inside = (visit_ids >= 0) & (visit_ids <= top)
            return np.where(inside, table[np.clip(visit_ids, 0, top)], -1)
        at = np.minimum(np.searchsorted(self.ids, visit_ids), len(self.ids) - 1)
        return np.where(self.ids[at] == visit_ids, at, -1)

    def grid_counts(self) -> np.ndarray:
        """Rows the long table has at least for each patient (its visits' expected scores)."""
        rows = np.where(self.in_grid, self.expected.sum(axis=1)[self.expected_row], 0)
        keep = self.position >= 0
        return np.bincount(self.position[keep], weights=rows[keep],
                           minlength=self.n_patients).astype(np.int64)


def expected_scores(session: Session,
                    score_codes: list[str]) -> tuple[dict[int, int], np.ndarray]:
    """(timepoint id -> row, matrix): the scores a visit of each timepoint should have —
    those of the instruments it records (``scheduling.timepoint_instruments``) and of the
    instruments scored from their answers; row 0 is an unscheduled visit's."""
    column = {code: index for index, code in enumerate(score_codes)}

    def row(timepoint: Timepoint | None) -> np.ndarray:
        wanted = np.zeros(len(score_codes), bool)
        for instrument in timepoint_instruments(timepoint):
            if instrument not in scoring.INSTRUMENTS:
                continue  # an instrument no longer in the catalogue records nothing new
            for scored in scoring.scored_from(instrument):
                for score in scored.scores:
                    if score.code in column:
                        wanted[column[score.code]] = True
        return wanted

    timepoints = list(session.scalars(select(Timepoint)))
    rows = [row(None)] + [row(tp) for tp in timepoints]
    return ({tp.id: n + 1 for n, tp in enumerate(timepoints)},
            np.array(rows, dtype=bool).reshape(len(rows), len(score_codes)))


def visits_query(session: Session, cohort: Select[int] | None) -> AnySelect:
    """The visits of the cohort (of every patient when ``cohort`` is None), one row of
    ``VISIT_FIELDS`` numbers each, with the status at each site's today."""
    sites = (None if cohort is None else select(Patient.site_id)
             .where(Patient.id.in_(cohort)).distinct().scalar_subquery())
    todays = site_todays(session, sites)
    rule = (case({code: index for index, code in enumerate(RULE_CODES)},
                 value=status_expression(todays), else_=-1) if todays else literal(-1))
    mode = case({code: index for index, code in enumerate(MODE_CODES)},
                value=Visit.collection_mode, else_=-1)

    def days(column: Any) -> Any:
        return func.coalesce(days_between(session, column, Treatment.treatment_date), NO_DAY)

    query = (select(Visit.id, Visit.patient_id, func.coalesce(Visit.timepoint_id, 0), rule,
                    case((Visit.status == "not_applicable", 1), else_=0),
                    case((Visit.out_of_window.is_(True), 1), else_=0),
                    days(Visit.target_date), days(Visit.window_start), days(Visit.window_end),
                    days(Visit.grace_end), days(Visit.visit_date), mode,
                    case((Patient.status == "withdrawn", 1), else_=0),
                    case((Visit.window_end < Patient.withdrawn_on, 1), else_=0),
                    case(((Visit.status == "done") & Visit.visit_date.is_not(None), 1),
                         else_=0))
             .join(Patient, Patient.id == Visit.patient_id)
             .join(Treatment, Treatment.patient_id == Visit.patient_id))
    return query if cohort is None else query.where(Visit.patient_id.in_(cohort))


def load_visits(session: Session, cohort: Select[int], patient_ids: np.ndarray,
                timepoint_of: dict[int, int], n_timepoints: int,
                score_codes: list[str], rows: np.ndarray | None = None) -> Visits:
    """Every visit of the cohort (one query), with its status at each site's today;
    ``rows``: the ``visits_query`` rows when already read (they may hold other patients'
    visits too: those are left out)."""
    if rows is None:
        rows = read_rows(session, visits_query(session, cohort))
    rows = rows[np.argsort(rows["id"], kind="stable")]
    lookup = np.full(max(timepoint_of, default=0) + 1, n_timepoints, dtype=np.int16)
    for tp_id, index in timepoint_of.items():
        lookup[tp_id] = index
    at = np.minimum(np.searchsorted(patient_ids, rows["patient"]), max(len(patient_ids) - 1, 0))
    known = (patient_ids[at] == rows["patient"]) if len(patient_ids) else np.zeros(len(rows),
                                                                                  bool)
    rows = rows[known]
    at = at[known]
    scheduled = rows["timepoint"] != 0
    timepoint = np.where(scheduled, lookup[np.where(scheduled, rows["timepoint"], 0)],
                         n_timepoints).astype(np.int16)
    status = _visit_status(rows, scheduled)
    row_of, matrix = expected_scores(session, score_codes)
    row_lookup = np.zeros(max(row_of, default=0) + 1, np.int16)
    for tp_id, row in row_of.items():
        row_lookup[tp_id] = row
    done = (status == _STATUS["done"]) | (status == _STATUS["done_out_of_window"])
    return Visits(
        ids=rows["id"], position=at, timepoint=timepoint,
        status=status, out_of_window=np.where(done & scheduled, rows["out_of_window"], -1)
        .astype(np.int8),
        target_day=_day(rows["target"]), window_start_day=_day(rows["start"]),
        window_end_day=_day(rows["end"]), grace_end_day=_day(rows["grace"]),
        day=_day(rows["day"]), mode=rows["mode"].astype(np.int8),
        stored_done=rows["stored_done"] == 1, expected=matrix,
        expected_row=np.where(scheduled, row_lookup[np.minimum(rows["timepoint"],
                                                               len(row_lookup) - 1)], 0),
        n_timepoints=n_timepoints, n_patients=len(patient_ids))


def _day(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int32)  # NO_DAY is int32's smallest value: it stays NO_DAY


def _visit_status(rows: np.ndarray, scheduled: np.ndarray) -> np.ndarray:
    """The visits table's status of each visit (see the module doc)."""
    rule = rows["rule"]
    status = np.where(rule >= 0, _RULE_TO_VISIT[np.maximum(rule, 0)],
                      _STATUS["scheduled"]).astype(np.int8)
    done = rule == RULE_CODES.index("done")
    status[done & scheduled & (rows["out_of_window"] == 1)] = _STATUS["done_out_of_window"]
    withdrawn = (rows["withdrawn"] == 1) & ~done
    closed = withdrawn & (rows["closed_before"] == 1)
    status[withdrawn] = _STATUS["withdrawn"]
    status[closed] = np.where(rows["marked_na"][closed] == 1, _STATUS["not_applicable"],
                              _STATUS["missed"])
    return status

