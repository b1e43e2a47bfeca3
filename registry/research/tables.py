"""The export tables, built with pandas/numpy from a loaded ``Dataset``, with their specs.

- ``patients``: one row per patient (pseudonym, site, sex, capped age, knee, treatment).
- ``outcomes_long``: one row per patient × timepoint × score, with baseline, change,
  relative change, improvement, MCII / MIC / PASS flags (``scoring.change_frame``) and the
  OMERACT-OARSI responder status at that timepoint (``scoring.omeract_oarsi_frame``).
- ``outcomes_wide``: the patients table plus ``<score>_<timepoint>`` columns and the change,
  flag and responder columns per follow-up timepoint.
- ``adverse_events`` and ``items`` (item-level answers), when asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from registry.research.dataset import Dataset, TimepointInfo
from registry.research.dictionary import ColumnSpec, vocab
from registry.vocabularies import (
    CELL_SOURCES,
    CO_INTERVENTIONS,
    KL_GRADES,
    LATERALITY,
    PATIENT_STATUS,
    SEX,
    WITHDRAWAL_REASONS,
)
from scoring import FLAG_KINDS, Threshold
from scoring.change import change_arrays_by_index
from scoring.responder import SOURCE_CODES as RESPONDER_CODES
from scoring.responder import responder_arrays

SLICE_ROWS = 500_000  # rows of a frame handed to a writer at a time
FREE_TEXT_SOURCE = "free text entered by staff (included because an admin allowed it)"


class Table:
    """An export table: its column specs and its rows (a pandas frame).

    Writers take the rows as Arrow tables: ``chunks()`` hands out pieces (on the calling
    thread, which may read the database) and ``build(piece)`` turns one into an Arrow table
    (thread-safe, so writers can build pieces on other threads while the next is read).
    """

    def __init__(self, name: str, frame: pd.DataFrame, specs: list[ColumnSpec]) -> None:
        self.name = name
        self._rows_frame = frame
        self.specs = specs

    @property
    def frame(self) -> pd.DataFrame:
        """The rows (a property: ``LongTable`` reads its rows only when asked)."""
        return self._rows_frame

    @property
    def rows(self) -> int:
        return len(self.frame)

    @property
    def column_names(self) -> list[str]:
        return [str(column) for column in self.frame.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.Schema.from_pandas(self.frame.iloc[:0], preserve_index=False)

    def chunks(self) -> Iterator[Any]:
        frame = self.frame
        if frame.empty:
            yield frame
            return
        for start in range(0, len(frame), SLICE_ROWS):
            yield frame.iloc[start:start + SLICE_ROWS]

    def build(self, piece: Any) -> pa.Table:
        return pa.Table.from_pandas(piece, schema=self.arrow_schema(), preserve_index=False)


def safe_code(code: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", code.lower())


def _spec(table: str, column: str, label: str, type_name: str, **extra: Any) -> ColumnSpec:
    """A column's description (``extra``: any other ColumnSpec field)."""
    return ColumnSpec(table=table, column=column, label=label, type=type_name, **extra)


def patient_specs(table: str, free_text: bool) -> list[ColumnSpec]:
    specs = [
        _spec(table, "pid", "Patient pseudonym (replaces the study ID; see manifest)", "string",
              source="HMAC-SHA256 pseudonym of the patient"),
        _spec(table, "site", "Site code", "string", source="site.code"),
        _spec(table, "sex", "Sex", "category", source="patient.sex", **vocab(SEX)),
        _spec(table, "age_at_treatment", "Age at treatment in whole years (90 = 90 or older)",
              "integer", unit="years", minimum=0, maximum=90,
              source="birth date and treatment date, computed in the database; capped at 90"),
        _spec(table, "age_90_plus", "Age at treatment 90 or older", "boolean",
              source="derived: age at treatment >= 90"),
        _spec(table, "height_cm", "Height", "number", unit="cm", minimum=50, maximum=250,
              source="patient.height_cm"),
        _spec(table, "weight_kg", "Weight", "number", unit="kg", minimum=20, maximum=350,
              source="patient.weight_kg"),
        _spec(table, "bmi", "Body-mass index", "number", unit="kg/m2", minimum=10, maximum=80,
              source="patient.bmi"),
        _spec(table, "kl_grade", "Kellgren-Lawrence grade of the index knee", "integer",
              minimum=0, maximum=4, source="index_knee.kl_grade", **vocab(KL_GRADES)),
        _spec(table, "laterality", "Index knee", "category", source="index_knee.laterality",
              **vocab(LATERALITY)),
        _spec(table, "cell_source", "Cell source", "category", source="treatment.cell_source",
              **vocab(CELL_SOURCES)),
        _spec(table, "product", "Product name", "string", source="treatment.product_name"),
        _spec(table, "cell_dose_million", "Cell dose", "number", unit="million cells",
              source="treatment.cell_dose_million"),
        _spec(table, "injections", "Number of injections", "integer", minimum=1, maximum=10,
              source="treatment.injections"),
        *(_spec(table, f"co_{code}", f"Co-intervention: {label}", "boolean",
                source="treatment.co_interventions") for code, label in CO_INTERVENTIONS.items()),
        _spec(table, "outside_indication", "Treated outside the usual indication", "boolean",
              source="derived: a justification was recorded"),
        _spec(table, "status", "Follow-up status", "category", source="patient.status",
              **vocab(PATIENT_STATUS)),
        _spec(table, "withdrawal_reason", "Reason for withdrawal", "category",
              source="patient.withdrawal_reason", **vocab(WITHDRAWAL_REASONS)),
        _spec(table, "withdrawal_day", "Withdrawal, days since treatment", "integer",
              unit="days", source="patient.withdrawn_on minus treatment date"),
    ]
    if free_text:
        specs += [_spec(table, name, label, "string", source=FREE_TEXT_SOURCE)
                  for name, label in (("justification", "Justification (outside indication)"),
                                      ("withdrawal_note", "Withdrawal note"),
                                      ("treatment_notes", "Treatment notes"))]
    return specs


def patients_table(data: Dataset, pids: list[str], name: str = "patients") -> Table:
    raw = data.patients
    specs = patient_specs(name, data.free_text)
    frame = pd.DataFrame({"pid": pd.array(pids, dtype="string")})
    frame["site"] = raw["site"].astype("string").array
    frame["sex"] = pd.Categorical(raw["sex"], categories=list(SEX))
    frame["age_at_treatment"] = raw["age_at_treatment"].astype("Int16").array
    frame["age_90_plus"] = raw["age_90_plus"].astype("boolean").array
    for column in ("height_cm", "weight_kg", "bmi", "cell_dose_million"):
        frame[column] = pd.to_numeric(raw[column]).astype("Float64")
    frame["kl_grade"] = raw["kl_grade"].astype("Int8").array
    frame["laterality"] = pd.Categorical(raw["laterality"], categories=list(LATERALITY))
    frame["cell_source"] = pd.Categorical(raw["cell_source"], categories=list(CELL_SOURCES))
    frame["product"] = raw["product"].astype("string").array
    frame["injections"] = raw["injections"].astype("Int8").array
    co = [set(value or []) for value in raw["co_interventions"]]
    for code in CO_INTERVENTIONS:
        frame[f"co_{code}"] = pd.array([code in chosen for chosen in co], dtype="boolean")
    frame["outside_indication"] = raw["outside_indication"].astype("boolean").array
    frame["status"] = pd.Categorical(raw["status"], categories=list(PATIENT_STATUS))
    frame["withdrawal_reason"] = pd.Categorical(raw["withdrawal_reason"],
                                                categories=list(WITHDRAWAL_REASONS))
    frame["withdrawal_day"] = raw["withdrawal_day"].astype("Int32").array
    if data.free_text:
        for column in ("justification", "withdrawal_note", "treatment_notes"):
            frame[column] = raw[column].astype("string").array
    frame = frame[[spec.column for spec in specs]]
    return Table(name, frame, specs)


@dataclass
class Derived:
    """Change and flags per score row, and responder status per patient × timepoint."""

    position: np.ndarray  # patient position of each score row
    baseline: np.ndarray
    change: dict[str, np.ndarray]
    flags: dict[str, tuple[np.ndarray, np.ndarray]]  # kind -> (value, known)
    responder: np.ndarray  # (patients, timepoints): 1, 0, -1 unknown
    # Per score row (when the rows' visits were given): the responder status at the row's
    # visit, for scheduled and unscheduled visits alike.
    responder_rows: np.ndarray | None = None


def derive(data: Dataset, thresholds: Sequence[Threshold]) -> Derived:
    """``derive_rows`` of a loaded dataset's score rows."""
    rows = data.scores
    position = np.searchsorted(data.patients["patient_id"].to_numpy(np.int64), rows.patient_id)
    return derive_rows(position, rows.timepoint, rows.score, rows.value, len(data.patients),
                       data.timepoints, data.score_codes, thresholds, rows.visit)


def derive_rows(position: np.ndarray, timepoint: np.ndarray, score: np.ndarray,
                value: np.ndarray, n_patients: int, timepoints: list[TimepointInfo],
                score_codes: list[str], thresholds: Sequence[Threshold],
                visit: np.ndarray | None = None) -> Derived:
    """Baseline, change, flags and responder status of score rows of ``n_patients``
    patients (``position`` 0 … n_patients - 1), with ``scoring``'s vectorised functions
    (the array cores behind ``change_frame`` and ``omeract_oarsi_frame``); the MCII / MIC /
    PASS flags judged by ``thresholds`` (the chosen set's).  Rows of unscheduled visits
    (timepoint ``len(timepoints)``) are follow-up rows; with ``visit`` (each row's visit)
    the responder status is also given per row, unscheduled visits' included."""
    n_rows, n_tp, n_scores = len(value), len(timepoints), len(score_codes)
    is_baseline = np.zeros(n_tp + 1, dtype=bool)
    is_baseline[[i for i, tp in enumerate(timepoints) if tp.is_baseline]] = True
    at_baseline = is_baseline[timepoint] if n_rows else np.zeros(0, bool)
    base_matrix = np.full((n_patients, n_scores), np.nan)
    base_matrix[position[at_baseline], score[at_baseline]] = value[at_baseline]
    baseline = base_matrix[position, score] if n_rows else np.empty(0)
    followup = ~at_baseline
    change = {key: np.full(n_rows, np.nan) for key in ("change", "relative", "improvement")}
    flags: dict[str, tuple[np.ndarray, np.ndarray]] = {
        kind: (np.zeros(n_rows, bool), np.zeros(n_rows, bool)) for kind in FLAG_KINDS}
    if followup.any():  # all follow-up rows in one call, whatever their score
        result = change_arrays_by_index(score_codes, score[followup], baseline[followup],
                                        value[followup], thresholds)
        change["change"][followup] = result.absolute
        change["relative"][followup] = result.relative
        change["improvement"][followup] = result.improvement
        for kind in FLAG_KINDS:
            flag_value, known = result.flags[kind]
            flags[kind][0][followup] = flag_value & known
            flags[kind][1][followup] = known
    responder = np.full((n_patients, max(n_tp, 1)), -1, dtype=np.int8)
    wanted = [score_codes.index(code) for code in RESPONDER_CODES]
    base = {code: base_matrix[:, column] for code, column in zip(RESPONDER_CODES, wanted,
                                                                 strict=True)}
    for tp_index, tp in enumerate(timepoints):
        if tp.is_baseline:
            continue
        here = timepoint == tp_index
        if not here.any():
            continue
        follow = np.full((n_patients, n_scores), np.nan)
        follow[position[here], score[here]] = value[here]
        status, known, _criterion, _domains = responder_arrays(
            base, {code: follow[:, column] for code, column in zip(RESPONDER_CODES, wanted,
                                                                   strict=True)}, n_patients)
        seen = np.zeros(n_patients, bool)
        seen[position[here]] = True
        value_code = np.where(known, status.astype(np.int8), -1).astype(np.int8)
        responder[:, tp_index] = np.where(seen, value_code, -1)
    rows_status = None
    if visit is not None:
        rows_status = np.full(n_rows, -1, np.int8)
        scheduled = timepoint < n_tp
        rows_status[scheduled] = responder[position[scheduled], timepoint[scheduled]]
        extra = np.flatnonzero(~scheduled)
        if len(extra):
            rows_status[extra] = _visit_responder(extra, visit, position, score, value,
                                                  base, wanted)
    return Derived(position, baseline, change, flags, responder, rows_status)


def _visit_responder(rows: np.ndarray, visit: np.ndarray, position: np.ndarray,
                     score: np.ndarray, value: np.ndarray, base: dict[str, np.ndarray],
                     wanted: list[int]) -> np.ndarray:
    """Responder status (1, 0, -1 unknown) of ``rows``, one classification per visit
    (unscheduled visits: a patient may have several)."""
    visits, local = np.unique(visit[rows], return_inverse=True)
    patient = np.zeros(len(visits), np.int64)
    patient[local] = position[rows]
    follow = np.full((len(visits), len(wanted)), np.nan)
    for column, score_index in enumerate(wanted):
        here = score[rows] == score_index
        follow[local[here], column] = value[rows][here]
    status, known, _criterion, _domains = responder_arrays(
        {code: base[code][patient] for code in RESPONDER_CODES},
        {code: follow[:, column] for column, code in enumerate(RESPONDER_CODES)}, len(visits))
    return np.where(known, status.astype(np.int8), -1).astype(np.int8)[local]
