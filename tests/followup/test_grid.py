"""The record status grid on both databases: cells by the one status rule, filters,
sorting, paging, columns of several protocols, site separation, access, statements."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from registry import audit_capture as capture
from registry.followup.grid import BOOKED, SHOWN_ORDER
from registry.followup.status import URGENCY, display_status, followup_status
from registry.models import Protocol, Site, Timepoint
from tests.fixtures.database import recorded_statements
from tests.followup.conftest import TODAY, visit_of

GRID = "/followup/grid"
CELL = re.compile(r'<td class="cell status-([a-z-]+)( booked)?" data-status="(\w+)" '
                  r'data-visit="(\d+)">(.*?)</td>', re.S)


def row_ids(html: str) -> list[int]:
    """The patient ids of the grid's rows, in page order."""
    return [int(found) for found in re.findall(r'<tr data-patient="(\d+)">', html)]


def cells(html: str) -> dict[int, str]:
    """visit id -> the shown status code of its cell."""
    return {int(match.group(4)): match.group(3) for match in CELL.finditer(html)}


def cell_html(html: str, visit_id: int) -> str:
    return next(match.group(0) for match in CELL.finditer(html)
                if int(match.group(4)) == visit_id)


def expected_code(visit, patient) -> str:
    """The shown status by the Python rule (followup_status + display_status)."""
    status = followup_status(visit, patient.status, TODAY)
    return display_status(status, out_of_window=visit.out_of_window,
                          appointment_date=visit.appointment_date).code


def is_booked(visit, patient) -> bool:
    status = followup_status(visit, patient.status, TODAY)
    return display_status(status, appointment_date=visit.appointment_date).booked is not None


def get(client, query: str = "") -> str:
    response = client.get(f"{GRID}?{query}" if query else GRID)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


@pytest.fixture
def coordinator_a(auth, site_a):
    return auth.login("coordinator", sites=[site_a])


@pytest.fixture
def cohort(db, site_a, treated_days_ago, make_patient, record_visit):
    """Patients of site A whose visits between them have every shown status."""
    patients = {
        "overdue": treated_days_ago(site_a, 115),  # m3 overdue; baseline, w2_6 missed
        "due": treated_days_ago(site_a, 95),
        "upcoming": treated_days_ago(site_a, 65),
        "missed": treated_days_ago(site_a, 140),
        "recorded": treated_days_ago(site_a, 115),
        "withdrawn": treated_days_ago(site_a, 100),
        "na": treated_days_ago(site_a, 300),
        "untreated": make_patient(site_a, treated=False),
    }
    with capture.reason(db, "test arrangement"):  # status changes need one
        recorded = patients["recorded"]
        treated_on = recorded.treatment.treatment_date
        record_visit(visit_of(recorded, "baseline"), treated_on - timedelta(days=3))
        late = record_visit(visit_of(recorded, "w2_6"), treated_on + timedelta(days=50))
        late.out_of_window = True  # day 50: the window closed on day 42
        visit_of(recorded, "m3").appointment_date = TODAY + timedelta(days=4)  # overdue, booked
        visit_of(patients["upcoming"], "m3").appointment_date = TODAY + timedelta(days=12)
        patients["withdrawn"].status = "withdrawn"
        patients["withdrawn"].withdrawn_on = TODAY - timedelta(days=2)
        patients["withdrawn"].withdrawal_reason = "lost_to_follow_up"
        visit_of(patients["na"], "m6_12").status = "not_applicable"
        visit_of(patients["na"], "m6_12").not_applicable_reason = "Moved away"
        db.flush()
    return patients


def test_every_cell_shows_the_status_rule(client, db, cohort, coordinator_a):
    html = get(client)
    shown = cells(html)
    expected = {visit.id: expected_code(visit, patient)
                for patient in cohort.values() for visit in patient.visits}
    assert shown == expected
    assert set(shown.values()) == set(SHOWN_ORDER) - {BOOKED}  # every status, once at least
    recorded = cohort["recorded"]
    booked = cell_html(html, visit_of(recorded, "m3").id)
    assert " booked" in booked
    assert "Overdue" in booked
    assert f'booked <time datetime="{(TODAY + timedelta(days=4)).isoformat()}">' in booked
    late = cell_html(html, visit_of(recorded, "w2_6").id)
    assert "Done out of window" in late
    assert f"{recorded.study_id}, 2–6 weeks: </span>" in late  # what a screen reader hears


def test_rows_columns_and_blank_cells(client, db, cohort, coordinator_a):
    html = get(client)
    assert row_ids(html) == sorted((p.id for p in cohort.values()),
                                   key=lambda pid: next(p.study_id for p in cohort.values()
                                                        if p.id == pid))
    headers = re.findall(r'<th scope="col" data-timepoint="(\w+)">', html)
    assert headers == ["baseline", "w2_6", "m3", "m6_12"]
    untreated = cohort["untreated"]
    row = re.search(rf'<tr data-patient="{untreated.id}">(.*?)</tr>', html, re.S).group(1)
    assert "Not treated yet" in row
    assert row.count('class="cell no-visit"') == 4
    assert f"{untreated.study_id}, 3 months: no visit" in row
    assert "Family" in row  # the name, for staff who may read it
    assert "Withdrawn" in re.search(rf'<tr data-patient="{cohort["withdrawn"].id}">(.*?)</th>',
                                    html, re.S).group(1)
    assert '<caption id="grid-caption">' in html
    assert re.search(r'<th scope="row"><a href="/patients/\d+">', html)


@pytest.mark.parametrize("code", SHOWN_ORDER)
def test_status_present_filter(client, db, cohort, coordinator_a, code):
    expected = {patient.id for patient in cohort.values()
                if any((is_booked(visit, patient) if code == BOOKED
                        else expected_code(visit, patient) == code)
                       for visit in patient.visits)}
    assert set(row_ids(get(client, f"status={code}"))) == expected


def test_sort_orders(client, db, cohort, coordinator_a):
    patients = list(cohort.values())

    def treated(patient):
        return patient.treatment.treatment_date if patient.treatment else None

    by_study = [p.id for p in sorted(patients, key=lambda p: p.study_id)]
    assert row_ids(get(client, "sort=study_id")) == by_study
    treated_ones = [p for p in patients if treated(p)]
    newest = sorted(treated_ones, key=lambda p: (-treated(p).toordinal(), p.study_id))
    assert row_ids(get(client, "sort=treated_desc")) == [
        *(p.id for p in newest), cohort["untreated"].id]
    oldest = sorted(treated_ones, key=lambda p: (treated(p), p.study_id))
    assert row_ids(get(client, "sort=treated_asc")) == [
        *(p.id for p in oldest), cohort["untreated"].id]

    def urgency(patient):
        ranks = [URGENCY[followup_status(v, patient.status, TODAY)] for v in patient.visits]
        return (min(ranks, default=len(URGENCY)), treated(patient) or TODAY.max,
                patient.study_id)

    by_urgency = row_ids(get(client, "sort=urgency"))
    assert by_urgency == [p.id for p in sorted(patients, key=urgency)]
    assert by_urgency[0] in {cohort["overdue"].id, cohort["recorded"].id}  # overdue first
    assert by_urgency[-1] == cohort["untreated"].id


def test_treatment_date_and_clinician_filters(client, db, site_a, treated_days_ago, make_user,
                                              coordinator_a):
    doctor = make_user("clinician", sites=[site_a])
    early = treated_days_ago(site_a, 200)
    late = treated_days_ago(site_a, 20)
    late.treatment.recorded_by_id = doctor.id
    db.flush()
    middle = (TODAY - timedelta(days=100)).isoformat()
    assert row_ids(get(client, f"treated_from={middle}")) == [late.id]
    assert row_ids(get(client, f"treated_to={middle}")) == [early.id]
    assert row_ids(get(client, f"clinician={doctor.id}")) == [late.id]
    assert row_ids(get(client, f"clinician={doctor.id}&treated_to={middle}")) == []
    assert "No patients match these filters." in get(client, f"clinician={coordinator_a.id}")


def test_paging_fifty_by_default(client, db, site_a, treated_days_ago, coordinator_a):
    made = [treated_days_ago(site_a, 115) for _ in range(60)]
    first = get(client, "status=overdue")
    assert len(row_ids(first)) == 50
    assert "60 patients — page 1 of 2" in first
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first).group(1)
    assert "status=overdue" in next_link
    assert "page=2" in next_link
    second = get(client, "status=overdue&page=2")
    assert len(row_ids(second)) == 10
    assert set(row_ids(first)).isdisjoint(row_ids(second))
    assert set(row_ids(first)) | set(row_ids(second)) == {p.id for p in made}
    assert row_ids(get(client, "status=overdue&page=99")) == row_ids(second)
    small = get(client, "per_page=25&page=3")
    assert len(row_ids(small)) == 10
    assert "page 3 of 3" in small


def test_columns_are_the_union_of_the_sites_protocols(auth, client, db, make_site,
                                                      treated_days_ago):
    north, south = make_site("NRT"), make_site("STH")
    own = Protocol(name="Southern long follow-up", site_id=south.id)
    for order, (code, name, day, start, end) in enumerate(
            (("baseline", "Baseline", 0, -60, 0), ("m24", "24 months", 730, 700, 760))):
        own.timepoints.append(Timepoint(
            code=code, name=name, target_day=day, window_start_day=start,
            window_end_day=end, grace_days=14, sort_order=order,
            is_baseline=code == "baseline", instruments=[]))
    db.add(own)
    db.flush()
    northern = treated_days_ago(north, 115)
    southern = treated_days_ago(south, 115)
    auth.login("coordinator", sites=[north, south])
    html = get(client)
    assert re.findall(r'data-timepoint="(\w+)"', html) == [
        "baseline", "w2_6", "m3", "m6_12", "m24"]
    for patient, blank in ((northern, "24 months"), (southern, "3 months")):
        row = re.search(rf'<tr data-patient="{patient.id}">(.*?)</tr>', html, re.S).group(1)
        assert f"{patient.study_id}, {blank}: no visit" in row
    assert cells(html) == {v.id: expected_code(v, p) for p in (northern, southern)
                           for v in p.visits}
    only_north = get(client, f"site={north.id}")
    assert "m24" not in only_north
    assert row_ids(only_north) == [northern.id]


def test_other_sites_never_appear(client, db, site_a, site_b, treated_days_ago, make_site,
                                  coordinator_a):
    mine = treated_days_ago(site_a, 115)
    theirs = treated_days_ago(site_b, 115, family_name="Elsewhere")
    for query in ("", "status=overdue", "sort=urgency", "sort=treated_desc",
                  f"treated_to={TODAY.isoformat()}", "per_page=200"):
        html = get(client, query)
        assert row_ids(html) == [mine.id], query
        assert theirs.study_id not in html
        assert "Elsewhere" not in html
        assert set(cells(html)) == {visit.id for visit in mine.visits}
    response = client.get(f"{GRID}?site={site_b.id}")
    assert response.status_code == 400
    assert theirs.study_id not in response.get_data(as_text=True)


def test_a_deactivated_site_is_closed(auth, client, db, site_a, site_b, treated_days_ago):
    mine = treated_days_ago(site_a, 115)
    closed = treated_days_ago(site_b, 115)
    auth.login("coordinator", sites=[site_a, site_b])
    assert set(row_ids(get(client))) == {mine.id, closed.id}
    with capture.reason(db, "site closed"):
        db.get(Site, site_b.id).active = False
        db.flush()
    assert row_ids(get(client)) == [mine.id]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("status=bogus", "status", "Choose a status from the list."),
    ("site=999999", "site", "Choose one of your own sites"),
    ("site=abc", "site", "Choose one of your own sites"),
    ("clinician=-4", "clinician", "Choose a clinician from the list."),
    ("sort=patient.id", "sort", "Choose a sort order from the list."),
    ("per_page=100000", "per_page", "Choose a page size from the list."),
    ("treated_from=2026-13-01", "treated_from", "Enter a date as YYYY-MM-DD."),
    ("treated_from=2026-05-01&treated_to=2026-04-01", "treated_to",
     "The end of the range cannot be before its start."),
    ("page=0", "page", "The page number must be 1 or more."),
    ("page=x", "page", "Not a valid integer value."),
])
def test_bad_filter_values_get_a_clear_message(client, site_a, coordinator_a, query, field,
                                               message):
    response = client.get(f"{GRID}?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'<p class="error" id="{field}-error">(Page: )?{re.escape(message)}', html)


def test_links_follow_the_users_permissions(auth, client, db, site_a, cohort):
    recorded = cohort["recorded"]
    done, open_ = visit_of(recorded, "baseline"), visit_of(recorded, "m3")
    entry = "/patients/{}/visits/{}"
    auth.login("coordinator", sites=[site_a])
    html = get(client)
    assert f'<a href="/followup/visits/{open_.id}">' in cell_html(html, open_.id)
    assert f'<a href="{entry.format(recorded.id, done.id)}">' in cell_html(html, done.id)
    auth.logout()
    auth.login("clinician", sites=[site_a])  # no follow-up permission: the entry pages
    html = get(client)
    assert f'<a href="{entry.format(recorded.id, open_.id)}">' in cell_html(html, open_.id)
    assert "/followup/visits/" not in html
    assert 'href="/followup/"' not in html  # no worklist link either


@pytest.mark.parametrize("role", ["clinician", "coordinator", "admin"])
def test_staff_roles_open_the_grid(auth, client, site_a, treated_days_ago, role):
    patient = treated_days_ago(site_a, 115)
    auth.login(role, sites=[site_a])
    assert row_ids(get(client)) == [patient.id]
    assert f'href="{GRID}"' in get(client)  # the navigation link


def test_researcher_and_visitor_are_refused(auth, client, site_a):
    assert "/login" in client.get(GRID).headers["Location"]
    auth.login("researcher")
    assert client.get(GRID).status_code == 403


def _statements(client, engine, query: str) -> tuple[int, int]:
    with recorded_statements(engine) as statements:
        html = get(client, query)
    return len(statements), len(row_ids(html))


@pytest.mark.parametrize("query", ["", "sort=urgency&status=overdue",
                                   "sort=treated_desc&status=booked"])
def test_statements_do_not_grow_with_the_page(client, db, engine, site_a, treated_days_ago,
                                              coordinator_a, query):
    def add(count: int) -> None:
        for _ in range(count):
            patient = treated_days_ago(site_a, 115)
            visit_of(patient, "m3").appointment_date = TODAY + timedelta(days=3)
        db.flush()

    add(10)
    get(client, query)  # warm: the first request of a test loads more (user, sites)
    ten, rows_ten = _statements(client, engine, query)
    add(40)
    fifty, rows_fifty = _statements(client, engine, query)
    assert (rows_ten, rows_fifty) == (10, 50)
    assert ten == fifty, (ten, fifty)
    assert fifty <= 10, fifty
