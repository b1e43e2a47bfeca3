"""Forms a person can read: no format hint the date picker contradicts, no internal codes,
a count that is not dressed as an error, cohort checkboxes beside their own labels, and a
forced password change that says why."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest

from registry import audit_capture as capture
from registry import vocabularies as vocab
from registry.models import AdverseEvent, Cohort, ContactAttempt
from tests.fixtures.webtest import sign_in, submit

# Codes that must never reach a page as text: those with an underscore (a label always
# differs) and the default protocol's timepoint codes.
CODES = sorted({code for vocabulary in (
    vocab.AE_CATEGORIES, vocab.AE_OUTCOMES, vocab.AE_ACTIONS, vocab.AE_SERIOUS_CRITERIA,
    vocab.CONTACT_OUTCOMES, vocab.COLLECTION_MODES, vocab.SELF_REPORT_STATES,
    vocab.WITHDRAWAL_REASONS, vocab.CO_INTERVENTIONS) for code in vocabulary if "_" in code}
    | {"w2_6", "m3", "m6_12"}, key=len, reverse=True)
CODE = re.compile(r"(?<![\w/.#-])(" + "|".join(map(re.escape, CODES)) + r")(?![\w/.-])")


def visible_text(page_html: str) -> str:
    """What a reader sees: no tags, attributes, scripts or styles."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page_html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", text))


@pytest.fixture
def clinic(db, site_a, make_patient, record_visit):
    """A treated patient with a done visit, an adverse event and a contact attempt."""
    patient = make_patient(site_a, treatment_date=date(2026, 1, 1))
    m3 = next(v for v in patient.visits if v.timepoint and v.timepoint.code == "m3")
    record_visit(m3, date(2026, 4, 1), {"vas": {"VAS": 30}})
    event = AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 3),
                         description="Knee swollen", category="local_pain", severity_grade=2,
                         serious=False, relatedness="possibly", outcome="resolved_sequelae",
                         resolution_date=date(2026, 1, 20), action_taken="aspiration")
    db.add_all([event, ContactAttempt(patient_id=patient.id, visit_id=m3.id,
                                      attempted_on=date(2026, 3, 20), method="phone",
                                      outcome="appointment_booked",
                                      appointment_date=date(2026, 4, 1))])
    db.commit()
    return patient, m3, event


def test_pages_show_labels_never_internal_codes(auth, client, site_a, clinic):
    patient, m3, event = clinic
    auth.login("coordinator", sites=[site_a])
    pages = ["/home", f"/patients/{patient.id}", f"/patients/{patient.id}/visits/{m3.id}",
             f"/followup/visits/{m3.id}", f"/patients/{patient.id}/adverse-events/{event.id}",
             f"/audit/patients/{patient.id}/history", f"/audit/visits/{m3.id}/history"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        text = visible_text(response.get_data(as_text=True))
        assert CODE.findall(text) == [], url
    history = visible_text(client.get(f"/audit/patients/{patient.id}/history")
                           .get_data(as_text=True))
    for label in ("Local pain", "Resolved with sequelae", "Joint aspiration",
                  "Appointment booked", "3 months visit"):
        assert label in history


def test_date_fields_carry_no_format_hint(auth, client, site_a, clinic):
    """The browser's date picker shows the date in the user's own format: a "YYYY-MM-DD"
    hint next to it would contradict it."""
    patient, m3, event = clinic
    auth.login("clinician", sites=[site_a])
    for url in ["/patients/new", f"/patients/{patient.id}/treatment",
                f"/patients/{patient.id}/visits/{m3.id}",
                f"/patients/{patient.id}/adverse-events/new",
                f"/patients/{patient.id}/adverse-events/{event.id}"]:
        page = client.get(url).get_data(as_text=True)
        assert 'type="date"' in page, url
        assert "YYYY" not in page, url


def test_the_cohort_count_is_not_styled_as_an_error(auth, client):
    auth.login("researcher")
    page = client.get("/research/").get_data(as_text=True)
    count = re.search(r'<p id="cohort-count"[^>]*>', page).group(0)
    assert "alert" not in count
    assert "error" not in count
    assert 'class="count-panel"' in count


def test_each_cohort_checkbox_sits_in_its_own_label(auth, client, site_a):
    auth.login("researcher")
    page = client.get("/research/").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" name="(\w+)" id="([\w-]+)"', page)
    assert len(boxes) > 10
    for _name, box_id in boxes:
        wrapped = re.search(rf'<label class="check" for="{re.escape(box_id)}"><input '
                            rf'type="checkbox" [^>]*id="{re.escape(box_id)}"[^>]*> [^<\s][^<]*'
                            r'</label>', page)
        assert wrapped, box_id
    response = client.get("/static/registry.css")
    css = response.get_data(as_text=True)
    response.close()
    # The filters' minimum width is for text boxes, not for a checkbox beside its label.
    assert ".filters input[type=checkbox], .filters input[type=radio] { min-width: 0; }" in css


def test_a_forced_password_change_says_why(browser, db, make_user):
    user = make_user("coordinator")
    with capture.reason(db, "account created by an administrator"):
        user.must_change_password = True
    db.commit()
    landed = sign_in(browser, user.email)
    assert landed.headers["Location"] == "/account/password"
    page = browser.get("/account/password")
    text = visible_text(page.text)
    assert "Choose your own password" in text
    assert ("Your administrator set a temporary password for your account: choose your own "
            "password before you continue.") in text
    assert '<label for="current_password">Temporary password (the one you signed in with)' \
        in page.text
    # Elsewhere the same page is a plain password change.
    with capture.reason(db, "test: password changed"):
        user.must_change_password = False
    db.commit()
    plain = browser.get("/account/password")
    assert "temporary password" not in plain.text.lower()
    assert submit(next(f for f in plain.forms.values() if "new_password" in f.fields)
                  ).status_int == 422  # nothing filled in: refused, as before


def test_a_saved_cohort_is_described_by_labels(auth, client, db):
    db.add(Cohort(name="Women, 3 months done", definition={
        "sex": ["female"], "timepoint": ["m3"], "cell_source": ["bmac"],
        "co_intervention": ["hyaluronic_acid"], "adverse_events": "serious"}))
    db.commit()
    auth.login("researcher")
    text = visible_text(client.get("/research/").get_data(as_text=True))
    for line in ("Sex: Female", "Cell source: Autologous bone-marrow aspirate concentrate",
                 "Co-interventions: Hyaluronic acid", "Timepoints completed: 3 months",
                 "Adverse events: Any serious adverse event"):
        assert line in text
    assert CODE.findall(text) == []
    assert "bmac" not in text
