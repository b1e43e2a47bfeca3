"""The two entry points: one response (web app) and a DataFrame of many (exports, research).

Both validate, build a (responses x items) float matrix and call ``core.score_matrix``: one
implementation of every rule. Missing answers are None/NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from scoring.core import FloatArray, check_rule, find_invalid, score_matrix
from scoring.instruments import get_instrument, scored_from
from scoring.model import Instrument, InvalidAnswer, ScoreDef

if TYPE_CHECKING:  # pandas is imported lazily: scoring one response must not load it
    import pandas as pd

Answer = float | int | None


@dataclass(frozen=True)
class ResponseScores:
    """Scores of one response: every score code of the instrument, None when not computable.

    ``reasons`` holds a human-readable reason for each None value.
    """

    instrument: str
    version: str
    values: dict[str, float | None]
    reasons: dict[str, str] = field(default_factory=dict)


def validate_answers(instrument_code: str, answers: Mapping[str, object]) -> dict[str, str]:
    """Map item code -> error message for each invalid answer; empty when all are valid.

    Item codes not belonging to the instrument are ignored; absent items are missing answers.
    """
    instrument = get_instrument(instrument_code)
    errors: dict[str, str] = {}
    for item in instrument.items:
        message = item.error_for(answers.get(item.code))
        if message is not None:
            errors[item.code] = message
    return errors


def score_response(
    instrument_code: str,
    answers: Mapping[str, Answer],
    *,
    koos_missing_rule: str = "2012",
) -> ResponseScores:
    """Score one response (item code -> 0-4 code or mm; None/absent = missing).

    Extra item codes are ignored, so KOOS answers can be scored as KOOS-12 or KOOS JR.
    Raises ``InvalidAnswer`` for an answer outside the item's codes or range.
    """
    instrument = get_instrument(instrument_code)
    check_rule(koos_missing_rule)
    row = np.full((1, len(instrument.items)), np.nan)
    for column, item in enumerate(instrument.items):
        value = answers.get(item.code)
        message = item.error_for(value)
        if message is not None:
            raise InvalidAnswer(item.code, message)
        if value is not None:
            row[0, column] = float(value)
    result = score_matrix(instrument, row, koos_missing_rule)
    values: dict[str, float | None] = {}
    for code, array in result.values.items():
        number = float(array[0])
        values[code] = None if math.isnan(number) else number
    reasons: dict[str, str] = {}
    for score in instrument.scores:
        if values[score.code] is None:
            answered = result.answered.get(score.code)
            count = None if answered is None else int(answered[0])
            reasons[score.code] = reason(instrument, score, count, values, koos_missing_rule)
    return ResponseScores(
        instrument=instrument.code,
        version=instrument.version_for(koos_missing_rule),
        values=values,
        reasons=reasons,
    )


def score_with_derived(
    instrument_code: str,
    answers: Mapping[str, Answer],
    *,
    koos_missing_rule: str = "2012",
) -> dict[str, tuple[float | None, str | None]]:
    """Every score one response yields: score code -> (value, reason it is not scorable).

    Scores ``instrument_code`` and each instrument derived from it (``scored_from``: a KOOS
    response also gives KOOS-PS, KOOS-12 and KOOS JR), in catalogue order. The reason is
    None when the value is present. Raises ``InvalidAnswer`` like ``score_response``.
    """
    result: dict[str, tuple[float | None, str | None]] = {}
    for instrument in scored_from(instrument_code):
        scores = score_response(instrument.code, answers, koos_missing_rule=koos_missing_rule)
        for code, value in scores.values.items():
            result[code] = (value, scores.reasons.get(code))
    return result


def reason(
    instrument: Instrument,
    score: ScoreDef,
    answered: int | None,
    values: Mapping[str, float | None],
    koos_missing_rule: str,
) -> str:
    """Explain why ``score`` could not be computed, from the counts the core returned."""
    if answered is None:
        failed = [instrument.score(code).label for code in score.components if values[code] is None]
        return f"{score.label}: not computed because {' and '.join(failed)} could not be scored"
    size = len(score.items)
    if score.method == "direct":
        return f"{score.label}: not answered"
    missing = size - answered
    need = score.required(koos_missing_rule)
    if need == size:
        return f"{score.label}: {missing} of {size} items missing; all {size} must be answered"
    return f"{score.label}: {missing} of {size} items missing; at least {need} answered are needed"


def frame_matrix(instrument: Instrument, df: pd.DataFrame) -> FloatArray:
    """The item columns of ``df`` as a float matrix; InvalidAnswer for non-numbers.

    Numeric text (as read from CSV) is accepted; other text raises with row and column.
    """
    import pandas as pd  # lazy: see the module's TYPE_CHECKING import

    codes = list(instrument.item_codes)
    absent = [code for code in codes if code not in df.columns]
    if absent:
        raise InvalidAnswer(absent[0], f"column {absent[0]} is missing")
    items = df[codes]
    try:
        return np.asarray(items.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError):
        pass
    columns: list[FloatArray] = []
    for code in codes:
        original = items[code]
        converted = pd.to_numeric(original, errors="coerce")
        bad = np.asarray(converted.isna() & original.notna(), dtype=bool)
        if bad.any():
            position = int(np.argmax(bad))
            raise invalid_at(df, position, code, f"{original.iloc[position]!r} is not a number")
        columns.append(np.asarray(converted.to_numpy(dtype=np.float64, na_value=np.nan)))
    return np.column_stack(columns) if columns else np.empty((len(df), 0))


def invalid_at(df: pd.DataFrame, position: int, code: str, problem: str) -> InvalidAnswer:
    """InvalidAnswer naming the row (0-based position and index label) and the column."""
    label = df.index[position]
    return InvalidAnswer(
        code,
        f"row {label!r} (position {position}), column {code}: {problem}",
        row=position,
        label=label,
    )


def validate_frame(instrument_code: str, df: pd.DataFrame) -> FloatArray:
    """Check every answer in ``df``; raise InvalidAnswer for the first bad cell.

    Returns the validated (rows x items) float matrix so callers need not convert twice.
    """
    instrument = get_instrument(instrument_code)
    matrix = frame_matrix(instrument, df)
    found = find_invalid(instrument, matrix)
    if found is not None:
        position, column = found
        item = instrument.items[column]
        value = matrix[position, column]
        raise invalid_at(df, position, item.code, f"{value!r} is not {item.allowed_text()}")
    return matrix


def score_frame(
    instrument_code: str, df: pd.DataFrame, *, koos_missing_rule: str = "2012"
) -> pd.DataFrame:
    """Score many responses at once (vectorised): one float column per score, same index.

    ``df`` has one column per item code (extra columns ignored; NaN = missing answer).
    A missing item column or an invalid answer raises InvalidAnswer naming row and column.
    """
    import pandas as pd  # lazy: see the module's TYPE_CHECKING import

    instrument = get_instrument(instrument_code)
    check_rule(koos_missing_rule)
    matrix = validate_frame(instrument_code, df)
    result = score_matrix(instrument, matrix, koos_missing_rule)
    return pd.DataFrame(result.values, index=df.index, columns=list(instrument.score_codes))
