"""Outcome summary tables and charts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from registry.research.summary import mean_ci, summarise, t_quantile_975


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (10, 2.228),
                                              (30, 2.042), (31, 2.0395), (40, 2.0211),
                                              (60, 2.0003), (120, 1.9799), (10_000, 1.9602)])
def test_t_quantile(df, expected):
    assert t_quantile_975(df) == pytest.approx(expected, abs=6e-4)


def test_mean_ci_by_hand():
    estimate = mean_ci(np.array([70.0, 50.0, 80.0, np.nan]))
    sd = math.sqrt(((70 - 200 / 3) ** 2 + (50 - 200 / 3) ** 2 + (80 - 200 / 3) ** 2) / 2)
    half = 4.303 * sd / math.sqrt(3)
    assert estimate.n == 3
    assert estimate.mean == pytest.approx(200 / 3)
    assert (estimate.low, estimate.high) == pytest.approx((200 / 3 - half, 200 / 3 + half))
    assert mean_ci(np.array([5.0])).low is None
    assert mean_ci(np.array([])).mean is None


def test_summary_numbers(db, cohort_data, app):
    with app.app_context():
        result = summarise(db, {}, score="vas_pain")
    follow_up = {row["timepoint"]: (row["due"], row["done"]) for row in result.follow_up}
    assert follow_up == {"Baseline": (3, 3), "2–6 weeks": (3, 1), "3 months": (3, 1),
                         "6–12 months": (3, 0)}
    m3 = next(row for row in result.scores if row.timepoint == "m3")
    assert (m3.value.n, m3.value.mean, m3.change.mean) == (1, 30, -40)
    assert (m3.flags["mcii"].events, m3.flags["mcii"].n) == (1, 1)
    assert (m3.flags["pass"].events, m3.flags["pass"].n) == (1, 1)
    responders = {row["code"]: (row["rate"].events, row["rate"].n)
                  for row in result.responders}
    assert responders == {"w2_6": (0, 1), "m3": (1, 1), "m6_12": (0, 0)}
    grades = {row["grade"]: (row["events"], row["patients"].events)
              for row in result.adverse_events}
    assert grades["3 — severe"] == (1, 1)
    assert grades["1 — mild"] == (1, 1)
    assert grades["2 — moderate"] == (0, 0)


def test_summary_groups(db, cohort_data, app):
    with app.app_context():
        result = summarise(db, {}, score="koos_pain", group_by="sex")
    assert result.groups == ["Female", "Male"]
    baseline = {row.group: row.value.mean for row in result.scores
                if row.timepoint == "baseline"}
    assert baseline == {"Female": pytest.approx(37.5), "Male": 50}


def test_summary_page_and_charts(auth, client, cohort_data):
    auth.login("admin")  # exact numbers (a researcher sees cells below 5 suppressed)
    page = client.get("/research/cohorts/all/summary?score=vas_pain")
    assert page.status_code == 200
    assert b"66.7 (28.7 to 104.6)" in page.data
    assert b"charts/change.svg" in page.data
    assert b"charts/responders.png" in page.data
    grouped = client.get("/research/cohorts/all/summary?score=koos_pain&group=cell_source")
    assert grouped.status_code == 200
    assert b"Autologous adipose-derived" in grouped.data
    svg = client.get("/research/cohorts/all/charts/change.svg?score=vas_pain&group=kl_grade")
    assert svg.status_code == 200
    assert svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    assert b"<dc:date>" not in svg.data
    png = client.get("/research/cohorts/all/charts/responders.png?download=1")
    assert png.status_code == 200
    assert png.data.startswith(b"\x89PNG")
    assert "attachment" in png.headers["Content-Disposition"]


@pytest.mark.parametrize(("query", "message"), [("score=iq", b"unknown score"),
                                                 ("group=shoe_size", b"unknown grouping")])
def test_summary_bad_choices(auth, client, cohort_data, query, message):
    auth.login("researcher")
    response = client.get(f"/research/cohorts/all/summary?{query}")
    assert response.status_code == 422
    assert message in response.data
    chart = client.get(f"/research/cohorts/all/charts/change.svg?{query}")
    assert chart.status_code == 422
    assert client.get("/research/cohorts/all/charts/pie.svg").status_code == 404
