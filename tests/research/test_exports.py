"""Exports in every format and shape, opened with pandas; manifest, audit, bad input."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from sqlalchemy import select

from registry.models import AuditEvent, Cohort
from tests.research.helpers import PER_PATIENT, PER_VISIT, export, open_export

FORMATS = ["csv", "xlsx", "parquet", "dta"]
SHAPES = ["long", "wide"]


def _flag(value) -> bool | None:
    """A flag cell as read back: True/False/1/0/'true'; None when empty."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_long_export_values_match_hand_computed_scores(auth, client, cohort_data, fmt):
    auth.login("researcher")
    response = export(client, format=fmt, shape="long", adverse_events="1", items="1")
    assert response.status_code == 200, response.data[:500]
    tables, manifest, _raw = open_export(response.data, fmt)
    assert set(tables) == {"patients", "outcomes_long", "visits", "adverse_events", "items",
                           "data_dictionary"}
    long = tables["outcomes_long"]
    # A row for every score each scheduled visit should have; five visits with responses.
    assert len(long) == 3 * PER_PATIENT
    assert (long["value_reason"].astype(str) == "scored").sum() == 5 * PER_VISIT
    patients = tables["patients"]
    assert len(patients) == 3
    first = patients.iloc[0]
    assert first["age_at_treatment"] == 90
    assert _flag(first["age_90_plus"]) is True
    assert sorted(patients["age_at_treatment"].tolist()) == [58, 66, 90]
    pid = first["pid"]
    rows = long[(long["pid"] == pid) & (long["timepoint"].astype(str) == "m3")]
    vas = rows[rows["score"].astype(str) == "vas_pain"].iloc[0]
    # VAS 70 mm at baseline, 30 mm at 3 months: change -40, relative -0.571, improved 40.
    assert (vas["value"], vas["baseline"], vas["change"]) == (30, 70, -40)
    assert vas["relative_change"] == pytest.approx(-40 / 70)
    assert vas["improvement"] == 40
    assert vas["day"] == 91
    assert _flag(vas["mcii"]) is True
    assert _flag(vas["pass"]) is True
    assert _flag(vas["oarsi_responder"]) is True
    koos_pain = rows[rows["score"].astype(str) == "koos_pain"].iloc[0]
    assert (koos_pain["value"], koos_pain["baseline"], koos_pain["change"]) == (75, 50, 25)
    assert _flag(koos_pain["mic"]) is True  # 25 >= 16.7 (Monticone 2013)
    womac = rows[rows["score"].astype(str) == "womac_function_norm"].iloc[0]
    assert womac["value"] == pytest.approx(25)
    assert womac["baseline"] == pytest.approx(50)
    baseline_rows = long[long["timepoint"].astype(str) == "baseline"]
    assert baseline_rows["change"].isna().all()
    # Patient 1 at 2–6 weeks: VAS 50 -> 45 (no MCII), PGA 50 -> 48: not a responder.
    second = long[(long["pid"] == patients.iloc[1]["pid"])
                  & (long["timepoint"].astype(str) == "w2_6")]
    vas2 = second[second["score"].astype(str) == "vas_pain"].iloc[0]
    assert _flag(vas2["mcii"]) is False
    assert _flag(vas2["oarsi_responder"]) is False
    assert vas2["day"] == 30
    events = tables["adverse_events"]
    assert len(events) == 2
    assert sorted(events["onset_day"].tolist()) == [2, 4]
    assert "description" not in events.columns
    items = tables["items"]
    assert len(items) == 5
    assert items["koos_P1"].dropna().astype(int).tolist()
    assert manifest["tables"]["outcomes_long"]["rows"] == 3 * PER_PATIENT
    assert manifest["format"] == fmt
    assert manifest["shape"] == "long"


@pytest.mark.parametrize("fmt", FORMATS)
def test_wide_export_has_one_row_per_patient(auth, client, cohort_data, fmt):
    auth.login("researcher")
    response = export(client, format=fmt, shape="wide")
    assert response.status_code == 200
    tables, manifest, _raw = open_export(response.data, fmt)
    wide = tables["outcomes_wide"]
    assert len(wide) == 3
    first = wide.iloc[0]
    assert first["vas_pain_baseline"] == 70
    assert first["vas_pain_m3"] == 30
    assert first["vas_pain_m3_chg"] == -40
    assert first["vas_pain_m3_rel"] == pytest.approx(-40 / 70)
    assert _flag(first["vas_pain_m3_mcii"]) is True
    assert _flag(first["oarsi_responder_m3"]) is True
    assert first["day_m3"] == 91
    assert first["day_baseline"] == -5
    assert _flag(first["oarsi_responder_w2_6"]) is None  # no visit: undefined
    assert wide["koos_pain_baseline"].tolist() == [50, 50, 25]
    dictionary = tables["data_dictionary"]
    assert set(wide.columns) <= set(dictionary["stata_name"].dropna()) | set(
        dictionary["column"])
    assert manifest["tables"]["outcomes_wide"]["rows"] == 3


def test_stata_names_and_labels_fit_stata_limits(auth, client, cohort_data):
    import io
    import zipfile

    import pandas as pd

    auth.login("researcher")
    response = export(client, format="dta", shape="wide", items="1")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        content = archive.read("outcomes_wide.dta")
    with pd.io.stata.StataReader(io.BytesIO(content)) as reader:
        labels = reader.variable_labels()
    assert labels["vas_pain_m3_chg"].startswith("VAS pain at 3 months")
    assert all(len(name) <= 32 for name in labels)
    assert all(len(label) <= 80 for label in labels.values())


def test_data_dictionary_describes_every_column_from_scoring(auth, client, cohort_data):
    import scoring

    auth.login("researcher")
    tables, _manifest, _raw = open_export(
        export(client, format="csv", shape="wide", adverse_events="1", items="1").data, "csv")
    dictionary = tables["data_dictionary"]
    for name in ("outcomes_wide", "adverse_events", "items"):
        described = set(dictionary.loc[dictionary["table"] == name, "column"])
        assert set(tables[name].columns) <= described, name
    row = dictionary[dictionary["column"] == "womac_function_norm_m3"].iloc[0]
    score = scoring.SCORES["womac_function_norm"]
    assert row["label"] == f"{score.label} at 3 months"
    assert (row["minimum"], row["maximum"], row["unit"]) == (0, 100, score.unit)
    assert row["direction"] == "higher is worse"
    assert row["instrument"] == scoring.INSTRUMENTS["womac"].name
    mcii = dictionary[dictionary["column"] == "vas_pain_m3_mcii"].iloc[0]
    assert "19.9" in mcii["source"]
    assert "Tubach" in mcii["source"]
    sex = dictionary[dictionary["column"] == "sex"].iloc[0]
    assert "female = Female" in sex["values"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_audit_row_holds_the_file_checksum_and_manifest_facts(auth, client, db, cohort_data,
                                                              fmt):
    user = auth.login("researcher")
    response = export(client, format=fmt, shape="long", adverse_events="1")
    digest = hashlib.sha256(response.data).hexdigest()
    assert response.headers["X-Export-SHA256"] == digest
    db.expire_all()
    row = db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    facts = json.loads(row.new_value)
    assert facts["sha256"] == digest
    assert row.actor_id == user.id
    assert row.actor_email == user.email
    assert facts["format"] == fmt
    assert facts["shape"] == "long"
    assert facts["row_counts"] == {"patients": 3, "outcomes_long": 3 * PER_PATIENT,
                                   "visits": 12, "adverse_events": 2}
    _tables, manifest, raw = open_export(response.data, fmt)
    assert manifest["exported_by"]["email"] == user.email
    assert manifest["cohort"]["definition"] == {}
    assert manifest["scoring"]["instruments"]["koos"] == "koos-2012/1"
    assert "pandas" in manifest["software"]
    assert "pyarrow" in manifest["software"]
    for name, table in manifest["tables"].items():
        assert table["rows"] == facts["row_counts"][name]
        if fmt != "xlsx":
            assert hashlib.sha256(raw[table["file"]]).hexdigest() == table["sha256"]
            assert facts["tables"][name]["sha256"] == table["sha256"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", SHAPES)
def test_empty_cohort_gives_headers_and_a_message(auth, client, db, cohort_data, fmt, shape):
    user = auth.login("researcher")
    cohort = Cohort(name="Nobody", definition={"bmi_min": 70}, created_by_id=user.id)
    db.add(cohort)
    db.flush()
    response = export(client, key=str(cohort.id), format=fmt, shape=shape, items="1",
                      adverse_events="1")
    assert response.status_code == 200
    assert "no patients" in response.headers["X-Export-Message"]
    tables, manifest, _raw = open_export(response.data, fmt)
    assert "no patients" in manifest["message"]
    main = tables["outcomes_long" if shape == "long" else "outcomes_wide"]
    assert len(main) == 0
    assert "pid" in main.columns
    assert len(tables["adverse_events"]) == 0
    assert "onset_day" in tables["adverse_events"]


@pytest.mark.parametrize(
    ("form", "message"),
    [({"format": "sas7bdat"}, b"unknown format &#39;sas7bdat&#39;"),
     ({"shape": "tall"}, b"unknown shape &#39;tall&#39;"),
     ({"pseudonyms": "project", "project": " "}, b"give the project"),
     ({"free_text": "1"}, b"only an administrator may include free text")],
)
def test_bad_export_options_get_a_clear_message(auth, client, db, cohort_data, form, message):
    auth.login("researcher")
    response = export(client, **form)
    assert response.status_code == 422
    assert message in response.data
    db.expire_all()
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "export")) is None


def test_unknown_cohort_is_404(auth, client, cohort_data):
    auth.login("researcher")
    assert export(client, key="999999").status_code == 404
    assert client.get("/research/cohorts/nope").status_code == 404


def test_pseudonyms_per_export_and_per_project(auth, client, cohort_data):
    auth.login("researcher")

    def pids(**form):
        tables, manifest, _raw = open_export(export(client, **form).data, "csv")
        long = tables["outcomes_long"]
        # Stable within the export: every row of a patient carries the same pseudonym.
        assert long.groupby("pid")["day"].nunique().max() <= 4
        return tables["patients"]["pid"].tolist(), manifest

    first, manifest = pids()
    second, _ = pids()
    assert manifest["pseudonyms"]["mode"] == "per-export"
    assert all(p.startswith("P-") and len(p) == 14 for p in first)
    assert set(first).isdisjoint(second)
    project_a1, manifest_a = pids(pseudonyms="project", project="Knee 2026")
    project_a2, _ = pids(pseudonyms="project", project="Knee 2026")
    project_b, _ = pids(pseudonyms="project", project="Other study")
    assert project_a1 == project_a2
    assert set(project_a1).isdisjoint(project_b)
    assert manifest_a["pseudonyms"] == {
        "mode": "project", "project": "Knee 2026",
        "method": "P- + 12 hex digits of HMAC-SHA256(key, project, patient)"}


@pytest.mark.parametrize("shape", ["long", "wide"])
def test_excel_refuses_more_cells_than_a_workbook_should_hold(monkeypatch, auth, client,
                                                             cohort_data, db, shape):
    """Checked before the workbook is written (the long table's rows are counted from its
    visits, before they are read); nothing is audited.  Checked once: without the check
    the export succeeds."""
    from registry.research import writers

    auth.login("researcher")
    monkeypatch.setattr(writers, "EXCEL_MAX_CELLS", 100)
    response = export(client, format="xlsx", shape=shape)
    assert response.status_code == 422
    assert b"an Excel workbook from the registry holds at most 100" in response.data
    assert b"Choose CSV, which Excel opens too" in response.data
    db.expire_all()
    assert not db.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    monkeypatch.setattr(writers, "EXCEL_MAX_CELLS", 10_000_000)
    assert export(client, format="xlsx", shape=shape).status_code == 200


def test_excel_refuses_tables_longer_than_a_sheet(monkeypatch, auth, client, cohort_data):
    from registry.research import writers

    monkeypatch.setattr(writers, "EXCEL_MAX_ROWS", 10)
    auth.login("researcher")
    response = export(client, format="xlsx", shape="long")
    assert response.status_code == 422
    assert b"an Excel sheet holds at most 10" in response.data
