"""Seeding committed databases and checking that data and audit trail agree.

The integrity tests use databases whose commits are real (``migrated_database_url``), so
that separate sessions, processes, crashes and backups see what a deployment would see.
Everything here also runs in ``spawn``ed worker processes: no pytest fixtures.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

import scoring
from registry.audit import chain
from registry.db import make_engine
from registry.models import (
    AdverseEvent,
    Audited,
    AuditEvent,
    Base,
    IndexKnee,
    Patient,
    Site,
    Treatment,
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
