"""Why a value is missing: every empty score cell of the long and wide exports has the
right reason, and the long table pivots to the wide one, reasons included."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from registry.research.export import ExportOptions, export_cohort
from registry.research.missing import REASON_OF_VISIT_STATUS, SCORE_REASONS
from registry.research.pseudonyms import Pseudonymiser
from tests.research import test_visits_table

every_status = test_visits_table.every_status  # the cohort with every visit status

KEY, PROJECT = "test-key", "Reasons"
REASON_CODES = {reason.code for reason in SCORE_REASONS}

# (patient, timepoint, score) -> (value_reason, change_reason; None: empty)
CASES = [
    ("A", "baseline", "vas_pain", "scored", None),
    ("A", "w2_6", "vas_pain", "visit_missed", "visit_missed"),
    ("A", "m3", "vas_pain", "scored", "scored"),  # done out of window: still scored
    ("A", "m3", "koos_pain", "not_scorable", "not_scorable"),  # P1-P9 unanswered
    ("A", "m3", "koos_symptoms", "scored", "scored"),
    ("A", "m3", "grc", "not_answered", "not_answered"),  # recorded at follow-ups, not asked
    ("A", "m6_12", "vas_pain", "visit_pending", "visit_pending"),  # overdue
    ("A", "unscheduled", "vas_pain", "scored", "scored"),
    ("A", "unscheduled", "pga", "not_answered", "not_answered"),
    ("B", "w2_6", "womac_total", "visit_pending", "visit_pending"),  # due
    ("B", "m3", "vas_pain", "visit_pending", "visit_pending"),  # not yet due
    ("C", "m3", "vas_pain", "visit_pending", "visit_pending"),  # upcoming
    ("C", "m6_12", "koos_qol", "visit_not_applicable", "visit_not_applicable"),
    ("D", "w2_6", "vas_pain", "visit_missed", "visit_missed"),  # missed, then withdrew
    ("D", "m3", "vas_pain", "withdrawn", "withdrawn"),
    ("D", "m6_12", "pga", "withdrawn", "withdrawn"),
    ("E", "baseline", "vas_pain", "visit_missed", None),
    ("E", "w2_6", "vas_pain", "scored", "no_baseline"),
]


def _export(db, tmp_path: Path, fmt: str, shape: str) -> dict[str, pd.DataFrame]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / f"{shape}.{fmt}.zip"
    export_cohort(db, cohort_name="Reasons", definition={},
                  options=ExportOptions(format=fmt, shape=shape, project=PROJECT),
                  pseudonym_key=KEY, free_text_allowed=False, target=target)
    read = {"csv": pd.read_csv, "parquet": pd.read_parquet}[fmt]
    with zipfile.ZipFile(target) as archive:
        return {name.rsplit(".", 1)[0]: read(io.BytesIO(archive.read(name)))
                for name in archive.namelist() if name.endswith(f".{fmt}")}


def _pids(every_status) -> dict[str, str]:
    pseudonyms = Pseudonymiser(KEY, PROJECT)
    return {label: pseudonyms.pseudonym(patient.id)
            for label, patient in every_status.patients.items()}


@pytest.fixture
def long_table(db, every_status, tmp_path) -> pd.DataFrame:
    return _export(db, tmp_path, "parquet", "long")["outcomes_long"]


@pytest.mark.parametrize(("who", "timepoint", "score", "value_reason", "change_reason"), CASES)
def test_long_rows_say_why(long_table, every_status, who, timepoint, score, value_reason,
                           change_reason):
    pid = _pids(every_status)[who]
    rows = long_table[(long_table["pid"] == pid) & (long_table["timepoint"] == timepoint)
                      & (long_table["score"] == score)]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["value_reason"] == value_reason
    assert (None if pd.isna(row["change_reason"]) else row["change_reason"]) == change_reason
    assert pd.isna(row["value"]) is (value_reason != "scored")
    assert bool(row["unscheduled"]) is (timepoint == "unscheduled")


def test_every_long_cell_is_present_or_has_a_reason(long_table):
    reason = long_table["value_reason"].astype(str)
    assert set(reason) <= REASON_CODES
    assert (long_table["value"].isna() == (reason != "scored")).all()
    follow = long_table["timepoint"] != "baseline"
    change = long_table.loc[follow, "change_reason"].astype(str)
    assert (long_table.loc[follow, "change"].isna() == (change != "scored")).all()
    assert long_table.loc[~follow, "change_reason"].isna().all()
    # A missing visit's rows carry its status' reason, never "scored".
    assert set(REASON_OF_VISIT_STATUS.values()) - {"not_answered"} <= set(reason)


def test_wide_reasons_and_the_long_pivot(db, every_status, tmp_path):
    tables = _export(db, tmp_path, "csv", "wide")
    long = _export(db, tmp_path, "csv", "long")["outcomes_long"]
    wide = tables["outcomes_wide"].set_index("pid")
    pids = _pids(every_status)
    for who, timepoint, score, value_reason, change_reason in CASES:
        if timepoint == "unscheduled":
            continue
        expected = "no_baseline" if change_reason == "no_baseline" else value_reason
        assert wide.loc[pids[who], f"{score}_{timepoint}_reason"] == expected, (who, score)
    scheduled = long[~long["unscheduled"].astype(bool)]
    reason_columns = [c for c in wide.columns
                      if c.endswith("_reason") and c.removesuffix("_reason") in wide]
    checked = 0
    for column in reason_columns:
        value_column = column.removesuffix("_reason")
        reason = wide[column]
        assert set(reason) <= REASON_CODES
        present = wide[value_column].notna()
        assert (present == reason.isin(["scored", "no_baseline"])).all(), column
        if f"{value_column}_chg" in wide:
            assert (wide[f"{value_column}_chg"].notna() == (reason == "scored")).all()
        checked += 1
    assert checked == len(reason_columns) > 100
    # Long -> wide: values and reasons (scheduled visits) pivot to the wide table exactly.
    key = scheduled["score"] + "_" + scheduled["timepoint"]
    values = scheduled.assign(key=key).pivot(index="pid", columns="key", values="value")
    reasons = scheduled.assign(
        key=key, why=np.where(scheduled["change_reason"] == "no_baseline", "no_baseline",
                              scheduled["value_reason"])
    ).pivot(index="pid", columns="key", values="why")
    for column in values.columns:
        pd.testing.assert_series_equal(values[column].reindex(wide.index), wide[column],
                                       check_names=False)
        got = reasons[column].reindex(wide.index)
        # A score the timepoint does not record has no long row: the wide reason is the
        # visit's (not answered at a done visit).
        both = got.notna()
        assert (got[both] == wide.loc[both, f"{column}_reason"]).all(), column
    unscheduled = tables["outcomes_unscheduled"]
    a = pids["A"]
    assert set(unscheduled["pid"]) == {a}
    vas = unscheduled[unscheduled["score"] == "vas_pain"].iloc[0]
    assert (vas["value"], vas["baseline"], vas["change"], vas["day"]) == (40, 60, -20, 60)
    assert set(unscheduled["timepoint"]) == {"unscheduled"}


def test_rows_without_values_do_not_depend_on_the_chunking(db, every_status, tmp_path,
                                                           monkeypatch):
    """Patients whose visits have no stored score at all still get their rows, whatever
    the chunks (one patient each here)."""
    from registry.research import scorestream

    whole = _export(db, tmp_path / "whole", "parquet", "long")["outcomes_long"]
    for name, value in {"CHUNK_ROWS": 1, "BLOCK_ROWS": 3, "BLOCK_BYTES": 1}.items():
        monkeypatch.setattr(scorestream, name, value)
    sliced = _export(db, tmp_path / "sliced", "parquet", "long")["outcomes_long"]
    pd.testing.assert_frame_equal(whole, sliced, check_exact=True)
    assert len(whole) == sum(1 for _ in whole.itertuples())
    assert whole["pid"].nunique() == 5
