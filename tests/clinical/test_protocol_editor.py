"""The protocol editor (admins): instruments per timepoint and the study's threshold set,
saved through the rendered form, audited with a reason, optimistically locked; and the
chosen threshold set deciding the flags on the patient page."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

import scoring
from registry.models import AuditEvent, Protocol, Timepoint
from tests.clinical.browser import fill, form_for, open_form, submit
from tests.clinical.helpers import all_items, answer_fields

BASELINE_DATE = date(2025, 12, 20)
M3_DATE = date(2026, 4, 1)


@pytest.fixture
def admin(as_user, site_a):
    return as_user("admin", sites=[site_a])


@pytest.fixture
def protocol(db, treated) -> Protocol:
    db.expire_all()
    return db.get(Protocol, treated.protocol_id)


def timepoints(protocol: Protocol) -> dict[str, Timepoint]:
    return {timepoint.code: timepoint for timepoint in protocol.timepoints}


def editor(browser, protocol: Protocol):
    return open_form(browser, f"/admin/protocols/{protocol.id}", field="reason")


def test_list_and_editor_follow_the_catalogue(browser, protocol, admin):
    listing = browser.get("/admin/protocols", status=200)
    assert protocol.name in listing.text
    assert 'href="/admin/protocols"' in listing.text  # in the navigation
    page = browser.get(f"/admin/protocols/{protocol.id}", status=200)
    form = form_for(page, field="reason")
    for timepoint in protocol.timepoints:
        assert f"<legend>{timepoint.name}</legend>" in page.text
        offered = [box._value for box in form.fields[f"timepoint_{timepoint.id}"]]
        followup_only = {i.code for i in scoring.recordable_instruments()
                         if i.timepoints == "followup"}
        expected = [i.code for i in scoring.recordable_instruments()
                    if not (timepoint.is_baseline and i.code in followup_only)]
        assert offered == expected
        ticked = {box._value for box in form.fields[f"timepoint_{timepoint.id}"] if box.checked}
        assert ticked == set(timepoint.instruments)
    for code, chosen in scoring.THRESHOLD_SETS.items():
        assert f'value="{code}"' in page.text
        assert chosen.label in page.text
    assert form["threshold_set"].value == scoring.DEFAULT_THRESHOLD_SET


def test_save_changes_instruments_and_thresholds_with_an_audited_reason(
        browser, db, protocol, admin):
    m3 = timepoints(protocol)["m3"]
    version = protocol.version
    form = editor(browser, protocol)
    fill(form, {f"timepoint_{m3.id}": ["nrs", "koos", "grc"],
                "threshold_set": "tubach2005-nonsurgical2025",
                "reason": "ICHOM pain scale added at 3 months"})
    response = submit(form)
    assert response.status_int == 302, response.text[:2000]
    db.expire_all()
    saved = db.get(Protocol, protocol.id)
    assert timepoints(saved)["m3"].instruments == ["nrs", "koos", "grc"]  # catalogue order
    assert saved.threshold_set == "tubach2005-nonsurgical2025"
    assert saved.version == version + 1
    audit = db.scalars(select(AuditEvent).where(
        AuditEvent.reason == "ICHOM pain scale added at 3 months")).all()
    assert {(event.entity_type, event.field) for event in audit} >= {
        ("timepoint", "instruments"), ("protocol", "threshold_set")}


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"reason": ""}, "reason", "Give a reason"),
    ({"threshold_set": "made-up"}, "threshold_set", "Not a valid choice"),
])
def test_bad_input_is_refused_with_a_named_field(browser, db, protocol, admin, change, field,
                                                 message):
    form = editor(browser, protocol)
    fill(form, {"reason": "trying", **change})
    response = submit(form)
    assert response.status_int == 422
    assert message in response.text
    assert f'href="#{field}"' in response.text
    db.expire_all()
    assert db.get(Protocol, protocol.id).version == protocol.version


def test_a_timepoint_needs_an_instrument(browser, db, protocol, admin):
    m3 = timepoints(protocol)["m3"]
    form = editor(browser, protocol)
    fill(form, {f"timepoint_{m3.id}": [], "reason": "drop everything"})
    response = submit(form)
    assert response.status_int == 422
    assert "3 months: choose at least one instrument." in response.text
    db.expire_all()
    assert timepoints(db.get(Protocol, protocol.id))["m3"].instruments == m3.instruments


def test_a_stale_form_gets_409_and_saves_nothing(browser, db, protocol, admin):
    m3 = timepoints(protocol)["m3"]
    first, second = editor(browser, protocol), editor(browser, protocol)
    fill(first, {f"timepoint_{m3.id}": ["vas"], "reason": "first"})
    assert submit(first).status_int == 302
    fill(second, {f"timepoint_{m3.id}": ["pga"], "reason": "second"})
    response = submit(second)
    assert response.status_int == 409
    assert "changed by someone else" in response.text
    db.expire_all()
    assert timepoints(db.get(Protocol, protocol.id))["m3"].instruments == ["vas"]


def koos_answers(pain: dict[str, int], level: int) -> dict[str, dict]:
    answers = all_items("koos", level)
    answers.update(pain)
    return {"koos": answers}


def test_the_study_threshold_set_decides_the_flags(browser, db, treated, protocol, admin):
    visits = {visit.timepoint.code: visit for visit in treated.visits if visit.timepoint}
    # KOOS Pain 50 at baseline, 63.9 at 3 months: +13.9, a MIC under the 2025 non-surgical
    # set (11.3) but not under Monticone 2013 (16.7).
    later = {f"P{n}": 1 if n <= 5 else 2 for n in range(1, 10)}
    for code, visit_date, answers in (("baseline", BASELINE_DATE, koos_answers({}, 2)),
                                      ("m3", M3_DATE, koos_answers(later, 2))):
        url = f"/patients/{treated.id}/visits/{visits[code].id}"
        form = open_form(browser, url, field="visit_date")
        fill(form, {"visit_date": visit_date.isoformat(), **answer_fields(answers)})
        assert submit(form).status_int == 302

    def koos_pain_row() -> str:
        html = browser.get(f"/patients/{treated.id}").text
        start = html.index('<span class="score-label">KOOS Pain</span><br>')
        return html[start:html.index("</tr>", start)]

    assert "+13.9" in koos_pain_row()
    assert "MIC: no" in koos_pain_row()
    form = editor(browser, protocol)
    fill(form, {"threshold_set": "tubach2005-nonsurgical2025", "reason": "non-surgical study"})
    assert submit(form).status_int == 302
    assert "MIC: yes" in koos_pain_row()
    page = browser.get(f"/patients/{treated.id}").text
    assert scoring.threshold_set("tubach2005-nonsurgical2025").label in page


def test_answers_recorded_before_a_protocol_change_stay_on_the_form(browser, db, treated,
                                                                     protocol, admin):
    m3 = timepoints(protocol)["m3"]
    visit = next(v for v in treated.visits if v.timepoint_id == m3.id)
    url = f"/patients/{treated.id}/visits/{visit.id}"
    form = open_form(browser, url, field="visit_date")
    fill(form, {"visit_date": M3_DATE.isoformat(), "vas-VAS": "30", "pga-PGA": "20"})
    assert submit(form).status_int == 302
    form = editor(browser, protocol)
    fill(form, {f"timepoint_{m3.id}": ["nrs"], "reason": "pain scale switched to NRS"})
    assert submit(form).status_int == 302
    page = browser.get(url, status=200)
    for code in ("nrs", "vas", "pga"):
        assert f'data-instrument="{code}"' in page.text
    assert 'data-instrument="koos"' not in page.text
    form = form_for(page, field="visit_date")
    assert form["vas-VAS"].value == "30"
    fill(form, {"nrs-NRS": "3"})
    assert submit(form).status_int == 302  # adding an answer needs no reason
