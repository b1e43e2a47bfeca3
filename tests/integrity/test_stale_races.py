"""Two people save the same record from the same page: one succeeds, the other gets 409.

For every edit form of a versioned record (``Versioned``: ``version_id_col``), two signed-in
users open the form (same version), change it differently and submit, through WebTest
with CSRF on, against a database whose commits are real:

- one after the other: the second form carries a stale version (``check_version``);
- at the same time, in two threads: the first request is held just after its UPDATE
  (it keeps the row lock) until the second is waiting — on PostgreSQL the second read
  the old version and its UPDATE waits on the row lock, then matches no row
  (``StaleDataError``, turned into 409 by ``registry.transactions``); on SQLite the
  second waits for the write lock (BEGIN IMMEDIATE) and then reads the new version.

Never a 500; the record keeps the first user's values and the audit trail holds one change.
A versioned model that is neither covered here nor listed as edited by no form fails
``test_every_versioned_record_has_a_race_case_or_a_reason``.  A double click on "Add an
unscheduled visit" (the same rendered form sent twice, one after the other and at once)
adds one visit.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.models import (
    AdverseEvent,
    AuditEvent,
    Base,
    CellProduct,
    Patient,
    ProductLot,
    Site,
    Treatment,
    Versioned,
    Visit,
)
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.webtest import sign_in, submit, webtest
from tests.integrity.helpers import (
    Hold,
    committed_app,
    engine_for,
    seed_edit_targets,
    seed_users,
)

TODAY = "2026-06-01"
FLASH = re.compile(r'<p class="flash[^"]*">([^<]*)</p>')  # cheaper than parsing the page


@dataclass(frozen=True)
class Edit:
    """One edit form: where it is, which record it changes, what each user types."""

    url: Callable[[dict[str, int]], str]
    posts_to: str  # a fragment of the form's action ("" : the page itself)
    model: type[Base]
    record: str  # key of the record's id in the seeded ids
    field: str  # the column whose change is checked in the record and the audit trail
    first: dict[str, str]
    second: dict[str, str]
    expected: Callable[[dict[str, int]], Any]  # the first user's value of ``field``
    # The second, stale submission may also be answered by a redirect whose page says
    # this (the form carries no version: "mark reviewed" twice is the same decision).
    also_fine: str | None = None


EDITS = {
    "withdrawal": Edit(
        lambda ids: f"/followup/patients/{ids['patient']}/withdraw", "", Patient, "patient",
        "withdrawal_reason", {"reason": "lost_to_follow_up", "note": "first"},
        {"reason": "consent_withdrawn", "note": "second"}, lambda ids: "lost_to_follow_up"),
    "visit entry": Edit(
        lambda ids: f"/patients/{ids['patient']}/visits/{ids['visit']}", "", Visit, "visit",
        "visit_date", {"visit_date": "2026-02-10", "vas-VAS": "30"},
        {"visit_date": "2026-02-12", "vas-VAS": "70"}, lambda ids: date(2026, 2, 10)),
    "visit not applicable": Edit(
        lambda ids: f"/followup/visits/{ids['visit']}", "/not-applicable", Visit, "visit",
        "not_applicable_reason", {"reason": "moved abroad"}, {"reason": "had knee surgery"},
        lambda ids: "moved abroad"),
    "treatment correction": Edit(
        lambda ids: f"/patients/{ids['patient']}/treatment", "", Treatment, "treatment",
        "operator", {"operator": "Dr A", "reason": "typo A"},
        {"operator": "Dr B", "reason": "typo B"}, lambda ids: "Dr A"),
    "product edit": Edit(
        lambda ids: f"/lots/products/{ids['product']}", "", CellProduct, "product",
        "manufacturer", {"manufacturer": "Lab A", "reason": "was missing"},
        {"manufacturer": "Lab B", "reason": "was missing too"}, lambda ids: "Lab A"),
    "lot status": Edit(
        lambda ids: f"/lots/{ids['lot']}", "/status", ProductLot, "lot", "status_reason",
        {"status": "quarantined", "reason": "first: sterility pending"},
        {"status": "recalled", "reason": "second: manufacturer's notice"},
        lambda ids: "first: sterility pending"),
    "adverse event edit": Edit(
        lambda ids: f"/patients/{ids['patient']}/adverse-events/{ids['event']}", "",
        AdverseEvent, "event", "description", {"description": "effusion, aspirated",
                                               "reason": "more detail"},
        {"description": "effusion, resolved", "reason": "update"},
        lambda ids: "effusion, aspirated"),
    "adverse event review": Edit(
        lambda ids: f"/patients/{ids['patient']}", "/review", AdverseEvent, "event",
        "reviewed_by_id", {}, {}, lambda ids: ids["first_user"],
        also_fine="This event had already been reviewed."),
    "site edit": Edit(
        lambda ids: f"/admin/sites/{ids['site']}", "", Site, "site", "name",
        {"name": "Clinic renamed first"}, {"name": "Clinic renamed second"},
        lambda ids: "Clinic renamed first"),
}

# Versioned records that no form edits (so no two people can save them from one page).
NOT_EDITED_BY_A_FORM = {
    "patient_identity": "entered at enrolment; no page edits it",
    "index_knee": "entered at enrolment; no page edits it",
    "contact_attempt": "only ever added",
    "protocol": "set up by the registry, no page edits it",
    "timepoint": "set up by the registry, no page edits it",
    "cohort": "saved once, never edited",
    "instrument_response": "saved by the visit form (the 'visit entry' case)",
    "self_report": ("the patient's form, reached only by its link: its races (double "
                    "submission, two tabs, a review against a stale page) are tested in "
                    "tests/selfreport/test_service_concurrency.py and test_staff_review.py"),
}


def test_every_versioned_record_has_a_race_case_or_a_reason():
    versioned = {mapper.local_table.name for mapper in Base.registry.mappers
                 if issubclass(mapper.class_, Versioned)}
    covered = {edit.model.__tablename__ for edit in EDITS.values()}
    assert versioned == covered | set(NOT_EDITED_BY_A_FORM)


@pytest.fixture(scope="module")
def race_app(shared_database_url: str) -> Iterator[Flask]:
    application = committed_app(shared_database_url, WTF_CSRF_ENABLED=True, TODAY=TODAY)
    yield application
    application.extensions["registry.engine"].dispose()


@dataclass(frozen=True)
class People:
    """Two signed-in admins, each in a browser of their own (first, second)."""

    browsers: tuple[webtest.TestApp, webtest.TestApp]
    user_ids: list[int]


@pytest.fixture(scope="module")
def people(race_app: Flask, shared_database_url: str) -> People:
    emails = [f"race-{who}-{uuid.uuid4().hex[:8]}@example.org" for who in ("first", "second")]
    user_ids = seed_users(shared_database_url, "admin", emails, PASSWORD)
    browsers = (webtest.TestApp(race_app), webtest.TestApp(race_app))
    for browser, email in zip(browsers, emails, strict=True):
        sign_in(browser, email)
    return People(browsers, user_ids)


def open_twice(people: People, database_url: str, edit: Edit
               ) -> tuple[dict[str, int], list[webtest.forms.Form]]:
    """Seed the records, open the edit form in both browsers and type each user's values."""
    ids = {**seed_edit_targets(database_url, people.user_ids),
           "first_user": people.user_ids[0]}
    forms = []
    for browser, values in zip(people.browsers, (edit.first, edit.second), strict=True):
        page = browser.get(edit.url(ids))
        matching = [form for key, form in page.forms.items() if isinstance(key, int)
                    and form.method.lower() == "post" and form.action != "/logout"
                    and (edit.posts_to in form.action if edit.posts_to else not form.action)]
        # One form, or the same action offered twice (the patient page's serious-event panel
        # at the top and the adverse-event table both have "Mark reviewed").
        assert len({form.action for form in matching}) == 1, \
            f"{edit.url(ids)}: {[form.action for form in matching]}"
        for name, value in values.items():
            matching[0][name] = value
        forms.append(matching[0])
    return ids, forms


def answered(response: Any) -> str:
    """The answer as status (and, for a redirect, the flash on the page it leads to)."""
    if isinstance(response, BaseException):
        return f"500 {type(response).__name__}: {response}"
    if response.status_int in (301, 302, 303):
        page = response.follow(expect_errors=True)
        return f"{response.status_int} {' '.join(FLASH.findall(page.text))}"
    return str(response.status_int)


def assert_first_wins(database_url: str, edit: Edit, ids: dict[str, int],
                      first: str, second: str) -> None:
    assert first.startswith(("302", "303")), first
    assert second.startswith("409") or (edit.also_fine and edit.also_fine in second
                                         and second.startswith("302")), second
    with engine_for(database_url) as engine, Session(engine) as session:
        record = session.get(edit.model, ids[edit.record])
        assert getattr(record, edit.field) == edit.expected(ids)
        changes = session.scalars(select(AuditEvent.new_value).where(
            AuditEvent.entity_type == edit.model.__tablename__,
            AuditEvent.entity_id == str(ids[edit.record]),
            AuditEvent.field == edit.field)).all()
        assert changes == [capture.encode(edit.expected(ids))]


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_a_stale_form_is_refused_with_409(people, shared_database_url, edit):
    ids, forms = open_twice(people, shared_database_url, edit)
    first = answered(submit(forms[0]))
    second = answered(submit(forms[1]))
    assert_first_wins(shared_database_url, edit, ids, first, second)


def _in_thread(call: Callable[[], Any], results: dict[str, Any], key: str
               ) -> threading.Thread:
    def run() -> None:
        try:
            results[key] = call()
        except Exception as error:  # noqa: BLE001 - TESTING propagates a 500's cause
            results[key] = error

    thread = threading.Thread(target=run, name=f"race-{key}")
    thread.start()
    return thread


def overlapping(app: Flask, model: type[Base], first: Callable[[], Any],
                second: Callable[[], Any], on: str = "after_update") -> tuple[Any, Any]:
    """Run two requests so that the second starts while the first holds its write."""
    results: dict[str, Any] = {}
    with Hold(app, model, on=on) as hold:
        one = _in_thread(first, results, "first")
        while one.is_alive() and not hold.holding.wait(0.05):
            pass
        assert hold.holding.is_set(), f"the first save wrote nothing: {answered(results['first'])}"
        two = _in_thread(second, results, "second")
        assert hold.release_when_waiting(), "the second save never waited for the first"
        one.join(30)
        two.join(30)
    assert not one.is_alive()
    assert not two.is_alive()
    return results["first"], results["second"]


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_simultaneous_saves_give_one_success_and_one_409(race_app, people,
                                                         shared_database_url, edit):
    ids, forms = open_twice(people, shared_database_url, edit)
    first, second = overlapping(race_app, edit.model, lambda: submit(forms[0]),
                                lambda: submit(forms[1]))
    assert_first_wins(shared_database_url, edit, ids, answered(first), answered(second))


# --- a double click on "Add an unscheduled visit" -------------------------------------


def _unscheduled_button(people: People, database_url: str
                        ) -> tuple[dict[str, int], webtest.forms.Form]:
    ids = seed_edit_targets(database_url, people.user_ids)
    page = people.browsers[0].get(f"/patients/{ids['patient']}")
    forms = [form for key, form in page.forms.items() if isinstance(key, int)
             and form.action.endswith("/visits/unscheduled")]
    assert len(forms) == 1, forms
    return ids, forms[0]


def _again(form: webtest.forms.Form) -> Callable[[], Any]:
    """The same rendered form sent once more from the same browser session (a second
    click), through a client of its own so that two threads can send at once."""
    browser = form.response.test_app
    clicker = webtest.TestApp(browser.app)
    for cookie in browser.cookiejar:
        clicker.cookiejar.set_cookie(cookie)
    fields = form.submit_fields()
    return lambda: clicker.post(form.action, params=fields, content_type=form.enctype,
                                expect_errors=True)


def assert_one_unscheduled_visit(database_url: str, patient_id: int, first: Any,
                                 second: Any) -> None:
    answers = [answered(response) for response in (first, second)]
    assert all(answer.startswith("302") for answer in answers), answers
    with engine_for(database_url) as engine, Session(engine) as session:
        added = session.scalars(select(Visit.id).where(Visit.patient_id == patient_id,
                                                       Visit.timepoint_id.is_(None))).all()
    assert len(added) == 1, added
    assert first.location == second.location
    assert first.location.endswith(f"/visits/{added[0]}")


def test_a_double_click_adds_one_unscheduled_visit(people, shared_database_url):
    ids, form = _unscheduled_button(people, shared_database_url)
    first = submit(form)
    second = _again(form)()
    assert_one_unscheduled_visit(shared_database_url, ids["patient"], first, second)


def test_simultaneous_clicks_add_one_unscheduled_visit(race_app, people, shared_database_url):
    ids, form = _unscheduled_button(people, shared_database_url)
    first, second = overlapping(race_app, Visit, lambda: submit(form), _again(form),
                                on="after_insert")
    assert_one_unscheduled_visit(shared_database_url, ids["patient"], first, second)
