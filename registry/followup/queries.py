"""Read helpers for the follow-up pages: the user's sites, filter choices, contacts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.authz import Permission, can
from registry.clock import today
from registry.followup.worklist import WorklistFilters
from registry.models import ContactAttempt, Site, Timepoint, User, user_site


def managed_site_ids(user: Any) -> frozenset[int]:
    """The sites whose follow-up the user manages (their own sites)."""
    if not can(user, Permission.FOLLOWUP_MANAGE):
        return frozenset()
    return frozenset(site_id for site_id in user.site_ids
                     if can(user, Permission.FOLLOWUP_MANAGE, site_id))


@dataclass
class FilterChoices:
    site_ids: frozenset[int]
    sites: list[tuple[str, str]] = field(default_factory=list)
    site_names: dict[int, str] = field(default_factory=dict)
    todays: dict[int, date] = field(default_factory=dict)
    timepoints: list[tuple[str, str]] = field(default_factory=list)
    clinicians: list[tuple[str, str]] = field(default_factory=list)


def filter_choices(session: Session, sites: Iterable[Site], *,
                   timepoints: bool = True) -> FilterChoices:
    """Choices for the worklist filters over ``sites`` (the user's, already loaded), and
    today's date at each site (2 queries; 1 without the ``timepoints`` choices, which the
    status grid, a column per timepoint, does not filter by)."""
    sites = sorted(sites, key=lambda site: site.code)
    site_ids = frozenset(site.id for site in sites)
    choices = FilterChoices(site_ids=site_ids)
    if not site_ids:
        return choices
    for site in sites:
        choices.sites.append((str(site.id), str(site)))
        choices.site_names[site.id] = site.code
        choices.todays[site.id] = today(site.timezone)
    if timepoints:
        choices.timepoints = _timepoint_choices(session)
    choices.clinicians = [
        (str(user_id), name) for user_id, name in session.execute(
            select(User.id, User.full_name).join(user_site, user_site.c.user_id == User.id)
            .where(user_site.c.site_id.in_(sorted(site_ids)), User.active.is_(True))
            .distinct().order_by(User.full_name, User.id))
    ]
    return choices


def _timepoint_choices(session: Session) -> list[tuple[str, str]]:
    """Every timepoint code once (protocols may share codes), in protocol order."""
    found: dict[str, str] = {}
    for code, name in session.execute(select(Timepoint.code, Timepoint.name)
                                      .order_by(Timepoint.sort_order, Timepoint.id)):
        found.setdefault(code, name)
    return list(found.items())


def filters_from_form(form: Any, site_ids: frozenset[int]) -> WorklistFilters:
    """Turn a validated filter form into worklist filters (site limited to the user's)."""
    chosen_site = int(form.site.data) if form.site.data else None
    return WorklistFilters(
        site_ids=frozenset({chosen_site}) if chosen_site else site_ids,
        status=form.status.data or "open",
        timepoint=form.timepoint.data or None,
        clinician_id=int(form.clinician.data) if form.clinician.data else None,
        treated_from=form.treated_from.data,
        treated_to=form.treated_to.data,
    )


def visit_contacts(session: Session, patient_id: int) -> list[ContactAttempt]:
    """The patient's contact attempts, newest first."""
    return list(session.scalars(
        select(ContactAttempt).where(ContactAttempt.patient_id == patient_id)
        .order_by(ContactAttempt.attempted_on.desc(), ContactAttempt.id.desc())
    ))
