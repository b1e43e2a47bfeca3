"""The coordinator's worklist: counts per follow-up status and the visits to chase.

Everything is computed in SQL with :func:`registry.followup.status.status_expression`:
one statement for the counts, one for the page of rows (sorted by urgency), one for the
last contact attempt of the rows on the page — the same three for 5 rows or 50.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from registry.followup.status import (
    OPEN_STATUSES,
    STATUS_LABELS,
    days_overdue,
    open_visit_prefilter,
    status_expression,
    urgency_expression,
)
from registry.models import (
    ContactAttempt,
    Patient,
    PatientIdentity,
    Timepoint,
    Treatment,
    User,
    Visit,
)

PER_PAGE = 50


@dataclass(frozen=True)
class WorklistFilters:
    """Which visits to list.  ``site_ids`` must already be limited to the user's sites."""

    site_ids: frozenset[int]
    status: str = "open"  # "open", "all" or a status code
    timepoint: str | None = None
    clinician_id: int | None = None
    treated_from: date | None = None
    treated_to: date | None = None

    @property
    def statuses(self) -> tuple[str, ...]:
        if self.status == "open":
            return OPEN_STATUSES
        if self.status == "all":
            return tuple(STATUS_LABELS)
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
    days_overdue: int | None = None
    last_contact: ContactSummary | None = None

    @property
    def status_label(self) -> str:
        label = STATUS_LABELS[self.status]
        if self.status == "done" and self.out_of_window:
            return f"{label} (out of window)"
        return label


@dataclass
class WorklistPage:
    counts: dict[str, int]
    rows: list[WorklistRow] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    total: int = 0


def _scoped(statement: Select[Any], filters: WorklistFilters) -> Select[Any]:
    """Join and restrict a statement over Visit to the filters (except status)."""
    statement = (statement.join(Patient, Patient.id == Visit.patient_id)
                 .where(Patient.site_id.in_(sorted(filters.site_ids))))
    if filters.timepoint:
        statement = (statement.join(Timepoint, Timepoint.id == Visit.timepoint_id)
                     .where(Timepoint.code == filters.timepoint))
    else:
        statement = statement.where(Visit.timepoint_id.is_not(None))  # scheduled timepoints
    if filters.clinician_id is not None:
        statement = statement.where(Visit.clinician_id == filters.clinician_id)
    if filters.treated_from is not None or filters.treated_to is not None:
        statement = statement.join(Treatment, Treatment.patient_id == Patient.id)
        if filters.treated_from is not None:
            statement = statement.where(Treatment.treatment_date >= filters.treated_from)
        if filters.treated_to is not None:
            statement = statement.where(Treatment.treatment_date <= filters.treated_to)
    return statement


def status_counts(session: Session, filters: WorklistFilters,
                  todays: dict[int, date]) -> dict[str, int]:
    """Number of visits per follow-up status (all statuses, whatever the status filter)."""
    counts = dict.fromkeys(STATUS_LABELS, 0)
    if not filters.site_ids:
        return counts
    inner = _scoped(select(status_expression(todays).label("followup_status")), filters)
    per_status = inner.subquery()
    rows = session.execute(select(per_status.c.followup_status, func.count())
                           .group_by(per_status.c.followup_status))
    counts.update({status: count for status, count in rows})
    return counts


def _prefilter(filters: WorklistFilters, todays: dict[int, date]) -> list[Any]:
    statuses = set(filters.statuses)
    if statuses <= set(OPEN_STATUSES):
        return open_visit_prefilter(todays)
    if statuses == {"done"}:
        return [Visit.status == "done"]
    if statuses == {"scheduled"}:
        return [Visit.status == "scheduled", Patient.status == "active"]
    return []


def _rows_statement(filters: WorklistFilters, todays: dict[int, date], *,
                    limit: int | None, offset: int) -> Select[Any]:
    """Rank the visits on narrow rows first, then join the details of the page only."""
    ranked = _scoped(select(Visit.id.label("visit_id"), Visit.grace_end, Visit.window_start,
                            status_expression(todays).label("status")), filters)
    ranked = ranked.where(*_prefilter(filters, todays)).subquery("ranked")

    def order(source: Any) -> list[Any]:
        return [urgency_expression(source.c.status), source.c.grace_end,
                source.c.window_start, source.c.visit_id]

    page = (select(ranked).where(ranked.c.status.in_(filters.statuses))
            .order_by(*order(ranked)).offset(offset))
    if limit is not None:
        page = page.limit(limit)
    page_rows = page.subquery("page")
    identity = aliased(PatientIdentity)
    clinician = aliased(User)
    return (
        select(page_rows.c.visit_id, Visit.patient_id, Patient.site_id, Patient.study_id,
               identity.family_name, identity.given_name, identity.phone, identity.email,
               Timepoint.code.label("timepoint_code"), Timepoint.name.label("timepoint_name"),
               Visit.target_date, Visit.window_start, Visit.window_end, Visit.grace_end,
               Visit.out_of_window, Visit.appointment_date,
               clinician.full_name.label("clinician_name"), page_rows.c.status)
        .join(Visit, Visit.id == page_rows.c.visit_id)
        .join(Patient, Patient.id == Visit.patient_id)
        .join(Timepoint, Timepoint.id == Visit.timepoint_id)
        .outerjoin(identity, identity.patient_id == Patient.id)
        .outerjoin(clinician, clinician.id == Visit.clinician_id)
        .order_by(*order(page_rows))
    )


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
    latest: dict[int, ContactSummary] = {}
    for visit_id, attempted_on, method, outcome, appointment in attempts:
        latest.setdefault(visit_id, ContactSummary(attempted_on, method, outcome, appointment))
    for row in rows:
        row.last_contact = latest.get(row.visit_id)


def _to_rows(result: Any, todays: dict[int, date]) -> Iterator[WorklistRow]:
    for record in result.mappings():
        row = WorklistRow(**record)
        row.days_overdue = days_overdue(row.grace_end, row.status, todays[row.site_id])
        yield row


def worklist_rows(session: Session, filters: WorklistFilters, todays: dict[int, date], *,
                  limit: int | None = None, offset: int = 0) -> list[WorklistRow]:
    """The visits matching the filters, most urgent first, with their last contact."""
    if not filters.site_ids:
        return []
    statement = _rows_statement(filters, todays, limit=limit, offset=offset)
    rows = list(_to_rows(session.execute(statement), todays))
    _attach_last_contacts(session, rows)
    return rows


def load_worklist(session: Session, filters: WorklistFilters, todays: dict[int, date],
                  page: int = 1, per_page: int = PER_PAGE) -> WorklistPage:
    """Counts plus one page of rows (a page past the end shows the last page)."""
    counts = status_counts(session, filters, todays)
    total = sum(counts[status] for status in filters.statuses)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = worklist_rows(session, filters, todays, limit=per_page,
                         offset=(page - 1) * per_page) if total else []
    return WorklistPage(counts=counts, rows=rows, page=page, pages=pages, total=total)
