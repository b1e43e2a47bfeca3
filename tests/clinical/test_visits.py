"""Visit entry: item-by-item answers, scores from scoring/, dates, edits, concurrency."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from sqlalchemy import select

from registry.models import AuditEvent, InstrumentResponse, ScoreValue, Visit
from tests.clinical.helpers import all_items, visit_data
from tests.fixtures.accounts import Auth

BASELINE_DATE = date(2025, 12, 20)  # window 2025-11-02 .. 2026-01-01 (treated 2026-01-01)
M3_DATE = date(2026, 4, 1)  # window 2026-03-17 .. 2026-05-01


def schedule(db, patient) -> dict[str, Visit]:
    db.expire_all()
    visits = db.scalars(select(Visit).where(Visit.patient_id == patient.id))
    return {visit.timepoint.code: visit for visit in visits}


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


def post_visit(client, patient, visit, data):
    return client.post(f"/patients/{patient.id}/visits/{visit.id}", data=data)


def test_visit_form_is_item_by_item_and_keyboard_ready(client, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    response = client.get(f"/patients/{treated.id}/visits/{visit.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.count('<fieldset class="item"') == 24 + 42
    assert "<legend>Symptoms (7 items)</legend>" in html
    assert "<legend>Function in daily living (17 items)</legend>" in html
    # S4 runs the other way: "Always" is the good answer, coded 0.
    assert '<input type="radio" name="koos-S4" id="koos-S4-0" value="0">' in html
    assert '<label for="koos-S4-0"><span class="code">0</span> Always</label>' in html
    assert '<label for="vas-VAS">' in html
    assert 'name="version" type="hidden" value="1"' in html or 'value="1"' in html
    assert "KOOS: <strong>42</strong> of 42 items missing" in html
    assert "clinical-visit.js" in html
    assert "<script>" not in html
    script = client.get("/static/clinical-visit.js")
    assert script.status_code == 200
    script.close()


def test_full_baseline_and_three_month_visit_scores(client, db, treated, clinician):
    visits = schedule(db, treated)
    baseline, m3 = visits["baseline"], visits["m3"]
    response = post_visit(client, treated, baseline,
                          visit_data(BASELINE_DATE, baseline_answers(), version=baseline.version))
    assert response.status_code == 302, unescape(response.get_data(as_text=True))[:3000]
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

    db.expire_all()
    m3 = db.get(Visit, m3.id)
    assert post_visit(client, treated, m3, visit_data(M3_DATE, m3_answers(),
                                                      version=m3.version)).status_code == 302
    scores = scores_of(db, m3)
    assert scores["koos_pain"].value == pytest.approx(100.0)
    assert scores["womac_function_norm"].value == pytest.approx(25.0)  # 17 / 68 x 100
    db.expire_all()
    saved = db.get(Visit, m3.id)
    assert saved.status == "done"
    assert saved.visit_date == M3_DATE
    assert not saved.out_of_window

    page = unescape(client.get(f"/patients/{treated.id}").get_data(as_text=True))
    # VAS 60 -> 20: change -40.0, relative -66.7 %, MCII (>= 19.9 mm) and PASS (<= 32.3 mm).
    assert "-40.0 (-66.7 %) better" in page
    # WOMAC function 0-100: 50 -> 25: -25.0 (-50.0 %); KOOS pain 75 -> 100: +25.0 (+33.3 %).
    assert "-25.0 (-50.0 %) better" in page
    assert "+25.0 (+33.3 %) better" in page
    assert "MCII: yes" in page
    assert "PASS: yes" in page
    assert "MIC: yes" in page
    assert "Responder" in page
    assert "high improvement in pain and function" in page
    assert "75.0" in page
    assert "100.0" in page


def test_partial_koos_is_scored_by_missing_item_rule(client, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    koos = all_items("koos", None)
    koos.update({"P1": 2, "P2": 2, "P3": 2, "P4": 2})  # 4 of 9 pain items: fewer than 5
    koos.update({f"S{n}": 1 for n in range(1, 5)})  # 4 of 7 symptoms: enough
    response = post_visit(client, treated, visit, visit_data(BASELINE_DATE, {"koos": koos},
                                                             version=visit.version))
    assert response.status_code == 302
    scores = scores_of(db, visit)
    assert scores["koos_pain"].value is None
    assert scores["koos_pain"].reason == ("KOOS Pain: 5 of 9 items missing; at least 5 "
                                          "answered are needed")
    assert scores["koos_symptoms"].value == pytest.approx(75.0)
    db.expire_all()
    assert set(db.scalars(select(InstrumentResponse.instrument)
                          .where(InstrumentResponse.visit_id == visit.id))) == {"koos"}
    html = unescape(client.get(f"/patients/{treated.id}/visits/{visit.id}")
                    .get_data(as_text=True))
    assert "not scorable</strong> — KOOS Pain: 5 of 9 items missing" in html
    assert "KOOS: <strong>34</strong> of 42 items missing" in html
    page = unescape(client.get(f"/patients/{treated.id}").get_data(as_text=True))
    assert "not scorable" in page
    assert "at least 5 answered are needed" in page


@pytest.mark.parametrize(
    ("visit_code", "visit_date", "answers", "message"),
    [
        ("baseline", BASELINE_DATE, {"vas": {"VAS": "101"}}, "101' is not a whole number from "
                                                             "0 to 100 mm"),
        ("baseline", BASELINE_DATE, {"vas": {"VAS": "-1"}}, "is not a whole number"),
        ("baseline", BASELINE_DATE, {"pga": {"PGA": "50.5"}}, "is not a whole number"),
        ("baseline", BASELINE_DATE, {"koos": {"S1": "7"}}, "'7' is not one of 0, 1, 2, 3, 4"),
        ("baseline", BASELINE_DATE, {"womac": {"P1": "x"}}, "'x' is not one of 0, 1, 2, 3, 4"),
        ("baseline", "2026-06-02", {"vas": {"VAS": "50"}}, "The date cannot be in the future"),
        ("baseline", "", {"vas": {"VAS": "50"}}, "Enter the visit date"),
        ("m3", "2025-12-31", {"vas": {"VAS": "50"}}, "A follow-up visit cannot be before the "
                                                     "treatment date (2026-01-01)."),
    ],
)
def test_bad_visit_input_saves_nothing_and_keeps_typed_values(
        client, db, treated, clinician, visit_code, visit_date, answers, message):
    visit = schedule(db, treated)[visit_code]
    data = visit_data(visit_date, answers, version=visit.version)
    data["koos-P9"] = "3"  # a valid answer typed alongside: must be kept on the page
    response = post_visit(client, treated, visit, data)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert message in html
    assert "Nothing was saved" in html
    assert 'id="koos-P9-3" value="3" checked' in html
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"
    assert db.scalar(select(InstrumentResponse).where(InstrumentResponse.visit_id == visit.id)) \
        is None


def test_visit_without_any_answer_is_refused(client, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    response = post_visit(client, treated, visit, visit_data(BASELINE_DATE, {"vas": {"VAS": ""}},
                                                             version=visit.version))
    assert response.status_code == 422
    assert "Record at least one answer" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Visit, visit.id).status == "scheduled"


def test_visit_outside_window_is_saved_and_flagged(client, db, treated, clinician):
    visit = schedule(db, treated)["m3"]
    late = date(2026, 5, 20)  # window closes 2026-05-01
    response = post_visit(client, treated, visit, visit_data(late, {"vas": {"VAS": 30}},
                                                             version=visit.version))
    assert response.status_code == 302
    db.expire_all()
    saved = db.get(Visit, visit.id)
    assert saved.status == "done"
    assert saved.out_of_window is True
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "outside the window" in followed
    page = client.get(f"/patients/{treated.id}").get_data(as_text=True)
    assert "outside window" in page


def test_editing_saved_answers_needs_a_reason(client, db, treated, clinician):
    visit = schedule(db, treated)["baseline"]
    post_visit(client, treated, visit, visit_data(BASELINE_DATE, {"vas": {"VAS": 60}},
                                                  version=visit.version))
    db.expire_all()
    version = db.get(Visit, visit.id).version
    # Adding a previously missing answer is not a correction: no reason needed.
    added = post_visit(client, treated, visit, visit_data(
        BASELINE_DATE, {"vas": {"VAS": 60}, "pga": {"PGA": 40}}, version=version))
    assert added.status_code == 302
    db.expire_all()
    version = db.get(Visit, visit.id).version
    changed = visit_data(BASELINE_DATE, {"vas": {"VAS": 65}, "pga": {"PGA": 40}},
                         version=version)
    refused = post_visit(client, treated, visit, changed)
    assert refused.status_code == 422
    assert "give a reason" in unescape(refused.get_data(as_text=True))
    assert scores_of(db, visit)["vas_pain"].value == 60

    changed["reason"] = "Transcription error: patient marked 65 mm"
    assert post_visit(client, treated, visit, changed).status_code == 302
    assert scores_of(db, visit)["vas_pain"].value == 65
    audit = db.scalar(select(AuditEvent).where(AuditEvent.entity_type == "instrument_response",
                                               AuditEvent.field == "answers.VAS"))
    assert (audit.old_value, audit.new_value) == ("60", "65")
    assert audit.reason == "Transcription error: patient marked 65 mm"


def test_concurrent_edit_is_refused_with_409(app, client, db, treated, clinician, make_user,
                                             site_a):
    visit = schedule(db, treated)["baseline"]
    other = app.test_client()
    Auth(other, make_user).login("clinician", sites=[site_a])
    opened_version = visit.version
    for browser in (client, other):  # both open the form
        assert browser.get(f"/patients/{treated.id}/visits/{visit.id}").status_code == 200
    first = post_visit(client, treated, visit, visit_data(BASELINE_DATE, {"vas": {"VAS": 55}},
                                                          version=opened_version))
    assert first.status_code == 302
    second = post_visit(other, treated, visit, visit_data(BASELINE_DATE, {"vas": {"VAS": 80}},
                                                          version=opened_version))
    html = unescape(second.get_data(as_text=True))
    assert second.status_code == 409
    assert "saved by someone else since you opened it" in html
    assert 'value="55"' in html  # the first person's saved value is shown
    assert scores_of(db, visit)["vas_pain"].value == 55


def test_unscheduled_visit(client, db, treated, clinician):
    response = client.post(f"/patients/{treated.id}/visits/unscheduled")
    assert response.status_code == 302
    db.expire_all()
    visit = db.scalar(select(Visit).where(Visit.patient_id == treated.id,
                                          Visit.timepoint_id.is_(None)))
    assert response.headers["Location"].endswith(f"/visits/{visit.id}")
    saved = post_visit(client, treated, visit, visit_data(date(2026, 2, 10), {"vas": {"VAS": 45}},
                                                          version=visit.version))
    assert saved.status_code == 302
    db.expire_all()
    assert db.get(Visit, visit.id).out_of_window is False
    assert "Unscheduled" in client.get(f"/patients/{treated.id}").get_data(as_text=True)
