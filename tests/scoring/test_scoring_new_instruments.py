"""NRS pain, global rating of change and KOOS-PS: known values, direction, missing rules."""

from __future__ import annotations

import pandas as pd
import pytest

import scoring
from scoring.definitions.koos_ps import KOOS_PS_CODES, KOOS_PS_TABLE
from scoring.model import InvalidAnswer


@pytest.mark.parametrize("value", [0, 3, 10])
def test_nrs_is_the_answer(value):
    assert scoring.score_response("nrs", {"NRS": value}).values == {"nrs_pain": float(value)}


@pytest.mark.parametrize("value", [-1, 11, 4.5, "7", 50])
def test_nrs_rejects_outside_whole_0_10(value):
    with pytest.raises(InvalidAnswer):
        scoring.score_response("nrs", {"NRS": value})
    assert "NRS" in scoring.validate_answers("nrs", {"NRS": value})


def test_nrs_missing_and_direction():
    result = scoring.score_response("nrs", {})
    assert result.values == {"nrs_pain": None}
    assert result.reasons == {"nrs_pain": "NRS pain: not answered"}
    assert scoring.SCORES["nrs_pain"].higher_is_better is False
    assert scoring.INSTRUMENTS["nrs"].item("NRS").allowed_text() == (
        "a whole number from 0 to 10 points"
    )


@pytest.mark.parametrize(("code", "label"), [(-3, "Much worse"), (0, "About the same"),
                                             (1, "A little better"), (3, "Much better")])
def test_grc_codes_and_labels(code, label):
    item = scoring.INSTRUMENTS["grc"].item("GRC")
    assert item.code_for_label(label) == code
    assert scoring.score_response("grc", {"GRC": code}).values == {"grc": float(code)}


@pytest.mark.parametrize("value", [-4, 4, 0.5])
def test_grc_rejects_other_codes(value):
    with pytest.raises(InvalidAnswer):
        scoring.score_response("grc", {"GRC": value})


def test_grc_at_followups_and_higher_is_better():
    assert scoring.INSTRUMENTS["grc"].timepoints == "followup"
    assert scoring.SCORES["grc"].higher_is_better is True
    frame = scoring.score_frame("grc", pd.DataFrame({"GRC": [-3, 0, 3, None]}))
    assert frame["grc"].tolist()[:3] == [-3.0, 0.0, 3.0]
    assert pd.isna(frame["grc"].iloc[3])


def test_koos_ps_items_map_to_koos():
    koos = scoring.INSTRUMENTS["koos"]
    labels = [koos.item(code).label for code in KOOS_PS_CODES]
    assert labels == [
        "Rising from bed", "Putting on socks", "Rising from sitting",
        "Bending to the floor / picking up an object", "Twisting/pivoting on injured knee",
        "Kneeling", "Squatting",
    ]  # fmt: skip


def test_koos_ps_table_endpoints_and_direction():
    # Perruccio 2008: 0 = no difficulty, 100 = extreme difficulty; monotone increasing.
    assert len(KOOS_PS_TABLE) == 29
    assert (KOOS_PS_TABLE[0], KOOS_PS_TABLE[14], KOOS_PS_TABLE[28]) == (0.0, 40.3, 100.0)
    assert all(a < b for a, b in zip(KOOS_PS_TABLE, KOOS_PS_TABLE[1:], strict=False))
    assert scoring.SCORES["koos_ps"].higher_is_better is False


@pytest.mark.parametrize(("answer", "expected"), [(0, 0.0), (1, 27.5), (2, 40.3), (4, 100.0)])
def test_koos_ps_uniform_answers(answer, expected):
    answers = dict.fromkeys(KOOS_PS_CODES, answer)
    assert scoring.score_response("koos_ps", answers).values == {"koos_ps": expected}


def test_koos_ps_complete_responses_only():
    answers = dict.fromkeys(KOOS_PS_CODES[:-1], 1)
    result = scoring.score_response("koos_ps", answers)
    assert result.values == {"koos_ps": None}
    assert "1 of 7 items missing; all 7 must be answered" in result.reasons["koos_ps"]


def test_koos_ps_from_koos_equals_entered_alone():
    items = scoring.INSTRUMENTS["koos"].item_codes
    koos_answers = {code: (n * 7) % 5 for n, code in enumerate(items)}
    alone = {code: koos_answers[code] for code in KOOS_PS_CODES}
    derived = scoring.score_with_derived("koos", koos_answers)["koos_ps"]
    entered = scoring.score_response("koos_ps", alone).values["koos_ps"]
    raw = sum(alone.values())
    assert derived == (entered, None)
    assert entered == KOOS_PS_TABLE[raw]


def test_koos_ps_frame_matches_single():
    frame = pd.DataFrame([dict.fromkeys(KOOS_PS_CODES, v) for v in range(5)])
    scored = scoring.score_frame("koos_ps", frame)["koos_ps"].tolist()
    assert scored == [KOOS_PS_TABLE[7 * v] for v in range(5)]
