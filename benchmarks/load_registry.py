"""The load benchmark's synthetic registry: N patients with visits, answers and scores.

Sites, the default protocol and the benchmark's users go through the app's services;
patients, identities, knees, treatments, visits, questionnaire responses and their score
rows are bulk-inserted with SQLAlchemy Core ``executemany`` (synthetic data: no audit rows
for the bulk load — the audit trail holds only what the app itself writes during the run).
Then the worklist's follow-up statuses are computed as the hourly ``registry
refresh-followup`` job would.
Scores come from ``scoring/`` through ``registry.scores.compute_scores``: a pool of answer
sets per instrument is scored once and reused, so the stored scores are real scores of the
stored answers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Engine, select, text

import scoring
from registry.auth.services import create_user
from registry.db import get_session, writing
from registry.followup.state import refresh_sites
from registry.models import (
    ContactAttempt,
    IndexKnee,
    InstrumentResponse,
    Patient,
    PatientIdentity,
    ScoreValue,
    Site,
    Timepoint,
    Treatment,
    Visit,
)
from registry.scheduling import default_protocol, visit_dates
from registry.scores import compute_scores

SITES = (("OSL", "Oslo Knee Clinic"), ("BGN", "Bergen Orthopaedics"),
         ("TRD", "Trondheim Joint Centre"))
CHUNK = 2000
ANSWER_LEVELS = 48  # answer sets per instrument in the pool
DONE_SHARE = 0.6  # share of visits whose window has opened that are done

Chunk = dict[str, list[dict[str, Any]]]  # table key (see TABLES) -> rows
# (patients, site ids, protocol id, timepoints, today, seed) -> chunks of rows
RowGenerator = Callable[[int, list[int], int, list[Any], date, int], Iterator[Chunk]]


@dataclass(frozen=True)
class BuiltRegistry:
    site_ids: list[int]
    users: list[tuple[str, int]]  # (e-mail, site id)
    build_seconds: float


def _answer_pool(rng: random.Random) -> dict[str, list[tuple[dict[str, Any],
                                                            dict[str, tuple[Any, Any]]]]]:
    """instrument -> [(answers, {score code: (value, reason)})], scored by scoring/."""
    pool: dict[str, list[tuple[dict[str, Any], dict[str, tuple[Any, Any]]]]] = {}
    for instrument in scoring.default_instruments(is_baseline=True):
        definition = scoring.INSTRUMENTS[instrument]
        entries = []
        for level in range(ANSWER_LEVELS):
            mean = 4 * level / (ANSWER_LEVELS - 1)
            answers: dict[str, Any] = {}
            for item in definition.items:
                if item.options:
                    drawn = rng.gauss(mean, 0.6)
                    answers[item.code] = round(min(item.maximum, max(item.minimum, drawn)))
                else:
                    answers[item.code] = round(min(100, max(0, rng.gauss(mean * 25, 8))))
            entries.append((answers, compute_scores(instrument, answers)))
        pool[instrument] = entries
    return pool


def _rows(count: int, site_ids: list[int], protocol_id: int, timepoints: list[Any],
          today: date, seed: int) -> Iterator[Chunk]:
    """Rows of every table, CHUNK patients at a time, with ids assigned here."""
    rng = random.Random(seed)
    pool = _answer_pool(rng)
    now = datetime.now(UTC)
    sequences = dict.fromkeys(site_ids, 0)
    visit_id = response_id = 0
    for start in range(0, count, CHUNK):
        rows: Chunk = {name: [] for name in (
            "patient", "identity", "knee", "treatment", "visit", "response", "score")}
        for patient_id in range(start + 1, min(start + CHUNK, count) + 1):
            site_id = site_ids[patient_id % len(site_ids)]
            sequences[site_id] += 1
            treated = today - timedelta(days=rng.randint(0, 730))
            rows["patient"].append({
                "id": patient_id, "study_id": f"B{patient_id:07d}", "site_id": site_id,
                "site_sequence": sequences[site_id], "protocol_id": protocol_id,
                "sex": rng.choice(("female", "male")),
                "birth_date": date(rng.randint(1945, 1985), rng.randint(1, 12), 1),
                "height_cm": 170.0, "weight_kg": 80.0, "bmi": 27.7,
                "consent_date": treated - timedelta(days=14), "status": "active",
                "version": 1, "created_at": now})
            rows["identity"].append({
                "patient_id": patient_id, "site_id": site_id,
                "family_name": f"Family{patient_id}", "given_name": "Given",
                "medical_record_number": f"MRN{patient_id}", "phone": f"+47 9{patient_id:07d}",
                "email": f"p{patient_id}@example.org", "preferred_contact": "phone",
                "email_reminders": False, "version": 1})
            rows["knee"].append({"patient_id": patient_id, "laterality": "left",
                                 "kl_grade": rng.choice((2, 3)), "eligibility": {},
                                 "version": 1})
            rows["treatment"].append({
                "patient_id": patient_id, "treatment_date": treated, "cell_source": "bmac",
                "product_name": "BMAC kit", "lot_number": "L1", "injections": 1,
                "co_interventions": [], "operator": "Dr Bench", "version": 1,
                "recorded_at": now})
            level = rng.randint(ANSWER_LEVELS // 3, ANSWER_LEVELS - 1)
            for timepoint in timepoints:
                visit_id += 1
                dates = visit_dates(treated, timepoint)
                done = dates.window_start <= today and (
                    timepoint.is_baseline or rng.random() < DONE_SHARE)
                visit_date = (min(dates.target_date, today) if not timepoint.is_baseline
                              else treated - timedelta(days=rng.randint(0, 20))) if done else None
                rows["visit"].append({
                    "id": visit_id, "patient_id": patient_id, "timepoint_id": timepoint.id,
                    "target_date": dates.target_date, "window_start": dates.window_start,
                    "window_end": dates.window_end, "grace_end": dates.grace_end,
                    "visit_date": visit_date, "status": "done" if done else "scheduled",
                    "out_of_window": False, "version": 1, "created_at": now,
                    "updated_at": now})
                if not done:
                    continue
                level = max(0, level - rng.randint(0, 8))  # improvement over time
                for instrument, entries in pool.items():
                    response_id += 1
                    answers, scores = entries[level]
                    rows["response"].append({
                        "id": response_id, "visit_id": visit_id, "instrument": instrument,
                        "answers": answers,
                        "scoring_version": scoring.INSTRUMENTS[instrument].version,
                        "version": 1, "created_at": now, "updated_at": now})
                    rows["score"].extend({
                        "response_id": response_id, "visit_id": visit_id,
                        "patient_id": patient_id, "score_code": code, "value": value,
                        "reason": reason} for code, (value, reason) in scores.items())
        yield rows


def refresh_followup(site_ids: list[int] | None = None) -> None:
    """What the hourly ``registry refresh-followup`` job does (inside an app context)."""
    with writing():
        session = get_session()
        refresh_sites(session, site_ids)
        session.commit()


def analyse(engine: Engine) -> None:
    """Statistics (and on PostgreSQL the visibility map for index-only scans) after a bulk
    load, as the autovacuum daemon / a periodic ANALYZE would have them in production."""
    maintenance = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(maintenance))


TABLES = {"patient": Patient.__table__, "identity": PatientIdentity.__table__,
          "knee": IndexKnee.__table__, "treatment": Treatment.__table__,
          "visit": Visit.__table__, "response": InstrumentResponse.__table__,
          "score": ScoreValue.__table__, "contact": ContactAttempt.__table__}


def _insert(engine: Engine, chunks: Iterator[Chunk]) -> None:
    """Insert the tables present in each chunk; on PostgreSQL, move the id sequences of
    the tables filled (those with an id column) past the ids assigned by the generator."""
    filled: set[str] = set()
    with engine.begin() as connection:
        for chunk in chunks:
            for name, table in TABLES.items():
                if chunk.get(name):
                    connection.execute(table.insert(), chunk[name])
                    filled.add(name)
        if engine.dialect.name == "postgresql":
            for name, table in TABLES.items():
                if name in filled and "id" in table.c:
                    connection.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"))


def build_registry(app: Flask, *, patients: int, users: int, password: str, today: date,
                   seed: int, rows: RowGenerator = _rows,
                   refresh: bool = True) -> BuiltRegistry:
    """Sites and coordinators through the services; the patients in bulk (``rows``
    generates them); then, if ``refresh``, the worklist's status table; then ANALYZE."""
    started = time.perf_counter()
    with app.app_context(), writing():
        session = get_session()
        sites = [Site(code=code, name=name) for code, name in SITES]
        session.add_all(sites)
        session.flush()
        accounts = []
        for number in range(users):
            site = sites[number % len(sites)]
            email = f"coordinator{number + 1:02d}@bench.example"
            create_user(session, email=email, full_name=f"Bench Coordinator {number + 1}",
                        role="coordinator", password=password, site_codes=[site.code])
            accounts.append((email, site.id))
        protocol = default_protocol(session)
        timepoints = list(protocol.timepoints)
        site_ids = [site.id for site in sites]
        protocol_id = protocol.id
        session.commit()
        engine: Engine = app.extensions["registry.engine"]
        _insert(engine, rows(patients, site_ids, protocol_id, timepoints, today, seed))
        if refresh:
            refresh_followup(site_ids)
        analyse(engine)
    return BuiltRegistry(site_ids, accounts, time.perf_counter() - started)


@dataclass(frozen=True)
class SaveTarget:
    patient_id: int
    visit_id: int
    version: int
    visit_date: date


def open_followup_visits(engine: Engine, site_id: int, today: date) -> list[SaveTarget]:
    """Scheduled follow-up visits of a site whose window has opened (they can be saved)."""
    statement = (select(Visit.patient_id, Visit.id, Visit.version, Visit.target_date)
                 .join(Patient, Patient.id == Visit.patient_id)
                 .join(Timepoint, Timepoint.id == Visit.timepoint_id)
                 .where(Patient.site_id == site_id, Visit.status == "scheduled",
                        Visit.window_start <= today, Timepoint.is_baseline.is_(False))
                 .order_by(Visit.id))
    with engine.connect() as connection:
        return [SaveTarget(row[0], row[1], row[2], min(row[3], today))
                for row in connection.execute(statement)]


def site_patient_ids(engine: Engine, site_id: int) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(select(Patient.id).where(Patient.site_id == site_id)
                                       .order_by(Patient.id)))
