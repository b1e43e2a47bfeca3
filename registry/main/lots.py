"""The home page's product-lot panel: patients awaiting their review after a lot recall,
and lots that reached the serious adverse event alert (issue 20).

Both are limited to the user's sites.  Recall flags follow the rule of
:func:`registry.lots.flags.awaiting_review` (the patient's lot is recalled and no review of
that patient was recorded since the recall), here as one statement over the sites'
patients with the total as a window count, at most ``PANEL_ROWS`` rows; the alert is
:func:`registry.lots.trace.serious_alerts`.  A bounded number of statements, whatever the
number of flagged patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.lots.flags import awaiting_review
from registry.lots.trace import SafetyRow, serious_alerts
from registry.models import CellProduct, Patient, ProductLot, Treatment

PANEL_ROWS = 25


@dataclass(frozen=True)
class RecallFlag:
    """A patient whose lot was recalled, awaiting a clinician's review."""

    patient_id: int
    site_id: int
    study_id: str
    lot_id: int
    lot_name: str  # "Product · lot number", as ProductLot.__str__
    recalled_on: date | None


@dataclass
class LotPanel:
    recalls: list[RecallFlag] = field(default_factory=list)
    recalls_total: int = 0
    alerts: list[SafetyRow] = field(default_factory=list)
    threshold: int = 0  # serious events in one lot that raise the alert

    def __bool__(self) -> bool:
        return bool(self.recalls or self.alerts)


def recall_flags_of_sites(session: Session, site_ids: frozenset[int],
                          limit: int = PANEL_ROWS) -> tuple[list[RecallFlag], int]:
    """The first ``limit`` patients of ``site_ids`` flagged for a recall review (by
    product, lot and study ID) and how many there are in all: one statement."""
    if not site_ids:
        return [], 0
    statement = (
        select(Patient.id, Patient.site_id, Patient.study_id, ProductLot.id.label("lot_id"),
               ProductLot.lot_number, CellProduct.name.label("product_name"),
               ProductLot.status_date, func.count().over().label("total"))
        .select_from(Treatment)
        .join(Patient, Patient.id == Treatment.patient_id)
        .join(ProductLot, ProductLot.id == Treatment.lot_id)
        .join(CellProduct, CellProduct.id == ProductLot.product_id)
        .where(Patient.site_id.in_(sorted(site_ids)), awaiting_review())
        .order_by(CellProduct.name, ProductLot.lot_number, Patient.study_id)
        .limit(limit))
    flags: list[RecallFlag] = []
    total = 0
    for row in session.execute(statement):
        flags.append(RecallFlag(row.id, row.site_id, row.study_id, row.lot_id,
                                f"{row.product_name} · {row.lot_number}", row.status_date))
        total = row.total
    return flags, total


def lot_panel(session: Session, site_ids: frozenset[int], threshold: int) -> LotPanel:
    """The panel for a user of ``site_ids``; ``threshold``: serious events in one lot
    that raise the alert (``registry.lots.trace.alert_threshold``)."""
    panel = LotPanel(threshold=threshold)
    if not site_ids:
        return panel
    panel.recalls, panel.recalls_total = recall_flags_of_sites(session, site_ids)
    panel.alerts = serious_alerts(session, site_ids, threshold)
    return panel


__all__ = ["LotPanel", "PANEL_ROWS", "RecallFlag", "lot_panel", "recall_flags_of_sites"]
