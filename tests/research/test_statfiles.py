"""Stata, SPSS and SAS files of a table, read back with pyreadstat and pandas.

Built from a table with hand-made specs (the contract with the tables: ``codes`` on every
coded column, ``reason_column`` on scores), so every storage rule is checked here whatever
the export's tables hold; ``test_statfiles_export`` checks the real export.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from registry.research import statfiles, xportnumbers
from registry.research.dictionary import ColumnSpec, stata_label, stata_names
from registry.research.missing import REASONS_BY_CODE, SCORE_REASONS, SPSS_MISSING_RANGE
from registry.research.tables import Table

REASON_CODES = tuple((reason.code, reason.label) for reason in SCORE_REASONS)
TIMEPOINTS = (("baseline", "Baseline"), ("w2_6", "2–6 weeks"), ("m3", "3 months"))
READ = {"dta": pyreadstat.read_dta, "sav": pyreadstat.read_sav, "xpt": pyreadstat.read_xport}


def specs(table: str = "t") -> list[ColumnSpec]:
    return [
        ColumnSpec(table, "pid", "Patient pseudonym", "string"),
        ColumnSpec(table, "sex", "Sex", "category",
                   codes=(("female", "Female"), ("male", "Male"), ("other", "Other"))),
        ColumnSpec(table, "kl_grade", "KL grade", "integer",
                   codes=tuple((grade, f"{grade} — grade") for grade in range(5))),
        ColumnSpec(table, "timepoint", "Timepoint", "category", codes=TIMEPOINTS),
        ColumnSpec(table, "vas_pain_w2_6", "VAS pain at 2–6 weeks", "number",
                   reason_column="vas_pain_w2_6_reason"),
        ColumnSpec(table, "vas_pain_w2_6_reason", "Why VAS pain at 2–6 weeks is missing",
                   "category", codes=REASON_CODES),
        ColumnSpec(table, "mcii", "MCII reached", "boolean", codes=((0, "No"), (1, "Yes")),
                   reason_column="vas_pain_w2_6_reason"),
        ColumnSpec(table, "day", "Visit day", "integer"),
        ColumnSpec(table, "product", "Product name", "string"),
    ]


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "pid": pd.array(["P-0000000000a1", "P-0000000000b2", "P-0000000000c3"],
                        dtype="string"),
        "sex": pd.Categorical(["female", "male", None], categories=["female", "male",
                                                                     "other"]),
        "kl_grade": pd.array([2, 3, None], dtype="Int8"),
        "timepoint": pd.Categorical(["w2_6", "baseline", "w2_6"]),
        "vas_pain_w2_6": [45.5, np.nan, np.nan],
        "vas_pain_w2_6_reason": ["scored", "visit_missed", "not_scorable"],
        "mcii": pd.array([True, None, False], dtype="boolean"),
        "day": pd.array([30, -3, None], dtype="Int32"),
        "product": pd.array(["Cellgenix ™", None, "=cmd"], dtype="string"),
    })


def write(tmp_path: Path, fmt: str, data: pd.DataFrame | None = None,
          table_specs: list[ColumnSpec] | None = None) -> tuple[pd.DataFrame, object]:
    table = Table("t", frame() if data is None else data, table_specs or specs())
    path = tmp_path / f"t.{fmt}"
    statfiles.write_table(table, path, fmt)
    return READ[fmt](str(path), **({} if fmt == "xpt" else {"user_missing": True}))


def test_stata_value_labels_are_the_labels_and_utf8_survives(tmp_path):
    data, meta = write(tmp_path, "dta")
    assert meta.variable_value_labels["sex"] == {1: "Female", 2: "Male", 3: "Other"}
    assert meta.variable_value_labels["kl_grade"][2] == "2 — grade"
    assert meta.variable_value_labels["timepoint"] == {1: "Baseline", 2: "2–6 weeks",
                                                      3: "3 months"}
    assert meta.variable_value_labels["mcii"][0] == "No"
    assert meta.variable_value_labels["mcii"][1] == "Yes"
    assert meta.variable_value_labels["mcii"]["c"] == REASONS_BY_CODE["visit_missed"].label
    assert meta.column_names_to_labels["vas_pain_w2_6"] == "VAS pain at 2–6 weeks"
    # pandas applies the labels: what a researcher sees are labels, not codes.
    labelled = pd.read_stata(tmp_path / "t.dta")
    assert labelled["timepoint"].astype(str).tolist() == ["2–6 weeks", "Baseline",
                                                          "2–6 weeks"]
    assert labelled["sex"].astype(str).tolist()[:2] == ["Female", "Male"]
    assert labelled["mcii"].tolist()[::2] == ["Yes", "No"]
    assert pd.isna(labelled["mcii"][1])
    assert labelled["product"].tolist() == ["Cellgenix ™", "", "=cmd"]  # text as entered


def test_stata_missing_scores_carry_their_reason(tmp_path):
    data, meta = write(tmp_path, "dta")
    assert data["vas_pain_w2_6"].tolist() == [45.5, "c", "a"]
    assert data["mcii"].tolist()[1] == "c"  # a flag of a missing score: the same reason
    assert sorted(meta.missing_user_values["vas_pain_w2_6"]) == ["a", "c"]
    labels = meta.variable_value_labels["vas_pain_w2_6"]
    for reason in SCORE_REASONS:
        if reason.stata:
            assert labels[reason.stata] == reason.label
    # The reason column itself is coded, labelled with the same texts.
    numbers = dict(meta.variable_value_labels["vas_pain_w2_6_reason"])
    assert numbers[data["vas_pain_w2_6_reason"][1]] == REASONS_BY_CODE["visit_missed"].label
    # Without user_missing, Stata's extended missing values are plain missing to pandas.
    assert pd.read_stata(tmp_path / "t.dta")["vas_pain_w2_6"].isna().tolist() == [
        False, True, True]


def test_spss_missing_scores_are_user_missing_codes_with_labels(tmp_path):
    data, meta = write(tmp_path, "sav")
    low, high = SPSS_MISSING_RANGE
    assert data["vas_pain_w2_6"].tolist() == [45.5, REASONS_BY_CODE["visit_missed"].spss,
                                              REASONS_BY_CODE["not_scorable"].spss]
    assert meta.missing_ranges["vas_pain_w2_6"] == [{"lo": low, "hi": high}]
    assert meta.variable_value_labels["vas_pain_w2_6"][-903.0] == (
        REASONS_BY_CODE["visit_missed"].label)
    assert meta.variable_value_labels["sex"] == {1: "Female", 2: "Male", 3: "Other"}
    assert meta.variable_value_labels["timepoint"][2] == "2–6 weeks"
    assert meta.column_names_to_labels["vas_pain_w2_6"] == "VAS pain at 2–6 weeks"
    assert meta.variable_measure["vas_pain_w2_6"] == "scale"
    assert meta.variable_measure["sex"] == "nominal"
    plain, _meta = pyreadstat.read_sav(str(tmp_path / "t.sav"))  # user-missing as missing
    assert plain["vas_pain_w2_6"].isna().tolist() == [False, True, True]


def test_xport_holds_numbers_labels_and_plain_missing(tmp_path):
    data, meta = write(tmp_path, "xpt")
    assert meta.column_names_to_labels["vas_pain_w2_6"] == "VAS pain at 2–6 weeks"
    assert data["sex"].tolist()[:2] == [1, 2]
    assert data["vas_pain_w2_6"].isna().tolist() == [False, True, True]
    assert meta.table_name == "t"


@pytest.mark.parametrize("fmt", ["dta", "sav", "xpt"])
def test_pid_stays_text_in_every_format(tmp_path, fmt):
    data, meta = write(tmp_path, fmt)
    assert meta.readstat_variable_types["pid"] == "string"
    assert data["pid"].tolist() == ["P-0000000000a1", "P-0000000000b2", "P-0000000000c3"]
    assert "pid" not in meta.variable_value_labels


@pytest.mark.parametrize("fmt", ["dta", "sav", "xpt"])
def test_a_pid_given_as_a_categorical_is_still_text(tmp_path, fmt):
    data = frame()
    data["pid"] = pd.Categorical(data["pid"])
    read, meta = write(tmp_path, fmt, data)
    assert meta.readstat_variable_types["pid"] == "string"
    assert read["pid"].tolist()[0] == "P-0000000000a1"


def test_a_stored_code_the_specs_do_not_know_is_kept_and_labelled_as_itself(tmp_path):
    data = frame()
    data["sex"] = pd.Categorical(["female", "intersex", None])
    read, meta = write(tmp_path, "dta", data)
    assert meta.variable_value_labels["sex"][4] == "intersex"
    assert read["sex"].tolist()[1] == 4


@pytest.mark.parametrize("fmt", ["dta", "sav", "xpt"])
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_a_value_the_format_cannot_hold_names_table_and_column(tmp_path, fmt, bad):
    data = frame()
    data["day"] = data["day"].astype("Float64")
    data.loc[0, "day"] = bad
    with pytest.raises(statfiles.CannotStore, match=r"The t table's column day holds -?inf"):
        write(tmp_path, fmt, data)


def test_xport_refuses_numbers_beyond_ibm_floats(tmp_path):
    data = frame()
    data["vas_pain_w2_6"] = [1e80, np.nan, np.nan]
    with pytest.raises(statfiles.CannotStore, match="column vas_pain_w2_6 holds a number"):
        write(tmp_path, "xpt", data)
    write(tmp_path, "dta", data)  # Stata holds it


def test_too_long_text_names_table_and_column(tmp_path):
    data = frame()
    data["product"] = pd.array(["x" * 32_768, None, None], dtype="string")
    for fmt in ("sav", "xpt"):
        with pytest.raises(statfiles.CannotStore, match="column product holds a text of 32,768"):
            write(tmp_path, fmt, data)
    read, meta = write(tmp_path, "dta", data)  # Stata: a strL
    assert len(read["product"][0]) == 32_768


def test_a_score_inside_the_spss_missing_range_is_refused_not_hidden(tmp_path):
    data = frame()
    data["vas_pain_w2_6"] = [-950.0, np.nan, np.nan]
    with pytest.raises(statfiles.CannotStore, match="inside the range SPSS reads as a missing"):
        write(tmp_path, "sav", data)


def test_empty_table_writes_headers(tmp_path):
    for fmt in ("dta", "sav", "xpt"):
        read, meta = write(tmp_path, fmt, frame().iloc[:0])
        assert len(read) == 0
        assert "pid" in meta.column_names


# -- names and labels -------------------------------------------------------------------
def test_names_are_valid_in_stata_spss_and_sas_and_unique_ignoring_case():
    names = stata_names(["koos_P1", "koos_p1", "_x", "2nd", "in", "with", "a" * 40,
                         "a" * 40 + "b", "value[score=vas]"])
    assert list(names.values()) == ["koos_P1", "koos_p1_1", "v__x", "v_2nd", "in_", "with_",
                                    "a" * 28, "a" * 26 + "_1", "value_score_vas_"]
    assert all(len(name) <= 28 and name[0].isalpha() for name in names.values())


def test_shortened_labels_keep_the_timepoint_and_the_start():
    label = ("KOOS A17 Heavy domestic duties (moving heavy boxes, scrubbing floors, "
             "etc.) at 2–6 weeks: change from baseline")
    short = stata_label(label)
    assert len(short) == 80
    assert short.startswith("KOOS A17 Heavy")
    assert short.endswith(" at 2–6 weeks: change from baseline")
    assert stata_label("Short at 3 months") == "Short at 3 months"


def test_labels_that_shorten_alike_stay_distinct(tmp_path):
    long_start = "Knee injury and Osteoarthritis Outcome Score, activities of daily living"
    table_specs = [ColumnSpec("t", f"item_{n}", f"{long_start} item {n} at 3 months",
                              "number") for n in range(3)]
    data = pd.DataFrame({f"item_{n}": [1.0] for n in range(3)})
    _read, meta = write(tmp_path, "dta", data, table_specs)
    labels = list(meta.column_names_to_labels.values())
    assert len(set(labels)) == 3
    assert all(len(label) <= 80 and label.endswith(" at 3 months") for label in labels)


# -- rows written in bulk: byte for byte what pyreadstat writes ---------------------------
TIMESTAMPS = [rb"<timestamp>\x11[^<]*</timestamp>",  # Stata
              rb"\d\d \w{3} \d\d\d\d:\d\d:\d\d",  # SPSS: creation date and time
              rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d"]  # XPORT: created / modified


def _without_timestamps(content: bytes) -> bytes:
    import re

    for pattern in TIMESTAMPS:
        content = re.sub(pattern, b"<time>", content)
    return content


def _numbers_frame(rows: int) -> pd.DataFrame:
    """Every kind of column, with doubles across IBM and IEEE exponents and signs."""
    generator = np.random.default_rng(16)
    data = pd.concat([frame()] * (rows // 3 + 1), ignore_index=True).iloc[:rows]
    scale = 10.0 ** generator.integers(-70, 70, rows)
    values = generator.normal(size=rows) * scale
    values[::7] = np.nan
    values[1::11] = 0.0
    values[2::13] = np.round(values[2::13])
    data["vas_pain_w2_6"] = values
    data["vas_pain_w2_6_reason"] = np.where(np.isnan(values), np.array(
        ["visit_missed", "not_scorable", "withdrawn", "scored"])[np.arange(rows) % 4],
        "scored")
    return data.reset_index(drop=True)


# No 0-row case: pyreadstat stores a reason-coded whole-number column without rows (or
# with missing values only) as a double, the bulk template as a long; both read the same.
@pytest.mark.parametrize("fmt", ["dta", "sav", "xpt"])
@pytest.mark.parametrize("rows", [1, 3, 10, 401])
def test_bulk_rows_are_byte_for_byte_pyreadstats(tmp_path, monkeypatch, fmt, rows):
    """Stata and SPSS: byte for byte pyreadstat's file.  XPORT: pyreadstat's file with the
    coded variables cut to 3 bytes, every byte cut a zero (so no value changes)."""
    from registry.research import statrows

    monkeypatch.setattr(statrows, "ROWS_PER_SLICE", 7)  # several slices
    monkeypatch.setattr(statrows, "ROWS_PER_BLOCK", 3)  # of several blocks
    table = Table("t", _numbers_frame(rows), specs())
    statfiles.write_table(table, tmp_path / f"bulk.{fmt}", fmt)
    statfiles.write_table(table, tmp_path / f"plain.{fmt}", fmt, bulk=False)
    bulk = (tmp_path / f"bulk.{fmt}").read_bytes()
    plain = (tmp_path / f"plain.{fmt}").read_bytes()
    if fmt == "xpt":
        lengths = _xport_lengths(bulk)
        assert [name for name, length in lengths.items() if length == 3] == [
            "sex", "kl_grade", "timepoint", "vas_pain_w2_6_reason", "mcii"]
        plain = _xport_cut(plain, list(lengths.values()))
        pd.testing.assert_frame_equal(pyreadstat.read_xport(str(tmp_path / "bulk.xpt"))[0],
                                      pyreadstat.read_xport(str(tmp_path / "plain.xpt"))[0])
    assert len(bulk) == len(plain)
    assert _without_timestamps(bulk) == _without_timestamps(plain)


XPORT_NAMESTRS = b"HEADER RECORD*******NAMSTV8 HEADER RECORD!!!!!!!"
XPORT_OBS = b"HEADER RECORD*******OBSV8   HEADER RECORD!!!!!!!"


def _xport_namestrs(content: bytes) -> tuple[int, int]:
    """Where an XPORT file's NAMESTR records start, and how many there are (SAS TS-140)."""
    record = content.index(XPORT_NAMESTRS)
    return record + 80, int(content[record + 54:record + 58])


def _xport_lengths(content: bytes) -> dict[str, int]:
    start, count = _xport_namestrs(content)
    return {content[start + 140 * index + 88:start + 140 * index + 120].decode().strip():
            struct.unpack_from(">h", content, start + 140 * index + 4)[0]
            for index in range(count)}


def _xport_cut(content: bytes, lengths: list[int]) -> bytes:
    """An XPORT file of 8-byte numbers with each variable cut to ``lengths`` bytes: the
    NAMESTRs' lengths and positions, and every row (asserting the bytes cut are zeros)."""
    start, count = _xport_namestrs(content)
    head = bytearray(content[:content.index(XPORT_OBS) + 80])
    rows = int(head[-80 + 48:-80 + 63])
    old = [struct.unpack_from(">h", content, start + 140 * index + 4)[0]
           for index in range(count)]
    for index, position in enumerate(np.cumsum([0, *lengths[:-1]])):
        struct.pack_into(">h", head, start + 140 * index + 4, lengths[index])
        struct.pack_into(">i", head, start + 140 * index + 84, int(position))
    block = np.frombuffer(content, np.uint8, rows * sum(old), len(head)).reshape(rows, -1)
    kept = []
    for offset, length, was in zip(np.cumsum([0, *old[:-1]]), lengths, old, strict=True):
        kept.append(block[:, offset:offset + length])
        assert not block[:, offset + length:offset + was].any()
    body = np.concatenate(kept, axis=1).tobytes()
    return bytes(head) + body + b" " * (-len(body) % 80)


@pytest.mark.parametrize("number", [0, 1, -1, 15, 16, 255, 256, 4095, 4096, 65535, -65535])
def test_a_3_byte_xport_number_holds_whole_numbers_to_65535_exactly(number):

    assert xportnumbers.fits_short(np.array([float(number), np.nan]))
    bits = xportnumbers.ibm_bits(np.array([float(number)])).astype(">u8").view(np.uint8)
    assert not bits[3:].any()  # nothing is cut


def _ibm_reference(number: float) -> int:
    """IBM hexadecimal floating point by its definition (SAS TS-140), one number at a
    time: sign, characteristic p + 64 and a 56-bit fraction g with |x| = g / 2**56 × 16**p,
    1/16 <= g / 2**56 < 1; missing is ".", too small a number is 0."""
    if math.isnan(number):
        return 0x2E << 56
    magnitude = Fraction(abs(number))
    if magnitude == 0:
        return 0
    power = 0
    while magnitude >= 16 ** power:
        power += 1
    while magnitude < Fraction(16) ** (power - 1):
        power -= 1
    if power + 64 < 0:
        return 0
    fraction = magnitude / Fraction(16) ** power * 2 ** 56
    assert fraction.denominator == 1  # exact: a double's 53 bits fit in 56
    return (number < 0) << 63 | (power + 64) << 56 | int(fraction)


def test_ibm_bits_are_the_definitions_across_exponents_and_edges():

    generator = np.random.default_rng(140)
    numbers = np.concatenate([
        generator.normal(size=400) * 10.0 ** generator.integers(-75, 75, 400),
        [0.0, -0.0, 1.0, -1.0, 0.5, 1 / 16, 15 / 16, 16.0, 5e-324, 2.0 ** -1022, 1e-80,
         16.0 ** -65, 16.0 ** -64, -(16.0 ** -64), 16.0 ** 62, np.nan]])
    expected = [_ibm_reference(float(number)) for number in numbers]
    assert xportnumbers.ibm_bits(numbers).tolist() == expected


@pytest.mark.parametrize("number", [65536, 70000, 0.5, -65536, 1e9])
def test_a_number_beyond_3_bytes_is_not_short(number):

    assert not xportnumbers.fits_short(np.array([float(number)]))


def test_a_coded_value_beyond_3_bytes_keeps_its_8_bytes(tmp_path):
    table_specs = specs()
    table_specs[2] = ColumnSpec("t", "kl_grade", "KL grade", "integer",
                                codes=((2, "2"), (3, "3")))
    data = frame()
    data["kl_grade"] = pd.array([2, 70_000, None], dtype="Int32")  # not a listed code
    read, _meta = write(tmp_path, "xpt", data, table_specs)
    assert read["kl_grade"].tolist()[:2] == [2, 70_000]
    assert _xport_lengths((tmp_path / "t.xpt").read_bytes())["kl_grade"] == 8


def test_tables_beyond_the_bulk_layout_are_written_by_pyreadstat(tmp_path):
    data = frame()
    data["product"] = pd.array(["y" * 300, None, "z"], dtype="string")
    for fmt in ("sav", "xpt"):
        read, _meta = write(tmp_path, fmt, data)
        assert read["product"][0] == "y" * 300


class StreamedTable(Table):
    """A table read piece by piece, as the long table is (pieces of 4 rows)."""

    @property
    def frame(self) -> pd.DataFrame:
        raise AssertionError("a streamed table is never read whole by these writers")

    @property
    def column_names(self) -> list[str]:
        return [str(column) for column in self._rows_frame.columns]

    def arrow_schema(self):
        import pyarrow as pa

        return pa.Schema.from_pandas(self._rows_frame.iloc[:0], preserve_index=False)

    def chunks(self):
        for start in range(0, len(self._rows_frame), 4):
            yield self._rows_frame.iloc[start:start + 4]

    def build(self, piece):
        import pyarrow as pa

        return pa.Table.from_pandas(piece, schema=self.arrow_schema(), preserve_index=False)


@pytest.mark.parametrize("fmt", ["dta", "sav", "xpt"])
@pytest.mark.parametrize("rows", [0, 1, 4, 37])
def test_a_streamed_table_gives_the_same_file_as_a_held_one(tmp_path, monkeypatch, fmt,
                                                             rows):
    from registry.research import statrows

    monkeypatch.setattr(statrows, "ROWS_PER_BLOCK", 3)  # pieces of 4: blocks of 3 and 1
    data = _numbers_frame(rows)
    data["product"] = pd.array(["Cellgenix ™"] * rows, dtype="string")  # one width
    progress: list[int] = []
    statfiles.write_table(StreamedTable("t", data, specs()), tmp_path / f"s.{fmt}", fmt,
                          progress.append)
    statfiles.write_table(Table("t", data, specs()), tmp_path / f"h.{fmt}", fmt)
    assert sum(progress) == rows
    assert _without_timestamps((tmp_path / f"s.{fmt}").read_bytes()) == _without_timestamps(
        (tmp_path / f"h.{fmt}").read_bytes())


def test_a_streamed_piece_that_breaks_the_plan_is_refused(tmp_path):
    data = _numbers_frame(12)
    data["product"] = pd.array(["short"] * 8 + ["much longer text"] * 4, dtype="string")
    with pytest.raises(statfiles.CannotStore, match="column product holds a text longer"):
        statfiles.write_table(StreamedTable("t", data, specs()), tmp_path / "s.dta", "dta")
    data = _numbers_frame(12)
    data["sex"] = pd.Categorical(["female"] * 8 + ["intersex"] * 4)
    with pytest.raises(statfiles.CannotStore, match="column sex holds a code its data"):
        statfiles.write_table(StreamedTable("t", data, specs()), tmp_path / "s.sav", "sav")
    data = _numbers_frame(12)
    data["kl_grade"] = pd.array([2] * 8 + [70_000] * 4, dtype="Int32")
    with pytest.raises(statfiles.CannotStore, match="column kl_grade holds a code that is not"):
        statfiles.write_table(StreamedTable("t", data, specs()), tmp_path / "s.xpt", "xpt")


@pytest.mark.parametrize("streamed", [False, True])
def test_an_unexpected_template_layout_falls_back_to_pyreadstat(tmp_path, monkeypatch,
                                                                streamed):
    from registry.research import statrows

    def refuse(*_args):
        raise statrows.LayoutError("another pyreadstat")

    monkeypatch.setattr(statrows, "RowWriter", refuse)
    data = _numbers_frame(9)
    data["product"] = pd.array(["Cellgenix ™"] * 9, dtype="string")
    table = (StreamedTable if streamed else Table)("t", data, specs())
    statfiles.write_table(table, tmp_path / "t.dta", "dta")
    monkeypatch.undo()
    statfiles.write_table(Table("t", data, specs()), tmp_path / "bulk.dta", "dta")
    read, _meta = pyreadstat.read_dta(str(tmp_path / "t.dta"), user_missing=True)
    expected, _meta = pyreadstat.read_dta(str(tmp_path / "bulk.dta"), user_missing=True)
    pd.testing.assert_frame_equal(read, expected)
