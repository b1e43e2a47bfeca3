"""Anchor-based MIC from GRC answers (Terwee 2021): mean change and ROC/Youden."""

from __future__ import annotations

import pytest

from scoring.anchor import mean_change_mic, roc_mic


def test_mean_change_of_a_little_better():
    improvement = [2.0, 10.0, 14.0, 30.0, None, 12.0]
    grc = [0, 1, 1, 3, 1, None]
    assert mean_change_mic(improvement, grc) == 12.0


def test_mean_change_without_the_group():
    assert mean_change_mic([5.0, 6.0], [0, 3]) is None


def test_roc_perfect_separation():
    improvement = [-5.0, 0.0, 3.0, 8.0, 12.0, 20.0]
    grc = [-1, 0, 0, 1, 2, 3]
    assert roc_mic(improvement, grc) == 8.0
    assert roc_mic(improvement, grc, improved_from=2) == 12.0


def test_roc_overlap_picks_the_best_youden():
    # Improved: 10.5, 10, 11, 15; others: 0, 2, 12, 9. Cut-off 10: sensitivity 4/4,
    # specificity 3/4 (Youden 0.75); 9 gives 4/4 and 2/4 (0.5); 11 gives 2/4 and 3/4.
    improvement = [0.0, 2.0, 12.0, 10.5, 10.0, 11.0, 15.0, 9.0]
    grc = [0, 0, 0, 1, 1, 2, 3, -1]
    assert roc_mic(improvement, grc) == 10.0


def test_roc_needs_both_groups():
    assert roc_mic([1.0, 2.0], [2, 3]) is None
    assert roc_mic([], []) is None


def test_shapes_must_match():
    with pytest.raises(ValueError, match="same length"):
        roc_mic([1.0], [1, 2])
