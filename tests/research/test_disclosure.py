"""Researchers cannot recover a patient's calendar dates from counts.

A field test recovered a patient's treatment date with 13 counts bisecting the
treatment-date bounds.  Now counts below k (5) read "< 5" for researchers and treatment
dates are filtered by whole months, so neither a direct bisection nor a differencing one
(two counts each at least k whose difference is one patient) gets below the month.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from registry.models import Cohort
from registry.research import disclosure
from registry.research.summary import Estimate, Proportion, summarise

TARGET = date(2025, 3, 10)  # the one man at site BBB
START, END = date(2024, 6, 1), date(2025, 12, 31)


@pytest.fixture
def registry_patients(db, make_patient, site_a, site_b):
    """Six women at site A treated before the search window, one man at site B (the
    target), two more women during the window."""
    for day in range(6):
        make_patient(site_a, treatment_date=date(2024, 1, 10) + timedelta(days=day))
    target = make_patient(site_b, treatment_date=TARGET, sex="male")
    for treated in (date(2024, 9, 1), date(2025, 8, 20)):
        make_patient(site_a, treatment_date=treated)
    return target


def _bisect(ask, low: date, high: date) -> date | None:
    """The first day D with ask(D) true, by bisection (ask is monotone in D)."""
    requests = 0
    while low < high:
        middle = low + (high - low) // 2
        answer = ask(middle)
        requests += 1
        if answer is None:  # the registry refused the question
            return None
        if answer:
            high = middle
        else:
            low = middle + timedelta(days=1)
    assert requests <= 13
    return low


def _count(client, query: str):
    response = client.get(f"/research/count?{query}")
    if response.status_code == 422:
        return None
    assert response.status_code == 200
    return response.json["count"]


def test_direct_bisection_of_treatment_dates_does_not_converge(auth, client,
                                                               registry_patients):
    auth.login("researcher")

    def target_treated_by(day: date) -> bool | None:
        count = _count(client, f"site=BBB&sex=male&treated_to={day.isoformat()}")
        return None if count is None else count == 1

    assert _bisect(target_treated_by, START, END) != TARGET
    # Month bounds are answered, but a single patient is never counted: "< 5" throughout.
    answers = {_count(client, f"site=BBB&sex=male&treated_to={month}")
               for month in ("2024-06", "2025-02", "2025-03", "2025-12")}
    assert answers == {"< 5"}


def test_differencing_bisection_stops_at_the_month(auth, client, registry_patients):
    """count(all) − count(women), both ≥ 5, is the one man: with day bounds this found his
    treatment day; with month bounds it finds his month, which is as fine as filters go."""
    auth.login("researcher")

    def man_treated_by(day: date, month: bool = False) -> bool | None:
        bound = day.isoformat()[:7] if month else day.isoformat()
        everyone = _count(client, f"treated_to={bound}")
        women = _count(client, f"sex=female&treated_to={bound}")
        if everyone is None or women is None:
            return None
        assert isinstance(everyone, int)  # both ≥ 5: exact
        assert isinstance(women, int)
        return everyone - women == 1

    assert _bisect(man_treated_by, START, END) is None  # day bounds refused
    found = _bisect(lambda day: man_treated_by(day, month=True), START, END)
    assert found == date(2025, 3, 1)  # the month, never the day
    response = client.get(f"/research/count?treated_to={TARGET.isoformat()}")
    assert response.status_code == 422
    assert "give a month as YYYY-MM" in response.json["errors"]["treated_to"]


def test_counts_below_k_read_less_than_k_for_researchers_only(app, auth, client,
                                                              registry_patients):
    auth.login("researcher")
    small = client.get("/research/count?site=BBB").json
    assert (small["count"], small["suppressed"]) == ("< 5", True)
    assert client.get("/research/count?site=ZZZ").status_code == 422
    none = client.get("/research/count?treated_from=2099-01").json
    assert none["count"] == "< 5"  # zero too: "none" would also single patients out
    large = client.get("/research/count?site=AAA").json
    assert (large["count"], large["suppressed"]) == (8, False)
    page = client.get("/research/?site=BBB&count=1")
    assert b"<strong>&lt; 5</strong> matching patients" in page.data
    app.config["MIN_CELL_SIZE"] = 10
    assert client.get("/research/count?site=AAA").json["count"] == "< 10"
    auth.logout()
    auth.login("admin")
    assert client.get("/research/count?site=BBB").json == {
        "count": 1, "suppressed": False, "description": ["Site: BBB"]}


def test_saved_cohort_page_suppresses_its_count(auth, client, db, registry_patients):
    user = auth.login("researcher")
    cohort = Cohort(name="The man", definition={"sex": ["male"]}, created_by_id=user.id)
    db.add(cohort)
    db.flush()
    page = client.get(f"/research/cohorts/{cohort.id}")
    assert b"<strong>&lt; 5</strong> matching patients today" in page.data


def test_day_bounds_saved_by_an_older_version_are_read_as_months(auth, client, db,
                                                                 registry_patients):
    auth.login("admin")
    cohort = Cohort(name="Old", definition={"treated_from": "2025-03-10",
                                            "treated_to": "2025-03-10"})
    db.add(cohort)
    db.flush()
    page = client.get(f"/research/cohorts/{cohort.id}")
    assert page.status_code == 200
    assert b"Treated from: 2025-03" in page.data
    assert b"<strong>1</strong> matching patient today" in page.data


def test_summary_cells_below_k_are_suppressed_for_researchers(auth, client, cohort_data):
    auth.login("researcher")
    page = client.get("/research/cohorts/all/summary?score=vas_pain")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "&lt; 5 patients in the cohort" in text
    assert "66.7 (28.7 to 104.6)" not in text  # the admin's baseline mean (n = 3)
    assert "not shown" in text
    assert '<td class="num">3</td>' not in text
    for kind in ("change.svg", "responders.png"):
        assert client.get(f"/research/cohorts/all/charts/{kind}").status_code == 200


def test_suppress_summary_rules(db, cohort_data, app):
    with app.app_context():
        exact = summarise(db, {}, score="vas_pain", group_by="sex")
    assert disclosure.suppress_summary(exact, 1) is exact  # admins: exact numbers
    shown = disclosure.suppress_summary(exact, 5)
    small = disclosure.Small(5)
    assert shown.patients == small
    assert all(row["due"] == small and row["percent"] is None for row in shown.follow_up)
    for row in shown.scores:
        assert row.value.n == small
        assert row.value.mean is None
        assert all(share.percent is None for share in row.flags.values())
    assert all(row["rate"].percent is None for row in shown.responders)
    assert all(row["events"] == small and row["patients"].percent is None
               for row in shown.adverse_events)
    assert str(small) == "< 5"


@pytest.mark.parametrize(("n", "events", "shown_n", "shown_events", "percent"), [
    (20, 10, 20, 10, 50.0), (20, 3, 20, "< 5", None), (4, 4, "< 5", "< 5", None),
    (5, 5, 5, 5, 100.0), (0, 0, "< 5", "< 5", None)])
def test_share_rule(n, events, shown_n, shown_events, percent):
    share = disclosure.share(Proportion(n, events), 5)
    assert (str(share.n), str(share.events)) == (str(shown_n), str(shown_events))
    assert share.percent == percent


def test_estimate_rule():
    values = np.array([10.0, 20.0, 30.0, 40.0])
    assert disclosure.estimate(Estimate(4, 25.0, 1.0, 2.0), 5).mean is None
    kept = Estimate(5, 25.0, 1.0, 2.0)
    assert disclosure.estimate(kept, 5) is kept
    assert disclosure.count(len(values), 5) == disclosure.Small(5)
    assert disclosure.count(5, 5) == 5
    assert disclosure.shown(0, 1) == 0
