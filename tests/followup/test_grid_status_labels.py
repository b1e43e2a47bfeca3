"""The shown status of a visit (``status.display_status``) and how the grid words it:
every status, done out of window, booked; the grid's legend and filter codes; its dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.followup.grid import BOOKED, BOOKED_LABEL, SHOWN_ORDER, SORTS, shown_label
from registry.followup.labels import short_date
from registry.followup.status import (
    DISPLAY_LABELS,
    OPEN_STATUSES,
    STATUS_LABELS,
    display_status,
)
from registry.i18n import set_locale

APPOINTMENT = date(2026, 6, 12)
TO_BE_DONE = (*OPEN_STATUSES, "scheduled")


@pytest.mark.parametrize(("status", "label", "css"), [
    ("overdue", "Overdue", "overdue"),
    ("due", "Due", "due"),
    ("missed", "Missed", "missed"),
    ("upcoming", "Upcoming", "upcoming"),
    ("scheduled", "Not yet due", "scheduled"),
    ("done", "Done", "done"),
    ("not_applicable", "Not applicable", "not-applicable"),
])
def test_every_status_has_its_label(status, label, css):
    shown = display_status(status)
    assert (shown.code, shown.label, shown.css, shown.booked) == (status, label, css, None)


def test_the_table_covers_every_followup_status():
    assert set(STATUS_LABELS) <= set(DISPLAY_LABELS)
    assert set(DISPLAY_LABELS) - set(STATUS_LABELS) == {"done_out_of_window"}


@pytest.mark.parametrize(("out_of_window", "code", "label"), [
    (True, "done_out_of_window", "Done out of window"),
    (False, "done", "Done"),
    (None, "done", "Done"),
])
def test_a_done_visit_is_split_by_its_window(out_of_window, code, label):
    shown = display_status("done", out_of_window=out_of_window)
    assert (shown.code, shown.label) == (code, label)
    assert shown.css == code.replace("_", "-")


@pytest.mark.parametrize("status", TO_BE_DONE)
def test_out_of_window_only_concerns_done_visits(status):
    assert display_status(status, out_of_window=True).code == status


@pytest.mark.parametrize("status", TO_BE_DONE)
def test_an_open_visit_with_an_appointment_is_booked(status):
    shown = display_status(status, appointment_date=APPOINTMENT)
    assert shown.booked == APPOINTMENT
    assert shown.code == status  # booked adds to the status; it does not replace it


@pytest.mark.parametrize(("status", "out_of_window"), [
    ("done", False), ("done", True), ("not_applicable", None)])
def test_a_done_or_dropped_visit_is_never_booked(status, out_of_window):
    shown = display_status(status, out_of_window=out_of_window, appointment_date=APPOINTMENT)
    assert shown.booked is None


def test_legend_and_filter_codes_are_every_shown_status_and_booked():
    assert len(SHOWN_ORDER) == len(set(SHOWN_ORDER))
    assert set(SHOWN_ORDER) == {*DISPLAY_LABELS, BOOKED}
    assert SHOWN_ORDER[:2] == ("overdue", "due")  # most urgent first
    assert {code: shown_label(code) for code in SHOWN_ORDER} == {**DISPLAY_LABELS,
                                                                BOOKED: BOOKED_LABEL}
    assert list(SORTS) == ["study_id", "urgency", "treated_desc", "treated_asc"]


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_grids_dates_read_as_the_worklists(app_factory, tmp_path, language):
    """The grid formats its many dates with the month names looked up once; they must
    read exactly as ``labels.short_date`` (Babel's "d MMM y") in every language."""
    from registry.followup.grid_routes import day_formatter

    app = app_factory("sqlite://", tmp_path / "instance")
    with app.test_request_context():
        set_locale(language)
        day = day_formatter()
        for offset in range(0, 800, 3):
            value = date(2025, 1, 1) + timedelta(days=offset)
            assert day(value) == short_date(value), value
