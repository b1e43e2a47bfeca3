"""The vectorised scoring core: one numpy implementation of every scoring rule.

Both entry points (``score_response`` for one web-form response and ``score_frame`` for a
DataFrame) end up here, so each rule exists exactly once. Rules are selected by
``ScoreDef.method`` and parameterised by the definition data (items, minimum answered, table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from scoring.model import KOOS_MISSING_RULES, Instrument, ScoreDef

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

ITEM_METHODS = frozenset({"mean_0_100", "sum_substituted", "table", "direct"})


@dataclass(frozen=True)
class CoreResult:
    """Score values (NaN = not computable) and, per item-based score, items answered."""

    values: dict[str, FloatArray]
    answered: dict[str, IntArray]


def check_rule(koos_missing_rule: str) -> None:
    """Reject an unknown KOOS missing-item rule name."""
    if koos_missing_rule not in KOOS_MISSING_RULES:
        raise ValueError(
            f"unknown KOOS missing-item rule {koos_missing_rule!r}; expected 2012 or 1998"
        )


def column_selector(positions: list[int]) -> slice | list[int]:
    """A slice when the positions are consecutive (a view, no copy), else the list."""
    first = positions[0]
    if positions == list(range(first, first + len(positions))):
        return slice(first, first + len(positions))
    return positions


#: Rows scored per block: keeps temporaries small (cache-friendly, no page-fault storms).
BLOCK_ROWS = 32_768


def blocks(rows: int) -> range:
    """Start positions of the row blocks."""
    return range(0, max(rows, 1), BLOCK_ROWS)


def find_invalid(instrument: Instrument, matrix: FloatArray) -> tuple[int, int] | None:
    """Position (row, column) of the first answer outside its item's codes, or None.

    Valid: NaN (missing), or a whole number within the item's ``minimum``..``maximum``.
    """
    low = np.array([item.minimum for item in instrument.items], dtype=np.float64)
    high = np.array([item.maximum for item in instrument.items], dtype=np.float64)
    for start in blocks(matrix.shape[0]):
        block = matrix[start : start + BLOCK_ROWS]
        valid = (block == np.floor(block)) & (block >= low) & (block <= high)
        bad = ~(valid | np.isnan(block))
        bad_rows = bad.any(axis=1)
        if bad_rows.any():
            row = int(np.argmax(bad_rows))
            return start + row, int(np.argmax(bad[row]))
    return None


def score_matrix(
    instrument: Instrument, matrix: FloatArray, koos_missing_rule: str = "2012"
) -> CoreResult:
    """Score validated answers: ``matrix`` is (responses x items) in ``item_codes`` order."""
    check_rule(koos_missing_rule)
    rows = matrix.shape[0]
    values = {code: np.empty(rows) for code in instrument.score_codes}
    answered = {
        s.code: np.empty(rows, dtype=np.int64)
        for s in instrument.scores
        if s.method in ITEM_METHODS
    }
    for start in blocks(rows):
        part = score_block(instrument, matrix[start : start + BLOCK_ROWS], koos_missing_rule)
        for code, scored in part.values.items():
            values[code][start : start + len(scored)] = scored
        for code, counts in part.answered.items():
            answered[code][start : start + len(counts)] = counts
    return CoreResult(values, answered)


def score_block(instrument: Instrument, matrix: FloatArray, koos_missing_rule: str) -> CoreResult:
    """Score one block of rows; every rule is applied to whole columns at once."""
    rows = matrix.shape[0]
    position = {code: i for i, code in enumerate(instrument.item_codes)}
    missing = np.isnan(matrix)
    filled = np.where(missing, 0.0, matrix)
    values: dict[str, FloatArray] = {}
    answered: dict[str, IntArray] = {}
    for score in instrument.scores:
        if score.method in ITEM_METHODS:
            cols = column_selector([position[code] for code in score.items])
            count = len(score.items) - missing[:, cols].sum(axis=1, dtype=np.int64)
            total = filled[:, cols].sum(axis=1)
            answered[score.code] = count
            ok = count >= score.required(koos_missing_rule)
            values[score.code] = item_score(score, total, count, ok, rows)
        else:
            values[score.code] = derived_score(score, values)
    return CoreResult(values, answered)


def item_score(
    score: ScoreDef, total: FloatArray, count: IntArray, ok: NDArray[np.bool_], rows: int
) -> FloatArray:
    """Apply an item-based rule to the sums and counts of answered items."""
    result = np.full(rows, np.nan)
    if score.method == "direct":
        # VAS / PGA: the single answer is the score.
        np.copyto(result, total, where=ok)
        return result
    if score.method == "table":
        # KOOS JR (Lyman 2016): complete responses only, raw sum 0-28 looked up in the table.
        table = np.asarray(score.table, dtype=np.float64)
        index = np.where(ok, total, 0.0).astype(np.int64)
        np.copyto(result, table[index], where=ok)
        return result
    # Mean of answered items = substituting each missing item by that mean (KOOS 2012,
    # WOMAC user's guide). Each formula divides once, at the end, so results are correctly
    # rounded (55.0, not 55.00000000000001); dividing only where ``ok`` avoids 0/0.
    if score.method == "mean_0_100":
        # KOOS Scoring 2012 / Gandek 2019: 100 - 25 x mean = (100 n - 25 total) / n.
        scores = np.divide(100.0 * count - 25.0 * total, count, out=result, where=ok)
        return np.asarray(scores, dtype=np.float64)
    # "sum_substituted": WOMAC raw sum with missing items replaced by the mean of the answered
    # items = total x items / answered (exactly the total for complete responses).
    sums = np.divide(total * float(len(score.items)), count, out=result, where=ok)
    return np.asarray(sums, dtype=np.float64)


def derived_score(score: ScoreDef, values: dict[str, FloatArray]) -> FloatArray:
    """Apply a rule built on other scores; NaN in any component gives NaN (not computable)."""
    parts = [values[code] for code in score.components]
    if score.method == "normalised":
        # WOMAC raw / maximum x 100 (0-100, higher = worse), the scale Tubach and Pham use.
        return parts[0] * 100.0 / score.divisor
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    if score.method == "sum_of_scores":
        return total  # WOMAC total: pain + stiffness + function
    if score.method == "mean_of_scores":
        return total / float(len(parts))  # KOOS-12 summary: mean of the three scales
    raise ValueError(f"unknown scoring method {score.method!r} for {score.code}")
