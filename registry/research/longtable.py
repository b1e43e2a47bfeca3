"""``outcomes_long``: one row per patient × timepoint × score, built chunk by chunk.

Columns: pseudonym, timepoint, day, the visit's mode of collection, score, instrument,
value, baseline, change, relative change, improvement, MCII / MIC / PASS flags and the
OMERACT-OARSI responder status at that timepoint. The table is never held whole for CSV and
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

import scoring
from registry.research.dataset import TimepointInfo
from registry.research.dictionary import (
    FLAG_NAMES,
    ColumnSpec,
    flag_kinds,
    mode_spec,
    score_spec,
)
from registry.research.scorestream import MODE_CODES, ScoreChunk, empty_chunk, merge
from registry.research.tables import Derived, Table, _spec, derive_rows
from scoring import FLAG_KINDS


def long_specs(name: str, timepoints: list[TimepointInfo], score_codes: list[str],
               thresholds: scoring.ThresholdSet) -> list[ColumnSpec]:
    """The long table's columns, then one row per score (``value[score=…]``) and per score
    with a threshold in the chosen set (``mcii[score=…]`` …) citing its source."""
    named = f"threshold set {thresholds.code} ({thresholds.label}, version {thresholds.version})"
    specs = [
        _spec(name, "pid", "Patient pseudonym", "string", source="HMAC-SHA256 pseudonym"),
        _spec(name, "timepoint", "Timepoint", "category", source="timepoint.code",
              values="; ".join(f"{tp.code} = {tp.name}" for tp in timepoints)),
        _spec(name, "day", "Visit, days since treatment (day 0)", "integer", unit="days",
              source="visit.visit_date minus treatment date"),
        mode_spec(name, "collection_mode"),
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
        *(_spec(name, kind, f"{FLAG_NAMES[kind].capitalize()} (threshold by score below)",
                "boolean", kind=f"{kind} flag",
                missing_rule="empty on baseline rows, without a baseline or follow-up value, "
                             "or without a threshold for the score",
                source=f"scoring.change_frame: {kind}; {named}")
          for kind in FLAG_KINDS),
        _spec(name, "oarsi_responder", "OMERACT-OARSI responder at this timepoint (Pham "
              "2004); same for every score row of the visit", "boolean",
              source="scoring.omeract_oarsi_frame"),
    ]
    specs += [score_spec(name, f"value[score={code}]", code, None) for code in score_codes]
    specs += [score_spec(name, f"{kind}[score={code}]", code, None, kind, thresholds)
              for code in score_codes for kind in flag_kinds(code, thresholds.thresholds)]
    return specs


class LongTable(Table):
    """The long table of a cohort, read and built chunk by chunk (see the module doc)."""

    def __init__(self, name: str, timepoints: list[TimepointInfo], score_codes: list[str],
                 pids: list[str], source: Callable[[], Iterator[ScoreChunk]],
                 thresholds: scoring.ThresholdSet) -> None:
        self.name = name
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
        self._dictionaries = {
            column: pa.array(values, type=self._schema.field(column).type.value_type)
            for column, values in (("pid", pids), ("timepoint", [tp.code for tp in timepoints]),
                                   ("score", score_codes), ("instrument", instrument_codes),
                                   ("collection_mode", MODE_CODES))}

    # -- rows ---------------------------------------------------------------------------
    def chunks(self) -> Iterator[ScoreChunk]:
        """The score rows, chunk by chunk (reads the database: call on the session's thread)."""
        if self._frame is not None:
            raise RuntimeError("the long table's rows were already read into a frame")
        self._rows = 0
        for chunk in self._source():
            self._rows += len(chunk)
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
            chunk = merge(list(self.chunks()))
            self._frame = self.pandas_frame(chunk, self.derive(chunk))
        return self._frame

    def arrow_schema(self) -> pa.Schema:
        return self._schema

    def derive(self, chunk: ScoreChunk) -> Derived:
        return derive_rows(chunk.position - chunk.first, chunk.timepoint, chunk.score,
                           chunk.value, chunk.stop - chunk.first, self.timepoints,
                           self.score_codes, self.thresholds.thresholds)

    def build(self, piece: Any) -> pa.Table:
        """One chunk as an Arrow table (thread-safe: numpy and Arrow only)."""
        chunk: ScoreChunk = piece
        derived = self.derive(chunk)
        local = derived.position
        responder = (derived.responder[local, chunk.timepoint] if len(chunk)
                     else np.empty(0, np.int8))
        columns: list[pa.Array] = [
            self._coded("pid", chunk.position),
            self._coded("timepoint", chunk.timepoint),
            pa.array(chunk.day, type=pa.int32()),
            self._coded("collection_mode", chunk.mode, mask=chunk.mode < 0),
            self._coded("score", chunk.score),
            self._coded("instrument", self.instrument_of[chunk.score]),
            *(pa.array(values, type=pa.float64(), from_pandas=True)
              for values in (chunk.value, derived.baseline, derived.change["change"],
                             derived.change["relative"], derived.change["improvement"])),
        ]
        for kind in FLAG_KINDS:
            value, known = derived.flags[kind]
            columns.append(pa.array(value & known, type=pa.bool_(), mask=~known))
        columns.append(pa.array(responder == 1, type=pa.bool_(), mask=responder < 0))
        return pa.Table.from_arrays(columns, schema=self._schema)

    def _coded(self, column: str, codes: np.ndarray,
               mask: np.ndarray | None = None) -> pa.DictionaryArray:
        """Codes as a dictionary column (``mask``: the rows that are null)."""
        index_type = self._schema.field(column).type.index_type
        return pa.DictionaryArray.from_arrays(
            pa.array(codes.astype(index_type.to_pandas_dtype()), type=index_type, mask=mask),
            self._dictionaries[column])

    def pandas_frame(self, chunk: ScoreChunk, derived: Derived) -> pd.DataFrame:
        """The rows of ``chunk`` as the pandas frame (categoricals, nullable booleans)."""
        frame = pd.DataFrame({
            "pid": pd.Categorical.from_codes(chunk.position, categories=pd.Index(self.pids))
            if self.pids else pd.Categorical([], categories=[]),
            "timepoint": pd.Categorical.from_codes(
                chunk.timepoint.astype(np.int16),
                categories=pd.Index([tp.code for tp in self.timepoints])),
            "day": chunk.day.astype(np.int32),
            "collection_mode": pd.Categorical.from_codes(chunk.mode.astype(np.int8),
                                                         categories=pd.Index(MODE_CODES)),
            "score": pd.Categorical.from_codes(chunk.score,
                                               categories=pd.Index(self.score_codes)),
            "instrument": pd.Categorical.from_codes(self.instrument_of[chunk.score],
                                                    categories=pd.Index(self.instrument_codes)),
            "value": chunk.value,
            "baseline": derived.baseline,
            "change": derived.change["change"],
            "relative_change": derived.change["relative"],
            "improvement": derived.change["improvement"],
        })
        for kind in FLAG_KINDS:
            value, known = derived.flags[kind]
            frame[kind] = pd.arrays.BooleanArray(value & known, ~known)
        codes = (derived.responder[derived.position, chunk.timepoint] if len(chunk)
                 else np.empty(0, np.int8))
        frame["oarsi_responder"] = pd.arrays.BooleanArray(codes == 1, codes < 0)
        return frame
