"""What the patient page shows, loaded in a fixed number of queries.

One query for the patient with site, knee, treatment and (when allowed) identity, one
each for visits (+ timepoints), scores and adverse events — the count does not grow with
the number of visits.  Change from baseline, MCII / MIC / PASS flags and the
OMERACT-OARSI responder status come from ``scoring`` only; values are rounded for
display only (``scoring.format_score``, half-up to one decimal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

import scoring
from registry.clinical.services.enrolment import indication_warnings
from registry.clock import today as clock_today
from registry.followup.status import STATUS_LABELS, followup_status
from registry.models import AdverseEvent, Patient, ScoreValue, Visit
from scoring.change import DEFAULT_THRESHOLDS, change_arrays
from scoring.responder import SOURCES as RESPONDER_SOURCES
from scoring.responder import responder_arrays

# Rows of the score table, instrument by instrument in this order.
INSTRUMENT_ORDER = ("vas", "pga", "womac", "koos", "koos12", "koosjr")


def ordered_score_codes() -> list[str]:
    return [score.code for code in INSTRUMENT_ORDER
            for score in scoring.INSTRUMENTS[code].scores]


def signed(value: float | None, suffix: str = "") -> str:
    text = scoring.format_score(value)
    if value is None or text == scoring.display.MISSING:
        return text
    return (text if text.startswith("-") or text == "0.0" else f"+{text}") + suffix


@dataclass
class Flag:
    name: str
    met: bool

    @property
    def text(self) -> str:
        return f"{self.name}: {'yes' if self.met else 'no'}"


@dataclass
class ScoreCell:
    value: str
    scorable: bool
    reason: str | None = None
    change: str | None = None
    relative: str | None = None
    improved: bool | None = None
    flags: list[Flag] = field(default_factory=list)


@dataclass
class ScoreRow:
    code: str
    label: str
    higher_is_better: bool
    cells: list[ScoreCell | None]


@dataclass
class ResponderCell:
    responder: bool | None
    criterion: str


@dataclass
class ScheduleRow:
    visit: Visit
    name: str
    status: str
    status_label: str


@dataclass
class PatientSummary:
    patient: Patient
    show_identity: bool
    today: date
    days_since_treatment: int | None
    warnings: list[str]
    schedule: list[ScheduleRow]
    columns: list[Visit]
    baseline: Visit | None
    score_rows: list[ScoreRow]
    responders: list[ResponderCell | None]
    adverse_events: list[AdverseEvent]
    charts: list[tuple[str, str]]  # (score code, label) with at least one value


def visit_name(visit: Visit) -> str:
    return visit.timepoint.name if visit.timepoint is not None else "Unscheduled"


def _sort_key(visit: Visit) -> tuple[date, int]:
    return (visit.visit_date or visit.target_date or date.max, visit.id)


def load_patient(session: Session, patient_id: int, *, with_identity: bool) -> Patient:
    """The patient with everything the page needs, in 4 queries."""
    options = [joinedload(Patient.site), joinedload(Patient.index_knee),
               joinedload(Patient.treatment),
               selectinload(Patient.visits).joinedload(Visit.timepoint),
               selectinload(Patient.adverse_events)]
    if with_identity:
        options.append(joinedload(Patient.identity))
    patient = session.scalars(select(Patient).where(Patient.id == patient_id)
                              .options(*options).execution_options(populate_existing=True)
                              ).unique().one()
    return patient


def scores_by_visit(session: Session, patient_id: int) -> dict[int, dict[str, ScoreValue]]:
    rows = session.scalars(select(ScoreValue).where(ScoreValue.patient_id == patient_id))
    result: dict[int, dict[str, ScoreValue]] = {}
    for score in rows:
        result.setdefault(score.visit_id, {})[score.score_code] = score
    return result


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def score_row(code: str, column_scores: list[ScoreValue | None],
              baseline: ScoreValue | None, baseline_index: int | None) -> ScoreRow:
    """One score across the visits, with change from baseline for every follow-up.

    One vectorised call per score to ``scoring.change.change_arrays`` — the single
    implementation behind ``change_from_baseline`` and ``change_frame`` — instead of one
    scalar call per cell: the scalar API costs about half a millisecond per call, which a
    10-visit page would multiply by every score.
    """
    definition = scoring.SCORES[code]
    base_value = baseline.value if baseline is not None else None
    follow = np.array([math.nan if score is None or score.value is None else score.value
                       for score in column_scores], dtype=np.float64)
    base = np.full(follow.shape, math.nan if base_value is None else base_value)
    change = change_arrays(code, base, follow, DEFAULT_THRESHOLDS)
    cells: list[ScoreCell | None] = []
    for index, score in enumerate(column_scores):
        if score is None:
            cells.append(None)
            continue
        if score.value is None:
            cells.append(ScoreCell(value="not scorable", scorable=False, reason=score.reason))
            continue
        cell = ScoreCell(value=scoring.format_score(score.value), scorable=True)
        cells.append(cell)
        if index == baseline_index or base_value is None:
            continue
        cell.change = signed(_number(change.absolute[index]))
        relative = _number(change.relative[index])
        if relative is not None:
            cell.relative = signed(relative * 100, " %")
        improvement = _number(change.improvement[index])
        if improvement is not None and abs(improvement) > 1e-9:
            cell.improved = improvement > 0
        for name, key in (("MCII", "mcii"), ("MIC", "mic"), ("PASS", "pass_")):
            met, known = change.flags[key]
            if known[index]:
                cell.flags.append(Flag(name, bool(met[index])))
    return ScoreRow(code, definition.label, definition.higher_is_better, cells)


def responder_cells(columns: list[Visit], baseline_index: int | None,
                    scores: dict[int, dict[str, ScoreValue]]) -> list[ResponderCell | None]:
    """OMERACT-OARSI status of every follow-up column (one vectorised call to
    ``scoring.responder.responder_arrays``, the implementation behind ``omeract_oarsi``)."""
    if baseline_index is None:
        return [None] * len(columns)
    codes = {code for sources in RESPONDER_SOURCES.values() for code, _flip in sources}

    def value(visit: Visit, code: str) -> float:
        score = scores[visit.id].get(code)
        return math.nan if score is None or score.value is None else float(score.value)

    rows = len(columns)
    base = {code: np.full(rows, value(columns[baseline_index], code)) for code in codes}
    follow = {code: np.array([value(v, code) for v in columns], dtype=np.float64)
              for code in codes}
    responder, known, criterion, _domains = responder_arrays(base, follow, rows)
    return [None if index == baseline_index else
            ResponderCell(bool(responder[index]) if known[index] else None,
                          str(criterion[index]))
            for index in range(rows)]


def patient_summary(session: Session, patient_id: int, *, show_identity: bool) -> PatientSummary:
    patient = load_patient(session, patient_id, with_identity=show_identity)
    scores = scores_by_visit(session, patient_id)
    today = clock_today(patient.site.timezone)
    visits = sorted(patient.visits, key=_sort_key)
    schedule = []
    for visit in visits:
        status = followup_status(visit, patient.status, today)
        schedule.append(ScheduleRow(visit, visit_name(visit), status,
                                    STATUS_LABELS.get(status, status)))
    columns = [visit for visit in visits if visit.status == "done" and visit.id in scores]
    columns.sort(key=lambda v: (v.visit_date or date.max, v.id))
    baseline = next((v for v in columns if v.timepoint is not None and v.timepoint.is_baseline),
                    None)
    baseline_index = columns.index(baseline) if baseline is not None else None
    baseline_scores = scores.get(baseline.id, {}) if baseline is not None else {}
    present = {code for visit in columns for code in scores[visit.id]}
    rows = [score_row(code, [scores[visit.id].get(code) for visit in columns],
                      baseline_scores.get(code), baseline_index)
            for code in ordered_score_codes() if code in present]
    responders = responder_cells(columns, baseline_index, scores)
    treatment = patient.treatment
    knee = patient.index_knee
    warnings = indication_warnings(knee.kl_grade, knee.eligibility or {}) if knee else []
    return PatientSummary(
        patient=patient, show_identity=show_identity, today=today,
        days_since_treatment=(today - treatment.treatment_date).days if treatment else None,
        warnings=warnings, schedule=schedule, columns=columns, baseline=baseline,
        score_rows=rows, responders=responders,
        adverse_events=sorted(patient.adverse_events, key=lambda e: (e.onset_date, e.id)),
        charts=[(row.code, row.label) for row in rows
                if any(cell is not None and cell.scorable for cell in row.cells)],
    )


@dataclass
class ChartSeries:
    label: str
    unit: str
    higher_is_better: bool
    points: list[tuple[int | date, float]]
    baseline: float | None
    x_label: str


def chart_series(session: Session, patient: Patient, score_code: str) -> ChartSeries:
    """One score's values over time (days since treatment when treated) and its baseline."""
    definition = scoring.SCORES[score_code]
    rows = session.execute(
        select(Visit, ScoreValue.value).join(ScoreValue, ScoreValue.visit_id == Visit.id)
        .where(ScoreValue.patient_id == patient.id, ScoreValue.score_code == score_code,
               ScoreValue.value.is_not(None), Visit.visit_date.is_not(None))
        .options(joinedload(Visit.timepoint))
    ).all()
    treatment = patient.treatment
    points: list[tuple[int | date, float]] = []
    baseline = None
    for visit, value in sorted(rows, key=lambda row: row[0].visit_date):
        x: int | date = (visit.visit_date - treatment.treatment_date).days if treatment \
            else visit.visit_date
        points.append((x, float(value)))
        if visit.timepoint is not None and visit.timepoint.is_baseline:
            baseline = float(value)
    return ChartSeries(label=definition.label, unit=definition.unit,
                       higher_is_better=definition.higher_is_better, points=points,
                       baseline=baseline,
                       x_label="Days since treatment" if treatment else "Visit date")
