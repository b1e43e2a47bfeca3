"""A visit leaving more than half of a begun instrument unanswered is saved only after the
user confirms it: 422 with the instrument and count named, nothing saved; then, with the
rendered confirmation box ticked, saved."""

from __future__ import annotations

from datetime import date
from html import unescape

from sqlalchemy import func, select

from registry.models import AuditEvent, InstrumentResponse, Visit
from tests.clinical.browser import fill, form_for, open_form, submit
from tests.clinical.helpers import all_items, answer_fields

BASELINE_DATE = date(2025, 12, 20)  # in the baseline window of a patient treated 2026-01-01


def baseline(db, patient) -> Visit:
    db.expire_all()
    return next(v for v in db.scalars(select(Visit).where(Visit.patient_id == patient.id))
                if v.timepoint is not None and v.timepoint.is_baseline)


def visit_form(browser, patient, visit):
    return open_form(browser, f"/patients/{patient.id}/visits/{visit.id}", field="visit_date")


def enter(browser, patient, visit, answers, **extra):
    form = fill(visit_form(browser, patient, visit),
                {"visit_date": str(BASELINE_DATE), **answer_fields(answers), **extra})
    return submit(form)


def mostly_blank_koos() -> dict:
    """22 of 42 KOOS items unanswered: just more than half."""
    koos = all_items("koos", None)
    koos.update({code: 1 for code in list(koos)[:20]})
    return koos


def test_mostly_unanswered_instrument_is_confirmed_before_saving(browser, db, treated,
                                                                 clinician):
    visit = baseline(db, treated)
    version, audit_rows = visit.version, db.scalar(select(func.count(AuditEvent.id)))
    page = visit_form(browser, treated, visit)
    assert "confirm_incomplete" not in page.fields  # not offered before it is needed
    refused = enter(browser, treated, visit, {"vas": {"VAS": 40}, "koos": mostly_blank_koos()})
    assert refused.status_int == 422
    text = unescape(refused.text)
    assert "Nothing was saved" in text
    assert "KOOS: 22 of 42 items unanswered" in text
    assert "VAS" not in text.split("More than half")[1].split(")")[0]  # VAS is answered
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"
    assert db.get(Visit, visit.id).version == version
    assert db.scalar(select(func.count(InstrumentResponse.id))
                     .where(InstrumentResponse.visit_id == visit.id)) == 0
    assert db.scalar(select(func.count(AuditEvent.id))) == audit_rows
    form = form_for(refused, field="visit_date")
    box = form["confirm_incomplete"]
    assert not box.checked
    assert '<label for="confirm_incomplete">' in refused.text
    assert form["koos-P1"].value == "1"  # the typed answers come back
    assert submit(form).status_int == 422  # not ticked: still refused
    confirmed = submit(fill(form, {"confirm_incomplete": True}))
    assert confirmed.status_int == 302, confirmed.text[:300]
    db.expire_all()
    saved = db.get(Visit, visit.id)
    assert saved.status == "done"
    koos = db.scalar(select(InstrumentResponse).where(InstrumentResponse.visit_id == visit.id,
                                                      InstrumentResponse.instrument == "koos"))
    assert sum(value is None for value in koos.answers.values()) == 22


def test_half_answered_and_wholly_blank_instruments_save_at_once(browser, db, treated,
                                                                 clinician):
    visit = baseline(db, treated)
    womac = all_items("womac", None)
    womac.update({code: 2 for code in list(womac)[:12]})  # 12 of 24: half, not more
    response = enter(browser, treated, visit, {"vas": {"VAS": 40}, "womac": womac})
    assert response.status_int == 302, unescape(response.text)[:500]  # KOOS left blank
    db.expire_all()
    assert {r.instrument for r in db.get(Visit, visit.id).responses} == {"vas", "womac"}


def test_a_confirmed_visit_is_corrected_without_asking_again(browser, db, treated, clinician):
    visit = baseline(db, treated)
    refused = enter(browser, treated, visit, {"koos": mostly_blank_koos()})
    assert submit(fill(form_for(refused, field="visit_date"),
                       {"confirm_incomplete": True})).status_int == 302
    # Correcting one answer keeps KOOS as incomplete as it was saved: no new question.
    corrected = enter(browser, treated, visit, {"koos": {"S1": 2}},
                      reason="misread the paper form")
    assert corrected.status_int == 302, unescape(corrected.text)[:500]
    # A newly begun, mostly blank instrument is asked about.
    womac = {**all_items("womac", None), "P1": 1}
    again = enter(browser, treated, visit, {"womac": womac})
    assert again.status_int == 422
    assert "WOMAC: 23 of 24 items unanswered" in unescape(again.text)
    assert "KOOS:" not in unescape(again.text).split("More than half")[1].split(".")[0]


def test_other_errors_and_the_confirmation_are_shown_together(browser, db, treated,
                                                              clinician):
    visit = baseline(db, treated)
    response = enter(browser, treated, visit, {"koos": mostly_blank_koos()},
                     visit_date="2026-02-01")  # a baseline after day 0: the service refuses
    assert response.status_int == 422
    text = unescape(response.text)
    assert "KOOS: 22 of 42 items unanswered" in text
    assert "A baseline visit must be on or before the treatment date" in text
    form = form_for(response, field="visit_date")
    assert "confirm_incomplete" in form.fields
