"""The ``visits`` table: every scheduled visit of every patient, and the unscheduled ones,
with the follow-up status at export time that the follow-up rule gives each of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.clinical.services.visits import add_unscheduled_visit
from registry.followup.services import withdraw_patient
from registry.followup.status import display_status, followup_status
from registry.models import Patient, Visit
from registry.research import cohorts, dataset
from registry.research.missing import VISIT_STATUSES
from registry.research.visitstable import visits_table
from registry.scheduling import is_in_window
from tests.research.conftest import TREATED, answers
from tests.research.helpers import export, open_export

TODAY = date(2025, 12, 1)  # the research tests' pinned today (conftest.TODAY)


@dataclass
class StatusCohort:
    """Patients by role: A (treated 2025-03-10: done, missed, done out of window, overdue,
    two unscheduled visits), B (treated 30 days ago: due, not yet due), C (65 days ago:
    upcoming, a visit marked not applicable), D (withdrawn on day 100: missed before, then
    withdrawn), E (no baseline, 2–6 weeks done)."""

    patients: dict[str, Patient]


def visits_of(db, patient: Patient) -> list[Visit]:
    return list(db.scalars(select(Visit).where(Visit.patient_id == patient.id)))


def _by_code(patient: Patient) -> dict[str, Visit]:
    return {visit.timepoint.code: visit for visit in patient.visits if visit.timepoint}


def _record(db, record_visit, visit: Visit, day: int, given: dict) -> None:
    treated = visit.patient.treatment.treatment_date
    record_visit(visit, treated + timedelta(days=day), given)
    with capture.reason(db, "test set-up"):
        visit.out_of_window = not is_in_window(visit, visit.visit_date)
    db.flush()


@pytest.fixture
def every_status(db, make_patient, record_visit, site_a, site_b) -> StatusCohort:
    full = answers(60, 50, 2, 2)
    a = make_patient(site_a, treatment_date=TREATED, kl_grade=2)
    b = make_patient(site_b, treatment_date=TODAY - timedelta(days=30), kl_grade=3)
    c = make_patient(site_a, treatment_date=TODAY - timedelta(days=65), kl_grade=3)
    d = make_patient(site_b, treatment_date=TREATED, kl_grade=2, sex="male")
    e = make_patient(site_a, treatment_date=TREATED, kl_grade=3)
    va = _by_code(a)
    _record(db, record_visit, va["baseline"], -5, full)
    partial = answers(30, 20, 1, 1)
    partial["koos"] = {**partial["koos"], **dict.fromkeys(
        ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"], None)}
    _record(db, record_visit, va["m3"], 130, partial)  # after the window: out of window
    extra = add_unscheduled_visit(db, a)
    _record(db, record_visit, extra, 60, {"vas": {"VAS": 40}})
    add_unscheduled_visit(db, a)  # booked, not done
    vb = _by_code(b)
    _record(db, record_visit, vb["baseline"], -2, full)
    vc = _by_code(c)
    _record(db, record_visit, vc["baseline"], -1, full)
    with capture.reason(db, "test set-up"):
        vc["m6_12"].status = "not_applicable"
        vc["m6_12"].not_applicable_reason = "Moved abroad for the year"
    vd = _by_code(d)
    _record(db, record_visit, vd["baseline"], -3, full)
    _record(db, record_visit, _by_code(e)["w2_6"], 30, full)
    db.flush()
    withdraw_patient(db, d, withdrawn_on=TREATED + timedelta(days=100),
                     reason="lost_to_follow_up", note=None, version=d.version, today=TODAY)
    db.flush()
    return StatusCohort({"A": a, "B": b, "C": c, "D": d, "E": e})


def expected_status(visit: Visit) -> str:
    """The visits table's status from the follow-up rule (``followup_status`` and
    ``display_status``), with withdrawn patients' visits as the export documents them."""
    patient = visit.patient
    if patient.status == "withdrawn" and visit.status != "done":
        closed = (visit.window_end is not None and patient.withdrawn_on is not None
                  and visit.window_end < patient.withdrawn_on)
        if not closed:
            return "withdrawn"
        return "not_applicable" if visit.status == "not_applicable" else "missed"
    rule = followup_status(visit, patient.status, TODAY)
    return display_status(rule, out_of_window=visit.out_of_window
                          and visit.timepoint_id is not None).code


def load_visits_table(db) -> tuple[pd.DataFrame, list[int]]:
    data = dataset.load(db, cohorts.cohort_select(db, {}))
    ids = data.patients["patient_id"].tolist()
    table = visits_table(data, [f"P-{n:012x}" for n in ids])
    return table.frame, ids


def test_statuses_are_the_follow_up_rules_for_every_visit(db, every_status):
    frame, ids = load_visits_table(db)
    rows = []
    for label, patient in every_status.patients.items():
        pid = f"P-{patient.id:012x}"
        mine = frame[frame["pid"] == pid]
        scheduled = sorted((v for v in visits_of(db, patient) if v.timepoint),
                           key=lambda v: v.timepoint.target_day)
        extra = sorted((v for v in visits_of(db, patient) if not v.timepoint),
                       key=lambda v: (v.visit_date is None, v.visit_date or TODAY, v.id))
        assert len(mine) == len(scheduled) + len(extra), label
        for row, visit in zip(mine.itertuples(), scheduled + extra, strict=True):
            assert row.timepoint == (visit.timepoint.code if visit.timepoint
                                     else "unscheduled"), label
            assert bool(row.unscheduled) is (visit.timepoint is None)
            assert row.status == expected_status(visit), (label, row.timepoint)
            rows.append((label, row.timepoint, row.status))
    # The cohort spans every status the table knows.
    assert {status for _l, _t, status in rows} == set(VISIT_STATUSES)
    assert ("D", "w2_6", "missed") in rows
    assert ("D", "m3", "withdrawn") in rows


def test_days_windows_and_flags(db, every_status):
    frame, _ids = load_visits_table(db)
    a = every_status.patients["A"]
    mine = frame[frame["pid"] == f"P-{a.id:012x}"].set_index("timepoint", append=True)
    m3 = frame[(frame["pid"] == f"P-{a.id:012x}") & (frame["timepoint"] == "m3")].iloc[0]
    assert (m3["target_day"], m3["window_start_day"], m3["window_end_day"],
            m3["grace_end_day"], m3["visit_day"]) == (91, 75, 120, 105, 130)
    assert m3["out_of_window"] is True or m3["out_of_window"] == True  # noqa: E712
    base = frame[(frame["pid"] == f"P-{a.id:012x}") & (frame["timepoint"] == "baseline")]
    assert base.iloc[0]["out_of_window"] == False  # noqa: E712
    extra = frame[(frame["pid"] == f"P-{a.id:012x}") & frame["unscheduled"]]
    assert len(extra) == 2
    assert extra.iloc[0]["visit_day"] == 60
    assert pd.isna(extra.iloc[0]["target_day"])
    assert pd.isna(extra.iloc[0]["out_of_window"])
    assert pd.isna(extra.iloc[1]["visit_day"])  # booked, not done
    missed = frame[(frame["pid"] == f"P-{a.id:012x}") & (frame["timepoint"] == "w2_6")]
    assert pd.isna(missed.iloc[0]["visit_day"])
    assert pd.isna(missed.iloc[0]["collection_mode"])
    assert len(mine) == 6


def test_the_visits_table_costs_one_query_whatever_the_cohort(db, every_status, make_patient,
                                                              site_a):
    from tests.fixtures.database import recorded_statements

    cohort = cohorts.cohort_select(db, {})
    with recorded_statements(db.get_bind()) as few:
        dataset.load(db, cohort)
    for _ in range(3):
        make_patient(site_a, treatment_date=TREATED)
    db.flush()
    with recorded_statements(db.get_bind()) as more:
        dataset.load(db, cohort)
    assert len(more) == len(few)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx", "dta"])
@pytest.mark.parametrize("shape", ["long", "wide"])
def test_every_export_has_the_visits_table(auth, client, every_status, fmt, shape):
    auth.login("researcher")
    response = export(client, format=fmt, shape=shape)
    assert response.status_code == 200, response.data[:300]
    tables, manifest, _raw = open_export(response.data, fmt)
    visits = tables["visits"]
    assert len(visits) == 5 * 4 + 2
    assert manifest["tables"]["visits"]["rows"] == 22
    assert set(visits["status"].astype(str)) == set(VISIT_STATUSES)
    assert "exported_at" in manifest["visits"]["status_as_of"]
    dictionary = tables["data_dictionary"]
    status = dictionary[(dictionary["table"] == "visits")
                        & (dictionary["column"] == "status")].iloc[0]
    assert "done_out_of_window = Done out of window" in status["values"]
