"""Benchmark: the coordinator worklist's first page on a large synthetic registry.

Builds a registry of N patients (default 100,000) at 3 sites, treated over the last two
years with the default 4-visit protocol (baseline, 2–6 weeks, 3 months, 6–12 months),
bulk-inserted with SQLAlchemy Core ``executemany`` (synthetic data: no audit trail).
Then, as a signed-in coordinator through the real Flask test client, requests the
worklist's first page filtered to one site (counts + 50 rows) and reports the median of
``--requests`` timed requests after ``--warmup`` untimed ones, plus the number of SQL
statements per page (for a page of 50 rows and a page of a few rows: they must match).

    .venv/bin/python benchmarks/bench_worklist.py                      # both backends
    .venv/bin/python benchmarks/bench_worklist.py --patients 5000      # quick smoke run
    .venv/bin/python benchmarks/bench_worklist.py --postgres-url postgresql://u@host/db

PostgreSQL: the server URL comes from ``--postgres-url`` or REGISTRY_TEST_POSTGRES_URL;
the benchmark creates its own database there and drops it at the end.  Without a URL,
only SQLite runs.  Results are appended to ``benchmarks/results/worklist.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.load_registry import Chunk, build_registry, refresh_followup  # noqa: E402
from registry import create_app, migrate  # noqa: E402
from registry.paging import MAX_PAGE  # noqa: E402
from registry.scheduling import visit_dates  # noqa: E402
from tests.fixtures.database import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    recorded_statements,
)

TODAY = date(2026, 6, 1)
PASSWORD = "benchmark coordinator password"
CHUNK = 5000  # patients per generated chunk (one executemany per table)
TARGET_MS = 300.0
RESULTS = ROOT / "benchmarks" / "results" / "worklist.txt"


def _patient_chunks(count: int, site_ids: list[int], protocol_id: int, timepoints: list[Any],
                    today: date, seed: int) -> Iterator[Chunk]:
    """Rows for every table, CHUNK patients at a time (ids assigned here): withdrawals,
    contact attempts and appointments, no answers or scores."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    visit_id = 0
    sequences = dict.fromkeys(site_ids, 0)
    for start in range(0, count, CHUNK):
        rows: Chunk = {
            "patient": [], "identity": [], "knee": [], "treatment": [], "visit": [],
            "contact": []}
        for patient_id in range(start + 1, min(start + CHUNK, count) + 1):
            site_id = site_ids[patient_id % len(site_ids)]
            sequences[site_id] += 1
            treated = today - timedelta(days=rng.randint(0, 730))
            withdrawn = rng.random() < 0.03
            withdrawn_on = treated + timedelta(days=rng.randint(20, 300)) if withdrawn else None
            if withdrawn_on is not None and withdrawn_on > today:
                withdrawn, withdrawn_on = False, None
            rows["patient"].append({
                "id": patient_id, "study_id": f"P{patient_id:07d}", "site_id": site_id,
                "site_sequence": sequences[site_id], "protocol_id": protocol_id,
                "sex": rng.choice(("female", "male")), "birth_date": date(1960, 1, 1),
                "consent_date": treated - timedelta(days=14),
                "status": "withdrawn" if withdrawn else "active",
                "withdrawn_on": withdrawn_on,
                "withdrawal_reason": "lost_to_follow_up" if withdrawn else None,
                "version": 1, "created_at": now})
            rows["identity"].append({
                "patient_id": patient_id, "site_id": site_id, "family_name": f"Family{patient_id}",
                "given_name": "Given", "medical_record_number": f"MRN{patient_id}",
                "phone": f"+47 9{patient_id:07d}", "email": f"p{patient_id}@example.org",
                "preferred_contact": "phone", "email_reminders": rng.random() < 0.5,
                "version": 1})
            rows["knee"].append({"patient_id": patient_id, "laterality": "left", "kl_grade": 2,
                                 "eligibility": {}, "version": 1})
            rows["treatment"].append({
                "patient_id": patient_id, "treatment_date": treated, "cell_source": "bmac",
                "product_name": "BMAC", "lot_number": "L1", "injections": 1,
                "co_interventions": [], "operator": "Dr Bench", "version": 1,
                "recorded_at": now})
            for timepoint in timepoints:
                visit_id += 1
                rows["visit"].append(_visit_row(rng, visit_id, patient_id, timepoint, treated,
                                                withdrawn_on, today, now))
                visit = rows["visit"][-1]
                if visit["status"] == "scheduled" and rng.random() < 0.1:
                    rows["contact"].append({
                        "patient_id": patient_id, "visit_id": visit_id,
                        "attempted_on": today - timedelta(days=rng.randint(0, 20)),
                        "method": "phone", "outcome": "no_answer", "version": 1,
                        "created_at": now})
        yield rows


def _visit_row(rng: random.Random, visit_id: int, patient_id: int, timepoint: Any,
               treated: date, withdrawn_on: date | None, today: date,
               now: datetime) -> dict[str, Any]:
    """One visit's row: 70 % of opened visits done, 5 % of scheduled ones booked."""
    dates = visit_dates(treated, timepoint)
    status, visit_date, reason = "scheduled", None, None
    if dates.window_start <= today and rng.random() < 0.7:
        visit_date = min(dates.target_date + timedelta(days=rng.randint(-10, 20)), today)
        status = "done"
    if withdrawn_on is not None and status != "done" and dates.window_end >= withdrawn_on:
        status, reason = "not_applicable", "Patient withdrawn"
    appointment = (today + timedelta(days=rng.randint(0, 10))
                   if status == "scheduled" and rng.random() < 0.05 else None)
    return {
        "id": visit_id, "patient_id": patient_id, "timepoint_id": timepoint.id,
        "target_date": dates.target_date, "window_start": dates.window_start,
        "window_end": dates.window_end, "grace_end": dates.grace_end, "visit_date": visit_date,
        "status": status, "not_applicable_reason": reason, "appointment_date": appointment,
        "out_of_window": bool(visit_date and not (
            dates.window_start <= visit_date <= dates.window_end)),
        "version": 1, "created_at": now, "updated_at": now}


def measure(app: Flask, email: str, site_id: int, requests: int,
            warmup: int) -> dict[str, Any]:
    """Time the worklist's first page of a site as the signed-in coordinator ``email``."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: {response.status_code}")
    engine: Engine = app.extensions["registry.engine"]
    url = f"/followup/?site={site_id}"
    cpu: list[float] = []

    def get(target: str) -> tuple[float, int, str]:
        with recorded_statements(engine) as statements:
            start, start_cpu = time.perf_counter(), time.process_time()
            page = client.get(target)
            elapsed = (time.perf_counter() - start) * 1000
            cpu.append((time.process_time() - start_cpu) * 1000)
        if page.status_code != 200:
            raise RuntimeError(f"{target} answered {page.status_code}")
        return elapsed, len(statements), page.get_data(as_text=True)

    for _ in range(warmup):
        get(url)
    cpu.clear()
    timings = []
    for _ in range(requests):
        elapsed, statement_count, html = get(url)
        timings.append(elapsed)
    rows = html.count("<tr data-visit=")
    cpu_median = statistics.median(cpu)
    # The highest page number accepted, clamped to the (short) last page.
    few_url = f"/followup/?site={site_id}&page={MAX_PAGE}"
    _elapsed, few_statements, few_html = get(few_url)
    return {"median": statistics.median(timings), "p90": sorted(timings)[int(0.9 * len(timings))
                                                                        - 1],
            "min": min(timings), "max": max(timings), "statements": statement_count,
            "cpu": cpu_median,
            "rows": rows, "few_rows": few_html.count("<tr data-visit="),
            "few_statements": few_statements}


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    migrate.upgrade(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-instance-"))
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench", "PSEUDONYM_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "TODAY": TODAY.isoformat()})
    print(f"[{name}] building {args.patients:,} patients …", flush=True)
    built = build_registry(app, patients=args.patients, users=1, password=PASSWORD,
                           today=TODAY, seed=args.seed, rows=_patient_chunks, refresh=False)
    build_seconds = built.build_seconds
    email, site_id = built.users[0]  # the first site's coordinator
    print(f"[{name}] built in {build_seconds:.1f} s; measuring …", flush=True)
    live = measure(app, email, site_id, args.requests, args.warmup)
    print(f"[{name}] computed live: median {live['median']:.1f} ms, {live['statements']} "
          f"statements, {live['rows']} rows; refreshing the status table …", flush=True)
    started = time.perf_counter()
    with app.app_context():
        refresh_followup()  # all sites
    refresh_seconds = time.perf_counter() - started
    stored = measure(app, email, site_id, args.requests, args.warmup)
    app.extensions["registry.engine"].dispose()
    print(f"[{name}] from the status table: median {stored['median']:.1f} ms, "
          f"{stored['statements']} statements, {stored['rows']} rows", flush=True)
    for result in (live, stored):
        result["build_seconds"] = build_seconds
        result["refresh_seconds"] = refresh_seconds
    return {"live": live, "stored": stored}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=25, help="timed requests (≥ 20)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-worklist-") as folder:
            results["sqlite"] = run_backend("sqlite", f"sqlite:///{folder}/bench.sqlite3", args)
    if args.postgres_url:
        url = create_postgres_database(args.postgres_url)
        try:
            results["postgresql"] = run_backend("postgresql", url, args)
        finally:
            drop_postgres_database(args.postgres_url, url)
    report = _report(args, results)
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a", encoding="utf-8") as handle:
        handle.write(report + "\n")
    slow = [name for name, paths in results.items() for result in paths.values()
            if result["median"] >= TARGET_MS]
    return 1 if slow else 0


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"## Worklist first page — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"{args.patients:,} patients at 3 sites ({args.patients * 4:,} visits), "
        f"treated over two years; page filtered to one site; {args.requests} timed requests "
        f"after {args.warmup} warm-up; {platform.python_version()} on "
        f"{platform.machine()} ({os.cpu_count()} CPUs, shared; load average "
        f"{' / '.join(f'{value:.1f}' for value in os.getloadavg())} at the end).",
        "Client CPU = CPU time of the benchmark process per request (the whole request for "
        "SQLite; PostgreSQL's server time is not in it).",
        "",
        "| backend | status from | median ms | p90 ms | min ms | max ms "
        "| client CPU ms (median) | statements / page (50 rows) "
        "| statements / page (last page) | build s | refresh s (all sites) | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, paths in results.items():
        for path, r in paths.items():
            verdict = "met" if r["median"] < TARGET_MS else "MISSED"
            source = "status table" if path == "stored" else "computed live"
            lines.append(
                f"| {name} | {source} | {r['median']:.1f} | {r['p90']:.1f} | {r['min']:.1f} "
                f"| {r['max']:.1f} | {r['cpu']:.1f} "
                f"| {r['statements']} ({r['rows']} rows) | {r['few_statements']} "
                f"({r['few_rows']} rows) | {r['build_seconds']:.0f} "
                f"| {r['refresh_seconds']:.1f} | {verdict} (< {TARGET_MS:.0f}) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
