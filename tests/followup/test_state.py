"""The worklist's status table: kept current by every write, refreshed per site and day,
used only when fresh, and always equal to the live computation of the rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry import audit_capture as capture
from registry.clinical.services.treatment import TreatmentData, save_treatment
from registry.followup.services import mark_not_applicable, withdraw_patient
from registry.followup.state import is_fresh, refresh_sites, state_rows
from registry.followup.status import STATUS_LABELS
from registry.followup.worklist import WorklistFilters, load_worklist
from registry.models import FollowupCount, FollowupRefresh, FollowupState, Patient, Visit
from tests.fixtures.database import recorded_statements
from tests.followup.conftest import TODAY, row_visit_ids, shown_count, visit_of
from tests.followup.test_status import EDGES, _arrange


def stored(db) -> dict[int, tuple[int, str, int]]:
    """visit id -> (site id, status, urgency) as stored."""
    db.expire_all()
    return {row.visit_id: (row.site_id, row.status, row.urgency)
            for row in db.scalars(select(FollowupState))}


def live(db, today: date = TODAY) -> dict[int, tuple[int, str, int]]:
    """The same, computed now by the rule (``status_expression``)."""
    return {visit_id: (site_id, status, urgency) for visit_id, site_id, status, urgency, *_
            in db.execute(state_rows(today))}


def assert_counts_kept(db) -> dict[tuple[int, int], int]:
    """``FollowupCount`` equals counting ``FollowupState`` (zero counts may stay);
    ``db``: a session or a connection."""
    kept = {(site_id, urgency): visits for site_id, urgency, visits in db.execute(
        select(FollowupCount.site_id, FollowupCount.urgency, FollowupCount.visits))}
    counted = {(site_id, urgency): visits for site_id, urgency, visits in db.execute(
        select(FollowupState.site_id, FollowupState.urgency, func.count())
        .group_by(FollowupState.site_id, FollowupState.urgency))}
    assert {key: visits for key, visits in kept.items() if visits} == counted
    return counted


def test_every_edge_is_stored_as_the_rule_says_after_the_writes_that_made_it(
        db, site_a, treated_days_ago, record_visit):
    assert refresh_sites(db) == {site_a.id: TODAY}  # an empty site: only the day is kept
    expected = {}
    for code, days, status, modifier in EDGES:
        _patient, visit = _arrange(db, treated_days_ago, record_visit, site_a, code, days,
                                   modifier)
        expected[visit.id] = status
    rows = stored(db)
    assert {visit_id: rows[visit_id][1] for visit_id in expected} == expected
    assert rows == live(db)
    counts = assert_counts_kept(db)  # kept by the writes alone
    assert sum(counts.values()) == len(rows)
    assert refresh_sites(db) == {}  # already current: nothing to do
    assert refresh_sites(db, force=True) == {site_a.id: TODAY}
    assert stored(db) == rows
    assert assert_counts_kept(db) == counts  # recounted by the refresh: the same


def test_unscheduled_visits_are_not_in_the_table(db, site_a, treated_days_ago):
    patient = treated_days_ago(site_a, 100)
    extra = Visit(patient_id=patient.id, timepoint_id=None, status="scheduled")
    db.add(extra)
    db.flush()
    assert extra.id not in stored(db)
    assert len(stored(db)) == 4  # the four scheduled timepoints


def test_services_keep_rows_current(app, db, site_a, treated_days_ago, record_visit):
    refresh_sites(db)
    keep = treated_days_ago(site_a, 115)  # m3 overdue
    record_visit(visit_of(keep, "m3"), TODAY)
    assert stored(db)[visit_of(keep, "m3").id][1] == "done"
    skip = treated_days_ago(site_a, 95)  # m3 due
    mark_not_applicable(db, visit_of(skip, "m3"), reason="Moved abroad",
                        version=visit_of(skip, "m3").version)
    assert stored(db)[visit_of(skip, "m3").id][1] == "not_applicable"
    leaving = treated_days_ago(site_a, 140)  # m3 missed, m6_12 not yet due
    withdraw_patient(db, leaving, withdrawn_on=TODAY, reason="consent_withdrawn",
                     note=None, version=leaving.version, today=TODAY)
    db.flush()
    assert {stored(db)[v.id][1] for v in leaving.visits if v.status != "done"} == {
        "not_applicable"}
    moved = treated_days_ago(site_a, 10)  # w2_6 upcoming
    data = TreatmentData(treatment_date=TODAY - timedelta(days=30), cell_source="bmac",
                         product_name="Demo BMAC", lot_number="LOT-1", cell_dose_million=20.0,
                         injections=1, co_interventions=[], operator="Dr Test", notes=None)
    save_treatment(db, moved, data, version=str(moved.treatment.version),
                   reason="Date entered wrongly", recorded_by_id=None)
    assert stored(db)[visit_of(moved, "w2_6").id][1] == "due"
    assert stored(db) == live(db)
    assert assert_counts_kept(db)


def test_a_patient_status_change_alone_recomputes_its_visits(db, site_a, treated_days_ago):
    refresh_sites(db)
    patient = treated_days_ago(site_a, 95)
    with capture.reason(db, "test"):
        patient.status = "withdrawn"
        db.flush()
    assert stored(db)[visit_of(patient, "m3").id][1] == "not_applicable"
    assert assert_counts_kept(db)


def test_each_site_is_refreshed_for_its_own_today(app, db, make_site, treated_days_ago):
    east, west = make_site("EAST"), make_site("WEST")
    east.timezone, west.timezone = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # +14, -11
    app.config["TODAY"] = None  # the real clock: the two sites are on different dates
    treated_days_ago(east, 100)
    treated_days_ago(west, 100)
    days = refresh_sites(db)
    assert days[east.id] == days[west.id] + timedelta(days=1)
    assert is_fresh(db, days)
    assert not is_fresh(db, {east.id: days[west.id]})
    assert stored(db) == live(db, days)
    assert {site_id for site_id, _urgency in assert_counts_kept(db)} == {east.id, west.id}


@pytest.fixture
def coordinator_a(auth, site_a):
    return auth.login("coordinator", sites=[site_a])


def _reads_state(client, engine, url: str) -> tuple[bool, str]:
    with recorded_statements(engine) as statements:
        html = client.get(url).get_data(as_text=True)
    return any("followup_state" in statement for statement in statements), html


def test_worklist_reads_the_table_only_when_the_site_is_fresh(
        client, db, engine, site_a, treated_days_ago, coordinator_a):
    patients = [treated_days_ago(site_a, days) for days in (115, 95, 140, 65, 107)]
    reads, live_html = _reads_state(client, engine, "/followup/?status=all")
    assert not reads  # never refreshed: computed live
    refresh_sites(db)
    db.flush()
    reads, stored_html = _reads_state(client, engine, "/followup/?status=all")
    assert reads
    assert row_visit_ids(stored_html) == row_visit_ids(live_html)
    assert len(row_visit_ids(stored_html)) == 4 * len(patients)
    db.get(FollowupRefresh, site_a.id).as_of = TODAY - timedelta(days=1)  # a new day
    db.flush()
    reads, stale_html = _reads_state(client, engine, "/followup/?status=all")
    assert not reads
    assert row_visit_ids(stale_html) == row_visit_ids(live_html)


@pytest.mark.parametrize("status", ["open", "all", "overdue", "due", "missed", "upcoming",
                                    "scheduled", "done", "not_applicable"])
@pytest.mark.parametrize(("timepoint", "treated_from"), [
    (None, None),  # counts from FollowupCount
    (None, TODAY - timedelta(days=200)), ("m3", None), ("m3", TODAY - timedelta(days=200))])
def test_stored_and_live_worklists_agree(db, site_a, site_b, treated_days_ago, record_visit,
                                         status, timepoint, treated_from):
    for site, edges in ((site_a, EDGES), (site_b, EDGES[::3])):
        for code, days, _expected, modifier in edges:
            _arrange(db, treated_days_ago, record_visit, site, code, days, modifier)
    todays = {site_a.id: TODAY, site_b.id: TODAY}
    filters = WorklistFilters(site_ids=frozenset(todays), status=status, timepoint=timepoint,
                              treated_from=treated_from)

    def shown() -> tuple[dict[str, int], int, list[tuple[int, str]]]:
        page = load_worklist(db, filters, todays, per_page=7, page=2)
        return page.counts, page.total, [(row.visit_id, row.status) for row in page.rows]

    assert not is_fresh(db, todays)
    computed_live = shown()
    refresh_sites(db)
    assert is_fresh(db, todays)
    assert shown() == computed_live
    assert computed_live[1] > 0 or status == "scheduled"


def test_unfiltered_counts_read_the_kept_counts_not_the_visits(
        client, db, engine, site_a, treated_days_ago, record_visit, coordinator_a):
    patients = [treated_days_ago(site_a, days) for days in (115, 95, 140, 65)]
    refresh_sites(db)
    record_visit(visit_of(patients[0], "m3"), TODAY)  # overdue -> done, after the refresh
    db.flush()
    with recorded_statements(engine) as statements:
        html = client.get("/followup/?status=all").get_data(as_text=True)
    counting = [statement for statement in statements if "count(" in statement.lower()]
    assert any("followup_count" in statement for statement in statements)
    assert counting == []  # nothing counted per page
    assert shown_count(html, "done") == 1
    assert shown_count(html, "overdue") == 0
    assert sum(shown_count(html, code) for code in STATUS_LABELS) == 4 * len(patients)
    with recorded_statements(engine) as statements:
        client.get("/followup/?status=all&timepoint=m3")
    assert not any("followup_count" in statement for statement in statements)


def test_refresh_command_reports_what_it_did(runner, db, site_a, treated_days_ago):
    treated_days_ago(site_a, 100)
    db.commit()
    first = runner.invoke(args=["refresh-followup"])
    assert first.exit_code == 0, first.output
    assert f"AAA: follow-up statuses computed for {TODAY.isoformat()}" in first.output
    again = runner.invoke(args=["refresh-followup"])
    assert "current for every site" in again.output
    forced = runner.invoke(args=["refresh-followup", "--force"])
    assert "AAA:" in forced.output
    assert db.scalar(select(Patient.status).where(Patient.site_id == site_a.id)) == "active"
