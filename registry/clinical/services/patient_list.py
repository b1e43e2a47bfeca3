"""The clinicians' patient list: follow-up status, next and last visit, sorted and filtered.

Each patient shows:

- a *state*: "In follow-up" only once treated (the schedule starts at the treatment),
  "Not treated yet" for an enrolled patient without a treatment, "Withdrawn";
- the *follow-up status* of a patient in follow-up: the most urgent status among their
  scheduled visits (overdue, due, missed, upcoming, not yet due, done — the worklist's
  order), by the one rule of :mod:`registry.followup.status`, shown as ``display_status``
  labels it (an open visit's booked date included);
- the *next visit*: the open (not missed) scheduled visit with the earliest target date;
- the *last visit*: the latest visit done, scheduled or not.

A page costs three statements whatever its size and however it is sorted or filtered: the
number of matching patients, the page of patients, and the visits of those patients
(statuses worked out in Python with ``followup_status``).  Sorting or filtering by
follow-up status, next or last visit joins a per-patient summary of the visits computed
in SQL with ``status_expression`` — the same rule, proven equal to ``followup_status`` by
``tests/followup/test_status.py``.  Search is ``registry.clinical.services.search``'s
``matching`` (accent-, case- and order-insensitive), so the list finds what search finds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry.authz import visible_site_ids
from registry.clinical.services.search import identity_site_ids, matching
from registry.clock import today as clock_today
from registry.followup.status import (
    URGENCY,
    StatusDisplay,
    display_status,
    followup_status,
    status_expression,
    urgency_expression,
)
from registry.i18n import timepoint_name
from registry.models import IndexKnee, Patient, PatientIdentity, Site, Timepoint, Treatment, Visit
from registry.vocabularies import N_

PER_PAGE = 50
# A patient's state: "In follow-up" is for treated patients only.
STATES: dict[str, str] = {
    "in_follow_up": N_("In follow-up"),
    "not_treated": N_("Not treated yet"),
    "withdrawn": N_("Withdrawn"),
}
# The follow-up statuses a patient in follow-up can show, most urgent first (the codes
# of ``followup.status``; their labels are ``DISPLAY_LABELS``').
FOLLOWUP_CODES: tuple[str, ...] = tuple(URGENCY)
# Statuses of a visit that is still to come or to be chased (a missed one is not "next").
NEXT_STATUSES = ("overdue", "due", "upcoming", "scheduled")
# Sort key -> column header (marked for the catalogue).
SORTS: dict[str, str] = {
    "study_id": N_("Study ID"),
    "site": N_("Site"),
    "kl": N_("KL grade"),
    "treated": N_("Treatment"),
    "state": N_("Status"),
    "followup": N_("Follow-up"),
    "next": N_("Next visit"),
    "last": N_("Last visit"),
}
DEFAULT_SORT = "study_id"
# Sorts that need the per-patient summary of the visits.
VISIT_SORTS = frozenset({"followup", "next", "last"})


@dataclass(frozen=True)
class ListFilters:
    """What the list shows.  ``site_id`` must be one of the user's sites (the form checks
    it); ``followup`` a code of ``FOLLOWUP_CODES``; ``state`` one of ``STATES``."""

    query: str = ""
    site_id: int | None = None
    state: str | None = None
    followup: str | None = None
    kl_grade: int | None = None
    sort: str = DEFAULT_SORT
    descending: bool = False
    page: int = 1


@dataclass(frozen=True)
class VisitBrief:
    """A visit as a list cell: its name, its date and an open visit's booked date."""

    name: str
    day: date | None
    booked: date | None = None


@dataclass
class PatientRow:
    id: int
    study_id: str
    site_id: int
    site_code: str
    state: str
    kl_grade: int | None
    laterality: str | None
    treatment_date: date | None
    family_name: str | None = None  # only where the user may read identities
    given_name: str | None = None
    medical_record_number: str | None = None
    followup: StatusDisplay | None = None
    next_visit: VisitBrief | None = None
    last_visit: VisitBrief | None = None

    @property
    def state_label(self) -> str:
        return STATES[self.state]


@dataclass
class PatientListPage:
    rows: list[PatientRow]
    total: int
    page: int
    pages: int
    identity_sites: frozenset[int]
    filters: ListFilters = field(default_factory=ListFilters)


def patient_state(patient_status: str, treated: bool) -> str:
    """A patient's state code (``STATES``): withdrawn, else in follow-up once treated."""
    if patient_status == "withdrawn":
        return "withdrawn"
    return "in_follow_up" if treated else "not_treated"


def state_expression() -> ColumnElement[str]:
    """:func:`patient_state` in SQL, over Patient outer-joined to Treatment."""
    return case((Patient.status == "withdrawn", "withdrawn"),
                (Treatment.id.is_(None), "not_treated"), else_="in_follow_up")


def visit_summary(site_ids: Iterable[int], todays: Mapping[int, date]) -> Any:
    """Per patient of the sites: the most urgent scheduled visit's urgency, the next
    visit's target date and the last visit's date (a subquery, for sorting and filters)."""
    status = status_expression(dict(todays))
    scheduled = Visit.timepoint_id.is_not(None)
    return (
        select(Visit.patient_id.label("patient_id"),
               func.min(case((scheduled, urgency_expression(status)))).label("urgency"),
               func.min(case((and_(scheduled, status.in_(NEXT_STATUSES)),
                              Visit.target_date))).label("next_date"),
               func.max(case((Visit.status == "done", Visit.visit_date))).label("last_date"))
        .join(Patient, Patient.id == Visit.patient_id)
        .where(Patient.site_id.in_(sorted(site_ids)))
        .group_by(Visit.patient_id)
    ).subquery("visit_summary")


def _sort_key(sort: str, state: ColumnElement[str], summary: Any) -> ColumnElement[Any]:
    in_follow_up = state == "in_follow_up"
    keys: dict[str, Any] = {
        "study_id": Patient.study_id, "site": Site.code, "kl": IndexKnee.kl_grade,
        "treated": Treatment.treatment_date,
        "state": case({"in_follow_up": 0, "not_treated": 1, "withdrawn": 2}, value=state),
    }
    if summary is not None:
        keys["followup"] = case((in_follow_up, summary.c.urgency))
        keys["next"] = case((in_follow_up, summary.c.next_date))
        keys["last"] = summary.c.last_date
    return keys[sort]  # type: ignore[no-any-return]


def _statement(filters: ListFilters, site_ids: frozenset[int],
               identity_sites: frozenset[int], todays: Mapping[int, date]) -> Select[Any]:
    """The matching patients (all their columns for the page), sorted; not yet paged."""
    state = state_expression()
    columns: list[Any] = [Patient.id, Patient.study_id, Patient.site_id, Site.code,
                          Patient.status, state.label("state"), IndexKnee.kl_grade,
                          IndexKnee.laterality, Treatment.treatment_date]
    if identity_sites:
        columns += [PatientIdentity.site_id.label("identity_site_id"),
                    PatientIdentity.family_name, PatientIdentity.given_name,
                    PatientIdentity.medical_record_number]
    chosen = frozenset({filters.site_id}) & site_ids if filters.site_id else site_ids
    statement = (select(*columns).join(Site, Site.id == Patient.site_id)
                 .outerjoin(Treatment, Treatment.patient_id == Patient.id)
                 .outerjoin(IndexKnee, IndexKnee.patient_id == Patient.id)
                 .where(Patient.site_id.in_(sorted(chosen))))
    if identity_sites:
        statement = statement.outerjoin(PatientIdentity,
                                        PatientIdentity.patient_id == Patient.id)
    condition = matching(filters.query, identity_sites)
    if condition is not None:
        statement = statement.where(condition)
    if filters.state:
        statement = statement.where(state == filters.state)
    if filters.kl_grade is not None:
        statement = statement.where(IndexKnee.kl_grade == filters.kl_grade)
    summary = None
    if filters.followup or filters.sort in VISIT_SORTS:
        summary = visit_summary(chosen, {site: todays[site] for site in chosen})
        statement = statement.outerjoin(summary, summary.c.patient_id == Patient.id)
    if filters.followup and summary is not None:
        statement = statement.where(state == "in_follow_up",
                                    summary.c.urgency == URGENCY[filters.followup])
    key = _sort_key(filters.sort, state, summary)
    ordered = key.desc() if filters.descending else key.asc()
    # Empty values last whichever the direction (portable: no NULLS LAST on SQLite < 3.30).
    return statement.order_by(case((key.is_(None), 1), else_=0), ordered, Patient.study_id,
                              Patient.id)


def _page_visits(session: Session, patient_ids: list[int]) -> dict[int, list[Any]]:
    """The visits of the page's patients, by patient (one statement)."""
    by_patient: dict[int, list[Any]] = {patient_id: [] for patient_id in patient_ids}
    if not patient_ids:
        return by_patient
    rows = session.execute(
        select(Visit.patient_id, Visit.id, Visit.timepoint_id, Timepoint.name,
               Visit.status, Visit.window_start, Visit.window_end, Visit.grace_end,
               Visit.target_date, Visit.visit_date, Visit.out_of_window,
               Visit.appointment_date)
        .outerjoin(Timepoint, Timepoint.id == Visit.timepoint_id)
        .where(Visit.patient_id.in_(patient_ids)))
    for row in rows:
        by_patient[row.patient_id].append(row)
    return by_patient


def _visit_name(visit: Any) -> str:
    """The visit's name as the list shows it, in the reader's language."""
    if visit.timepoint_id is not None and visit.name:
        return timepoint_name(visit.name)
    return _("Unscheduled")


def describe_visits(row: PatientRow, visits: list[Any], patient_status: str,
                    today: date) -> None:
    """Set the row's follow-up status, next visit and last visit from its visits."""
    done = [visit for visit in visits if visit.status == "done" and visit.visit_date]
    if done:
        last = max(done, key=lambda visit: (visit.visit_date, visit.id))
        row.last_visit = VisitBrief(_visit_name(last), last.visit_date)
    if row.state != "in_follow_up":
        return
    scheduled = [(followup_status(visit, patient_status, today), visit) for visit in visits
                 if visit.timepoint_id is not None]
    if not scheduled:
        return
    status, urgent = min(scheduled, key=lambda pair: (URGENCY[pair[0]],
                                                      pair[1].target_date or date.max,
                                                      pair[1].id))
    row.followup = display_status(status, appointment_date=urgent.appointment_date)
    upcoming = [visit for status, visit in scheduled if status in NEXT_STATUSES]
    if upcoming:
        nearest = min(upcoming, key=lambda visit: (visit.target_date or date.max, visit.id))
        row.next_visit = VisitBrief(_visit_name(nearest), nearest.target_date,
                                    nearest.appointment_date)


def site_todays(user: Any, site_ids: Iterable[int]) -> dict[int, date]:
    """Today at each of the user's (already loaded) sites, in the site's time zone."""
    wanted = set(site_ids)
    return {site.id: clock_today(site.timezone) for site in user.sites if site.id in wanted}


def list_patients(session: Session, user: Any, filters: ListFilters) -> PatientListPage:
    """One page of the user's patients matching ``filters`` (a page past the end: the
    last page)."""
    site_ids = visible_site_ids(user)
    identity_sites = identity_site_ids(user)
    if not site_ids:
        return PatientListPage([], 0, 1, 1, identity_sites, filters)
    todays = site_todays(user, site_ids)
    statement = _statement(filters, site_ids, identity_sites, todays)
    total = session.scalar(select(func.count()).select_from(
        statement.order_by(None).subquery())) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(filters.page, 1), pages)
    result = session.execute(statement.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    rows: list[PatientRow] = []
    statuses: dict[int, str] = {}
    for record in result:
        row = PatientRow(record.id, record.study_id, record.site_id, record.code, record.state,
                         record.kl_grade, record.laterality, record.treatment_date)
        if identity_sites and record.identity_site_id in identity_sites:
            row.family_name, row.given_name = record.family_name, record.given_name
            row.medical_record_number = record.medical_record_number
        statuses[row.id] = record.status
        rows.append(row)
    visits = _page_visits(session, [row.id for row in rows])
    for row in rows:
        describe_visits(row, visits[row.id], statuses[row.id], todays[row.site_id])
    return PatientListPage(rows, total, page, pages, identity_sites, filters)


__all__ = ["DEFAULT_SORT", "FOLLOWUP_CODES", "ListFilters", "PER_PAGE", "PatientListPage",
           "PatientRow", "SORTS", "STATES", "VisitBrief", "describe_visits",
           "list_patients", "patient_state", "site_todays", "state_expression",
           "visit_summary"]
