"""Finding patients: by study ID at the user's sites; by name or record number only
where the user may read identities (clinical staff of that site)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from registry.authz import Permission, can, visible_site_ids
from registry.models import Patient, PatientIdentity

PAGE_SIZE = 50


@dataclass
class PatientPage:
    patients: list[Patient]
    identity_sites: frozenset[int]
    page: int
    has_next: bool


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_patients(session: Session, user: Any, query: str, page: int = 1) -> PatientPage:
    """Patients of the user's sites matching ``query`` (all of them when it is empty)."""
    site_ids = visible_site_ids(user)
    identity_sites = frozenset(s for s in site_ids if can(user, Permission.IDENTITY_READ, s))
    statement = select(Patient).where(Patient.site_id.in_(site_ids))
    text = query.strip()
    if text:
        pattern = f"%{_escape_like(text.lower())}%"
        conditions: list[ColumnElement[bool]] = [
            func.lower(Patient.study_id).like(pattern, escape="\\")]
        if identity_sites:
            name = func.lower(PatientIdentity.family_name + " " + PatientIdentity.given_name)
            reverse = func.lower(PatientIdentity.given_name + " " + PatientIdentity.family_name)
            conditions.append(
                (PatientIdentity.site_id.in_(identity_sites))
                & or_(name.like(pattern, escape="\\"), reverse.like(pattern, escape="\\"),
                      func.lower(PatientIdentity.medical_record_number) == text.lower()))
            statement = statement.outerjoin(PatientIdentity,
                                            PatientIdentity.patient_id == Patient.id)
        statement = statement.where(or_(*conditions))
    page = max(page, 1)
    options = [joinedload(Patient.site), joinedload(Patient.index_knee),
               joinedload(Patient.treatment)]
    if identity_sites:
        options.append(joinedload(Patient.identity))
    rows = list(session.scalars(
        statement.options(*options).order_by(Patient.study_id)
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).unique())
    return PatientPage(patients=rows[:PAGE_SIZE], identity_sites=identity_sites, page=page,
                       has_next=len(rows) > PAGE_SIZE)
