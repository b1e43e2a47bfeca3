"""The worklist page: content, urgency order, filters, pagination, CSV, access, statements."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from registry.followup.state import refresh_sites
from registry.models import ContactAttempt
from tests.fixtures.database import recorded_statements
from tests.followup.conftest import TODAY, row_visit_ids, shown_count, visit_of

# m3 visit: window days 75–120, grace ends day 105 → overdue from day 106.
M3_OVERDUE_10 = 115  # 10 days overdue
M3_OVERDUE_2 = 107
M3_DUE = 95
M3_MISSED = 140
M3_UPCOMING = 65


@pytest.fixture(params=["live", "stored"])
def make_site(request, make_site, app, db):
    """Every test here runs twice: statuses computed live, and read from the status table
    (each site refreshed when created, then kept current by the writes that follow)."""

    def make(*args, **kwargs):
        site = make_site(*args, **kwargs)
        if request.param == "stored":
            with app.app_context():
                refresh_sites(db, [site.id])
        return site

    return make


@pytest.fixture
def coordinator_a(auth, site_a):
    return auth.login("coordinator", sites=[site_a])


def test_page_lists_identity_timepoint_dates_and_sorts_by_urgency(
        client, db, site_a, treated_days_ago, coordinator_a):
    upcoming = treated_days_ago(site_a, M3_UPCOMING)
    missed = treated_days_ago(site_a, M3_MISSED)
    overdue_2 = treated_days_ago(site_a, M3_OVERDUE_2)
    due = treated_days_ago(site_a, M3_DUE)
    overdue_10 = treated_days_ago(site_a, M3_OVERDUE_10, family_name="Overdue-Ten")
    response = client.get("/followup/?timepoint=m3")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # The default (Open) tab: what can be acted on now; the missed visit has its own tab.
    expected = [visit_of(p, "m3").id for p in (overdue_10, overdue_2, due, upcoming)]
    assert row_visit_ids(html) == expected
    missed_tab = client.get("/followup/?timepoint=m3&status=missed").get_data(as_text=True)
    assert row_visit_ids(missed_tab) == [visit_of(missed, "m3").id]
    row = re.search(rf'<tr data-visit="{expected[0]}">(.*?)</tr>', html, re.S).group(1)
    visit = visit_of(overdue_10, "m3")
    for text in (overdue_10.study_id, "Overdue-Ten", overdue_10.identity.phone,
                 overdue_10.identity.email, "3 months",
                 f'<time datetime="{visit.target_date.isoformat()}">',
                 f'<time datetime="{visit.window_start.isoformat()}">',
                 f'<time datetime="{visit.window_end.isoformat()}">',
                 # day 115 of a 75–120 window with target day 91: two figures, not one
                 "24 days past target · 5 days left", "none"):
        assert text in row
    assert shown_count(html, "overdue") == 2
    assert shown_count(html, "due") == 1
    assert shown_count(html, "missed") == 1  # counts follow the timepoint filter
    assert shown_count(html, "upcoming") == 1


def test_counts_cover_every_visit_of_the_sites(client, db, site_a, treated_days_ago,
                                               coordinator_a):
    for days in (M3_OVERDUE_10, M3_DUE, M3_UPCOMING):
        treated_days_ago(site_a, days)
    html = client.get("/followup/?status=all").get_data(as_text=True)
    counts = {status: shown_count(html, status) for status in
              ("overdue", "due", "missed", "upcoming", "scheduled", "done", "not_applicable")}
    assert sum(counts.values()) == 3 * 4  # four visits per patient
    # baselines (window closed on treatment day, not recorded) are missed; 2-6 week visits
    # of patients treated 65+ days ago are missed too.
    assert counts["missed"] == 3 + 3


def test_other_sites_rows_are_never_shown(client, db, site_a, site_b, treated_days_ago,
                                          coordinator_a):
    mine = treated_days_ago(site_a, M3_OVERDUE_10)
    theirs = treated_days_ago(site_b, M3_OVERDUE_10, family_name="Elsewhere")
    html = client.get("/followup/?status=all").get_data(as_text=True)
    assert mine.study_id in html
    assert theirs.study_id not in html
    assert "Elsewhere" not in html
    assert set(row_visit_ids(html)) == {visit.id for visit in mine.visits}


@pytest.mark.parametrize(("query", "field", "message"), [
    ("status=bogus", "status", "Choose a status from the list."),
    ("site=999999", "site", "Choose one of your own sites"),
    ("site=abc", "site", "Choose one of your own sites"),
    ("timepoint=m99", "timepoint", "Choose a timepoint from the list."),
    ("clinician=-4", "clinician", "Choose a clinician from the list."),
    ("treated_from=2026-13-01", "treated_from", "Enter a date as YYYY-MM-DD."),
    ("treated_from=2026-05-01&treated_to=2026-04-01", "treated_to",
     "The end of the range cannot be before its start."),
    ("page=0", "page", "The page number must be 1 or more."),
    ("page=x", "page", "Not a valid integer value."),
])
def test_bad_filter_values_get_a_clear_message(client, site_a, coordinator_a, query, field,
                                               message):
    response = client.get(f"/followup/?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'<p class="error" id="{field}-error">(Page: )?{re.escape(message)}', html)


def test_another_sites_id_as_filter_is_refused(client, site_a, site_b, treated_days_ago,
                                               coordinator_a):
    theirs = treated_days_ago(site_b, M3_OVERDUE_10)
    response = client.get(f"/followup/?site={site_b.id}")
    assert response.status_code == 400
    assert theirs.study_id not in response.get_data(as_text=True)


def test_filters_site_status_timepoint_clinician_and_treatment_dates(
        auth, client, db, make_site, make_user, treated_days_ago):
    north, south = make_site("NRT"), make_site("STH")
    doctor = make_user("clinician", sites=[north])
    early = treated_days_ago(north, M3_OVERDUE_10)  # treated TODAY-115
    late = treated_days_ago(north, M3_DUE)  # treated TODAY-95
    southern = treated_days_ago(south, M3_OVERDUE_2)
    visit_of(late, "m3").clinician_id = doctor.id
    db.flush()
    auth.login("coordinator", sites=[north, south])

    def listed(query: str) -> set[int]:
        response = client.get(f"/followup/?{query}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return set(row_visit_ids(response.get_data(as_text=True)))

    assert listed(f"site={south.id}&status=all") == {v.id for v in southern.visits}
    assert listed("status=overdue") == {visit_of(early, "m3").id,
                                        visit_of(southern, "m3").id}
    assert listed("status=due&timepoint=m3") == {visit_of(late, "m3").id}
    assert listed(f"status=all&clinician={doctor.id}") == {visit_of(late, "m3").id}
    window = (TODAY - timedelta(days=100)).isoformat()
    assert listed(f"status=all&treated_from={window}") == {v.id for v in late.visits}
    assert listed(f"status=all&treated_to={window}&site={north.id}") == {
        v.id for v in early.visits}
    assert listed(f"status=all&treated_to={window}") == (
        {v.id for v in early.visits} | {v.id for v in southern.visits})


def test_pagination_fifty_per_page_and_past_the_end(client, site_a, treated_days_ago,
                                                    coordinator_a):
    for _ in range(60):
        treated_days_ago(site_a, M3_OVERDUE_10)
    first = client.get("/followup/?status=overdue").get_data(as_text=True)
    assert len(row_visit_ids(first)) == 50
    assert "page 1 of 2" in first
    assert 'rel="next"' in first
    second = client.get("/followup/?status=overdue&page=2").get_data(as_text=True)
    assert len(row_visit_ids(second)) == 10
    assert set(row_visit_ids(first)).isdisjoint(row_visit_ids(second))
    beyond = client.get("/followup/?status=overdue&page=99").get_data(as_text=True)
    assert row_visit_ids(beyond) == row_visit_ids(second)


def test_csv_download_is_a_post(client, site_a, coordinator_a):
    assert client.get("/followup/call-list.csv").status_code == 405


def test_last_contact_and_booked_appointment_show_on_the_row(client, db, site_a,
                                                             treated_days_ago, coordinator_a):
    patient = treated_days_ago(site_a, M3_OVERDUE_10)
    visit = visit_of(patient, "m3")
    for day, outcome in ((3, "no_answer"), (1, "appointment_booked")):
        db.add(ContactAttempt(patient_id=patient.id, visit_id=visit.id, method="phone",
                              attempted_on=TODAY - timedelta(days=day), outcome=outcome,
                              appointment_date=TODAY + timedelta(days=4)
                              if outcome == "appointment_booked" else None))
    visit.appointment_date = TODAY + timedelta(days=4)
    db.flush()
    html = client.get("/followup/?timepoint=m3").get_data(as_text=True)
    row = re.search(rf'<tr data-visit="{visit.id}">(.*?)</tr>', html, re.S).group(1)
    contacted = (TODAY - timedelta(days=1)).isoformat()
    assert f'<time datetime="{contacted}">31 May 2026</time> · Phone, Appointment booked' in row
    booked = (TODAY + timedelta(days=4)).isoformat()
    # Shown as booked, with the date, next to the status.
    assert re.search(rf'<span class="badge booked" data-booked="{booked}">booked '
                     rf'<time datetime="{booked}">5 Jun 2026</time></span>', row)
    assert 'data-shown="overdue"' in row


@pytest.mark.parametrize(("role", "status"), [("researcher", 403), ("clinician", 403)])
def test_roles_without_followup_permission_are_refused(auth, client, site_a, role, status):
    auth.login(role, sites=[site_a] if role != "researcher" else [])
    assert client.get("/followup/").status_code == status
    assert client.post("/followup/call-list.csv", data={}).status_code == status


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/followup/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_admin_sees_own_sites_worklist(auth, client, site_a, treated_days_ago):
    patient = treated_days_ago(site_a, M3_OVERDUE_10)
    auth.login("admin", sites=[site_a])
    assert patient.study_id in client.get("/followup/").get_data(as_text=True)


def _statements_for(client, engine, url: str) -> int:
    with recorded_statements(engine) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_statements_per_page_do_not_grow_with_rows(client, db, engine, site_a,
                                                   treated_days_ago, coordinator_a):
    for index in range(5):
        patient = treated_days_ago(site_a, M3_OVERDUE_10)
        db.add(ContactAttempt(patient_id=patient.id, visit_id=visit_of(patient, "m3").id,
                              method="phone", attempted_on=TODAY, outcome="no_answer"))
        visit_of(patient, "m3").clinician_id = coordinator_a.id if index % 2 else None
    db.flush()
    url = "/followup/?status=overdue"
    assert len(row_visit_ids(client.get(url).get_data(as_text=True))) == 5
    five = _statements_for(client, engine, url)
    for _ in range(50):
        patient = treated_days_ago(site_a, M3_OVERDUE_10)
        db.add(ContactAttempt(patient_id=patient.id, visit_id=visit_of(patient, "m3").id,
                              method="sms", attempted_on=TODAY, outcome="reached"))
    db.flush()
    assert len(row_visit_ids(client.get(url).get_data(as_text=True))) == 50
    fifty = _statements_for(client, engine, url)
    assert five == fifty
    assert 3 <= fifty <= 12, fifty
