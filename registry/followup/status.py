"""Follow-up status of a scheduled visit: the ONE place where the rule is written.

The rule, for a visit and today's date (UTC, or the site's time zone if it has one):

1. stored ``not_applicable`` (marked by a coordinator, or by a withdrawal) → not_applicable
2. stored ``done``                                                → done (in or out of window)
3. the patient is withdrawn                                       → not_applicable
4. no window (unscheduled visit), or it opens more than 14 days ahead → scheduled (not yet due)
5. the window opens within the next 14 days                       → upcoming
6. the window has closed (today > window end)                     → missed
7. the window is open, target + grace has passed                  → overdue
8. the window is open, target + grace not passed                  → due

``grace_end`` is stored on the visit as min(target + grace days, window end), so
"overdue" is only possible when the grace period ends before the window does.

:func:`status_expression` is the rule as a SQL ``CASE`` (today is a bound parameter, or
a per-site ``CASE`` when the user's sites are in time zones on different dates), used
for counts, filters and ordering over the whole registry; :func:`followup_status` is the
same rule in Python for one visit.  ``tests/followup/test_status.py`` proves they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy import Date, bindparam, case, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry.clock import CONFIG_KEY
from registry.clock import today as clock_today
from registry.models import Patient, Site, Visit

UPCOMING_DAYS = 14

# Status code -> label, in order of urgency (the worklist's sort order).
STATUS_LABELS: dict[str, str] = {
    "overdue": "Overdue",
    "due": "Due",
    "missed": "Missed",
    "upcoming": "Upcoming",
    "scheduled": "Not yet due",
    "done": "Done",
    "not_applicable": "Not applicable",
}
URGENCY = {code: rank for rank, code in enumerate(STATUS_LABELS)}
# The statuses a coordinator acts on: the worklist's default view.
OPEN_STATUSES = ("overdue", "due", "missed", "upcoming")


class VisitDates(Protocol):
    status: str
    window_start: date | None
    window_end: date | None
    grace_end: date | None


def followup_status(visit: VisitDates, patient_status: str, today: date) -> str:
    """The follow-up status of one visit (the same rule as :func:`status_expression`)."""
    if visit.status == "not_applicable":
        return "not_applicable"
    if visit.status == "done":
        return "done"
    if patient_status == "withdrawn":
        return "not_applicable"
    if visit.window_start is None or visit.window_start > today + timedelta(UPCOMING_DAYS):
        return "scheduled"
    if visit.window_start > today:
        return "upcoming"
    if visit.window_end is not None and visit.window_end < today:
        return "missed"
    if visit.grace_end is not None and visit.grace_end < today:
        return "overdue"
    return "due"


Today = date | Mapping[int, date]


def date_parameters(today: date) -> dict[str, date]:
    """Values of the named parameters of a single-date ``status_expression``: a statement
    built once can be run again for another day with these."""
    return {"followup_today": today,
            "followup_horizon": today + timedelta(days=UPCOMING_DAYS)}


def _date_param(today: Today, site_column: Any, key: str) -> ColumnElement[Any]:
    """The named parameter ``key`` of :func:`date_parameters` (today or the horizon), or
    a CASE on the site with each site's value when sites are on different dates."""
    if isinstance(today, Mapping):
        if not today:
            raise ValueError("no sites given")
        distinct = set(today.values())
        if len(distinct) > 1:
            return case({site_id: literal(date_parameters(day)[key], Date())
                         for site_id, day in today.items()}, value=site_column)
        today = distinct.pop()
    return bindparam(key, date_parameters(today)[key], type_=Date())


def status_expression(today: Today, *, visit: Any = Visit,
                      patient_status: Any = Patient.status,
                      site_column: Any = Patient.site_id) -> ColumnElement[str]:
    """The follow-up status as a SQL expression over a query joining Visit and Patient.

    ``today`` is a date, or a mapping site id → that site's today (see :func:`site_todays`).
    """
    now = _date_param(today, site_column, "followup_today")
    horizon = _date_param(today, site_column, "followup_horizon")
    return case(
        (visit.status == "not_applicable", "not_applicable"),
        (visit.status == "done", "done"),
        (patient_status == "withdrawn", "not_applicable"),
        (visit.window_start.is_(None), "scheduled"),
        (visit.window_start > horizon, "scheduled"),
        (visit.window_start > now, "upcoming"),
        (visit.window_end < now, "missed"),
        (visit.grace_end < now, "overdue"),
        else_="due",
    )


def urgency_expression(status: Any) -> ColumnElement[int]:
    """Rank of a status column for ORDER BY (overdue first)."""
    return case(URGENCY, value=status, else_=len(URGENCY))


def open_visit_prefilter(today: Today, *, visit: Any = Visit,
                         patient_status: Any = Patient.status) -> list[ColumnElement[bool]]:
    """Index-friendly conditions every open (overdue/due/missed/upcoming) visit meets.

    They do not decide the status (the CASE does); they only let the database skip
    visits that cannot be open, before evaluating the CASE.
    """
    latest = max(today.values()) if isinstance(today, Mapping) else today
    # "not done and not not-applicable" rather than status = 'scheduled': the same rows,
    # but it keeps the planners from starting at the registry-wide status index and
    # makes them start from the site's patients (ix_patient_site_status) instead.
    return [visit.status.not_in(("done", "not_applicable")), patient_status == "active",
            visit.window_start <= latest + timedelta(days=UPCOMING_DAYS)]


def site_todays(session: Session, site_ids: Iterable[int] | Any = None) -> dict[int, date]:
    """Today's date at each site (its time zone; UTC when none is set).

    ``site_ids``: ids, a SQL expression giving them (a scalar subquery), or None for
    every site.  Uses the settings of the app the session belongs to (its pinned TODAY, if
    any), so flush hooks running outside an app context get the same answer as the views.
    """
    if isinstance(site_ids, set | frozenset | list | tuple):
        if not site_ids:
            return {}
        site_ids = sorted(site_ids)
    config = session.info.get(CONFIG_KEY)
    statement = select(Site.id, Site.timezone)
    if site_ids is not None:
        statement = statement.where(Site.id.in_(site_ids))
    zones = session.connection().execute(statement)
    return {site_id: clock_today(zone, config) for site_id, zone in zones}


@dataclass(frozen=True)
class StatusDisplay:
    """How a visit's follow-up status is shown (worklist, grid, patient page, exports).

    ``code`` is the status of :func:`followup_status`, except that a visit done out of its
    window is ``done_out_of_window``; ``booked`` is the booked appointment of an open
    visit (overdue, due, missed, upcoming, not yet due), else None.  ``css`` is the class
    suffix of the cell (``status-<css>``).
    """

    code: str
    label: str
    booked: date | None

    @property
    def css(self) -> str:
        return self.code.replace("_", "-")


# Display code -> label: the statuses plus "done out of window" (a done visit whose
# date fell outside its window).  Labels are marked for translation where shown.
DISPLAY_LABELS: dict[str, str] = {
    "done": "Done",
    "done_out_of_window": "Done out of window",
    "due": "Due",
    "overdue": "Overdue",
    "missed": "Missed",
    "upcoming": "Upcoming",
    "scheduled": "Not yet due",
    "not_applicable": "Not applicable",
}


def display_status(status: str, *, out_of_window: bool | None = None,
                   appointment_date: date | None = None) -> StatusDisplay:
    """The shown status of a visit whose follow-up status is ``status``: done visits split
    by ``out_of_window``; open visits carry their booked ``appointment_date``."""
    code = "done_out_of_window" if status == "done" and out_of_window else status
    booked = appointment_date if status in (*OPEN_STATUSES, "scheduled") else None
    return StatusDisplay(code, DISPLAY_LABELS[code], booked)


def days_left_in_window(window_end: date | None, status: str, today: date) -> int | None:
    """Days until the window closes (0 on its last day), for visits whose window is open
    (due, overdue); None otherwise.  A 6–12-month visit past its target can have months
    left: the worklist shows this next to :func:`days_past_target`."""
    if status not in ("due", "overdue") or window_end is None:
        return None
    return (window_end - today).days


def days_past_target(target_date: date | None, status: str, today: date) -> int | None:
    """Days since the visit's target date, for open visits past it (due, overdue,
    missed); None otherwise or when the target is today or ahead."""
    if status not in ("due", "overdue", "missed") or target_date is None:
        return None
    days = (today - target_date).days
    return days if days > 0 else None


def days_overdue(grace_end: date | None, status: str, today: date) -> int | None:
    """Days since the grace period ended, for overdue and missed visits."""
    if status not in ("overdue", "missed") or grace_end is None:
        return None
    return (today - grace_end).days


__all__ = [
    "DISPLAY_LABELS",
    "OPEN_STATUSES",
    "STATUS_LABELS",
    "StatusDisplay",
    "UPCOMING_DAYS",
    "URGENCY",
    "date_parameters",
    "days_left_in_window",
    "days_overdue",
    "days_past_target",
    "display_status",
    "followup_status",
    "open_visit_prefilter",
    "site_todays",
    "status_expression",
    "urgency_expression",
]
