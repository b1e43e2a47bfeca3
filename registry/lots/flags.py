"""Which patients carry the "lot recalled: review" flag (one query, models only).

Kept apart from ``registry.lots.trace`` so that the worklist and the grid, which the
follow-up package imports at start-up, can use it without importing that package back.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry.models import LotRecallReview, ProductLot, Treatment


def awaiting_review() -> ColumnElement[bool]:
    """The flag's rule, over a query joining Treatment and its ProductLot: the lot is
    recalled and no review of the treatment's patient was recorded since the recall."""
    reviewed = (select(LotRecallReview.id)
                .where(LotRecallReview.patient_id == Treatment.patient_id,
                       LotRecallReview.lot_id == ProductLot.id,
                       LotRecallReview.reviewed_at >= ProductLot.recalled_at)
                .exists())
    return (ProductLot.release_status == "recalled") & ~reviewed


def recall_flags(session: Session, patient_ids: Iterable[int]) -> dict[int, ProductLot]:
    """Patients (of ``patient_ids``) whose lot is recalled and who have no review recorded
    since the recall: patient id -> the recalled lot.  One query."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    statement = (select(Treatment.patient_id, ProductLot)
                 .join(ProductLot, ProductLot.id == Treatment.lot_id)
                 .where(awaiting_review()))
    if len(ids) <= 1000:
        statement = statement.where(Treatment.patient_id.in_(ids))
    wanted = set(ids)
    return {patient_id: lot for patient_id, lot in session.execute(statement)
            if patient_id in wanted}


__all__ = ["awaiting_review", "recall_flags"]
