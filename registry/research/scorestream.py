"""A cohort's score rows, read in two queries and handed on in chunks of whole patients.

Queries: the cohort's visits (one, ``visitrows.load_visits``: every visit with its status),
and the scores of its done visits (one).  A score row travels as two numbers:
``visit id × W + score index`` (W: a power of two above the number of score codes; the
database turns the code into its index) and the value (NULL as ``MISSING``).  The score
query runs in patient order, so the export can build and write one chunk of patients while
the next one is being read.

- SQLite: the visit index drives the score query (``ORDER BY visit.patient_id`` costs no
  sort); rows are fetched block by block straight from the DBAPI cursor into numpy.
- PostgreSQL: the server packs each patient's numbers into binary arrays
  (``array_send(array_agg(...))``: exact doubles, no per-row Python objects) and the result
  is streamed, one row per patient.

A chunk holds all rows of its patients (consecutive positions ``first`` … ``stop - 1``; the
chunks tile the whole patients table, cut where about ``CHUNK_ROWS`` rows are reached): the
stored scores and a row for every score a visit should have and has not (the scores of the
instruments its timepoint records, ``visitrows.expected_scores``), each with the reason its
value is missing (``missing.SCORE_REASONS``).  Rows come in the export's order: patient,
timepoint (unscheduled visits last, by day), visit, score; ties (a score stored twice at a
visit) in storage order.  So each chunk can be derived (baseline, change, responder) alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Select, case, cast, func, select
from sqlalchemy.orm import Session

from registry.models import ScoreValue, Visit
from registry.research import sqlitescan, visitrows
from registry.research.visitrows import (
    MODE_CODES,
    NO_DAY,
    NOT_SCORABLE,
    REASON_OF_STATUS,
    SCORED,
    AnySelect,
    Visits,
    fetch_numbers,
)

MISSING = -1e300  # stands for NULL in the streamed score values (scores are 0–100)
BLOCK_ROWS = 65_536  # rows fetched from the SQLite cursor at a time
CHUNK_ROWS = 400_000  # about this many rows (whole patients) per chunk
BLOCK_BYTES = 1 << 20  # PostgreSQL: bytes of packed keys handed on at a time
Progress = Callable[[int], None]
__all__ = ["MODE_CODES", "NO_DAY", "AnySelect", "ScoreChunk", "chunks", "empty_chunk", "merge"]


@dataclass
class ScoreChunk:
    """Score rows of the patients at positions ``first`` … ``stop - 1``, in export order."""

    first: int
    stop: int
    position: np.ndarray  # patient position (index into the sorted patients table)
    timepoint: np.ndarray  # index into the timepoint list (their number when unscheduled)
    day: np.ndarray  # visit day since treatment (NO_DAY for a visit not done)
    score: np.ndarray  # index into the score code list
    value: np.ndarray  # float, NaN when the score is missing
    # The visit's mode of collection: index into MODE_CODES, -1 when not recorded.
    mode: np.ndarray
    visit: np.ndarray  # index into the cohort's ``Visits``
    reason: np.ndarray  # why the value is missing: index into missing.SCORE_REASONS

    def __len__(self) -> int:
        return len(self.value)


FIELDS = ("position", "timepoint", "day", "score", "value", "mode", "visit", "reason")


def empty_chunk() -> ScoreChunk:
    """No score rows (the arrays' types as ``chunks`` gives them)."""
    return ScoreChunk(0, 0, np.empty(0, np.int64), np.empty(0, np.int16),
                      np.empty(0, np.int32), np.empty(0, np.int16), np.empty(0),
                      np.empty(0, np.int8), np.empty(0, np.int64), np.empty(0, np.int8))


def merge(chunks: list[ScoreChunk]) -> ScoreChunk:
    """One chunk of the rows of several (consecutive, ordered) chunks."""
    if not chunks:
        return empty_chunk()
    return ScoreChunk(chunks[0].first, chunks[-1].stop,
                      *(np.concatenate([getattr(c, name) for c in chunks]) for name in FIELDS))


def select_rows(chunk: ScoreChunk, keep: np.ndarray) -> ScoreChunk:
    """The rows of ``chunk`` where ``keep`` is true (same patients)."""
    return ScoreChunk(chunk.first, chunk.stop,
                      *(getattr(chunk, name)[keep] for name in FIELDS))


def done_visit_conditions(cohort: Select[int]) -> tuple[Any, ...]:
    return (Visit.patient_id.in_(cohort), Visit.status == "done",
            Visit.visit_date.is_not(None))


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


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


def make_chunk(visits: Visits, first: int, stop: int, visit: np.ndarray, score: np.ndarray,
               value: np.ndarray, width: int) -> ScoreChunk:
    """The rows of patients ``first`` … ``stop - 1``: their stored scores (``visit``,
    ``score``, ``value``) and a row for each expected score that is not stored."""
    value = value.copy()
    value[value <= MISSING / 2] = np.nan
    stored_reason = np.where(np.isnan(value), NOT_SCORABLE, SCORED).astype(np.int8)
    mine = visits.order[visits.starts[first]:visits.starts[stop]]
    mine = mine[visits.in_grid[mine]]
    which, expected_score = np.nonzero(visits.expected[visits.expected_row[mine]])
    expected_visit = mine[which]
    # Which expected (visit, score) pairs are stored: a table of the chunk's visits (by
    # their place in ``order``, consecutive) × scores, marked where stored (no sort).
    base = int(visits.starts[first])
    stored = np.zeros((int(visits.starts[stop]) - base) * width + width, bool)
    stored[(visits.rank[visit] - base) * width + score] = True
    absent = ~stored[(visits.rank[expected_visit] - base) * width + expected_score]
    extra_visit, extra_score = expected_visit[absent], expected_score[absent]
    visit = np.concatenate([visit, extra_visit])
    score = np.concatenate([score, extra_score]).astype(np.int16)
    value = np.concatenate([value, np.full(len(extra_visit), np.nan)])
    reason = np.concatenate([stored_reason, REASON_OF_STATUS[visits.status[extra_visit]]])
    order = np.argsort(visits.rank[visit] * width + score, kind="stable")
    visit = visit[order]
    return ScoreChunk(first, stop, visits.position[visit].astype(np.int64),
                      visits.timepoint[visit], visits.day[visit], score[order], value[order],
                      visits.mode[visit], visit, reason[order].astype(np.int8))


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
    for block in fetch_numbers(session, query, dtype, BLOCK_ROWS):
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


def start_scan(session: Session, cohort: Select[int],
               score_codes: list[str]) -> sqlitescan.ScoreScan | None:
    """On SQLite, for a cohort that is a large part of the registry: the reads of the
    score table and the visits, started now in child processes (``sqlitescan``); None
    otherwise."""
    if is_postgresql(session):
        return None
    return sqlitescan.start(session, cohort, *score_columns(score_codes, wide_key=False))


def chunk_stops(visits: Visits, chunk_rows: int) -> np.ndarray:
    """Where chunks end (patient positions): about ``chunk_rows`` expected rows each, the
    last one at the number of patients."""
    total = np.cumsum(visits.grid_counts())
    if not len(total):
        return np.empty(0, np.int64)
    stops = np.flatnonzero(np.diff(total // max(chunk_rows, 1), prepend=0) > 0) + 1
    if not len(stops) or stops[-1] != len(total):
        stops = np.append(stops, len(total))
    return stops


def chunks(session: Session, cohort: Select[int], patient_ids: np.ndarray,
           score_codes: list[str], timepoint_of: dict[int, int], n_timepoints: int,
           progress: Progress | None = None, visits: Visits | None = None,
           scan: sqlitescan.ScoreScan | None = None) -> Iterator[ScoreChunk]:
    """The cohort's score rows as chunks of whole patients (about ``CHUNK_ROWS`` rows), in
    export order; ``visits``: the cohort's visits when already loaded; ``scan``: a SQLite
    scan of the score table started for this cohort (``start_scan``)."""
    if visits is None:
        visits = visitrows.load_visits(session, cohort, patient_ids, timepoint_of,
                                       n_timepoints, score_codes)
    width = key_width(score_codes)
    stops = chunk_stops(visits, CHUNK_ROWS).tolist()
    if not stops:
        return
    if is_postgresql(session):
        blocks = _postgres_blocks(session, cohort, score_codes)
    elif scan is not None and (scanned := scan.blocks(visits, width)) is not None:
        blocks = scanned
    else:
        blocks = _sqlite_blocks(session, cohort, score_codes)
    at, first = 0, 0  # the chunk being filled, and its first patient
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    held: list[tuple[np.ndarray, ...]] = [empty]
    for keys, values in blocks:
        if progress:
            progress(len(keys) * 2)
        held.append(_decode(keys, values, visits, width))
        if not len(held[-1][0]) or visits.position[held[-1][0][-1]] < stops[at]:
            continue  # the chunk's patients may have more rows to come
        visit, score, value = (np.concatenate(parts) for parts in zip(*held, strict=True))
        position = visits.position[visit]
        while len(position) and position[-1] >= stops[at]:
            cut = int(np.searchsorted(position, stops[at], side="left"))
            yield make_chunk(visits, first, stops[at], visit[:cut], score[:cut], value[:cut],
                             width)
            visit, score, value = visit[cut:], score[cut:], value[cut:]
            position = position[cut:]
            first, at = stops[at], at + 1
        held = [(visit, score, value)]
    visit, score, value = (np.concatenate(parts) for parts in zip(*held, strict=True))
    for stop in stops[at:]:  # the last chunks: no rows of later patients follow
        cut = int(np.searchsorted(visits.position[visit], stop, side="left"))
        yield make_chunk(visits, first, stop, visit[:cut], score[:cut], value[:cut], width)
        visit, score, value = visit[cut:], score[cut:], value[cut:]
        first = stop
