"""The patient's pages at /r/<token>, used as a browser would (WebTest, CSRF on): start,
one section per screen, partial saves, review, submit; language, skip, messages."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from registry.models import InstrumentResponse, ScoreValue, SelfReport, Visit
from tests.selfreport.patient_pages import (
    answer_all,
    identifying,
    issue,
    press,
    step_form,
    whole_journey,
)


def _report(db, visit) -> SelfReport:
    db.expire_all()
    return db.scalars(select(SelfReport).where(SelfReport.visit_id == visit.id)).one()


def test_the_whole_form_from_start_to_scores(app, db, browser, patient, open_visit):
    token = issue(app, db, open_visit)
    pages = whole_journey(browser, token)
    review = pages[-1]
    report = _report(db, open_visit)
    assert len(pages) == len(report.instruments) + 2  # start, each section, review
    assert review.status_int == 200
    assert "Check your answers" in review.text
    assert "Not answered" not in review.text
    thanks = review.forms[len(review.forms) - 1].submit()
    assert thanks.status_int == 200  # the thank-you page at once
    assert "Thank you" in thanks.text
    assert "<form" not in thanks.text
    db.expire_all()
    visit = db.get(Visit, open_visit.id)
    assert visit.collection_mode == "self_link"
    assert {response.instrument for response in visit.responses} == set(report.instruments)
    assert db.scalar(select(func.count()).select_from(ScoreValue).where(
        ScoreValue.visit_id == visit.id, ScoreValue.value.is_not(None))) >= len(
            report.instruments)
    assert _report(db, open_visit).state == "submitted"
    assert report.language == "en"


def test_each_step_is_saved_and_a_reopened_link_shows_the_answers(app, db, browser,
                                                                  open_visit):
    token = issue(app, db, open_visit)
    first = browser.get(f"/r/{token}").click(href=f"/r/{token}/1")
    form = step_form(first)
    given = answer_all(form, line="63", choice_index=1)
    assert press(form).status_int == 303
    # The phone is closed: a new browser (no cookies) opens the same link.
    from tests.fixtures.webtest import webtest

    again = webtest.TestApp(app)
    start = again.get(f"/r/{token}")
    assert "Continue" in start.text
    resumed = again.get(f"/r/{token}/1")
    form = step_form(resumed)
    for name, value in given.items():
        assert form[name].value == value
    assert _report(db, open_visit).started_at is not None


def test_invalid_answers_keep_the_valid_ones_and_say_what_to_fix(app, db, browser,
                                                                 open_visit):
    token = issue(app, db, open_visit)
    page = browser.get(f"/r/{token}").click(href=f"/r/{token}/1")  # the VAS line
    line_field = next(name for name, fields in step_form(page).fields.items()
                      if fields[0].attrs.get("type") == "number")
    form = step_form(page)
    answer_all(form)
    form[line_field] = "250"
    response = press(form)
    assert response.status_int == 422
    assert 'class="sr-error-summary"' in response.text
    assert 'role="alert"' in response.text
    field_id = re.search(rf'id="([^"]+)" name="{re.escape(line_field)}"', response.text)[1]
    assert f'aria-describedby="{field_id}-anchors {field_id}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "250" in response.text  # what the patient typed, shown again
    report = _report(db, open_visit)
    instrument, item = line_field.split(".")
    assert report.draft[instrument][item] is None  # the bad value is not stored
    assert report.started_at is not None  # but the save itself was kept, despite the 422


def test_messages_are_in_spanish_for_a_spanish_report(app, db, browser, patient, open_visit):
    patient.language = "es"
    db.flush()
    token = issue(app, db, open_visit)
    start = browser.get(f"/r/{token}")
    assert '<html lang="es">' in start.text
    page = start.click(href=f"/r/{token}/1")
    form = step_form(page)
    line_field = next((name for name, fields in form.fields.items()
                       if fields[0].attrs.get("type") == "number"), None)
    assert line_field is not None
    form[line_field] = "cien"
    response = press(form)
    assert response.status_int == 422
    # The service's message and the page's own words, in the patient's language.
    assert "Pregunta 1" in response.text
    assert "1 respuesta necesita su atención" in response.text
    assert "Question 1" not in response.text
    assert "Save and continue" not in response.text


def test_the_language_switch_changes_pages_and_report(app, db, browser, open_visit):
    token = issue(app, db, open_visit)
    start = browser.get(f"/r/{token}")
    switch = next(form for form in start.forms.values()
                  if form.action.endswith("/language"))
    response = switch.submit("language", value="es")
    assert response.status_int == 303
    page = response.follow()
    assert '<html lang="es">' in page.text
    assert _report(db, open_visit).language == "es"
    # From a section: the switch is part of the section's form, so answers are kept too.
    step = page.click(href=f"/r/{token}/1")
    form = step_form(step)
    given = answer_all(form)
    back = press(form, "language:en").follow()
    assert '<html lang="en">' in back.text
    assert back.request.path == f"/r/{token}/1"
    assert {name: step_form(back)[name].value for name in given} == given
    assert _report(db, open_visit).language == "en"


def test_skip_is_stored_and_shown_on_review(app, db, browser, open_visit):
    token = issue(app, db, open_visit)
    page = browser.get(f"/r/{token}").click(href=f"/r/{token}/1")
    form = step_form(page)
    first_question = next(name for name in form.fields if name.startswith("skip."))
    skipped = first_question.removeprefix("skip.")
    answer_all(form, skip=(skipped,))
    assert press(form).status_int == 303
    report = _report(db, open_visit)
    assert skipped in report.skipped
    review = browser.get(f"/r/{token}/review")
    assert "Skipped" in review.text


def test_thank_you_only_after_submission(app, db, browser, open_visit):
    token = issue(app, db, open_visit)
    review = whole_journey(browser, token)[-1]
    review.forms[len(review.forms) - 1].submit()
    for path in ("", "/1", "/review"):
        page = browser.get(f"/r/{token}{path}").maybe_follow()
        assert "Thank you" in page.text
        assert "<form" not in page.text
        assert 'type="radio"' not in page.text


def test_double_submit_saves_once_and_shows_the_same_page(app, db, browser, open_visit):
    token = issue(app, db, open_visit)
    review = whole_journey(browser, token)[-1]
    form = review.forms[len(review.forms) - 1]
    first = form.submit()
    second = form.submit()  # the same form again: a double click, or a second tab
    assert first.status_int == second.status_int == 200
    assert first.text == second.text
    db.expire_all()
    count = db.scalar(select(func.count()).select_from(InstrumentResponse).where(
        InstrumentResponse.visit_id == open_visit.id))
    assert count == len(_report(db, open_visit).instruments)


def test_nothing_identifying_on_any_page(app, db, browser, patient, open_visit):
    token = issue(app, db, open_visit)
    pages = whole_journey(browser, token)
    review = pages[-1]
    pages.append(review.forms[len(review.forms) - 1].submit())
    pages.append(browser.get("/r/" + "x" * 43, expect_errors=True))
    secrets = identifying(patient)
    for page in pages:
        for secret in secrets:
            assert secret not in page.text, (secret, page.request.path)
        assert "Clinic A" in page.text or page.status_int == 404


def test_the_pages_link_nowhere_else_and_send_private_headers(app, db, browser, open_visit):
    token = issue(app, db, open_visit)
    pages = whole_journey(browser, token)
    for page in pages:
        targets = re.findall(r'(?:href|action|src)="([^"]+)"', page.text)
        for target in targets:
            assert (target.startswith(f"/r/{token}") or target.startswith("/static/")
                    or target.startswith("#")), (target, page.request.path)
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "noindex" in page.headers["X-Robots-Tag"]
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        assert "<script>" not in page.text
        assert " style=" not in page.text
        assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None
        assert re.search(r"\son[a-z]+=", page.text) is None  # no inline event handlers


def test_templates_have_no_inline_script_or_style():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "templates" / "selfreport"
    for template in folder.glob("*.html"):
        text = template.read_text()
        assert "<style" not in text, template.name
        assert " style=" not in text, template.name
        assert re.search(r"<script(?![^>]*\bsrc=)", text) is None, template.name
        assert re.search(r"\son[a-z]+=", text) is None, template.name


def test_the_line_starts_unmarked_with_a_number_alternative(app, db, browser, open_visit):
    token = issue(app, db, open_visit)
    page = browser.get(f"/r/{token}").click(href=f"/r/{token}/1")
    slot = re.search(r'<div class="sr-slider-slot"[^>]*>', page.text)
    assert slot is not None, "the first section is the VAS line"
    number = re.search(r'<input type="number"[^>]*>', page.text)[0]
    assert 'value=""' in number  # no preset answer
    label_for = re.search(r'id="([^"]+)"', number)[1]
    assert f'<label for="{label_for}">' in page.text
    assert "aria-valuenow" not in page.text  # the slider (JS) sets it only when touched
