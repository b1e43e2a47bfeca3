"""Submitting twice at the same time (double click, two tabs, two worker processes) saves
once, on databases whose commits are real: the row lock (PostgreSQL: SELECT … FOR UPDATE;
SQLite: the writing transaction's lock) makes the second submission wait for the first,
then find the report submitted and save nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlalchemy import func, select

from registry.db import get_session, writing
from registry.models import AuditEvent, InstrumentResponse, ScoreValue, SelfReport, Visit
from registry.selfreport import service
from tests.integrity.helpers import committed_app, engine_for, seed

TODAY = "2026-06-01"
TREATED = date(2026, 3, 3)  # 90 days before: the 3-month visit is open
SUBMITTERS = 4


def _prepared_report(app) -> tuple[int, int]:
    """A link opened and answered (VAS, PGA), committed; (report id, visit id)."""
    with app.app_context(), writing():
        session = get_session()
        visit = session.scalar(select(Visit).where(Visit.timepoint_id.is_not(None))
                               .order_by(Visit.target_date.desc()).limit(1).offset(1))
        assert visit is not None
        link, _token = service.issue_link(session, visit, channel="link", created_by_id=None)
        report = service.open_report(session, link)
        report.instruments = ["vas", "pga"]
        assert service.save_answers(session, report, "vas", {"vas.VAS": "61"}) == {}
        assert service.save_answers(session, report, "pga", {"pga.PGA": "35"}) == {}
        session.commit()
        return report.id, visit.id


def _saved_once(database_url: str, visit_id: int) -> None:
    with engine_for(database_url) as engine, engine.connect() as connection:
        responses = connection.scalar(select(func.count()).select_from(InstrumentResponse)
                                      .where(InstrumentResponse.visit_id == visit_id))
        scores = connection.scalar(select(func.count()).select_from(ScoreValue)
                                   .where(ScoreValue.visit_id == visit_id))
        date_changes = connection.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "visit", AuditEvent.entity_id == str(visit_id),
            AuditEvent.field == "visit_date"))
        visit = connection.execute(select(Visit.status, Visit.collection_mode, Visit.version)
                                   .where(Visit.id == visit_id)).one()
        state = connection.scalar(select(SelfReport.state).where(
            SelfReport.visit_id == visit_id))
    assert (responses, date_changes, state) == (2, 1, "submitted")
    assert scores == 2  # vas_pain, pga
    assert (visit.status, visit.collection_mode, visit.version) == ("done", "self_link", 2)


def test_a_second_submission_waits_for_the_first_and_saves_nothing(migrated_database_url):
    seed(migrated_database_url, 1, treatment_date=TREATED)
    app = committed_app(migrated_database_url, TODAY=TODAY)
    try:
        report_id, visit_id = _prepared_report(app)
        locked = threading.Event()
        results: dict[str, str] = {}

        def first() -> None:
            with app.app_context(), writing():
                session = get_session()
                results["first"] = service.submit(session, session.get(SelfReport, report_id),
                                                  mode="self_link")
                locked.set()
                threading.Event().wait(0.5)  # the second one is waiting meanwhile
                session.commit()

        def second() -> None:
            assert locked.wait(timeout=30)
            with app.app_context(), writing():
                session = get_session()
                results["second"] = service.submit(
                    session, session.get(SelfReport, report_id), mode="self_link")
                session.commit()

        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(first), pool.submit(second)]:
                future.result(timeout=60)
    finally:
        app.extensions["registry.engine"].dispose()
    assert results == {"first": "submitted", "second": "submitted"}
    _saved_once(migrated_database_url, visit_id)


def test_simultaneous_submissions_save_once(migrated_database_url):
    seed(migrated_database_url, 1, treatment_date=TREATED)
    app = committed_app(migrated_database_url, TODAY=TODAY)
    try:
        report_id, visit_id = _prepared_report(app)
        start = threading.Barrier(SUBMITTERS)

        def press(_number: int) -> str:
            start.wait(timeout=30)
            with app.app_context(), writing():
                session = get_session()
                state = service.submit(session, session.get(SelfReport, report_id),
                                       mode="self_link")
                session.commit()
                return state

        with ThreadPoolExecutor(SUBMITTERS) as pool:
            results = list(pool.map(press, range(SUBMITTERS)))
    finally:
        app.extensions["registry.engine"].dispose()
    assert results == ["submitted"] * SUBMITTERS
    _saved_once(migrated_database_url, visit_id)
