"""The data dictionary: one described column per exported column, built with the tables.

Score and item columns are described from ``scoring.SCORES`` / ``scoring.INSTRUMENTS``
(label, unit, range, direction, kind, missing rule, instrument, citation), threshold flags
from the export's chosen ``scoring.ThresholdSet`` (each threshold's citation and note),
coded columns from ``registry.vocabularies``; nothing here lists scores or instruments by
hand, and nothing is cached, so an instrument added to the catalogue is described at once.
Stata names (at most 32 characters) and labels (at most 80) are derived here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd

import scoring
from registry.vocabularies import COLLECTION_MODES
from scoring import FLAG_KINDS, Threshold, ThresholdKind
from scoring.change import find_threshold

STATA_NAME_MAX = 32
STATA_LABEL_MAX = 80
FLAG_NAMES: dict[str, str] = {
    "mcii": "minimal clinically important improvement reached",
    "mic": "minimal important change reached",
    "pass": "patient acceptable symptom state reached",
}
ITEM_MISSING = "empty when the item was not answered"


@dataclass(frozen=True)
class ColumnSpec:
    """What a researcher needs to know about one column of one table."""

    table: str
    column: str
    label: str
    type: str  # string, integer, number, boolean, category
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    direction: str = ""
    kind: str = ""  # item kind (choice, line, rating) or what a score column holds
    missing_rule: str = ""  # when the cell is empty
    instrument: str = ""
    source: str = ""
    values: str = ""  # coded values: "code = label; …"
    stata_name: str = ""
    # Coded values as (code, label) pairs, for value labels in Stata / SPSS / SAS and the
    # syntax files (``values`` is the same as text for the dictionary).
    codes: tuple[tuple[Any, str], ...] = ()
    # The companion column holding why this column's value is missing
    # (``registry.research.missing.SCORE_REASONS`` codes); "" when it has none.
    reason_column: str = ""


def coded(vocabulary: Mapping[Any, str]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in vocabulary.items())


def direction_of(score_code: str) -> str:
    return "higher is better" if scoring.SCORES[score_code].higher_is_better \
        else "higher is worse"


def score_spec(table: str, column: str, score_code: str, timepoint: str | None,
               kind: str = "value",
               thresholds: scoring.ThresholdSet | None = None) -> ColumnSpec:
    """A score value, its baseline, change, or a threshold flag (``kind``), from
    ``scoring.SCORES``; flags cite the chosen ``thresholds`` set."""
    score = scoring.SCORES[score_code]
    instrument = scoring.INSTRUMENTS[score.instrument]
    at = f" at {timepoint}" if timepoint else ""
    derived_missing = (f"empty when the score or its baseline is missing; score: "
                       f"{score.missing_rule}")
    if kind == "value":
        return ColumnSpec(table, column, f"{score.label}{at}", "number", unit=score.unit,
                          minimum=score.minimum, maximum=score.maximum,
                          direction=direction_of(score_code), kind="score",
                          missing_rule=score.missing_rule, instrument=instrument.name,
                          source=f"score_value {score_code} ({instrument.version}); "
                                 f"{score.citation}")
    if kind == "baseline":
        return ColumnSpec(table, column, f"{score.label} at baseline", "number",
                          unit=score.unit, minimum=score.minimum, maximum=score.maximum,
                          direction=direction_of(score_code), kind="score at baseline",
                          missing_rule=score.missing_rule, instrument=instrument.name,
                          source=f"score_value {score_code} at the baseline visit")
    span = score.maximum - score.minimum
    if kind == "change":
        return ColumnSpec(table, column, f"{score.label}{at}: change from baseline", "number",
                          unit=score.unit, minimum=-span, maximum=span,
                          direction=f"follow-up minus baseline; {direction_of(score_code)}",
                          kind="change from baseline", missing_rule=derived_missing,
                          instrument=instrument.name, source="scoring.change_frame: absolute")
    if kind == "relative":
        return ColumnSpec(table, column, f"{score.label}{at}: relative change", "number",
                          unit="fraction of baseline",
                          direction="change / baseline; empty when baseline is 0",
                          kind="relative change", missing_rule=derived_missing,
                          instrument=instrument.name, source="scoring.change_frame: relative")
    if kind == "improvement":
        return ColumnSpec(table, column, f"{score.label}{at}: improvement", "number",
                          unit=score.unit, minimum=-span, maximum=span,
                          direction="positive = better (direction-aware change)",
                          kind="improvement", missing_rule=derived_missing,
                          instrument=instrument.name,
                          source="scoring.change_frame: improvement")
    flag = flag_kind(kind)
    chosen = thresholds or scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    return ColumnSpec(table, column, f"{score.label}{at}: {FLAG_NAMES[flag]}", "boolean",
                      kind=f"{flag} flag", missing_rule=f"{derived_missing}; empty without "
                      "a threshold", instrument=instrument.name,
                      source=f"scoring.change_frame: {flag}; "
                             f"{threshold_text(chosen, score_code, flag)}")


def flag_kind(kind: str) -> ThresholdKind:
    """``kind`` as one of scoring's flag kinds (ValueError for anything else)."""
    for flag in FLAG_KINDS:
        if flag == kind:
            return flag
    raise ValueError(f"unknown score column kind {kind!r}")


def threshold_text(chosen: scoring.ThresholdSet, score_code: str, kind: ThresholdKind) -> str:
    """The threshold a flag uses, with the set, citation and note (or that there is none)."""
    threshold = find_threshold(chosen.thresholds, score_code, kind)
    named = f"threshold set {chosen.code} ({chosen.label}, version {chosen.version})"
    if threshold is None:
        return f"{named}: no threshold for this score, always empty"
    score = scoring.SCORES[score_code]
    if kind == "pass":
        rule = f"follow-up score at {'least' if score.higher_is_better else 'most'}"
    else:
        rule = "improvement of at least"
    relative = (f" or {threshold.relative_percent} % of baseline"
                if threshold.relative_percent is not None else "")
    note = f"; {threshold.note}" if threshold.note else ""
    return (f"{named}: {rule} {threshold.absolute} {score.unit}{relative}; "
            f"{threshold.citation.rstrip('.')}{note}")


def flag_kinds(score_code: str, thresholds: Sequence[Threshold]) -> list[str]:
    """The threshold flags that exist for a score under the chosen set (MCII, MIC, PASS)."""
    return [kind for kind in FLAG_KINDS
            if find_threshold(thresholds, score_code, kind) is not None]


def item_spec(table: str, column: str, instrument_code: str, item_code: str,
              timepoint: str | None = None) -> ColumnSpec:
    """An item's answer column, from ``scoring.INSTRUMENTS`` (codes, range, kind, anchors)."""
    instrument = scoring.INSTRUMENTS[instrument_code]
    item = instrument.item(item_code)
    at = f" at {timepoint}" if timepoint else ""
    source = f"instrument_response.answers {item.code} ({instrument.version})"
    common: dict[str, Any] = {"instrument": instrument.name, "kind": item.kind,
                              "missing_rule": ITEM_MISSING, "source": source}
    if item.options:
        values = "; ".join(f"{option.code} = {option.label}" for option in item.options)
        return ColumnSpec(table, column, f"{instrument.short_name} {item.code} {item.label}{at}",
                          "integer", minimum=item.minimum, maximum=item.maximum,
                          values=values, **common)
    direction = (f"{item.minimum} = {item.anchors[0]}; {item.maximum} = {item.anchors[1]}"
                 if item.anchors else "")
    return ColumnSpec(table, column, f"{instrument.short_name} {item.label}{at}", "integer",
                      unit=item.unit, minimum=item.minimum, maximum=item.maximum,
                      direction=direction, **common)


def mode_spec(table: str, column: str, timepoint: str | None = None) -> ColumnSpec:
    """The visit's mode of collection (who answered, how), coded by
    ``registry.vocabularies.COLLECTION_MODES``."""
    at = f" at {timepoint}" if timepoint else ""
    return ColumnSpec(table, column, f"Mode of collection of the answers{at}", "category",
                      kind="mode of administration",
                      missing_rule="empty when not recorded (visits recorded before modes "
                                   "were recorded)" + ("" if not timepoint else
                                                      ", or without a visit"),
                      source="visit.collection_mode", values=coded(COLLECTION_MODES))


def stata_names(columns: Iterable[str]) -> dict[str, str]:
    """Valid, unique Stata names (letters, digits, _; at most 32 characters) per column."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        base = re.sub(r"[^A-Za-z0-9_]", "_", column)
        if not base or base[0].isdigit():
            base = f"v_{base}"
        name = base[:STATA_NAME_MAX]
        number = 1
        while name in used:
            suffix = f"_{number}"
            name = base[:STATA_NAME_MAX - len(suffix)] + suffix
            number += 1
        used.add(name)
        names[column] = name
    return names


def stata_label(label: str) -> str:
    """Stata variable labels hold at most 80 characters (and Latin-1 in format 117)."""
    text = label.encode("latin-1", "replace").decode("latin-1")
    return text if len(text) <= STATA_LABEL_MAX else text[:STATA_LABEL_MAX - 3] + "..."


DICTIONARY_COLUMNS = [spec_field.name for spec_field in fields(ColumnSpec)
                      if spec_field.name != "codes"]  # "values" holds them as text


def dictionary_frame(specs: Iterable[ColumnSpec]) -> pd.DataFrame:
    """One row per described column."""
    return pd.DataFrame([asdict(spec) for spec in specs], columns=DICTIONARY_COLUMNS)
