"""A cohort's score rows, read in two queries and handed on in chunks of whole patients.

Queries: the done visits of the cohort (one), and their scores (one).  A score row travels
as two numbers: ``visit id × W + score index`` (W: a power of two above the number of score
codes; the database turns the code into its index) and the value (NULL as ``MISSING``).
Both queries run in patient order, so the export can build and write one chunk of patients
while the next one is being read.

- SQLite: the visit index drives the score query (``ORDER BY visit.patient_id`` costs no
  sort); rows are fetched block by block straight from the DBAPI cursor into numpy.
- PostgreSQL: the server packs each patient's numbers into binary arrays
  (``array_send(array_agg(...))``: exact doubles, no per-row Python objects) and the result
  is streamed, one row per patient.

A chunk holds all rows of its patients, in the export's order: patient (by internal id),
timepoint, score; ties (a score stored twice for a patient and timepoint) by visit id,
then storage order.  So each chunk can be derived (baseline, change, responder) on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Select, case, cast, func, select
from sqlalchemy.orm import Session

from registry.models import ScoreValue, Treatment, Visit
from registry.research.sqldates import days_between
from registry.vocabularies import COLLECTION_MODES

MISSING = -1e300  # stands for NULL in the streamed score values (scores are 0–100)
BLOCK_ROWS = 65_536  # rows fetched from the SQLite cursor at a time
CHUNK_ROWS = 400_000  # about this many rows (whole patients) per chunk
BLOCK_BYTES = 1 << 20  # PostgreSQL: bytes of packed keys handed on at a time
Progress = Callable[[int], None]
MODE_CODES = list(COLLECTION_MODES)  # a visit's mode travels as its index in this list
AnySelect = Select[*tuple[Any, ...]]  # a SELECT of any columns (Select is variadic in 2.1)


@dataclass
class ScoreChunk:
    """Score rows of the patients at positions ``first`` … ``stop - 1``, in export order."""

    first: int
    stop: int
    position: np.ndarray  # patient position (index into the sorted patients table)
    timepoint: np.ndarray  # index into the timepoint list
    day: np.ndarray  # visit day since treatment
    score: np.ndarray  # index into the score code list
    value: np.ndarray  # float, NaN when the score could not be computed
    # The visit's mode of collection: index into MODE_CODES, -1 when not recorded.
    mode: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


def empty_chunk() -> ScoreChunk:
    """No score rows (the arrays' types as ``chunks`` gives them)."""
    return ScoreChunk(0, 0, np.empty(0, np.int64), np.empty(0, np.int16),
                      np.empty(0, np.int32), np.empty(0, np.int16), np.empty(0),
                      np.empty(0, np.int8))


def merge(chunks: list[ScoreChunk]) -> ScoreChunk:
    """One chunk of the rows of several (consecutive, ordered) chunks."""
    if not chunks:
        return empty_chunk()
    return ScoreChunk(chunks[0].first, chunks[-1].stop,
                      *(np.concatenate([getattr(c, name) for c in chunks])
                        for name in ("position", "timepoint", "day", "score", "value",
                                     "mode")))


@dataclass
class Visits:
    """The cohort's done visits, sorted by id."""

    ids: np.ndarray
    position: np.ndarray  # patient position, -1 when the patient is not in the table
    timepoint: np.ndarray
    day: np.ndarray
    mode: np.ndarray  # index into MODE_CODES, -1 when not recorded

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
        """Index of each visit id (-1 when not a done visit of the cohort)."""
        if not len(self.ids):
            return np.full(len(visit_ids), -1, np.int64)
        table = self._table
        if table is not None:
            top = len(table) - 1
            inside = (visit_ids >= 0) & (visit_ids <= top)
            return np.where(inside, table[np.clip(visit_ids, 0, top)], -1)
        at = np.minimum(np.searchsorted(self.ids, visit_ids), len(self.ids) - 1)
        return np.where(self.ids[at] == visit_ids, at, -1)


def done_visit_conditions(cohort: Select[int]) -> tuple[Any, ...]:
    return (Visit.patient_id.in_(cohort), Visit.status == "done",
            Visit.timepoint_id.is_not(None), Visit.visit_date.is_not(None))


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def fetch_numbers(session: Session, query: AnySelect,
                  dtype: np.dtype) -> Iterator[np.ndarray]:
    """The query's rows, block by block, as structured numpy arrays (no Row objects)."""
    # No stream_results: SQLAlchemy's buffered strategy would pre-read rows from the cursor.
    result = session.connection().execute(query)
    try:
        cursor = result.cursor
        while rows := cursor.fetchmany(BLOCK_ROWS):
            yield np.fromiter(rows, dtype, len(rows))
    finally:
        result.close()


def load_visits(session: Session, cohort: Select[int], patient_ids: np.ndarray,
                timepoint_of: dict[int, int]) -> Visits:
    mode = case({code: index for index, code in enumerate(MODE_CODES)},
                value=Visit.collection_mode, else_=-1)
    query = (select(Visit.id, Visit.patient_id, Visit.timepoint_id,
                    days_between(session, Visit.visit_date, Treatment.treatment_date), mode)
             .join(Treatment, Treatment.patient_id == Visit.patient_id)
             .where(*done_visit_conditions(cohort)))
    dtype = np.dtype([("id", "i8"), ("patient", "i8"), ("timepoint", "i8"), ("day", "i8"),
                      ("mode", "i8")])
    parts = list(fetch_numbers(session, query, dtype))
    rows = np.concatenate(parts) if parts else np.empty(0, dtype)
    rows = rows[np.argsort(rows["id"], kind="stable")]
    lookup = np.full(max(timepoint_of, default=0) + 1, -1, dtype=np.int16)
    for tp_id, index in timepoint_of.items():
        lookup[tp_id] = index
    at = np.minimum(np.searchsorted(patient_ids, rows["patient"]), max(len(patient_ids) - 1, 0))
    known = (patient_ids[at] == rows["patient"]) if len(patient_ids) else np.zeros(len(rows),
                                                                                  bool)
    return Visits(ids=rows["id"], position=np.where(known, at, -1),
                  timepoint=lookup[rows["timepoint"]], day=rows["day"].astype(np.int32),
                  mode=rows["mode"].astype(np.int8))


def key_width(score_codes: list[str]) -> int:
    return 1 << max(1, (len(score_codes) - 1).bit_length())


def score_columns(score_codes: list[str], *, wide_key: bool) -> tuple[Any, Any]:
    """(visit id × W + score index, value or MISSING) of a score row; ``wide_key``: compute
    the key as BIGINT (PostgreSQL's integer would overflow; SQLite's are 64-bit anyway)."""
    by_length: dict[int, dict[str, int]] = {}
    for index, code in enumerate(score_codes):
        by_length.setdefault(len(code), {})[code] = index
    # By length first: about three comparisons a row instead of a dozen.
    score_index = case({length: case(codes, value=ScoreValue.score_code)
                        for length, codes in by_length.items()},
                       value=func.length(ScoreValue.score_code))
    visit = cast(ScoreValue.visit_id, BigInteger) if wide_key else ScoreValue.visit_id
    key = visit * key_width(score_codes) + score_index
    return key, func.coalesce(ScoreValue.value, MISSING)


def score_select(cohort: Select[int], score_codes: list[str],
                 *columns: Any) -> AnySelect:
    """``columns`` over the scores of the cohort's done visits (known score codes only)."""
    return (select(*columns).select_from(Visit)
            .join(ScoreValue, ScoreValue.visit_id == Visit.id)
            .where(*done_visit_conditions(cohort), ScoreValue.score_code.in_(score_codes)))


def order_rows(visits: Visits, visit: np.ndarray, score: np.ndarray,
               n_timepoints: int, width: int) -> np.ndarray:
    """Stable order by (patient, timepoint, score, visit id) of rows that arrive in storage
    order within each visit."""
    position = visits.position[visit].astype(np.int64)
    timepoint = visits.timepoint[visit].astype(np.int64)
    span = max(n_timepoints, 1)
    if (int(position.max(initial=0)) + 1) * span * width * (len(visits.ids) + 1) < 2**62:
        key = ((position * span + timepoint) * width + score) * (len(visits.ids) + 1) + visit
        return np.argsort(key, kind="stable")
    return np.lexsort((visit, score, timepoint, position))


def make_chunk(visits: Visits, visit: np.ndarray, score: np.ndarray, value: np.ndarray,
               n_timepoints: int, width: int) -> ScoreChunk:
    order = order_rows(visits, visit, score, n_timepoints, width)
    visit, score, value = visit[order], score[order], value[order]
    position = visits.position[visit].astype(np.int64)
    value[value <= MISSING / 2] = np.nan
    first = int(position[0]) if len(position) else 0
    stop = int(position[-1]) + 1 if len(position) else 0
    return ScoreChunk(first, stop, position, visits.timepoint[visit], visits.day[visit],
                      score.astype(np.int16), value, visits.mode[visit])


def _decode(keys: np.ndarray, values: np.ndarray, visits: Visits,
            width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(visit index, score index, value) of the rows of the cohort's known visits."""
    shift = width.bit_length() - 1
    visit = visits.index_of(keys >> shift)
    score = keys & (width - 1)
    keep = visit >= 0
    keep[keep] = visits.position[visit[keep]] >= 0
    if not keep.all():
        return visit[keep], score[keep], values[keep]
    return visit, score, values


def _sqlite_blocks(session: Session, cohort: Select[int],
                   score_codes: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(keys, values) blocks in patient order: the visit index drives the query, so ORDER BY
    costs no sort; a visit's scores come in row order."""
    key, value = score_columns(score_codes, wide_key=False)
    query = score_select(cohort, score_codes, key, value).order_by(Visit.patient_id)
    dtype = np.dtype([("key", "i8"), ("value", "f8")])
    for block in fetch_numbers(session, query, dtype):
        yield block["key"], block["value"]


def _postgres_blocks(session: Session, cohort: Select[int],
                     score_codes: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(keys, values) blocks in patient order: the server packs each patient's numbers into
    binary arrays (exact doubles, no per-row objects on this side); the result is streamed."""
    key, value = score_columns(score_codes, wide_key=True)

    def packed(column: Any) -> Any:  # array elements without the 20-byte array header
        return func.substring(func.array_send(func.array_agg(column)), 21)

    query = (score_select(cohort, score_codes, packed(key), packed(value))
             .group_by(Visit.patient_id).order_by(Visit.patient_id))
    compiled = query.compile(dialect=session.get_bind().dialect,
                             compile_kwargs={"render_postcompile": True})
    connection = session.connection().connection.dbapi_connection
    with connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        held_keys: list[bytes] = []
        held_values: list[bytes] = []
        size = 0
        for key_blob, value_blob in cursor.stream(str(compiled), compiled.params, size=256):
            held_keys.append(key_blob)
            held_values.append(value_blob)
            size += len(key_blob)
            if size >= BLOCK_BYTES:
                yield _array_elements(held_keys, "i8"), _array_elements(held_values, "f8")
                held_keys, held_values, size = [], [], 0
        if held_keys:
            yield _array_elements(held_keys, "i8"), _array_elements(held_values, "f8")


def _array_elements(blobs: list[bytes], kind: str) -> np.ndarray:
    """The 8-byte elements of int8/float8 arrays in PostgreSQL's binary format (headers cut
    off by the query): each element is its length (always 8: no NULLs) and its value."""
    elements = np.frombuffer(b"".join(blobs), np.dtype([("length", ">i4"), ("value", ">" + kind)]))
    if (elements["length"] != 8).any():
        raise ValueError("unexpected array element from PostgreSQL")
    return elements["value"].astype(kind)


def chunks(session: Session, cohort: Select[int], patient_ids: np.ndarray,
           score_codes: list[str], timepoint_of: dict[int, int], n_timepoints: int,
           progress: Progress | None = None) -> Iterator[ScoreChunk]:
    """The cohort's score rows as chunks of whole patients (about ``CHUNK_ROWS`` rows), in
    export order."""
    chunk_rows = CHUNK_ROWS
    visits = load_visits(session, cohort, patient_ids, timepoint_of)
    width = key_width(score_codes)
    blocks = (_postgres_blocks if is_postgresql(session) else _sqlite_blocks)(
        session, cohort, score_codes)
    held: list[tuple[np.ndarray, ...]] = []
    held_rows = 0
    for keys, values in blocks:
        if progress:
            progress(len(keys) * 2)
        held.append(_decode(keys, values, visits, width))
        held_rows += len(held[-1][0])
        if held_rows < chunk_rows:
            continue
        visit, score, value = (np.concatenate(parts) for parts in zip(*held, strict=True))
        position = visits.position[visit]
        cut = int(np.searchsorted(position, position[-1], side="left"))
        if cut == 0:  # one patient so far: keep reading
            held, held_rows = [(visit, score, value)], len(visit)
            continue
        yield make_chunk(visits, visit[:cut], score[:cut], value[:cut], n_timepoints, width)
        held, held_rows = [(visit[cut:], score[cut:], value[cut:])], len(visit) - cut
    if held_rows:
        visit, score, value = (np.concatenate(parts) for parts in zip(*held, strict=True))
        yield make_chunk(visits, visit, score, value, n_timepoints, width)
