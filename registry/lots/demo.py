"""The demo's product catalogue, lots and comparator group (``registry demo``).

Three products: two autologous preparations, whose every patient has a lot of their own
(bone-marrow aspirate concentrate, adipose stromal vascular fraction), and an allogeneic
culture-expanded product with three shared lots.  Of those, AC-2025-02 is recalled once
the cohort is loaded (its patients carry the "lot recalled: review" flag) and AC-2026-01
has two serious adverse events, which raises the lot alert.  About one patient in eight
is a comparator treated with hyaluronic acid injections (no lot).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from registry.lots.services import apply_lot, change_status, register_lot, save_product
from registry.models import AdverseEvent, CellProduct, Patient, ProductLot, Treatment

PRODUCTS = {
    "bmac": {"name": "BMAC kit", "manufacturer": "Clinic cell laboratory",
             "origin": "autologous", "tissue_source": "bone_marrow", "preparation": "bmac",
             "minimally_manipulated": True, "regulatory_status": "Minimally manipulated, "
             "same surgical procedure"},
    "adipose": {"name": "Lipo-SVF", "manufacturer": "Clinic cell laboratory",
                "origin": "autologous", "tissue_source": "adipose", "preparation": "svf",
                "minimally_manipulated": False,
                "regulatory_status": "Hospital exemption (Regulation 1394/2007 art. 28)"},
    "allogeneic": {"name": "AlloCell-K", "manufacturer": "Nordic Cell Factory AS",
                   "origin": "allogeneic", "tissue_source": "umbilical_cord",
                   "preparation": "culture_expanded_msc", "minimally_manipulated": False,
                   "regulatory_status": "Investigational medicinal product",
                   "authorisation_reference": "EU CT 2024-500123-11-00"},
}
SHARED_LOTS = ("AC-2025-01", "AC-2025-02", "AC-2026-01")
RECALLED_LOT = "AC-2025-02"
ALERT_LOT = "AC-2026-01"
RECALL_REASON = ("Sterility test of the retained sample positive (Staphylococcus "
                 "epidermidis); manufacturer's recall notice of the lot.")
ISCT_PASS = {"cd73_percent": 99.1, "cd90_percent": 98.7, "cd105_percent": 97.9,
             "cd45_percent": 0.6, "cd34_percent": 0.4, "cd14_cd11b_percent": 0.9,
             "cd79a_cd19_percent": 0.3, "hla_dr_percent": 1.1}


@dataclass
class DemoCatalogue:
    products: dict[str, CellProduct]
    shared: list[ProductLot]
    treated: dict[str, list[Patient]] = field(default_factory=dict)


def load_catalogue(session: Session, reference_day: date) -> DemoCatalogue:
    """The three products and the allogeneic product's shared lots (released)."""
    products = {source: save_product(session, values) for source, values in PRODUCTS.items()}
    shared = []
    for number, lot_number in enumerate(SHARED_LOTS):
        made = reference_day - timedelta(days=600 - 200 * number)
        shared.append(register_lot(session, {
            "product_id": products["allogeneic"].id, "lot_number": lot_number,
            "donor_code": f"UCD-{7301 + number}", "collection_date": made,
            "processing_date": made + timedelta(days=21),
            "expiry_date": reference_day + timedelta(days=365), "cell_count_million": 2000.0,
            "viability_percent": 94.0 - number, "cfu_f": 42.0 + number,
            "sterility_passed": True, "status": "released", **ISCT_PASS}, reference_day))
    return DemoCatalogue(products, shared)


def treat(session: Session, rng: random.Random, catalogue: DemoCatalogue, patient: Patient,
          treatment_date: date) -> None:
    """The patient's treatment: hyaluronic acid (about 1 in 8), else cell therapy with
    their own autologous lot or one of the shared allogeneic lots."""
    delivery = {"delivery_site": "intra_articular",
                "image_guidance": rng.choice(["ultrasound", "ultrasound", "none"]),
                "anaesthesia": "local", "operator": "Dr Demo",
                "co_interventions": rng.sample(["physiotherapy", "prp"], k=rng.randint(0, 1))}
    if rng.random() < 0.125:
        injections = rng.choice([1, 3])
        patient.treatment = Treatment(
            treatment_date=treatment_date, treatment_type="hyaluronic_acid",
            injections=injections, injection_interval_days=7 if injections > 1 else None,
            volume_ml=2.0, **delivery)
        session.flush()
        return
    source = rng.choices(["bmac", "adipose", "allogeneic"], weights=[45, 35, 20])[0]
    injections = rng.choice([1, 1, 2])
    treatment = Treatment(
        treatment_date=treatment_date, treatment_type="cell_therapy",
        cell_dose_million=round(rng.uniform(10, 100), 1), injections=injections,
        injection_interval_days=rng.choice([30, 90]) if injections > 1 else None,
        volume_ml=round(rng.uniform(3, 8), 1), **delivery)
    if source == "allogeneic":
        lot = catalogue.shared[reference_index(treatment_date, catalogue)]
    else:
        lot = register_lot(session, {
            "product_id": catalogue.products[source].id,
            "lot_number": f"{'BM' if source == 'bmac' else 'SVF'}-{patient.study_id}",
            "site_id": patient.site_id, "patient_id": patient.id,
            "collection_date": treatment_date, "processing_date": treatment_date,
            "expiry_date": treatment_date, "cell_count_million": round(
                rng.uniform(20, 400), 0), "viability_percent": round(rng.uniform(85, 98), 1),
            "sterility_passed": None, "status": "released"}, treatment_date)
    treatment.patient_id = patient.id
    apply_lot(treatment, lot, None, site_id=patient.site_id, on=treatment_date)
    patient.treatment = treatment
    session.flush()
    catalogue.treated.setdefault(lot.lot_number, []).append(patient)


def reference_index(treatment_date: date, catalogue: DemoCatalogue) -> int:
    """Which shared lot was in use on ``treatment_date``: the newest processed before it."""
    usable = [number for number, lot in enumerate(catalogue.shared)
              if lot.processing_date is not None and lot.processing_date <= treatment_date]
    return usable[-1] if usable else 0


def finish(session: Session, catalogue: DemoCatalogue, reference_day: date,
           spanish_sites: frozenset[int]) -> None:
    """After the cohort: two serious events in the alert lot, then the recall."""
    for patient in catalogue.treated.get(ALERT_LOT, [])[:2]:
        assert patient.treatment is not None  # treated with the lot
        treated = patient.treatment.treatment_date
        spanish = patient.site_id in spanish_sites
        session.add(AdverseEvent(
            patient_id=patient.id, onset_date=min(reference_day, treated + timedelta(days=3)),
            description=("Derrame importante con fiebre; ingreso para artrocentesis"
                         if spanish else "Large effusion with fever; admitted for aspiration"),
            category="swelling", severity_grade=3, serious=True,
            serious_criterion="hospitalisation", relatedness="probably",
            action_taken="hospitalisation", outcome="resolved",
            resolution_date=min(reference_day, treated + timedelta(days=12))))
    session.flush()
    recalled = next(lot for lot in catalogue.shared if lot.lot_number == RECALLED_LOT)
    change_status(session, recalled, "recalled", RECALL_REASON, reference_day)


__all__ = ["ALERT_LOT", "RECALLED_LOT", "DemoCatalogue", "finish", "load_catalogue", "treat"]
