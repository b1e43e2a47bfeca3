"""Confidence intervals of shares (responders, MCII, MIC, PASS reached) and of event rates
(adverse events per patient), pure Python.

Wilson's score interval: Wilson EB. Probable inference, the law of succession, and
statistical inference. J Am Stat Assoc 1927;22:209-212.  Newcombe RG. Two-sided confidence
intervals for the single proportion: comparison of seven methods. Stat Med
1998;17:857-872 (method 3, without continuity correction) recommends it over the Wald
interval, which collapses to a point at 0/n and n/n and covers poorly for the small
groups a registry's cohort splits into; Wilson's stays inside [0, 1] and is never empty.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

WILSON_1927 = ("Wilson EB. Probable inference, the law of succession, and statistical "
               "inference. J Am Stat Assoc 1927;22:209-212.")
NEWCOMBE_1998 = ("Newcombe RG. Two-sided confidence intervals for the single proportion: "
                 "comparison of seven methods. Stat Med 1998;17:857-872 (method 3).")

__all__ = ["GARWOOD_1936", "NEWCOMBE_1998", "WILSON_1927", "Interval", "RateInterval",
           "normal_quantile", "poisson_interval", "wilson_interval"]


@dataclass(frozen=True)
class Interval:
    """A share ``events / n`` (fractions 0-1) with its two-sided confidence interval."""

    n: int
    events: int
    share: float
    low: float
    high: float


def normal_quantile(confidence: float) -> float:
    """The two-sided critical value z of the standard normal (1.959963984540054 for 0.95)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(events: int, n: int, confidence: float = 0.95) -> Interval | None:
    """Wilson's score interval of ``events`` out of ``n`` (Wilson 1927), or None for n = 0.

    The bounds are the two solutions p of |events/n - p| = z * sqrt(p (1 - p) / n):
    centre (p + z^2 / 2n) / (1 + z^2 / n), half-width
    z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2).  At 0/n the lower bound is
    exactly 0 and at n/n the upper bound exactly 1 (no rounding residue).
    """
    if isinstance(events, bool) or isinstance(n, bool):
        raise TypeError("events and n are counts, not booleans")
    if n < 0 or events < 0 or events > n:
        raise ValueError(f"need 0 <= events <= n, got events={events!r}, n={n!r}")
    if n == 0:
        return None
    z = normal_quantile(confidence)
    share = events / n
    z2n = z * z / n
    centre = (share + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(share * (1.0 - share) / n + z2n / (4.0 * n))
    low = 0.0 if events == 0 else max(0.0, centre - half)
    high = 1.0 if events == n else min(1.0, centre + half)
    return Interval(n=n, events=events, share=share, low=low, high=high)


GARWOOD_1936 = ("Garwood F. Fiducial limits for the Poisson distribution. Biometrika "
                "1936;28:437-442.")


@dataclass(frozen=True)
class RateInterval:
    """A rate ``events / exposure`` (e.g. adverse events per patient) with its exact
    two-sided confidence interval."""

    exposure: int
    events: int
    rate: float
    low: float
    high: float


def _poisson_cdf(count: int, mean: float) -> float:
    """P(X <= count) for X ~ Poisson(mean), summed in log space (stable for large means)."""
    if mean <= 0.0:
        return 1.0
    log_mean = math.log(mean)
    terms = [k * log_mean - mean - math.lgamma(k + 1) for k in range(count + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(term - top) for term in terms))


def _bisect(too_small: Callable[[float], bool], ceiling: float) -> float:
    """The mean where ``too_small`` turns False, between 0 and ``ceiling`` (bisection; 200
    halvings are far below a float's resolution)."""
    low, high = 0.0, ceiling
    for _step in range(200):
        middle = (low + high) / 2.0
        if too_small(middle):
            low = middle
        else:
            high = middle
    return (low + high) / 2.0


def poisson_interval(events: int, exposure: int, confidence: float = 0.95
                     ) -> RateInterval | None:
    """Exact (Garwood 1936) interval of ``events`` per unit of ``exposure``; None when the
    exposure is 0.

    The bounds of the Poisson mean are the means at which seeing at least ``events``
    (lower) or at most ``events`` (upper) has probability (1 - confidence) / 2; at 0 events
    the lower bound is 0.  They equal the chi-square forms chi2(a/2, 2k)/2 and
    chi2(1 - a/2, 2k + 2)/2, found here by bisection on the Poisson distribution (no
    statistics library needed); divided by the exposure they bound the rate.
    """
    if isinstance(events, bool) or isinstance(exposure, bool):
        raise TypeError("events and exposure are counts, not booleans")
    if events < 0 or exposure < 0:
        raise ValueError(f"need events >= 0 and exposure >= 0, got {events!r}, {exposure!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    if exposure == 0:
        return None
    tail = (1.0 - confidence) / 2.0
    ceiling = 10.0 * events + 50.0
    # Upper: P(X <= k) falls to the tail; lower: P(X >= k) rises to it.
    upper = _bisect(lambda mean: _poisson_cdf(events, mean) > tail, ceiling)
    lower = 0.0 if events == 0 else _bisect(
        lambda mean: 1.0 - _poisson_cdf(events - 1, mean) < tail, ceiling)
    return RateInterval(exposure=exposure, events=events, rate=events / exposure,
                        low=lower / exposure, high=upper / exposure)
