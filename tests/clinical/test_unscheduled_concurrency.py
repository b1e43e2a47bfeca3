"""Two submissions of one rendered "Add an unscheduled visit" form at the same time (a
double click that reaches two server workers) add one visit, on a database whose commits
are real: the unique (patient, one-time key) decides, not the order of the requests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlalchemy import func, select

from registry.auth.services import create_user
from registry.clinical.services.visits import add_unscheduled_visit_once
from registry.db import get_session, writing
from registry.models import Patient, Site, Visit
from tests.clinical.browser import form_for, sign_in, webtest
from tests.fixtures.accounts import PASSWORD
from tests.integrity.helpers import committed_app, engine_for, seed

TREATED = date(2026, 1, 5)
PRESSES = 4


def _unscheduled(database_url: str, patient_id: int) -> list[int]:
    with engine_for(database_url) as engine, engine.connect() as connection:
        return list(connection.scalars(select(Visit.id).where(
            Visit.patient_id == patient_id, Visit.timepoint_id.is_(None))))


def _clinician(app, patient_id: int) -> str:
    with app.app_context():
        session = get_session()
        site = session.get(Site, session.get(Patient, patient_id).site_id)
        user = create_user(session, email=f"double-{site.code.lower()}@example.org",
                           full_name="Double Click", role="clinician", password=PASSWORD,
                           site_codes=[site.code])
        session.commit()
        return user.email


def test_simultaneous_presses_of_one_rendered_button_add_one_visit(migrated_database_url):
    [patient_id] = seed(migrated_database_url, 1, treatment_date=TREATED)
    app = committed_app(migrated_database_url, TODAY="2026-06-01", WTF_CSRF_ENABLED=True)
    try:
        browser = webtest.TestApp(app)
        sign_in(browser, _clinician(app, patient_id))
        form = form_for(browser.get(f"/patients/{patient_id}"), action="/visits/unscheduled")
        fields, cookies = form.submit_fields(), dict(browser.cookies)
        start = threading.Barrier(PRESSES)

        def press(_number: int) -> tuple[int, str]:
            tab = webtest.TestApp(app)  # the same browser session, another connection
            for name, value in cookies.items():
                tab.set_cookie(name, value)
            start.wait(timeout=30)
            response = tab.post(form.action, fields, expect_errors=True)
            return response.status_int, response.headers.get("Location", "")

        with ThreadPoolExecutor(PRESSES) as pool:
            results = list(pool.map(press, range(PRESSES)))
    finally:
        app.extensions["registry.engine"].dispose()
    [visit_id] = _unscheduled(migrated_database_url, patient_id)
    assert results == [(302, results[0][1])] * PRESSES
    assert results[0][1].endswith(f"/patients/{patient_id}/visits/{visit_id}")


def test_a_second_insert_waits_for_the_first_and_returns_its_visit(migrated_database_url):
    """The overlap made certain: the first transaction has inserted the visit but not
    committed when the second tries the same key.  On PostgreSQL the second insert waits
    on the first's index entry, then meets the unique index and returns the first visit;
    on SQLite the second transaction waits to begin (BEGIN IMMEDIATE), then finds it."""
    [patient_id] = seed(migrated_database_url, 1, treatment_date=TREATED)
    app = committed_app(migrated_database_url, TODAY="2026-06-01")
    token = "k" * 32
    inserted = threading.Event()
    results: dict[str, tuple[int, bool]] = {}

    def first() -> None:
        with app.app_context(), writing():
            session = get_session()
            visit, created = add_unscheduled_visit_once(session, session.get(Patient, patient_id),
                                                        token)
            inserted.set()
            threading.Event().wait(0.5)  # the second one is waiting meanwhile
            session.commit()
            results["first"] = (visit.id, created)

    def second() -> None:
        assert inserted.wait(timeout=30)
        with app.app_context(), writing():
            session = get_session()
            visit, created = add_unscheduled_visit_once(session, session.get(Patient, patient_id),
                                                        token)
            session.commit()
            results["second"] = (visit.id, created)

    try:
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(first), pool.submit(second)]:
                future.result(timeout=60)
    finally:
        app.extensions["registry.engine"].dispose()
    assert results["first"][1] is True
    assert results["second"] == (results["first"][0], False)
    assert _unscheduled(migrated_database_url, patient_id) == [results["first"][0]]
    with engine_for(migrated_database_url) as engine, engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Visit).where(
            Visit.creation_token == token)) == 1
