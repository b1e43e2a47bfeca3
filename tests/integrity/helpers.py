"""Seeding committed databases and checking that data and audit trail agree.

The integrity tests use databases whose commits are real (``migrated_database_url``), so
that separate sessions, processes, crashes and backups see what a deployment would see.
Everything here also runs in ``spawn``ed worker processes: no pytest fixtures.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.orm import Session

import scoring
from registry import audit_capture as capture
from registry import audit_chain as chain
from registry.db import make_engine
from registry.lots.services import register_lot, save_product
from registry.models import (
    AdverseEvent,
    Audited,
    AuditEvent,
    Base,
    IndexKnee,
    Patient,
    Site,
    Treatment,
    User,
)
from registry.scheduling import default_protocol, schedule_visits
from tests.fixtures.app import TEST_SETTINGS, make_app

_site_numbers = itertools.count(int(time.time() * 1000) % 10_000)
AUDIT_KEY = TEST_SETTINGS["AUDIT_KEY"].encode()
WOMAC_ITEMS = [item.code for item in scoring.INSTRUMENTS["womac"].items]


def committed_app(database_url: str, **overrides: Any) -> Flask:
    """The real app on ``database_url``: its commits are real commits."""
    return make_app(database_url, Path(tempfile.mkdtemp(prefix="registry-instance-")),
                    **overrides)


@contextmanager
def engine_for(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def add_site(session: Session, code: str = "INT") -> Site:
    site = Site(code=code, name=f"Clinic {code}")
    session.add(site)
    session.flush()
    return site


def add_patient(session: Session, site: Site, number: int, *, kl_grade: int = 2) -> Patient:
    """A patient with an index knee (no treatment, no scheduled visits)."""
    protocol = default_protocol(session, site.id)
    patient = Patient(study_id=f"{site.code}-{number:04d}", site_id=site.id, site_sequence=number,
                      protocol_id=protocol.id, sex="female", birth_date=date(1960, 5, 17),
                      height_cm=170.0, weight_kg=80.0, bmi=27.7, consent_date=date(2026, 1, 1))
    patient.index_knee = IndexKnee(laterality="left", kl_grade=kl_grade, eligibility={})
    session.add(patient)
    session.flush()
    return patient


def add_adverse_event(session: Session, patient: Patient, *, grade: int = 1,
                      description: str = "Swelling after injection") -> AdverseEvent:
    event = AdverseEvent(patient_id=patient.id, onset_date=date(2026, 1, 3),
                         description=description, category="swelling", severity_grade=grade,
                         serious=False, relatedness="possibly", outcome="ongoing")
    session.add(event)
    session.flush()
    return event


def seed(database_url: str, patients: int = 1, *,
         treatment_date: date | None = None) -> list[int]:
    """Commit a new site and ``patients`` patients; return their ids.  With a
    ``treatment_date``, each is treated then and has the default visit schedule."""
    app = committed_app(database_url)
    maker = app.extensions["registry.sessionmaker"]
    with maker() as session:
        site = add_site(session, f"I{next(_site_numbers):04d}")
        ids = []
        for number in range(1, patients + 1):
            patient = add_patient(session, site, number)
            if treatment_date is not None:
                patient.treatment = Treatment(
                    treatment_date=treatment_date, cell_source="bmac",
                    product_name="Demo BMAC", lot_number=f"LOT-{number:05d}",
                    cell_dose_million=20.0, injections=1, co_interventions=[],
                    operator="Dr Test")
                session.flush()
                schedule_visits(session, patient, treatment_date)
            ids.append(patient.id)
        session.commit()
    app.extensions["registry.engine"].dispose()
    return ids


def womac_answers(seed_value: int) -> dict[str, int]:
    return {item: (seed_value + offset) % 5 for offset, item in enumerate(WOMAC_ITEMS)}


def row_counts(connection: Connection, *models: type[Base]) -> dict[str, int]:
    return {model.__tablename__: int(connection.scalar(select(func.count()).select_from(model))
                                     or 0) for model in models}


def audited_models() -> list[type[Base]]:
    return sorted((mapper.class_ for mapper in Base.registry.mappers
                   if issubclass(mapper.class_, Audited)),
                  key=lambda model: model.__tablename__)


def audit_mismatches(connection: Connection) -> list[str]:
    """Records without a creating audit row, and audit rows about records that are gone.

    Replays create/delete rows per entity: every record of an audited table must have been
    created (and not deleted since) according to the trail, and vice versa.
    """
    alive: dict[str, set[str]] = {}
    for action, entity_type, entity_id in connection.execute(
            select(AuditEvent.action, AuditEvent.entity_type, AuditEvent.entity_id)
            .where(AuditEvent.action.in_(["create", "delete"])).order_by(AuditEvent.id)):
        keys = alive.setdefault(entity_type, set())
        (keys.add if action == "create" else keys.discard)(entity_id)
    problems = []
    for model in audited_models():
        table = model.__table__
        key_columns = list(table.primary_key.columns)
        stored = {":".join(str(part) for part in row)
                  for row in connection.execute(select(*key_columns))}
        trail = alive.get(table.name, set())
        if stored - trail:
            problems.append(f"{table.name}: records without a create row {sorted(stored - trail)}")
        if trail - stored:
            problems.append(f"{table.name}: audit says alive but missing {sorted(trail - stored)}")
    return problems


def verify_chain(connection: Connection) -> chain.VerifyResult:
    return chain.verify(connection, AUDIT_KEY)


def eventually(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def seed_users(database_url: str, role: str, emails: list[str], password: str) -> list[int]:
    """Commit accounts (no site yet); return their ids."""
    from registry.auth.services import create_user

    app = committed_app(database_url)
    with app.extensions["registry.sessionmaker"]() as session:
        users = [create_user(session, email=email, full_name=email.split("@")[0], role=role,
                             password=password, site_codes=[]) for email in emails]
        session.commit()
        ids = [user.id for user in users]
    app.extensions["registry.engine"].dispose()
    return ids


def seed_edit_targets(database_url: str, user_ids: list[int]) -> dict[str, int]:
    """Commit one of every record an edit form changes, at a new site given to the users
    ``user_ids``; return the records' ids."""
    app = committed_app(database_url)
    with app.extensions["registry.sessionmaker"]() as session:
        site = add_site(session, f"R{next(_site_numbers):04d}")
        with capture.reason(session, "staff of a new site"):
            for user in [session.get(User, user_id) for user_id in user_ids]:
                user.sites.append(site)
        patient = add_patient(session, site, 1)
        patient.treatment = Treatment(
            treatment_date=date(2026, 1, 15), cell_source="bmac", product_name="Demo BMAC",
            lot_number="LOT-00001", cell_dose_million=20.0, injections=1,
            co_interventions=[], operator="Dr Test")
        session.flush()
        schedule_visits(session, patient, date(2026, 1, 15))
        event = AdverseEvent(patient_id=patient.id, onset_date=date(2026, 2, 1),
                             description="effusion", category="swelling", severity_grade=3,
                             serious=True, serious_criterion="hospitalisation",
                             relatedness="possibly", outcome="ongoing")
        session.add(event)
        capture.set_actor(session, None, "race-setup")
        product = save_product(session, {
            "name": f"Race product {site.code}", "origin": "autologous",
            "tissue_source": "bone_marrow", "preparation": "bmac"})
        lot = register_lot(session, {"product_id": product.id, "lot_number": "RACE-1",
                                     "status": "released"}, date(2026, 1, 1))
        session.commit()
        ids = {"site": site.id, "patient": patient.id, "visit": patient.visits[1].id,
               "treatment": patient.treatment.id, "event": event.id,
               "product": product.id, "lot": lot.id}
    app.extensions["registry.engine"].dispose()
    return ids


class Hold:
    """Hold one request's transaction just after it UPDATEs (``on="after_insert"``:
    INSERTs) a ``model`` row, until a second request waits for it; so two saves of one
    record overlap deterministically.

    The request running in the thread named ``first`` is held (inside its flush, keeping
    the row lock) until ``release_when_waiting``: on PostgreSQL, once another session
    waits for a lock; on SQLite, once the thread named ``second`` takes a connection from
    the pool (its BEGIN IMMEDIATE then waits for the write lock, which no one can see from
    outside: a short grace period follows).
    """

    def __init__(self, app: Flask, model: type[Base], *, on: str = "after_update",
                 first: str = "race-first", second: str = "race-second") -> None:
        self.engine: Engine = app.extensions["registry.engine"]
        self.model, self.on, self.first, self.second = model, on, first, second
        self.holding = threading.Event()  # the first request has written the row
        self._second_began = threading.Event()
        self._release = threading.Event()

    def _after_write(self, _mapper: Any, _connection: Any, _target: Any) -> None:
        if threading.current_thread().name == self.first and not self.holding.is_set():
            self.holding.set()
            self._release.wait(20)

    def _on_checkout(self, *_args: Any) -> None:
        if threading.current_thread().name == self.second:
            self._second_began.set()

    def __enter__(self) -> Hold:
        event.listen(self.model, self.on, self._after_write)
        event.listen(self.engine, "checkout", self._on_checkout)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._release.set()
        event.remove(self.model, self.on, self._after_write)
        event.remove(self.engine, "checkout", self._on_checkout)

    def release_when_waiting(self, timeout: float = 10.0) -> bool:
        """Let the first request go on once the second waits; False if it never did."""
        if self.engine.dialect.name == "postgresql":
            waiting = eventually(self._someone_waits_for_a_lock, timeout)
        else:
            waiting = self._second_began.wait(timeout)
            time.sleep(0.3)  # time for the second's BEGIN IMMEDIATE to wait for the lock
        self._release.set()
        return waiting

    def _someone_waits_for_a_lock(self) -> bool:
        with self.engine.connect() as connection:
            return bool(connection.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'")))
