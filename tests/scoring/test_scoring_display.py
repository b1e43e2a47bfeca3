"""Rounding for display: half-up on the decimal repr, stored values stay unrounded."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from scoring.display import format_score, round_half_up


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (12.25, "12.3"),  # round(12.25, 1) gives 12.2 (binary value below the half)
        (0.05, "0.1"),  # round(0.05, 1) gives 0.1 by luck; decimal makes it a rule
        (2.675, "2.7"),
        (12.24, "12.2"),
        (100.0, "100.0"),
        (0.0, "0.0"),
        (-12.25, "-12.3"),  # halves away from zero
        (-0.04, "0.0"),  # no negative zero on screen
        (66.66666666666667, "66.7"),
        (44.99999999999999, "45.0"),
    ],
)
def test_format_score(value, text):
    assert format_score(value) == text


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_missing_is_a_dash(value):
    assert format_score(value) == "—"
    assert round_half_up(value) is None


def test_digits_and_decimal_result():
    assert round_half_up(1.005, 2) == Decimal("1.01")
    assert round_half_up(12.25) == Decimal("12.3")
    assert format_score(12.5, digits=0) == "13"
    assert format_score(None, missing="") == ""
