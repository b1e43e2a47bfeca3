"""The wide table (one row per patient) and the adverse-event and item tables.

Why a wide cell is empty: one reason column per score and timepoint,
``<score>_<tp>_reason``, next to the value (not one per change and flag column, which would
add some 180 columns): it holds why the value is missing, and — for a follow-up timepoint
whose value is present — ``no_baseline`` when the change, relative change and flags are
empty because the baseline is; ``scored`` when nothing is missing.  The value, change,
relative change and flag columns all name it as their ``reason_column``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from flask_babel import gettext as _

import scoring
from registry.research.dataset import Dataset
from registry.research.dictionary import (
    ColumnSpec,
    flag_kinds,
    item_spec,
    mode_spec,
    reason_spec,
    score_spec,
    vocab,
)
from registry.research.language import words
from registry.research.scorestream import MODE_CODES
from registry.research.tables import Derived, Table, _spec, patients_table, safe_code
from registry.research.visitrows import (
    NO_BASELINE,
    NO_DAY,
    REASON_CODES,
    REASON_OF_STATUS,
    SCORED,
    reason_index,
)
from registry.vocabularies import (
    AE_ACTIONS,
    AE_CATEGORIES,
    AE_GRADES,
    AE_OUTCOMES,
    AE_RELATEDNESS,
    AE_SERIOUS_CRITERIA,
)


def wide_table(data: Dataset, derived: Derived, pids: list[str],
               thresholds: scoring.ThresholdSet, name: str = "outcomes_wide") -> Table:
    """Patients plus ``<score>_<tp>``, its ``_reason``, ``_chg``, ``_rel`` and flag
    columns, ``day_<tp>``, ``collection_mode_<tp>`` and ``oarsi_responder_<tp>`` (follow-up
    timepoints only for change and flags); a flag column exists where the chosen
    ``thresholds`` set has a threshold for the score.  Unscheduled visits are not columns
    here: their rows are in ``outcomes_unscheduled`` (see ``export.build_tables``)."""
    base = patients_table(data, pids, name)
    rows = data.scores
    n_patients = len(pids)
    columns: dict[str, object] = {}
    specs: list[ColumnSpec] = []
    tps = [(index, tp, safe_code(tp.code)) for index, tp in enumerate(data.timepoints)]
    status, day, mode = visit_matrices(data, n_patients)
    # The reason of a score the patient's visit should have and has not; no visit at that
    # timepoint (another protocol): not applicable.
    absent = np.where(status >= 0, REASON_OF_STATUS[np.maximum(status, 0)],
                      reason_index("visit_not_applicable")).astype(np.int8)
    reasons = pd.Index(REASON_CODES)
    for index, tp, code in tps:
        columns[f"day_{code}"] = pd.arrays.IntegerArray(day[:, index].copy(),
                                                         day[:, index] == NO_DAY)
        specs.append(_spec(name, f"day_{code}", _("%(timepoint)s visit, days since treatment",
                                                  timepoint=words(tp.name)),
                           "integer", unit=_("days"), missing_rule=_("empty when the visit was "
                           "not done"), source="visit.visit_date minus treatment date"))
        columns[f"collection_mode_{code}"] = pd.Categorical.from_codes(
            mode[:, index], categories=pd.Index(MODE_CODES))
        specs.append(mode_spec(name, f"collection_mode_{code}", words(tp.name)))
    for score_index, score_code in enumerate(data.score_codes):
        kinds = flag_kinds(score_code, thresholds.thresholds)
        for index, tp, code in tps:
            here = (rows.timepoint == index) & (rows.score == score_index)
            where = derived.position[here]
            column = f"{score_code}_{code}"
            why = f"{column}_reason"

            def put(values: np.ndarray, here: np.ndarray = here,
                    where: np.ndarray = where) -> np.ndarray:
                out = np.full(n_patients, np.nan)
                out[where] = values[here]
                return out

            columns[column] = put(rows.value)
            specs.append(score_spec(name, column, score_code, words(tp.name),
                                    reason_column=why))
            reason = absent[:, index].copy()
            reason[where] = rows.reason[here]
            if not tp.is_baseline:
                baseline = put(derived.baseline)
                reason[(reason == SCORED) & np.isnan(baseline)] = NO_BASELINE
            columns[why] = pd.Categorical.from_codes(reason, categories=reasons)
            specs.append(reason_spec(name, why, column, change=not tp.is_baseline))
            if tp.is_baseline:
                continue
            columns[f"{column}_chg"] = put(derived.change["change"])
            specs.append(score_spec(name, f"{column}_chg", score_code, words(tp.name), "change",
                                    reason_column=why))
            columns[f"{column}_rel"] = put(derived.change["relative"])
            specs.append(score_spec(name, f"{column}_rel", score_code, words(tp.name),
                                    "relative",
                                    reason_column=why))
            for kind in kinds:
                value, known = derived.flags[kind]
                flag_value = np.zeros(n_patients, bool)
                flag_known = np.zeros(n_patients, bool)
                flag_value[where] = value[here]
                flag_known[where] = known[here]
                columns[f"{column}_{kind}"] = pd.arrays.BooleanArray(flag_value & flag_known,
                                                                     ~flag_known)
                specs.append(score_spec(name, f"{column}_{kind}", score_code, words(tp.name),
                                        kind,
                                        thresholds, reason_column=why))
    for index, tp, code in tps:
        if tp.is_baseline:
            continue
        status = derived.responder[:, index] if n_patients else np.empty(0, np.int8)
        columns[f"oarsi_responder_{code}"] = pd.arrays.BooleanArray(status == 1, status < 0)
        specs.append(_spec(name, f"oarsi_responder_{code}",
                           _("OMERACT-OARSI responder at %(timepoint)s (Pham 2004)",
                             timepoint=words(tp.name)), "boolean",
                           source="scoring.omeract_oarsi_frame"))
    extra = pd.DataFrame(columns, index=base.frame.index)
    frame = pd.concat([base.frame, extra], axis=1)
    return Table(name, frame, base.specs + specs)


def visit_matrices(data: Dataset,
                   n_patients: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status, day, mode) per patient × scheduled timepoint from the cohort's visits:
    status index (-1: no visit), day since treatment of a done visit (NO_DAY otherwise),
    mode index (-1: not recorded or not done)."""
    n_tp = len(data.timepoints)
    status = np.full((n_patients, n_tp), -1, np.int8)
    day = np.full((n_patients, n_tp), NO_DAY, np.int32)
    mode = np.full((n_patients, n_tp), -1, np.int8)
    visits = data.visits
    if visits is not None and n_patients:
        mine = (visits.position >= 0) & ~visits.unscheduled
        at = (visits.position[mine], visits.timepoint[mine])
        status[at] = visits.status[mine]
        done = visits.done[mine]
        day[at] = np.where(done, visits.day[mine], NO_DAY)
        mode[at] = np.where(done, visits.mode[mine], -1)
    return status, day, mode


def adverse_events_table(data: Dataset, pid_of: dict[int, str],
                         name: str = "adverse_events") -> Table:
    raw = data.adverse_events if data.adverse_events is not None else pd.DataFrame()
    specs = [
        _spec(name, "pid", _("Patient pseudonym"), "string", source="HMAC-SHA256 pseudonym"),
        _spec(name, "event", _("Event number within the patient (by onset)"), "integer"),
        _spec(name, "onset_day", _("Onset, days since treatment"), "integer", unit=_("days"),
              source="adverse_event.onset_date minus treatment date"),
        _spec(name, "category", _("Category"), "category", source="adverse_event.category",
              **vocab(AE_CATEGORIES)),
        _spec(name, "severity_grade", _("Severity grade (CTCAE v5.0 style)"), "integer",
              minimum=1, maximum=5, source="adverse_event.severity_grade",
              **vocab(AE_GRADES)),
        _spec(name, "serious", _("Serious adverse event"), "boolean",
              source="adverse_event.serious"),
        _spec(name, "serious_criterion", _("Seriousness criterion"), "category",
              source="adverse_event.serious_criterion", **vocab(AE_SERIOUS_CRITERIA)),
        _spec(name, "relatedness", _("Relatedness to treatment"), "category",
              source="adverse_event.relatedness", **vocab(AE_RELATEDNESS)),
        _spec(name, "action_taken", _("Action taken"), "category",
              source="adverse_event.action_taken", **vocab(AE_ACTIONS)),
        _spec(name, "outcome", _("Outcome"), "category", source="adverse_event.outcome",
              **vocab(AE_OUTCOMES)),
        _spec(name, "resolution_day", _("Resolution, days since treatment"), "integer",
              unit=_("days"), source="adverse_event.resolution_date minus treatment date"),
    ]
    if data.free_text:
        specs.append(_spec(name, "description", _("Description"), "string",
                           source="free text entered by staff (included because an admin "
                                  "allowed it)"))
    if raw.empty:
        frame = pd.DataFrame({spec.column: pd.Series(dtype="string" if spec.type == "string"
                                                     else "Int32" if spec.type == "integer"
                                                     else "boolean" if spec.type == "boolean"
                                                     else "category")
                              for spec in specs})
        return Table(name, frame, specs)
    frame = pd.DataFrame({"pid": pd.array([pid_of[p] for p in raw["patient_id"]],
                                          dtype="string")})
    frame["event"] = pd.array(raw.groupby("patient_id").cumcount().to_numpy() + 1, dtype="Int32")
    frame["onset_day"] = raw["onset_day"].astype("Int32").array
    vocabularies = {"category": AE_CATEGORIES, "serious_criterion": AE_SERIOUS_CRITERIA,
                    "relatedness": AE_RELATEDNESS, "action_taken": AE_ACTIONS,
                    "outcome": AE_OUTCOMES}
    frame["category"] = pd.Categorical(raw["category"], categories=list(AE_CATEGORIES))
    frame["severity_grade"] = raw["severity_grade"].astype("Int8").array
    frame["serious"] = raw["serious"].astype(bool).astype("boolean").array
    for column in ("serious_criterion", "relatedness", "action_taken", "outcome"):
        frame[column] = pd.Categorical(raw[column], categories=list(vocabularies[column]))
    frame["resolution_day"] = raw["resolution_day"].astype("Int32").array
    if data.free_text:
        frame["description"] = raw["description"].astype("string").array
    return Table(name, frame, specs)


def item_columns(raw: pd.DataFrame) -> list[tuple[str, str]]:
    """(instrument, item) of the default instruments and of any other found in the data."""
    present = set(raw.columns)
    defaults = {*scoring.default_instruments(True), *scoring.default_instruments(False)}
    return [(code, item.code) for code, instrument in scoring.INSTRUMENTS.items()
            for item in instrument.items
            if code in defaults or any(f"{code}_{i.code}" in present
                                                  for i in instrument.items)]


def items_table(data: Dataset, pid_of: dict[int, str], wide: bool, pids: list[str],
                name: str = "items") -> Table:
    """Item answers: one row per patient × timepoint (long) or per patient (wide)."""
    raw = data.items if data.items is not None else pd.DataFrame()
    columns = item_columns(raw)
    tp_codes = [tp.code for tp in data.timepoints]
    frame = pd.DataFrame({
        "pid": pd.array([pid_of[p] for p in raw.get("patient_id", [])], dtype="string"),
        "timepoint": pd.Categorical.from_codes(
            np.asarray(raw.get("timepoint", []), dtype=np.int16), categories=pd.Index(tp_codes)),
    })
    for instrument, item in columns:
        column = f"{instrument}_{item}"
        values = raw[column] if column in raw else pd.Series([None] * len(frame), dtype=object)
        frame[column] = pd.to_numeric(values.astype(object)).astype("Int16").array \
            if len(frame) else pd.array([], dtype="Int16")
    pid_spec = _spec(name, "pid", _("Patient pseudonym"), "string",
                     source="HMAC-SHA256 pseudonym")
    if not wide:
        specs = [pid_spec,
                 _spec(name, "timepoint", _("Timepoint"), "category", source="timepoint.code",
                       **vocab({tp.code: tp.name for tp in data.timepoints})),
                 *(item_spec(name, f"{i}_{c}", i, c) for i, c in columns)]
        return Table(name, frame, specs)
    specs = [pid_spec]
    pieces: dict[str, object] = {}
    for tp in data.timepoints:
        part = frame[frame["timepoint"] == tp.code].set_index("pid")
        for instrument, item in columns:
            column = f"{instrument}_{item}_{safe_code(tp.code)}"
            pieces[column] = part[f"{instrument}_{item}"].reindex(pids).array \
                if len(part) else pd.array([pd.NA] * len(pids), dtype="Int16")
            specs.append(item_spec(name, column, instrument, item, words(tp.name)))
    out = pd.concat([pd.DataFrame({"pid": pd.array(pids, dtype="string")}),
                     pd.DataFrame(pieces, index=range(len(pids)))], axis=1)
    return Table(name, out, specs)
