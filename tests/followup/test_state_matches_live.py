"""The follow-up status tables answer exactly what the rule computes live.

The tables behind ``registry.followup.state`` (each visit's status, the counts per site
and status) are a cache of the rule; the live computation (``status_expression`` in SQL,
``followup_status`` in Python) is the reference.  A varied cohort — every status, three
sites in time zones a day apart, the registry clock moved on, edits through the
services — must get the same answers from both, and the worklist must give the same page
whichever it reads.  The last test keeps the tables behind the interface.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clinical.services.treatment import TreatmentData, save_treatment
from registry.clinical.services.visits import add_unscheduled_visit
from registry.followup.services import mark_not_applicable, withdraw_patient
from registry.followup.state import (
    is_fresh,
    live_counts,
    live_statuses,
    refresh_sites,
    stored_counts,
    stored_statuses,
)
from registry.followup.status import STATUS_LABELS, followup_status, site_todays
from registry.followup.worklist import WorklistFilters, load_worklist
from registry.models import Patient, Site, Visit
from tests.followup.conftest import visit_of
from tests.followup.test_status import EDGES

# (code, time zone): UTC, and the two ends of the date line (+14 and -11 hours), so that
# with the real clock the sites are on different dates.
SITES = (("UTC", None), ("EAST", "Pacific/Kiritimati"), ("WEST", "Pacific/Pago_Pago"))


def assert_agree(db: Session, site_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Stored statuses and counts equal the live ones, and the Python rule; the worklist
    shows the same counts and rows from the tables as computed live."""
    db.expire_all()
    stored = stored_statuses(db, site_ids)
    assert stored == live_statuses(db, site_ids)
    assert stored_counts(db, site_ids) == live_counts(db, site_ids) == dict(
        Counter(stored.values()))
    todays = site_todays(db, site_ids)
    patients = {patient.id: patient for patient in db.scalars(
        select(Patient).where(Patient.site_id.in_(site_ids)))}
    for visit in db.scalars(select(Visit).where(Visit.patient_id.in_(patients),
                                                Visit.timepoint_id.is_not(None))):
        patient = patients[visit.patient_id]
        expected = followup_status(visit, patient.status, todays[patient.site_id])
        assert stored[visit.id] == (patient.site_id, expected), visit.id
    if is_fresh(db, todays):
        for status in ("all", "open"):
            filters = WorklistFilters(site_ids=frozenset(site_ids), status=status)
            page = load_worklist(db, filters, todays, per_page=500)
            shown = [(row.visit_id, row.status) for row in page.rows]
            assert (page.counts, shown) == _live_page(db, filters, todays)
    return stored


def _live_page(db: Session, filters: WorklistFilters, todays: dict[int, date]
               ) -> tuple[dict[str, int], list[tuple[int, str]]]:
    """The worklist computed live (the tables ignored)."""
    from registry.followup.worklist import status_counts, worklist_rows

    counts = status_counts(db, filters, todays, stored=False)
    rows = worklist_rows(db, filters, todays, limit=500, stored=False)
    return counts, [(row.visit_id, row.status) for row in rows]


def arrange(db: Session, make_patient: Callable[..., Patient],
            record_visit: Callable[..., Visit], site: Site, day: date) -> list[Patient]:
    """One patient per edge of the rule (tests/followup/test_status.py), relative to
    ``day`` (the site's today): every status at every site."""
    patients = []
    for code, days, _status, modifier in EDGES:
        patient = make_patient(site, treatment_date=day - timedelta(days=days))
        visit = visit_of(patient, code)
        if modifier in ("done_in_window", "done_out_of_window", "done_early"):
            record_visit(visit, min(day, visit.window_end or day))
        elif modifier == "withdrawn":
            patient.status, patient.withdrawn_on = "withdrawn", day
            patient.withdrawal_reason = "consent_withdrawn"
        elif modifier == "not_applicable":
            visit.status, visit.not_applicable_reason = "not_applicable", "Moved abroad"
        with capture.reason(db, "test arrangement"):
            db.flush()
        patients.append(patient)
    return patients


@pytest.fixture(autouse=True)
def _app_context(app):
    """The services' date checks read the app's clock (moved by these tests)."""
    with app.app_context():
        yield


@pytest.fixture
def sites(app, db, make_site) -> list[Site]:
    made = []
    for code, zone in SITES:
        site = make_site(code)
        site.timezone = zone
        made.append(site)
    with capture.reason(db, "test arrangement"):
        db.flush()
    return made


def edit_everything(db: Session, patients: list[Patient], day: date) -> None:
    """Writes through the services that change statuses (no refresh afterwards)."""
    by_status: dict[str, tuple[Patient, Visit]] = {}
    for patient in patients:
        for visit in patient.visits:
            if visit.timepoint is not None and patient.status == "active":
                status = followup_status(visit, patient.status, day)
                by_status.setdefault(status, (patient, visit))
    if "due" in by_status:  # due -> done
        _patient, visit = by_status["due"]
        visit.visit_date, visit.status = day, "done"
        with capture.reason(db, "test edit"):
            db.flush()
    if "overdue" in by_status:  # overdue -> not applicable
        _patient, visit = by_status["overdue"]
        mark_not_applicable(db, visit, reason="Moved abroad", version=visit.version)
    if "upcoming" in by_status:  # the whole patient withdrawn
        patient, _visit = by_status["upcoming"]
        withdraw_patient(db, patient, withdrawn_on=day, reason="consent_withdrawn",
                         note=None, version=patient.version, today=day)
    if "missed" in by_status:  # treatment date corrected: the schedule moves
        patient, _visit = by_status["missed"]
        data = TreatmentData(treatment_date=day - timedelta(days=80), cell_source="bmac",
                             product_name="Demo BMAC", lot_number="LOT-1",
                             cell_dose_million=20.0, injections=1, co_interventions=[],
                             operator="Dr Test", notes=None)
        treatment = patient.treatment
        save_treatment(db, patient, data, version=str(treatment.version) if treatment else None,
                       reason="Date entered wrongly", recorded_by_id=None)
    add_unscheduled_visit(db, patients[0])  # never in the tables
    db.flush()


def test_every_status_at_sites_a_day_apart_and_after_edits(
        app, db, sites, make_patient, record_visit):
    app.config["TODAY"] = None  # the real clock: each site's own date
    site_ids = [site.id for site in sites]
    todays = site_todays(db, site_ids)
    assert len(set(todays.values())) > 1  # the date line splits them
    cohort = {site.id: arrange(db, make_patient, record_visit, site, todays[site.id])
              for site in sites}
    assert refresh_sites(db) == todays
    assert is_fresh(db, todays)
    stored = assert_agree(db, site_ids)
    for site_id in site_ids:
        assert {status for site, status in stored.values() if site == site_id} == set(
            STATUS_LABELS)
    for site in sites:
        edit_everything(db, cohort[site.id], todays[site.id])
        assert_agree(db, site_ids)


@pytest.mark.parametrize("days_later", [1, 14, 15, 45, 200, 400])
def test_the_clock_moves_on_then_a_refresh_catches_up(
        app, db, sites, make_patient, record_visit, days_later):
    start = date(2026, 6, 1)
    app.config["TODAY"] = start.isoformat()
    site_ids = [site.id for site in sites]
    cohort = {site.id: arrange(db, make_patient, record_visit, site, start) for site in sites}
    refresh_sites(db)
    assert_agree(db, site_ids)
    moved = start + timedelta(days=days_later)
    app.config["TODAY"] = moved.isoformat()
    todays = site_todays(db, site_ids)
    assert not is_fresh(db, todays)  # stale: the worklist computes live meanwhile
    filters = WorklistFilters(site_ids=frozenset(site_ids), status="all")
    page = load_worklist(db, filters, todays, per_page=500)
    assert (page.counts, [(r.visit_id, r.status) for r in page.rows]) == _live_page(
        db, filters, todays)
    edit_everything(db, cohort[site_ids[0]], moved)  # a write before the refresh
    assert refresh_sites(db) == dict.fromkeys(site_ids, moved)
    assert_agree(db, site_ids)
    edit_everything(db, cohort[site_ids[1]], moved)
    assert_agree(db, site_ids)


def test_a_site_moved_to_another_time_zone_is_stale_until_refreshed(
        app, db, sites, make_patient, record_visit):
    app.config["TODAY"] = None
    utc, east, _west = sites
    arrange(db, make_patient, record_visit, utc, site_todays(db, [utc.id])[utc.id])
    refresh_sites(db)
    utc.timezone = east.timezone  # the admin corrects the site's zone: its date may move
    with capture.reason(db, "test edit"):
        db.flush()
    todays = site_todays(db, [utc.id])
    if not is_fresh(db, todays):
        assert refresh_sites(db, [utc.id]) == todays
    assert is_fresh(db, todays)
    assert_agree(db, [utc.id])


# Names of the tables and their models: only their interface and models may use them.
TABLE_NAMES = re.compile(r"\b(FollowupState|FollowupCount|followup_state|followup_count)\b")
ALLOWED = {Path("followup/state.py"), Path("models/followup.py"), Path("models/__init__.py")}


def test_nothing_outside_the_interface_touches_the_tables():
    package = Path(__file__).resolve().parents[2] / "registry"
    users = sorted(str(path.relative_to(package)) for path in package.rglob("*.py")
                   if path.relative_to(package) not in ALLOWED
                   and TABLE_NAMES.search(path.read_text(encoding="utf-8")))
    assert users == []
