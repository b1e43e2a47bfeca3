"""`registry dictionary`: REDCap's data dictionary, and the export dictionary as CSV / JSON.

The REDCap file is read back the way a REDCap user's tools read it (pandas), and checked
against REDCap's rules and against the scoring catalogue and the vocabularies.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pandas as pd
import pytest

import scoring
from registry.interop import redcap
from registry.research.dictionary import DICTIONARY_COLUMNS
from registry.vocabularies import CELL_SOURCES, KL_GRADES, SEX

HEADER_LINE = (
    'Variable / Field Name,Form Name,Section Header,Field Type,Field Label,'
    '"Choices, Calculations, OR Slider Labels",Field Note,'
    'Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,'
    'Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,'
    'Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation')
NAME = re.compile(r"[a-z][a-z0-9_]*")
FIELD_TYPES = {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse",
               "calc", "slider", "descriptive", "file", "sql"}


@pytest.fixture
def redcap_file(runner, db, tmp_path):
    target = tmp_path / "dictionary" / "redcap.csv"
    result = runner.invoke(args=["dictionary", "--format", "redcap", "-o", str(target)])
    assert result.exit_code == 0, result.output
    return target


@pytest.fixture
def dictionary(redcap_file) -> pd.DataFrame:
    frame = pd.read_csv(redcap_file, dtype=str, keep_default_na=False)
    return frame.set_index("Variable / Field Name", drop=False)


def parse_choices(text: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(" | "):
        code, _, label = part.partition(", ")
        pairs.append((code, label))
    return pairs


def test_header_is_redcaps_exactly_with_18_columns(redcap_file):
    text = redcap_file.read_text(encoding="utf-8")
    assert not text.startswith("\ufeff")
    assert text.splitlines()[0] == HEADER_LINE
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == redcap.HEADER
    assert len(rows[0]) == 18
    assert all(len(row) == 18 for row in rows)
    assert rows[1][0] == "record_id"  # the record id field comes first


def test_names_follow_redcaps_rules(dictionary):
    names = list(dictionary["Variable / Field Name"])
    assert all(NAME.fullmatch(name) for name in names), names
    assert len(names) == len(set(names))
    assert max(len(name) for name in names) <= 26  # REDCap's recommendation
    forms = list(dict.fromkeys(dictionary["Form Name"]))
    assert all(NAME.fullmatch(form) for form in forms)
    # A form's fields are together (REDCap reads a form as one block of rows).
    assert forms == [form for i, form in enumerate(dictionary["Form Name"])
                     if i == 0 or dictionary["Form Name"].iloc[i - 1] != form]
    assert set(dictionary["Field Type"]) <= FIELD_TYPES
    matrices = [name for name in dictionary["Matrix Group Name"] if name]
    assert all(NAME.fullmatch(name) for name in matrices)
    assert forms[:5] == ["patient", "index_knee", "treatment", "visit", "adverse_event"]


def test_every_catalogue_item_is_a_field_with_its_options(dictionary):
    for code, instrument in scoring.INSTRUMENTS.items():
        assert code in set(dictionary["Form Name"])
        for item in instrument.items:
            owners = [code] if instrument.entry else list(instrument.derived_from)
            names = [f"{owner}_{item.code}".lower() for owner in owners]
            assert any(name in dictionary.index for name in names), (code, item.code)
            row = dictionary.loc[names[0]]
            assert row["Form Name"] == owners[0]
            assert row["Field Label"].endswith(item.label)
            if item.options:
                assert row["Field Type"] == "radio"
                assert parse_choices(row["Choices, Calculations, OR Slider Labels"]) == [
                    (str(o.code), o.label) for o in item.options]
            elif item.kind == "line":
                assert row["Field Type"] == "slider"
                assert row["Text Validation Type OR Show Slider Number"] == "number"
                assert row["Choices, Calculations, OR Slider Labels"] == (
                    f"{item.anchors[0]} | | {item.anchors[1]}")
            else:
                assert row["Field Type"] == "text"
                assert row["Text Validation Type OR Show Slider Number"] == "integer"
                assert (row["Text Validation Min"], row["Text Validation Max"]) == (
                    str(item.minimum), str(item.maximum))


def test_every_score_is_a_read_only_number_with_its_range(dictionary):
    for code, score in scoring.SCORES.items():
        row = dictionary.loc[code]
        assert row["Form Name"] == score.instrument
        assert row["Field Type"] == "text"
        assert row["Text Validation Type OR Show Slider Number"] == "number"
        assert float(row["Text Validation Min"]) == score.minimum
        assert float(row["Text Validation Max"]) == score.maximum
        assert row["Field Annotation"] == "@READONLY"


def test_matrix_groups_hold_items_with_the_same_answers(dictionary):
    grouped = dictionary[dictionary["Matrix Group Name"] != ""].groupby(
        "Matrix Group Name", sort=False)
    assert len(grouped) > 5
    for _name, rows in grouped:
        assert len(rows) >= 2
        assert rows["Choices, Calculations, OR Slider Labels"].nunique() == 1
        assert rows["Form Name"].nunique() == 1
        assert (rows["Field Type"] == "radio").all()
        assert (rows["Section Header"].iloc[1:] == "").all()  # one heading, on the first


def test_registry_fields_use_the_vocabularies(dictionary):
    assert parse_choices(dictionary.loc["sex", "Choices, Calculations, OR Slider Labels"]) == \
        [(code, label) for code, label in SEX.items()]
    assert parse_choices(dictionary.loc["cell_source",
                                        "Choices, Calculations, OR Slider Labels"]) == \
        [(code, label) for code, label in CELL_SOURCES.items()]
    assert parse_choices(dictionary.loc["kl_grade",
                                        "Choices, Calculations, OR Slider Labels"]) == \
        [(str(code), label) for code, label in KL_GRADES.items()]
    assert dictionary.loc["kl_grade", "Form Name"] == "index_knee"
    assert dictionary.loc["cell_source", "Form Name"] == "treatment"
    assert dictionary.loc["co_prp", "Field Type"] == "yesno"
    assert dictionary.loc["ae_category", "Form Name"] == "adverse_event"
    assert dictionary.loc["visit_collection_mode", "Form Name"] == "visit"
    assert dictionary.loc["age_at_treatment", "Text Validation Type OR Show Slider Number"] \
        == "integer"
    # No identifying field: the dictionary describes the de-identified export.
    assert set(dictionary["Identifier?"]) == {""}
    for forbidden in ("name", "birth", "mrn", "phone", "email", "study_id"):
        assert not any(forbidden in name for name in dictionary.index), forbidden


def test_round_trip_with_pandas_keeps_every_cell(redcap_file, dictionary):
    again = io.StringIO()
    dictionary.to_csv(again, index=False)
    back = pd.read_csv(io.StringIO(again.getvalue()), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, dictionary.reset_index(drop=True))
    assert list(back.columns) == redcap.HEADER


def test_csv_and_json_dictionaries(runner, db, tmp_path):
    csv_path = tmp_path / "dictionary.csv"
    result = runner.invoke(args=["dictionary", "--format", "csv", "-o", str(csv_path)])
    assert result.exit_code == 0, result.output
    raw = csv_path.read_bytes()
    assert raw.startswith("\ufeff".encode())
    frame = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str,
                        keep_default_na=False)
    assert list(frame.columns) == DICTIONARY_COLUMNS
    json_path = tmp_path / "dictionary.json"
    result = runner.invoke(args=["dictionary", "--format", "json", "-o", str(json_path)])
    assert result.exit_code == 0, result.output
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["columns"] == DICTIONARY_COLUMNS
    assert len(document["variables"]) == len(frame)
    columns = {row["column"] for row in document["variables"]}
    for code, instrument in scoring.INSTRUMENTS.items():
        if instrument.entry:
            assert {f"{code}_{item.code}" for item in instrument.items} <= columns, code
    assert {f"value[score={code}]" for code in scoring.SCORES} <= columns
    assert {"pid", "sex", "kl_grade", "cell_source", "category"} <= columns


def test_unknown_format_is_a_clear_error(runner, db, tmp_path):
    result = runner.invoke(args=["dictionary", "--format", "sav", "-o",
                                 str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert "unknown format 'sav'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.csv").exists()
