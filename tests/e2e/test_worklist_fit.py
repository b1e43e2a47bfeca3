"""The worklist fits a 1920×1080 screen: one line per visit, 15+ visits in view, tabs.

Runs on the demo cohort (``registry demo``, today pinned to the screenshots' day), served
by gunicorn and seen by the demo coordinator in Debian's Chromium.  "One line" is
measured, not assumed: every row of the table is as tall as the others, and less than
two lines of its text tall.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.journeys import Journey
from tests.e2e.screenshots import DEMO_TODAY
from tests.e2e.screenshots import sign_in as demo_sign_in
from tests.e2e.server import LiveServer, demo_server

FULL_HD = {"width": 1920, "height": 1080}

# Per row: its height, the line height of its cells, whether it ends inside the window.
ROWS_JS = """
() => Array.from(document.querySelectorAll('table.worklist tbody tr')).map((row) => {
  const box = row.getBoundingClientRect();
  const cell = row.querySelector('td');
  return {height: box.height, line: parseFloat(getComputedStyle(cell).lineHeight),
          inView: box.bottom <= window.innerHeight,
          shown: row.querySelector('[data-shown]').dataset.shown};
})
"""
# Whether the table is wider than its box (a horizontal scroll bar at this width).
OVERFLOW_JS = """
() => { const box = document.querySelector('.worklist-scroll');
        return box.scrollWidth - box.clientWidth; }
"""


@pytest.fixture(scope="module")
def live_server(browser: Any, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[LiveServer]:
    """The demo cohort (3 sites, 200 patients) as `make demo` serves it."""
    server = demo_server(tmp_path_factory.mktemp("worklist-fit"), DEMO_TODAY)
    yield server
    server.stop()


def _rows(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(ROWS_JS))


def _assert_one_line_each(page: Any) -> list[dict[str, Any]]:
    rows = _rows(page)
    assert rows, "no rows on the worklist"
    heights = [row["height"] for row in rows]
    line = rows[0]["line"]
    # Equal within a pixel: with collapsed borders the first row's box holds half of the
    # header's border; a wrapped cell would add a whole line (~20 px).
    assert max(heights) - min(heights) <= 1, f"rows of different heights: {sorted(heights)}"
    assert max(heights) < 2 * line, f"rows taller than one line: {rows[0]}"
    assert page.evaluate(OVERFLOW_JS) <= 0, "the table is wider than the window"
    return rows


def test_worklist_rows_are_one_line_and_fifteen_fit_at_full_hd(journey: Journey) -> None:
    page = journey.page
    page.set_viewport_size(FULL_HD)
    demo_sign_in(page, "coordinator")
    page.goto("/followup/")
    journey.check_page()
    rows = _assert_one_line_each(page)
    in_view = sum(row["inView"] for row in rows)
    assert in_view >= 15, f"only {in_view} rows in the 1920×1080 window"
    # The default tab is Open: what can be acted on now, never a missed visit.
    assert {row["shown"] for row in rows} <= {"overdue", "due", "upcoming"}
    open_tab = page.locator("nav.worklist-tabs a[data-tab=open]")
    assert open_tab.get_attribute("aria-current") == "page"
    page.screenshot(path=str(journey.artifacts / "worklist-1920x1080.png"))

    # Booked visits say so, with the date, on the same single line.
    booked = page.locator("table.worklist tbody tr", has=page.locator(".badge.booked"))
    if booked.count():
        assert re.search(r"booked \d{1,2} \w{3} \d{4}", booked.first.inner_text())
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()


def test_tabs_switch_by_keyboard_and_keep_one_line(journey: Journey) -> None:
    page = journey.page
    page.set_viewport_size(FULL_HD)
    demo_sign_in(page, "coordinator")
    page.goto("/followup/")
    missed = page.locator("nav.worklist-tabs a[data-tab=missed]")
    expected = int(missed.locator(".count").inner_text())
    assert expected > 0, "the demo cohort has missed visits"
    page.locator("body").focus()
    for _ in range(60):  # Tab through the page until the Missed tab has the focus
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.dataset.tab") == "missed":
            break
    else:
        pytest.fail("the Missed tab is not reachable with the Tab key")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused tab shows no focus ring"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"status=missed"))
    journey.check_page()
    assert missed.get_attribute("aria-current") == "page"
    assert page.locator("nav.worklist-tabs a[data-tab=open]").get_attribute(
        "aria-current") is None
    rows = _assert_one_line_each(page)
    assert {row["shown"] for row in rows} == {"missed"}
    assert len(rows) == min(expected, 50)
    timing = page.locator("table.worklist tbody tr td.timing").first.inner_text()
    assert re.fullmatch(r"\d+ days? past target", timing), timing
    page.screenshot(path=str(journey.artifacts / "worklist-missed-1920x1080.png"))
    assert not journey.console_errors, journey.console_errors
    journey.assert_accessible()
