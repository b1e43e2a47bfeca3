"""The coordinator's worklist: counts per follow-up status and the visits to chase.

The status comes from the status tables behind :mod:`registry.followup.state` when every
site shown was refreshed for its today, else it is computed live in SQL with
:func:`registry.followup.status.status_expression` — the same rule either way.  One
statement for the counts, one for the page of rows (sorted by urgency), one for the
last contact attempt of the rows on the page, one for the page's patients whose lot was
recalled and awaits their review (:func:`registry.lots.flags.recall_flags`) — the same
four for 5 rows or 50.  The rows carry each visit's self-report link state and mode of
collection from the rows' statement itself (an outer join), not a query per row.

The page is split into tabs (:data:`TABS`): **Open** (overdue, due, upcoming: what can be
acted on now) first, missed visits in their own tab, then the other statuses and all.
Each row carries its shown status (:func:`~registry.followup.status.display_status`:
"done out of window", the booked appointment) and two timing figures instead of one
"days overdue": days past the target date and days left in the window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, partial
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, aliased

from registry.followup.state import (
    STATUS_OF_URGENCY,
    AnySelect,
    is_fresh,
    kept_counts,
    stored_rows,
)
from registry.followup.status import (
    OPEN_STATUSES,
    STATUS_LABELS,
    URGENCY,
    StatusDisplay,
    days_left_in_window,
    days_overdue,
    days_past_target,
    display_status,
    open_visit_prefilter,
    status_expression,
    urgency_expression,
)
from registry.lots.flags import recall_flags
from registry.models import (
    ContactAttempt,
    Patient,
    PatientIdentity,
    ProductLot,
    SelfReport,
    Timepoint,
    Treatment,
    User,
    Visit,
)
from registry.selfreport.panel import LINK_STATE_LABELS
from registry.selfreport.service import link_state
from registry.vocabularies import COLLECTION_MODES, N_

PER_PAGE = 50
# What a coordinator can act on now: the default tab (missed visits have their own).
ACTIONABLE = ("overdue", "due", "upcoming")
# Tab -> the statuses it lists, in the order the tabs are shown.
TABS: dict[str, tuple[str, ...]] = {
    "open": ACTIONABLE, "missed": ("missed",), "scheduled": ("scheduled",),
    "done": ("done",), "not_applicable": ("not_applicable",), "all": tuple(STATUS_LABELS)}


def tab_of(status: str) -> str:
    """The tab a status filter belongs to (a single open status: the Open tab)."""
    return "open" if status in ACTIONABLE else status if status in TABS else "open"


def tab_counts(counts: dict[str, int]) -> dict[str, int]:
    """Visits per tab from the visits per status."""
    return {tab: sum(counts.get(status, 0) for status in statuses)
            for tab, statuses in TABS.items()}


@dataclass(frozen=True)
class WorklistFilters:
    """Which visits to list.  ``site_ids`` must already be limited to the user's sites."""

    site_ids: frozenset[int]
    status: str = "open"  # a tab of TABS or a status code
    timepoint: str | None = None
    clinician_id: int | None = None
    treated_from: date | None = None
    treated_to: date | None = None

    @property
    def statuses(self) -> tuple[str, ...]:
        if self.status in TABS:
            return TABS[self.status]
        return (self.status,)


@dataclass(frozen=True)
class ContactSummary:
    attempted_on: date
    method: str
    outcome: str
    appointment_date: date | None


@dataclass
class WorklistRow:
    visit_id: int
    patient_id: int
    site_id: int
    study_id: str
    family_name: str | None
    given_name: str | None
    phone: str | None
    email: str | None
    timepoint_code: str
    timepoint_name: str
    target_date: date | None
    window_start: date | None
    window_end: date | None
    grace_end: date | None
    status: str
    out_of_window: bool
    appointment_date: date | None
    clinician_name: str | None
    collection_mode: str | None = None
    days_overdue: int | None = None  # since the grace period ended (the call list's)
    days_past_target: int | None = None
    days_left: int | None = None  # in the window, while it is open
    days_to_window: int | None = None  # until the window opens (upcoming visits)
    last_contact: ContactSummary | None = None
    link_state: str | None = None  # registry.selfreport.service.link_state

    @property
    def display(self) -> StatusDisplay:
        """The shown status: done out of window, or booked with its date."""
        return display_status(self.status, out_of_window=self.out_of_window,
                              appointment_date=self.appointment_date)

    @property
    def link_state_label(self) -> str | None:
        return LINK_STATE_LABELS.get(self.link_state) if self.link_state else None

    @property
    def mode_label(self) -> str | None:
        """How a done visit's answers were collected ("Not recorded" before modes were)."""
        if self.status != "done":
            return None
        return COLLECTION_MODES.get(self.collection_mode or "", N_("Not recorded"))


@dataclass
class WorklistPage:
    counts: dict[str, int]
    rows: list[WorklistRow] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    total: int = 0
    # Patients of the page whose lot is recalled and not yet reviewed -> that lot
    # (registry.lots.flags.recall_flags: one statement for the page).
    recalls: dict[int, ProductLot] = field(default_factory=dict)

    @property
    def tabs(self) -> dict[str, int]:
        """Visits per tab (:data:`TABS`)."""
        return tab_counts(self.counts)


class FilterShape(NamedTuple):
    """Which optional filters are set: the shape of the SQL, whatever their values."""

    timepoint: bool
    clinician: bool
    treated_from: bool
    treated_to: bool

    @classmethod
    def of(cls, filters: WorklistFilters) -> FilterShape:
        return cls(bool(filters.timepoint), filters.clinician_id is not None,
                   filters.treated_from is not None, filters.treated_to is not None)


def _parameters(filters: WorklistFilters, **extra: Any) -> dict[str, Any]:
    """Values of the bound parameters of the statements below."""
    return {"site_ids": sorted(filters.site_ids), "timepoint": filters.timepoint,
            "clinician_id": filters.clinician_id, "treated_from": filters.treated_from,
            "treated_to": filters.treated_to, **extra}


def _filtered(statement: AnySelect, shape: FilterShape, join_on: Any | None) -> AnySelect:
    """Restrict a statement to the filters other than site and status (bound parameters).

    ``join_on``: the visit id column to join Visit on when a filter needs it, or None
    when Visit is already in the statement.
    """
    if any(shape) and join_on is not None:
        statement = statement.join(Visit, Visit.id == join_on)
    if shape.timepoint:
        statement = (statement.join(Timepoint, Timepoint.id == Visit.timepoint_id)
                     .where(Timepoint.code == bindparam("timepoint")))
    if shape.clinician:
        statement = statement.where(Visit.clinician_id == bindparam("clinician_id"))
    if shape.treated_from or shape.treated_to:
        statement = statement.join(Treatment, Treatment.patient_id == Visit.patient_id)
        if shape.treated_from:
            statement = statement.where(Treatment.treatment_date >= bindparam("treated_from"))
        if shape.treated_to:
            statement = statement.where(Treatment.treatment_date <= bindparam("treated_to"))
    return statement


def _status_rows(shape: FilterShape, live: dict[int, date] | None,
                 prefilter: tuple[str, ...] | None) -> AnySelect:
    """visit_id, grace_end, window_start, status, urgency of the filtered visits.

    ``live``: None to read the stored statuses (fresh for every site), else today at
    each site, to compute the status over Visit joined to Patient — with ``prefilter``
    (the wanted statuses) narrowing to visits that can have one of them.
    """
    site_ids: Any = bindparam("site_ids", expanding=True)
    if live is None:
        statement = stored_rows()
        return _filtered(statement, shape, join_on=statement.selected_columns.visit_id)
    status = status_expression(live)
    statement = (select(Visit.id.label("visit_id"), Visit.grace_end, Visit.window_start,
                        status.label("status"), urgency_expression(status).label("urgency"))
                 .join(Patient, Patient.id == Visit.patient_id)
                 .where(Patient.site_id.in_(site_ids), Visit.timepoint_id.is_not(None)))
    if prefilter is not None:
        statement = statement.where(*_prefilter(prefilter, live))
    return _filtered(statement, shape, join_on=None)


def _urgency_condition(column: Any, statuses: tuple[str, ...]) -> Any:
    """``column`` among the statuses' urgencies (a range when they are consecutive)."""
    ranks = sorted(URGENCY[status] for status in statuses)
    if ranks == list(range(ranks[0], ranks[-1] + 1)):
        return column.between(ranks[0], ranks[-1])
    return column.in_(ranks)


def _counts_statement(shape: FilterShape, live: dict[int, date] | None) -> AnySelect:
    per_visit = _status_rows(shape, live, prefilter=None).subquery()
    return select(per_visit.c.urgency, func.count()).group_by(per_visit.c.urgency)


def _stored_counts(shape: FilterShape) -> AnySelect:
    """Counts from the status tables: without filters beyond the site, the kept counts
    (a few rows) instead of counting the site's visits."""
    if any(shape):
        return _counts_statement(shape, live=None)
    return kept_counts()


# Built once per shape: constructing these statements costs more than running them.
_stored_counts_statement = lru_cache(maxsize=32)(_stored_counts)


def status_counts(session: Session, filters: WorklistFilters, todays: dict[int, date],
                  stored: bool | None = None) -> dict[str, int]:
    """Number of visits per follow-up status (all statuses, whatever the status filter).

    ``stored``: whether to read the stored statuses (default: when they are fresh).
    """
    counts = dict.fromkeys(STATUS_LABELS, 0)
    if not filters.site_ids:
        return counts
    if stored is None:
        stored = is_fresh(session, _shown(todays, filters))
    shape = FilterShape.of(filters)
    statement = _stored_counts_statement(shape) if stored else _counts_statement(shape, todays)
    rows = session.execute(statement, _parameters(filters))
    counts.update({STATUS_OF_URGENCY[rank]: int(count) for rank, count in rows})
    return counts


def _prefilter(statuses: tuple[str, ...], todays: dict[int, date]) -> list[Any]:
    wanted = set(statuses)
    if wanted <= set(OPEN_STATUSES):
        return open_visit_prefilter(todays)
    if wanted == {"done"}:
        return [Visit.status == "done"]
    if wanted == {"scheduled"}:
        return [Visit.status == "scheduled", Patient.status == "active"]
    return []


def _rows_statement(shape: FilterShape, statuses: tuple[str, ...],
                    live: dict[int, date] | None, paged: bool) -> AnySelect:
    """Rank the visits on narrow rows first, then join the details of the page only.

    ``paged``: LIMIT/OFFSET from the parameters ``page_limit`` and ``page_offset``.
    """
    ranked = _status_rows(shape, live, prefilter=statuses).subquery("ranked")

    def order(source: Any) -> list[Any]:
        return [source.c.urgency, source.c.grace_end, source.c.window_start,
                source.c.visit_id]

    page = (select(ranked).where(_urgency_condition(ranked.c.urgency, statuses))
            .order_by(*order(ranked)))
    if paged:
        page = page.limit(bindparam("page_limit")).offset(bindparam("page_offset"))
    page_rows = page.subquery("page")
    identity = aliased(PatientIdentity)
    clinician = aliased(User)
    return (
        select(page_rows.c.visit_id, Visit.patient_id, Patient.site_id, Patient.study_id,
               identity.family_name, identity.given_name, identity.phone, identity.email,
               Timepoint.code.label("timepoint_code"), Timepoint.name.label("timepoint_name"),
               Visit.target_date, Visit.window_start, Visit.window_end, Visit.grace_end,
               Visit.out_of_window, Visit.appointment_date,
               clinician.full_name.label("clinician_name"), page_rows.c.status,
               Visit.collection_mode, SelfReport)
        .join(Visit, Visit.id == page_rows.c.visit_id)
        .join(Patient, Patient.id == Visit.patient_id)
        .join(Timepoint, Timepoint.id == Visit.timepoint_id)
        .outerjoin(identity, identity.patient_id == Patient.id)
        .outerjoin(clinician, clinician.id == Visit.clinician_id)
        # The visit's self-report (at most one), in the same statement: its link state.
        .outerjoin(SelfReport, SelfReport.visit_id == Visit.id)
        .order_by(*order(page_rows))
    )


_stored_rows_statement = lru_cache(maxsize=128)(partial(_rows_statement, live=None))


def _attach_last_contacts(session: Session, rows: list[WorklistRow]) -> None:
    if not rows:
        return
    attempts = session.execute(
        select(ContactAttempt.visit_id, ContactAttempt.attempted_on, ContactAttempt.method,
               ContactAttempt.outcome, ContactAttempt.appointment_date)
        .where(ContactAttempt.visit_id.in_([row.visit_id for row in rows]))
        .order_by(ContactAttempt.visit_id, ContactAttempt.attempted_on.desc(),
                  ContactAttempt.id.desc())
    )
    latest: dict[int | None, ContactSummary] = {}
    for visit_id, attempted_on, method, outcome, appointment in attempts:
        latest.setdefault(visit_id, ContactSummary(attempted_on, method, outcome, appointment))
    for row in rows:
        row.last_contact = latest.get(row.visit_id)


def _to_rows(result: Any, todays: dict[int, date]) -> Iterator[WorklistRow]:
    for record in result.mappings():
        values = dict(record)
        report = values.pop("SelfReport")
        row = WorklistRow(**values, link_state=link_state(report))
        today = todays[row.site_id]
        row.days_overdue = days_overdue(row.grace_end, row.status, today)
        row.days_past_target = days_past_target(row.target_date, row.status, today)
        row.days_left = days_left_in_window(row.window_end, row.status, today)
        if row.status == "upcoming" and row.window_start is not None:
            row.days_to_window = (row.window_start - today).days
        yield row


def worklist_rows(session: Session, filters: WorklistFilters, todays: dict[int, date], *,
                  limit: int | None = None, offset: int = 0,
                  stored: bool | None = None) -> list[WorklistRow]:
    """The visits matching the filters, most urgent first, with their last contact.

    ``stored``: whether to read the stored statuses (default: when they are fresh).
    """
    if not filters.site_ids:
        return []
    if stored is None:
        stored = is_fresh(session, _shown(todays, filters))
    shape, paged = FilterShape.of(filters), limit is not None
    statement = (_stored_rows_statement(shape, filters.statuses, paged=paged) if stored
                 else _rows_statement(shape, filters.statuses, todays, paged))
    parameters = _parameters(filters, page_limit=limit, page_offset=offset)
    rows = list(_to_rows(session.execute(statement, parameters), todays))
    _attach_last_contacts(session, rows)
    return rows


def _shown(todays: dict[int, date], filters: WorklistFilters) -> dict[int, date]:
    return {site_id: day for site_id, day in todays.items() if site_id in filters.site_ids}


def load_worklist(session: Session, filters: WorklistFilters, todays: dict[int, date],
                  page: int = 1, per_page: int = PER_PAGE) -> WorklistPage:
    """Counts plus one page of rows (a page past the end shows the last page), and the
    recall flags of the page's patients."""
    stored = is_fresh(session, _shown(todays, filters))
    counts = status_counts(session, filters, todays, stored)
    total = sum(counts[status] for status in filters.statuses)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = worklist_rows(session, filters, todays, limit=per_page,
                         offset=(page - 1) * per_page, stored=stored) if total else []
    recalls = recall_flags(session, {row.patient_id for row in rows})
    return WorklistPage(counts=counts, rows=rows, page=page, pages=pages, total=total,
                        recalls=recalls)
