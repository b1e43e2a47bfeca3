"""Exact (Garwood 1936) intervals of adverse events per patient, against published values
(the chi-square forms chi2(a/2, 2k)/2 and chi2(1 - a/2, 2k + 2)/2, e.g. Ulm K, Am J
Epidemiol 1990;131:373-375, table 1; R: poisson.test(k)$conf.int)."""

from __future__ import annotations

import pytest

from scoring.intervals import poisson_interval

# events -> (lower, upper) of the Poisson mean, 95 %.
PUBLISHED = {0: (0.0, 3.6889), 1: (0.0253, 5.5716), 2: (0.2422, 7.2247),
             5: (1.6235, 11.6683), 10: (4.7954, 18.3904), 100: (81.3639, 121.6268)}


@pytest.mark.parametrize(("events", "bounds"), PUBLISHED.items())
def test_bounds_match_the_published_values(events, bounds):
    interval = poisson_interval(events, 1)
    assert interval is not None
    assert interval.low == pytest.approx(bounds[0], abs=1e-4)
    assert interval.high == pytest.approx(bounds[1], abs=1e-4)


def test_a_rate_per_patient_divides_by_the_exposure():
    interval = poisson_interval(2, 40)
    assert interval is not None
    assert interval.rate == 0.05
    assert interval.low == pytest.approx(0.2422 / 40, abs=1e-5)
    assert interval.high == pytest.approx(7.2247 / 40, abs=1e-5)
    assert interval.low < interval.rate < interval.high


def test_wider_confidence_gives_a_wider_interval():
    narrow, wide = poisson_interval(3, 10, 0.90), poisson_interval(3, 10, 0.99)
    assert narrow is not None
    assert wide is not None
    assert wide.low < narrow.low
    assert narrow.high < wide.high


def test_no_exposure_and_bad_input():
    assert poisson_interval(0, 0) is None
    for events, exposure in ((-1, 5), (1, -5)):
        with pytest.raises(ValueError, match="need events >= 0"):
            poisson_interval(events, exposure)
    with pytest.raises(TypeError):
        poisson_interval(True, 5)
    with pytest.raises(ValueError, match="confidence must be between"):
        poisson_interval(1, 5, 1.0)
