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
from dataclasses import dataclass

import numpy as np
import pandas as pd

import scoring
from registry.research.dataset import Dataset
from registry.research.dictionary import (
    ColumnSpec,
    coded,
    score_spec,
)
from registry.vocabularies import (
    CELL_SOURCES,
    CO_INTERVENTIONS,
    KL_GRADES,
    LATERALITY,
    PATIENT_STATUS,
    SEX,
    WITHDRAWAL_REASONS,
)
from scoring.responder import SOURCES as RESPONDER_SOURCES

RESPONDER_CODES = sorted({code for sources in RESPONDER_SOURCES.values() for code, _ in sources})
FREE_TEXT_SOURCE = "free text entered by staff (included because an admin allowed it)"


@dataclass
class Table:
    name: str
    frame: pd.DataFrame
    specs: list[ColumnSpec]


def safe_code(code: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", code.lower())


def _spec(table: str, column: str, label: str, kind: str, **extra: object) -> ColumnSpec:
    return ColumnSpec(table=table, column=column, label=label, type=kind, **extra)  # type: ignore[arg-type]


def patient_specs(table: str, free_text: bool) -> list[ColumnSpec]:
    specs = [
        _spec(table, "pid", "Patient pseudonym (replaces the study ID; see manifest)", "string",
              source="HMAC-SHA256 pseudonym of the patient"),
        _spec(table, "site", "Site code", "string", source="site.code"),
        _spec(table, "sex", "Sex", "category", source="patient.sex", values=coded(SEX)),
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
              minimum=0, maximum=4, source="index_knee.kl_grade", values=coded(KL_GRADES)),
        _spec(table, "laterality", "Index knee", "category", source="index_knee.laterality",
              values=coded(LATERALITY)),
        _spec(table, "cell_source", "Cell source", "category", source="treatment.cell_source",
              values=coded(CELL_SOURCES)),
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
              values=coded(PATIENT_STATUS)),
        _spec(table, "withdrawal_reason", "Reason for withdrawal", "category",
              source="patient.withdrawal_reason", values=coded(WITHDRAWAL_REASONS)),
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
    frame["site"] = pd.array(raw["site"], dtype="string")
    frame["sex"] = pd.Categorical(raw["sex"], categories=list(SEX))
    frame["age_at_treatment"] = pd.array(raw["age_at_treatment"], dtype="Int16")
    frame["age_90_plus"] = pd.array(raw["age_90_plus"].astype("boolean"), dtype="boolean")
    for column in ("height_cm", "weight_kg", "bmi", "cell_dose_million"):
        frame[column] = pd.to_numeric(raw[column]).astype("Float64")
    frame["kl_grade"] = pd.array(raw["kl_grade"], dtype="Int8")
    frame["laterality"] = pd.Categorical(raw["laterality"], categories=list(LATERALITY))
    frame["cell_source"] = pd.Categorical(raw["cell_source"], categories=list(CELL_SOURCES))
    frame["product"] = pd.array(raw["product"], dtype="string")
    frame["injections"] = pd.array(raw["injections"], dtype="Int8")
    co = [set(value or []) for value in raw["co_interventions"]]
    for code in CO_INTERVENTIONS:
        frame[f"co_{code}"] = pd.array([code in chosen for chosen in co], dtype="boolean")
    frame["outside_indication"] = pd.array(raw["outside_indication"].astype("boolean"),
                                           dtype="boolean")
    frame["status"] = pd.Categorical(raw["status"], categories=list(PATIENT_STATUS))
    frame["withdrawal_reason"] = pd.Categorical(raw["withdrawal_reason"],
                                                categories=list(WITHDRAWAL_REASONS))
    frame["withdrawal_day"] = pd.array(raw["withdrawal_day"], dtype="Int32")
    if data.free_text:
        for column in ("justification", "withdrawal_note", "treatment_notes"):
            frame[column] = pd.array(raw[column], dtype="string")
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


def derive(data: Dataset) -> Derived:
    rows = data.scores
    n_patients, n_tp, n_scores = len(data.patients), len(data.timepoints), len(data.score_codes)
    position = np.searchsorted(data.patients["patient_id"].to_numpy(np.int64), rows.patient_id)
    is_baseline = np.zeros(max(n_tp, 1), dtype=bool)
    is_baseline[data.baseline_index] = True
    at_baseline = is_baseline[rows.timepoint] if len(rows.value) else np.zeros(0, bool)
    base_matrix = np.full((n_patients, n_scores), np.nan)
    base_matrix[position[at_baseline], rows.score[at_baseline]] = rows.value[at_baseline]
    baseline = base_matrix[position, rows.score] if len(rows.value) else np.empty(0)
    followup = ~at_baseline
    change = {key: np.full(len(rows.value), np.nan)
              for key in ("change", "relative", "improvement")}
    flags = {kind: (np.zeros(len(rows.value), bool), np.zeros(len(rows.value), bool))
             for kind in ("mcii", "mic", "pass_")}
    # Rows grouped by score once (index arrays), so each score's work is proportional to
    # its own rows rather than to the whole table.
    by_score = np.argsort(rows.score, kind="stable")
    bounds = np.searchsorted(rows.score[by_score], np.arange(n_scores + 1))
    for index, code in enumerate(data.score_codes):
        members = by_score[bounds[index]:bounds[index + 1]]
        members = members[followup[members]]
        if not len(members):
            continue
        result = scoring.change_frame(code, baseline[members], rows.value[members])
        change["change"][members] = result["absolute"].to_numpy()
        change["relative"][members] = result["relative"].to_numpy()
        change["improvement"][members] = result["improvement"].to_numpy()
        for kind in flags:
            column = result[kind]
            flags[kind][0][members] = column.fillna(False).to_numpy(bool)
            flags[kind][1][members] = column.notna().to_numpy(bool)
    responder = np.full((n_patients, max(n_tp, 1)), -1, dtype=np.int8)
    wanted = [data.score_codes.index(code) for code in RESPONDER_CODES]
    base_frame = pd.DataFrame(base_matrix[:, wanted], columns=RESPONDER_CODES)
    for tp_index, tp in enumerate(data.timepoints):
        if tp.is_baseline:
            continue
        here = rows.timepoint == tp_index
        if not here.any():
            continue
        follow = np.full((n_patients, n_scores), np.nan)
        follow[position[here], rows.score[here]] = rows.value[here]
        result = scoring.omeract_oarsi_frame(
            base_frame, pd.DataFrame(follow[:, wanted], columns=RESPONDER_CODES))
        seen = np.zeros(n_patients, bool)
        seen[position[here]] = True
        status = result["responder"]
        value = np.where(status.isna(), -1, status.fillna(False).astype(np.int8)).astype(np.int8)
        responder[:, tp_index] = np.where(seen, value, -1)
    return Derived(position, baseline, change, flags, responder)


def _nullable_bool(value: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(value & known, ~known)


def _responder_array(codes: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(codes == 1, codes < 0)


def long_table(data: Dataset, derived: Derived, pids: list[str],
               name: str = "outcomes_long") -> Table:
    rows = data.scores
    order = np.lexsort((rows.score, rows.timepoint, derived.position))
    position = derived.position[order]
    tp_codes = [tp.code for tp in data.timepoints]
    instrument_codes = list(scoring.INSTRUMENTS)
    instrument_of = np.array([instrument_codes.index(scoring.SCORES[code].instrument)
                              for code in data.score_codes], dtype=np.int16)
    frame = pd.DataFrame({
        "pid": pd.Categorical.from_codes(position, categories=pids) if pids
        else pd.Categorical([], categories=[]),
        "timepoint": pd.Categorical.from_codes(rows.timepoint[order].astype(np.int16),
                                               categories=tp_codes),
        "day": rows.day[order],
        "score": pd.Categorical.from_codes(rows.score[order], categories=data.score_codes),
        "instrument": pd.Categorical.from_codes(instrument_of[rows.score[order]],
                                                categories=instrument_codes),
        "value": rows.value[order],
        "baseline": derived.baseline[order],
        "change": derived.change["change"][order],
        "relative_change": derived.change["relative"][order],
        "improvement": derived.change["improvement"][order],
    })
    for kind, column in (("mcii", "mcii"), ("mic", "mic"), ("pass_", "pass")):
        value, known = derived.flags[kind]
        frame[column] = _nullable_bool(value[order], known[order])
    frame["oarsi_responder"] = _responder_array(
        derived.responder[position, rows.timepoint[order]] if len(order)
        else np.empty(0, np.int8))
    specs = [
        _spec(name, "pid", "Patient pseudonym", "string", source="HMAC-SHA256 pseudonym"),
        _spec(name, "timepoint", "Timepoint", "category", source="timepoint.code",
              values="; ".join(f"{tp.code} = {tp.name}" for tp in data.timepoints)),
        _spec(name, "day", "Visit, days since treatment (day 0)", "integer", unit="days",
              source="visit.visit_date minus treatment date"),
        _spec(name, "score", "Score code (see the score rows of this dictionary)", "category",
              source="scoring.SCORES",
              values="; ".join(f"{c} = {s.label}" for c, s in scoring.SCORES.items())),
        _spec(name, "instrument", "Instrument", "category", source="scoring.INSTRUMENTS",
              values="; ".join(f"{c} = {i.name}" for c, i in scoring.INSTRUMENTS.items())),
        _spec(name, "value", "Score value (unit, range and direction by score below)",
              "number", source="score_value.value (computed by scoring/)"),
        _spec(name, "baseline", "Same score at the baseline visit", "number",
              source="score_value at the baseline timepoint"),
        _spec(name, "change", "Change from baseline (follow-up minus baseline); empty on "
              "baseline rows", "number", source="scoring.change_frame: absolute"),
        _spec(name, "relative_change", "Relative change (change / baseline); empty when "
              "baseline is 0", "number", unit="fraction of baseline",
              source="scoring.change_frame: relative"),
        _spec(name, "improvement", "Improvement (positive = better, direction-aware)",
              "number", source="scoring.change_frame: improvement"),
        _spec(name, "mcii", "Minimal clinically important improvement reached (Tubach 2005)",
              "boolean", source="scoring.change_frame: mcii; empty without a threshold"),
        _spec(name, "mic", "Minimal important change reached (KOOS, Monticone 2013)",
              "boolean", source="scoring.change_frame: mic; empty without a threshold"),
        _spec(name, "pass", "Patient acceptable symptom state reached (Tubach 2005)",
              "boolean", source="scoring.change_frame: pass_; empty without a threshold"),
        _spec(name, "oarsi_responder", "OMERACT-OARSI responder at this timepoint (Pham "
              "2004); same for every score row of the visit", "boolean",
              source="scoring.omeract_oarsi_frame"),
    ]
    specs += [score_spec(name, f"value[score={code}]", code, None) for code in data.score_codes]
    return Table(name, frame, specs)
