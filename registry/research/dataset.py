"""Reading a cohort's data in a bounded number of queries, already de-identified in SQL.

Queries: timepoints (1), patients (1), visits with their scores (1, streamed in chunks into
numpy arrays), adverse events (1), item answers (1, optional).  Birth dates, names,
record numbers, contact details and study IDs are never selected; dates are turned into
days since treatment by the database; age at treatment is computed and capped there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Integer, Select, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

import scoring
from registry.models import (
    AdverseEvent,
    IndexKnee,
    InstrumentResponse,
    Patient,
    ScoreValue,
    Site,
    Timepoint,
    Treatment,
    Visit,
)
from registry.research.cohorts import AGE_CAP, age_at_treatment

CHUNK_ROWS = 200_000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class TimepointInfo:
    code: str
    name: str
    is_baseline: bool
    target_day: int


@dataclass
class ScoreRows:
    """One element per stored score of a done, scheduled visit (numpy arrays)."""

    patient_id: np.ndarray
    timepoint: np.ndarray  # index into the timepoint list
    day: np.ndarray  # visit day since treatment
    score: np.ndarray  # index into the score code list
    value: np.ndarray  # float, NaN when the score could not be computed


@dataclass
class Dataset:
    timepoints: list[TimepointInfo]
    score_codes: list[str]
    patients: pd.DataFrame  # sorted by patient_id (internal id, never exported)
    scores: ScoreRows
    adverse_events: pd.DataFrame | None = None
    items: pd.DataFrame | None = None
    free_text: bool = False
    timepoint_of: dict[int, int] = field(default_factory=dict)  # timepoint id -> index

    @property
    def baseline_index(self) -> list[int]:
        return [i for i, tp in enumerate(self.timepoints) if tp.is_baseline]


def days_between(session: Session, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole days from ``earlier`` to ``later``, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.round(func.julianday(later) - func.julianday(earlier)), Integer)
    return cast(later - earlier, Integer)


def load_timepoints(session: Session) -> tuple[list[TimepointInfo], dict[int, int]]:
    """Timepoints by code (protocols may share codes) and timepoint id -> list index."""
    rows = session.execute(select(Timepoint.id, Timepoint.code, Timepoint.name,
                                  Timepoint.is_baseline, Timepoint.target_day,
                                  Timepoint.sort_order)
                           .order_by(Timepoint.is_baseline.desc(), Timepoint.target_day,
                                     Timepoint.sort_order)).all()
    infos: list[TimepointInfo] = []
    position: dict[str, int] = {}
    by_id: dict[int, int] = {}
    for tp_id, code, name, is_baseline, target_day, _order in rows:
        if code not in position:
            position[code] = len(infos)
            infos.append(TimepointInfo(code, name, bool(is_baseline), int(target_day)))
        by_id[tp_id] = position[code]
    return infos, by_id


def load_patients(session: Session, cohort: Select[tuple[int]],
                  free_text: bool) -> pd.DataFrame:
    age = age_at_treatment()
    columns: list[Any] = [
        Patient.id.label("patient_id"), Site.code.label("site"), Patient.sex,
        case((age >= AGE_CAP, AGE_CAP), else_=age).label("age_at_treatment"),
        (age >= AGE_CAP).label("age_90_plus"),
        Patient.height_cm, Patient.weight_kg, Patient.bmi,
        IndexKnee.kl_grade, IndexKnee.laterality,
        Treatment.cell_source, Treatment.product_name.label("product"),
        Treatment.cell_dose_million, Treatment.injections, Treatment.co_interventions,
        Patient.outside_indication_justification.is_not(None).label("outside_indication"),
        Patient.status, Patient.withdrawal_reason,
        days_between(session, Patient.withdrawn_on, Treatment.treatment_date)
        .label("withdrawal_day"),
    ]
    if free_text:
        columns += [Patient.outside_indication_justification.label("justification"),
                    Patient.withdrawal_note, Treatment.notes.label("treatment_notes")]
    query = (select(*columns).join(Site, Site.id == Patient.site_id)
             .join(Treatment, Treatment.patient_id == Patient.id)
             .outerjoin(IndexKnee, IndexKnee.patient_id == Patient.id)
             .where(Patient.id.in_(cohort)).order_by(Patient.id))
    result = session.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    return frame


MISSING = -1e300  # stands for NULL in the streamed score values (scores are 0–100)


def stream_numbers(session: Session, query: Select[Any], progress: Progress | None = None,
                   weight: int = 1) -> np.ndarray:
    """All rows of a numeric query as one float matrix, read chunk by chunk straight from
    the DBAPI cursor (no Row objects: the columns need no type conversion).  SQLite steps
    lazily; psycopg holds the result client-side (about 40 bytes a row)."""
    width = len(query.selected_columns)
    # No stream_results: SQLAlchemy's buffered strategy would pre-read rows from the cursor.
    result = session.connection().execute(query)
    cursor = result.cursor
    parts: list[np.ndarray] = []
    try:
        while rows := cursor.fetchmany(CHUNK_ROWS):
            flat = np.fromiter(chain.from_iterable(rows), np.float64, len(rows) * width)
            parts.append(flat.reshape(len(rows), width))
            if progress:
                progress(len(rows) * weight)
    finally:
        result.close()
    return np.concatenate(parts) if parts else np.empty((0, width))


def load_scores(session: Session, cohort: Select[tuple[int]], score_codes: list[str],
                timepoint_of: dict[int, int], progress: Progress | None = None) -> ScoreRows:
    """Done, scheduled visits (one query) and their scores (one query), streamed as numbers.

    Dates become days since treatment in the database; a score code becomes its index.
    """
    done = (Visit.patient_id.in_(cohort), Visit.status == "done",
            Visit.timepoint_id.is_not(None), Visit.visit_date.is_not(None))
    visit_query = (select(Visit.id, Visit.patient_id, Visit.timepoint_id,
                          days_between(session, Visit.visit_date, Treatment.treatment_date))
                   .join(Treatment, Treatment.patient_id == Visit.patient_id).where(*done))
    visits = stream_numbers(session, visit_query)
    order = np.argsort(visits[:, 0], kind="stable")
    visits = visits[order]
    score_index = case({code: i for i, code in enumerate(score_codes)},
                       value=ScoreValue.score_code, else_=-1)
    score_query = (select(ScoreValue.visit_id, score_index,
                          func.coalesce(ScoreValue.value, MISSING))
                   .where(ScoreValue.visit_id.in_(select(Visit.id).where(*done))))
    scores = stream_numbers(session, score_query, progress, weight=2)
    scores = scores[scores[:, 1] >= 0]
    at = np.searchsorted(visits[:, 0], scores[:, 0])
    lookup = np.full(max(timepoint_of, default=0) + 1, -1, dtype=np.int16)
    for tp_id, position in timepoint_of.items():
        lookup[tp_id] = position
    value = scores[:, 2]
    value[value <= MISSING / 2] = np.nan
    return ScoreRows(
        patient_id=visits[at, 1].astype(np.int64),
        timepoint=lookup[visits[at, 2].astype(np.int64)] if len(at) else np.empty(0, np.int16),
        day=visits[at, 3].astype(np.int32),
        score=scores[:, 1].astype(np.int16),
        value=value,
    )


def load_adverse_events(session: Session, cohort: Select[tuple[int]],
                        free_text: bool) -> pd.DataFrame:
    columns: list[Any] = [
        AdverseEvent.patient_id,
        days_between(session, AdverseEvent.onset_date, Treatment.treatment_date)
        .label("onset_day"),
        AdverseEvent.category, AdverseEvent.severity_grade, AdverseEvent.serious,
        AdverseEvent.serious_criterion, AdverseEvent.relatedness, AdverseEvent.action_taken,
        AdverseEvent.outcome,
        days_between(session, AdverseEvent.resolution_date, Treatment.treatment_date)
        .label("resolution_day"),
    ]
    if free_text:
        columns.append(AdverseEvent.description)
    query = (select(*columns).join(Treatment, Treatment.patient_id == AdverseEvent.patient_id)
             .where(AdverseEvent.patient_id.in_(cohort))
             .order_by(AdverseEvent.patient_id, AdverseEvent.onset_date, AdverseEvent.id))
    result = session.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def load_items(session: Session, cohort: Select[tuple[int]],
               timepoint_of: dict[int, int]) -> pd.DataFrame:
    """One row per done visit: patient, timepoint, and every item answer as
    ``<instrument>_<item>`` (instruments and items from ``scoring.INSTRUMENTS``)."""
    query = (select(Visit.patient_id, Visit.timepoint_id, InstrumentResponse.instrument,
                    InstrumentResponse.answers)
             .join(Visit, Visit.id == InstrumentResponse.visit_id)
             .where(Visit.patient_id.in_(cohort), Visit.status == "done",
                    Visit.timepoint_id.is_not(None)))
    records: dict[tuple[int, int], dict[str, Any]] = {}
    for patient_id, tp_id, instrument, answers in session.execute(query):
        definition = scoring.INSTRUMENTS.get(instrument)
        if definition is None:
            continue
        row = records.setdefault((patient_id, timepoint_of[tp_id]), {})
        for item in definition.items:
            row[f"{instrument}_{item.code}"] = (answers or {}).get(item.code)
    rows = [{"patient_id": p, "timepoint": t, **answers}
            for (p, t), answers in sorted(records.items())]
    return pd.DataFrame(rows)


def load(session: Session, cohort: Select[tuple[int]], *, items: bool = False,
         adverse_events: bool = False, free_text: bool = False,
         progress: Progress | None = None) -> Dataset:
    timepoints, timepoint_of = load_timepoints(session)
    score_codes = list(scoring.SCORES)
    patients = load_patients(session, cohort, free_text)
    scores = load_scores(session, cohort, score_codes, timepoint_of, progress)
    return Dataset(
        timepoints=timepoints, score_codes=score_codes, patients=patients, scores=scores,
        adverse_events=load_adverse_events(session, cohort, free_text) if adverse_events
        else None,
        items=load_items(session, cohort, timepoint_of) if items else None,
        free_text=free_text, timepoint_of=timepoint_of,
    )

