"""The worklist's tabs: Open (overdue, due, upcoming) by default, Missed apart, the other
views kept; counts per tab; real links marked with aria-current; filters kept."""

from __future__ import annotations

import re

import pytest

from registry.followup.state import refresh_sites
from tests.followup.conftest import row_visit_ids, shown_count, visit_of

M3_OVERDUE = 115
M3_DUE = 95
M3_UPCOMING = 65
M3_MISSED = 140
M6_12_LONG_OVERDUE = 313  # 131 days past the 6–12-month target, 52 days of window left


@pytest.fixture(params=["live", "stored"])
def make_site(request, make_site, app, db):
    """Each test runs with statuses computed live and read from the status table."""

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


@pytest.fixture
def cohort(site_a, treated_days_ago):
    """One m3 visit of each open status, plus a long-window overdue visit."""
    return {name: treated_days_ago(site_a, days) for name, days in (
        ("overdue", M3_OVERDUE), ("due", M3_DUE), ("upcoming", M3_UPCOMING),
        ("missed", M3_MISSED))}


def tab_count(html: str, tab: str) -> int:
    match = re.search(rf'data-tab="{tab}">[^<]*<span class="count"[^>]*>(\d+)</span>', html)
    assert match, f"no tab {tab}"
    return int(match.group(1))


def current(html: str) -> dict[str, str]:
    """Tab / status link → its aria-current value, for the links that have one."""
    marked = {}
    for link in re.findall(r'<a href="[^"]*"[^>]*>', html):
        value = re.search(r'aria-current="(page|true)"', link)
        status = re.search(r"[?&;]status=(\w+)", link)
        if value and status:
            marked[status.group(1)] = value.group(1)
    return marked


def test_open_tab_is_the_default_and_never_lists_missed(client, cohort, coordinator_a):
    html = client.get("/followup/?timepoint=m3").get_data(as_text=True)
    m3 = {name: visit_of(patient, "m3").id for name, patient in cohort.items()}
    assert row_visit_ids(html) == [m3["overdue"], m3["due"], m3["upcoming"]]
    assert current(html) == {"open": "page"}
    assert tab_count(html, "open") == 3
    assert tab_count(html, "missed") == 1
    # The open statuses one by one, next to the tabs.
    assert [shown_count(html, code) for code in ("overdue", "due", "upcoming")] == [1, 1, 1]
    assert "3 visits" in html


def test_missed_tab_lists_only_missed(client, cohort, coordinator_a):
    html = client.get("/followup/?timepoint=m3&status=missed").get_data(as_text=True)
    assert row_visit_ids(html) == [visit_of(cohort["missed"], "m3").id]
    assert current(html) == {"missed": "page"}
    assert re.search(r'data-shown="missed"><span class="badge status-missed">Missed</span>',
                     html)
    assert "49 days past target" in html  # day 140 of a visit with target day 91


def test_counts_per_tab_add_up(client, cohort, coordinator_a):
    html = client.get("/followup/?status=all").get_data(as_text=True)
    counts = {tab: tab_count(html, tab)
              for tab in ("open", "missed", "scheduled", "done", "not_applicable", "all")}
    assert counts["all"] == 4 * 4  # four visits per patient
    assert counts["all"] == sum(counts.values()) - counts["all"]
    # Baselines are missed (window closed on the treatment day, not recorded), and so
    # are the 2–6-week visits of patients treated 65+ days ago.
    assert counts["missed"] == 4 + 4 + 1
    assert counts["open"] == 3
    assert len(row_visit_ids(html)) == 16
    assert current(html) == {"all": "page"}


def test_a_single_open_status_keeps_the_open_tab_current(client, cohort, coordinator_a):
    html = client.get("/followup/?status=overdue&timepoint=m3").get_data(as_text=True)
    assert row_visit_ids(html) == [visit_of(cohort["overdue"], "m3").id]
    assert current(html) == {"open": "true", "overdue": "page"}


def test_tab_links_keep_the_filters(client, cohort, coordinator_a):
    html = client.get("/followup/?timepoint=m3&status=missed").get_data(as_text=True)
    links = dict(re.findall(r'<a href="([^"]+)"[^>]*data-tab="(\w+)"', html))
    by_tab = {tab: link.replace("&amp;", "&") for link, tab in links.items()}
    assert set(by_tab) == {"open", "missed", "scheduled", "done", "not_applicable", "all"}
    for tab, link in by_tab.items():
        assert f"status={tab}" in link
        assert "timepoint=m3" in link
    # The filter form carries the tab, so applying filters stays on it.
    assert '<input type="hidden" id="status" name="status" value="missed">' in html


def test_long_window_shows_days_past_target_and_days_left(client, site_a, treated_days_ago,
                                                          coordinator_a):
    patient = treated_days_ago(site_a, M6_12_LONG_OVERDUE)
    visit = visit_of(patient, "m6_12")
    html = client.get("/followup/?timepoint=m6_12").get_data(as_text=True)
    row = re.search(rf'<tr data-visit="{visit.id}">(.*?)</tr>', html, re.S).group(1)
    assert 'data-shown="overdue"' in row
    assert re.search(r'data-past-target="131" data-days-left="52">'
                     r'131 days past target · 52 days left</td>', row)
    assert "days overdue" not in html.lower()
