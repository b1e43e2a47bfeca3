"""A small, hand-checkable cohort: two sites, distinctive identities, known answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from registry import audit_capture as capture
from registry.models import AdverseEvent, Patient

TODAY = "2025-12-01"
TREATED = date(2025, 3, 10)
KOOS_ITEMS = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "P1", "P2", "P3", "P4", "P5", "P6",
              "P7", "P8", "P9", *(f"A{n}" for n in range(1, 18)), "SP1", "SP2", "SP3", "SP4",
              "SP5", "Q1", "Q2", "Q3", "Q4"]
WOMAC_ITEMS = ["P1", "P2", "P3", "P4", "P5", "S1", "S2", *(f"F{n}" for n in range(1, 18))]


def answers(vas: int, pga: int, koos: int, womac: int) -> dict[str, dict[str, Any]]:
    return {"vas": {"VAS": vas}, "pga": {"PGA": pga},
            "koos": dict.fromkeys(KOOS_ITEMS, koos), "womac": dict.fromkeys(WOMAC_ITEMS, womac)}


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"TODAY": TODAY}


# Identifying values that must never reach an export (see test_deidentification).
IDENTITIES = [
    {"family_name": "Quixbrandt", "given_name": "Ottoline", "mrn": "MRN-ZQ-731904",
     "phone": "+47 913 57 246", "email": "ottoline.quixbrandt@mailbox.example",
     "birth_date": date(1931, 2, 3)},
    {"family_name": "Vexwoldsen", "given_name": "Brynjulf", "mrn": "MRN-ZQ-582613",
     "phone": "+47 924 68 135", "email": "b.vexwoldsen@postbox.example",
     "birth_date": date(1966, 11, 29)},
    {"family_name": "Jorthaug", "given_name": "Sigrunna", "mrn": "MRN-ZQ-449021",
     "phone": "+47 935 79 802", "email": "sigrunna.j@webmail.example",
     "birth_date": date(1958, 7, 14)},
]


@dataclass
class CohortData:
    patients: list[Patient]
    identities: list[dict[str, Any]]


@pytest.fixture
def cohort_data(db, make_patient, record_visit, site_a, site_b) -> CohortData:
    """Patient 0 (site A, KL 2, age 94 -> 90+): baseline and 3 months, a serious AE.
    Patient 1 (site B, KL 3, male): baseline and 2–6 weeks, a mild AE.
    Patient 2 (site A, KL 3): baseline only; adipose cells, PRP."""
    specs = [(site_a, 2, "female"), (site_b, 3, "male"), (site_a, 3, "female")]
    patients = []
    for (site, kl, sex), identity in zip(specs, IDENTITIES, strict=True):
        patient = make_patient(site, treatment_date=TREATED, kl_grade=kl, sex=sex,
                               birth_date=identity["birth_date"],
                               family_name=identity["family_name"], email=identity["email"])
        with capture.reason(db, "distinctive test identity"):
            patient.identity.given_name = identity["given_name"]
            patient.identity.medical_record_number = identity["mrn"]
            patient.identity.phone = identity["phone"]
        patients.append(patient)
    with capture.reason(db, "test set-up"):
        patients[2].treatment.cell_source = "adipose"
        patients[2].treatment.co_interventions = ["prp"]
        patients[0].outside_indication_justification = "Quixbrandt insisted at home"
        patients[0].treatment.notes = "Seen with daughter Ottoline Quixbrandt junior"
    db.flush()
    visits = [sorted(p.visits, key=lambda v: v.target_date) for p in patients]
    record_visit(visits[0][0], TREATED - timedelta(days=5), answers(70, 60, 2, 2))
    record_visit(visits[0][2], TREATED + timedelta(days=91), answers(30, 20, 1, 1))
    record_visit(visits[1][0], TREATED - timedelta(days=3), answers(50, 50, 2, 2))
    record_visit(visits[1][1], TREATED + timedelta(days=30), answers(45, 48, 2, 2))
    record_visit(visits[2][0], TREATED - timedelta(days=1), answers(80, 70, 3, 3))
    db.add(AdverseEvent(patient_id=patients[0].id, onset_date=TREATED + timedelta(days=4),
                        description="Quixbrandt called from MRN-ZQ-731904 ward",
                        category="infection", severity_grade=3, serious=True,
                        serious_criterion="hospitalisation", relatedness="probably",
                        outcome="resolved", resolution_date=TREATED + timedelta(days=20)))
    db.add(AdverseEvent(patient_id=patients[1].id, onset_date=TREATED + timedelta(days=2),
                        description="Mild swelling", category="swelling", severity_grade=1,
                        relatedness="possibly", outcome="resolved",
                        resolution_date=TREATED + timedelta(days=6)))
    db.flush()
    return CohortData(patients, IDENTITIES)
