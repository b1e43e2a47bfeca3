"""Entry points: validation, InvalidAnswer, frames, and single == frame (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    InvalidAnswer,
    score_frame,
    score_response,
    validate_answers,
    validate_frame,
)
from scoring.instruments import INSTRUMENTS


@pytest.mark.parametrize("value", [5, -1, 2.5, 4.01, math.inf, "2", True])
def test_invalid_choice_answer(value):
    with pytest.raises(InvalidAnswer) as caught:
        score_response("koos", {"P3": value})
    assert caught.value.item == "P3"
    assert isinstance(caught.value, ValueError)
    assert "P3" in str(caught.value)


@pytest.mark.parametrize("value", [0, 4, 2.0, np.int64(3), np.float64(1.0), None, math.nan])
def test_valid_choice_answer(value):
    assert validate_answers("koos", {"P3": value}) == {}


@pytest.mark.parametrize(
    ("value", "ok"), [(0, True), (100, True), (101, False), (-1, False), (50.5, False), (37, True)]
)
def test_vas_range(value, ok):
    assert (validate_answers("vas", {"VAS": value}) == {}) is ok


def test_validate_answers_lists_every_bad_item_and_ignores_extras():
    errors = validate_answers("koos12", {"P1": 7, "Q2": "x", "S1": 99, "unknown": 5})
    assert set(errors) == {"P1", "Q2"}
    assert "not one of 0, 1, 2, 3, 4" in errors["P1"]


def test_vas_and_pga():
    assert score_response("vas", {"VAS": 37}).values == {"vas_pain": 37.0}
    missing = score_response("pga", {})
    assert missing.values == {"pga": None}
    assert missing.reasons == {"pga": "Patient global assessment: not answered"}


def test_score_frame_keeps_index_and_matches_hand_values():
    df = pd.DataFrame({"VAS": [10, np.nan, 100]}, index=["a", "b", "c"])
    out = score_frame("vas", df)
    assert list(out.index) == ["a", "b", "c"]
    assert out["vas_pain"].tolist()[0] == 10.0
    assert math.isnan(out["vas_pain"].tolist()[1])


def test_score_frame_reports_row_and_column():
    df = pd.DataFrame({code: [0, 1, 2] for code in INSTRUMENTS["koosjr"].item_codes})
    df.loc[2, "P6"] = 5
    with pytest.raises(InvalidAnswer) as caught:
        score_frame("koosjr", df)
    assert (caught.value.item, caught.value.row, caught.value.label) == ("P6", 2, 2)


def test_score_frame_text_and_missing_column():
    df = pd.DataFrame({"VAS": ["12", None, "abc"]})
    with pytest.raises(InvalidAnswer, match="'abc' is not a number") as caught:
        validate_frame("vas", df)
    assert caught.value.row == 2
    with pytest.raises(InvalidAnswer, match="column VAS is missing"):
        score_frame("vas", pd.DataFrame({"x": [1]}))


def test_unknown_instrument():
    with pytest.raises(ValueError, match="unknown instrument"):
        score_response("sf36", {})


def test_empty_frame():
    out = score_frame("koos", pd.DataFrame(columns=list(INSTRUMENTS["koos"].item_codes)))
    assert len(out) == 0
    assert list(out.columns) == list(INSTRUMENTS["koos"].score_codes)


def answers_strategy(code):
    instrument = INSTRUMENTS[code]
    high = instrument.items[0].maximum
    cell = st.one_of(st.none(), st.integers(0, high))
    return st.lists(
        st.fixed_dictionaries({item: cell for item in instrument.item_codes}),
        min_size=1,
        max_size=25,
    )


@pytest.mark.parametrize("code", sorted(INSTRUMENTS))
@pytest.mark.parametrize("rule", ["2012", "1998"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_single_and_frame_paths_agree(code, rule, data):
    rows = data.draw(answers_strategy(code))
    frame = pd.DataFrame(rows, dtype="float64")
    scored = score_frame(code, frame, koos_missing_rule=rule)
    for position, answers in enumerate(rows):
        single = score_response(code, answers, koos_missing_rule=rule).values
        for score, value in single.items():
            vectorised = scored[score].iloc[position]
            if value is None:
                assert math.isnan(vectorised)
            else:
                assert vectorised == value  # same core: identical, not just close
