"""Exports in a chosen language (issue 19): the words are Spanish or English, the data
(column names, codes, values) are the same in both."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
from click.testing import Result


def _export(runner: Any, tmp_path: Path, fmt: str, language: str | None) -> Path:
    target = tmp_path / f"export-{fmt}-{language}.zip"
    # Project-stable pseudonyms: the two exports can then be compared row by row.
    args = ["export", "--all", "--format", fmt, "--adverse-events", "--project", "languages",
            "-o", str(target)]
    if language is not None:
        args += ["--language", language]
    result: Result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return target


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _read_stat(data: bytes, fmt: str, folder: Path, name: str) -> tuple[pd.DataFrame, Any]:
    """The file's raw values (no labels applied) and its metadata, as pyreadstat reads it."""
    path = folder / name
    path.write_bytes(data)
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    return reader(str(path), apply_value_formats=False)


def _dictionary(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), keep_default_na=False)


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_spanish_export_labels_are_spanish_and_data_identical(runner, cohort_data, tmp_path,
                                                              fmt):
    english = _members(_export(runner, tmp_path, fmt, None))
    spanish = _members(_export(runner, tmp_path, fmt, "es"))
    assert set(english) == set(spanish)  # same files: tables, dictionary, syntax, manifest
    for name in english:
        if not name.endswith(f".{fmt}"):
            continue
        en_rows, en_meta = _read_stat(english[name], fmt, tmp_path, f"en-{name}")
        es_rows, es_meta = _read_stat(spanish[name], fmt, tmp_path, f"es-{name}")
        # Column names, codes and values do not change with the language.
        pd.testing.assert_frame_equal(en_rows, es_rows)
        assert en_meta.column_names == es_meta.column_names
        if name == f"patients.{fmt}":
            sex_en = en_meta.variable_value_labels["sex"]
            sex_es = es_meta.variable_value_labels["sex"]
            assert sorted(sex_en) == sorted(sex_es)  # the same numbers
            assert "Female" in sex_en.values()
            assert "Mujer" in sex_es.values()
            labels = dict(zip(es_meta.column_names, es_meta.column_labels, strict=True))
            assert labels["sex"] == "Sexo"
            assert labels["age_90_plus"] == "Edad al tratamiento de 90 o más"
            assert es_meta.variable_value_labels["age_90_plus"] == {0: "No", 1: "Sí"}
        if name == f"outcomes_long.{fmt}":
            reasons = es_meta.variable_value_labels["value_reason"]
            assert "Visita perdida: su ventana se cerró" in reasons.values()
    manifest = json.loads(spanish["manifest.json"])
    assert manifest["language"] == "es"
    assert json.loads(english["manifest.json"])["language"] == "en"
    do_file = spanish["read_export.do"].decode("utf-8")
    assert "Las tablas comparten el seudónimo del paciente pid" in do_file
    assert "Tables share" not in do_file


def test_spanish_dictionary_in_the_export(runner, cohort_data, tmp_path):
    english = _members(_export(runner, tmp_path, "csv", "en"))
    spanish = _members(_export(runner, tmp_path, "csv", "es"))
    for name in english:  # the data files are byte for byte the same
        if name.endswith(".csv") and name != "data_dictionary.csv":
            assert english[name] == spanish[name], name
    en_dictionary = _dictionary(english["data_dictionary.csv"])
    es_dictionary = _dictionary(spanish["data_dictionary.csv"])
    same = ["table", "column", "type", "minimum", "maximum", "stata_name", "source"]
    pd.testing.assert_frame_equal(en_dictionary[same], es_dictionary[same])
    sex = es_dictionary.set_index(["table", "column"]).loc[("patients", "sex")]
    assert sex["label"] == "Sexo"
    assert "female = Mujer" in sex["values"]
    r_script = spanish["read_export.R"].decode("utf-8")
    assert '"Mujer"' in r_script  # labels Spanish
    assert '"female"' in r_script  # codes as they are


def test_registry_dictionary_command_in_spanish(runner, db, tmp_path):
    files = {}
    for language in ("en", "es"):
        target = tmp_path / f"dictionary-{language}.csv"
        result = runner.invoke(args=["dictionary", "--format", "csv", "--language", language,
                                     "-o", str(target)])
        assert result.exit_code == 0, result.output
        files[language] = _dictionary(target.read_bytes())
    english, spanish = files["en"], files["es"]
    assert list(english["column"]) == list(spanish["column"])
    assert list(english["type"]) == list(spanish["type"])
    rows = spanish.set_index(["table", "column"])
    assert "female = Mujer" in rows.loc[("patients", "sex"), "values"]
    # Item labels in Spanish come from the demo text pack's short labels.
    assert "Hinchazón" in rows.loc[("items", "koos_S1"), "label"]
    assert "0 = Nunca" in rows.loc[("items", "koos_S1"), "values"]
    default = tmp_path / "dictionary-default.csv"
    assert runner.invoke(args=["dictionary", "--format", "csv", "-o", str(default)]
                         ).exit_code == 0
    assert default.read_bytes() == (tmp_path / "dictionary-en.csv").read_bytes()


@pytest.mark.parametrize("command", [
    ["export", "--all", "--format", "csv"],
    ["dictionary", "--format", "csv"],
])
def test_cli_rejects_an_unknown_language(runner, db, tmp_path, command):
    result = runner.invoke(args=[*command, "--language", "fr", "-o", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "--language" in result.output
    assert "'fr' is not one of 'en', 'es'" in result.output
    assert not (tmp_path / "x").exists()


def test_web_export_language_defaults_to_the_page_and_can_be_chosen(client, auth, db,
                                                                     cohort_data):
    auth.login("researcher")
    page = client.get("/research/cohorts/all").get_data(as_text=True)
    assert '<option value="en" lang="en" selected>English</option>' in page
    response = client.post("/research/cohorts/all/export",
                           data={"format": "csv", "shape": "long", "language": "es"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        dictionary = _dictionary(archive.read("data_dictionary.csv"))
    assert manifest["language"] == "es"
    assert "Sexo" in set(dictionary["label"])
    # The page itself stays in its own language after a Spanish export.
    assert "Export (de-identified)" in client.get("/research/cohorts/all").get_data(
        as_text=True)
    refused = client.post("/research/cohorts/all/export",
                          data={"format": "csv", "shape": "long", "language": "fr"})
    assert refused.status_code == 422
    assert "unknown language" in refused.get_data(as_text=True)

