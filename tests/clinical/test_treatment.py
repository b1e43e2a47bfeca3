"""Treatment through the rendered form: traceability fields, plausible ranges, schedule
creation, corrections with a reason, day 0 against recorded visits, stale forms.
(Lots, comparators and delivery details: test_treatment_lots.py.)"""

from __future__ import annotations

from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, Treatment, Visit
from tests.clinical.browser import fill, form_for, open_form, sign_in, submit, webtest
from tests.clinical.helpers import treatment_data


def visits_by_code(db, patient_id: int) -> dict[str, Visit]:
    db.expire_all()
    visits = db.scalars(select(Visit).where(Visit.patient_id == patient_id))
    return {visit.timepoint.code: visit for visit in visits}


def treatment_form(browser, patient):
    return open_form(browser, f"/patients/{patient.id}/treatment", field="lot_id")


def test_saving_treatment_creates_the_schedule(browser, db, site_a, make_patient, clinician,
                                                lot):
    patient = make_patient(site_a, treated=False)
    response = submit(fill(treatment_form(browser, patient), treatment_data(lot_id=lot.id)))
    assert response.status_int == 302, unescape(response.text)[:3000]
    db.expire_all()
    treatment = db.scalar(select(Treatment).where(Treatment.patient_id == patient.id))
    assert treatment.lot_number == "LOT-2026-001"
    assert (treatment.lot_id, treatment.product_name) == (lot.id, "BMAC kit")
    assert treatment.cell_dose_million == 25
    assert treatment.co_interventions == ["physiotherapy"]
    visits = visits_by_code(db, patient.id)
    assert set(visits) == {"baseline", "w2_6", "m3", "m6_12"}
    assert visits["baseline"].window_start == date(2025, 11, 21)  # day -60
    assert visits["w2_6"].target_date == date(2026, 2, 17)  # day 28
    assert (visits["m3"].window_start, visits["m3"].window_end) == (date(2026, 4, 5),
                                                                   date(2026, 5, 20))
    assert all(v.status == "scheduled" for v in visits.values())


DOSE = "Cell dose must be between 0.01 and 10,000 million cells."
DAY0 = "Treatment date must be between 2000-01-01 and today (2026-06-01)."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"lot_id": ""}, "lot_id",
         "Choose the product lot: it is required for traceability."),
        ({"lot_id": "999999"}, "lot_id", "Choose a lot from the list."),
        ({"lot_id": "LOT-2026-001"}, "lot_id", "Choose a lot from the list."),
        ({"treatment_date": "2026-06-02"}, "treatment_date", DAY0),
        ({"treatment_date": "0001-01-01"}, "treatment_date", DAY0),
        ({"treatment_date": "1999-12-31"}, "treatment_date", DAY0),
        ({"treatment_date": "2025-01-01"}, "treatment_date", "before the consent date"),
        ({"treatment_date": ""}, "treatment_date", "Enter the treatment date"),
        ({"operator": ""}, "operator", "Enter who performed the treatment."),
        ({"injections": "0"}, "injections", "Number of injections must be between 1 and 10."),
        ({"injections": "11"}, "injections", "Number of injections must be between 1 and 10."),
        ({"injections": "1e3"}, "injections", "Not a valid integer value."),
        ({"cell_dose_million": "-3"}, "cell_dose_million", DOSE),
        ({"cell_dose_million": "0"}, "cell_dose_million", DOSE),
        ({"cell_dose_million": "inf"}, "cell_dose_million", DOSE),
        ({"cell_dose_million": "1e308"}, "cell_dose_million", DOSE),
        ({"cell_dose_million": "1e400"}, "cell_dose_million", DOSE),
        ({"cell_dose_million": "nan"}, "cell_dose_million", DOSE),
        ({"cell_dose_million": "10000.5"}, "cell_dose_million", DOSE),
        ({"treatment_type": "plasma"}, "treatment_type", "Not a valid choice"),
    ],
)
def test_bad_treatment_is_refused(browser, db, site_a, make_patient, clinician, lot,
                                  overrides, field, message):
    patient = make_patient(site_a, treated=False)
    data = treatment_data(**{"lot_id": lot.id, "operator": "Dr Typed", **overrides})
    response = submit(fill(treatment_form(browser, patient), data))
    html = unescape(response.text)
    assert response.status_int == 422
    assert message in html
    assert f'id="{field}-error"' in html
    again = form_for(response, field="lot_id")
    if "operator" not in overrides:
        assert again["operator"].value == "Dr Typed"
    if "lot_id" not in overrides:
        assert again["lot_id"].value == str(lot.id)
    assert again["cell_dose_million"].value == data["cell_dose_million"]
    db.expire_all()
    assert db.scalar(select(Treatment).where(Treatment.patient_id == patient.id)) is None
    assert db.scalar(select(Visit).where(Visit.patient_id == patient.id)) is None


def test_changing_treatment_date_needs_reason_and_moves_open_visits(
        browser, db, site_a, make_patient, record_visit, clinician):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visits = visits_by_code(db, patient.id)
    record_visit(visits["baseline"], date(2025, 12, 20), {"vas": {"VAS": 60}})
    old_m3_target = visits["m3"].target_date
    treatment = patient.treatment
    form = treatment_form(browser, patient)
    assert form["treatment_date"].value == "2026-01-01"  # the saved values, as rendered
    # Recorded before the catalogue (no lot): the words are shown and kept.
    assert form["lot_id"].value == ""
    assert f"Recorded before the product catalogue: Demo BMAC, lot {treatment.lot_number}" \
        in unescape(browser.get(f"/patients/{patient.id}/treatment").text)
    form["treatment_date"] = "2026-01-08"
    refused = submit(form)
    assert refused.status_int == 422
    assert "Give a reason for correcting the recorded treatment" in unescape(refused.text)
    db.expire_all()
    assert db.get(Treatment, treatment.id).treatment_date == date(2026, 1, 1)

    again = form_for(refused, field="lot_id")
    assert again["treatment_date"].value == "2026-01-08"
    again["reason"] = "Date typed wrongly at first entry"
    assert submit(again).status_int == 302
    visits = visits_by_code(db, patient.id)
    assert db.get(Treatment, treatment.id).treatment_date == date(2026, 1, 8)
    assert visits["m3"].target_date == old_m3_target + timedelta(days=7)
    assert visits["baseline"].visit_date == date(2025, 12, 20)  # done: kept
    audit = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "treatment",
                                               AuditEvent.field == "treatment_date"))
    assert audit.reason == "Date typed wrongly at first entry"
    assert audit.old_value == '"2026-01-01"'
    kept = db.get(Treatment, treatment.id)
    assert (kept.lot_id, kept.product_name, kept.cell_source) == (None, "Demo BMAC", "bmac")


def test_treatment_date_after_a_recorded_followup_is_refused(browser, db, site_a, make_patient,
                                                             record_visit, clinician):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visits = visits_by_code(db, patient.id)
    record_visit(visits["w2_6"], date(2026, 1, 28), {"vas": {"VAS": 40}})
    response = submit(fill(treatment_form(browser, patient),
                           {"treatment_date": "2026-02-01", "reason": "moved"}))
    assert response.status_int == 422
    assert "A follow-up visit was recorded on 2026-01-28" in response.text
    db.expire_all()
    assert db.get(Treatment, patient.treatment.id).treatment_date == date(2026, 1, 1)


def test_treatment_date_before_a_recorded_baseline_is_refused(browser, db, site_a, make_patient,
                                                              record_visit, clinician):
    """Moving day 0 before the recorded baseline would make the baseline a visit after
    the treatment, silently the reference of every change score: refused, naming it."""
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    visits = visits_by_code(db, patient.id)
    record_visit(visits["baseline"], date(2025, 12, 20), {"vas": {"VAS": 60}})
    response = submit(fill(treatment_form(browser, patient),
                           {"treatment_date": "2025-12-15", "reason": "earlier in fact"}))
    html = unescape(response.text)
    assert response.status_int == 422
    assert 'id="treatment_date-error"' in html
    assert ("The baseline visit was recorded on 2025-12-20, after this date; a baseline must "
            "be on or before the treatment date (day 0)") in html
    db.expire_all()
    assert db.get(Treatment, patient.treatment.id).treatment_date == date(2026, 1, 1)
    # On day 0 itself the baseline still counts: allowed.
    again = fill(form_for(response, field="lot_id"), {"treatment_date": "2025-12-20"})
    assert submit(again).status_int == 302
    db.expire_all()
    assert db.get(Treatment, patient.treatment.id).treatment_date == date(2025, 12, 20)


def test_stale_treatment_form_is_refused_with_409(app, browser, db, site_a, make_patient,
                                                  make_user, clinician):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    mine = fill(treatment_form(browser, patient), {"operator": "Dr Mine", "reason": "typo"})
    other = webtest.TestApp(app)  # a colleague corrects the treatment meanwhile
    sign_in(other, make_user("clinician", sites=[site_a]).email)
    theirs = fill(treatment_form(other, patient), {"operator": "Dr Theirs", "reason": "typo"})
    assert submit(theirs).status_int == 302
    response = submit(mine)
    assert response.status_int == 409
    assert "changed by someone else" in response.text
    assert form_for(response, field="lot_id")["operator"].value == "Dr Theirs"
    db.expire_all()
    assert db.get(Treatment, patient.treatment.id).operator == "Dr Theirs"
