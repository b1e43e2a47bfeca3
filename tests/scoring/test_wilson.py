"""Wilson's score interval of a share against published and closed-form values."""

from __future__ import annotations

import math

import pytest

import scoring
from scoring.intervals import normal_quantile, wilson_interval

Z = 1.959963984540054


# Newcombe RG, Stat Med 1998;17:857-872, Table I, method 3 (Wilson score, no continuity
# correction), to the 4 decimals printed there.
@pytest.mark.parametrize(("events", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_newcombe_1998_table_one(events, n, low, high):
    interval = wilson_interval(events, n)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


@pytest.mark.parametrize(("events", "n", "low", "high"), [
    # 0/n: [0, z^2 / (n + z^2)]; n/n: [n / (n + z^2), 1]; 5/10 symmetric about 1/2.
    (0, 10, 0.0, Z**2 / (10 + Z**2)),
    (10, 10, 10 / (10 + Z**2), 1.0),
    (5, 10, 0.5 - Z * math.sqrt(10 * 0.25 + Z**2 / 4) / (10 + Z**2),
     0.5 + Z * math.sqrt(10 * 0.25 + Z**2 / 4) / (10 + Z**2)),
])
def test_closed_forms(events, n, low, high):
    interval = wilson_interval(events, n)
    assert interval is not None
    assert interval.low == pytest.approx(low, abs=1e-12)
    assert interval.high == pytest.approx(high, abs=1e-12)
    assert interval.share == events / n


def test_five_of_ten_as_usually_quoted():
    interval = wilson_interval(5, 10)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2366, 0.7634)


def test_bounds_are_exact_at_the_edges():
    """No rounding residue: 0/n starts at exactly 0 and n/n ends at exactly 1."""
    for n in (1, 3, 7, 1000):
        none, every = wilson_interval(0, n), wilson_interval(n, n)
        assert none is not None
        assert every is not None
        assert none.low == 0.0
        assert every.high == 1.0


@pytest.mark.parametrize(("events", "n"), [(1, 3), (4, 9), (17, 40), (81, 263), (999, 1000)])
def test_bounds_solve_the_score_equation(events, n):
    """Wilson's definition: |p_hat - p| = z sqrt(p (1 - p) / n) at both bounds, and the
    interval mirrors that of the complementary count."""
    interval = wilson_interval(events, n)
    mirror = wilson_interval(n - events, n)
    assert interval is not None
    assert mirror is not None
    share = events / n
    for bound in (interval.low, interval.high):
        assert abs(share - bound) == pytest.approx(Z * math.sqrt(bound * (1 - bound) / n),
                                                   rel=1e-9)
    assert interval.low < share < interval.high
    assert interval.low == pytest.approx(1 - mirror.high, abs=1e-12)
    assert interval.high == pytest.approx(1 - mirror.low, abs=1e-12)


def test_more_patients_narrower_interval():
    widths = []
    for n in (10, 40, 160, 640):
        interval = wilson_interval(n // 4, n)
        assert interval is not None
        widths.append(interval.high - interval.low)
    assert widths == sorted(widths, reverse=True)


def test_other_confidence_levels():
    assert normal_quantile(0.95) == pytest.approx(Z, abs=1e-12)
    assert normal_quantile(0.99) == pytest.approx(2.5758293035489, abs=1e-9)
    narrow, wide = wilson_interval(5, 10, 0.90), wilson_interval(5, 10, 0.99)
    assert narrow is not None
    assert wide is not None
    assert wide.low < narrow.low
    assert wide.high > narrow.high


def test_no_patients_no_interval():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("events", "n", "error"), [
    (3, 2, ValueError), (-1, 5, ValueError), (0, -1, ValueError), (True, 2, TypeError)])
def test_impossible_counts_are_refused(events, n, error):
    with pytest.raises(error):
        wilson_interval(events, n)


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 95])
def test_impossible_confidence_is_refused(confidence):
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence)


def test_exported_by_the_package():
    assert scoring.wilson_interval is wilson_interval
    interval = scoring.wilson_interval(81, 263)
    assert isinstance(interval, scoring.Interval)
