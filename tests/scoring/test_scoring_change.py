"""Change from baseline, MCII (Tubach 2005), PASS, KOOS MIC (Monticone 2013)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.change import (
    DEFAULT_THRESHOLDS,
    FLAG_KINDS,
    Threshold,
    change_arrays,
    change_arrays_for_codes,
    change_frame,
    change_from_baseline,
    rules_by_row,
    score_rules,
)
from scoring.instruments import SCORES


def test_direction_aware_improvement():
    vas = change_from_baseline("vas_pain", 60, 40)
    assert (vas.absolute, vas.improvement) == (-20.0, 20.0)
    assert vas.relative == pytest.approx(-1 / 3)
    assert vas.relative_improvement == pytest.approx(1 / 3)
    koos = change_from_baseline("koos_pain", 40, 60)
    assert (koos.absolute, koos.improvement) == (20.0, 20.0)
    assert koos.relative == pytest.approx(0.5)
    worse = change_from_baseline("womac_function_norm", 30, 40)
    assert worse.improvement == -10.0


@pytest.mark.parametrize(
    ("score", "baseline", "followup", "mcii"),
    [
        ("vas_pain", 60, 40.1, True),  # 19.9 mm improvement
        ("vas_pain", 60, 40.2, False),  # 19.8
        ("pga", 50, 31.7, True),  # 18.3
        ("pga", 50, 31.8, False),
        ("womac_function_norm", 40, 30.9, True),  # 9.1
        ("womac_function_norm", 40, 31.0, False),  # 9.0
        ("vas_pain", 40, 60, False),  # worse
    ],
)
def test_mcii_thresholds_absolute(score, baseline, followup, mcii):
    assert change_from_baseline(score, baseline, followup).flag("mcii") is mcii


def test_mcii_relative_rules():
    # 20 mm from 60 is 33 % (< 40.8 %): absolute yes, relative no.
    assert change_from_baseline("vas_pain", 60, 40, mcii_rule="relative").flag("mcii") is False
    assert change_from_baseline("vas_pain", 60, 40, mcii_rule="both").flag("mcii") is False
    assert change_from_baseline("vas_pain", 60, 40, mcii_rule="either").flag("mcii") is True
    # 15 mm from 30 is 50 %: relative yes, absolute no.
    assert change_from_baseline("vas_pain", 30, 15, mcii_rule="relative").flag("mcii") is True
    assert change_from_baseline("vas_pain", 30, 15, mcii_rule="both").flag("mcii") is False
    # Baseline 0: relative undefined -> relative-only MCII is undefined.
    assert change_from_baseline("vas_pain", 0, 0, mcii_rule="relative").flag("mcii") is None


@pytest.mark.parametrize(
    ("score", "followup", "expected"),
    [
        ("vas_pain", 32.3, True),
        ("vas_pain", 32.4, False),
        ("pga", 32.0, True),
        ("pga", 33, False),
        ("womac_function_norm", 31.0, True),
        ("womac_function_norm", 31.5, False),
    ],
)
def test_pass_is_about_the_followup_state(score, followup, expected):
    assert change_from_baseline(score, 90, followup).flag("pass") is expected
    assert change_from_baseline(score, None, followup).flag("pass") is expected


@pytest.mark.parametrize(
    ("score", "mic"),
    [
        ("koos_pain", 16.7),
        ("koos_symptoms", 10.7),
        ("koos_adl", 18.4),
        ("koos_sport_rec", 12.5),
        ("koos_qol", 15.6),
    ],
)
def test_koos_mic(score, mic):
    assert change_from_baseline(score, 40, 40 + mic).flag("mic") is True
    assert change_from_baseline(score, 40, 40 + mic - 0.1).flag("mic") is False
    assert change_from_baseline(score, 40, 80).flag("mcii") is None  # no MCII published for KOOS


def test_undefined_cases_are_explicit():
    none = change_from_baseline("vas_pain", None, 30)
    assert none.absolute is None
    assert none.relative is None
    assert none.flag("mcii") is None
    assert none.undefined_reason == "no baseline value"
    zero = change_from_baseline("vas_pain", 0, 10)
    assert zero.absolute == 10.0
    assert zero.relative is None
    assert zero.undefined_reason == "baseline is 0: relative change undefined"
    assert change_from_baseline("vas_pain", 50, None).undefined_reason == "no follow-up value"
    assert change_from_baseline("koos_pain", 50, 60).flag("pass") is None  # no PASS threshold
    assert change_from_baseline("vas_pain", 50, 30).undefined_reason is None


def test_thresholds_are_overridable():
    custom = (*DEFAULT_THRESHOLDS, Threshold("vas_pain", "mcii", 10.0, None, "study protocol"))
    assert change_from_baseline("vas_pain", 50, 38).flag("mcii") is False
    assert change_from_baseline("vas_pain", 50, 38, custom).flag("mcii") is True
    stricter = tuple(
        replace(t, absolute=40.0) if t.score_code == "koos_pain" else t for t in DEFAULT_THRESHOLDS
    )
    assert change_from_baseline("koos_pain", 10, 40, stricter).flag("mic") is False


def test_every_default_threshold_is_cited():
    for threshold in DEFAULT_THRESHOLDS:
        assert any(name in threshold.citation for name in ("Tubach", "Monticone", "Perrot"))


def test_change_frame_columns_and_index():
    base = pd.Series([60.0, None, 0.0], index=[7, 8, 9])
    follow = pd.Series([30.0, 20.0, 5.0], index=[7, 8, 9])
    out = change_frame("vas_pain", base, follow)
    assert list(out.index) == [7, 8, 9]
    assert out["mcii"].dtype == "boolean"
    assert out["mcii"].tolist()[0] is True
    assert out["mcii"].isna().tolist() == [False, True, False]
    assert out["undefined_reason"].tolist() == [
        None,
        "no baseline value",
        "baseline is 0: relative change undefined",
    ]


values = st.one_of(
    st.none(),
    st.integers(0, 100),
    # realistic scores: subnormal baselines would overflow the relative change
    st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 4)),
)


@settings(max_examples=60, deadline=None)
@given(
    score=st.sampled_from(["vas_pain", "pga", "womac_function_norm", "koos_pain", "koos_jr"]),
    pairs=st.lists(st.tuples(values, values), min_size=1, max_size=20),
    rule=st.sampled_from(["absolute", "relative", "both", "either"]),
)
def test_scalar_and_frame_agree(score, pairs, rule):
    frame = change_frame(score, [b for b, _ in pairs], [f for _, f in pairs], mcii_rule=rule)
    for position, (baseline, followup) in enumerate(pairs):
        one = change_from_baseline(score, baseline, followup, mcii_rule=rule)
        row = frame.iloc[position]
        for name in ("absolute", "relative", "improvement", "relative_improvement"):
            expected = getattr(one, name)
            assert math.isnan(row[name]) if expected is None else row[name] == expected
        for name in FLAG_KINDS:
            expected = one.flag(name)
            assert pd.isna(row[name]) if expected is None else bool(row[name]) is expected
        assert row["undefined_reason"] == one.undefined_reason


# --- many scores at once (the patient page's table) ------------------------------------

EDGE_PAIRS = [
    (60.0, 40.0),  # improvement on higher-is-worse scales, worsening on KOOS
    (40.0, 60.0),
    (50.0, 50.0),  # no change
    (0.0, 10.0),  # baseline 0: relative undefined
    (0.0, 0.0),
    (math.nan, 30.0),  # no baseline
    (50.0, math.nan),  # no follow-up
    (math.nan, math.nan),
    (45.3, 35.3),  # 10 points within the 1e-9 tolerance
    (60.0, 40.1),  # 19.9: exactly the VAS MCII
    (100.0, 31.0),
]


def assert_same_arrays(many, one, row):
    for name in ("absolute", "relative", "improvement", "relative_improvement"):
        assert np.array_equal(getattr(many, name)[row], getattr(one, name), equal_nan=True), name
    assert set(many.flags) == set(one.flags) == {"mcii", "mic", "pass"}
    for key, (met, known) in one.flags.items():
        assert np.array_equal(many.flags[key][1][row], known), key
        assert np.array_equal(many.flags[key][0][row], met), key
    assert many.reason[row].tolist() == one.reason.tolist()


@pytest.mark.parametrize("rule", ["absolute", "relative", "both", "either"])
def test_change_for_codes_equals_change_arrays_for_every_score(rule):
    codes = list(SCORES)
    baseline = np.array([[b for b, _f in EDGE_PAIRS]] * len(codes))
    followup = np.array([[f for _b, f in EDGE_PAIRS]] * len(codes))
    many = change_arrays_for_codes(codes, baseline, followup, mcii_rule=rule)
    assert many.absolute.shape == (len(codes), len(EDGE_PAIRS))
    for row, code in enumerate(codes):
        one = change_arrays(code, baseline[row], followup[row], mcii_rule=rule)
        assert_same_arrays(many, one, row)


def test_change_for_codes_gives_the_published_flags():
    codes = ["vas_pain", "koos_pain", "koos_jr"]
    baseline = np.array([[60.0, 0.0], [40.0, 40.0], [40.0, np.nan]])
    followup = np.array([[40.1, 10.0], [56.7, 50.0], [80.0, 80.0]])
    out = change_arrays_for_codes(codes, baseline, followup)
    mcii, mcii_known = out.flags["mcii"]
    assert mcii_known.tolist() == [[True, True], [False, False], [False, False]]
    assert mcii[0].tolist() == [True, False]  # 19.9 mm (Tubach 2005); 10 mm worse
    mic, mic_known = out.flags["mic"]
    assert (mic[1] & mic_known[1]).tolist() == [True, False]  # KOOS pain 16.7 (Monticone 2013)
    assert out.improvement[0].tolist() == pytest.approx([19.9, -10.0])
    assert out.improvement[1].tolist() == pytest.approx([16.7, 10.0])
    assert math.isnan(out.relative[0, 1])  # baseline 0
    assert out.reason.tolist() == [
        [None, "baseline is 0: relative change undefined"],
        [None, None],
        [None, "no baseline value"],
    ]


def test_change_for_codes_uses_overriding_thresholds():
    custom = [*DEFAULT_THRESHOLDS, Threshold("vas_pain", "mcii", 10.0, None, "study protocol")]
    codes = ["vas_pain", "pga"]
    baseline = np.array([[50.0], [50.0]])
    followup = np.array([[38.0], [38.0]])
    default = change_arrays_for_codes(codes, baseline, followup)
    overridden = change_arrays_for_codes(codes, baseline, followup, custom)
    assert default.flags["mcii"][0].tolist() == [[False], [False]]
    assert overridden.flags["mcii"][0].tolist() == [[True], [False]]  # pga keeps 18.3


def test_change_for_codes_checks_its_input():
    with pytest.raises(ValueError, match="same shape"):
        change_arrays_for_codes(["vas_pain"], np.zeros((1, 2)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="one row per score code"):
        change_arrays_for_codes(["vas_pain", "pga"], np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="unknown score code"):
        change_arrays_for_codes(["nope"], np.zeros((1, 2)), np.zeros((1, 2)))


def test_score_rules_hold_the_cited_numbers():
    rules = score_rules(["vas_pain", "koos_pain", "koos_jr"])
    assert rules.sign.tolist() == [-1.0, 1.0, 1.0]
    assert rules.mcii_absolute[0] == 19.9
    assert rules.mcii_relative[0] == pytest.approx(0.408)
    assert rules.pass_cutoff[0] == 32.3
    assert rules.mic_absolute[1] == 16.7
    assert np.isnan(rules.mic_relative[1])
    assert all(
        np.isnan(getattr(rules, name)[2])
        for name in (
            "mcii_absolute",
            "mcii_relative",
            "mic_absolute",
            "mic_relative",
            "pass_cutoff",
        )
    )


def test_cached_rules_cannot_be_changed():
    rules = rules_by_row(("vas_pain", "pga"), DEFAULT_THRESHOLDS, 2)
    assert rules.sign.shape == (2, 1)
    with pytest.raises(ValueError, match="read-only"):
        rules.mcii_absolute[0] = 0.0
