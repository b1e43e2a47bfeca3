"""The catalogue the registry is built from: item kinds, entry/derived instruments, defaults,
and that importing scoring (and scoring one response) does not load pandas."""

from __future__ import annotations

import subprocess
import sys

import pytest

import scoring
from scoring.model import AnswerOption, Item


def codes(instruments: tuple[scoring.Instrument, ...]) -> list[str]:
    return [instrument.code for instrument in instruments]


def test_catalogue_order_is_display_order():
    assert list(scoring.INSTRUMENTS) == [
        "vas", "nrs", "pga", "womac", "koos", "koos_ps", "koos12", "koosjr", "grc"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("instrument", "item", "kind"),
    [("vas", "VAS", "line"), ("pga", "PGA", "line"), ("nrs", "NRS", "rating"),
     ("koos", "S1", "choice"), ("womac", "F17", "choice"), ("grc", "GRC", "choice")],
)  # fmt: skip
def test_item_kind(instrument, item, kind):
    assert scoring.INSTRUMENTS[instrument].item(item).kind == kind


def test_anchors_on_lines_and_ratings():
    assert scoring.INSTRUMENTS["vas"].item("VAS").anchors == ("No pain", "Worst imaginable pain")
    assert scoring.INSTRUMENTS["nrs"].item("NRS").anchors == ("No pain", "Worst pain imaginable")
    assert scoring.INSTRUMENTS["pga"].item("PGA").anchors == ("Very well", "Very poor")
    assert scoring.INSTRUMENTS["koos"].item("S1").anchors == ()


def test_choice_range_follows_the_options():
    item = Item("X", "x", "g", (AnswerOption(-1, "less"), AnswerOption(0, "same"),
                                AnswerOption(1, "more")))  # fmt: skip
    assert (item.minimum, item.maximum) == (-1, 1)
    assert item.error_for(-1) is None
    assert item.error_for(2) == "X: 2 is not one of -1, 0, 1"
    with pytest.raises(ValueError, match="consecutive"):
        Item("Y", "y", "g", (AnswerOption(0, "a"), AnswerOption(2, "b")))


def test_every_instrument_has_catalogue_metadata():
    for instrument in scoring.INSTRUMENTS.values():
        assert instrument.short_name
        assert instrument.description
        assert instrument.timepoints in ("all", "followup", "none")
        for source in instrument.derived_from:
            assert set(instrument.item_codes) <= set(scoring.INSTRUMENTS[source].item_codes)
    assert scoring.INSTRUMENTS["koos"].short_name == "KOOS"
    assert scoring.INSTRUMENTS["koos_ps"].short_name == "KOOS-PS"


def test_entry_instruments_all():
    assert codes(scoring.entry_instruments()) == ["vas", "nrs", "pga", "womac", "koos", "grc"]


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (["koos", "vas"], ["vas", "koos"]),  # catalogue order, not the caller's
        (["koos_ps"], ["koos_ps"]),  # entered on its own
        (["koos", "koos_ps"], ["koos"]),  # KOOS-PS comes from the KOOS answers
        (["koos", "koos12", "koosjr"], ["koos"]),  # never entered: ignored
        ([], []),
    ],
)
def test_entry_instruments_chosen(chosen, expected):
    assert codes(scoring.entry_instruments(chosen)) == expected


def test_entry_instruments_unknown_codes_named():
    with pytest.raises(ValueError, match="oks, zzz"):
        scoring.entry_instruments(["koos", "zzz", "oks"])


def test_scored_from():
    assert codes(scoring.scored_from("koos")) == ["koos", "koos_ps", "koos12", "koosjr"]
    assert codes(scoring.scored_from("vas")) == ["vas"]
    assert codes(scoring.scored_from("koos_ps")) == ["koos_ps"]
    with pytest.raises(ValueError, match="unknown instrument 'oks'"):
        scoring.scored_from("oks")


def test_default_instruments():
    assert scoring.default_instruments(True) == ["vas", "pga", "womac", "koos"]
    assert scoring.default_instruments(False) == ["vas", "pga", "womac", "koos", "grc"]


def test_recordable_instruments():
    assert codes(scoring.recordable_instruments()) == [
        "vas", "nrs", "pga", "womac", "koos", "koos_ps", "grc"
    ]  # fmt: skip


def test_score_with_derived_koos():
    answers = {code: 2 for code in scoring.INSTRUMENTS["koos"].item_codes}
    scores = scoring.score_with_derived("koos", answers)
    expected = {s.code for i in scoring.scored_from("koos") for s in i.scores}
    assert set(scores) == expected
    assert scores["koos_pain"] == (50.0, None)
    assert scores["koos_ps"] == (40.3, None)  # raw 14
    assert scores["koos_jr"] == (52.465, None)


def test_score_with_derived_gives_reasons():
    scores = scoring.score_with_derived("koos", {"A10": 1})
    value, reason = scores["koos_ps"]
    assert value is None
    assert reason == "KOOS-PS: 6 of 7 items missing; all 7 must be answered"
    assert scoring.score_with_derived("vas", {"VAS": 12}) == {"vas_pain": (12.0, None)}


def test_score_with_derived_rejects_bad_answers():
    with pytest.raises(scoring.InvalidAnswer):
        scoring.score_with_derived("koos", {"A10": 7})


def test_scoring_one_response_does_not_import_pandas(repo_root):
    code = (
        "import sys, numpy as np, scoring; "
        "scoring.score_response('koos', {}); "
        "scoring.score_with_derived('koos', {'A1': 1}); "
        "scoring.validate_answers('nrs', {'NRS': 4}); "
        "scoring.change_from_baseline('vas_pain', 50, 20); "
        "from scoring.change import change_arrays_for_codes; "
        "change_arrays_for_codes(['vas_pain'], np.array([[50.0]]), np.array([[20.0]])); "
        "scoring.omeract_oarsi({'vas_pain': 60}, {'vas_pain': 20}); "
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo_root, check=True)
