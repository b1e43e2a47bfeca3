"""Change from baseline, MCII (Tubach 2005), PASS, KOOS MIC (Monticone 2013)."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.change import DEFAULT_THRESHOLDS, Threshold, change_frame, change_from_baseline


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
    assert change_from_baseline(score, baseline, followup).mcii is mcii


def test_mcii_relative_rules():
    # 20 mm from 60 is 33 % (< 40.8 %): absolute yes, relative no.
    assert change_from_baseline("vas_pain", 60, 40, mcii_rule="relative").mcii is False
    assert change_from_baseline("vas_pain", 60, 40, mcii_rule="both").mcii is False
    assert change_from_baseline("vas_pain", 60, 40, mcii_rule="either").mcii is True
    # 15 mm from 30 is 50 %: relative yes, absolute no.
    assert change_from_baseline("vas_pain", 30, 15, mcii_rule="relative").mcii is True
    assert change_from_baseline("vas_pain", 30, 15, mcii_rule="both").mcii is False
    # Baseline 0: relative undefined -> relative-only MCII is undefined.
    assert change_from_baseline("vas_pain", 0, 0, mcii_rule="relative").mcii is None


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
    assert change_from_baseline(score, 90, followup).pass_ is expected
    assert change_from_baseline(score, None, followup).pass_ is expected


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
    assert change_from_baseline(score, 40, 40 + mic).mic is True
    assert change_from_baseline(score, 40, 40 + mic - 0.1).mic is False
    assert change_from_baseline(score, 40, 80).mcii is None  # no MCII published for KOOS


def test_undefined_cases_are_explicit():
    none = change_from_baseline("vas_pain", None, 30)
    assert none.absolute is None
    assert none.relative is None
    assert none.mcii is None
    assert none.undefined_reason == "no baseline value"
    zero = change_from_baseline("vas_pain", 0, 10)
    assert zero.absolute == 10.0
    assert zero.relative is None
    assert zero.undefined_reason == "baseline is 0: relative change undefined"
    assert change_from_baseline("vas_pain", 50, None).undefined_reason == "no follow-up value"
    assert change_from_baseline("koos_pain", 50, 60).pass_ is None  # no PASS threshold
    assert change_from_baseline("vas_pain", 50, 30).undefined_reason is None


def test_thresholds_are_overridable():
    custom = (*DEFAULT_THRESHOLDS, Threshold("vas_pain", "mcii", 10.0, None, "study protocol"))
    assert change_from_baseline("vas_pain", 50, 38).mcii is False
    assert change_from_baseline("vas_pain", 50, 38, custom).mcii is True
    stricter = tuple(
        replace(t, absolute=40.0) if t.score_code == "koos_pain" else t for t in DEFAULT_THRESHOLDS
    )
    assert change_from_baseline("koos_pain", 10, 40, stricter).mic is False


def test_every_default_threshold_is_cited():
    for threshold in DEFAULT_THRESHOLDS:
        assert ("Tubach" in threshold.citation) or ("Monticone" in threshold.citation)


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
        for name in ("mcii", "mic", "pass_"):
            expected = getattr(one, name)
            assert pd.isna(row[name]) if expected is None else bool(row[name]) is expected
        assert row["undefined_reason"] == one.undefined_reason
