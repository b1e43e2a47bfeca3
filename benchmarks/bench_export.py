"""Benchmark of research exports and the cohort count (run on demand; not part of the tests).

    # full run (100,000 patients), databases built once and kept for later runs:
    .venv/bin/python benchmarks/bench_export.py --db /tmp/koa_bench/p100k.sqlite3 \
        --postgres-url postgresql://postgres@127.0.0.1:5432/postgres \
        --postgres-db koa_bench_p100000
    .venv/bin/python benchmarks/bench_export.py --patients 2000 --no-write   # smoke run

1. A synthetic registry (N patients × 4 timepoints, VAS, PGA, WOMAC and KOOS at each visit,
   i.e. 24 stored scores per visit — KOOS also scored as KOOS-PS, KOOS-12 and KOOS JR —
   scored by ``scoring.score_frame`` from random answers; about 4 % of follow-up visits
   missed, 1 % of patients withdrawn at 4 months, so the long table also has rows without a
   value and the visits table every kind of status) is bulk-inserted (SQLAlchemy Core
   executemany; score rows through the driver: executemany
   of tuples on SQLite, COPY on PostgreSQL, then VACUUM ANALYZE as autovacuum would).
   ``--db PATH`` (SQLite) and ``--postgres-db NAME`` keep the database and reuse it when it
   already holds N patients; without them a throw-away database is built and dropped.
2. An export of all patients (``registry export --all``'s code path, ``export_cohort``; the
   ``visits`` table included) in every format the export offers (``--formats``; Excel in the
   wide shape only: the long table passes a sheet's row limit), each run in a fresh
   subprocess so that its peak RSS (``ru_maxrss``) is the export's own; median wall time of
   ``--runs`` runs.  ``--shapes long,wide`` adds the wide shape for the other formats.
3. Cohort count latency (``count_patients``): median of 20, for all patients and for a
   filtered cohort (site, KL grade, timepoint completed, no adverse event).
Targets: export < 15 s median and < 2 GB peak; count < 500 ms.  Results (with the load
average, as the machine is shared) go to benchmarks/results/export.txt unless --no-write.
PostgreSQL runs when --postgres-url or REGISTRY_TEST_POSTGRES_URL names a server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_EXPORT_SECONDS = 15.0
TARGET_EXPORT_MB = 2048.0
TARGET_COUNT_MS = 500.0
INSTRUMENTS = ("vas", "pga", "womac", "koos")
MISSED_SHARE = 0.04  # follow-up visits not done (their window has closed: missed)
WITHDRAWN_SHARE = 0.01  # patients withdrawn at day 120 (visits after it: withdrawn)
SETTINGS = {"SECRET_KEY": "bench", "AUDIT_KEY": "bench", "PSEUDONYM_KEY": "bench"}
FILTERED = {"site": ["S02"], "kl_grade": [2, 3], "timepoint": ["m3"], "adverse_events": "none"}


def make_app(url: str, instance: Path) -> Any:
    from registry import create_app

    return create_app({**SETTINGS, "DATABASE_URL": url, "INSTANCE_PATH": str(instance)})


def visit_scores(rng: np.random.Generator, level: np.ndarray) -> dict[str, np.ndarray]:
    """score code -> values for len(level) visits, from random answers scored by scoring/."""
    import scoring

    out: dict[str, np.ndarray] = {}
    for instrument in INSTRUMENTS:
        items = scoring.INSTRUMENTS[instrument].items
        if items[0].options:
            raw = np.clip(np.rint(rng.normal(level[:, None], 0.7, (len(level), len(items)))),
                          0, 4)
            raw[rng.random(raw.shape) < 0.03] = np.nan
        else:
            raw = np.clip(np.rint(rng.normal(level[:, None] * 25, 9, (len(level), 1))), 0, 100)
        frame = pd.DataFrame(raw, columns=[item.code for item in items])
        for scored_as in scoring.scored_from(instrument):
            scored = scoring.score_frame(scored_as.code, frame)
            for column in scored.columns:
                out[column] = scored[column].to_numpy()
    return out


def populate(url: str, instance: Path, patients: int, seed: int = 20261124) -> float:
    """Bulk-load the synthetic registry; return the seconds it took."""
    from sqlalchemy import insert, select

    import scoring
    from registry import migrate
    from registry.db import make_engine
    from registry.models import (
        AdverseEvent,
        IndexKnee,
        InstrumentResponse,
        Patient,
        PatientIdentity,
        Protocol,
        Site,
        Timepoint,
        Treatment,
        Visit,
    )
    from registry.models.protocol import DEFAULT_TIMEPOINTS

    codes_of = {instrument: [score.code for scored_as in scoring.scored_from(instrument)
                             for score in scored_as.scores]
                for instrument in INSTRUMENTS}
    started = time.perf_counter()
    migrate.upgrade(url)
    engine = make_engine(url)
    rng = np.random.default_rng(seed)
    with engine.begin() as conn:
        conn.execute(insert(Site.__table__), [{"id": n, "code": f"S0{n}", "name": f"Site {n}"}
                                              for n in (1, 2, 3)])
        conn.execute(insert(Protocol.__table__), [{"id": 1, "name": "Standard",
                                                   "is_default": True}])
        conn.execute(insert(Timepoint.__table__), [
            {**spec, "protocol_id": 1, "sort_order": order, "grace_days": 14,
             "instruments": list(INSTRUMENTS), "id": order + 1}
            for order, spec in enumerate(DEFAULT_TIMEPOINTS)])
        timepoints = conn.execute(select(Timepoint.id, Timepoint.target_day,
                                         Timepoint.window_start_day, Timepoint.window_end_day,
                                         Timepoint.code).order_by(Timepoint.sort_order)).all()
    chunk = 10_000
    base_day = dt.date(2023, 1, 1)
    for start in range(0, patients, chunk):
        ids = np.arange(start + 1, min(start + chunk, patients) + 1)
        n = len(ids)
        treated = [base_day + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)]
        born = [dt.date(int(y), int(m), int(d)) for y, m, d in
                zip(rng.integers(1935, 1990, n), rng.integers(1, 13, n), rng.integers(1, 29, n),
                    strict=True)]
        sites = (ids % 3) + 1
        kl = rng.choice([1, 2, 3, 4], n, p=[0.03, 0.45, 0.45, 0.07])
        withdrawn = rng.random(n) < WITHDRAWN_SHARE
        rows_patient = [{"id": int(i), "study_id": f"S0{s}-{i:07d}", "site_id": int(s),
                         "site_sequence": int(i), "protocol_id": 1,
                         "sex": ("female", "male")[int(i) % 2], "birth_date": b,
                         "height_cm": 170.0, "weight_kg": 80.0, "bmi": float(bmi),
                         "consent_date": t - dt.timedelta(days=20),
                         "status": "withdrawn" if gone else "active",
                         "withdrawn_on": t + dt.timedelta(days=120) if gone else None,
                         "withdrawal_reason": "lost_to_follow_up" if gone else None}
                        for i, s, b, t, bmi, gone in zip(
                            ids, sites, born, treated,
                            np.round(rng.normal(28, 4, n).clip(15, 60), 1), withdrawn,
                            strict=True)]
        level = rng.normal(2.1, 0.5, n).clip(0.8, 3.6)
        visits, responses, scores = [], [], []
        for k, (tp_id, target, w_start, w_end, code) in enumerate(timepoints):
            course = {"baseline": 1.0, "w2_6": 0.85, "m3": 0.7, "m6_12": 0.62}[code]
            values = visit_scores(rng, level * course)
            missed = (rng.random(n) < MISSED_SHARE) if code != "baseline" else np.zeros(n, bool)
            if code == "m6_12":
                missed |= withdrawn  # withdrawn at day 120: no 6–12-month visit
            for row, (pid, t) in enumerate(zip(ids, treated, strict=True)):
                visit_id = (int(pid) - 1) * 4 + k + 1
                visits.append({"id": visit_id, "patient_id": int(pid), "timepoint_id": tp_id,
                               "target_date": t + dt.timedelta(days=target),
                               "window_start": t + dt.timedelta(days=w_start),
                               "window_end": t + dt.timedelta(days=w_end),
                               "grace_end": t + dt.timedelta(days=min(target + 14, w_end)),
                               "visit_date": None if missed[row]
                               else t + dt.timedelta(days=target),
                               "status": "scheduled" if missed[row] else "done"})
                if missed[row]:
                    continue
                for j, instrument in enumerate(INSTRUMENTS):
                    response_id = (visit_id - 1) * 4 + j + 1
                    responses.append({"id": response_id, "visit_id": visit_id,
                                      "instrument": instrument, "answers": {},
                                      "scoring_version": "bench"})
                    for score_code in codes_of[instrument]:
                        value = values[score_code][row]
                        scores.append((response_id, visit_id, int(pid), score_code,
                                       None if np.isnan(value) else float(value)))
        with engine.begin() as conn:
            conn.execute(insert(Patient.__table__), rows_patient)
            conn.execute(insert(PatientIdentity.__table__), [
                {"patient_id": int(i), "site_id": int(s), "family_name": "Synthetic",
                 "given_name": "Patient", "medical_record_number": f"M{i:08d}"}
                for i, s in zip(ids, sites, strict=True)])
            conn.execute(insert(IndexKnee.__table__), [
                {"patient_id": int(i), "laterality": "left" if i % 2 else "right",
                 "kl_grade": int(g), "eligibility": {}} for i, g in zip(ids, kl, strict=True)])
            conn.execute(insert(Treatment.__table__), [
                {"patient_id": int(i), "treatment_date": t, "cell_source": "bmac",
                 "product_name": "BMAC kit", "lot_number": "L1", "injections": 1,
                 "co_interventions": ["physiotherapy"] if i % 3 else [], "operator": "Dr B"}
                for i, t in zip(ids, treated, strict=True)])
            conn.execute(insert(Visit.__table__), visits)
            conn.execute(insert(InstrumentResponse.__table__), responses)
            insert_scores(conn, scores)
            conn.execute(insert(AdverseEvent.__table__), [
                {"patient_id": int(i), "onset_date": t + dt.timedelta(days=3),
                 "description": "reaction", "category": "swelling", "severity_grade": 1,
                 "serious": False, "relatedness": "possibly", "outcome": "resolved"}
                for i, t in zip(ids, treated, strict=True) if i % 10 == 0])
        print(f"  loaded {ids[-1]:,} patients", file=sys.stderr, flush=True)
    if engine.dialect.name == "postgresql":  # what autovacuum does to a loaded registry
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


SCORE_COLUMNS = "response_id, visit_id, patient_id, score_code, value"


def insert_scores(conn: Any, scores: list[tuple[Any, ...]]) -> None:
    """The score rows (most of the data) through the driver: COPY on PostgreSQL,
    executemany of plain tuples on SQLite."""
    driver = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cursor, cursor.copy(
                f"COPY score_value ({SCORE_COLUMNS}) FROM STDIN") as copy:
            for row in scores:
                copy.write_row(row)
        return
    driver.executemany(f"INSERT INTO score_value ({SCORE_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                       scores)


def stored_patients(url: str) -> int | None:
    """Patients already loaded in the database at ``url`` (None: no registry schema)."""
    from sqlalchemy import func, inspect, select

    from registry.db import make_engine
    from registry.models import Patient

    engine = make_engine(url)
    try:
        if "patient" not in inspect(engine).get_table_names():
            return None
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Patient)) or 0)
    finally:
        engine.dispose()


def prepare(url: str, instance: Path, patients: int, label: str) -> float | None:
    """Load the synthetic registry unless the database already holds it; seconds or None."""
    present = stored_patients(url)
    if present == patients:
        print(f"[{label}] reusing the {patients:,} patients already stored", file=sys.stderr)
        return None
    if present:
        raise SystemExit(f"{url} holds {present:,} patients, not {patients:,}: "
                         "give another --db / --postgres-db or remove it")
    print(f"[{label}] loading {patients:,} patients …", file=sys.stderr, flush=True)
    return populate(url, instance, patients)


def child_export(url: str, instance: str, fmt: str, shape: str, output: str) -> None:
    """Run one export in this (fresh) process and print its timing and peak RSS as JSON."""
    from registry.db import get_session
    from registry.research.export import ExportOptions, export_cohort

    app = make_app(url, Path(instance))
    with app.app_context():
        session = get_session()
        started = time.perf_counter()
        result = export_cohort(session, cohort_name="All treated patients", definition={},
                               options=ExportOptions(format=fmt, shape=shape),
                               pseudonym_key="bench", free_text_allowed=False,
                               target=Path(output))
        seconds = time.perf_counter() - started
        session.rollback()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": result.row_counts,
                      "bytes": Path(output).stat().st_size}))


def time_export(url: str, instance: Path, fmt: str, shape: str, runs: int) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            out = subprocess.run(
                [sys.executable, __file__, "--child-export", fmt, "--shape", shape,
                 "--url", url, "--instance", str(instance),
                 "--output", str(Path(folder) / "export")],
                capture_output=True, text=True)
            if out.returncode:
                error = (out.stderr.strip().splitlines() or ["no output"])[-1]
                return {"error": error[:300]}
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"median_s": statistics.median(r["seconds"] for r in results),
            "all_s": [round(r["seconds"], 2) for r in results],
            "peak_mb": max(r["peak_mb"] for r in results), "rows": results[0]["rows"],
            "bytes": results[0]["bytes"]}


def time_counts(url: str, instance: Path, repeats: int = 20) -> dict[str, float]:
    from registry.db import get_session
    from registry.research.cohorts import count_patients

    app = make_app(url, instance)
    out = {}
    with app.app_context():
        session = get_session()
        for label, definition in (("all", {}), ("filtered", FILTERED)):
            timings, count = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                count = count_patients(session, definition)
                timings.append((time.perf_counter() - started) * 1000)
            out[f"{label}_ms"] = statistics.median(timings)
            out[f"{label}_count"] = count
    return out


def runs_of(formats: list[str], shapes: list[str]) -> list[tuple[str, str]]:
    """(shape, format) pairs to time: Excel in the wide shape only (row limit)."""
    return [(shape, fmt) for fmt in formats for shape in shapes
            if not (fmt == "xlsx" and shape == "long")] + (
        [("wide", "xlsx")] if "xlsx" in formats and "wide" not in shapes else [])


def run(url: str, label: str, patients: int, runs: int, formats: list[str],
        counts_wanted: bool = True, shapes: tuple[str, ...] = ("long",)) -> list[str]:
    with tempfile.TemporaryDirectory() as instance_dir:
        instance = Path(instance_dir)
        load_seconds = prepare(url, instance, patients, label)
        load_before = loadavg()
        exports = {}
        for shape, fmt in runs_of(formats, list(shapes)):
            print(f"[{label}] export {shape} {fmt} …", file=sys.stderr, flush=True)
            exports[shape, fmt] = time_export(url, instance, fmt, shape, runs)
        counts = time_counts(url, instance) if counts_wanted else None
    loaded = (f"load {load_seconds:.0f} s, bulk insert" if load_seconds is not None
              else "database reused")
    lines = [f"## {label}: {patients:,} patients × 4 timepoints × 24 scores, "
             f"{MISSED_SHARE:.0%} of follow-ups missed, {WITHDRAWN_SHARE:.0%} withdrawn "
             f"({loaded}); load average before: {load_before}"]
    for (shape, fmt), result in exports.items():
        if "error" in result:
            lines.append(f"export {shape} {fmt:<8} FAILED: {result['error']}")
            continue
        ok = (result["median_s"] < TARGET_EXPORT_SECONDS and result["peak_mb"] < TARGET_EXPORT_MB)
        lines.append(f"export {shape} {fmt:<8} median {result['median_s']:.2f} s "
                     f"(runs {result['all_s']}), peak RSS {result['peak_mb']:.0f} MB, "
                     f"file {result['bytes'] / 1e6:.0f} MB, rows {result['rows']} "
                     f"-> {'OK' if ok else 'MISSED'} (targets < {TARGET_EXPORT_SECONDS:.0f} s, "
                     f"< {TARGET_EXPORT_MB:.0f} MB)")
    for kind in ("all", "filtered") if counts else ():
        ms = counts[f"{kind}_ms"]
        lines.append(f"cohort count {kind:<8} median {ms:.1f} ms over 20 "
                     f"({counts[f'{kind}_count']:,} patients) -> "
                     f"{'OK' if ms < TARGET_COUNT_MS else 'MISSED'} (target < 500 ms)")
    lines.append(f"# load average after: {loadavg()}")
    return lines


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg shows them ("n/a": unknown)."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", type=Path, default=None,
                        help="SQLite file to build once and keep (reused when it exists)")
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL"))
    parser.add_argument("--postgres-db", default=None,
                        help="named PostgreSQL database to build once and keep (reused)")
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--formats", default=None,
                        help="comma-separated; default: every format the export offers")
    parser.add_argument("--shapes", default="long", help="comma-separated: long, wide")
    parser.add_argument("--shape", default="long", help=argparse.SUPPRESS)
    parser.add_argument("--no-counts", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child-export", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_export:
        child_export(args.url, args.instance, args.child_export, args.shape, args.output)
        return
    from registry.research.options import FORMATS

    backends = args.backends.split(",")
    formats = args.formats.split(",") if args.formats else list(FORMATS)
    shapes = tuple(args.shapes.split(","))
    header = [f"# bench_export {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
              f"# {platform.platform()}, Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs (shared with other engineers' work)"]
    results_dir = ROOT / "benchmarks" / "results"
    lines: list[str] = []
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as folder:
            path = args.db.resolve() if args.db else Path(folder) / "bench.sqlite3"
            lines += run(f"sqlite:///{path}", "SQLite", args.patients, args.runs, formats,
                         not args.no_counts, shapes)
        print("\n".join(header + lines), flush=True)
    if "postgresql" in backends and args.postgres_url:
        from tests.fixtures.database import create_postgres_database, drop_postgres_database

        keep = bool(args.postgres_db)
        url = create_postgres_database(args.postgres_url, name=args.postgres_db,
                                       exist_ok=keep)
        try:
            pg_lines = run(url, "PostgreSQL", args.patients, args.runs, formats,
                           not args.no_counts, shapes)
        finally:
            if not keep:
                drop_postgres_database(args.postgres_url, url)
        print("\n".join(pg_lines), flush=True)
        lines += pg_lines
    if not args.no_write and lines:
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / "export.txt").write_text("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
