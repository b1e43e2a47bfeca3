"""Instrument definitions: items, codes, labels, S4/S5 mapping, and package isolation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scoring.instruments import INSTRUMENTS, SCORES, InvalidAnswer


def test_instrument_codes():
    assert list(INSTRUMENTS) == [
        "vas", "nrs", "pga", "womac", "koos", "koos_ps", "koos12", "koosjr", "grc"
    ]


@pytest.mark.parametrize(
    ("code", "count", "first", "last"),
    [
        ("koos", 42, "S1", "Q4"),
        ("womac", 24, "P1", "F17"),
        ("koos12", 12, "P1", "Q4"),
        ("koosjr", 7, "S6", "A5"),
        ("vas", 1, "VAS", "VAS"),
        ("pga", 1, "PGA", "PGA"),
        ("nrs", 1, "NRS", "NRS"),
        ("grc", 1, "GRC", "GRC"),
        ("koos_ps", 7, "A10", "SP1"),
    ],
)
def test_item_counts(code, count, first, last):
    items = INSTRUMENTS[code].item_codes
    assert len(items) == count
    assert len(set(items)) == count
    assert (items[0], items[-1]) == (first, last)


def test_koos_item_order_is_official():
    expected = (
        [f"S{n}" for n in range(1, 8)]
        + [f"P{n}" for n in range(1, 10)]
        + [f"A{n}" for n in range(1, 18)]
        + [f"SP{n}" for n in range(1, 6)]
        + [f"Q{n}" for n in range(1, 5)]
    )
    assert list(INSTRUMENTS["koos"].item_codes) == expected


@pytest.mark.parametrize(
    ("item", "label", "code"),
    [
        ("S4", "Always", 0),  # straightening fully always = no problem
        ("S4", "Never", 4),
        ("S5", "Always", 0),
        ("S5", "Rarely", 3),
        ("S1", "Always", 4),  # swelling always = extreme problem
        ("S1", "Never", 0),
        ("P1", "Daily", 3),
        ("Q1", "Constantly", 4),
        ("Q2", "Totally", 4),
        ("Q3", "Extremely", 4),
        ("A1", "None", 0),
        ("SP5", "extreme", 4),
    ],
)
def test_answer_labels(item, label, code):
    assert INSTRUMENTS["koos"].item(item).code_for_label(label) == code


def test_unknown_label_is_rejected():
    with pytest.raises(InvalidAnswer):
        INSTRUMENTS["koos"].item("S4").code_for_label("Sometimes not")


def test_every_item_has_a_known_kind_and_range():
    for instrument in INSTRUMENTS.values():
        for item in instrument.items:
            if item.kind == "choice" and instrument.code != "grc":
                assert [o.code for o in item.options] == [0, 1, 2, 3, 4]
            elif item.kind == "choice":
                assert [o.code for o in item.options] == [-3, -2, -1, 0, 1, 2, 3]
            elif item.kind == "line":
                assert (item.minimum, item.maximum, item.unit) == (0, 100, "mm")
                assert len(item.anchors) == 2
            else:
                assert (item.code, item.minimum, item.maximum) == ("NRS", 0, 10)
                assert len(item.anchors) == 2
            assert (item.minimum, item.maximum) == (
                (min(o.code for o in item.options), max(o.code for o in item.options))
                if item.options
                else (item.minimum, item.maximum)
            )


def test_womac_labels_are_short():
    # The WOMAC wording is licensed: only short labels may ship.
    for item in INSTRUMENTS["womac"].items:
        assert len(item.label) <= 45
        assert "?" not in item.label


def test_scores_registry_is_complete():
    expected = {
        "koos_symptoms", "koos_pain", "koos_adl", "koos_sport_rec", "koos_qol",
        "koos_womac_pain", "koos_womac_stiffness", "koos_womac_function",
        "womac_pain", "womac_stiffness", "womac_function", "womac_total",
        "womac_pain_norm", "womac_stiffness_norm", "womac_function_norm", "womac_total_norm",
        "koos12_pain", "koos12_function", "koos12_qol", "koos12_summary", "koos_jr",
        "vas_pain", "pga", "nrs_pain", "grc", "koos_ps",
    }  # fmt: skip
    assert set(SCORES) == expected
    for score in SCORES.values():
        assert score.citation
        assert score.missing_rule
        assert score.instrument in INSTRUMENTS
        assert set(score.items) <= set(INSTRUMENTS[score.instrument].item_codes)


@pytest.mark.parametrize(
    ("code", "higher_is_better", "maximum"),
    [
        ("koos_pain", True, 100),
        ("koos_womac_function", True, 100),
        ("womac_pain", False, 20),
        ("womac_stiffness", False, 8),
        ("womac_function", False, 68),
        ("womac_total", False, 96),
        ("womac_total_norm", False, 100),
        ("koos_jr", True, 100),
        ("vas_pain", False, 100),
        ("pga", False, 100),
        ("nrs_pain", False, 10),
        ("grc", True, 3),
        ("koos_ps", False, 100),
    ],
)
def test_direction_and_range(code, higher_is_better, maximum):
    assert SCORES[code].higher_is_better is higher_is_better
    assert SCORES[code].maximum == maximum


def test_versions():
    assert INSTRUMENTS["koos"].version == "koos-2012/1"
    assert INSTRUMENTS["koos"].version_for("1998") == "koos-1998/1"
    assert all(i.version for i in INSTRUMENTS.values())


def test_scoring_imports_no_web_stack(repo_root):
    code = (
        "import json, sys; import scoring, scoring.cli, scoring.change, scoring.responder; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )
    modules = json.loads(done.stdout)
    for forbidden in ("registry", "flask", "sqlalchemy", "werkzeug", "jinja2"):
        assert not [m for m in modules if m == forbidden or m.startswith(forbidden + ".")]
