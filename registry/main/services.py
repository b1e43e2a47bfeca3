"""What the home page shows, by role (one query per panel, site-scoped).

Clinicians (clinical staff who do not manage follow-up) get their own panels
(``registry.main.clinician``): their patients' due and overdue visits and the adverse
events awaiting review, serious first.  Everyone else with clinical access sees the
serious events awaiting review at their sites; follow-up managers the follow-up panels.
All clinical staff (clinicians, coordinators, admins) see their sites' patients flagged
after a lot recall and the lots that reached the serious adverse event alert
(``registry.main.lots``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, contains_eager

from registry.authz import Permission, can, visible_site_ids
from registry.clinical.services.search import identity_site_ids
from registry.clock import today
from registry.followup.completeness import MODE_LABELS, completeness
from registry.followup.queries import managed_site_ids
from registry.followup.services import booked_appointments
from registry.followup.status import STATUS_LABELS
from registry.followup.worklist import WorklistFilters, status_counts
from registry.lots.trace import DEFAULT_SERIOUS_ALERT
from registry.main.clinician import ClinicianPanels, clinician_panels
from registry.main.lots import LotPanel, lot_panel
from registry.models import AdverseEvent, Patient, Site
from registry.selfreport.queries import recent_self_reports


@dataclass
class HomeSummary:
    sites: list[Site] = field(default_factory=list)
    # The user's sites that an admin deactivated: named, so nobody wonders where they went.
    inactive_sites: list[Site] = field(default_factory=list)
    patients_by_site: dict[int, int] = field(default_factory=dict)
    unreviewed_serious: list[AdverseEvent] = field(default_factory=list)
    # Follow-up (users who manage it): visits per follow-up status, this week's bookings.
    followup_counts: dict[str, int] | None = None
    followup_labels: dict[str, str] = field(default_factory=dict)
    week: tuple[date, date] | None = None
    appointments: list[Any] = field(default_factory=list)
    # Completion (done / due) per site and timepoint, by mode (registry.followup.completeness).
    completeness: list[Any] = field(default_factory=list)
    completeness_modes: dict[str, str] = field(default_factory=lambda: dict(MODE_LABELS))
    # Patients' self-reports: submitted in the last 14 days, and any awaiting review.
    self_reports: list[Any] = field(default_factory=list)
    # Clinicians: their patients' due / overdue visits, adverse events awaiting review.
    clinician: ClinicianPanels | None = None
    # Clinical staff: patients awaiting a review after their lot's recall, and lots that
    # reached the serious adverse event alert (registry.main.lots).
    lots: LotPanel = field(default_factory=LotPanel)


def home_summary(session: Session, user: Any, *,
                 lot_alert: int = DEFAULT_SERIOUS_ALERT) -> HomeSummary:
    """What ``user``'s home page shows; ``lot_alert``: serious adverse events in one lot
    that raise the lot alert (``registry.lots.trace.alert_threshold`` of the config)."""
    summary = HomeSummary()
    if user.is_authenticated and user.site_ids != user.active_site_ids:
        summary.inactive_sites = sorted((site for site in user.sites if not site.active),
                                        key=lambda site: site.code)
    site_ids = visible_site_ids(user)
    if not site_ids:
        return summary
    summary.sites = list(session.scalars(select(Site).where(Site.id.in_(site_ids))
                                         .order_by(Site.code)))
    rows = session.execute(
        select(Patient.site_id, func.count()).where(Patient.site_id.in_(site_ids))
        .group_by(Patient.site_id)
    )
    summary.patients_by_site = {site_id: count for site_id, count in rows}
    summary.lots = lot_panel(session, site_ids, lot_alert)
    if can(user, Permission.CLINICAL_WRITE) and not can(user, Permission.FOLLOWUP_MANAGE):
        todays = {site.id: today(site.timezone) for site in summary.sites}
        summary.clinician = clinician_panels(session, user, site_ids, todays,
                                             identity_site_ids(user))
    elif can(user, Permission.CLINICAL_READ):
        summary.unreviewed_serious = list(session.scalars(
            select(AdverseEvent).join(Patient)
            .where(Patient.site_id.in_(site_ids), AdverseEvent.serious.is_(True),
                   AdverseEvent.reviewed_at.is_(None))
            .order_by(AdverseEvent.onset_date)
            .options(contains_eager(AdverseEvent.patient))
        ))
    if can(user, Permission.CLINICAL_READ):
        summary.self_reports = recent_self_reports(session, site_ids)
    if can(user, Permission.FOLLOWUP_MANAGE):
        _followup_panels(session, user, summary)
    return summary


def _followup_panels(session: Session, user: Any, summary: HomeSummary) -> None:
    """Counts per follow-up status and this week's booked appointments (own sites)."""
    site_ids = managed_site_ids(user)
    if not site_ids:
        return
    # Today at each site, from the sites already loaded for the page.
    todays = {site.id: today(site.timezone) for site in summary.sites if site.id in site_ids}
    summary.followup_counts = status_counts(session, WorklistFilters(site_ids=site_ids),
                                            todays)
    summary.followup_labels = STATUS_LABELS
    monday = today() - timedelta(days=today().weekday())
    summary.week = (monday, monday + timedelta(days=6))
    summary.appointments = booked_appointments(session, site_ids, *summary.week)
    summary.completeness = completeness(session, site_ids, todays)
