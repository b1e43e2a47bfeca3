"""The treatment names a catalogue lot (issue 20): lots with problems need a recorded
justification, comparators have none, the DOSES/MIBO delivery details have ranges, and a
recalled lot flags the patient's page until the review is recorded.  Forms are submitted
as rendered (CSRF on)."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from registry import audit_capture as capture
from registry.lots.services import change_status
from registry.models import LotRecallReview, Treatment, Visit, utcnow
from tests.clinical.browser import fill, form_for, open_form, submit
from tests.clinical.conftest import TODAY
from tests.clinical.helpers import treatment_data

REFUSED = "This lot cannot be used without a justification"


def treatment_page(browser, patient):
    return browser.get(f"/patients/{patient.id}/treatment", status=200)


def treatment_form(browser, patient):
    return open_form(browser, f"/patients/{patient.id}/treatment", field="lot_id")


def saved_treatment(db, patient) -> Treatment | None:
    db.expire_all()
    return db.scalar(select(Treatment).where(Treatment.patient_id == patient.id))


def nothing_saved(db, patient) -> bool:
    return saved_treatment(db, patient) is None and db.scalar(
        select(Visit.id).where(Visit.patient_id == patient.id)) is None


def test_a_released_lot_is_saved_with_the_catalogue_product(browser, db, site_a, make_patient,
                                                            clinician, make_lot, lot):
    make_lot("Q-1", status="quarantined")
    patient = make_patient(site_a, treated=False)
    page = treatment_page(browser, patient)
    options = [text for _value, _selected, text in form_for(page, field="lot_id")["lot_id"].options]
    # Released, unexpired lots first; each with product, lot, expiry and status.
    assert options[1:] == ["BMAC kit · LOT-2026-001 (released)",
                           "BMAC kit · Q-1 (quarantined)"]
    assert "no product lot" not in page.text.lower()
    response = submit(fill(form_for(page, field="lot_id"), treatment_data(lot_id=lot.id)))
    assert response.status_int == 302, unescape(response.text)[:2000]
    treatment = saved_treatment(db, patient)
    assert (treatment.treatment_type, treatment.lot_id, treatment.product_name,
            treatment.lot_number, treatment.cell_source, treatment.lot_justification) == (
        "cell_therapy", lot.id, "BMAC kit", "LOT-2026-001", "bmac", None)


@pytest.mark.parametrize(("kind", "problem"), [
    ("quarantined", "lot L-X is quarantined"),
    ("expired", "lot L-X expired on 2026-01-10"),
    ("other_site", "lot L-X belongs to another site"),
])
def test_a_lot_with_problems_needs_a_justification(browser, db, site_a, site_b, make_patient,
                                                   as_user, make_lot, kind, problem):
    as_user("clinician", sites=[site_a, site_b])
    lot = make_lot("L-X", status="quarantined" if kind == "quarantined" else "released",
                   expiry=date(2026, 1, 10) if kind == "expired" else None,
                   site=site_b if kind == "other_site" else None)
    patient = make_patient(site_a, treated=False)
    response = submit(fill(treatment_form(browser, patient), treatment_data(lot_id=lot.id)))
    html = unescape(response.text)
    assert response.status_int == 422
    assert 'id="lot_id-error"' in html
    assert f"Product lot: {REFUSED}: {problem}." in html  # the summary names the field
    assert nothing_saved(db, patient)

    again = fill(form_for(response, field="lot_id"),
                 {"lot_justification": "Only lot available; released by the QP by phone"})
    assert again["lot_id"].value == str(lot.id)
    assert submit(again).status_int == 302
    treatment = saved_treatment(db, patient)
    assert (treatment.lot_id, treatment.lot_number) == (lot.id, "L-X")
    assert treatment.lot_justification == "Only lot available; released by the QP by phone"


def test_another_sites_lot_the_user_cannot_see_is_refused(browser, db, site_a, site_b,
                                                          make_patient, clinician, make_lot):
    theirs = make_lot("B-1", site=site_b)
    patient = make_patient(site_a, treated=False)
    form = treatment_form(browser, patient)
    assert str(theirs.id) not in [value for value, _selected, _text in form["lot_id"].options]
    response = submit(fill(form, treatment_data(lot_id=theirs.id,
                                                lot_justification="tampered")))
    assert response.status_int == 422
    assert "Choose a lot from the list." in unescape(response.text)
    assert nothing_saved(db, patient)


def test_a_hyaluronic_acid_comparator_has_no_lot(browser, db, site_a, make_patient, clinician,
                                                 lot):
    patient = make_patient(site_a, treated=False)
    # A lot chosen before switching to the comparator is not kept.
    response = submit(fill(treatment_form(browser, patient), treatment_data(
        treatment_type="hyaluronic_acid", lot_id=lot.id, cell_dose_million="",
        co_interventions=[])))
    assert response.status_int == 302, unescape(response.text)[:2000]
    treatment = saved_treatment(db, patient)
    assert treatment.treatment_type == "hyaluronic_acid"
    assert (treatment.lot_id, treatment.product_name, treatment.lot_number,
            treatment.cell_source) == (None, None, None, None)
    html = unescape(browser.get(f"/patients/{patient.id}").text)
    assert "Hyaluronic acid injection" in html


def test_a_comparator_with_a_cell_dose_is_refused(browser, db, site_a, make_patient, clinician):
    patient = make_patient(site_a, treated=False)
    response = submit(fill(treatment_form(browser, patient),
                           treatment_data(treatment_type="prp", cell_dose_million="20")))
    assert response.status_int == 422
    assert "The cell dose is recorded only for cell therapy." in unescape(response.text)
    assert nothing_saved(db, patient)


def test_delivery_details_are_saved_and_shown(browser, db, site_a, make_patient, clinician,
                                              lot):
    patient = make_patient(site_a, treated=False)
    response = submit(fill(treatment_form(browser, patient), treatment_data(
        lot_id=lot.id, delivery_site="intra_articular", image_guidance="ultrasound",
        volume_ml="4.5", cell_dose_million="40", injections="2", injection_interval_days="7",
        co_interventions=["prp", "hyaluronic_acid"], anaesthesia="local")))
    assert response.status_int == 302, unescape(response.text)[:2000]
    treatment = saved_treatment(db, patient)
    assert (treatment.delivery_site, treatment.image_guidance, treatment.volume_ml,
            treatment.cell_dose_million, treatment.injections,
            treatment.injection_interval_days, treatment.anaesthesia) == (
        "intra_articular", "ultrasound", 4.5, 40, 2, 7, "local")
    assert treatment.co_interventions == ["prp", "hyaluronic_acid"]
    html = unescape(browser.get(f"/patients/{patient.id}").text)
    for text in ("Intra-articular", "Ultrasound", "4.5 mL", "40.0 million", "2 · every 7 days",
                 "Platelet-rich plasma, Hyaluronic acid", "Local"):
        assert text in html, text
    assert f'href="/lots/{lot.id}"' in html


VOLUME = "Injected volume must be between 0.1 and 100 mL."
INTERVAL = "Interval between injections must be between 1 and 365 days."


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"volume_ml": "0"}, "volume_ml", VOLUME),
    ({"volume_ml": "100.5"}, "volume_ml", VOLUME),
    ({"volume_ml": "nan"}, "volume_ml", VOLUME),
    ({"injections": "2", "injection_interval_days": "0"}, "injection_interval_days", INTERVAL),
    ({"injections": "2", "injection_interval_days": "366"}, "injection_interval_days",
     INTERVAL),
    ({"injections": "1", "injection_interval_days": "14"}, "injection_interval_days",
     "An interval between injections is recorded only for more than one injection."),
    ({"delivery_site": "intravenous"}, "delivery_site", "Not a valid choice"),
    ({"anaesthesia": "hypnosis"}, "anaesthesia", "Not a valid choice"),
])
def test_delivery_details_out_of_range_are_refused(browser, db, site_a, make_patient,
                                                   clinician, lot, overrides, field, message):
    patient = make_patient(site_a, treated=False)
    response = submit(fill(treatment_form(browser, patient),
                           treatment_data(lot_id=lot.id, **overrides)))
    html = unescape(response.text)
    assert response.status_int == 422
    assert f'id="{field}-error"' in html
    assert message in html
    assert nothing_saved(db, patient)


def test_without_lots_the_form_says_so_and_links_the_catalogue(browser, db, site_a,
                                                               make_patient, clinician):
    patient = make_patient(site_a, treated=False)
    html = unescape(treatment_page(browser, patient).text)
    assert "No product lot for this site is in the catalogue yet" in html
    assert 'href="/lots/"' in html


def test_a_recalled_lot_flags_the_patient_until_the_review(browser, db, site_a, make_patient,
                                                           clinician, lot):
    patient = make_patient(site_a, treated=False)
    assert submit(fill(treatment_form(browser, patient),
                       treatment_data(lot_id=lot.id))).status_int == 302
    page = browser.get(f"/patients/{patient.id}")
    assert "Lot recalled: review" not in page.text
    change_status(db, lot, "recalled", "Sterility test failed", TODAY)
    db.commit()
    page = browser.get(f"/patients/{patient.id}")
    assert "Lot recalled: review" in page.text
    assert "Sterility test failed" in page.text
    review = page.click(description="Record the recall review")
    assert review.request.path == f"/lots/reviews/{patient.id}"
    done = submit(fill(form_for(review, field="note"),
                       {"note": "Patient called: no symptoms; extra visit booked."}))
    assert done.status_int == 302
    assert "Lot recalled: review" not in browser.get(f"/patients/{patient.id}").text


def test_a_recorded_review_clears_the_flag_and_a_new_recall_raises_it(
        browser, db, site_a, make_patient, clinician, lot):
    patient = make_patient(site_a, treated=False)
    assert submit(fill(treatment_form(browser, patient),
                       treatment_data(lot_id=lot.id))).status_int == 302
    change_status(db, lot, "recalled", "Endotoxin above limit", TODAY)
    capture.set_actor(db, None, "test")
    db.add(LotRecallReview(lot_id=lot.id, patient_id=patient.id, note="Reviewed",
                           reviewed_at=utcnow()))
    db.commit()
    assert "Lot recalled: review" not in browser.get(f"/patients/{patient.id}").text
    change_status(db, lot, "released", "Retest passed", TODAY)
    change_status(db, lot, "recalled", "Recalled again", TODAY)
    db.commit()
    assert "Lot recalled: review" in browser.get(f"/patients/{patient.id}").text


def test_correcting_the_date_of_a_recalled_lots_treatment_needs_no_justification(
        browser, db, site_a, make_patient, clinician, lot):
    """The lot was released when used: its later recall is not a problem of the
    treatment, so correcting the date keeps the lot without a justification."""
    patient = make_patient(site_a, treated=False)
    assert submit(fill(treatment_form(browser, patient),
                       treatment_data(lot_id=lot.id))).status_int == 302
    change_status(db, lot, "recalled", "Sterility test failed", TODAY)
    db.commit()
    form = treatment_form(browser, patient)
    assert form["lot_id"].value == str(lot.id)
    response = submit(fill(form, {"treatment_date": "2026-01-21", "reason": "typo"}))
    assert response.status_int == 302, unescape(response.text)[:2000]
    treatment = saved_treatment(db, patient)
    assert (treatment.treatment_date, treatment.lot_id, treatment.lot_justification) == (
        date(2026, 1, 21), lot.id, None)


def test_a_treatment_recorded_before_the_catalogue_shows_its_words(
        browser, db, site_a, make_patient, clinician):
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    html = unescape(browser.get(f"/patients/{patient.id}").text)
    assert f"Demo BMAC · {patient.treatment.lot_number}" in html
    assert "(not in the catalogue)" in html
