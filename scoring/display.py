"""Rounding for display only: half-up to a fixed number of decimals via ``decimal``.

Stored and exported values stay unrounded. Rounding works on the float's shortest repr
(``repr(12.25) == '12.25'``), so 12.25 -> 12.3 and 0.05 -> 0.1 as a person expects, unlike
``round()`` which works on the binary value and rounds half to even. Halves are rounded away
from zero (-12.25 -> -12.3), and a negative zero is shown as 0.0.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

MISSING = "—"


def round_half_up(value: float | None, digits: int = 1) -> Decimal | None:
    """``value`` rounded half-up to ``digits`` decimals, or None for None/NaN/infinity."""
    if value is None or not math.isfinite(value):
        return None
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def format_score(value: float | None, digits: int = 1, missing: str = MISSING) -> str:
    """Text for a page or a printed report: '12.3', or ``missing`` ('—') when undefined."""
    rounded = round_half_up(value, digits)
    return missing if rounded is None else f"{rounded:f}"
