"""``outcomes_long``: one row per patient × visit × score, built chunk by chunk.

A row for every score each visit of the patient's protocol should have (the scores of the
instruments its timepoint records) and every other score stored, done or not, plus the
rows of unscheduled visits that were done (timepoint ``unscheduled``, ``unscheduled`` = 1).
Columns: pseudonym, timepoint, day, the visit's mode of collection, score, instrument,
value and why it is missing (``value_reason``), baseline, change, relative change,
improvement and why they are missing (``change_reason``), MCII / MIC / PASS flags, the
OMERACT-OARSI responder status at that visit, and the unscheduled flag.
The table is never held whole for CSV and
Parquet: ``chunks()`` reads the score rows of a few thousand patients at a time
(``scorestream``), and ``build(chunk)`` derives them (``tables.derive_rows``: scoring's
vectorised change and responder functions) and turns them into an Arrow table with exactly
the types pandas would give (the schema comes from the pandas frame of ``long_frame``).
``frame`` builds the whole pandas frame for the formats that need one (Excel, Stata), from a
single chunk of all rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from flask_babel import gettext as _

import scoring
from registry.research.dataset import TimepointInfo
from registry.research.dictionary import (
    FLAG_NAMES,
    ColumnSpec,
    flag_kinds,
    mode_spec,
    reason_spec,
    score_spec,
    vocab,
)
from registry.research.language import words
from registry.research.scorestream import (
    MODE_CODES,
    NO_DAY,
    ScoreChunk,
    empty_chunk,
    merge,
    select_rows,
)
from registry.research.tables import Derived, Table, _spec, derive_rows
from registry.research.visitrows import (
    NO_BASELINE,
    REASON_CODES,
    SCORED,
    UNSCHEDULED,
)
from registry.vocabularies import N_
from scoring import FLAG_KINDS


def timepoint_codes(timepoints: list[TimepointInfo]) -> dict[str, str]:
    """Code -> name of the timepoints, and of unscheduled visits (listed last)."""
    return {**{tp.code: tp.name for tp in timepoints}, UNSCHEDULED: N_("Unscheduled visit")}


def select_derived(derived: Derived, keep: np.ndarray) -> Derived:
    """The derived values of the rows where ``keep`` is true."""
    return Derived(derived.position[keep], derived.baseline[keep],
                   {key: values[keep] for key, values in derived.change.items()},
                   {kind: (value[keep], known[keep])
                    for kind, (value, known) in derived.flags.items()},
                   derived.responder,
                   None if derived.responder_rows is None else derived.responder_rows[keep])


def change_reasons(reason: np.ndarray, baseline: np.ndarray,
                   at_baseline: np.ndarray) -> np.ndarray:
    """Why a row's change from baseline is missing: the value's reason when the value is
    missing, ``no_baseline`` when only the baseline is; -1 (empty) on baseline rows."""
    out = np.where(reason != SCORED, reason,
                   np.where(np.isnan(baseline), NO_BASELINE, SCORED)).astype(np.int8)
    out[at_baseline] = -1
    return out


def long_specs(name: str, timepoints: list[TimepointInfo], score_codes: list[str],
               thresholds: scoring.ThresholdSet) -> list[ColumnSpec]:
    """The long table's columns, then one row per score (``value[score=…]``) and per score
    with a threshold in the chosen set (``mcii[score=…]`` …) citing its source."""
    named = f"threshold set {thresholds.code} ({thresholds.label}, version {thresholds.version})"
    specs = [
        _spec(name, "pid", _("Patient pseudonym"), "string", source="HMAC-SHA256 pseudonym"),
        _spec(name, "timepoint", _("Timepoint (unscheduled: a visit outside the protocol)"),
              "category", source="timepoint.code", **vocab(timepoint_codes(timepoints))),
        _spec(name, "day", _("Visit, days since treatment (day 0)"), "integer", unit=_("days"),
              missing_rule=_("empty when the visit was not done"),
              source="visit.visit_date minus treatment date"),
        mode_spec(name, "collection_mode"),
        _spec(name, "score", _("Score code (see the score rows of this dictionary)"), "category",
              source="scoring.SCORES",
              **vocab({code: score.label for code, score in scoring.SCORES.items()})),
        _spec(name, "instrument", _("Instrument"), "category", source="scoring.INSTRUMENTS",
              **vocab({code: inst.name for code, inst in scoring.INSTRUMENTS.items()})),
        _spec(name, "value", _("Score value (unit, range and direction by score below)"),
              "number", source="score_value.value (computed by scoring/)",
              missing_rule=_("empty when the score is missing; why: see value_reason"),
              reason_column="value_reason"),
        reason_spec(name, "value_reason", "value"),
        _spec(name, "baseline", _("Same score at the baseline visit"), "number",
              source="score_value at the baseline timepoint"),
        _spec(name, "change", _("Change from baseline (follow-up minus baseline); empty on "
              "baseline rows"), "number", source="scoring.change_frame: absolute",
              reason_column="change_reason"),
        _spec(name, "relative_change", _("Relative change (change / baseline); empty when "
              "baseline is 0"), "number", unit=_("fraction of baseline"),
              source="scoring.change_frame: relative", reason_column="change_reason"),
        _spec(name, "improvement", _("Improvement (positive = better, direction-aware)"),
              "number", source="scoring.change_frame: improvement",
              reason_column="change_reason"),
        reason_spec(name, "change_reason", "change"),
        *(_spec(name, kind, _("%(flag)s (threshold by score below)",
                              flag=words(FLAG_NAMES[kind]).capitalize()),
                "boolean", kind=f"{kind} flag",
                missing_rule=_("empty on baseline rows, without a baseline or follow-up value, "
                             "or without a threshold for the score"),
                source=f"scoring.change_frame: {kind}; {named}", reason_column="change_reason")
          for kind in FLAG_KINDS),
        _spec(name, "oarsi_responder", _("OMERACT-OARSI responder at this visit (Pham "
              "2004); same for every score row of the visit"), "boolean",
              source="scoring.omeract_oarsi_frame; criterion and sources in the manifest"),
        _spec(name, "unscheduled", _("Unscheduled visit (outside the protocol's timepoints)"),
              "boolean", source="visit without a timepoint"),
    ]
    specs += [score_spec(name, f"value[score={code}]", code, None) for code in score_codes]
    specs += [score_spec(name, f"{kind}[score={code}]", code, None, kind, thresholds)
              for code in score_codes for kind in flag_kinds(code, thresholds.thresholds)]
    return specs


class LongTable(Table):
    """The long table of a cohort, read and built chunk by chunk (see the module doc)."""

    def __init__(self, name: str, timepoints: list[TimepointInfo], score_codes: list[str],
                 pids: list[str], source: Callable[[], Iterator[ScoreChunk]],
                 thresholds: scoring.ThresholdSet,
                 keep: Callable[[ScoreChunk], np.ndarray] | None = None) -> None:
        """``keep``: the rows of a chunk the table shows (after deriving them: a row's
        baseline comes from rows that may be left out)."""
        self.name = name
        self.keep = keep
        self.specs = long_specs(name, timepoints, score_codes, thresholds)
        self.thresholds = thresholds
        self.timepoints = timepoints
        self.score_codes = score_codes
        self.pids = pids
        self._source = source
        self._frame: pd.DataFrame | None = None
        self._rows = 0
        instrument_codes = list(scoring.INSTRUMENTS)
        self.instrument_codes = instrument_codes
        self.instrument_of = np.array(
            [instrument_codes.index(scoring.SCORES[code].instrument) for code in score_codes],
            dtype=np.int16)
        chunk = empty_chunk()
        self._schema = pa.Schema.from_pandas(self.pandas_frame(chunk, self.derive(chunk)),
                                             preserve_index=False)
        self._pids = pa.array(pids, type=self._schema.field("pid").type)
        self._dictionaries = {
            column: pa.array(values, type=self._schema.field(column).type.value_type)
            for column, values in (("timepoint", list(timepoint_codes(timepoints))),
                                   ("score", score_codes), ("instrument", instrument_codes),
                                   ("collection_mode", MODE_CODES),
                                   ("value_reason", REASON_CODES),
                                   ("change_reason", REASON_CODES))}

    # -- rows ---------------------------------------------------------------------------
    def chunks(self) -> Iterator[ScoreChunk]:
        """The score rows, chunk by chunk (reads the database: call on the session's thread)."""
        if self._frame is not None:
            raise RuntimeError("the long table's rows were already read into a frame")
        self._rows = 0
        for chunk in self._source():
            self._rows += len(chunk) if self.keep is None else int(self.keep(chunk).sum())
            yield chunk

    @property
    def rows(self) -> int:
        return len(self._frame) if self._frame is not None else self._rows

    @property
    def column_names(self) -> list[str]:
        return list(self._schema.names)

    @property
    def frame(self) -> pd.DataFrame:
        """The whole table as one pandas frame (Excel and Stata; reads all rows once)."""
        if self._frame is None:
            self._frame = self.pandas_frame(*self.derived(merge(list(self.chunks()))))
        return self._frame

    def arrow_schema(self) -> pa.Schema:
        return self._schema

    def derive(self, chunk: ScoreChunk) -> Derived:
        return derive_rows(chunk.position - chunk.first, chunk.timepoint, chunk.score,
                           chunk.value, chunk.stop - chunk.first, self.timepoints,
                           self.score_codes, self.thresholds.thresholds, chunk.visit)

    def derived(self, chunk: ScoreChunk) -> tuple[ScoreChunk, Derived]:
        """The rows of ``chunk`` the table shows, with their derived values."""
        derived = self.derive(chunk)
        if self.keep is None:
            return chunk, derived
        keep = self.keep(chunk)
        return select_rows(chunk, keep), select_derived(derived, keep)

    def _at_baseline(self, chunk: ScoreChunk) -> np.ndarray:
        is_baseline = np.array([tp.is_baseline for tp in self.timepoints] + [False], bool)
        return is_baseline[chunk.timepoint]

    def build(self, piece: Any) -> pa.Table:
        """One chunk as an Arrow table (thread-safe: numpy and Arrow only)."""
        chunk, derived = self.derived(piece)
        responder = derived.responder_rows
        assert responder is not None
        change_reason = change_reasons(chunk.reason, derived.baseline,
                                       self._at_baseline(chunk))

        def number(values: np.ndarray) -> pa.Array:
            return pa.array(values, type=pa.float64(), from_pandas=True)

        columns: list[pa.Array] = [
            self._pids.take(pa.array(chunk.position)),
            self._coded("timepoint", chunk.timepoint),
            pa.array(chunk.day, type=pa.int32(), mask=chunk.day == NO_DAY),
            self._coded("collection_mode", chunk.mode, mask=chunk.mode < 0),
            self._coded("score", chunk.score),
            self._coded("instrument", self.instrument_of[chunk.score]),
            number(chunk.value),
            self._coded("value_reason", chunk.reason),
            *(number(values) for values in (derived.baseline, derived.change["change"],
                                            derived.change["relative"],
                                            derived.change["improvement"])),
            self._coded("change_reason", change_reason, mask=change_reason < 0),
        ]
        for kind in FLAG_KINDS:
            value, known = derived.flags[kind]
            columns.append(pa.array(value & known, type=pa.bool_(), mask=~known))
        columns.append(pa.array(responder == 1, type=pa.bool_(), mask=responder < 0))
        columns.append(pa.array(chunk.timepoint == len(self.timepoints), type=pa.bool_()))
        return pa.Table.from_arrays(columns, schema=self._schema)

    def _coded(self, column: str, codes: np.ndarray,
               mask: np.ndarray | None = None) -> pa.DictionaryArray:
        """Codes as a dictionary column (``mask``: the rows that are null)."""
        index_type = self._schema.field(column).type.index_type
        return pa.DictionaryArray.from_arrays(
            pa.array(codes.astype(index_type.to_pandas_dtype()), type=index_type, mask=mask),
            self._dictionaries[column])

    def pandas_frame(self, chunk: ScoreChunk, derived: Derived) -> pd.DataFrame:
        """The rows of ``chunk`` as the pandas frame (pid as plain text; categoricals,
        nullable integers and booleans)."""
        pids = np.asarray(self.pids, dtype=object)
        reasons = pd.Index(REASON_CODES)
        change_reason = change_reasons(chunk.reason, derived.baseline,
                                       self._at_baseline(chunk))
        frame = pd.DataFrame({
            "pid": pd.array(pids[chunk.position] if len(pids) else [], dtype="string"),
            "timepoint": pd.Categorical.from_codes(
                chunk.timepoint.astype(np.int16),
                categories=pd.Index(list(timepoint_codes(self.timepoints)))),
            "day": pd.arrays.IntegerArray(chunk.day.astype(np.int32), chunk.day == NO_DAY),
            "collection_mode": pd.Categorical.from_codes(chunk.mode.astype(np.int8),
                                                         categories=pd.Index(MODE_CODES)),
            "score": pd.Categorical.from_codes(chunk.score,
                                               categories=pd.Index(self.score_codes)),
            "instrument": pd.Categorical.from_codes(self.instrument_of[chunk.score],
                                                    categories=pd.Index(self.instrument_codes)),
            "value": chunk.value,
            "value_reason": pd.Categorical.from_codes(chunk.reason, categories=reasons),
            "baseline": derived.baseline,
            "change": derived.change["change"],
            "relative_change": derived.change["relative"],
            "improvement": derived.change["improvement"],
            "change_reason": pd.Categorical.from_codes(change_reason, categories=reasons),
        })
        for kind in FLAG_KINDS:
            value, known = derived.flags[kind]
            frame[kind] = pd.arrays.BooleanArray(value & known, ~known)
        codes = derived.responder_rows
        assert codes is not None
        frame["oarsi_responder"] = pd.arrays.BooleanArray(codes == 1, codes < 0)
        frame["unscheduled"] = pd.arrays.BooleanArray(chunk.timepoint == len(self.timepoints),
                                                      np.zeros(len(chunk), bool))
        return frame
