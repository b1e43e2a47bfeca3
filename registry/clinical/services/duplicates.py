"""Likely duplicate patients at enrolment: the same person enrolled twice.

A person already enrolled at one of the user's sites (those whose identities the user may
read) is a likely duplicate of the one being enrolled when
- the normalised name (``patient_identity.name_key``: accents, case, word order and
  punctuation ignored) and the date of birth are the same, or
- the record number is the same (case ignored) at ANOTHER site; at the enrolling site the
  same record number is refused outright (unique per site, ``enrolment``).

Enrolment then needs the user's confirmation that this is a different person; the
confirmation names the records it covers (``confirmed``), so a list that changed since the
user saw it asks again.  The confirmation is the audit reason of the new records.

Two enrolments of the same person at the same moment: the check runs in the enrolling
transaction, after taking a lock on the person's keys (name and birth date; record
number), held until commit.  On PostgreSQL that is a transaction-level advisory lock: the
second enrolment waits for the first to commit, then its check (a new statement, a new
READ COMMITTED snapshot) sees the first patient and asks for confirmation.  On SQLite every
writing transaction begins with ``BEGIN IMMEDIATE``, so enrolments run one after the other
anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from registry.models import Patient, PatientIdentity, Site
from registry.services import ValidationFailed
from registry.textsearch import name_key

# Shown at most (a longer list means a name and birth date too common to help anyway).
MAX_SHOWN = 20
# Class id of the two-key advisory locks (its key space is apart from the one-key locks,
# e.g. the audit chain's); the second key is a hash of the person's key.
_PG_LOCK_CLASS = 0x4B4F4144  # "KOAD"
CONFIRM_FIELD = "not_duplicate"


@dataclass(frozen=True)
class LikelyDuplicate:
    """An enrolled patient who may be the person being enrolled, and why."""

    patient_id: int
    study_id: str
    site_code: str
    site_name: str
    birth_date: date
    family_name: str
    given_name: str
    medical_record_number: str
    same_name_and_birth_date: bool
    same_record_number: bool

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"


class LikelyDuplicates(ValidationFailed):
    """Enrolment refused until the user confirms this is not one of ``duplicates``."""

    def __init__(self, duplicates: list[LikelyDuplicate]) -> None:
        super().__init__({CONFIRM_FIELD: _(
            "This person may already be enrolled: check the likely duplicates listed, "
            "and tick the box if this is a different person.")})
        self.duplicates = duplicates


@dataclass(frozen=True)
class Person:
    """What the duplicate check compares: the person being enrolled and where."""

    site_id: int
    family_name: str
    given_name: str
    birth_date: date
    medical_record_number: str

    @property
    def name_key(self) -> str:
        return name_key(self.family_name, self.given_name)

    @property
    def record_key(self) -> str:
        return self.medical_record_number.strip().lower()


def _lock_id(*parts: str) -> int:
    """A signed 32-bit key from ``parts`` (collisions only make two enrolments wait)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def lock_person(session: Session, person: Person) -> None:
    """Hold the person's keys until the transaction ends, so that a simultaneous
    enrolment of the same person waits and then finds this one (PostgreSQL; SQLite
    serialises writing transactions already)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = set()
    if person.name_key:
        keys.add(_lock_id("name", person.name_key, person.birth_date.isoformat()))
    if person.record_key:
        keys.add(_lock_id("record", person.record_key))
    for key in sorted(keys):  # one order for everyone: no deadlock between two enrolments
        session.execute(text("SELECT pg_advisory_xact_lock(:cls, :key)"),
                        {"cls": _PG_LOCK_CLASS, "key": key})


def find_likely_duplicates(session: Session, person: Person,
                           site_ids: Collection[int]) -> list[LikelyDuplicate]:
    """Patients of ``site_ids`` who may be ``person`` (see the module's rules)."""
    if not site_ids:
        return []
    same_name = (and_(PatientIdentity.name_key == person.name_key,
                      Patient.birth_date == person.birth_date) if person.name_key else None)
    same_record = (and_(PatientIdentity.site_id != person.site_id,
                        func.lower(PatientIdentity.medical_record_number)
                        == func.lower(person.medical_record_number.strip()))
                   if person.record_key else None)
    conditions = [c for c in (same_name, same_record) if c is not None]
    if not conditions:
        return []
    rows = session.execute(
        select(Patient.id, Patient.study_id, Site.code, Site.name, Patient.birth_date,
               PatientIdentity.family_name, PatientIdentity.given_name,
               PatientIdentity.medical_record_number, PatientIdentity.name_key,
               PatientIdentity.site_id)
        .join(PatientIdentity, PatientIdentity.patient_id == Patient.id)
        .join(Site, Site.id == Patient.site_id)
        .where(PatientIdentity.site_id.in_(sorted(site_ids)), or_(*conditions))
        .order_by(Patient.study_id).limit(MAX_SHOWN)).all()
    return [LikelyDuplicate(
        patient_id=row[0], study_id=row[1], site_code=row[2], site_name=row[3],
        birth_date=row[4], family_name=row[5], given_name=row[6],
        medical_record_number=row[7],
        same_name_and_birth_date=bool(person.name_key) and row[8] == person.name_key
        and row[4] == person.birth_date,
        same_record_number=row[9] != person.site_id
        and row[7].strip().lower() == person.record_key) for row in rows]


def check_confirmed(duplicates: Iterable[LikelyDuplicate],
                    confirmed: Collection[int]) -> str | None:
    """Refuse (``LikelyDuplicates``) unless every likely duplicate is among the records
    the user confirmed to be other people; return the audit reason to record (or None)."""
    found = list(duplicates)
    if not found:
        return None
    if any(duplicate.patient_id not in confirmed for duplicate in found):
        raise LikelyDuplicates(found)
    # The audit trail's text (not translated): study IDs only, no names.
    return ("Enrolled as a new patient although likely duplicates exist ("
            + ", ".join(duplicate.study_id for duplicate in found)
            + "): the enrolling user confirmed this is a different person.")


__all__ = ["CONFIRM_FIELD", "MAX_SHOWN", "LikelyDuplicate", "LikelyDuplicates", "Person",
           "check_confirmed", "find_likely_duplicates", "lock_person"]
