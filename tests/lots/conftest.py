"""Lot tests: the clock pinned, CSRF on (forms submitted as rendered), a product with
lots at two sites, and helpers to treat patients with a lot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from registry import audit_capture as capture
from registry.lots.services import register_lot, save_product
from registry.models import AdverseEvent, CellProduct, Patient, ProductLot, Site

TODAY = date(2026, 6, 1)


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY.isoformat(), "WTF_CSRF_ENABLED": True}


@pytest.fixture
def product(db) -> CellProduct:
    capture.set_actor(db, None, "test")
    return save_product(db, {"name": "BMAC kit", "manufacturer": "Clinic lab",
                             "origin": "autologous", "tissue_source": "bone_marrow",
                             "preparation": "bmac", "minimally_manipulated": True})


@pytest.fixture
def make_lot(db, product) -> Callable[..., ProductLot]:
    def make(number: str, *, site: Site | None = None, status: str = "released",
             expiry: date | None = None) -> ProductLot:
        return register_lot(db, {"product_id": product.id, "lot_number": number,
                                 "site_id": site.id if site else None,
                                 "expiry_date": expiry, "status": status,
                                 "status_reason": None if status == "released" else "test"},
                            TODAY)
    return make


@pytest.fixture
def treat(db) -> Callable[..., Patient]:
    """Point a patient's treatment at ``lot`` (as the treatment form does)."""
    def make(patient: Patient, lot: ProductLot, *, events: int = 0,
             serious: int = 0) -> Patient:
        treatment = patient.treatment
        treatment.lot_id = lot.id
        treatment.product_name = lot.product.name
        treatment.lot_number = lot.lot_number
        for number in range(events):
            db.add(AdverseEvent(
                patient_id=patient.id, onset_date=treatment.treatment_date
                + timedelta(days=number + 1), description="Knee swelling",
                category="swelling", severity_grade=3 if number < serious else 1,
                serious=number < serious,
                serious_criterion="hospitalisation" if number < serious else None,
                relatedness="possibly", outcome="ongoing"))
        with capture.reason(db, "test: treated with the lot"):
            db.flush()
        return patient
    return make
