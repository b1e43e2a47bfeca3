"""The change history of one patient or one visit: its audit rows, newest first, paged.

A patient's history holds the changes of the patient record, its identifying details,
index knee, treatment, visits, questionnaire responses, adverse events, contact attempts
and self-reports (with their links); a visit's, those of the visit and of what belongs
to it.  Records are found by their current parent: one SQL condition per record type,
``entity_type = … and entity_id in (ids of the patient's records)`` (the trail's
``ix_audit_event_entity`` index).  ``records_of_patients`` is also the audit page's rule
for which events are about a reader's sites (``services.visible_to``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from registry.models import (
    AdverseEvent,
    AuditEvent,
    ContactAttempt,
    IndexKnee,
    InstrumentResponse,
    Patient,
    PatientIdentity,
    SelfReport,
    SelfReportLink,
    Treatment,
    Visit,
)

PAGE_SIZE = 100
Records = dict[str, Select[Any] | Collection[str]]


@dataclass
class AuditPage:
    """One page of audit events, newest first: the audit page's and the history views'."""

    events: list[AuditEvent]
    total: int
    page: int
    pages: int


def _ids(column: Any, *where: ColumnElement[bool]) -> Select[Any]:
    return select(cast(column, String)).where(*where)


def records_of_patients(patients: Select[Any]) -> Records:
    """Per patient-related record type: ids (as text) of the records of ``patients``
    (a select of patient ids)."""
    visits = select(Visit.id).where(Visit.patient_id.in_(patients))
    reports = select(SelfReport.id).where(SelfReport.patient_id.in_(patients))
    return {
        "patient": _ids(Patient.id, Patient.id.in_(patients)),
        "patient_identity": _ids(PatientIdentity.patient_id,
                                 PatientIdentity.patient_id.in_(patients)),
        "index_knee": _ids(IndexKnee.id, IndexKnee.patient_id.in_(patients)),
        "treatment": _ids(Treatment.id, Treatment.patient_id.in_(patients)),
        "visit": _ids(Visit.id, Visit.patient_id.in_(patients)),
        "adverse_event": _ids(AdverseEvent.id, AdverseEvent.patient_id.in_(patients)),
        "contact_attempt": _ids(ContactAttempt.id, ContactAttempt.patient_id.in_(patients)),
        "instrument_response": _ids(InstrumentResponse.id,
                                    InstrumentResponse.visit_id.in_(visits)),
        "self_report": _ids(SelfReport.id, SelfReport.patient_id.in_(patients)),
        "self_report_link": _ids(SelfReportLink.id, SelfReportLink.self_report_id.in_(reports)),
    }


def records_of_patient(patient_id: int) -> Records:
    """The record ids of one patient (its own and its identity's id are the patient's)."""
    records = records_of_patients(select(Patient.id).where(Patient.id == patient_id))
    records["patient"] = records["patient_identity"] = [str(patient_id)]
    return records


def records_of_visit(visit_id: int) -> Records:
    """The visit and what belongs to it: responses, contact attempts, adverse events
    recorded at it, its self-report and the links to that."""
    reports = select(SelfReport.id).where(SelfReport.visit_id == visit_id)
    return {
        "visit": [str(visit_id)],
        "instrument_response": _ids(InstrumentResponse.id,
                                    InstrumentResponse.visit_id == visit_id),
        "contact_attempt": _ids(ContactAttempt.id, ContactAttempt.visit_id == visit_id),
        "adverse_event": _ids(AdverseEvent.id, AdverseEvent.visit_id == visit_id),
        "self_report": _ids(SelfReport.id, SelfReport.visit_id == visit_id),
        "self_report_link": _ids(SelfReportLink.id, SelfReportLink.self_report_id.in_(reports)),
    }


def about(records: Records) -> ColumnElement[bool]:
    """The events about any of ``records``."""
    return or_(*(and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_(ids))
                 for kind, ids in records.items()))


def paged(session: Session, events: Select[Any], page: int, size: int) -> AuditPage:
    """Page ``page`` (1-based; past the last page: the last page) of ``size`` of the
    ``events`` select, newest first."""
    total = session.scalar(select(func.count()).select_from(events.subquery())) or 0
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    rows = list(session.scalars(
        events.order_by(AuditEvent.id.desc()).offset((page - 1) * size).limit(size)))
    return AuditPage(rows, total, page, pages)


def history_page(session: Session, records: Records, page: int) -> AuditPage:
    """One page of the events about ``records``, newest first (past the last page: the
    last page)."""
    return paged(session, select(AuditEvent).where(about(records)), page, PAGE_SIZE)
