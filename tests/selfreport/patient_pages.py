"""Helpers for the patient's pages: issuing a link, answering a step as rendered."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from registry.models import Patient, Visit
from registry.selfreport import service
from tests.fixtures.webtest import webtest


def issue(app: Flask, db: Session, visit: Visit, channel: str = "link") -> str:
    """A new link to the visit's self-report; its token."""
    with app.test_request_context():
        _link, token = service.issue_link(db, visit, channel=channel, created_by_id=None)
    db.flush()
    return token


def step_form(page: webtest.TestResponse) -> webtest.forms.Form:
    """The section's form (the one that posts to the step's own address)."""
    return next(form for form in page.forms.values() if "go" in form.fields)


def answer_all(form: webtest.forms.Form, *, line: str = "40", choice_index: int = 0,
               skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Fill every question as a patient would: a number on lines, a box on the others;
    tick "skip" for the field names in ``skip``.  Returns field -> value given."""
    given: dict[str, str] = {}
    for name, fields in form.fields.items():
        if name.startswith("skip.") or name in {"csrf_token", "go"}:
            continue
        field = fields[0]
        if f"skip.{name}" in form.fields and name in skip:
            form[f"skip.{name}"] = True
            continue
        value = field.options[choice_index][0] if isinstance(field, webtest.forms.Radio) else line
        form[name] = value
        given[name] = value
    return given


def press(form: webtest.forms.Form, value: str = "next") -> webtest.TestResponse:
    """Press the form's button ``go=value`` (Save and continue / back / a language)."""
    return form.submit("go", value=value, expect_errors=True)


def identifying(patient: Patient) -> list[str]:
    """What must never appear on a patient's page: names, record number, birth date,
    study id, contact details."""
    identity = patient.identity
    birth = patient.birth_date
    return [identity.family_name, identity.given_name, identity.medical_record_number,
            patient.study_id, birth.isoformat(), birth.strftime("%d/%m/%Y"),
            birth.strftime("%d.%m.%Y"), identity.email, identity.phone]


def whole_journey(browser: webtest.TestApp, token: str, **answers: Any
                  ) -> list[webtest.TestResponse]:
    """Start, answer every section, review: every page seen, the review page last."""
    pages = [browser.get(f"/r/{token}")]
    page = pages[0].click(href=f"/r/{token}/1")
    while True:
        pages.append(page)
        form = step_form(page)
        answer_all(form, **answers)
        response = press(form)
        assert response.status_int == 303, response.text[:400]
        page = response.follow()
        if page.request.path.endswith("/review"):
            pages.append(page)
            return pages
