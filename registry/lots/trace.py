"""Who received a lot and how they are: the trace, recall flags and reviews, lot safety.

The trace lists every patient treated with a lot at the viewer's sites (admins: all),
with their adverse events and follow-up status; the same rows feed the lot page, its CSV
and ``registry lot trace``.  A recalled lot flags each of its patients until a clinician
records a review after the recall.  Safety: adverse and serious adverse events per
patient treated, per lot and per product, with exact Poisson 95 % intervals (Garwood
1936, ``scoring.intervals.poisson_interval``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from registry.models import (
    AdverseEvent,
    CellProduct,
    LotRecallReview,
    Patient,
    ProductLot,
    Site,
    Treatment,
    User,
    Visit,
    utcnow,
)
from registry.services import ValidationFailed
from scoring.intervals import RateInterval, poisson_interval

DEFAULT_SERIOUS_ALERT = 2  # serious events in one lot that raise the alert (configurable)


def alert_threshold(config: Mapping[str, Any]) -> int:
    """Serious events in one lot that raise the alert (``REGISTRY_LOT_SERIOUS_ALERT``)."""
    return max(1, int(config.get("LOT_SERIOUS_ALERT", DEFAULT_SERIOUS_ALERT)))


@dataclass
class TracedEvent:
    onset_date: date
    category: str
    severity_grade: int
    serious: bool


@dataclass
class TraceRow:
    """One patient treated with the lot."""

    patient_id: int
    study_id: str
    site_code: str
    site_id: int
    treatment_date: date
    patient_status: str
    followup: str | None = None  # the most urgent scheduled visit's status code
    events: list[TracedEvent] = field(default_factory=list)
    reviewed_at: datetime | None = None  # last recall review (None: none since recall)

    @property
    def event_count(self) -> int:
        return len(self.events)

    @property
    def serious_count(self) -> int:
        return sum(event.serious for event in self.events)

    @property
    def followup_label(self) -> str:
        from registry.followup.status import STATUS_LABELS

        if self.patient_status == "withdrawn":
            return "Withdrawn"
        return STATUS_LABELS.get(self.followup or "", "")


def find_lots(session: Session, lot_number: str, product_name: str | None = None
              ) -> list[ProductLot]:
    """Lots with this number (of the named product, when given), products in name order."""
    statement = (select(ProductLot).join(CellProduct)
                 .where(ProductLot.lot_number == lot_number.strip()))
    if product_name:
        statement = statement.where(CellProduct.name == product_name.strip())
    return list(session.scalars(statement.order_by(CellProduct.name)))


def trace(session: Session, lot: ProductLot, site_ids: frozenset[int] | None) -> list[TraceRow]:
    """Every patient treated with ``lot`` at ``site_ids`` (None: every site), by study ID.

    Three queries whatever the lot's size: patients, their visits' most urgent status,
    their adverse events.  (The follow-up rule is imported here, not at the top: the
    follow-up package imports ``registry.lots`` for its recall flags.)
    """
    from registry.followup.status import (
        URGENCY,
        site_todays,
        status_expression,
        urgency_expression,
    )

    status_of_urgency = {rank: status for status, rank in URGENCY.items()}
    # Core rows (plain tuples), not ORM results: a lot of 5,000 patients makes ~30,000.
    connection = session.connection()
    where = [Treatment.lot_id == lot.id]
    if site_ids is not None:
        where.append(Patient.site_id.in_(sorted(site_ids)))
    rows = {
        patient_id: TraceRow(patient_id, study_id, code, site_id, treated, status)
        for patient_id, study_id, code, site_id, treated, status in connection.execute(
            select(Patient.id, Patient.study_id, Site.code, Patient.site_id,
                   Treatment.treatment_date, Patient.status)
            .join(Treatment, Treatment.patient_id == Patient.id)
            .join(Site, Site.id == Patient.site_id)
            .where(*where).order_by(Patient.study_id)).all()}
    if not rows:
        return []
    todays = site_todays(session, {row.site_id for row in rows.values()})
    status = status_expression(todays)
    urgency = func.min(urgency_expression(status))
    for patient_id, rank in connection.execute(
            select(Visit.patient_id, urgency)
            .join(Patient, Patient.id == Visit.patient_id)
            .join(Treatment, Treatment.patient_id == Patient.id)
            .where(*where, Visit.timepoint_id.is_not(None))
            .group_by(Visit.patient_id)).all():
        rows[patient_id].followup = status_of_urgency.get(rank)
    for patient_id, onset, category, grade, serious in connection.execute(
            select(AdverseEvent.patient_id, AdverseEvent.onset_date, AdverseEvent.category,
                   AdverseEvent.severity_grade, AdverseEvent.serious)
            .join(Treatment, Treatment.patient_id == AdverseEvent.patient_id)
            .join(Patient, Patient.id == AdverseEvent.patient_id)
            .where(*where).order_by(AdverseEvent.onset_date)).all():
        rows[patient_id].events.append(TracedEvent(onset, category, grade, serious))
    if lot.recalled_at is not None:
        for patient_id, reviewed in connection.execute(
                select(LotRecallReview.patient_id, func.max(LotRecallReview.reviewed_at))
                .join(Treatment, Treatment.patient_id == LotRecallReview.patient_id)
                .join(Patient, Patient.id == LotRecallReview.patient_id)
                .where(*where, LotRecallReview.lot_id == lot.id,
                       LotRecallReview.reviewed_at >= lot.recalled_at)
                .group_by(LotRecallReview.patient_id)).all():
            rows[patient_id].reviewed_at = reviewed
    return list(rows.values())


CSV_COLUMNS = ("product", "lot_number", "study_id", "site", "treatment_date",
               "adverse_events", "serious_adverse_events", "highest_grade",
               "followup_status", "recall_reviewed_at")


def trace_csv_text(lot: ProductLot, rows: list[TraceRow]) -> str:
    """The trace as CSV (UTF-8 with a byte-order mark, so Excel reads the accents)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([lot.product.name, lot.lot_number, row.study_id, row.site_code,
                         row.treatment_date.isoformat(), row.event_count, row.serious_count,
                         max((event.severity_grade for event in row.events), default=""),
                         row.followup_label,
                         row.reviewed_at.isoformat() if row.reviewed_at else ""])
    return "\ufeff" + out.getvalue()


def record_review(session: Session, patient: Patient, note: str, user: User | None
                  ) -> LotRecallReview:
    """A clinician's review of ``patient`` after their lot's recall (clears the flag)."""
    treatment = patient.treatment
    lot = treatment.lot if treatment is not None else None
    if lot is None or lot.release_status != "recalled":
        raise ValidationFailed({"note": _("This patient's lot is not recalled: there is "
                                          "nothing to review.")})
    if not (note or "").strip():
        raise ValidationFailed({"note": _("Write what the review found and decided.")})
    review = LotRecallReview(lot_id=lot.id, patient_id=patient.id, note=note.strip(),
                             reviewed_by_id=user.id if user is not None else None,
                             reviewed_at=utcnow())
    session.add(review)
    session.flush()
    return review


@dataclass(frozen=True)
class SafetyRow:
    """Adverse events per patient treated, for a lot or a product."""

    key: int
    name: str
    patients: int
    events: int
    serious: int
    status: str | None = None  # the lot's release status (None for a product)

    @classmethod
    def of_trace(cls, lot: ProductLot, rows: list[TraceRow]) -> SafetyRow:
        """The lot's row from its trace (the same counts, without another query)."""
        return cls(lot.id, f"{lot.product.name} · {lot.lot_number}", len(rows),
                   sum(row.event_count for row in rows),
                   sum(row.serious_count for row in rows), status=lot.release_status)

    @property
    def event_rate(self) -> RateInterval | None:
        return poisson_interval(self.events, self.patients)

    @property
    def serious_rate(self) -> RateInterval | None:
        return poisson_interval(self.serious, self.patients)


def _counts(session: Session, group: Any, site_ids: frozenset[int] | None
            ) -> dict[int, tuple[int, int, int]]:
    """group id -> (patients treated, adverse events, serious ones) at ``site_ids``."""
    scope = [Patient.site_id.in_(sorted(site_ids))] if site_ids is not None else []
    patients: dict[int, int] = dict(session.execute(
        select(group, func.count(Treatment.id))
        .select_from(Treatment).join(ProductLot, ProductLot.id == Treatment.lot_id)
        .join(Patient, Patient.id == Treatment.patient_id)
        .where(*scope).group_by(group)).all())
    events = {key: (total, serious or 0) for key, total, serious in session.execute(
        select(group, func.count(AdverseEvent.id),
               func.sum(case((AdverseEvent.serious, 1), else_=0)))
        .select_from(AdverseEvent)
        .join(Treatment, Treatment.patient_id == AdverseEvent.patient_id)
        .join(ProductLot, ProductLot.id == Treatment.lot_id)
        .join(Patient, Patient.id == Treatment.patient_id)
        .where(*scope).group_by(group))}
    return {key: (count, *events.get(key, (0, 0))) for key, count in patients.items()}


def lot_safety(session: Session, site_ids: frozenset[int] | None) -> list[SafetyRow]:
    """Per lot used at ``site_ids``: patients, adverse and serious events, rates."""
    counts = _counts(session, ProductLot.id, site_ids)
    lots = {lot.id: lot for lot in session.scalars(
        select(ProductLot).options(selectinload(ProductLot.product))
        .where(ProductLot.id.in_(list(counts))))} if counts else {}
    return sorted((SafetyRow(key, f"{lots[key].product.name} · {lots[key].lot_number}",
                             *counts[key], status=lots[key].release_status)
                   for key in counts), key=lambda row: row.name)


def product_safety(session: Session, site_ids: frozenset[int] | None) -> list[SafetyRow]:
    """Per product used at ``site_ids``: patients, adverse and serious events, rates."""
    counts = _counts(session, ProductLot.product_id, site_ids)
    names = dict(session.execute(select(CellProduct.id, CellProduct.name)
                                 .where(CellProduct.id.in_(list(counts)))).all())
    return sorted((SafetyRow(key, names[key], *counts[key]) for key in counts),
                  key=lambda row: row.name)


def serious_alerts(session: Session, site_ids: frozenset[int] | None, threshold: int
                   ) -> list[SafetyRow]:
    """Lots with at least ``threshold`` serious adverse events among the patients of
    ``site_ids``: the alert shown to the sites' clinicians and admins."""
    return [row for row in lot_safety(session, site_ids) if row.serious >= threshold]


def lots_of_sites(site_ids: frozenset[int] | None) -> ColumnElement[bool]:
    """A condition on ProductLot: lots a viewer of ``site_ids`` may open (their sites' own,
    every-site lots, and lots used on their patients)."""
    if site_ids is None:
        return and_(true())
    used = (select(Treatment.id).join(Patient, Patient.id == Treatment.patient_id)
            .where(Treatment.lot_id == ProductLot.id,
                   Patient.site_id.in_(sorted(site_ids))).exists())
    return ProductLot.site_id.is_(None) | ProductLot.site_id.in_(sorted(site_ids)) | used


__all__ = ["CSV_COLUMNS", "DEFAULT_SERIOUS_ALERT", "SafetyRow", "TraceRow", "alert_threshold",
           "find_lots", "lot_safety", "lots_of_sites", "product_safety", "record_review",
           "serious_alerts", "trace", "trace_csv_text"]
