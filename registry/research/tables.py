"""The export tables, built with pandas/numpy from a loaded ``Dataset``, with their specs.

- ``patients``: one row per patient (pseudonym, site, sex, capped age, knee, treatment:
  its type, the catalogue product, the lot (a pseudonym and its release data, never the lot
  number or donor code) and the delivery).
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
from flask_babel import gettext as _

from registry.limits import NUMBERS, NumberLimit
from registry.research.dataset import Dataset, TimepointInfo
from registry.research.dictionary import ColumnSpec, vocab
from registry.research.language import words
from registry.vocabularies import (
    ANAESTHESIA,
    CELL_SOURCES,
    CO_INTERVENTIONS,
    DELIVERY_SITES,
    IMAGE_GUIDANCE,
    ISCT_MARKERS,
    ISCT_NEGATIVE_MAXIMUM,
    ISCT_POSITIVE_MINIMUM,
    ISCT_SOURCE,
    KL_GRADES,
    LATERALITY,
    LOT_STATUSES,
    PATIENT_STATUS,
    PREPARATIONS,
    PRODUCT_ORIGINS,
    SEX,
    TISSUE_SOURCES,
    TREATMENT_TYPES,
    WITHDRAWAL_REASONS,
)
from scoring import FLAG_KINDS, Threshold
from scoring.change import change_arrays_by_index
from scoring.responder import SOURCE_CODES as RESPONDER_CODES
from scoring.responder import responder_arrays

SLICE_ROWS = 500_000  # rows of a frame handed to a writer at a time
FREE_TEXT_SOURCE = "free text entered by staff (included because an admin allowed it)"
# Coded treatment, product, lot and delivery columns of the patients table: column ->
# vocabulary (the frame's categories and the dictionary's value labels, in one place).
TREATMENT_CODES: dict[str, dict[str, str]] = {
    "treatment_type": TREATMENT_TYPES, "cell_source": CELL_SOURCES,
    "product_origin": PRODUCT_ORIGINS, "tissue_source": TISSUE_SOURCES,
    "preparation": PREPARATIONS, "lot_release_status": LOT_STATUSES,
    "delivery_site": DELIVERY_SITES, "image_guidance": IMAGE_GUIDANCE,
    "anaesthesia": ANAESTHESIA,
}
# Numeric treatment and lot columns: column -> its range (``registry.limits``).
TREATMENT_NUMBERS = {"cell_dose_million": "cell_dose_million",
                     "injection_interval_days": "injection_interval_days",
                     "volume_ml": "volume_ml", "lot_viability_percent": "viability_percent",
                     "lot_cell_count_million": "lot_cell_count_million"}


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


def _bounded(limit: NumberLimit) -> dict[str, Any]:
    """A number's unit and range from its ``registry.limits`` entry."""
    return {"unit": words(limit.unit) if limit.unit else "", "minimum": limit.minimum,
            "maximum": limit.maximum}


def isct_rule() -> str:
    """The ISCT minimal criteria as the dictionary's source states them (from the
    vocabulary's markers and limits)."""
    positive = [label for label, kind in ISCT_MARKERS.values() if kind == "positive"]
    negative = [label for label, kind in ISCT_MARKERS.values() if kind != "positive"]
    return (f"{', '.join(positive)} >= {ISCT_POSITIVE_MINIMUM:g} %; "
            f"{', '.join(negative)} <= {ISCT_NEGATIVE_MAXIMUM:g} %")


def treatment_specs(table: str) -> list[ColumnSpec]:
    """The treatment's columns: its type, cell source, the catalogue product, the lot (a
    pseudonym and its release data) and the dose; the delivery columns follow
    ``delivery_specs``."""
    no_lot = _("empty when the treatment names no catalogued lot (comparators, treatments "
               "recorded before the product catalogue)")
    no_product = _("empty when the treatment names no catalogued product (comparators)")
    return [
        _spec(table, "treatment_type", _("Treatment type"), "category",
              source="treatment.treatment_type", **vocab(TREATMENT_TYPES)),
        _spec(table, "cell_source", _("Cell source"), "category", source="treatment.cell_source",
              **vocab(CELL_SOURCES)),
        _spec(table, "product", _("Product name"), "string",
              missing_rule=_("empty for comparators (no product)"),
              source="cell_product.name of the treatment's lot; without a lot, "
                     "treatment.product_name as recorded"),
        _spec(table, "product_origin", _("Product origin"), "category",
              missing_rule=no_product, source="cell_product.origin", **vocab(PRODUCT_ORIGINS)),
        _spec(table, "tissue_source", _("Tissue source of the product"), "category",
              missing_rule=no_product, source="cell_product.tissue_source",
              **vocab(TISSUE_SOURCES)),
        _spec(table, "preparation", _("Preparation of the product"), "category",
              missing_rule=no_product, source="cell_product.preparation",
              **vocab(PREPARATIONS)),
        _spec(table, "minimally_manipulated", _("Minimally manipulated product"), "boolean",
              missing_rule=no_product, source="cell_product.minimally_manipulated"),
        _spec(table, "lot_pid", _("Lot pseudonym (replaces the lot number; the same lot has "
                                  "the same pseudonym; see manifest)"), "string",
              missing_rule=_("empty when no lot number was recorded (comparators)"),
              source="product_lot.lot_number (else treatment.lot_number) with the product's "
                     "name, as an HMAC-SHA256 pseudonym"),
        _spec(table, "lot_release_status", _("Release status of the lot at export"),
              "category", missing_rule=no_lot, source="product_lot.release_status",
              **vocab(LOT_STATUSES)),
        _spec(table, "lot_expiry_day", _("Lot expiry, days since treatment (negative: "
                                         "used after expiry)"), "integer", unit=_("days"),
              missing_rule=_("%(rule)s, or without an expiry date", rule=no_lot),
              source="product_lot.expiry_date minus treatment date"),
        _spec(table, "lot_viability_percent", _("Cell viability of the lot"), "number",
              missing_rule=no_lot, source="product_lot.viability_percent",
              **_bounded(NUMBERS["viability_percent"])),
        _spec(table, "lot_cell_count_million", _("Cell count of the lot"), "number",
              missing_rule=no_lot, source="product_lot.cell_count_million",
              **_bounded(NUMBERS["lot_cell_count_million"])),
        _spec(table, "lot_isct_criteria_met", _("Lot meets the ISCT minimal criteria"),
              "boolean", missing_rule=_("%(rule)s, or not every marker tested", rule=no_lot),
              source=f"product_lot.{next(iter(ISCT_MARKERS))} … "
                     f"{list(ISCT_MARKERS)[-1]}: {isct_rule()}; {ISCT_SOURCE}"),
        _spec(table, "cell_dose_million", _("Cell dose"), "number", unit=_("million cells"),
              source="treatment.cell_dose_million"),
        _spec(table, "injections", _("Number of injections"), "integer", minimum=1, maximum=10,
              source="treatment.injections"),
    ]


def delivery_specs(table: str) -> list[ColumnSpec]:
    """How the treatment was delivered (DOSES, JBJS 2019; MIBO, JBJS 2017)."""
    not_recorded = _("empty when not recorded")
    return [
        _spec(table, "injection_interval_days", _("Interval between injections"), "integer",
              missing_rule=_("empty when not recorded or a single injection"),
              source="treatment.injection_interval_days",
              **_bounded(NUMBERS["injection_interval_days"])),
        _spec(table, "delivery_site", _("Site of delivery"), "category",
              missing_rule=not_recorded, source="treatment.delivery_site",
              **vocab(DELIVERY_SITES)),
        _spec(table, "image_guidance", _("Image guidance"), "category",
              missing_rule=not_recorded, source="treatment.image_guidance",
              **vocab(IMAGE_GUIDANCE)),
        _spec(table, "volume_ml", _("Injected volume"), "number", missing_rule=not_recorded,
              source="treatment.volume_ml", **_bounded(NUMBERS["volume_ml"])),
        _spec(table, "anaesthesia", _("Anaesthesia"), "category", missing_rule=not_recorded,
              source="treatment.anaesthesia", **vocab(ANAESTHESIA)),
    ]


def patient_specs(table: str, free_text: bool) -> list[ColumnSpec]:
    specs = [
        _spec(table, "pid", _("Patient pseudonym (replaces the study ID; see manifest)"), "string",
              source="HMAC-SHA256 pseudonym of the patient"),
        _spec(table, "site", _("Site code"), "string", source="site.code"),
        _spec(table, "sex", _("Sex"), "category", source="patient.sex", **vocab(SEX)),
        _spec(table, "age_at_treatment", _("Age at treatment in whole years (90 = 90 or older)"),
              "integer", unit=_("years"), minimum=0, maximum=90,
              source="birth date and treatment date, computed in the database; capped at 90"),
        _spec(table, "age_90_plus", _("Age at treatment 90 or older"), "boolean",
              source="derived: age at treatment >= 90"),
        _spec(table, "height_cm", _("Height"), "number", unit="cm", minimum=50, maximum=250,
              source="patient.height_cm"),
        _spec(table, "weight_kg", _("Weight"), "number", unit="kg", minimum=20, maximum=350,
              source="patient.weight_kg"),
        _spec(table, "bmi", _("Body-mass index"), "number", unit="kg/m2", minimum=10, maximum=80,
              source="patient.bmi"),
        _spec(table, "kl_grade", _("Kellgren-Lawrence grade of the index knee"), "integer",
              minimum=0, maximum=4, source="index_knee.kl_grade", **vocab(KL_GRADES)),
        _spec(table, "laterality", _("Index knee"), "category", source="index_knee.laterality",
              **vocab(LATERALITY)),
        *treatment_specs(table),
        *delivery_specs(table),
        *(_spec(table, f"co_{code}", _("Co-intervention: %(name)s", name=words(label)),
                "boolean",
                source="treatment.co_interventions") for code, label in CO_INTERVENTIONS.items()),
        _spec(table, "outside_indication", _("Treated outside the usual indication"), "boolean",
              source="derived: a justification was recorded"),
        _spec(table, "status", _("Follow-up status"), "category", source="patient.status",
              **vocab(PATIENT_STATUS)),
        _spec(table, "withdrawal_reason", _("Reason for withdrawal"), "category",
              source="patient.withdrawal_reason", **vocab(WITHDRAWAL_REASONS)),
        _spec(table, "withdrawal_day", _("Withdrawal, days since treatment"), "integer",
              unit=_("days"), source="patient.withdrawn_on minus treatment date"),
    ]
    if free_text:
        specs += [_spec(table, name, label, "string", source=FREE_TEXT_SOURCE)
                  for name, label in (("justification", _("Justification (outside indication)")),
                                      ("withdrawal_note", _("Withdrawal note")),
                                      ("treatment_notes", _("Treatment notes")))]
    return specs


def patients_table(data: Dataset, pids: list[str], name: str = "patients") -> Table:
    raw = data.patients
    specs = patient_specs(name, data.free_text)
    frame = pd.DataFrame({"pid": pd.array(pids, dtype="string")})
    frame["site"] = raw["site"].astype("string").array
    frame["sex"] = pd.Categorical(raw["sex"], categories=list(SEX))
    frame["age_at_treatment"] = raw["age_at_treatment"].astype("Int16").array
    frame["age_90_plus"] = raw["age_90_plus"].astype("boolean").array
    for column in ("height_cm", "weight_kg", "bmi", *TREATMENT_NUMBERS):
        frame[column] = pd.to_numeric(raw[column]).astype("Float64")
    frame["kl_grade"] = raw["kl_grade"].astype("Int8").array
    frame["laterality"] = pd.Categorical(raw["laterality"], categories=list(LATERALITY))
    for column, vocabulary in TREATMENT_CODES.items():
        frame[column] = pd.Categorical(raw[column], categories=list(vocabulary))
    frame["product"] = raw["product"].astype("string").array
    for column in ("minimally_manipulated", "lot_isct_criteria_met"):
        frame[column] = raw[column].astype("boolean").array
    frame["lot_pid"] = pd.array(data.lot_pids if data.lot_pids is not None
                                else [None] * len(raw), dtype="string")
    frame["lot_expiry_day"] = raw["lot_expiry_day"].astype("Int32").array
    frame["injections"] = raw["injections"].astype("Int8").array
    frame["injection_interval_days"] = raw["injection_interval_days"].astype("Int16").array
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
