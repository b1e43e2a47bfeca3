"""Adverse events: record, correct (with a reason) and mark serious ones reviewed.

A serious event stays on the clinical home page (``registry.main.services``) until a
member of the site's clinical staff marks it reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clock import today
from registry.i18n import day
from registry.limits import problems
from registry.models import AdverseEvent, Patient, utcnow
from registry.services import ValidationFailed, check_version
from registry.vocabularies import AE_GRADES


@dataclass(frozen=True)
class AdverseEventData:
    onset_date: date
    description: str
    category: str
    severity_grade: int
    serious: bool
    serious_criterion: str | None
    relatedness: str
    action_taken: str | None
    outcome: str
    resolution_date: date | None


def _validate(patient: Patient, data: AdverseEventData) -> None:
    errors = problems({"onset_date": data.onset_date, "resolution_date": data.resolution_date},
                      today(patient.site.timezone))
    if data.severity_grade not in AE_GRADES:
        errors["severity_grade"] = _("The severity grade must be 1 to 5 (CTCAE).")
    treatment = patient.treatment
    if treatment is not None and data.onset_date < treatment.treatment_date:
        errors.setdefault("onset_date", _("The onset cannot be before the treatment date "
                                          "(%(date)s).", date=day(treatment.treatment_date)))
    elif treatment is None and data.onset_date < patient.consent_date:
        errors.setdefault("onset_date", _("The onset cannot be before consent (%(date)s).",
                                          date=day(patient.consent_date)))
    if data.serious != (data.serious_criterion is not None):
        errors["serious_criterion"] = _("A serious event needs its criterion (and only then).")
    if data.resolution_date is not None and data.resolution_date < data.onset_date:
        errors.setdefault("resolution_date",
                          _("The resolution date cannot be before the onset date."))
    if errors:
        raise ValidationFailed(errors)


def _values(data: AdverseEventData) -> dict[str, object]:
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    values["description"] = data.description.strip()
    return values


def record_adverse_event(session: Session, patient: Patient, data: AdverseEventData, *,
                         reported_by_id: int | None) -> AdverseEvent:
    _validate(patient, data)
    event = AdverseEvent(patient_id=patient.id, reported_by_id=reported_by_id, **_values(data))
    patient.adverse_events.append(event)
    session.flush()
    return event


def update_adverse_event(session: Session, event: AdverseEvent, data: AdverseEventData, *,
                         version: str | None, reason: str | None) -> AdverseEvent:
    """Correct a recorded event; a reason is required and audited with each field."""
    check_version(event, version)
    _validate(event.patient, data)
    values = _values(data)
    changed = {name for name, value in values.items() if getattr(event, name) != value}
    if not changed:
        return event
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": _("Give a reason for correcting the recorded "
                                            "event (it is kept in the audit trail).")})
    with capture.reason(session, reason):
        for name in changed:
            setattr(event, name, values[name])
        if "serious" in changed and data.serious:
            event.reviewed_at = None  # newly serious: it needs a (new) review
            event.reviewed_by_id = None
    return event


def mark_reviewed(session: Session, event: AdverseEvent, reviewer_id: int) -> bool:
    """Record that a serious event has been reviewed; False when it already was."""
    if event.reviewed_at is not None:
        return False
    event.reviewed_at = utcnow()
    event.reviewed_by_id = reviewer_id
    session.flush()
    return True
