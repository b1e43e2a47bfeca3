"""Benchmark: tracing a product lot used by 5,000 patients among 100,000.

Builds a registry of N patients (default 100,000) over three sites with the default
4-visit protocol (``benchmarks/bench_worklist.py``'s rows, bulk-inserted with SQLAlchemy
Core: synthetic data, no audit trail), registers a product with 20 lots, points every
patient's treatment at one of them (lot TRACE-00 gets N / 20 = 5,000 patients) and gives
one patient in eight an adverse event (one in five of those serious).  Then times:

- ``registry.lots.trace.trace`` for TRACE-00 over every site (an admin's view, the CLI's)
  and over one site (a clinician's view), the function the lot page, its CSV and
  ``registry lot trace`` use;
- the whole lot page ``/lots/<id>`` through the Flask test client, as an admin.

Each: median, p95 and min of ``--runs`` timed runs after ``--warmup`` untimed ones.

    .venv/bin/python benchmarks/bench_lot_trace.py                 # both backends
    .venv/bin/python benchmarks/bench_lot_trace.py --patients 10000   # quick run

PostgreSQL: ``--postgres-url`` or REGISTRY_TEST_POSTGRES_URL; the benchmark creates its
own database there and drops it at the end.  Results are appended to
``benchmarks/results/lot_trace.md``.  Target (issue 20): under 200 ms on both backends.
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
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_worklist import _patient_chunks  # noqa: E402
from benchmarks.load_registry import build_registry  # noqa: E402
from registry import create_app, migrate  # noqa: E402
from registry.auth.services import create_user  # noqa: E402
from registry.db import get_session, writing  # noqa: E402
from registry.models import (  # noqa: E402
    AdverseEvent,
    CellProduct,
    ProductLot,
    Treatment,
)
from tests.fixtures.database import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
)

TODAY = date(2026, 6, 1)
PASSWORD = "benchmark admin password"
LOTS = 20
TARGET_MS = 200.0
RESULTS = ROOT / "benchmarks" / "results" / "lot_trace.md"


def add_lots(app: Any, patients: int, seed: int) -> tuple[int, int]:
    """The product, its lots, every treatment pointed at a lot, adverse events; returns
    (the traced lot's id, its patients)."""
    engine = app.extensions["registry.engine"]
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        product_id = connection.execute(insert(CellProduct).values(
            name="Bench product", origin="allogeneic", tissue_source="umbilical_cord",
            preparation="culture_expanded_msc", minimally_manipulated=False, version=1,
            created_at=now).returning(CellProduct.id)).scalar_one()
        lot_ids = [connection.execute(insert(ProductLot).values(
            product_id=product_id, lot_number=f"TRACE-{number:02d}", release_status="released",
            version=1, created_at=now).returning(ProductLot.id)).scalar_one()
            for number in range(LOTS)]
        for number, lot_id in enumerate(lot_ids):
            connection.execute(update(Treatment).where(
                (Treatment.patient_id % LOTS) == number).values(
                lot_id=lot_id, product_name="Bench product",
                lot_number=f"TRACE-{number:02d}"))
        events = []
        for patient_id in range(1, patients + 1):
            if rng.random() < 0.125:
                serious = rng.random() < 0.2
                events.append({
                    "patient_id": patient_id, "onset_date": TODAY - timedelta(days=30),
                    "description": "bench", "category": "swelling",
                    "severity_grade": 3 if serious else 1, "serious": serious,
                    "serious_criterion": "hospitalisation" if serious else None,
                    "relatedness": "possibly", "outcome": "ongoing", "version": 1,
                    "created_at": now, "updated_at": now})
        for start in range(0, len(events), 5000):
            connection.execute(insert(AdverseEvent), events[start:start + 5000])
        traced = connection.execute(select(Treatment.id).where(
            Treatment.lot_id == lot_ids[0])).all()
    return lot_ids[0], len(traced)


def timed(function: Callable[[], Any], runs: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median": statistics.median(times), "p95": times[int(0.95 * (len(times) - 1))],
            "min": times[0]}


def run_backend(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    from registry.lots.trace import trace

    migrate.upgrade(url)
    instance = Path(tempfile.mkdtemp(prefix="bench-instance-"))
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench", "PSEUDONYM_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "TODAY": TODAY.isoformat()})
    print(f"[{name}] building {args.patients:,} patients …", flush=True)
    built = build_registry(app, patients=args.patients, users=1, password=PASSWORD,
                           today=TODAY, seed=args.seed, rows=_patient_chunks, refresh=False)
    lot_id, traced = add_lots(app, args.patients, args.seed)
    with app.app_context(), writing():
        session = get_session()
        create_user(session, email="admin@bench.example", full_name="Bench Admin",
                    role="admin", password=PASSWORD, site_codes=[])
        session.commit()
    results: dict[str, Any] = {"patients_in_lot": traced, "build_seconds": built.build_seconds}
    with app.app_context():
        session = get_session()
        lot = session.get(ProductLot, lot_id)
        assert lot is not None
        one_site = frozenset(built.site_ids[:1])
        results["every site"] = timed(lambda: trace(session, lot, None), args.runs,
                                      args.warmup)
        results["rows"] = len(trace(session, lot, None))
        results["one site"] = timed(lambda: trace(session, lot, one_site), args.runs,
                                    args.warmup)
    client = app.test_client()
    client.post("/login", data={"email": "admin@bench.example", "password": PASSWORD})
    results["lot page"] = timed(lambda: client.get(f"/lots/{lot_id}"), args.runs,
                                args.warmup)
    assert client.get(f"/lots/{lot_id}").status_code == 200
    for label in ("every site", "one site", "lot page"):
        r = results[label]
        print(f"[{name}] {label}: median {r['median']:.1f} ms, p95 {r['p95']:.1f} ms",
              flush=True)
    app.extensions["registry.engine"].dispose()
    return results


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"## Lot trace — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"{args.patients:,} patients over 3 sites ({args.patients * 4:,} visits), one lot "
        f"of {LOTS} used by every {LOTS}th patient; {args.runs} timed runs after "
        f"{args.warmup} warm-up; Python {platform.python_version()} on "
        f"{platform.machine()} ({os.cpu_count()} CPUs, shared; load average "
        f"{' / '.join(f'{value:.1f}' for value in os.getloadavg())} at the end).",
        "",
        "| backend | patients in the lot | what | median ms | p95 ms | min ms | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        for label in ("every site", "one site", "lot page"):
            r = result[label]
            target = ("met" if r["median"] < TARGET_MS else "MISSED") \
                if label == "every site" else ""
            lines.append(f"| {name} | {result['patients_in_lot']:,} | {label} "
                         f"| {r['median']:.1f} | {r['p95']:.1f} | {r['min']:.1f} "
                         f"| {target + f' (< {TARGET_MS:.0f})' if target else ''} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory(prefix="bench-lots-") as folder:
            results["sqlite"] = run_backend("sqlite", f"sqlite:///{folder}/bench.sqlite3", args)
    if args.postgres_url:
        url = create_postgres_database(args.postgres_url)
        try:
            results["postgresql"] = run_backend("postgresql", url, args)
        finally:
            drop_postgres_database(args.postgres_url, url)
    text = report(args, results)
    print(text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.output.exists()
    with args.output.open("a", encoding="utf-8") as handle:
        if new_file:
            handle.write("# Lot trace benchmark (`benchmarks/bench_lot_trace.py`)\n\n")
        handle.write(text + "\n")
    slow = [name for name, result in results.items()
            if result["every site"]["median"] >= TARGET_MS]
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
