"""Exports carry each visit's mode of collection: a ``collection_mode`` column in the long
table, ``collection_mode_<timepoint>`` in the wide one, described with its value labels."""

from __future__ import annotations

import pandas as pd
import pytest

from registry.vocabularies import COLLECTION_MODES
from tests.research.helpers import export, open_export

FORMATS = ["csv", "xlsx", "parquet", "dta"]


@pytest.fixture
def with_modes(db, cohort_data):
    """Patient 0: baseline by staff interview, 3 months by link; patient 1: 2–6 weeks on
    paper, baseline not recorded (unknown); patient 2: baseline on the clinic tablet."""
    visits = [sorted((v for v in p.visits if v.status == "done"), key=lambda v: v.visit_date)
              for p in cohort_data.patients]
    visits[0][0].collection_mode = "staff_interview"
    visits[0][1].collection_mode = "self_link"
    visits[1][1].collection_mode = "paper"
    visits[2][0].collection_mode = "self_kiosk"
    db.flush()
    return cohort_data


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_rows_carry_their_visits_mode(auth, client, with_modes, fmt):
    auth.login("researcher")
    tables, _manifest, _raw = open_export(export(client, format=fmt, shape="long").data, fmt)
    long = tables["outcomes_long"]
    assert list(long.columns[:5]) == ["pid", "timepoint", "day", "collection_mode", "score"]
    modes = {(row.timepoint, int(row.day)): _text(row.collection_mode)
             for row in long.dropna(subset=["day"]).itertuples()}
    assert modes == {("baseline", -5): "staff_interview", ("m3", 91): "self_link",
                     ("baseline", -3): None, ("w2_6", 30): "paper",
                     ("baseline", -1): "self_kiosk"}
    # Every row of a visit has the same mode.
    assert long.groupby(["pid", "timepoint"], observed=True)["collection_mode"].nunique(
        dropna=False).max() == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_wide_has_a_mode_per_timepoint_and_matches_long(auth, client, with_modes, fmt):
    auth.login("researcher")
    same = {"format": fmt, "pseudonyms": "project", "project": "P"}  # the same pids
    wide = open_export(export(client, shape="wide", **same).data, fmt)[0]["outcomes_wide"]
    long = open_export(export(client, shape="long", **same).data, fmt)[0]["outcomes_long"]
    for column in ("collection_mode_baseline", "collection_mode_w2_6", "collection_mode_m3",
                   "collection_mode_m6_12"):
        assert column in wide.columns
    assert [_text(v) for v in wide["collection_mode_baseline"]] == [
        "staff_interview", None, "self_kiosk"]
    assert [_text(v) for v in wide["collection_mode_m6_12"]] == [None, None, None]
    # The long table pivots to the wide table's mode columns exactly.
    pivot = long.drop_duplicates(["pid", "timepoint"]).set_index(["pid", "timepoint"])
    for row in wide.itertuples():
        for timepoint in ("baseline", "w2_6", "m3"):
            expected = _text(getattr(row, f"collection_mode_{timepoint}"))
            key = (row.pid, timepoint)
            got = _text(pivot.loc[key, "collection_mode"]) if key in pivot.index else None
            assert got == expected, key


def test_dictionary_documents_the_mode_with_its_value_labels(auth, client, with_modes):
    auth.login("researcher")
    for shape, column in (("long", "collection_mode"), ("wide", "collection_mode_m3")):
        tables = open_export(export(client, format="csv", shape=shape).data, "csv")[0]
        dictionary = tables["data_dictionary"]
        row = dictionary[dictionary["column"] == column].iloc[0]
        assert row["type"] == "category"
        assert row["source"] == "visit.collection_mode"
        for code, label in COLLECTION_MODES.items():
            assert f"{code} = {label}" in row["values"]
        assert "not recorded" in row["missing_rule"]


def test_stata_export_labels_the_mode_values(auth, client, with_modes):
    auth.login("researcher")
    # open_export turns the stored numbers back into codes; the file holds value labels.
    tables = open_export(export(client, format="dta", shape="long").data, "dta")[0]
    assert set(tables["outcomes_long"]["collection_mode"].dropna().astype(str)) == {
        "staff_interview", "self_link", "paper", "self_kiosk"}
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(export(client, format="dta", shape="long").data)) as z:
        labelled = pd.read_stata(io.BytesIO(z.read("outcomes_long.dta")))
    assert set(labelled["collection_mode"].dropna().astype(str)) == {
        COLLECTION_MODES[code] for code in ("staff_interview", "self_link", "paper",
                                            "self_kiosk")}
