"""The clinician's home panels: their patients' due and overdue visits, and the adverse
events awaiting review (serious first).

"Their patients" are the patients whose treatment the clinician recorded
(``Treatment.recorded_by_id``: the registry's only link between a clinician and a
patient, also the follow-up grid's "clinician" filter).  A clinician who has recorded no
treatment at their sites (a new colleague, a demo database loaded by script) sees the
patients of their sites instead, and the panel says so.  Serious events awaiting review
are shown for every patient of the clinician's sites, whoever treated them: a serious
event must not wait for one colleague.

Two statements per panel at most (whether the clinician has patients of their own, then
each panel's rows with their total as a window count), whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from registry.followup.state import AnySelect
from registry.followup.status import (
    StatusDisplay,
    days_left_in_window,
    days_past_target,
    display_status,
    open_visit_prefilter,
    status_expression,
    urgency_expression,
)
from registry.models import AdverseEvent, Patient, PatientIdentity, Timepoint, Treatment, Visit

PANEL_ROWS = 25
DUE_STATUSES = ("overdue", "due")


@dataclass(frozen=True)
class DueVisit:
    visit_id: int
    patient_id: int
    site_id: int
    study_id: str
    name: str | None  # "Family, Given" where the user may read identities, else None
    timepoint_name: str
    target_date: date | None
    window_end: date | None
    shown: StatusDisplay
    days_past_target: int | None
    days_left: int | None


@dataclass(frozen=True)
class PendingEvent:
    event_id: int
    patient_id: int
    site_id: int
    study_id: str
    onset_date: date
    category: str
    severity_grade: int
    serious: bool
    serious_criterion: str | None
    description: str


@dataclass
class ClinicianPanels:
    # "mine": patients whose treatment the user recorded; "sites": all of their sites'.
    scope: str = "sites"
    visits: list[DueVisit] = field(default_factory=list)
    visits_total: int = 0
    events: list[PendingEvent] = field(default_factory=list)
    events_total: int = 0


def _mine(user_id: int) -> Any:
    return Treatment.recorded_by_id == user_id


def _has_own_patients(session: Session, user_id: int, site_ids: frozenset[int]) -> bool:
    return bool(session.scalar(select(exists().where(
        _mine(user_id), Treatment.patient_id == Patient.id,
        Patient.site_id.in_(sorted(site_ids))))))


def _visits_statement(site_ids: frozenset[int], todays: Mapping[int, date],
                      user_id: int | None, identity: bool) -> AnySelect:
    status = status_expression(dict(todays))
    columns: list[Any] = [Visit.id, Visit.patient_id, Patient.site_id, Patient.study_id,
                          Timepoint.name, Visit.target_date, Visit.window_end,
                          Visit.appointment_date, status.label("status"),
                          func.count().over().label("total")]
    if identity:
        columns += [PatientIdentity.family_name, PatientIdentity.given_name]
    statement = (select(*columns).join(Patient, Patient.id == Visit.patient_id)
                 .join(Timepoint, Timepoint.id == Visit.timepoint_id)
                 .where(Patient.site_id.in_(sorted(site_ids)), *open_visit_prefilter(todays),
                        status.in_(DUE_STATUSES)))
    if identity:
        statement = statement.outerjoin(PatientIdentity,
                                        PatientIdentity.patient_id == Patient.id)
    if user_id is not None:
        statement = statement.join(Treatment, Treatment.patient_id == Patient.id)\
            .where(_mine(user_id))
    return (statement.order_by(urgency_expression(status), Visit.grace_end, Visit.target_date,
                               Visit.id).limit(PANEL_ROWS))


def _events_statement(site_ids: frozenset[int], user_id: int | None) -> AnySelect:
    statement = (select(AdverseEvent.id, AdverseEvent.patient_id, Patient.site_id,
                        Patient.study_id, AdverseEvent.onset_date, AdverseEvent.category,
                        AdverseEvent.severity_grade, AdverseEvent.serious,
                        AdverseEvent.serious_criterion, AdverseEvent.description,
                        func.count().over().label("total"))
                 .join(Patient, Patient.id == AdverseEvent.patient_id)
                 .where(Patient.site_id.in_(sorted(site_ids)),
                        AdverseEvent.reviewed_at.is_(None)))
    if user_id is not None:
        statement = (statement.outerjoin(Treatment, Treatment.patient_id == Patient.id)
                     .where(or_(AdverseEvent.serious.is_(True), _mine(user_id))))
    return statement.order_by(AdverseEvent.serious.desc(), AdverseEvent.onset_date,
                              AdverseEvent.id).limit(PANEL_ROWS)


def clinician_panels(session: Session, user: Any, site_ids: frozenset[int],
                     todays: Mapping[int, date],
                     identity_sites: frozenset[int]) -> ClinicianPanels:
    """The panels for ``user`` over ``site_ids`` (their sites; ``todays``: each one's
    today); names shown for patients of ``identity_sites`` only."""
    panels = ClinicianPanels()
    if not site_ids:
        return panels
    own = _has_own_patients(session, user.id, site_ids)
    panels.scope = "mine" if own else "sites"
    user_id = user.id if own else None
    identity = bool(identity_sites)
    for row in session.execute(_visits_statement(site_ids, todays, user_id, identity)):
        today = todays[row.site_id]
        name = (f"{row.family_name}, {row.given_name}"
                if identity and row.site_id in identity_sites and row.family_name else None)
        panels.visits.append(DueVisit(
            row.id, row.patient_id, row.site_id, row.study_id, name, row.name,
            row.target_date, row.window_end,
            display_status(row.status, appointment_date=row.appointment_date),
            days_past_target(row.target_date, row.status, today),
            days_left_in_window(row.window_end, row.status, today)))
        panels.visits_total = row.total
    for row in session.execute(_events_statement(site_ids, user_id)):
        panels.events.append(PendingEvent(
            row.id, row.patient_id, row.site_id, row.study_id, row.onset_date, row.category,
            row.severity_grade, row.serious, row.serious_criterion, row.description))
        panels.events_total = row.total
    return panels


__all__ = ["ClinicianPanels", "DueVisit", "PANEL_ROWS", "PendingEvent", "clinician_panels"]
