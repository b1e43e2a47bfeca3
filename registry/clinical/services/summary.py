"""What the patient page shows, loaded in a fixed number of queries.

One query for the patient with site, knee, treatment and identity (shown only when
allowed) and whether there are adverse events, one each for visits (+ timepoints),
scores and — when there are any — adverse events — the count does not grow with
the number of visits.  Change from baseline, MCII / MIC / PASS flags and the
OMERACT-OARSI responder status come from ``scoring`` only; values are rounded for
display only (``scoring.format_score``, half-up to one decimal).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property, lru_cache
from typing import Any, cast

import numpy as np
from flask_babel import gettext as _
from sqlalchemy import Integer, Row, Select, bindparam, exists, select
from sqlalchemy.orm import Session, joinedload

import scoring
from registry.clinical.services.enrolment import indication_warnings
from registry.clock import today as clock_today
from registry.followup.status import (
    STATUS_LABELS,
    StatusDisplay,
    display_status,
    followup_status,
)
from registry.i18n import label, number, timepoint_name
from registry.models import (
    AdverseEvent,
    Patient,
    ProductLot,
    ScoreValue,
    SelfReport,
    Timepoint,
    Treatment,
    Visit,
)
from registry.vocabularies import N_
from scoring import citations
from scoring.change import ChangeArrays, change_arrays_for_codes
from scoring.core import FloatArray
from scoring.responder import SOURCE_CODES as RESPONDER_CODES
from scoring.responder import responder_arrays
from scoring.thresholds import Threshold, ThresholdKind, ThresholdSet


def catalogue_score_codes() -> list[str]:
    """Every score code in catalogue order (instrument by instrument, as
    ``scoring.INSTRUMENTS`` lists them): the order of the score table's rows."""
    return [score.code for instrument in scoring.INSTRUMENTS.values()
            for score in instrument.scores]

#: A stored score as the page needs it: (value, reason); value None = not scorable.
ScoreEntry = tuple[float | None, str | None]


# Display text is a pure function of the value, and values recur within and across pages:
# memoised so the Decimal rounding runs once per distinct value, not once per cell.
format_score = lru_cache(maxsize=8192)(scoring.format_score)


@lru_cache(maxsize=8192)
def signed(value: float | None, suffix: str = "") -> str:
    text = format_score(value)
    if value is None or text == scoring.display.MISSING:
        return text
    return (text if text.startswith("-") or text == "0.0" else f"+{text}") + suffix


@dataclass(frozen=True)
class Flag:
    name: str
    met: bool

    @property
    def text(self) -> str:
        """"MCII: yes" in the reader's language (not cached: ``FLAG_SETS`` are shared by
        every request, whatever its language)."""
        return _("%(flag)s: yes", flag=self.name) if self.met \
            else _("%(flag)s: no", flag=self.name)

    @cached_property
    def badge(self) -> str:
        """CSS class of the flag's badge."""
        return "badge-ok" if self.met else "badge-plain"


# (label, key in ``ChangeArrays.flags``) in the order the page shows them.
FLAG_KEYS = (("MCII", "mcii"), ("MIC", "mic"), ("PASS", "pass"))
# A cell's flags by ``flag_set`` number: digit i (base 3) of flag FLAG_KEYS[i] is 0 when it
# cannot be judged (not shown), 1 when not met, 2 when met.
FLAG_SETS: list[tuple[Flag, ...]] = [
    tuple(Flag(name, number // 3**i % 3 == 2) for i, (name, _key) in enumerate(FLAG_KEYS)
          if number // 3**i % 3)
    for number in range(3 ** len(FLAG_KEYS))
]


def flag_set(change: ChangeArrays) -> list[list[int]]:
    """Each cell's ``FLAG_SETS`` number."""
    flags = [change.flags[cast(ThresholdKind, key)] for _name, key in FLAG_KEYS]
    number = sum(3**i * (known * (1 + met)) for i, (met, known) in enumerate(flags))
    return cast(list[list[int]], np.asarray(number, dtype=np.int64).tolist())


def optional_values(values: FloatArray) -> list[list[float | None]]:
    """Nested lists of ``values`` with None for NaN."""
    cells = values.astype(object)
    cells[np.isnan(values)] = None
    return cast(list[list[float | None]], cells.tolist())


@dataclass
class ScoreCell:
    value: str
    scorable: bool
    reason: str | None = None
    change: str | None = None
    relative: str | None = None
    improved: bool | None = None
    flags: tuple[Flag, ...] = ()

    @property
    def direction(self) -> str:
        """'better', 'worse' or '' (no change, or not judged): shown text and CSS class."""
        return "better" if self.improved else "worse" if self.improved is False else ""

    @property
    def change_text(self) -> str:
        """The change as shown: '-40.0 (-66.7 %) better' (one text, for a cheaper template),
        numbers with the reader's decimal sign."""
        change = shown_number(self.change)
        text = f"{change} ({shown_number(self.relative)})" if self.relative else change
        direction = self.direction
        if direction == "better":
            return _("%(change)s better", change=text)
        if direction == "worse":
            return _("%(change)s worse", change=text)
        return text


@dataclass
class ScoreRow:
    code: str
    label: str
    higher_is_better: bool
    cells: list[ScoreCell | None]
    minimum: float = 0.0
    maximum: float = 100.0
    unit: str = ""
    # The unrounded value at each column (None: not recorded or not scorable): the charts.
    values: tuple[float | None, ...] = ()

    @property
    def scale(self) -> str:
        """The score's range, unit and direction as shown next to its name."""
        return scale_text(self.minimum, self.maximum, self.unit, self.higher_is_better)


@dataclass
class ResponderCell:
    responder: bool | None
    criterion: str


# Visits whose answers the patient gave themselves are marked so on the page.
SELF_REPORT_MARKS = {"self_link": N_("self-reported by link"),
                     "self_kiosk": N_("self-reported on clinic tablet")}


@dataclass(frozen=True, slots=True)
class VisitRecord:
    """What the page shows of a visit: its columns and its timepoint's name and role."""

    id: int
    timepoint_id: int | None
    timepoint_name: str | None
    is_baseline: bool | None
    target_date: date | None
    window_start: date | None
    window_end: date | None
    grace_end: date | None
    visit_date: date | None
    status: str
    out_of_window: bool
    not_applicable_reason: str | None
    collection_mode: str | None = None
    self_report_state: str | None = None  # of the patient's self-report for the visit
    appointment_date: date | None = None  # booked by the follow-up team

    @property
    def self_reported(self) -> str | None:
        """How the patient self-reported the visit's answers, for the page; else None."""
        mark = SELF_REPORT_MARKS.get(self.collection_mode or "")
        return _(mark) if mark else None

    @property
    def name(self) -> str:
        """As ``shown_visit_name``: the timepoint's name, or "Unscheduled", in the reader's
        language."""
        if self.timepoint_id is None or self.timepoint_name is None:
            return _(UNSCHEDULED)
        return timepoint_name(self.timepoint_name)


@dataclass
class ScheduleRow:
    visit: VisitRecord
    status: str
    status_label: str

    @property
    def name(self) -> str:
        return self.visit.name

    @property
    def display(self) -> StatusDisplay:
        """The shown status: done out of window, or an open visit's booked date."""
        return display_status(self.status, out_of_window=self.visit.out_of_window,
                              appointment_date=self.visit.appointment_date)


@dataclass(frozen=True)
class HelpText:
    """The score table's explanation, from the catalogue and the study's threshold set."""

    instruments: list[tuple[str, str]]  # (name, description) of each instrument shown
    threshold_label: str
    threshold_note: str
    citations: list[str]  # of the thresholds in use, then the responder criteria


@dataclass
class PatientSummary:
    patient: Patient
    show_identity: bool
    today: date
    days_since_treatment: int | None
    warnings: list[str]
    schedule: list[ScheduleRow]
    columns: list[VisitRecord]
    baseline: VisitRecord | None
    score_rows: list[ScoreRow]
    responders: list[ResponderCell | None]
    adverse_events: list[Row[Any]]  # adverse_event rows: attributes as on ``AdverseEvent``
    help: HelpText | None = None


UNSCHEDULED = N_("Unscheduled")


def visit_name(visit: Visit) -> str:
    """The visit's timepoint name as stored, or "Unscheduled" (untranslated: see
    ``shown_visit_name`` for a page)."""
    return visit.timepoint.name if visit.timepoint is not None else UNSCHEDULED


def shown_visit_name(visit: Visit) -> str:
    """The visit's name as a page shows it, in the reader's language."""
    return timepoint_name(visit.timepoint.name) if visit.timepoint is not None \
        else _(UNSCHEDULED)


def scale_text(minimum: float, maximum: float, unit: str, higher_is_better: bool) -> str:
    """A score's range, unit and direction ("0–100, higher = better"), in the reader's
    language (a unit the catalogue holds is translated)."""
    shown = f"{number(f'{minimum:g}')}–{number(f'{maximum:g}')}{f' {label(unit)}' if unit else ''}"
    if higher_is_better:
        return _("%(range)s, higher = better", range=shown)
    return _("%(range)s, higher = worse", range=shown)


def shown_number(text: str | None) -> str:
    """A formatted value or change ("+12.5", "-66.7 %", "—") with the reader's decimal
    sign; English text is returned unchanged."""
    if not text:
        return text or ""
    body, percent, _rest = text.partition(" %")
    sign = "+" if body.startswith("+") else ""
    return f"{sign}{number(body[len(sign):])}{percent}"


def _sort_key(visit: VisitRecord) -> tuple[date, int]:
    return (visit.visit_date or visit.target_date or date.max, visit.id)


@dataclass(frozen=True)
class PageQueries:
    """The page's statements, built once: options and cache keys cost more than the SQL."""

    patient: Select[Patient, bool]
    visits: Select[*tuple[Any, ...]]  # any number of columns; Select[Any] is one
    adverse_events: Select[Any]
    scores: Select[int, str, float | None, str | None]


@cache
def page_queries() -> PageQueries:
    """Statements taking the ``patient_id`` parameter."""
    patient_id = bindparam("patient_id", type_=Integer)
    return PageQueries(
        patient=select(Patient, exists().where(AdverseEvent.patient_id == Patient.id)
                       .label("has_adverse_events")).where(Patient.id == patient_id)
        .options(joinedload(Patient.site), joinedload(Patient.index_knee),
                 joinedload(Patient.treatment).joinedload(Treatment.lot)
                 .joinedload(ProductLot.product), joinedload(Patient.identity),
                 joinedload(Patient.protocol))
        .execution_options(populate_existing=True),
        visits=select(Visit.id, Visit.timepoint_id, Timepoint.name, Timepoint.is_baseline,
                      Visit.target_date, Visit.window_start, Visit.window_end,
                      Visit.grace_end, Visit.visit_date, Visit.status, Visit.out_of_window,
                      Visit.not_applicable_reason, Visit.collection_mode, SelfReport.state,
                      Visit.appointment_date)
        .outerjoin(Timepoint, Timepoint.id == Visit.timepoint_id)
        .outerjoin(SelfReport, SelfReport.visit_id == Visit.id)
        .where(Visit.patient_id == patient_id),
        adverse_events=select(*AdverseEvent.__table__.columns)
        .where(AdverseEvent.patient_id == patient_id)
        .order_by(AdverseEvent.onset_date, AdverseEvent.id),
        scores=select(ScoreValue.visit_id, ScoreValue.score_code, ScoreValue.value,
                      ScoreValue.reason).where(ScoreValue.patient_id == patient_id),
    )


def load_patient(session: Session, patient_id: int) -> tuple[Patient, bool] | None:
    """The patient with site, knee, treatment and identity (shown only when the user may
    see it), and whether they have adverse events (most have none: then the page skips
    that query), in 1 query — before authorization, which needs the patient's site."""
    row = session.execute(page_queries().patient,
                          {"patient_id": patient_id}).unique().one_or_none()
    return None if row is None else (row[0], bool(row[1]))


# Visits, adverse events and scores are read as plain rows on the session's connection (in
# its transaction, after the patient query's autoflush): many small ORM objects cost more
# than the rest of the page.

def load_visits(session: Session, patient_id: int) -> list[VisitRecord]:
    """The patient's visits (unordered: the page sorts them by date)."""
    rows = session.connection().execute(page_queries().visits, {"patient_id": patient_id})
    return [VisitRecord(*row) for row in rows]


def load_adverse_events(session: Session, patient_id: int) -> list[Row[Any]]:
    """The patient's adverse events (all columns), by onset date and id."""
    return list(session.connection().execute(page_queries().adverse_events,
                                             {"patient_id": patient_id}).all())


def scores_by_visit(session: Session, patient_id: int) -> dict[int, dict[str, ScoreEntry]]:
    """visit id -> score code -> (value, reason)."""
    result: dict[int, dict[str, ScoreEntry]] = {}
    for visit_id, code, value, reason in session.connection().execute(
            page_queries().scores, {"patient_id": patient_id}).all():
        result.setdefault(visit_id, {})[code] = (value, reason)
    return result


def score_values(grid: list[list[ScoreEntry | None]], columns: int) -> FloatArray:
    """(scores x visits) values, NaN where missing or not scorable."""
    return np.array([[math.nan if entry is None or entry[0] is None else entry[0]
                      for entry in row] for row in grid],
                    dtype=np.float64).reshape(len(grid), columns)


def score_table(codes: Sequence[str], grid: list[list[ScoreEntry | None]], values: FloatArray,
                baseline_index: int | None,
                thresholds: Sequence[Threshold] = ()) -> list[ScoreRow]:
    """Every score across the visits, with change from baseline for every follow-up.

    One vectorised call to ``scoring.change.change_arrays_for_codes`` for the whole table
    (the implementation behind ``change_from_baseline`` and ``change_frame``) instead of a
    call per score or per cell: numpy's fixed cost per call dominates arrays this small.
    A score with no baseline value (an anchor question asked at follow-ups only) shows
    its values with the change "—".  ``thresholds``: the study's threshold set.
    """
    if not codes:
        return []
    if baseline_index is None:
        base = np.full(values.shape, math.nan)
    else:
        base = np.repeat(values[:, baseline_index:baseline_index + 1], values.shape[1], axis=1)
    change = change_arrays_for_codes(codes, base, values, thresholds)
    absolute = optional_values(change.absolute)
    relative_percent = optional_values(change.relative * 100)
    # Better/worse shown only for a change of more than 1e-9 (no colour for "no change").
    judged = (change.improvement > 0).astype(object)
    judged[np.isnan(change.improvement) | (np.abs(change.improvement) <= 1e-9)] = None
    improved = judged.tolist()
    flags = flag_set(change)
    raw = optional_values(values)
    rows = []
    for row, (code, entries) in enumerate(zip(codes, grid, strict=True)):
        base_entry = entries[baseline_index] if baseline_index is not None else None
        has_baseline = base_entry is not None and base_entry[0] is not None
        absolute_row, relative_row = absolute[row], relative_percent[row]
        improved_row, flags_row = improved[row], flags[row]
        cells: list[ScoreCell | None] = []
        for index, entry in enumerate(entries):
            if entry is None:
                cells.append(None)
                continue
            value, reason = entry
            if value is None:
                cells.append(ScoreCell(value="not scorable", scorable=False, reason=reason))
            elif index == baseline_index or baseline_index is None:
                cells.append(ScoreCell(value=format_score(value), scorable=True))
            elif not has_baseline:
                cells.append(ScoreCell(value=format_score(value), scorable=True,
                                       change=scoring.display.MISSING))
            else:
                percent = relative_row[index]
                cells.append(ScoreCell(
                    value=format_score(value), scorable=True,
                    change=signed(absolute_row[index]),
                    relative=None if percent is None else signed(percent, " %"),
                    improved=improved_row[index], flags=FLAG_SETS[flags_row[index]]))
        definition = scoring.SCORES[code]
        rows.append(ScoreRow(code, label(definition.label), definition.higher_is_better, cells,
                             definition.minimum, definition.maximum, definition.unit,
                             tuple(raw[row])))
    return rows


def responder_cells(codes: Sequence[str], values: FloatArray,
                    baseline_index: int | None) -> list[ResponderCell | None]:
    """OMERACT-OARSI status of every follow-up column (one vectorised call to
    ``scoring.responder.responder_arrays``, the implementation behind ``omeract_oarsi``)."""
    columns = values.shape[1]
    if baseline_index is None:
        return [None] * columns
    row_of = {code: row for row, code in enumerate(codes)}
    missing = np.full(columns, math.nan)
    follow = {code: values[row_of[code]] if code in row_of else missing
              for code in RESPONDER_CODES}
    base = {code: np.full(columns, column[baseline_index]) for code, column in follow.items()}
    responder, known, criterion, _domains = responder_arrays(base, follow, columns)
    responder_list, known_list = responder.tolist(), known.tolist()
    return [None if index == baseline_index else
            ResponderCell(bool(responder_list[index]) if known_list[index] else None,
                          str(criterion[index]))
            for index in range(columns)]


def patient_summary(session: Session, patient: Patient, *, show_identity: bool,
                    has_adverse_events: bool = True) -> PatientSummary:
    """The page of a patient loaded by :func:`load_patient` (with identity if shown)."""
    patient_id = patient.id
    visits = sorted(load_visits(session, patient_id), key=_sort_key)
    adverse_events = load_adverse_events(session, patient_id) if has_adverse_events else []
    scores = scores_by_visit(session, patient_id)
    today = clock_today(patient.site.timezone)
    schedule = []
    for visit in visits:
        # A frozen record: its fields are read-only, which the status rule only reads.
        status = followup_status(cast(Any, visit), patient.status, today)
        schedule.append(ScheduleRow(visit, status,
                                    STATUS_LABELS.get(status, status)))
    columns = [visit for visit in visits if visit.status == "done" and visit.id in scores]
    columns.sort(key=lambda v: (v.visit_date or date.max, v.id))
    # is_baseline is NULL for unscheduled visits (no timepoint).
    baseline = next((v for v in columns if v.is_baseline), None)
    baseline_index = columns.index(baseline) if baseline is not None else None
    column_scores = [scores[visit.id] for visit in columns]
    present = {code for entries in column_scores for code in entries}
    codes = [code for code in catalogue_score_codes() if code in present]
    grid = [[entries.get(code) for entries in column_scores] for code in codes]
    values = score_values(grid, len(columns))
    threshold_set = scoring.threshold_set(patient.protocol.threshold_set)
    rows = score_table(codes, grid, values, baseline_index, threshold_set.thresholds)
    responders = responder_cells(codes, values, baseline_index)
    treatment = patient.treatment
    knee = patient.index_knee
    warnings = indication_warnings(knee.kl_grade, knee.eligibility or {}) if knee else []
    return PatientSummary(
        patient=patient, show_identity=show_identity, today=today,
        days_since_treatment=(today - treatment.treatment_date).days if treatment else None,
        warnings=warnings, schedule=schedule, columns=columns, baseline=baseline,
        score_rows=rows, responders=responders,
        adverse_events=adverse_events,
        help=help_text(codes, threshold_set),
    )


def help_text(codes: Sequence[str], threshold_set: ThresholdSet) -> HelpText:
    """What the table's instruments measure and where its flags come from: each shown
    instrument's description, the threshold set's label, note and citations (of the
    thresholds of the scores shown), then the responder criteria's."""
    shown = {scoring.SCORES[code].instrument for code in codes}
    instruments = [(instrument.name, instrument.description)
                   for instrument in scoring.INSTRUMENTS.values() if instrument.code in shown]
    used = [threshold.citation for threshold in threshold_set.thresholds
            if threshold.score_code in codes]
    return HelpText(instruments=instruments, threshold_label=threshold_set.label,
                    threshold_note=threshold_set.note,
                    citations=list(dict.fromkeys([*used, citations.PHAM_2004])))
