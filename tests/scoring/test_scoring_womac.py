"""WOMAC LK3.1: raw sums with the user's guide missing rules, total and 0-100 normalised."""

from __future__ import annotations

import pytest

from scoring import score_response
from scoring.instruments import INSTRUMENTS

WOMAC = INSTRUMENTS["womac"]
PAIN = [f"P{n}" for n in range(1, 6)]
STIFF = ["S1", "S2"]
FUNCTION = [f"F{n}" for n in range(1, 18)]


def test_best_worst_middle():
    best = score_response("womac", dict.fromkeys(WOMAC.item_codes, 0)).values
    worst = score_response("womac", dict.fromkeys(WOMAC.item_codes, 4)).values
    middle = score_response("womac", dict.fromkeys(WOMAC.item_codes, 2)).values
    assert all(v == 0.0 for v in best.values())
    assert (worst["womac_pain"], worst["womac_stiffness"]) == (20.0, 8.0)
    assert (worst["womac_function"], worst["womac_total"]) == (68.0, 96.0)
    assert all(worst[f"{s}_norm"] == 100.0 for s in ("womac_pain", "womac_total"))
    assert middle["womac_total"] == 48.0
    assert all(middle[code] == pytest.approx(50.0) for code in WOMAC.score_codes[4:])


def test_worked_example():
    answers = dict(zip(PAIN, [1, 2, 3, 0, 1], strict=True))  # 7
    answers.update(S1=2, S2=1)  # 3
    answers.update(dict(zip(FUNCTION, [1] * 10 + [2] * 7, strict=True)))  # 10 + 14 = 24
    v = score_response("womac", answers).values
    assert (v["womac_pain"], v["womac_stiffness"], v["womac_function"]) == (7.0, 3.0, 24.0)
    assert v["womac_total"] == 34.0
    assert v["womac_pain_norm"] == pytest.approx(35.0)  # 7/20
    assert v["womac_stiffness_norm"] == pytest.approx(37.5)  # 3/8
    assert v["womac_function_norm"] == pytest.approx(24 / 68 * 100)
    assert v["womac_total_norm"] == pytest.approx(34 / 96 * 100)


def test_pain_one_missing_is_substituted():
    # P1..P4 = 1,2,3,2 (mean 2), P5 missing -> 8 + 2 = 10
    answers = dict(zip(PAIN[:4], [1, 2, 3, 2], strict=True))
    assert score_response("womac", answers).values["womac_pain"] == pytest.approx(10.0)
    answers = dict(zip(PAIN[:4], [1, 1, 1, 2], strict=True))  # mean 1.25 -> 6.25
    assert score_response("womac", answers).values["womac_pain"] == pytest.approx(6.25)


def test_pain_two_missing_is_invalid():
    result = score_response("womac", dict.fromkeys(PAIN[:3], 1))
    assert result.values["womac_pain"] is None
    assert result.values["womac_pain_norm"] is None
    assert "2 of 5 items missing" in result.reasons["womac_pain"]


def test_stiffness_any_missing_is_invalid():
    assert score_response("womac", {"S1": 2, "S2": 1}).values["womac_stiffness"] == 3.0
    result = score_response("womac", {"S1": 2})
    assert result.values["womac_stiffness"] is None
    assert "all 2 must be answered" in result.reasons["womac_stiffness"]


@pytest.mark.parametrize(("missing", "expected"), [(0, 34.0), (1, 34.0), (3, 34.0), (4, None)])
def test_function_missing_rule(missing, expected):
    answers = dict.fromkeys(FUNCTION[missing:], 2)
    value = score_response("womac", answers).values["womac_function"]
    assert value == (None if expected is None else pytest.approx(expected))


def test_function_substitution_uses_mean_of_answered():
    # 14 answered: seven 1s and seven 3s... plus three missing: mean 2 -> 28 + 3*2 = 34
    answers = dict(zip(FUNCTION[:14], [1, 3] * 7, strict=True))
    assert score_response("womac", answers).values["womac_function"] == pytest.approx(34.0)


def test_total_invalid_when_any_subscale_invalid():
    answers = dict.fromkeys(WOMAC.item_codes, 1)
    del answers["S2"]
    result = score_response("womac", answers)
    assert result.values["womac_pain"] == 5.0
    assert result.values["womac_total"] is None
    assert result.values["womac_total_norm"] is None
    assert "WOMAC Stiffness" in result.reasons["womac_total"]
