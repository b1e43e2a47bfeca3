"""Product lots for the recall-flag and lot-alert tests: a catalogue entry, its lots, the
patients treated with each (built through the models), a recall through the service."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.lots.services import change_status
from registry.models import AdverseEvent, CellProduct, Patient, ProductLot


def make_product(db: Session, name: str = "Test BMAC") -> CellProduct:
    product = CellProduct(name=name, manufacturer="Test cell laboratory", origin="autologous",
                          tissue_source="bone_marrow", preparation="bmac")
    db.add(product)
    db.flush()
    return product


def make_lot(db: Session, product: CellProduct, number: str) -> ProductLot:
    lot = ProductLot(product_id=product.id, lot_number=number, release_status="released",
                     status_date=date(2025, 12, 1))
    db.add(lot)
    db.flush()
    return lot


def treat_with(db: Session, patient: Patient, lot: ProductLot) -> Patient:
    """Record that ``patient``'s treatment used ``lot``."""
    assert patient.treatment is not None
    patient.treatment.lot_id = lot.id
    patient.treatment.product_name = lot.product.name
    patient.treatment.lot_number = lot.lot_number
    with capture.reason(db, "treatment linked to its lot"):
        db.flush()
    return patient


def recall(db: Session, lot: ProductLot, today: date) -> ProductLot:
    return change_status(db, lot, "recalled", "Sterility test failed after release", today)


def serious_event(db: Session, patient: Patient, onset: date) -> AdverseEvent:
    event = AdverseEvent(patient_id=patient.id, onset_date=onset, description="Septic arthritis",
                         category="infection", severity_grade=3, serious=True,
                         serious_criterion="hospitalisation", relatedness="possibly",
                         outcome="ongoing")
    db.add(event)
    db.flush()
    return event
