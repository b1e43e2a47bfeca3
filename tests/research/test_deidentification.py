"""No identifying value of the cohort reaches any export, in any format or shape."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pandas as pd
import pytest

from tests.research.conftest import TREATED
from tests.research.helpers import export, open_export

ISO_DATE = re.compile(r"(?<!\d)(1[89]|20)\d\d-[01]\d-[0-3]\d(?!\d)")


def _date_forms(day: date) -> list[str]:
    return [day.isoformat(), day.strftime("%d.%m.%Y"), day.strftime("%m/%d/%Y"),
            day.strftime("%d/%m/%Y"), day.strftime("%Y%m%d")]


def _forbidden(cohort_data) -> list[str]:
    values: list[str] = []
    for patient, identity in zip(cohort_data.patients, cohort_data.identities, strict=True):
        values += [identity["family_name"], identity["given_name"], identity["mrn"],
                   identity["phone"], identity["phone"].replace(" ", ""), identity["email"],
                   patient.study_id, patient.treatment.lot_number, patient.treatment.operator,
                   *_date_forms(identity["birth_date"])]
    for offset in (-5, -3, -1, 0, 2, 4, 6, 20, 30, 91):  # visit, AE and treatment dates
        values += _date_forms(TREATED + timedelta(days=offset))
    values += _date_forms(TREATED - timedelta(days=30))  # consent
    return values


def _cells(frame: pd.DataFrame) -> list[str]:
    return [str(cell) for column in frame.columns for cell in [column, *frame[column].tolist()]]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "dta"])
@pytest.mark.parametrize("shape", ["long", "wide"])
@pytest.mark.parametrize("role", ["researcher", "admin"])
def test_no_identifying_value_in_any_export(auth, client, cohort_data, fmt, shape, role):
    auth.login(role)
    response = export(client, format=fmt, shape=shape, items="1", adverse_events="1")
    assert response.status_code == 200
    forbidden = _forbidden(cohort_data)
    tables, manifest, raw = open_export(response.data, fmt)
    for name, content in raw.items():
        for value in forbidden:
            assert value.encode() not in content, (name, value)
            assert value.encode("utf-16-le") not in content, (name, value)
    for name, frame in tables.items():
        cells = _cells(frame)
        for value in forbidden:
            assert not any(value in cell for cell in cells), (name, value)
        dated = [cell for cell in cells if ISO_DATE.search(cell)]
        assert dated == [], (name, dated[:3])
    manifest_text = str({k: v for k, v in manifest.items() if k != "exported_at"})
    assert not ISO_DATE.search(manifest_text)
    assert not any(value in manifest_text for value in forbidden)


def test_free_text_only_when_allowed_and_chosen_by_an_admin(app, auth, client, cohort_data):
    app.config["EXPORT_ALLOW_FREE_TEXT"] = True
    auth.login("researcher")
    page = client.get("/research/cohorts/all")
    assert b'name="free_text"' not in page.data
    assert export(client, free_text="1").status_code == 422
    auth.logout()
    auth.login("admin")
    assert b'name="free_text"' in client.get("/research/cohorts/all").data
    without = export(client, adverse_events="1")
    tables, _m, _raw = open_export(without.data, "csv")
    assert "description" not in tables["adverse_events"].columns
    with_text = export(client, adverse_events="1", free_text="1")
    assert with_text.status_code == 200
    tables, manifest, _raw = open_export(with_text.data, "csv")
    assert "Quixbrandt called" in tables["adverse_events"]["description"].iloc[0]
    assert manifest["options"]["free_text"] is True
