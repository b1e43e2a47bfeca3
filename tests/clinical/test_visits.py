"""Visit entry through the rendered form: item-by-item answers, scores from scoring/,
plausible dates, the baseline on or before day 0, edits, concurrency, unscheduled visits."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import func, select

from registry.models import AuditEvent, InstrumentResponse, ScoreValue, Visit
from tests.clinical.browser import fill, form_for, open_form, sign_in, submit, webtest
from tests.clinical.helpers import all_items, answer_fields

BASELINE_DATE = date(2025, 12, 20)  # window 2025-11-02 .. 2026-01-01 (treated 2026-01-01)
M3_DATE = date(2026, 4, 1)  # window 2026-03-17 .. 2026-05-01


def schedule(db, patient) -> dict[str, Visit]:
    db.expire_all()
    visits = db.scalars(select(Visit).where(Visit.patient_id == patient.id))
    return {visit.timepoint.code: visit for visit in visits if visit.timepoint}


def scores_of(db, visit: Visit) -> dict[str, ScoreValue]:
    db.expire_all()
    return {s.score_code: s for s in db.scalars(select(ScoreValue)
                                                .where(ScoreValue.visit_id == visit.id))}


def baseline_answers() -> dict[str, dict]:
    return {"vas": {"VAS": 60}, "pga": {"PGA": 50}, "womac": all_items("womac", 2),
            "koos": all_items("koos", 1)}


def m3_answers() -> dict[str, dict]:
    return {"vas": {"VAS": 20}, "pga": {"PGA": 20}, "womac": all_items("womac", 1),
            "koos": all_items("koos", 0)}


def visit_url(patient, visit) -> str:
    return f"/patients/{patient.id}/visits/{visit.id}"


def visit_form(browser, patient, visit):
    return open_form(browser, visit_url(patient, visit), field="visit_date")


def enter(browser, patient, visit, visit_date, answers, **extra):
    """Open the visit form, type the date and answers, press "Save visit"."""
    values = {"visit_date": str(visit_date), **answer_fields(answers), **extra}
    return submit(fill(visit_form(browser, patient, visit), values))


def test_visit_form_is_item_by_item_and_keyboard_ready(browser, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    page = browser.get(visit_url(treated, visit))
    html = page.text
    assert html.count('<fieldset class="item"') == 24 + 42
    assert "<legend>Symptoms (7 items)</legend>" in html
    assert "<legend>Function in daily living (17 items)</legend>" in html
    # S4 runs the other way: "Always" is the good answer, coded 0.
    assert '<input type="radio" name="koos-S4" id="koos-S4-0" value="0">' in html
    assert '<label for="koos-S4-0"><span class="code">0</span> Always</label>' in html
    assert '<label for="vas-VAS">' in html
    form = form_for(page, field="visit_date")
    assert form["version"].value == str(visit.version)
    assert form["csrf_token"].value
    assert "KOOS: <strong>42</strong> of 42 items missing" in html
    assert "clinical-visit.js" in html
    assert "<script>" not in html
    script = browser.get("/static/clinical-visit.js")
    assert script.status_int == 200


def test_full_baseline_and_three_month_visit_scores(browser, db, treated, clinician):
    visits = schedule(db, treated)
    baseline, m3 = visits["baseline"], visits["m3"]
    response = enter(browser, treated, baseline, BASELINE_DATE, baseline_answers())
    assert response.status_int == 302, unescape(response.text)[:3000]
    scores = scores_of(db, baseline)
    # Hand-computed: KOOS all answers 1 -> 100 - 25 x 1 = 75 in every subscale.
    for code in ("koos_symptoms", "koos_pain", "koos_adl", "koos_sport_rec", "koos_qol"):
        assert scores[code].value == pytest.approx(75.0)
    # WOMAC all 2: pain 5 x 2 = 10 of 20 -> 50; stiffness 4 of 8; function 34 of 68; total 48.
    assert scores["womac_pain"].value == pytest.approx(10)
    assert scores["womac_pain_norm"].value == pytest.approx(50.0)
    assert scores["womac_stiffness"].value == pytest.approx(4)
    assert scores["womac_function"].value == pytest.approx(34)
    assert scores["womac_total"].value == pytest.approx(48)
    assert scores["womac_total_norm"].value == pytest.approx(50.0)
    assert scores["vas_pain"].value == 60
    assert scores["pga"].value == 50
    assert scores["koos12_summary"].value == pytest.approx(75.0)

    assert enter(browser, treated, m3, M3_DATE, m3_answers()).status_int == 302
    scores = scores_of(db, m3)
    assert scores["koos_pain"].value == pytest.approx(100.0)
    assert scores["womac_function_norm"].value == pytest.approx(25.0)  # 17 / 68 x 100
    db.expire_all()
    saved = db.get(Visit, m3.id)
    assert saved.status == "done"
    assert saved.visit_date == M3_DATE
    assert not saved.out_of_window

    page = unescape(browser.get(f"/patients/{treated.id}").text)
    # VAS 60 -> 20: change -40.0, relative -66.7 %, MCII (>= 19.9 mm) and PASS (<= 32.3 mm).
    assert "-40.0 (-66.7 %) better" in page
    # WOMAC function 0-100: 50 -> 25: -25.0 (-50.0 %); KOOS pain 75 -> 100: +25.0 (+33.3 %).
    assert "-25.0 (-50.0 %) better" in page
    assert "+25.0 (+33.3 %) better" in page
    for text in ("MCII: yes", "PASS: yes", "MIC: yes", "Responder",
                 "high improvement in pain and function", "75.0", "100.0"):
        assert text in page


def test_partial_koos_is_scored_by_missing_item_rule(browser, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    koos = all_items("koos", None)
    koos.update({"P1": 2, "P2": 2, "P3": 2, "P4": 2})  # 4 of 9 pain items: fewer than 5
    koos.update({f"S{n}": 1 for n in range(1, 5)})  # 4 of 7 symptoms: enough
    # 34 of 42 KOOS items unanswered: the save asks for confirmation first.
    refused = enter(browser, treated, visit, BASELINE_DATE, {"koos": koos})
    assert refused.status_int == 422
    assert "KOOS: 34 of 42 items unanswered" in unescape(refused.text)
    confirmed = fill(form_for(refused, field="visit_date"), {"confirm_incomplete": True})
    assert submit(confirmed).status_int == 302
    scores = scores_of(db, visit)
    assert scores["koos_pain"].value is None
    assert scores["koos_pain"].reason == ("KOOS Pain: 5 of 9 items missing; at least 5 "
                                          "answered are needed")
    assert scores["koos_symptoms"].value == pytest.approx(75.0)
    db.expire_all()
    assert set(db.scalars(select(InstrumentResponse.instrument)
                          .where(InstrumentResponse.visit_id == visit.id))) == {"koos"}
    html = unescape(browser.get(visit_url(treated, visit)).text)
    assert "not scorable</strong> — KOOS Pain: 5 of 9 items missing" in html
    assert "KOOS: <strong>34</strong> of 42 items missing" in html
    page = unescape(browser.get(f"/patients/{treated.id}").text)
    assert "not scorable" in page
    assert "at least 5 answered are needed" in page


VISIT_DATE_RANGE = "Visit date must be between 2000-01-01 and today (2026-06-01)."


@pytest.mark.parametrize(
    ("visit_code", "visit_date", "answers", "message"),
    [
        ("baseline", BASELINE_DATE, {"vas": {"VAS": "101"}}, "101' is not a whole number from "
                                                             "0 to 100 mm"),
        ("baseline", BASELINE_DATE, {"vas": {"VAS": "-1"}}, "is not a whole number"),
        ("baseline", BASELINE_DATE, {"vas": {"VAS": "1e308"}}, "is not a whole number"),
        ("baseline", BASELINE_DATE, {"pga": {"PGA": "50.5"}}, "is not a whole number"),
        ("baseline", BASELINE_DATE, {"koos": {"S1": "7"}}, "'7' is not one of 0, 1, 2, 3, 4"),
        ("baseline", BASELINE_DATE, {"womac": {"P1": "x"}}, "'x' is not one of 0, 1, 2, 3, 4"),
        ("baseline", "2026-06-02", {"vas": {"VAS": "50"}}, VISIT_DATE_RANGE),
        ("baseline", "0001-12-20", {"vas": {"VAS": "50"}}, VISIT_DATE_RANGE),
        ("baseline", "", {"vas": {"VAS": "50"}}, "Enter the visit date"),
        ("baseline", "2026-01-02", {"vas": {"VAS": "50"}},
         "A baseline visit must be on or before the treatment date (day 0, 2026-01-01); "
         "2026-01-02 is after it."),
        ("m3", "2025-12-31", {"vas": {"VAS": "50"}}, "A follow-up visit cannot be before the "
                                                     "treatment date (2026-01-01)."),
    ],
)
def test_bad_visit_input_saves_nothing_and_keeps_typed_values(
        browser, db, treated, clinician, visit_code, visit_date, answers, message):
    visit = schedule(db, treated)[visit_code]
    response = enter(browser, treated, visit, visit_date, answers,
                     **{"koos-P9": "3"})  # a valid answer typed alongside: must be kept
    html = unescape(response.text)
    assert response.status_int == 422
    assert message in html
    assert "Nothing was saved" in html
    again = form_for(response, field="visit_date")
    assert again["koos-P9"].value == "3"
    assert again["visit_date"].value == str(visit_date)
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"
    assert db.scalar(select(InstrumentResponse).where(InstrumentResponse.visit_id == visit.id)) \
        is None


def test_baseline_on_day_0_is_the_reference_a_later_one_is_refused(browser, db, treated,
                                                                   clinician):
    visits = schedule(db, treated)
    late = enter(browser, treated, visits["baseline"], "2026-01-15", {"vas": {"VAS": 70}})
    assert late.status_int == 422
    assert "A baseline visit must be on or before the treatment date" in unescape(late.text)
    # Corrected on the re-rendered form (answers kept): day 0 itself is allowed.
    again = fill(form_for(late, field="visit_date"), {"visit_date": "2026-01-01"})
    assert again["vas-VAS"].value == "70"
    assert submit(again).status_int == 302
    assert enter(browser, treated, visits["m3"], M3_DATE, {"vas": {"VAS": 30}}).status_int == 302
    page = unescape(browser.get(f"/patients/{treated.id}").text)
    assert "2026-01-01 · baseline" in page
    assert "-40.0 (-57.1 %) better" in page  # 70 -> 30 against the day-0 baseline


def test_visit_without_any_answer_is_refused(browser, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    response = enter(browser, treated, visit, BASELINE_DATE, {"vas": {"VAS": ""}})
    assert response.status_int == 422
    assert "Record at least one answer" in response.text
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"


def test_visit_outside_window_is_saved_and_flagged(browser, db, treated, clinician):
    visit = schedule(db, treated)["m3"]
    late = date(2026, 5, 20)  # window closes 2026-05-01
    response = enter(browser, treated, visit, late, {"vas": {"VAS": 30}})
    assert response.status_int == 302
    db.expire_all()
    saved = db.get(Visit, visit.id)
    assert saved.status == "done"
    assert saved.out_of_window is True
    assert "outside the window" in response.follow().text
    assert "Done out of window" in browser.get(f"/patients/{treated.id}").text


def test_editing_saved_answers_needs_a_reason(browser, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    assert enter(browser, treated, visit, BASELINE_DATE, {"vas": {"VAS": 60}}).status_int == 302
    # The saved visit is shown with its answers; adding a missing answer needs no reason.
    form = visit_form(browser, treated, visit)
    assert (form["visit_date"].value, form["vas-VAS"].value) == (str(BASELINE_DATE), "60")
    assert submit(fill(form, {"pga-PGA": "40"})).status_int == 302
    refused = submit(fill(visit_form(browser, treated, visit), {"vas-VAS": "65"}))
    assert refused.status_int == 422
    assert "give a reason" in unescape(refused.text)
    assert scores_of(db, visit)["vas_pain"].value == 60

    again = form_for(refused, field="visit_date")
    assert (again["vas-VAS"].value, again["pga-PGA"].value) == ("65", "40")
    again["reason"] = "Transcription error: patient marked 65 mm"
    assert submit(again).status_int == 302
    assert scores_of(db, visit)["vas_pain"].value == 65
    audit = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "instrument_response",
                                               AuditEvent.field == "answers.VAS"))
    assert (audit.old_value, audit.new_value) == ("60", "65")
    assert audit.reason == "Transcription error: patient marked 65 mm"


def test_concurrent_edit_is_refused_with_409(app, browser, db, treated, clinician, make_user,
                                             site_a):
    visit = schedule(db, treated)["baseline"]
    other = webtest.TestApp(app)
    sign_in(other, make_user("clinician", sites=[site_a]).email)
    mine = fill(visit_form(browser, treated, visit),  # both open the form
                {"visit_date": str(BASELINE_DATE), "vas-VAS": "55"})
    theirs = fill(visit_form(other, treated, visit),
                  {"visit_date": str(BASELINE_DATE), "vas-VAS": "80"})
    assert submit(mine).status_int == 302
    second = submit(theirs)
    html = unescape(second.text)
    assert second.status_int == 409
    assert "saved by someone else since you opened it" in html
    assert form_for(second, field="visit_date")["vas-VAS"].value == "55"  # theirs is shown
    assert scores_of(db, visit)["vas_pain"].value == 55


def unscheduled(db, patient) -> list[Visit]:
    db.expire_all()
    return list(db.scalars(select(Visit).where(Visit.patient_id == patient.id,
                                               Visit.timepoint_id.is_(None))))


def test_unscheduled_visit(browser, db, treated, clinician):
    page = browser.get(f"/patients/{treated.id}")
    response = submit(form_for(page, action="/visits/unscheduled"))
    assert response.status_int == 302
    [visit] = unscheduled(db, treated)
    assert response.headers["Location"].endswith(f"/visits/{visit.id}")
    saved = enter(browser, treated, visit, date(2026, 2, 10), {"vas": {"VAS": 45}})
    assert saved.status_int == 302
    db.expire_all()
    assert db.get(Visit, visit.id).out_of_window is False
    assert "Unscheduled" in browser.get(f"/patients/{treated.id}").text


def test_pressing_add_unscheduled_visit_twice_adds_one_visit(browser, db, treated, clinician):
    """A double click sends the same rendered form twice: the second submission leads to
    the visit the first created; a fresh page's button adds a new one."""
    page = browser.get(f"/patients/{treated.id}")
    form = form_for(page, action="/visits/unscheduled")
    assert form["request_token"].value
    first, second = submit(form), submit(form)
    assert (first.status_int, second.status_int) == (302, 302)
    [visit] = unscheduled(db, treated)
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Location"].endswith(f"/visits/{visit.id}")
    assert "already pressed" in second.follow().text
    fresh = form_for(browser.get(f"/patients/{treated.id}"), action="/visits/unscheduled")
    assert fresh["request_token"].value != form["request_token"].value
    assert submit(fresh).status_int == 302
    assert len(unscheduled(db, treated)) == 2


@pytest.mark.parametrize("token", [None, "", "short", "x" * 65, "bad token with spaces!"])
def test_add_unscheduled_visit_without_a_valid_key_is_refused(browser, db, treated, clinician,
                                                              token):
    form = form_for(browser.get(f"/patients/{treated.id}"), action="/visits/unscheduled")
    fields = [(name, value) for name, value in form.submit_fields() if name != "request_token"]
    if token is not None:
        fields.append(("request_token", token))
    response = browser.post(f"/patients/{treated.id}/visits/unscheduled", fields,
                            expect_errors=True)
    assert response.status_int == 400
    assert "request_token" in response.text
    assert db.scalar(select(func.count()).select_from(Visit)
                     .where(Visit.patient_id == treated.id, Visit.timepoint_id.is_(None))) == 0


def test_a_key_from_another_patients_page_adds_a_visit_to_this_patient_only(
        browser, db, site_a, make_patient, treated, clinician):
    other = make_patient(site_a, treatment_date=date(2026, 1, 1))
    form = form_for(browser.get(f"/patients/{treated.id}"), action="/visits/unscheduled")
    assert submit(form).status_int == 302
    fields = dict(form.submit_fields())
    assert browser.post(f"/patients/{other.id}/visits/unscheduled", fields).status_int == 302
    assert len(unscheduled(db, treated)) == 1
    assert len(unscheduled(db, other)) == 1
