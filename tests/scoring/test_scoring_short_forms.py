"""KOOS-12 (Gandek 2019) and KOOS JR (Lyman 2016)."""

from __future__ import annotations

import pytest

from scoring import score_response
from scoring.definitions.short_forms import KOOS_JR_TABLE
from scoring.instruments import INSTRUMENTS

PAIN = ["P1", "P5", "P6", "P8"]
FUNCTION = ["A3", "A4", "A7", "SP4"]
QOL = ["Q1", "Q2", "Q3", "Q4"]
JR = ["S6", "P2", "P3", "P6", "P9", "A3", "A5"]


@pytest.mark.parametrize(("answer", "expected"), [(0, 100.0), (4, 0.0), (2, 50.0)])
def test_koos12_uniform(answer, expected):
    values = score_response("koos12", dict.fromkeys(PAIN + FUNCTION + QOL, answer)).values
    assert all(v == pytest.approx(expected) for v in values.values())


def test_koos12_worked_example():
    answers = dict(zip(PAIN, [1, 2, 3, 2], strict=True))  # mean 2 -> 50
    answers |= dict(zip(FUNCTION, [0, 1, 0, 1], strict=True))  # mean .5 -> 87.5
    answers |= dict(zip(QOL, [4, 3, None, None], strict=True))  # 2 answered, mean 3.5 -> 12.5
    v = score_response("koos12", answers).values
    assert v["koos12_pain"] == pytest.approx(50.0)
    assert v["koos12_function"] == pytest.approx(87.5)
    assert v["koos12_qol"] == pytest.approx(12.5)
    assert v["koos12_summary"] == pytest.approx((50 + 87.5 + 12.5) / 3)


@pytest.mark.parametrize(("answered", "scored"), [(4, True), (2, True), (1, False), (0, False)])
def test_koos12_two_of_four(answered, scored):
    result = score_response("koos12", dict.fromkeys(FUNCTION[:answered], 1))
    assert (result.values["koos12_function"] is not None) is scored
    assert result.values["koos12_summary"] is None  # pain and QOL unanswered


def test_koos12_summary_needs_all_three_scales():
    answers = dict.fromkeys(PAIN + FUNCTION, 0) | {"Q1": 0}
    result = score_response("koos12", answers)
    assert result.values["koos12_summary"] is None
    assert "KOOS-12 Quality of life" in result.reasons["koos12_summary"]


def test_koos12_and_jr_from_full_koos_answers():
    answers = dict.fromkeys(INSTRUMENTS["koos"].item_codes, 1)
    assert score_response("koos12", answers).values["koos12_summary"] == pytest.approx(75.0)
    assert score_response("koosjr", answers).values["koos_jr"] == 68.284  # raw 7


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, 100.0), (1, 91.975), (7, 68.284), (14, 52.465), (15, 50.012), (27, 8.291), (28, 0.0)],
)
def test_koos_jr_table(raw, expected):
    answers = dict.fromkeys(JR, 0)
    for position in range(raw):  # spread the raw sum over the items, at most 4 each
        answers[JR[position % 7]] += 1
    assert sum(answers.values()) == raw
    assert score_response("koosjr", answers).values["koos_jr"] == expected


def test_koos_jr_table_is_complete_and_decreasing():
    assert len(KOOS_JR_TABLE) == 29
    assert all(a > b for a, b in zip(KOOS_JR_TABLE, KOOS_JR_TABLE[1:], strict=False))


def test_koos_jr_complete_responses_only():
    answers = dict.fromkeys(JR[:6], 0)
    result = score_response("koosjr", answers)
    assert result.values["koos_jr"] is None
    assert result.reasons["koos_jr"] == "KOOS JR: 1 of 7 items missing; all 7 must be answered"
