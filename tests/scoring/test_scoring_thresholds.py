"""Threshold sets: the default keeps today's results, the 2025 set its figures; flag names."""

from __future__ import annotations

import pytest

import scoring
from scoring.change import change_from_baseline
from scoring.thresholds import MONTICONE_2013, TUBACH_2005

NONSURGICAL = "tubach2005-nonsurgical2025"


def test_default_set_is_todays_behaviour():
    assert scoring.DEFAULT_THRESHOLD_SET == "tubach2005-monticone2013"
    default = scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    assert default.thresholds == scoring.DEFAULT_THRESHOLDS
    assert set(TUBACH_2005 + MONTICONE_2013) <= set(default.thresholds)
    assert default.version == "1"


def test_unknown_set_names_the_known_ones():
    with pytest.raises(ValueError, match="tubach2005-monticone2013, tubach2005-nonsurgical2025"):
        scoring.threshold_set("nope")


@pytest.mark.parametrize(
    ("score", "monticone", "nonsurgical"),
    [("koos_pain", 16.7, 11.3), ("koos_symptoms", 10.7, 12.1), ("koos_adl", 18.4, 10.2),
     ("koos_sport_rec", 12.5, 15.5), ("koos_qol", 15.6, 13.2)],
)  # fmt: skip
def test_koos_mic_per_set(score, monticone, nonsurgical):
    sets = {code: s.thresholds for code, s in scoring.THRESHOLD_SETS.items()}
    default, other = sets[scoring.DEFAULT_THRESHOLD_SET], sets[NONSURGICAL]
    assert change_from_baseline(score, 40, 40 + monticone, default).flag("mic") is True
    assert change_from_baseline(score, 40, 40 + monticone - 0.1, default).flag("mic") is False
    assert change_from_baseline(score, 40, 40 + nonsurgical, other).flag("mic") is True
    assert change_from_baseline(score, 40, 40 + nonsurgical - 0.1, other).flag("mic") is False


def test_every_set_keeps_tubach_and_cites_everything():
    for threshold_set in scoring.THRESHOLD_SETS.values():
        assert set(TUBACH_2005) <= set(threshold_set.thresholds)
        assert threshold_set.label
        assert threshold_set.note
        for threshold in threshold_set.thresholds:
            assert threshold.citation
            assert threshold.kind in scoring.FLAG_KINDS
            assert threshold.score_code in scoring.SCORES
            if threshold.score_code.startswith("koos_"):
                assert threshold.note  # Monticone caveat / 2025 population


def test_monticone_caveat():
    for threshold in MONTICONE_2013:
        assert "total knee arthroplasty" in threshold.note


@pytest.mark.parametrize(
    ("baseline", "followup", "mcii", "acceptable"),
    [(6, 5, True, False), (6, 4, True, True), (5, 5, False, False), (3, 4, False, True)],
)
def test_nrs_thresholds(baseline, followup, mcii, acceptable):
    change = change_from_baseline("nrs_pain", baseline, followup)
    assert change.flag("mcii") is mcii
    assert change.flag("pass") is acceptable
    assert change.flag("mic") is None


def test_flag_names_are_one_set():
    assert scoring.FLAG_KINDS == ("mcii", "mic", "pass")
    change = change_from_baseline("vas_pain", 60, 20)
    assert tuple(change.flags) == scoring.FLAG_KINDS
    frame = scoring.change_frame("vas_pain", [60.0], [20.0])
    assert [c for c in frame.columns if c in scoring.FLAG_KINDS] == list(scoring.FLAG_KINDS)
