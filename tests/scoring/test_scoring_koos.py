"""KOOS subscales (KOOS Scoring 2012) and WOMAC from KOOS, from hand-computed examples."""

from __future__ import annotations

import pytest

from scoring import score_response
from scoring.instruments import INSTRUMENTS

KOOS = INSTRUMENTS["koos"]
SUBSCALES = {
    "koos_symptoms": [f"S{n}" for n in range(1, 8)],
    "koos_pain": [f"P{n}" for n in range(1, 10)],
    "koos_adl": [f"A{n}" for n in range(1, 18)],
    "koos_sport_rec": [f"SP{n}" for n in range(1, 6)],
    "koos_qol": [f"Q{n}" for n in range(1, 5)],
}


def all_items(value):
    return {code: value for code in KOOS.item_codes}


@pytest.mark.parametrize(("answer", "expected"), [(0, 100.0), (4, 0.0), (2, 50.0), (1, 75.0)])
def test_uniform_answers(answer, expected):
    values = score_response("koos", all_items(answer)).values
    assert set(values) == set(KOOS.score_codes)
    assert all(v == pytest.approx(expected) for v in values.values())


def test_worked_example():
    answers = all_items(0)
    # Pain: P1..P9 = 1,2,3,0,0,1,2,0,1 -> sum 10, mean 10/9 -> 100 - 25*10/9 = 72.222...
    pain = [1, 2, 3, 0, 0, 1, 2, 0, 1]
    answers.update(dict(zip([f"P{n}" for n in range(1, 10)], pain, strict=True)))
    # Symptoms: S1=4, S4=2 (others 0) -> mean 6/7 -> 100 - 150/7 = 78.571...
    answers.update(S1=4, S4=2)
    # QOL: 3, 3, 2, 2 -> mean 2.5 -> 37.5
    answers.update(Q1=3, Q2=3, Q3=2, Q4=2)
    values = score_response("koos", answers).values
    assert values["koos_pain"] == pytest.approx(100 - 25 * 10 / 9)
    assert values["koos_symptoms"] == pytest.approx(100 - 25 * 6 / 7)
    assert values["koos_qol"] == pytest.approx(37.5)
    assert values["koos_adl"] == 100.0
    # WOMAC pain from KOOS = P5..P9 = 0,1,2,0,1 -> mean 4/5 -> 80
    assert values["koos_womac_pain"] == pytest.approx(80.0)
    assert values["koos_womac_stiffness"] == 100.0


def test_missing_answers_take_the_mean_of_answered_items():
    # Pain with P1..P5 = 4,4,0,0,2 and P6..P9 missing: mean 2 -> 50
    answers = {"P1": 4, "P2": 4, "P3": 0, "P4": 0, "P5": 2}
    assert score_response("koos", answers).values["koos_pain"] == pytest.approx(50.0)


# (subscale, items answered, scored under 2012, scored under 1998)
THRESHOLDS = [
    ("koos_pain", 5, True, False),
    ("koos_pain", 4, False, False),
    ("koos_pain", 7, True, True),
    ("koos_pain", 6, True, False),
    ("koos_symptoms", 4, True, False),
    ("koos_symptoms", 3, False, False),
    ("koos_symptoms", 5, True, True),
    ("koos_adl", 9, True, False),
    ("koos_adl", 8, False, False),
    ("koos_adl", 15, True, True),
    ("koos_adl", 14, True, False),
    ("koos_sport_rec", 3, True, True),
    ("koos_sport_rec", 2, False, False),
    ("koos_qol", 2, True, True),
    ("koos_qol", 1, False, False),
]


@pytest.mark.parametrize(("score", "answered", "ok_2012", "ok_1998"), THRESHOLDS)
def test_missing_item_thresholds(score, answered, ok_2012, ok_1998):
    answers = {code: 3 for code in SUBSCALES[score][:answered]}
    for rule, ok in (("2012", ok_2012), ("1998", ok_1998)):
        result = score_response("koos", answers, koos_missing_rule=rule)
        if ok:
            assert result.values[score] == pytest.approx(25.0)
            assert score not in result.reasons
        else:
            assert result.values[score] is None
            size = len(SUBSCALES[score])
            assert f"{size - answered} of {size} items missing" in result.reasons[score]


def test_reason_text():
    result = score_response("koos", {"P1": 1, "P2": 1, "P3": 1, "P4": 1})
    assert result.reasons["koos_pain"] == (
        "KOOS Pain: 5 of 9 items missing; at least 5 answered are needed"
    )
    assert result.version == "koos-2012/1"
    assert score_response("koos", {}, koos_missing_rule="1998").version == "koos-1998/1"


def test_unknown_missing_rule():
    with pytest.raises(ValueError, match="missing-item rule"):
        score_response("koos", {}, koos_missing_rule="2020")


@pytest.mark.parametrize(
    ("score", "items", "max_missing"),
    [
        ("koos_womac_pain", ["P5", "P6", "P7", "P8", "P9"], 1),
        ("koos_womac_stiffness", ["S6", "S7"], 0),
        ("koos_womac_function", [f"A{n}" for n in range(1, 18)], 3),
    ],
)
def test_womac_from_koos_missing_rules(score, items, max_missing):
    # WOMAC user's guide rules on both sides of the limit, KOOS direction (all 2s -> 50).
    ok = {code: 2 for code in items[max_missing:]}
    assert score_response("koos", ok).values[score] == pytest.approx(50.0)
    short = {code: 2 for code in items[max_missing + 1 :]}
    assert score_response("koos", short).values[score] is None


def test_womac_from_koos_uses_womac_items_not_other_pain_items():
    answers = {f"P{n}": 4 for n in range(1, 5)}  # P1-P4 are not WOMAC items
    answers.update({f"P{n}": 0 for n in range(5, 10)})
    values = score_response("koos", answers).values
    assert values["koos_womac_pain"] == 100.0
    assert values["koos_pain"] == pytest.approx(100 - 25 * 16 / 9)


def test_womac_from_koos_mirrors_womac_normalised():
    koos = {f"P{n}": v for n, v in zip(range(5, 10), [1, 3, None, 2, 0], strict=True)}
    womac = {f"P{n}": v for n, v in zip(range(1, 6), [1, 3, None, 2, 0], strict=True)}
    from_koos = score_response("koos", koos).values["koos_womac_pain"]
    norm = score_response("womac", womac).values["womac_pain_norm"]
    # mean of answered = 6/4 = 1.5 -> WOMAC 0-100 = 37.5, KOOS direction = 62.5
    assert norm == pytest.approx(37.5)
    assert from_koos == pytest.approx(62.5)
