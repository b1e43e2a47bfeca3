"""The visit schedule: target date and window of every timepoint, from day 0.

One function makes the schedule when a treatment is saved; the same function moves
the visits not yet done when the treatment date changes (audited through the model
hooks).  Dates are stored on the visit so that follow-up status can be computed in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from registry.models import Patient, Protocol, Timepoint, Visit
from registry.models.protocol import DEFAULT_GRACE_DAYS, DEFAULT_TIMEPOINTS


@dataclass(frozen=True)
class VisitDates:
    target_date: date
    window_start: date
    window_end: date
    grace_end: date


def visit_dates(treatment_date: date, timepoint: Timepoint) -> VisitDates:
    """Dates of a timepoint for a patient treated on ``treatment_date`` (day 0).

    The grace period runs from the target date; it never ends after the window does.
    """
    target = treatment_date + timedelta(days=timepoint.target_day)
    window_end = treatment_date + timedelta(days=timepoint.window_end_day)
    return VisitDates(
        target_date=target,
        window_start=treatment_date + timedelta(days=timepoint.window_start_day),
        window_end=window_end,
        grace_end=min(target + timedelta(days=timepoint.grace_days), window_end),
    )


def is_in_window(visit: Visit, visit_date: date) -> bool:
    if visit.window_start is None or visit.window_end is None:
        return True
    return visit.window_start <= visit_date <= visit.window_end


def timepoint_instruments(timepoint: Timepoint | None) -> list[str]:
    """The instrument codes a timepoint records: its own list, or the catalogue's defaults
    for its role when the list is empty (an unscheduled visit records a follow-up's)."""
    if timepoint is not None and timepoint.instruments:
        return list(timepoint.instruments)
    is_baseline = timepoint is not None and timepoint.is_baseline
    return list(scoring.default_instruments(is_baseline))


def schedule_visits(session: Session, patient: Patient, treatment_date: date) -> list[Visit]:
    """Create the patient's scheduled visits, or move those not yet done."""
    protocol = session.get(Protocol, patient.protocol_id)
    if protocol is None:
        raise ValueError("The patient has no follow-up protocol.")
    existing = {
        visit.timepoint_id: visit
        for visit in session.scalars(select(Visit).where(Visit.patient_id == patient.id))
        if visit.timepoint_id is not None
    }
    visits = []
    for timepoint in protocol.timepoints:
        dates = visit_dates(treatment_date, timepoint)
        visit = existing.get(timepoint.id)
        if visit is None:
            visit = Visit(patient_id=patient.id, timepoint_id=timepoint.id, status="scheduled")
            session.add(visit)
        if visit.status != "done" or visit.target_date is None:
            visit.target_date = dates.target_date
            visit.window_start = dates.window_start
            visit.window_end = dates.window_end
            visit.grace_end = dates.grace_end
        if visit.status == "done" and visit.visit_date is not None:
            visit.out_of_window = not is_in_window(visit, visit.visit_date)
        visits.append(visit)
    session.flush()
    return visits


def default_protocol(session: Session, site_id: int | None = None) -> Protocol:
    """The site's own protocol if it has one, else the registry default (created once).

    A new protocol's timepoints record the catalogue's default instruments of their role,
    written out, so a later change of the defaults does not change a running study.
    """
    if site_id is not None:
        own = session.scalar(select(Protocol).where(Protocol.site_id == site_id))
        if own is not None:
            return own
    protocol = session.scalar(select(Protocol).where(Protocol.is_default.is_(True)))
    if protocol is not None:
        return protocol
    protocol = Protocol(
        name="Standard follow-up",
        description="Baseline, 2–6 weeks, 3 months and 6–12 months after treatment.",
        is_default=True,
    )
    for order, spec in enumerate(DEFAULT_TIMEPOINTS):
        protocol.timepoints.append(Timepoint(**spec, sort_order=order,
                                             grace_days=DEFAULT_GRACE_DAYS,
                                             instruments=list(scoring.default_instruments(
                                                 spec["is_baseline"]))))
    session.add(protocol)
    session.flush()
    return protocol
