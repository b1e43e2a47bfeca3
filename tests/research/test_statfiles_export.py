"""Stata, SPSS and SAS exports of the test cohort: the cohort page (its form as rendered,
CSRF on) and the command line, read back with pyreadstat and pandas."""

from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import unquote

import pandas as pd
import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.models import AuditEvent, Cohort
from registry.research import options
from registry.research.missing import REASONS_BY_CODE, SPSS_MISSING_RANGE
from tests.fixtures.webtest import sign_in, submit
from tests.research.conftest import TODAY
from tests.research.helpers import read_stat

STAT_FORMATS = ["dta", "sav", "xpt"]
ZIP_FORMATS = ["csv", "parquet", *STAT_FORMATS]


@pytest.fixture
def app_settings() -> dict[str, object]:
    return {"TODAY": TODAY, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def researcher(browser, make_user):
    user = make_user("researcher")
    sign_in(browser, user.email)
    return user


def download(browser, key: str = "all", **choices: object):
    """Fill the cohort page's export form as a user would and submit it."""
    page = browser.get(f"/research/cohorts/{key}")
    form = next(form for form in page.forms.values() if "format" in form.fields)
    for name, value in choices.items():
        form[name] = value
    return submit(form)


def unpack(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def tables_of(raw: dict[str, bytes], fmt: str) -> dict[str, tuple[pd.DataFrame, object]]:
    return {name.rsplit(".", 1)[0]: read_stat(data, fmt) for name, data in raw.items()
            if name.endswith(f".{fmt}")}


def test_the_format_select_offers_every_format(browser, researcher, cohort_data):
    page = browser.get("/research/cohorts/all")
    form = next(form for form in page.forms.values() if "format" in form.fields)
    offered = [value for value, _selected, _text in form["format"].options]
    assert offered == list(options.FORMATS)
    assert {"sav", "xpt"} <= set(offered)


@pytest.mark.parametrize("fmt", STAT_FORMATS)
def test_each_statistics_format_from_the_cohort_page(browser, researcher, db, cohort_data,
                                                     fmt):
    response = download(browser, format=fmt, shape="long", adverse_events=True)
    assert response.status_int == 200, response.text[:300]
    assert response.content_type == "application/zip"
    raw = unpack(response.body)
    manifest = json.loads(raw["manifest.json"])
    assert manifest["format"] == fmt
    for table, facts in manifest["tables"].items():
        assert facts["file"] == f"{table}.{fmt}"
    assert set(manifest["syntax_files"]) == {"R", "Stata", "SPSS", "SAS"}
    tables = tables_of(raw, fmt)
    assert len(tables["patients"][0]) == 3
    assert len(tables["adverse_events"][0]) == 2
    db.expire_all()
    audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    assert json.loads(audit.new_value)["format"] == fmt


@pytest.mark.parametrize("fmt", ZIP_FORMATS)
def test_each_zip_format_from_the_command_line(runner, cohort_data, tmp_path, fmt):
    target = tmp_path / f"export.{fmt}.zip"
    result = runner.invoke(args=["export", "--all", "--format", fmt, "--shape", "wide",
                                 "--items", "-o", str(target)])
    assert result.exit_code == 0, result.output
    raw = unpack(target.read_bytes())
    assert f"outcomes_wide.{fmt}" in raw
    assert "read_export.R" in raw
    assert ("read_export.do" in raw) == (fmt != "parquet")


def test_cli_help_lists_the_formats(runner):
    result = runner.invoke(args=["export", "--help"])
    assert "sav (SPSS files" in result.output
    assert "xpt (SAS transport" in result.output


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_value_labels_are_labels_for_every_coded_variable(browser, researcher, cohort_data,
                                                           fmt):
    raw = unpack(download(browser, format=fmt, shape="wide", adverse_events=True,
                          items=True).body)
    tables = tables_of(raw, fmt)
    wide, meta = tables["outcomes_wide"]
    labels = meta.variable_value_labels
    assert labels["sex"][1] == "Female"
    assert "bone-marrow" in labels["cell_source"][1]
    assert labels["kl_grade"][2] == "2 — minimal"
    assert labels["oarsi_responder_m3"][1] == "Yes"
    events_meta = tables["adverse_events"][1]
    assert events_meta.variable_value_labels["severity_grade"][3] == "3 — severe"
    items_meta = tables["items"][1]
    item_labels = {name: value for name, value in items_meta.variable_value_labels.items()
                   if name.startswith(("koos_", "womac_"))}
    assert len(item_labels) >= 200  # every 0–4 item at every timepoint
    assert all(set(value) >= {0, 1, 2, 3, 4} for value in item_labels.values())
    assert items_meta.variable_value_labels["womac_P1_m3"][4] == "Extreme"


def test_stata_missing_scores_say_why(browser, researcher, cohort_data):
    raw = unpack(download(browser, format="dta", shape="wide").body)
    wide, meta = read_stat(raw["outcomes_wide.dta"], "dta")
    tagged, tagged_meta = _user_missing(raw["outcomes_wide.dta"], "dta")
    # Patient 2 has a baseline only: their 2–6 weeks window has closed (missed).
    row = tagged[tagged["pid"] == wide["pid"][2]].iloc[0]
    assert row["vas_pain_w2_6"] == REASONS_BY_CODE["visit_missed"].stata
    assert row["vas_pain_baseline"] == 80
    assert tagged_meta.variable_value_labels["vas_pain_w2_6"]["c"] == (
        REASONS_BY_CODE["visit_missed"].label)
    assert pd.isna(wide["vas_pain_w2_6"][2])  # a plain reader sees a missing value


def test_spss_missing_scores_are_declared_user_missing(browser, researcher, cohort_data):
    raw = unpack(download(browser, format="sav", shape="wide").body)
    tagged, meta = _user_missing(raw["outcomes_wide.sav"], "sav")
    assert tagged["vas_pain_w2_6"][2] == REASONS_BY_CODE["visit_missed"].spss
    low, high = SPSS_MISSING_RANGE
    assert meta.missing_ranges["vas_pain_w2_6"] == [{"lo": low, "hi": high}]


def _user_missing(data: bytes, fmt: str):
    import tempfile
    from pathlib import Path

    import pyreadstat

    read = {"dta": pyreadstat.read_dta, "sav": pyreadstat.read_sav}[fmt]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"t.{fmt}"
        path.write_bytes(data)
        return read(str(path), user_missing=True)


@pytest.mark.parametrize("fmt", STAT_FORMATS)
def test_pid_is_text_in_every_table_and_tables_merge_on_it(browser, researcher, cohort_data,
                                                           fmt):
    raw = unpack(download(browser, format=fmt, shape="long", adverse_events=True,
                          items=True).body)
    tables = tables_of(raw, fmt)
    for name, (frame, meta) in tables.items():
        assert meta.readstat_variable_types["pid"] == "string", name
        assert "pid" not in meta.variable_value_labels, name
        assert frame["pid"].map(type).eq(str).all(), name
    patients, long = tables["patients"][0], tables["outcomes_long"][0]
    merged = long.merge(patients, on="pid", how="left", validate="many_to_one",
                        suffixes=("", "_patient"))
    assert len(merged) == len(long)
    assert merged["site"].notna().all()


def test_stata_round_trip_keeps_2_6_weeks(browser, researcher, cohort_data):
    raw = unpack(download(browser, format="dta", shape="long").body)
    long = pd.read_stata(io.BytesIO(raw["outcomes_long.dta"]))
    assert "2–6 weeks" in set(long["timepoint"].astype(str))
    wide_raw = unpack(download(browser, format="dta", shape="wide").body)
    with pd.io.stata.StataReader(io.BytesIO(wide_raw["outcomes_wide.dta"])) as reader:
        labels = reader.variable_labels()
    assert labels["vas_pain_w2_6"].endswith("at 2–6 weeks")
    assert labels["vas_pain_w2_6_chg"].startswith("VAS pain at 2–6 weeks")


def test_wide_item_variables_have_distinct_labels_that_keep_the_timepoint(
        browser, researcher, cohort_data):
    raw = unpack(download(browser, format="dta", shape="wide", items=True).body)
    _frame, meta = read_stat(raw["items.dta"], "dta")
    dictionary = pd.read_csv(io.BytesIO(raw["data_dictionary.csv"]))
    full = dictionary[dictionary["table"] == "items"].set_index("stata_name")["label"]
    labels = {name: label for name, label in meta.column_names_to_labels.items()
              if name != "pid"}
    assert len(labels) >= 200
    assert len(set(labels.values())) == len(labels)
    for name, label in labels.items():
        assert len(label) <= 80
        timepoint = re.search(r" at [^:]+$", full[name])
        assert timepoint, name
        assert label.endswith(timepoint.group(0)), (name, label)


@pytest.mark.parametrize("fmt", ["csv", *STAT_FORMATS])
def test_dictionary_records_the_variable_names_of_each_package(browser, researcher,
                                                               cohort_data, fmt):
    raw = unpack(download(browser, format=fmt, shape="long").body)
    dictionary = pd.read_csv(io.BytesIO(raw["data_dictionary.csv"]))
    named = dictionary.dropna(subset=["stata_name"])
    assert (named["stata_name"] == named["spss_name"]).all()
    assert (named["stata_name"] == named["sas_name"]).all()
    sex = dictionary[(dictionary["table"] == "patients") & (dictionary["column"] == "sex")]
    assert sex["numeric_codes"].iloc[0].startswith("1 = female (Female)")
    if fmt in STAT_FORMATS:
        for name, (frame, _meta) in tables_of(raw, fmt).items():
            described = set(named.loc[named["table"] == name, "stata_name"])
            assert set(frame.columns) <= described, name


# -- bad input ----------------------------------------------------------------------------
@pytest.fixture
def long_product(db, cohort_data):
    """A product name of 40 characters; the tests lower a format's text limit to 20."""
    with capture.reason(db, "test set-up"):
        cohort_data.patients[0].treatment.product_name = "Autologous BMAC kit, lot 2026-11-A-0042"
    db.flush()
    return cohort_data


def test_a_value_the_format_cannot_hold_is_a_clear_error_on_the_page(
        browser, researcher, db, long_product, monkeypatch):
    from registry.research import statfiles

    monkeypatch.setitem(statfiles.STRING_MAX, "xpt", 20)
    response = download(browser, format="xpt", shape="long")
    assert response.status_int == 422
    assert "The patients table&#39;s column product holds a text of 39 bytes" in response.text
    assert "SAS XPORT" in response.text
    db.expire_all()
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "export")) is None


def test_a_value_the_format_cannot_hold_is_a_clear_error_on_the_command_line(
        runner, long_product, tmp_path, monkeypatch):
    from registry.research import statfiles

    monkeypatch.setitem(statfiles.STRING_MAX, "sav", 20)
    target = tmp_path / "x.zip"
    result = runner.invoke(args=["export", "--all", "--format", "sav", "-o", str(target)])
    assert result.exit_code == 1
    assert "Error: The patients table's column product holds a text of 39 bytes" in (
        result.output)
    assert "Traceback" not in result.output
    assert not target.exists()


NAME = "Rodilla Ωμέγα 膝 – Łódź"


def test_a_non_latin1_cohort_name_names_the_download(browser, researcher, db, cohort_data):
    cohort = Cohort(name=NAME, definition={}, created_by_id=researcher.id)
    db.add(cohort)
    db.flush()
    response = download(browser, key=str(cohort.id), format="sav", shape="wide")
    assert response.status_int == 200
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")  # a header value Latin-1 can carry
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    assert unquote(encoded).startswith("registry-export-rodilla-ωμέγα-膝")
    assert unquote(encoded).endswith(".zip")


def test_a_non_latin1_cohort_name_on_the_command_line(runner, db, cohort_data, tmp_path):
    db.add(Cohort(name=NAME, definition={}))
    db.flush()
    target = tmp_path / f"{NAME}.zip"
    result = runner.invoke(args=["export", "--cohort", NAME, "--format", "dta", "-o",
                                 str(target)])
    assert result.exit_code == 0, result.output
    assert NAME in result.output
    assert "patients.dta" in unpack(target.read_bytes())
