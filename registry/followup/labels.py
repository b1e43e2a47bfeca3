"""How the follow-up pages word a visit's status and timing, in the language in force.

The status labels are :data:`registry.followup.status.DISPLAY_LABELS` (one place); they
are only *marked* here, so that the catalogue extracts them, and translated when shown
(``tests/followup/test_worklist_labels.py`` checks that the two lists agree).  The timing
figures come from :func:`~registry.followup.status.days_left_in_window` and
:func:`~registry.followup.status.days_past_target`; this module only words them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from babel.dates import format_date, get_month_names
from flask_babel import get_locale, gettext, ngettext

from registry.followup.status import DISPLAY_LABELS
from registry.vocabularies import N_

# DISPLAY_LABELS' values, marked for extraction.
MARKED_STATUS_LABELS = (N_("Done"), N_("Done out of window"), N_("Due"), N_("Overdue"),
                        N_("Missed"), N_("Upcoming"), N_("Not yet due"),
                        N_("Not applicable"))

# The self-report link states in a word or two (the staff panel's
# ``selfreport.panel.LINK_STATE_LABELS`` give the full wording, shown as a tooltip).
SHORT_LINK_STATES = {
    "sent": N_("Link sent"),
    "opened": N_("Link opened"),
    "started": N_("Started"),
    "submitted": N_("Submitted"),
    "pending_review": N_("To review"),
}


def link_state_text(state: str) -> str:
    """A self-report link state in a word or two, translated."""
    return gettext(SHORT_LINK_STATES[state])

# Abbreviated date of the worklist ("12 Dec 2026"); the ISO date goes in <time datetime>.
SHORT_DATE = "d MMM y"


def status_text(code: str) -> str:
    """The shown label of a display status code (``StatusDisplay.code``), translated."""
    return gettext(DISPLAY_LABELS[code])


def short_date(day: date) -> str:
    """``12 Dec 2026`` in the language in force (English outside a request)."""
    return format_date(day, SHORT_DATE, locale=get_locale() or "en")


def day_formatter() -> Callable[[date], str]:
    """:func:`short_date` for a page's many dates: the month names are looked up once
    (applying the CLDR pattern costs ~0.2 ms a date, 40 ms for a worklist page).
    ``tests/followup/test_worklist_labels.py`` checks that the two agree."""
    months = get_month_names("abbreviated", context="format", locale=get_locale() or "en")
    return lambda day: f"{day.day} {months[day.month]} {day.year}"


def timing_parts(status: str, *, days_past_target: int | None, days_left: int | None,
                 days_to_window: int | None = None) -> list[str]:
    """The timing of an open visit as short phrases ("131 days past target", "52 days
    left"), shown side by side instead of one "days overdue" figure: a 6–12-month visit
    far past its target may still have months of window to run."""
    parts: list[str] = []
    if status == "upcoming" and days_to_window is not None:
        parts.append(ngettext("window opens in %(num)d day", "window opens in %(num)d days",
                              days_to_window))
    if days_past_target is not None:
        parts.append(ngettext("%(num)d day past target", "%(num)d days past target",
                              days_past_target))
    if days_left is not None:
        parts.append(gettext("last day of the window") if days_left == 0 else
                     ngettext("%(num)d day left", "%(num)d days left", days_left))
    return parts


__all__ = ["MARKED_STATUS_LABELS", "N_", "SHORT_DATE", "SHORT_LINK_STATES", "day_formatter",
           "link_state_text", "short_date", "status_text", "timing_parts"]
