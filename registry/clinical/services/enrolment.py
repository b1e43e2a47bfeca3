"""Enrolling a patient: generated study ID, identity kept apart, eligibility checklist.

The study ID is ``<SITE CODE>-<4-digit site sequence>``.  The next sequence number is
max + 1 in the enrolling transaction; two enrolments racing for the same number meet the
unique constraint (site_id, site_sequence): the loser's savepoint is rolled back and the
number computed again, so the user never sees the race.

Before anything is created, the person is looked up among the patients of the user's sites
(``duplicates``): a likely duplicate needs the user's confirmation, which is recorded as
the audit reason of the new records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clinical.services.duplicates import (
    Person,
    check_confirmed,
    find_likely_duplicates,
    lock_person,
)
from registry.clock import today
from registry.i18n import number
from registry.limits import NUMBERS, problems
from registry.models import IndexKnee, Patient, PatientIdentity, Site
from registry.scheduling import default_protocol
from registry.services import ValidationFailed
from registry.vocabularies import (
    ELIGIBILITY_CRITERIA,
    KL_GRADES,
    KL_USUAL_INDICATION,
    LANGUAGES,
)

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class EnrolmentData:
    site_id: int
    family_name: str
    given_name: str
    medical_record_number: str
    phone: str | None
    email: str | None
    preferred_contact: str
    email_reminders: bool
    sex: str
    birth_date: date
    height_cm: float | None
    weight_kg: float | None
    laterality: str
    kl_grade: int
    eligibility: dict[str, bool]
    outside_indication_justification: str | None
    consent_date: date
    created_by_id: int | None
    # For e-mails and self-report (vocabularies.LANGUAGES); None: the site's language.
    language: str | None = None
    # Where to look for the same person (the user's sites whose identities the user may
    # read); None: the enrolling site only.
    duplicate_site_ids: frozenset[int] | None = None
    # The likely duplicates (patient ids) the user confirmed to be other people.
    confirmed_not_duplicates: frozenset[int] = frozenset()

    @property
    def person(self) -> Person:
        return Person(site_id=self.site_id, family_name=self.family_name,
                      given_name=self.given_name, birth_date=self.birth_date,
                      medical_record_number=self.medical_record_number)


def compute_bmi(height_cm: float | None, weight_kg: float | None) -> float | None:
    """Body-mass index (kg/m²) to one decimal, or None without both measurements."""
    if not height_cm or not weight_kg:
        return None
    return round(weight_kg / (height_cm / 100.0) ** 2, 1)


def indication_warnings(kl_grade: int | None, eligibility: dict[str, Any]) -> list[str]:
    """Why a patient lies outside the usual indication (empty = typical candidate), in
    the reader's language."""
    warnings = []
    if kl_grade is not None and kl_grade not in KL_USUAL_INDICATION:
        warnings.append(_("Kellgren–Lawrence grade %(grade)s is outside the usual indication "
                          "(grade II–III).", grade=kl_grade))
    for code, (label, expected) in ELIGIBILITY_CRITERIA.items():
        answer = eligibility.get(code)
        if answer is not None and bool(answer) != expected:
            # Only an answer other than the usual one is listed: yes where no is usual, or
            # no where yes is.
            warnings.append(
                _("%(question)s: answered yes (usual candidates: no).", question=_(label))
                if answer else
                _("%(question)s: answered no (usual candidates: yes).", question=_(label)))
    return warnings


def format_study_id(site_code: str, sequence: int) -> str:
    return f"{site_code}-{sequence:04d}"


def next_site_sequence(session: Session, site_id: int) -> int:
    current = session.scalar(select(func.max(Patient.site_sequence))
                             .where(Patient.site_id == site_id))
    return int(current or 0) + 1


def validate_enrolment(session: Session, data: EnrolmentData, site_today: date) -> float | None:
    """Check every value's plausible range (again: callers other than the form exist) and
    the rules that need more than one field or the database; return the BMI."""
    errors = problems({"birth_date": data.birth_date, "consent_date": data.consent_date,
                       "height_cm": data.height_cm, "weight_kg": data.weight_kg}, site_today)
    if "consent_date" not in errors and "birth_date" not in errors \
            and data.consent_date < data.birth_date:
        errors["consent_date"] = _("The consent date cannot be before the date of birth.")
    if data.language is not None and data.language not in LANGUAGES:
        errors["language"] = _("The language must be one of %(languages)s (or the site's "
                               "language), not %(value)s.", languages=", ".join(LANGUAGES),
                               value=repr(data.language))
    if data.kl_grade not in KL_GRADES:
        errors["kl_grade"] = _("The Kellgren–Lawrence grade must be 0 to 4, not %(grade)s.",
                               grade=data.kl_grade)
    bmi = None if errors.keys() & {"height_cm", "weight_kg"} else compute_bmi(
        data.height_cm, data.weight_kg)
    bmi_limit = NUMBERS["bmi"]
    if bmi is not None and bmi_limit.problem(bmi):
        errors["weight_kg"] = _("Height and weight give a BMI of %(bmi)s, outside "
                                "%(minimum)s–%(maximum)s: check both values.",
                                bmi=number(str(bmi)), minimum=number(f"{bmi_limit.minimum:g}"),
                                maximum=number(f"{bmi_limit.maximum:g}"))
    warnings = indication_warnings(data.kl_grade, data.eligibility)
    if warnings and not (data.outside_indication_justification or "").strip():
        errors["outside_indication_justification"] = _(
            "This patient is outside the usual indication: give a justification.")
    taken = session.scalar(select(PatientIdentity.patient_id).where(
        PatientIdentity.site_id == data.site_id,
        PatientIdentity.medical_record_number == data.medical_record_number.strip()))
    if taken is not None:
        errors["medical_record_number"] = _("A patient with this record number is already "
                                            "enrolled at this site.")
    if errors:
        raise ValidationFailed(errors)
    return bmi


def enrol_patient(session: Session, data: EnrolmentData) -> Patient:
    """Create the patient with identity, index knee and the site's follow-up protocol.

    Raises ``ValidationFailed`` for bad input and its subclass ``LikelyDuplicates`` when
    the person may already be enrolled and the user has not confirmed otherwise.
    """
    site = session.get(Site, data.site_id)
    if site is None or not site.active:
        raise ValidationFailed({"site_id": _("Choose one of your sites (an active one).")})
    # Before the record-number and duplicate checks: a simultaneous enrolment of the same
    # person waits here until this transaction ends (see ``duplicates``).
    lock_person(session, data.person)
    bmi = validate_enrolment(session, data, today(site.timezone))
    note = check_confirmed(
        find_likely_duplicates(session, data.person,
                               {site.id, *(data.duplicate_site_ids or ())}),
        data.confirmed_not_duplicates)
    protocol = default_protocol(session, site.id)
    justification = (data.outside_indication_justification or "").strip() or None
    if not indication_warnings(data.kl_grade, data.eligibility):
        justification = None
    for _attempt in range(MAX_ATTEMPTS):
        sequence = next_site_sequence(session, site.id)
        patient = Patient(
            study_id=format_study_id(site.code, sequence), site_id=site.id,
            site_sequence=sequence, protocol_id=protocol.id, sex=data.sex,
            birth_date=data.birth_date, height_cm=data.height_cm, weight_kg=data.weight_kg,
            bmi=bmi, consent_date=data.consent_date, language=data.language,
            outside_indication_justification=justification, created_by_id=data.created_by_id,
        )
        patient.identity = PatientIdentity(
            site_id=site.id, family_name=data.family_name.strip(),
            given_name=data.given_name.strip(),
            medical_record_number=data.medical_record_number.strip(),
            phone=(data.phone or "").strip() or None, email=(data.email or "").strip() or None,
            preferred_contact=data.preferred_contact, email_reminders=data.email_reminders,
        )
        patient.index_knee = IndexKnee(laterality=data.laterality, kl_grade=data.kl_grade,
                                       eligibility=dict(data.eligibility))
        savepoint = session.begin_nested()
        try:
            # The confirmation (if any) is the reason on the new records' audit rows.
            with capture.reason(session, note):  # flushes at the end of the block
                session.add(patient)
        except IntegrityError:
            savepoint.rollback()
            continue
        savepoint.commit()
        return patient
    raise ValidationFailed({"site_id": _("Could not allocate a study ID (many enrolments at "
                                         "once); please submit again.")})
