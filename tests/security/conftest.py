"""Fixtures for the route-wide security tests."""

from __future__ import annotations

from datetime import date

import pytest

from registry.models import AdverseEvent, CellProduct, Cohort, ProductLot, utcnow


@pytest.fixture
def world(db, site_a, site_b, make_patient, make_user):
    """Two sites, a patient with visits and an adverse event at each, treated with a
    recalled lot of that site (of one product), a cohort."""
    objects = {}
    product = CellProduct(name="Matrix BMAC", origin="autologous", tissue_source="bone_marrow",
                          preparation="bmac")
    db.add(product)
    db.flush()
    for label, site in (("own", site_a), ("other", site_b)):
        patient = make_patient(site, treatment_date=date(2026, 1, 15))
        event = AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 20),
                             description="swelling", category="swelling", severity_grade=1,
                             serious=False, relatedness="possibly", outcome="ongoing")
        lot = ProductLot(product_id=product.id, lot_number=f"MATRIX-{label}", site_id=site.id,
                         release_status="recalled", recalled_at=utcnow())
        db.add_all([event, lot])
        db.flush()
        patient.treatment.lot_id = lot.id
        db.flush()
        objects[label] = {"lot_id": lot.id, "product_id": product.id,
                          "patient_id": patient.id, "visit_id": patient.visits[1].id,
                          "event_id": event.id, "site_id": site.id,
                          "protocol_id": patient.protocol_id,
                          "user_id": make_user("clinician", sites=[site]).id}
    cohort = Cohort(name="matrix cohort", definition={})
    db.add(cohort)
    db.flush()
    for values in objects.values():
        values["cohort_id"] = cohort.id
        values["score_code"] = "vas_pain"
    return objects
