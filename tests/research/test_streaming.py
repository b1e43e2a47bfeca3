"""The long table is read and written in chunks: the result must not depend on the chunking,
the Arrow pieces must equal pandas' own conversion, and the number of queries is bounded."""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import scoring
from registry.research import cohorts, dataset, scorestream, writers
from registry.research.export import ExportOptions, export_cohort
from registry.research.longtable import LongTable, merge
from tests.fixtures.database import recorded_statements
from tests.research.conftest import TREATED, answers
from tests.research.helpers import PER_PATIENT

TINY_CHUNKS = {"CHUNK_ROWS": 1, "BLOCK_ROWS": 7, "BLOCK_BYTES": 1}


@pytest.fixture
def more_data(db, cohort_data, make_patient, record_visit, site_a):
    """The demo cohort plus a patient whose visit has a score stored twice (KOOS-12 scores
    from both the KOOS and the KOOS-12 questionnaire) and one with a missing item."""
    patient = make_patient(site_a, treatment_date=TREATED, kl_grade=4)
    visits = sorted(patient.visits, key=lambda v: v.target_date)
    koos12 = {item.code: 1 for item in scoring.INSTRUMENTS["koos12"].items}
    record_visit(visits[0], TREATED - timedelta(days=2), {**answers(60, 55, 2, 2),
                                                          "koos12": koos12})
    partial = answers(35, 30, 1, 1)
    partial["koos"] = {**partial["koos"], "P1": None, "P2": None, "P3": None, "P4": None,
                       "P5": None, "P6": None, "P7": None, "P8": None, "P9": None}
    record_visit(visits[3], TREATED + timedelta(days=200), partial)
    db.flush()
    return cohort_data


def _export(db, tmp_path: Path, fmt: str, name: str) -> dict[str, bytes]:
    target = tmp_path / name
    export_cohort(db, cohort_name="All", definition={},
                  options=ExportOptions(format=fmt, shape="long", project="Same"),
                  pseudonym_key="test-key", free_text_allowed=False, target=target)
    with zipfile.ZipFile(target) as archive:
        return {member: archive.read(member) for member in archive.namelist()}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_chunked_export_equals_a_single_chunk(monkeypatch, db, more_data, tmp_path, fmt):
    whole = _export(db, tmp_path, fmt, "whole.zip")
    for name, value in TINY_CHUNKS.items():
        monkeypatch.setattr(scorestream, name, value)
    sliced = _export(db, tmp_path, fmt, "sliced.zip")
    assert list(whole) == list(sliced)
    member = f"outcomes_long.{fmt}"
    if fmt == "csv":
        assert whole[member] == sliced[member]
        long = pd.read_csv(io.BytesIO(whole[member]))
    else:
        long = pd.read_parquet(io.BytesIO(whole[member]))
        pd.testing.assert_frame_equal(long, pd.read_parquet(io.BytesIO(sliced[member])),
                                      check_exact=True)
        assert pq.read_schema(io.BytesIO(whole[member])).equals(
            pq.read_schema(io.BytesIO(sliced[member])), check_metadata=True)
        assert pq.ParquetFile(io.BytesIO(sliced[member])).num_row_groups > 1
    # Four patients of the default protocol; the fourth has koos12 twice at baseline.
    assert len(long) == 4 * PER_PATIENT + 4
    assert (long["score"] == "koos12_pain").sum() == 4 * 4 + 1
    pid = long["pid"].astype(object)  # plain text (a nullable string's shift gives <NA>)
    assert pid.ne(pid.shift()).sum() == pid.nunique()  # contiguous
    manifest = json.loads(sliced["manifest.json"])
    assert manifest["tables"]["outcomes_long"]["rows"] == len(long)
    assert hashlib.sha256(sliced[member]).hexdigest() == \
        manifest["tables"]["outcomes_long"]["sha256"]


def _long_table(db, monkeypatch) -> LongTable:
    for name, value in TINY_CHUNKS.items():
        monkeypatch.setattr(scorestream, name, value)
    cohort = cohorts.cohort_select(db, {})
    data = dataset.load(db, cohort, scores=False)
    pids = [f"P-{n:04d}" for n in range(len(data.patients))]
    return LongTable("outcomes_long", data.timepoints, data.score_codes, pids,
                     lambda: scorestream.chunks(db, cohort, data.patients["patient_id"]
                                                .to_numpy(), data.score_codes,
                                                data.timepoint_of, len(data.timepoints)),
                     scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET))


def test_arrow_pieces_equal_pandas_conversion_of_the_whole_frame(monkeypatch, db, more_data):
    table = _long_table(db, monkeypatch)
    chunks = list(table.chunks())
    assert len(chunks) > 1
    assert all(a.stop <= b.first for a, b in zip(chunks, chunks[1:], strict=False))
    built = pa.concat_tables([table.build(chunk) for chunk in chunks])
    whole = merge(chunks)
    frame = table.pandas_frame(whole, table.derive(whole))
    expected = pa.Table.from_pandas(frame, schema=table.arrow_schema(), preserve_index=False)
    assert built.equals(expected, check_metadata=True)
    assert built.column("value").null_count > 0  # missing values became nulls
    assert built.column("mic").null_count > 0


def test_the_whole_frame_is_the_same_when_read_in_one_go(monkeypatch, db, more_data):
    table = _long_table(db, monkeypatch)
    frame = table.frame
    assert table.rows == len(frame) == 4 * PER_PATIENT + 4
    assert isinstance(frame["pid"].dtype, pd.StringDtype)  # never codes: one type everywhere
    assert str(frame["mcii"].dtype) == "boolean"
    assert frame["day"].dtype == "Int32"  # empty for the visits not done


@pytest.fixture
def statements(db, monkeypatch) -> Iterator[list[str]]:
    """Every statement sent to the database (the PostgreSQL score stream runs on the
    driver's cursor, so it is counted where it starts)."""
    with recorded_statements(db.get_bind()) as seen:
        original = scorestream._postgres_blocks

        def postgres_blocks(*args, **kwargs):
            seen.append("score stream")
            return original(*args, **kwargs)

        monkeypatch.setattr(scorestream, "_postgres_blocks", postgres_blocks)
        yield seen


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_queries_do_not_grow_with_patients_or_chunks(monkeypatch, db, cohort_data,
                                                     make_patient, record_visit, site_b,
                                                     tmp_path, statements, fmt):
    _export(db, tmp_path, fmt, "three.zip")
    few = len(statements)
    for _ in range(4):
        patient = make_patient(site_b, treatment_date=TREATED)
        visit = min(patient.visits, key=lambda v: v.target_date)
        record_visit(visit, TREATED - timedelta(days=1), answers(40, 40, 2, 2))
    for name, value in TINY_CHUNKS.items():
        monkeypatch.setattr(scorestream, name, value)
    statements.clear()
    _export(db, tmp_path, fmt, "seven.zip")
    assert len(statements) == few
    assert few <= 12, statements


def test_zip_switches_to_stored_once_the_tables_are_large(monkeypatch, db, more_data,
                                                          tmp_path):
    monkeypatch.setattr(writers, "STORE_ABOVE", 20_000)
    members = _export(db, tmp_path, "csv", "large.zip")
    with zipfile.ZipFile(tmp_path / "large.zip") as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds["patients.csv"] == kinds["outcomes_long.csv"] == zipfile.ZIP_STORED
    assert kinds["manifest.json"] == zipfile.ZIP_DEFLATED
    manifest = json.loads(members["manifest.json"])
    for name, facts in manifest["tables"].items():
        assert hashlib.sha256(members[facts["file"]]).hexdigest() == facts["sha256"], name
    monkeypatch.setattr(writers, "STORE_ABOVE", 64 * 1024 * 1024)
    small = _export(db, tmp_path, "csv", "small.zip")
    with zipfile.ZipFile(tmp_path / "small.zip") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    assert small["outcomes_long.csv"] == members["outcomes_long.csv"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_progress_counts_rows_read_and_rows_written(monkeypatch, db, more_data, tmp_path,
                                                    fmt):
    """The export reports its reading (``scorestream``) and its writing (``writers``);
    ``export_cohort`` makes the callback thread-safe once and the writers keep it."""
    reports: list[tuple[str, int]] = []

    def progress(count: int) -> None:
        # The first frame past the thread-safe wrapper (``writers.locked``'s ``report``).
        frame = next(frame for frame in inspect.stack()[1:] if frame.function != "report")
        caller = "writers" if frame.filename.endswith("writers.py") else "reading"
        reports.append((caller, count))

    target = tmp_path / "export.zip"
    export_cohort(db, cohort_name="All", definition={},
                  options=ExportOptions(format=fmt, shape="long", project="Same"),
                  pseudonym_key="test-key", free_text_allowed=False, target=target,
                  progress=progress)
    with zipfile.ZipFile(target) as archive:
        tables = [archive.read(name) for name in archive.namelist()
                  if name.endswith(f".{fmt}") and not name.startswith("data_dictionary")]
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    rows = sum(len(read(io.BytesIO(table))) for table in tables)
    assert rows >= 4 * PER_PATIENT + 4  # outcomes_long among them
    written = sum(count for caller, count in reports if caller == "writers")
    assert written == rows  # every row of every table, once
    assert sum(count for caller, count in reports if caller == "reading") > 0
