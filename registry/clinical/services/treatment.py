"""Recording the treatment (day 0) and keeping the visit schedule in step with it."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clock import today
from registry.limits import problems
from registry.models import Patient, Timepoint, Treatment, Visit
from registry.scheduling import schedule_visits
from registry.services import ValidationFailed, check_version


@dataclass(frozen=True)
class TreatmentData:
    treatment_date: date
    cell_source: str
    product_name: str
    lot_number: str
    cell_dose_million: float | None
    injections: int
    co_interventions: list[str]
    operator: str
    notes: str | None


def _validate(session: Session, patient: Patient, data: TreatmentData) -> None:
    """Plausible values, then day 0 against consent and the visits already recorded.

    Day 0 may not move before a recorded baseline (a baseline is on or before day 0, or
    it would be a follow-up visit) nor after a recorded follow-up visit: either would turn
    a recorded visit into something it was not, so the visit is corrected first.
    """
    errors = problems({"treatment_date": data.treatment_date,
                       "cell_dose_million": data.cell_dose_million,
                       "injections": data.injections}, today(patient.site.timezone))
    if not data.lot_number.strip():
        errors["lot_number"] = "Enter the lot number: it is required for traceability."
    day0 = data.treatment_date
    unchanged = patient.treatment is not None and patient.treatment.treatment_date == day0
    if "treatment_date" in errors or unchanged:
        if errors:
            raise ValidationFailed(errors)
        return
    if day0 < patient.consent_date:
        errors["treatment_date"] = (f"The treatment date cannot be before the consent date "
                                    f"({patient.consent_date}).")
    done = (select(Visit.visit_date).outerjoin(Timepoint, Visit.timepoint_id == Timepoint.id)
            .where(Visit.patient_id == patient.id, Visit.status == "done",
                   Visit.visit_date.is_not(None)))
    is_baseline = Timepoint.is_baseline.is_(True)
    earliest_followup = session.scalar(
        done.where(~is_baseline | Visit.timepoint_id.is_(None))
        .order_by(Visit.visit_date).limit(1))
    latest_baseline = session.scalar(
        done.where(is_baseline).order_by(Visit.visit_date.desc()).limit(1))
    if earliest_followup is not None and earliest_followup < day0:
        errors.setdefault("treatment_date", f"A follow-up visit was recorded on "
                          f"{earliest_followup}, before this date: correct that visit first.")
    elif latest_baseline is not None and latest_baseline > day0:
        errors.setdefault("treatment_date", (
            f"The baseline visit was recorded on {latest_baseline}, after this date; a "
            "baseline must be on or before the treatment date (day 0): correct the baseline "
            "visit first."))
    if errors:
        raise ValidationFailed(errors)


def save_treatment(session: Session, patient: Patient, data: TreatmentData, *,
                   version: str | None, reason: str | None,
                   recorded_by_id: int | None) -> Treatment:
    """Create or correct the treatment, then make or move the visit schedule.

    A correction needs a reason (audited with every changed field); visits already done
    keep their dates, the others move with the treatment date (``schedule_visits``).
    """
    treatment = patient.treatment
    if treatment is not None:
        check_version(treatment, version)
    _validate(session, patient, data)
    values = {f.name: getattr(data, f.name) for f in fields(data)}
    values["product_name"] = data.product_name.strip()
    values["lot_number"] = data.lot_number.strip()
    values["operator"] = data.operator.strip()
    values["notes"] = (data.notes or "").strip() or None
    if treatment is None:
        treatment = Treatment(patient_id=patient.id, recorded_by_id=recorded_by_id, **values)
        patient.treatment = treatment
        session.flush()
        schedule_visits(session, patient, data.treatment_date)
        return treatment
    changed = {name for name, value in values.items() if getattr(treatment, name) != value}
    if not changed:
        return treatment
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": "Give a reason for correcting the recorded "
                                          "treatment (it is kept in the audit trail)."})
    with capture.reason(session, reason):
        for name in changed:
            setattr(treatment, name, values[name])
        session.flush()
        if "treatment_date" in changed:
            schedule_visits(session, patient, data.treatment_date)
    return treatment
