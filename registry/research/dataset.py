"""Reading a cohort's data in a bounded number of queries, already de-identified in SQL.

Queries: timepoints (1), protocols (2), patients with their treatment, product and lot
(1), the lots' release tests (1), visits with their status (1, ``visitrows``), scores of the
done visits (1, in patient order, streamed into numpy arrays: see ``scorestream``), adverse
events (1), item answers (1, optional).  Birth dates, names, record numbers, contact
details and study IDs are never selected, nor a lot's donor code or the patient an
autologous lot was prepared for; dates are turned into days since treatment by the
database; age at treatment is computed and capped there.  The lot number is read only to
be replaced by a pseudonym (``Dataset.lot_pids``, set by the export).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, String, case, cast, func, select
from sqlalchemy.orm import Session, selectinload

import scoring
from registry.models import (
    AdverseEvent,
    CellProduct,
    IndexKnee,
    InstrumentResponse,
    Patient,
    ProductLot,
    Protocol,
    Site,
    Timepoint,
    Treatment,
    Visit,
)
from registry.research import scorestream, visitrows
from registry.research.cohorts import AGE_CAP, age_at_treatment, treatment_product, with_product
from registry.research.scorestream import AnySelect, ScoreChunk
from registry.research.sqldates import days_between
from registry.research.sqlitescan import ScoreScan
from registry.research.visitrows import Visits
from registry.vocabularies import ISCT_MARKERS

Progress = Callable[[int], None]


@dataclass(frozen=True)
class TimepointInfo:
    code: str
    name: str
    is_baseline: bool
    target_day: int


@dataclass
class ScoreRows:
    """One element per score of a visit: every stored score of a done visit, and every
    score a visit should have and has not (value NaN), with the reason (numpy arrays).
    Unscheduled visits' rows have the timepoint index ``len(timepoints)``."""

    patient_id: np.ndarray
    timepoint: np.ndarray  # index into the timepoint list (its length: unscheduled)
    day: np.ndarray  # visit day since treatment (scorestream.NO_DAY: visit not done)
    score: np.ndarray  # index into the score code list
    value: np.ndarray  # float, NaN when the score is missing
    mode: np.ndarray  # the visit's mode of collection (scorestream.MODE_CODES index, -1)
    visit: np.ndarray  # index into the cohort's visits (``Dataset.visits``)
    reason: np.ndarray  # why the value is missing: index into missing.SCORE_REASONS
    chunk: ScoreChunk | None = None  # the same rows as the export's long table reads them


def score_rows(chunk: ScoreChunk, patient_ids: np.ndarray) -> ScoreRows:
    """The rows of a chunk with internal patient ids (``patient_ids``: sorted patients)."""
    return ScoreRows(patient_id=patient_ids[chunk.position].astype(np.int64),
                     timepoint=chunk.timepoint, day=chunk.day, score=chunk.score,
                     value=chunk.value, mode=chunk.mode, visit=chunk.visit,
                     reason=chunk.reason, chunk=chunk)


def empty_scores() -> ScoreRows:
    return score_rows(scorestream.empty_chunk(), np.empty(0, np.int64))


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
    visits: Visits | None = None  # every visit of the cohort, with its status
    protocols: list[dict[str, Any]] = field(default_factory=list)  # see ``load_protocols``
    # Per patient, the pseudonym of the lot its treatment used (None: no lot), set by the
    # export from ``patients["lot_key"]`` (``Pseudonymiser.lots``).
    lot_pids: list[str | None] | None = None

    @property
    def baseline_index(self) -> list[int]:
        return [i for i, tp in enumerate(self.timepoints) if tp.is_baseline]


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


def load_patients(session: Session, cohort: Select[int],
                  free_text: bool) -> pd.DataFrame:
    age = age_at_treatment()
    columns: list[Any] = [
        Patient.id.label("patient_id"), Site.code.label("site"), Patient.sex,
        case((age >= AGE_CAP, AGE_CAP), else_=age).label("age_at_treatment"),
        (age >= AGE_CAP).label("age_90_plus"),
        Patient.height_cm, Patient.weight_kg, Patient.bmi,
        IndexKnee.kl_grade, IndexKnee.laterality,
        Treatment.treatment_type, Treatment.cell_source,
        treatment_product().label("product"),
        CellProduct.origin.label("product_origin"), CellProduct.tissue_source,
        CellProduct.preparation, CellProduct.minimally_manipulated,
        Treatment.lot_id,  # internal, never exported (see ``lot_isct``)
        # Internal, never exported: the lot's identity, replaced by a pseudonym.
        func.coalesce(ProductLot.lot_number, Treatment.lot_number).label("lot_number"),
        ProductLot.release_status.label("lot_release_status"),
        days_between(session, ProductLot.expiry_date, Treatment.treatment_date)
        .label("lot_expiry_day"),
        ProductLot.viability_percent.label("lot_viability_percent"),
        ProductLot.cell_count_million.label("lot_cell_count_million"),
        Treatment.cell_dose_million, Treatment.injections, Treatment.injection_interval_days,
        Treatment.delivery_site, Treatment.image_guidance, Treatment.volume_ml,
        Treatment.anaesthesia,
        cast(Treatment.co_interventions, String).label("co_interventions"),  # JSON text
        Patient.outside_indication_justification.is_not(None).label("outside_indication"),
        Patient.status, Patient.withdrawal_reason, Patient.protocol_id,
        days_between(session, Patient.withdrawn_on, Treatment.treatment_date)
        .label("withdrawal_day"),
    ]
    if free_text:
        columns += [Patient.outside_indication_justification.label("justification"),
                    Patient.withdrawal_note, Treatment.notes.label("treatment_notes")]
    query = with_product(select(*columns).join(Site, Site.id == Patient.site_id)
                         .join(Treatment, Treatment.patient_id == Patient.id)
                         .outerjoin(IndexKnee, IndexKnee.patient_id == Patient.id))
    frame = raw_frame(session, query.where(Patient.id.in_(cohort)).order_by(Patient.id))
    frame["co_interventions"] = json_lists(frame["co_interventions"])
    isct = lot_isct(session, cohort)
    frame["lot_isct_criteria_met"] = [None if lot != lot or lot is None else isct.get(int(lot))
                                      for lot in frame["lot_id"]]
    frame["lot_key"] = lot_keys(frame["product"], frame["lot_number"])
    return frame.drop(columns=["lot_number"])


def lot_isct(session: Session, cohort: Select[int]) -> dict[int, bool | None]:
    """Whether each lot the cohort was treated with meets the ISCT minimal criteria
    (``ProductLot.isct_criteria_met``; None: not every marker tested): one query of the
    lots' marker percentages."""
    markers = [getattr(ProductLot, column) for column in ISCT_MARKERS]
    rows = session.execute(select(ProductLot.id, *markers).where(ProductLot.id.in_(
        select(Treatment.lot_id).where(Treatment.patient_id.in_(cohort))))).all()
    return {int(lot_id): ProductLot(**dict(zip(ISCT_MARKERS, values, strict=True)))
            .isct_criteria_met for lot_id, *values in rows}


def lot_keys(products: pd.Series, lot_numbers: pd.Series) -> list[str | None]:
    """What a lot pseudonym is made from: the product and the lot number (a lot number is
    unique within its product); None without a lot number."""
    return [None if number is None or number != number
            else f"{'' if product is None or product != product else product}\x00{number}"
            for product, number in zip(products, lot_numbers, strict=True)]


def raw_frame(session: Session, query: AnySelect) -> pd.DataFrame:
    """The rows of a query as a frame, straight from the DBAPI cursor (no Row objects, no
    per-value type processing: the columns are plain numbers, text and booleans)."""
    result = session.connection().execute(query)
    try:
        return pd.DataFrame(result.cursor.fetchall(), columns=list(result.keys()))
    finally:
        result.close()


def json_lists(texts: pd.Series) -> list[Any]:
    """JSON texts parsed (each distinct text once: most rows share a handful of values)."""
    parsed: dict[str, Any] = {}
    out: list[Any] = []
    for text in texts:
        if text is None or text != text:
            out.append(None)
            continue
        if text not in parsed:
            parsed[text] = json.loads(text)
        out.append(parsed[text])
    return out


def load_scores(session: Session, cohort: Select[int], patient_ids: np.ndarray,
                score_codes: list[str], timepoint_of: dict[int, int], n_timepoints: int,
                progress: Progress | None = None, visits: Visits | None = None,
                scan: ScoreScan | None = None) -> ScoreRows:
    """All score rows of the cohort's visits (see ``scorestream``), in export order:
    patient, timepoint, visit, score."""
    parts = list(scorestream.chunks(session, cohort, patient_ids, score_codes, timepoint_of,
                                    n_timepoints, progress, visits, scan))
    return score_rows(scorestream.merge(parts), patient_ids)


def load_protocols(session: Session, protocol_ids: list[int]) -> list[dict[str, Any]]:
    """The follow-up protocols of the cohort's patients (name, threshold set and every
    timepoint with its target day, window and grace), for the manifest."""
    if not protocol_ids:
        return []
    protocols = session.scalars(select(Protocol).where(Protocol.id.in_(protocol_ids))
                                .options(selectinload(Protocol.timepoints))
                                .order_by(Protocol.id))
    return [{"name": protocol.name, "default": bool(protocol.is_default),
             "threshold_set": protocol.threshold_set,
             "timepoints": [{"code": tp.code, "name": tp.name, "baseline": bool(tp.is_baseline),
                             "target_day": tp.target_day,
                             "window_start_day": tp.window_start_day,
                             "window_end_day": tp.window_end_day,
                             "grace_days": tp.grace_days,
                             "instruments": list(tp.instruments or [])}
                            for tp in protocol.timepoints]}
            for protocol in protocols]


def load_adverse_events(session: Session, cohort: Select[int],
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


def load_items(session: Session, cohort: Select[int],
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


def load(session: Session, cohort: Select[int], *, items: bool = False,
         adverse_events: bool = False, free_text: bool = False,
         progress: Progress | None = None, scores: bool = True,
         scan: ScoreScan | None = None) -> Dataset:
    """The cohort's data; without ``scores`` the score rows are left to be streamed
    (``scorestream.chunks``) and ``Dataset.scores`` is empty; ``scan``: the score table's
    scan started for this cohort (``scorestream.start_scan``)."""
    timepoints, timepoint_of = load_timepoints(session)
    score_codes = list(scoring.SCORES)
    # PostgreSQL: the visits are read on a second connection while the patients load.
    visits_apart = visitrows.start_read(session, cohort) if scan is None else None
    patients = load_patients(session, cohort, free_text)
    patient_ids = patients["patient_id"].to_numpy(np.int64)
    visit_rows = scan.visit_rows() if scan is not None else visitrows.rows_read(visits_apart)
    visits = visitrows.load_visits(session, cohort, patient_ids, timepoint_of,
                                   len(timepoints), score_codes, visit_rows)
    if scan is not None and not scores:  # ordered while the patients' table is made
        scan.order(visits, scorestream.key_width(score_codes))
    rows = (load_scores(session, cohort, patient_ids, score_codes, timepoint_of,
                        len(timepoints), progress, visits, scan) if scores else empty_scores())
    return Dataset(
        timepoints=timepoints, score_codes=score_codes, patients=patients, scores=rows,
        adverse_events=load_adverse_events(session, cohort, free_text) if adverse_events
        else None,
        items=load_items(session, cohort, timepoint_of) if items else None,
        free_text=free_text, timepoint_of=timepoint_of, visits=visits,
        protocols=load_protocols(session, sorted({int(p) for p in patients["protocol_id"]})),
    )

