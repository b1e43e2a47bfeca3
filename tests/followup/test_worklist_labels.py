"""The worklist's wording of a visit's status and timing: days past target and days left
in the window, on long (6–12-month) and short windows, at the due / overdue edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from registry.followup import labels
from registry.followup.status import (
    DISPLAY_LABELS,
    days_left_in_window,
    days_past_target,
    display_status,
    followup_status,
)
from registry.followup.worklist import TABS, tab_counts, tab_of

TREATED = date(2026, 1, 5)


@dataclass
class Dates:
    """A scheduled visit's dates, as the default protocol gives them."""

    target_date: date
    window_start: date
    window_end: date
    grace_end: date
    status: str = "scheduled"


# Default protocol: m6_12 target 182, window 182–365, grace ends 196; m3 target 91,
# window 75–120, grace ends 105.
M6_12 = Dates(TREATED + timedelta(182), TREATED + timedelta(182), TREATED + timedelta(365),
              TREATED + timedelta(196))
M3 = Dates(TREATED + timedelta(91), TREATED + timedelta(75), TREATED + timedelta(120),
           TREATED + timedelta(105))


def shown(visit: Dates, day: int) -> tuple[str, str]:
    today = TREATED + timedelta(day)
    status = followup_status(visit, "active", today)
    start = visit.window_start
    parts = labels.timing_parts(
        status, days_past_target=days_past_target(visit.target_date, status, today),
        days_left=days_left_in_window(visit.window_end, status, today),
        days_to_window=(start - today).days if status == "upcoming" else None)
    return status, " · ".join(parts)


@pytest.mark.parametrize(("visit", "day", "status", "text"), [
    # The case: far past the target of a long window, with months still to run.
    (M6_12, 313, "overdue", "131 days past target · 52 days left"),
    (M6_12, 170, "upcoming", "window opens in 12 days"),
    (M6_12, 181, "upcoming", "window opens in 1 day"),
    (M6_12, 182, "due", "183 days left"),  # the target is the window's first day
    (M6_12, 183, "due", "1 day past target · 182 days left"),
    (M6_12, 196, "due", "14 days past target · 169 days left"),  # last day of grace
    (M6_12, 197, "overdue", "15 days past target · 168 days left"),
    (M6_12, 364, "overdue", "182 days past target · 1 day left"),
    (M6_12, 365, "overdue", "183 days past target · last day of the window"),
    (M6_12, 366, "missed", "184 days past target"),
    (M3, 75, "due", "45 days left"),  # window open, target still ahead
    (M3, 91, "due", "29 days left"),  # on the target date: not past it
    (M3, 105, "due", "14 days past target · 15 days left"),
    (M3, 106, "overdue", "15 days past target · 14 days left"),
    (M3, 121, "missed", "30 days past target"),
])
def test_days_past_target_and_days_left(visit, day, status, text):
    assert shown(visit, day) == (status, text)


def test_done_and_not_yet_due_visits_have_no_timing():
    assert labels.timing_parts("done", days_past_target=None, days_left=None) == []
    done = Dates(**{**M3.__dict__, "status": "done"})
    assert shown(done, 110) == ("done", "")
    assert shown(M6_12, 100) == ("scheduled", "")


def test_every_shown_status_label_is_marked_for_translation():
    assert sorted(labels.MARKED_STATUS_LABELS) == sorted(DISPLAY_LABELS.values())
    for code, label in DISPLAY_LABELS.items():
        assert labels.status_text(code) == label  # English outside a request


@pytest.mark.parametrize(("status", "out_of_window", "booked", "code", "shown_booked"), [
    ("done", True, None, "done_out_of_window", None),
    ("done", False, date(2026, 6, 4), "done", None),  # a done visit is not "booked"
    ("overdue", False, date(2026, 6, 4), "overdue", date(2026, 6, 4)),
    ("upcoming", False, date(2026, 6, 4), "upcoming", date(2026, 6, 4)),
    ("not_applicable", False, date(2026, 6, 4), "not_applicable", None),
])
def test_display_status_of_the_rows(status, out_of_window, booked, code, shown_booked):
    display = display_status(status, out_of_window=out_of_window, appointment_date=booked)
    assert (display.code, display.booked) == (code, shown_booked)


def test_short_date_outside_a_request_is_english():
    assert labels.short_date(date(2026, 12, 12)) == "12 Dec 2026"
    assert labels.short_date(date(2027, 1, 3)) == "3 Jan 2027"


def test_tabs_open_is_what_can_be_acted_on_and_missed_is_apart():
    assert TABS["open"] == ("overdue", "due", "upcoming")
    assert TABS["missed"] == ("missed",)
    assert set(TABS["all"]) == set(DISPLAY_LABELS) - {"done_out_of_window"}
    assert [tab_of(code) for code in ("overdue", "due", "upcoming", "missed", "open",
                                      "all", "done", "scheduled", "not_applicable")] == [
        "open", "open", "open", "missed", "open", "all", "done", "scheduled",
        "not_applicable"]
    counts = {"overdue": 2, "due": 3, "missed": 4, "upcoming": 5, "scheduled": 6,
              "done": 7, "not_applicable": 8}
    assert tab_counts(counts) == {"open": 10, "missed": 4, "scheduled": 6, "done": 7,
                                  "not_applicable": 8, "all": 35}


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_fast_day_formatter_agrees_with_short_date(app, language):
    from registry.i18n import set_locale

    with app.test_request_context():
        set_locale(language)
        fast = labels.day_formatter()
        day = date(2026, 1, 1)
        for offset in range(0, 366, 17):
            assert fast(day + timedelta(offset)) == labels.short_date(day + timedelta(offset))
