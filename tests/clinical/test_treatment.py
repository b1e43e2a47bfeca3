"""Treatment: traceability fields, schedule creation, rescheduling with a reason."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, Treatment, Visit
from tests.clinical.helpers import treatment_data


def visits_by_code(db, patient_id: int) -> dict[str, Visit]:
    db.expire_all()
    visits = db.scalars(select(Visit).where(Visit.patient_id == patient_id))
    return {visit.timepoint.code: visit for visit in visits}


def test_saving_treatment_creates_the_schedule(auth, client, db, site_a, make_patient):
    patient = make_patient(site_a, treated=False)
    auth.login("clinician", sites=[site_a])
    assert client.get(f"/patients/{patient.id}/treatment").status_code == 200
    response = client.post(f"/patients/{patient.id}/treatment", data=treatment_data())
    assert response.status_code == 302, unescape(response.get_data(as_text=True))[:3000]
    db.expire_all()
    treatment = db.scalar(select(Treatment).where(Treatment.patient_id == patient.id))
    assert treatment.lot_number == "LOT-2026-001"
    assert treatment.co_interventions == ["physiotherapy"]
    visits = visits_by_code(db, patient.id)
    assert set(visits) == {"baseline", "w2_6", "m3", "m6_12"}
    assert visits["baseline"].window_start == date(2025, 11, 21)  # day -60
    assert visits["w2_6"].target_date == date(2026, 2, 17)  # day 28
    assert (visits["m3"].window_start, visits["m3"].window_end) == (date(2026, 4, 5),
                                                                   date(2026, 5, 20))
    assert all(v.status == "scheduled" for v in visits.values())


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"lot_number": ""}, "lot_number",
         "Enter the lot number: it is required for traceability."),
        ({"lot_number": "   "}, "lot_number", "Enter the lot number"),
        ({"treatment_date": "2026-06-02"}, "treatment_date", "The date cannot be in the future"),
        ({"treatment_date": "2025-01-01"}, "treatment_date", "before the consent date"),
        ({"treatment_date": ""}, "treatment_date", "Enter the treatment date"),
        ({"product_name": ""}, "product_name", "Enter the product name"),
        ({"operator": ""}, "operator", "Enter who performed the treatment."),
        ({"injections": "0"}, "injections", "The number of injections must be 1 to 10."),
        ({"cell_dose_million": "-3"}, "cell_dose_million", "The dose must be greater than 0."),
        ({"cell_source": "plasma"}, "cell_source", "Not a valid choice"),
    ],
)
def test_bad_treatment_is_refused(auth, client, db, site_a, make_patient, overrides, field,
                                  message):
    patient = make_patient(site_a, treated=False)
    auth.login("clinician", sites=[site_a])
    data = treatment_data(**{"product_name": "Typed product", **overrides})
    response = client.post(f"/patients/{patient.id}/treatment", data=data)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html
    if overrides.get("product_name") != "":
        assert 'value="Typed product"' in html
    db.expire_all()
    assert db.scalar(select(Treatment).where(Treatment.patient_id == patient.id)) is None
    assert db.scalar(select(Visit).where(Visit.patient_id == patient.id)) is None


def test_changing_treatment_date_needs_reason_and_moves_open_visits(
        auth, client, db, site_a, make_patient, record_visit):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visits = visits_by_code(db, patient.id)
    record_visit(visits["baseline"], date(2025, 12, 20), {"vas": {"VAS": 60}})
    old_m3_target = visits["m3"].target_date
    treatment = patient.treatment
    auth.login("clinician", sites=[site_a])
    form = treatment_data(treatment_date="2026-01-08", lot_number=treatment.lot_number,
                          product_name=treatment.product_name, operator=treatment.operator,
                          cell_source="bmac", cell_dose_million="20",
                          version=str(treatment.version))
    refused = client.post(f"/patients/{patient.id}/treatment", data=form)
    assert refused.status_code == 422
    assert "Give a reason for correcting the recorded treatment" in unescape(
        refused.get_data(as_text=True))
    db.expire_all()
    assert db.get(Treatment, treatment.id).treatment_date == date(2026, 1, 1)

    form["reason"] = "Date typed wrongly at first entry"
    assert client.post(f"/patients/{patient.id}/treatment", data=form).status_code == 302
    visits = visits_by_code(db, patient.id)
    assert db.get(Treatment, treatment.id).treatment_date == date(2026, 1, 8)
    assert visits["m3"].target_date == old_m3_target.replace(day=old_m3_target.day + 7)
    assert visits["baseline"].visit_date == date(2025, 12, 20)  # done: kept
    audit = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "treatment",
                                               AuditEvent.field == "treatment_date"))
    assert audit.reason == "Date typed wrongly at first entry"
    assert audit.old_value == '"2026-01-01"'


def test_treatment_date_after_a_recorded_followup_is_refused(auth, client, db, site_a,
                                                             make_patient, record_visit):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visits = visits_by_code(db, patient.id)
    record_visit(visits["w2_6"], date(2026, 1, 28), {"vas": {"VAS": 40}})
    treatment = patient.treatment
    auth.login("clinician", sites=[site_a])
    form = treatment_data(treatment_date="2026-02-01", lot_number=treatment.lot_number,
                          version=str(treatment.version), reason="moved")
    response = client.post(f"/patients/{patient.id}/treatment", data=form)
    assert response.status_code == 422
    assert "A follow-up visit was recorded on 2026-01-28" in response.get_data(as_text=True)


def test_stale_treatment_form_is_refused_with_409(auth, client, db, site_a, make_patient):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    auth.login("clinician", sites=[site_a])
    form = treatment_data(treatment_date="2026-01-02", version="0", reason="typo")
    response = client.post(f"/patients/{patient.id}/treatment", data=form)
    assert response.status_code == 409
    assert "changed by someone else" in response.get_data(as_text=True)
