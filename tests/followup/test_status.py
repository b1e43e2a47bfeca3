"""The follow-up status rule: SQL and Python agree on every edge, and the worklist shows it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.followup.status import STATUS_LABELS, followup_status, site_todays, status_expression
from registry.models import Patient, Visit
from tests.followup.conftest import TODAY, visit_of

# (timepoint, days since treatment on TODAY, expected status, what else is true)
# Default protocol: w2_6 window 14–42 (target 28, grace ends at the window end, 42);
# m3 window 75–120, target 91, grace 14 days → 105; m6_12 window 182–365, target 182 → 196.
EDGES = [
    ("m3", 60, "scheduled", None),  # window opens in 15 days: not yet due
    ("m3", 61, "upcoming", None),  # window opens in 14 days
    ("m3", 74, "upcoming", None),  # opens tomorrow
    ("m3", 75, "due", None),  # first day of the window
    ("m3", 91, "due", None),  # target date
    ("m3", 105, "due", None),  # target + grace: last day before overdue
    ("m3", 106, "overdue", None),  # the day after target + grace
    ("m3", 120, "overdue", None),  # last day of the window
    ("m3", 121, "missed", None),  # the day after the window closed
    ("m3", 400, "missed", None),
    ("w2_6", 0, "upcoming", None),  # treated today: window opens in 14 days
    ("w2_6", 42, "due", None),  # grace ends with the window: never overdue
    ("w2_6", 43, "missed", None),
    ("m6_12", 167, "scheduled", None),
    ("m6_12", 168, "upcoming", None),
    ("m6_12", 182, "due", None),  # window opens on the target date
    ("m6_12", 196, "due", None),
    ("m6_12", 197, "overdue", None),
    ("m6_12", 365, "overdue", None),
    ("m6_12", 366, "missed", None),
    ("m3", 106, "done", "done_in_window"),
    ("m3", 130, "done", "done_out_of_window"),
    ("m3", 30, "done", "done_early"),  # recorded before the window opened
    ("m3", 106, "not_applicable", "withdrawn"),
    ("m3", 30, "not_applicable", "withdrawn"),
    ("m3", 106, "not_applicable", "not_applicable"),
    ("m3", 121, "not_applicable", "not_applicable"),
]


def _arrange(db, treated_days_ago, record_visit, site, code, days, modifier) -> tuple[
        Patient, Visit]:
    patient = treated_days_ago(site, days)
    visit = visit_of(patient, code)
    if modifier == "done_in_window":
        record_visit(visit, TODAY - timedelta(days=1))
    elif modifier == "done_out_of_window":
        assert visit.window_end is not None  # a scheduled timepoint has a window
        record_visit(visit, visit.window_end + timedelta(days=5))
        visit.out_of_window = True
    elif modifier == "done_early":
        record_visit(visit, TODAY)
        visit.out_of_window = True
    elif modifier == "withdrawn":
        patient.status = "withdrawn"
        patient.withdrawn_on = TODAY
        patient.withdrawal_reason = "consent_withdrawn"
    elif modifier == "not_applicable":
        visit.status = "not_applicable"
        visit.not_applicable_reason = "Patient moved abroad"
    with capture.reason(db, "test arrangement"):
        db.flush()
    return patient, visit


def _sql_status(db, visit_id, today) -> str:
    return db.scalar(select(status_expression(today)).select_from(Visit)
                     .join(Patient, Patient.id == Visit.patient_id).where(Visit.id == visit_id))


@pytest.mark.parametrize(("code", "days", "expected", "modifier"), EDGES)
def test_sql_and_python_agree_on_every_edge(db, site_a, treated_days_ago, record_visit,
                                            code, days, expected, modifier):
    patient, visit = _arrange(db, treated_days_ago, record_visit, site_a, code, days, modifier)
    python = followup_status(visit, patient.status, TODAY)
    sql = _sql_status(db, visit.id, TODAY)
    # The per-site form (sites in time zones on different dates) gives the same answer.
    per_site = _sql_status(db, visit.id, {site_a.id: TODAY, site_a.id + 1000: TODAY
                                          + timedelta(days=1)})
    assert (python, sql, per_site) == (expected, expected, expected)


def test_worklist_shows_each_status_for_patients_at_chosen_days(
        auth, client, db, site_a, treated_days_ago, record_visit):
    arranged = {}
    for index, (code, days, expected, modifier) in enumerate(EDGES):
        _patient, visit = _arrange(db, treated_days_ago, record_visit, site_a, code, days,
                                   modifier)
        arranged[visit.id] = (index, code, expected)
    auth.login("coordinator", sites=[site_a])
    pages = {code: client.get(f"/followup/?status=all&timepoint={code}").get_data(as_text=True)
             for code in ("w2_6", "m3", "m6_12")}
    for visit_id, (index, code, expected) in arranged.items():
        html = pages[code]
        row = re.search(rf'<tr data-visit="{visit_id}">(.*?)</tr>', html, re.S)
        assert row, f"edge {EDGES[index]} not listed"
        label = re.search(r'class="badge[^"]*">([^<]+)<', row.group(1)).group(1)
        assert label.startswith(STATUS_LABELS[expected]), (EDGES[index], label)


def test_site_time_zones_give_each_site_its_own_today(app, db, make_site):
    app.config["TODAY"] = None  # the real clock
    east, west = make_site("EAST"), make_site("WEST")
    east.timezone, west.timezone = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14, UTC-11
    db.flush()
    with app.app_context():
        todays = site_todays(db, {east.id, west.id})
    assert todays[east.id] > todays[west.id]
