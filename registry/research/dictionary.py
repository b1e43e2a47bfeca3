"""The data dictionary: one described column per exported column, built with the tables.

Score and item columns are described from ``scoring.SCORES`` / ``scoring.INSTRUMENTS``
(label, unit, range, direction, instrument, citation), coded columns from
``registry.vocabularies``; nothing here lists scores by hand.  Stata names (at most 32
characters) and labels (at most 80) are derived here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import pandas as pd

import scoring
from scoring.change import DEFAULT_THRESHOLDS, find_threshold

STATA_NAME_MAX = 32
STATA_LABEL_MAX = 80
FLAG_KINDS = ("mcii", "mic", "pass")


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
    instrument: str = ""
    source: str = ""
    values: str = ""  # coded values: "code = label; …"
    stata_name: str = ""


def coded(vocabulary: Mapping[object, str]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in vocabulary.items())


def direction_of(score_code: str) -> str:
    return "higher is better" if scoring.SCORES[score_code].higher_is_better \
        else "higher is worse"


def score_spec(table: str, column: str, score_code: str, timepoint: str | None,
               kind: str = "value") -> ColumnSpec:
    """A score value, its change, or a threshold flag (``kind``), from ``scoring.SCORES``."""
    score = scoring.SCORES[score_code]
    instrument = scoring.INSTRUMENTS[score.instrument]
    at = f" at {timepoint}" if timepoint else ""
    common = {"table": table, "column": column, "instrument": instrument.name}
    if kind == "value":
        return ColumnSpec(**common, label=f"{score.label}{at}", type="number", unit=score.unit,
                          minimum=score.minimum, maximum=score.maximum,
                          direction=direction_of(score_code),
                          source=f"score_value {score_code} ({instrument.version}); "
                                 f"{score.citation}")
    if kind == "baseline":
        return ColumnSpec(**common, label=f"{score.label} at baseline", type="number",
                          unit=score.unit, minimum=score.minimum, maximum=score.maximum,
                          direction=direction_of(score_code),
                          source=f"score_value {score_code} at the baseline visit")
    span = score.maximum - score.minimum
    if kind == "change":
        return ColumnSpec(**common, label=f"{score.label}{at}: change from baseline",
                          type="number", unit=score.unit, minimum=-span, maximum=span,
                          direction=f"follow-up minus baseline; {direction_of(score_code)}",
                          source="scoring.change_frame: absolute")
    if kind == "relative":
        return ColumnSpec(**common, label=f"{score.label}{at}: relative change",
                          type="number", unit="fraction of baseline",
                          direction="change / baseline; empty when baseline is 0",
                          source="scoring.change_frame: relative")
    if kind == "improvement":
        return ColumnSpec(**common, label=f"{score.label}{at}: improvement", type="number",
                          unit=score.unit, minimum=-span, maximum=span,
                          direction="positive = better (direction-aware change)",
                          source="scoring.change_frame: improvement")
    threshold = find_threshold(DEFAULT_THRESHOLDS, score_code,
                               "pass" if kind == "pass" else kind)  # type: ignore[arg-type]
    names = {"mcii": "minimal clinically important improvement reached",
             "mic": "minimal important change reached",
             "pass": "patient acceptable symptom state reached"}
    where = (f"threshold {threshold.absolute} {score.unit}; {threshold.citation}"
             if threshold else "no published threshold for this score: always empty")
    return ColumnSpec(**common, label=f"{score.label}{at}: {names[kind]}", type="boolean",
                      source=f"scoring.change_frame: {kind}; {where}")


def flag_kinds(score_code: str) -> list[str]:
    """The threshold flags that exist for a score (MCII, MIC, PASS)."""
    return [kind for kind in FLAG_KINDS
            if find_threshold(DEFAULT_THRESHOLDS, score_code, kind) is not None]  # type: ignore[arg-type]


def item_spec(table: str, column: str, instrument_code: str, item_code: str,
              timepoint: str | None = None) -> ColumnSpec:
    instrument = scoring.INSTRUMENTS[instrument_code]
    item = instrument.item(item_code)
    at = f" at {timepoint}" if timepoint else ""
    if item.options:
        values = "; ".join(f"{option.code} = {option.label}" for option in item.options)
        return ColumnSpec(table=table, column=column, label=f"{instrument.name} {item.code} "
                          f"{item.label}{at}", type="integer", minimum=item.minimum,
                          maximum=item.maximum, instrument=instrument.name,
                          source=f"instrument_response.answers {item.code} "
                                 f"({instrument.version})", values=values)
    return ColumnSpec(table=table, column=column, label=f"{item.label}{at}", type="integer",
                      unit=item.unit, minimum=item.minimum, maximum=item.maximum,
                      instrument=instrument.name,
                      source=f"instrument_response.answers {item.code} ({instrument.version})")


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


def dictionary_frame(specs: Iterable[ColumnSpec]) -> pd.DataFrame:
    rows = [asdict(spec) for spec in specs]
    columns = list(ColumnSpec.__dataclass_fields__)
    return pd.DataFrame(rows, columns=columns)


DICTIONARY_COLUMNS = list(ColumnSpec.__dataclass_fields__)
