"""The export tables a statistician merges and reads: ``pid`` one text type in every table
and format (pandas and DuckDB), CSV with a BOM and 0/1 booleans, coded columns with their
codes, the protocol and responder rule in the manifest, and odd stored values."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

import scoring
from registry import audit_capture as capture
from registry.models import Cohort
from registry.research import cohorts, dataset
from registry.research.export import build_tables
from registry.research.options import FORMATS, ExportOptions
from registry.research.pseudonyms import Pseudonymiser
from registry.research.scorestream import chunks
from tests.research.conftest import TREATED, answers
from tests.research.helpers import export, open_export

PID = re.compile(r"P-[0-9a-f]{12}")
# The formats whose files are tables (ODM is one XML document: tested with its schema).
TABLE_FORMATS = [fmt for fmt in FORMATS if fmt in ("csv", "xlsx", "parquet", "dta", "sav",
                                                   "xpt")]


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
@pytest.mark.parametrize("shape", ["long", "wide"])
def test_pid_is_text_in_every_table_and_format(auth, client, cohort_data, fmt, shape):
    auth.login("researcher")
    response = export(client, format=fmt, shape=shape, items="1", adverse_events="1",
                      pseudonyms="project", project="Merge")
    assert response.status_code == 200, response.data[:300]
    tables, _manifest, _raw = open_export(response.data, fmt)
    pids: set[str] | None = None
    for name, frame in tables.items():
        if name == "data_dictionary":
            continue
        column = frame["pid"]
        assert not isinstance(column.dtype, pd.CategoricalDtype), name
        assert pd.api.types.is_string_dtype(column.dtype) or column.dtype == object, name
        assert all(isinstance(value, str) and PID.fullmatch(value) for value in column), name
        if name in ("patients", "outcomes_wide"):
            pids = set(column)
    assert pids is not None
    assert len(pids) == 3
    for name, frame in tables.items():  # every table merges on pid with the patients
        if name != "data_dictionary":
            assert set(frame["pid"]) <= pids, name


def test_pid_is_varchar_in_duckdb_and_tables_join(db, cohort_data, tmp_path):
    import duckdb

    from registry.research.export import export_cohort

    target = tmp_path / "export.zip"
    export_cohort(db, cohort_name="All", definition={},
                  options=ExportOptions(format="parquet", shape="long", items=True,
                                        adverse_events=True),
                  pseudonym_key="k", free_text_allowed=False, target=target)
    with zipfile.ZipFile(target) as archive:
        archive.extractall(tmp_path)
    for name in ("patients", "outcomes_long", "visits", "items", "adverse_events"):
        path = tmp_path / f"{name}.parquet"
        assert str(pq.read_schema(path).field("pid").type) in ("string", "large_string")
        kind = duckdb.sql(f"select typeof(pid) from read_parquet('{path}') limit 1").fetchall()[0]
        assert kind == ("VARCHAR",), name
    joined = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path / 'outcomes_long.parquet'}') l "
        f"join read_parquet('{tmp_path / 'visits.parquet'}') v "
        "on l.pid = v.pid and l.timepoint = v.timepoint").fetchall()[0]
    long_rows = duckdb.sql(
        f"select count(*) from read_parquet('{tmp_path / 'outcomes_long.parquet'}')").fetchall()[0]
    assert joined == long_rows  # every score row has its visit
    booleans = duckdb.sql(f"select typeof(mcii) from read_parquet("
                          f"'{tmp_path / 'outcomes_long.parquet'}') limit 1").fetchall()[0]
    assert booleans == ("BOOLEAN",)


def test_csv_has_a_bom_utf8_text_and_0_1_booleans(auth, client, cohort_data):
    auth.login("researcher")
    response = export(client, format="csv", shape="long", adverse_events="1")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        raw = {name: archive.read(name) for name in archive.namelist()}
    for name, content in raw.items():
        if name.endswith(".csv"):
            assert content.startswith(b"\xef\xbb\xbf"), name
            assert not content[3:].startswith(b"\xef\xbb\xbf"), name
    dictionary = raw["data_dictionary.csv"].decode("utf-8-sig")
    assert "2–6 weeks" in dictionary  # an en dash, as Excel will show it
    frame = pd.read_csv(io.BytesIO(raw["data_dictionary.csv"]), encoding="utf-8-sig")
    assert frame.columns[0] == "table"  # the BOM is not part of the first header
    assert frame["values"].str.contains("w2_6 = 2–6 weeks", regex=False).any()
    patients = pd.read_csv(io.BytesIO(raw["patients.csv"]))
    assert patients.columns[0] == "pid"
    assert set(patients["age_90_plus"]) == {0, 1}
    assert set(patients["co_physiotherapy"]) <= {0, 1}
    long = pd.read_csv(io.BytesIO(raw["outcomes_long.csv"]))
    assert set(long["mcii"].dropna()) <= {0, 1}
    assert set(long["unscheduled"]) == {0}
    events = pd.read_csv(io.BytesIO(raw["adverse_events.csv"]))
    assert set(events["serious"]) == {0, 1}
    text = raw["outcomes_long.csv"].decode("utf-8-sig")
    assert "true" not in text.lower().split("\n", 1)[1]


def test_manifest_states_protocol_responder_rule_and_encodings(auth, client, cohort_data):
    auth.login("researcher")
    for fmt in ("csv", "xlsx"):
        _tables, manifest, _raw = open_export(export(client, format=fmt).data, fmt)
        protocol = manifest["protocol"]["protocols"][0]
        w2_6 = next(tp for tp in protocol["timepoints"] if tp["code"] == "w2_6")
        assert (w2_6["name"], w2_6["target_day"], w2_6["window_start_day"],
                w2_6["window_end_day"], w2_6["grace_days"]) == ("2–6 weeks", 28, 14, 42, 14)
        responder = manifest["responder"]
        assert "Pham" in responder["source"]
        assert "2004" in responder["source"]
        assert ">= 50 %" in responder["criterion"]
        assert ">= 20 points" in responder["criterion"]
        assert responder["domains"]["pain"][0] == {"score": "vas_pain", "flipped": False}
        encodings = manifest["encodings"]
        assert encodings["formats"]["csv"]["booleans"] == "0 = false, 1 = true"
        assert encodings["this_export"] == encodings["formats"][fmt]
        assert {r["code"] for r in manifest["missing_values"]["reasons"]} >= {
            "scored", "not_scorable", "not_answered", "visit_missed", "visit_pending",
            "visit_not_applicable", "withdrawn", "no_baseline"}


def test_responder_criterion_matches_scorings_thresholds():
    """The manifest's wording of the rule against scoring's classification."""
    def status(pain_before: float, pain_after: float) -> bool | None:
        return scoring.omeract_oarsi({"vas_pain": pain_before, "womac_function_norm": 50,
                                      "pga": 50},
                                     {"vas_pain": pain_after, "womac_function_norm": 50,
                                      "pga": 50}).responder

    assert status(60, 30) is True  # -50 %, -30 points: high improvement in pain
    assert status(60, 31) is False  # 48 %
    assert status(30, 15) is False  # 50 % but 15 points


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_coded_columns_carry_codes_and_scores_their_reason_column(db, cohort_data, shape):
    cohort = cohorts.cohort_select(db, {})
    data = dataset.load(db, cohort, items=True, adverse_events=True, scores=shape == "wide")
    thresholds = scoring.threshold_set(scoring.DEFAULT_THRESHOLD_SET)
    pseudonyms = Pseudonymiser("k", None)

    def score_chunks():
        return chunks(db, cohort, data.patients["patient_id"].to_numpy(), data.score_codes,
                      data.timepoint_of, len(data.timepoints), None, data.visits)

    tables = build_tables(data, pseudonyms, ExportOptions(shape=shape, items=True,
                                                          adverse_events=True),
                          score_chunks, thresholds)
    coded = 0
    for table in tables:
        columns = set(table.column_names)
        for spec in table.specs:
            if spec.column not in columns:
                continue  # the long table's per-score description rows
            if spec.type in ("category", "boolean") or spec.values:
                assert spec.codes, (table.name, spec.column)
                coded += 1
            if spec.type == "boolean":
                assert spec.codes == ((0, "No"), (1, "Yes"))
            if spec.kind in ("score", "change from baseline", "relative change", "improvement"):
                assert spec.reason_column in columns, (table.name, spec.column)
            if spec.reason_column:
                assert spec.reason_column in columns, (table.name, spec.column)
    assert coded > 40
    by_column = {(spec.table, spec.column): spec for table in tables for spec in table.specs}
    main = "patients" if shape == "long" else "outcomes_wide"
    assert dict(by_column[main, "sex"].codes)["female"] == "Female"
    assert dict(by_column[main, "kl_grade"].codes)[3].startswith("3")
    assert dict(by_column["visits", "timepoint"].codes)["unscheduled"] == "Unscheduled visit"
    assert dict(by_column["visits", "status"].codes)["scheduled"] == "Not yet due"


@pytest.fixture
def odd_values(db, cohort_data, make_patient, record_visit, site_a):
    """A patient with the largest allowed dose, formula-like and non-Latin-1 text."""
    patient = make_patient(site_a, treatment_date=TREATED, kl_grade=4)
    with capture.reason(db, "odd values"):
        patient.treatment.cell_dose_million = 10_000
        patient.treatment.product_name = "=HYPERLINK(\"x\") Ω-Zellen 細胞 😀 \u2028 ‘q’"
        patient.treatment.notes = "Ünïcödé\ttab\r\nnewline"
        patient.height_cm = 250.0
    visit = min(patient.visits, key=lambda v: v.target_date)
    record_visit(visit, TREATED - timedelta(days=1), answers(100, 100, 4, 4))
    db.add(Cohort(name="Когорта ☃ 東京 — ðæ", definition={}))
    db.flush()
    return patient


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
@pytest.mark.parametrize("shape", ["long", "wide"])
def test_odd_stored_values_export_in_every_format(auth, client, db, odd_values, fmt, shape):
    auth.login("researcher")
    cohort = db.query(Cohort).filter_by(name="Когорта ☃ 東京 — ðæ").one()
    response = export(client, key=str(cohort.id), format=fmt, shape=shape, items="1",
                      adverse_events="1")
    if response.status_code != 200:  # a value the format cannot hold: a clear 4xx
        assert response.status_code == 422, response.data[:300]
        assert b"product" in response.data or b"column" in response.data
        return
    disposition = response.headers["Content-Disposition"]
    assert "filename" in disposition
    tables, manifest, _raw = open_export(response.data, fmt)
    assert manifest["cohort"]["name"] == "Когорта ☃ 東京 — ðæ"
    main = tables["patients" if shape == "long" else "outcomes_wide"]
    assert main["cell_dose_million"].max() == 10_000
    products = set(main["product"].dropna().astype(str))
    assert any("Zellen" in product for product in products)
