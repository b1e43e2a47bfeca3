"""Follow-up completeness by mode: figures on a cohort checked by hand, the coordinator's
home page, the research summary (with small-cell suppression), and the worklist's
self-report link state and mode without a query per row."""

from __future__ import annotations

import re

import pytest

from registry import audit_capture as capture
from registry.followup.completeness import completeness
from registry.research.disclosure import suppress_summary
from registry.research.estimates import Small
from registry.research.summary import summarise
from registry.selfreport import service
from tests.fixtures.database import recorded_statements
from tests.followup.conftest import TODAY, row_visit_ids, visit_of

M3_OPEN = 100  # days since treatment: the 3-month window (days 75-120) is open
M3_NOT_YET = 30  # the 3-month window opens in 45 days: not due


@pytest.fixture
def cohort(db, site_a, site_b, treated_days_ago, record_visit):
    """Site A, 3 months: due 3 (done by link, done by staff interview, not done); one not
    applicable and one not yet due, both left out.  Site B: one done before modes were
    recorded (unknown) and one withdrawn patient (not applicable)."""
    by_link, by_staff, waiting, not_applicable = (treated_days_ago(site_a, M3_OPEN)
                                                  for _ in range(4))
    later = treated_days_ago(site_a, M3_NOT_YET)
    old, withdrawn = treated_days_ago(site_b, M3_OPEN), treated_days_ago(site_b, M3_OPEN)
    for patient, mode in ((by_link, "self_link"), (by_staff, "staff_interview"), (old, None)):
        visit = record_visit(visit_of(patient, "m3"), TODAY, {"vas": {"VAS": 30}})
        visit.collection_mode = mode
    with capture.reason(db, "test: not applicable"):
        visit_of(not_applicable, "m3").status = "not_applicable"
        withdrawn.status = "withdrawn"
        withdrawn.withdrawn_on = TODAY
    db.flush()
    return {"waiting": waiting, "later": later}


def _row(rows, site_code, timepoint):
    return next(row for row in rows if (row.site_code, row.timepoint_code)
                == (site_code, timepoint))


def test_completion_by_mode_is_done_over_due(app, db, site_a, site_b, cohort):
    with app.app_context():
        rows = completeness(db, [site_a.id, site_b.id])
    m3 = _row(rows, site_a.code, "m3")
    assert (m3.due, m3.done) == (3, 2)
    assert m3.by_mode == {"self_link": 1, "self_kiosk": 0, "staff_interview": 1, "paper": 0,
                          "unknown": 0}
    assert round(m3.percent) == 67
    assert round(m3.mode_percent("self_link")) == round(m3.mode_percent("staff_interview")) \
        == 33
    b_m3 = _row(rows, site_b.code, "m3")  # the withdrawn patient's visit is not due
    assert (b_m3.due, b_m3.done, b_m3.by_mode["unknown"]) == (1, 1, 1)
    # Baseline windows closed at day 0: all due (missed), none done; 6–12 months not open.
    baseline = _row(rows, site_a.code, "baseline")
    assert (baseline.due, baseline.done) == (5, 0)
    assert not [row for row in rows if row.timepoint_code == "m6_12"]
    with app.app_context():
        assert completeness(db, [site_a.id])[0].site_code == site_a.code
        assert {row.site_code for row in completeness(db, [site_a.id])} == {site_a.code}


def test_the_coordinators_home_page_shows_completion_by_mode(auth, client, site_a, cohort):
    auth.login("coordinator", sites=[site_a])
    html = client.get("/home").get_data(as_text=True)
    assert "Follow-up completeness by mode" in html
    row = re.search(rf'<tr data-completeness="{site_a.code}/m3">(.*?)</tr>', html, re.S)
    assert row, html
    cells = dict(re.findall(r'data-mode="(\w+)">([^<]*)<', row.group(1)))
    assert cells["all"] == "2 (67 %)"
    assert cells["self_link"] == "1 (33 %)"
    assert cells["staff_interview"] == "1 (33 %)"
    assert cells["paper"] == cells["self_kiosk"] == cells["unknown"] == "0"
    assert "<td class=\"num\">3</td>" in row.group(1)  # due


def test_the_cohort_summary_counts_by_mode_and_suppresses_small_cells(app, db, cohort):
    with app.app_context():
        result = summarise(db, {}, score="vas_pain")
    m3 = next(row for row in result.follow_up if row["timepoint"] == "3 months")
    assert (m3["due"], m3["done"]) == (4, 3)  # both sites: 3 + 1
    assert m3["by_mode"] == {"self_link": 1, "self_kiosk": 0, "staff_interview": 1,
                             "paper": 0, "unknown": 1}
    assert m3["mode_percent"]["self_link"] == pytest.approx(25.0)
    shown = next(row for row in suppress_summary(result, 5).follow_up
                 if row["timepoint"] == "3 months")
    assert shown["due"] == Small(5)
    assert shown["done"] == Small(5)
    assert set(shown["by_mode"].values()) == {Small(5)}
    assert set(shown["mode_percent"].values()) == {None}
    exact = next(row for row in suppress_summary(result, 1).follow_up
                 if row["timepoint"] == "3 months")
    assert exact["by_mode"]["unknown"] == 1


def test_one_small_mode_is_not_given_away_by_the_total():
    """Done 12 = 11 by link + 1 on paper: hiding only "paper" would leave 12 - 11 = 1."""
    from registry.research.disclosure import _follow_up

    row = {"timepoint": "m3", "group": "All", "due": 20, "done": 12, "percent": 60.0,
           "by_mode": {"self_link": 11, "paper": 1},
           "mode_percent": {"self_link": 55.0, "paper": 5.0}}
    shown = _follow_up(row, 5)
    assert shown["done"] == 12
    assert shown["by_mode"] == {"self_link": Small(5), "paper": Small(5)}
    assert shown["mode_percent"] == {"self_link": None, "paper": None}


def _statements(client, engine, url: str) -> int:
    with recorded_statements(engine) as statements:
        assert client.get(url).status_code == 200
    return len(statements)


def test_worklist_shows_link_state_and_mode_without_a_query_per_row(
        app, auth, client, db, engine, site_a, treated_days_ago, record_visit):
    auth.login("coordinator", sites=[site_a])
    patients = [treated_days_ago(site_a, M3_OPEN) for _ in range(2)]
    url = "/followup/?status=all&timepoint=m3"
    few = _statements(client, engine, url)
    with app.app_context():
        states = {}
        for number in range(8):
            patient = treated_days_ago(site_a, M3_OPEN)
            visit = visit_of(patient, "m3")
            link, _token = service.issue_link(db, visit, channel="email", created_by_id=None)
            if number % 4 >= 1:
                service.act_as_link(db, link)
                report = service.open_report(db, link)
                if number % 4 >= 2:
                    service.save_answers(db, report, "vas", {"vas.VAS": "20"})
                if number % 4 == 3:
                    service.submit(db, report, mode="self_link")
            states[visit.id] = ["sent", "opened", "started", "submitted"][number % 4]
            patients.append(patient)
        record_visit(visit_of(patients[0], "m3"), TODAY, {"vas": {"VAS": 30}})
        visit_of(patients[0], "m3").collection_mode = "paper"
        db.flush()
    html = client.get(url).get_data(as_text=True)
    assert len(row_visit_ids(html)) == 10
    shown = dict(re.findall(r'<tr data-visit="(\d+)">.*?data-link-state="(\w*)"', html, re.S))
    assert {int(visit_id): state for visit_id, state in shown.items() if state} == states
    assert "Link sent, not yet opened" in html
    assert "Submitted by the patient" in html
    paper = re.search(rf'<tr data-visit="{visit_of(patients[0], "m3").id}">(.*?)</tr>', html,
                      re.S).group(1)
    assert 'data-mode="paper">Paper form, transcribed<' in paper
    submitted = next(visit_id for visit_id, state in states.items() if state == "submitted")
    row = re.search(rf'<tr data-visit="{submitted}">(.*?)</tr>', html, re.S).group(1)
    assert 'data-mode="self_link">Self-report by link<' in row
    assert _statements(client, engine, url) == few
