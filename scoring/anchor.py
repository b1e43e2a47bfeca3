"""Anchor-based minimal important change (MIC) from a registry's own data.

The anchor is the global rating of change (``scoring.definitions.grc``: -3 much worse ..
+3 much better); the change score is a score's direction-aware ``improvement`` (positive =
better, ``scoring.change``). Two of the anchor-based methods described by Terwee et al. 2021
(``citations.TERWEE_2021``) are implemented, both plain numpy:

- ``mean_change_mic``: mean improvement of the patients who answered "a little better" (+1);
- ``roc_mic``: the improvement cut-off that best separates improved patients (GRC >= +1 by
  default) from the others, by the Youden index (sensitivity + specificity - 1).

Terwee 2021 recommends the predictive modelling method; the 2025 KOOS study (PubMed 41367621)
reports that ROC-based MICs had wide confidence intervals. These functions give a registry a
first estimate, not a replacement for a published analysis. Pairs with a missing value are
left out; None means too few data (no patient in a needed group).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from scoring.core import FloatArray

A_LITTLE_BETTER = 1


def pairs(improvement: ArrayLike | Sequence[float | None],
          grc: ArrayLike | Sequence[float | None]) -> tuple[FloatArray, FloatArray]:
    """Both inputs as float arrays without the pairs where either value is missing."""
    change = np.asarray(improvement, dtype=np.float64)
    anchor = np.asarray(grc, dtype=np.float64)
    if change.shape != anchor.shape or change.ndim != 1:
        raise ValueError("improvement and GRC must be 1-d and of the same length")
    keep = ~np.isnan(change) & ~np.isnan(anchor)
    return change[keep], anchor[keep]


def mean_change_mic(improvement: ArrayLike | Sequence[float | None],
                    grc: ArrayLike | Sequence[float | None]) -> float | None:
    """Mean improvement of the "a little better" group (Terwee 2021, mean change method)."""
    change, anchor = pairs(improvement, grc)
    group = change[anchor == A_LITTLE_BETTER]
    return float(group.mean()) if group.size else None


def roc_mic(improvement: ArrayLike | Sequence[float | None],
            grc: ArrayLike | Sequence[float | None],
            *, improved_from: int = A_LITTLE_BETTER) -> float | None:
    """Improvement cut-off with the largest Youden index (Terwee 2021, ROC method).

    Improved = GRC >= ``improved_from``. A patient is classified improved when the
    improvement is at least the cut-off; among equal Youden indices the smallest cut-off wins.
    """
    change, anchor = pairs(improvement, grc)
    improved = anchor >= improved_from
    positives, negatives = int(improved.sum()), int((~improved).sum())
    if not positives or not negatives:
        return None
    cutoffs = np.unique(change)  # sorted ascending
    # For every cut-off at once: improved patients at or above it / others below it.
    at_or_above = change[np.newaxis, :] >= cutoffs[:, np.newaxis]
    sensitivity = (at_or_above & improved).sum(axis=1) / positives
    specificity = (~at_or_above & ~improved).sum(axis=1) / negatives
    youden = sensitivity + specificity - 1.0
    return float(cutoffs[int(np.argmax(youden))])
