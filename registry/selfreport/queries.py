"""Lists of self-reports for staff pages (the clinicians' home page)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from registry.models import Patient, SelfReport, Timepoint, Visit, utcnow
from registry.vocabularies import COLLECTION_MODES

RECENT_DAYS = 14  # "new" self-reports on the home page: submitted in the last two weeks


@dataclass(frozen=True)
class RecentSelfReport:
    patient_id: int
    study_id: str
    visit_id: int
    visit_name: str
    state: str
    mode: str
    submitted_at: datetime

    @property
    def pending(self) -> bool:
        return self.state == "pending_review"


def recent_self_reports(session: Session, site_ids: Collection[int], *,
                        days: int = RECENT_DAYS, limit: int = 50) -> list[RecentSelfReport]:
    """Self-reports of the sites submitted in the last ``days`` days, and every one still
    awaiting review however old; those awaiting review first, then newest first."""
    if not site_ids:
        return []
    since = utcnow() - timedelta(days=days)
    rows = session.execute(
        select(Patient.id, Patient.study_id, Visit.id, Timepoint.name, SelfReport.state,
               SelfReport.mode, SelfReport.submitted_at)
        .join(Visit, Visit.id == SelfReport.visit_id)
        .join(Patient, Patient.id == SelfReport.patient_id)
        .outerjoin(Timepoint, Timepoint.id == Visit.timepoint_id)
        .where(SelfReport.site_id.in_(site_ids), SelfReport.submitted_at.is_not(None),
               or_(SelfReport.state == "pending_review", SelfReport.submitted_at >= since))
        .order_by((SelfReport.state == "pending_review").desc(),
                  SelfReport.submitted_at.desc())
        .limit(limit))
    return [RecentSelfReport(patient_id, study_id, visit_id, name or "Unscheduled", state,
                             COLLECTION_MODES.get(mode or "", ""), submitted_at)
            for patient_id, study_id, visit_id, name, state, mode, submitted_at in rows
            if submitted_at is not None]
