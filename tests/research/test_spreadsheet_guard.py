"""Formula injection: no text typed by staff reaches a spreadsheet as a live formula.

Every free-text field that reaches an export (product name, justification, withdrawal
note, treatment notes, adverse-event description, cohort name) carries a payload; the
exports are opened the way a spreadsheet or a researcher would (openpyxl, csv).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.models import AdverseEvent, Cohort
from registry.spreadsheet import escape_arrow, escape_frame, escape_text, safe_cell
from tests.research.conftest import TODAY, TREATED
from tests.research.helpers import export

PAYLOADS = ['=HYPERLINK("http://x","y")', "+1", "-cmd", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.fixture
def app_settings():
    return {"TODAY": TODAY, "EXPORT_ALLOW_FREE_TEXT": True}


@pytest.fixture
def hostile(db, cohort_data):
    """Payloads in every free-text field that an export can carry."""
    first, second, third = cohort_data.patients
    with capture.reason(db, "formula payloads"):
        first.treatment.product_name = PAYLOADS[0]
        second.treatment.product_name = PAYLOADS[1]
        third.treatment.product_name = PAYLOADS[2]
        first.outside_indication_justification = PAYLOADS[3]
        first.treatment.notes = PAYLOADS[4]
        second.status = "withdrawn"
        second.withdrawal_reason = "other"
        second.withdrawn_on = date(2025, 6, 1)
        second.withdrawal_note = PAYLOADS[5]
        for event in db.scalars(select(AdverseEvent)):
            event.description = "=cmd|' /C calc'!A0"
    cohort = Cohort(name="=HYPERLINK(\"http://x\") cohort", definition={})
    db.add(cohort)
    db.flush()
    return cohort


def _download(client, cohort, fmt, shape):
    response = export(client, key=str(cohort.id), format=fmt, shape=shape,
                      adverse_events="1", items="1", free_text="1")
    assert response.status_code == 200, response.data[:500]
    return response.data


def _csv_tables(content: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: list(csv.DictReader(io.StringIO(archive.read(name).decode())))
                for name in archive.namelist() if name.endswith(".csv")}


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_excel_export_stores_payloads_as_text_not_formulas(auth, client, hostile, shape):
    auth.login("admin")
    book = openpyxl.load_workbook(io.BytesIO(_download(client, hostile, "xlsx", shape)))
    texts, numbers = [], []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                elif isinstance(cell.value, int | float) and cell.value < 0:
                    numbers.append(cell)
    for payload in PAYLOADS:
        # (a carriage return comes back as written, or as a line feed when the XML writer
        # does not escape it)
        kept = {"'" + payload, ("'" + payload).replace("\r", "\n")}
        assert kept & set(texts), (payload, [text for text in texts if payload[-2:] in text])
    assert "'=cmd|' /C calc'!A0" in texts
    assert not [text for text in texts if text and text[0] in "=+-@\t\r"]
    # Negative numbers (change from baseline, days before treatment) stay numbers.
    assert numbers
    assert all(cell.data_type == "n" for cell in numbers)
    manifest = {row[0].value: row[1].value for row in book["manifest"].iter_rows(min_row=2)}
    assert manifest["cohort"].startswith('{"name": "=HYPERLINK')  # JSON text, not a formula


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_csv_export_escapes_text_cells_and_keeps_numbers(auth, client, hostile, shape):
    auth.login("admin")
    tables = _csv_tables(_download(client, hostile, "csv", shape))
    main = tables["patients.csv" if shape == "long" else "outcomes_wide.csv"]
    assert sorted(row["product"] for row in main) == sorted("'" + p for p in PAYLOADS[:3])
    first = next(row for row in main if row["product"] == "'" + PAYLOADS[0])
    assert first["justification"] == "'" + PAYLOADS[3]
    assert first["treatment_notes"] == "'" + PAYLOADS[4]
    second = next(row for row in main if row["product"] == "'+1")
    assert second["withdrawal_note"] == "'" + PAYLOADS[5]
    events = tables["adverse_events.csv"]
    assert {row["description"] for row in events} == {"'=cmd|' /C calc'!A0"}
    for rows in tables.values():
        for row in rows:
            assert not [v for v in row.values() if v and v[0] in "=@\t\r"], row
    if shape == "long":
        long = tables["outcomes_long.csv"]
        changes = [float(row["change"]) for row in long if row["change"]]
        assert min(changes) < 0  # "-40.0": a number, not escaped
        assert "-5" in {row["day"] for row in long}
    else:
        assert first["day_baseline"] == "-5"


def test_parquet_and_stata_keep_text_exactly(auth, client, hostile):
    """Not spreadsheet-bound: typed data for statistics software keeps what was entered."""
    auth.login("admin")
    with zipfile.ZipFile(io.BytesIO(_download(client, hostile, "parquet", "long"))) as zipped:
        patients = pd.read_parquet(io.BytesIO(zipped.read("patients.parquet")))
    assert sorted(patients["product"]) == sorted(PAYLOADS[:3])
    with zipfile.ZipFile(io.BytesIO(_download(client, hostile, "dta", "long"))) as zipped:
        stata = pd.read_stata(io.BytesIO(zipped.read("patients.dta")))
    assert sorted(stata["product"]) == sorted(PAYLOADS[:3])


def test_call_list_csv_escapes_names_but_keeps_phone_numbers(app, db, client, auth, site_a,
                                                             make_patient):
    """The follow-up call list goes through the same guard (phone column dialable)."""
    patient = make_patient(site_a, treatment_date=date(2025, 1, 2), family_name="@SUM(A1)")
    with capture.reason(db, "payloads"):
        patient.identity.given_name = "-cmd"
    auth.login("coordinator", sites=[site_a])
    response = client.post("/followup/call-list.csv", data={"status": "all"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    mine = next(row for row in rows if row["study_id"] == patient.study_id)
    assert (mine["family_name"], mine["given_name"]) == ("'@SUM(A1)", "'-cmd")
    assert mine["phone"] == patient.identity.phone  # "+47 555 …": a phone number


@pytest.mark.parametrize(("value", "expected"), [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'), ("+1", "'+1"),
    ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("plain", "plain"), ("", ""), ("a=b", "a=b"), ("'=x", "'=x")])
def test_one_guard_for_text(value, expected):
    assert escape_text(value) == expected
    assert safe_cell(value) == expected
    frame = escape_frame(pd.DataFrame({"text": pd.array([value], dtype="string"),
                                       "number": [-3.5],
                                       "code": pd.Categorical([value])}))
    assert frame["text"].iloc[0] == expected
    assert frame["code"].iloc[0] == expected
    assert frame["number"].iloc[0] == -3.5
    import pyarrow as pa

    table = escape_arrow(pa.table({"text": [value, None], "number": [-1, 2]}))
    assert table.column("text").to_pylist() == [expected, None]
    assert table.column("number").to_pylist() == [-1, 2]


def test_numbers_are_not_text():
    assert safe_cell(-5) == -5
    assert safe_cell(-0.5) == -0.5
    assert safe_cell(None) is None
    assert safe_cell(TREATED) == TREATED
    assert escape_text("+47 555 01234", phone=True) == "+47 555 01234"
    assert escape_text("+1+cmd", phone=True) == "'+1+cmd"
