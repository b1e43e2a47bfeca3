"""Follow-up changes: contact attempts, booked appointments, withdrawal, not applicable.

Each function checks the input, changes the records and flushes; the request boundary
commits.  Every change is written to the audit trail by the ``Audited`` models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.i18n import day
from registry.limits import problems
from registry.models import ContactAttempt, Patient, PatientIdentity, Timepoint, Visit
from registry.services import ValidationFailed, check_version
from registry.vocabularies import CONTACT_METHODS, CONTACT_OUTCOMES, WITHDRAWAL_REASONS

NOTE_MAX = 2000


class OutsideWindow(ValidationFailed):
    """A booked date outside the visit's window, not (yet) confirmed: the form asks for
    the confirmation ("Book outside the window") and nothing is saved."""


def outside_window_message(visit: Visit, appointment_date: date) -> str | None:
    """Why ``appointment_date`` falls outside the visit's window (naming the window's
    dates), or None when it falls inside it or the visit has no window."""
    start, end = visit.window_start, visit.window_end
    if start is None or end is None or start <= appointment_date <= end:
        return None
    values = {"date": day(appointment_date), "start": day(start), "end": day(end)}
    if appointment_date < start:
        return _("%(date)s is before the visit's window (%(start)s – %(end)s). Tick “Book "
                 "outside the window” to book it anyway.", **values)
    return _("%(date)s is after the visit's window (%(start)s – %(end)s). Tick “Book "
             "outside the window” to book it anyway.", **values)


def _require_open_visit(visit: Visit, patient: Patient, field: str) -> None:
    if patient.status == "withdrawn":
        raise ValidationFailed({field: _("The patient has withdrawn from follow-up.")})
    if visit.status == "done":
        raise ValidationFailed({field: _("This visit is already done.")})
    if visit.status == "not_applicable":
        raise ValidationFailed({field: _("This visit is marked not applicable.")})


def log_contact(session: Session, visit: Visit, *, user_id: int | None, attempted_on: date,
                method: str, outcome: str, appointment_date: date | None, note: str | None,
                today: date, book_outside_window: bool = False) -> ContactAttempt:
    """Record an attempt to reach the patient; a booking sets the visit's appointment.

    A booked date outside the visit's window raises :class:`OutsideWindow` unless
    ``book_outside_window`` confirms it; a confirmed one is audited with that reason.
    """
    errors = problems({"attempted_on": attempted_on, "appointment_date": appointment_date},
                      today)
    if method not in CONTACT_METHODS:
        errors["method"] = _("Choose how you tried to reach the patient.")
    if outcome not in CONTACT_OUTCOMES:
        errors["outcome"] = _("Choose the outcome of the attempt.")
    if outcome == "appointment_booked":
        if appointment_date is None:
            errors["appointment_date"] = _("Give the appointment date when one was booked.")
        elif appointment_date < attempted_on:
            errors.setdefault("appointment_date",
                              _("The appointment cannot be before the contact date."))
    elif appointment_date is not None:
        errors.setdefault("appointment_date", _("Leave the appointment date empty unless the "
                                                "outcome is “Appointment booked”."))
    if note and len(note) > NOTE_MAX:
        errors["note"] = _("Keep the note under %(max)d characters.", max=NOTE_MAX)
    if errors:
        raise ValidationFailed(errors)
    _require_open_visit(visit, visit.patient, "outcome")
    outside = (outside_window_message(visit, appointment_date)
               if outcome == "appointment_booked" and appointment_date is not None else None)
    if outside is not None and not book_outside_window:
        raise OutsideWindow({"appointment_date": outside})
    attempt = ContactAttempt(patient_id=visit.patient_id, visit_id=visit.id,
                             attempted_on=attempted_on, method=method, outcome=outcome,
                             appointment_date=appointment_date, note=note or None,
                             user_id=user_id)
    session.add(attempt)
    if outcome == "appointment_booked":
        visit.appointment_date = appointment_date
    if outside is None:
        session.flush()
    else:  # the audit rows say the booking outside the window was deliberate
        with capture.reason(session, f"Appointment booked outside the visit's window "
                                     f"({visit.window_start} – {visit.window_end}), "
                                     "confirmed"):
            session.flush()
    return attempt


def withdraw_patient(session: Session, patient: Patient, *, withdrawn_on: date, reason: str,
                     note: str | None, version: int | str | None, today: date) -> int:
    """Withdraw a patient; visits not done whose window had not closed become not applicable.

    Data already collected stays.  Visits missed before the withdrawal keep their stored
    status (they were missed); the follow-up status of every visit not done of a
    withdrawn patient is "not applicable", so nobody chases them.  Returns the number of
    visits made not applicable.
    """
    check_version(patient, version)
    errors = problems({"withdrawn_on": withdrawn_on}, today)
    if patient.status == "withdrawn":
        errors["withdrawn_on"] = (
            _("The patient was already withdrawn on %(date)s.", date=day(patient.withdrawn_on))
            if patient.withdrawn_on else
            _("The patient was already withdrawn on an earlier date."))
    elif withdrawn_on < patient.consent_date:
        errors.setdefault("withdrawn_on", _("The withdrawal date cannot be before consent "
                                            "(%(date)s).", date=day(patient.consent_date)))
    if reason not in WITHDRAWAL_REASONS:
        errors["reason"] = _("Choose the reason for the withdrawal.")
    elif reason == "other" and not (note or "").strip():
        errors["note"] = _("Describe the reason when it is “Other”.")
    if note and len(note) > NOTE_MAX:
        errors["note"] = _("Keep the note under %(max)d characters.", max=NOTE_MAX)
    if errors:
        raise ValidationFailed(errors)
    label = WITHDRAWAL_REASONS[reason]
    visit_reason = f"Patient withdrawn on {withdrawn_on.isoformat()}: {label}"
    changed = 0
    with capture.reason(session, f"Withdrawal from follow-up: {label}"):
        patient.status = "withdrawn"
        patient.withdrawn_on = withdrawn_on
        patient.withdrawal_reason = reason
        patient.withdrawal_note = (note or "").strip() or None
        for visit in patient.visits:
            closed_before = visit.window_end is not None and visit.window_end < withdrawn_on
            if visit.status == "scheduled" and not closed_before:
                visit.status = "not_applicable"
                visit.not_applicable_reason = visit_reason
                changed += 1
    return changed


def mark_not_applicable(session: Session, visit: Visit, *, reason: str,
                        version: int | str | None) -> None:
    """The coordinator decides a visit will not be done (with the reason why)."""
    check_version(visit, version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": _("Say why this visit will not be done.")})
    if len(reason) > NOTE_MAX:
        raise ValidationFailed({"reason": _("Keep the reason under %(max)d characters.",
                                            max=NOTE_MAX)})
    _require_open_visit(visit, visit.patient, "reason")
    with capture.reason(session, f"Visit marked not applicable: {reason}"):
        visit.status = "not_applicable"
        visit.not_applicable_reason = reason


@dataclass(frozen=True)
class Appointment:
    appointment_date: date
    visit_id: int
    patient_id: int
    site_id: int
    study_id: str
    family_name: str | None
    given_name: str | None
    timepoint_name: str


def booked_appointments(session: Session, site_ids: frozenset[int], first_day: date,
                        last_day: date) -> list[Appointment]:
    """Appointments booked between two dates for visits not yet done (one query)."""
    if not site_ids:
        return []
    rows = session.execute(
        select(Visit.appointment_date, Visit.id, Patient.id, Patient.site_id, Patient.study_id,
               PatientIdentity.family_name, PatientIdentity.given_name, Timepoint.name)
        .join(Patient, Patient.id == Visit.patient_id)
        .join(Timepoint, Timepoint.id == Visit.timepoint_id)
        .outerjoin(PatientIdentity, PatientIdentity.patient_id == Patient.id)
        .where(Patient.site_id.in_(sorted(site_ids)), Patient.status == "active",
               Visit.status == "scheduled", Visit.appointment_date >= first_day,
               Visit.appointment_date <= last_day)
        .order_by(Visit.appointment_date, Patient.study_id)
    )
    # appointment_date is not null here: the WHERE bounds it.
    return [Appointment(*row) for row in rows]  # type: ignore[arg-type]
