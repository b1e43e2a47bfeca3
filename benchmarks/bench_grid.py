"""Benchmark: the record status grid's first page on a large site.

Builds a registry of N patients (default 10,000) all at ONE site, treated over the last
two years with the default 4-visit protocol, bulk-inserted with SQLAlchemy Core
(``benchmarks/bench_worklist.py``'s rows: done, booked, withdrawn and not-applicable
visits; synthetic data, no audit trail).  Then, as that site's signed-in coordinator,
requests ``/followup/grid`` through the real Flask test client (the whole request: sign-in
check, filter form, the grid's statements, the template) and reports the median and p95
of ``--requests`` timed requests after ``--warmup`` untimed ones, for the default page
(50 patients by study ID) and for "most urgent first" and a status filter, with the
number of SQL statements per page (the same for a page of 50 patients and one of 5).

    .venv/bin/python benchmarks/bench_grid.py                      # both backends
    .venv/bin/python benchmarks/bench_grid.py --patients 2000      # quick smoke run
    make bench-grid

PostgreSQL: the server URL comes from ``--postgres-url`` or REGISTRY_TEST_POSTGRES_URL;
the benchmark creates its own database there and drops it at the end.  Without a URL,
only SQLite runs.  Results are appended to ``benchmarks/results/grid.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_worklist import _patient_chunks  # noqa: E402
from benchmarks.load_registry import Chunk, build_registry  # noqa: E402
from registry import create_app, migrate  # noqa: E402
from tests.fixtures.database import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    recorded_statements,
)

TODAY = date(2026, 6, 1)
PASSWORD = "benchmark coordinator password"
TARGET_MS = 150.0
RESULTS = ROOT / "benchmarks" / "results" / "grid.md"
# (label, query string): the pages timed.  The first is the target.
PAGES = (("first page, by study ID", ""),
         ("most urgent first", "sort=urgency"),
         ("has an overdue visit, most urgent first", "status=overdue&sort=urgency"))


def _one_site(count: int, site_ids: list[int], protocol_id: int, timepoints: list[Any],
              today: date, seed: int) -> Iterator[Chunk]:
    """The worklist benchmark's rows, every patient at the first site."""
    return _patient_chunks(count, site_ids[:1], protocol_id, timepoints, today, seed)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(app: Flask, email: str, query: str, requests: int,
            warmup: int) -> dict[str, Any]:
    """Time the grid page ``query`` as the signed-in coordinator ``email``."""
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: {response.status_code}")
    engine: Engine = app.extensions["registry.engine"]

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

    url = f"/followup/grid?{query}"
    for _ in range(warmup):
        get(url)
    cpu.clear()
    timings = []
    for _ in range(requests):
        elapsed, statement_count, html = get(url)
        timings.append(elapsed)
    cpu_median = statistics.median(cpu)
    _elapsed, few_statements, few_html = get(f"{url}&per_page=25&page=100000")  # last page
    return {"median": statistics.median(timings), "p95": _percentile(timings, 0.95),
            "cpu": cpu_median,
            "min": min(timings), "max": max(timings), "statements": statement_count,
            "rows": html.count("<tr data-patient="), "cells": html.count('<td class="cell'),
            "few_rows": few_html.count("<tr data-patient="), "few_statements": few_statements}


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    migrate.upgrade(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-instance-"))
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench", "PSEUDONYM_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "TODAY": TODAY.isoformat()})
    print(f"[{name}] building {args.patients:,} patients at one site …", flush=True)
    built = build_registry(app, patients=args.patients, users=1, password=PASSWORD,
                           today=TODAY, seed=args.seed, rows=_one_site, refresh=False)
    email, _site_id = built.users[0]  # the first site's coordinator: every patient
    results = {}
    for label, query in PAGES:
        results[label] = measure(app, email, query, args.requests, args.warmup)
        r = results[label]
        print(f"[{name}] {label}: median {r['median']:.1f} ms, p95 {r['p95']:.1f} ms, "
              f"{r['statements']} statements, {r['rows']} rows", flush=True)
    app.extensions["registry.engine"].dispose()
    return {"pages": results, "build_seconds": built.build_seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40, help="timed requests (≥ 20)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-grid-") as folder:
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
    new_file = not args.output.exists()
    with args.output.open("a", encoding="utf-8") as handle:
        if new_file:
            handle.write("# Record status grid benchmark (`make bench-grid`)\n\n")
        handle.write(report + "\n")
    first = PAGES[0][0]
    slow = [name for name, result in results.items()
            if result["pages"][first]["median"] >= TARGET_MS]
    return 1 if slow else 0


def _report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"## Grid — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"{args.patients:,} patients at one site ({args.patients * 4:,} visits), treated "
        f"over two years; the site's coordinator; whole requests through the Flask test "
        f"client; {args.requests} timed requests after {args.warmup} warm-up; "
        f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} "
        f"CPUs, shared; load average "
        f"{' / '.join(f'{value:.1f}' for value in os.getloadavg())} at the end).",
        "",
        "Client CPU = CPU time of the benchmark process per request (the whole request for "
        "SQLite; PostgreSQL's server time is not in it): on a shared machine it moves less "
        "than the wall-clock times.",
        "",
        "| backend | page | median ms | p95 ms | min ms | max ms | client CPU ms (median) "
        "| statements (50 patients) | statements (last page of 25) | target (first page) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        for index, (label, r) in enumerate(result["pages"].items()):
            verdict = ("met" if r["median"] < TARGET_MS else "MISSED") if index == 0 else ""
            lines.append(
                f"| {name} | {label} | {r['median']:.1f} | {r['p95']:.1f} | {r['min']:.1f} "
                f"| {r['max']:.1f} | {r['cpu']:.1f} "
                f"| {r['statements']} ({r['rows']} rows, {r['cells']} cells) "
                f"| {r['few_statements']} ({r['few_rows']} rows) "
                f"| {verdict + f' (< {TARGET_MS:.0f})' if verdict else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
