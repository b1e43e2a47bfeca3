"""Benchmark: the patient page of a patient with all visits, charts included.

Targets: under 100 ms server time for the page (its small-multiples charts are drawn in
the same response, as inline SVG), and under 1 s for the whole page in a browser.

Builds a small registry in a fresh database (SQLite file, or a throw-away PostgreSQL
database): ``--background`` other patients with 4 recorded visits each, then one patient
enrolled, treated and followed through the real web forms (4 scheduled visits and 6
unscheduled ones, each with VAS, PGA, WOMAC and KOOS: 23 scores, so 23 chart panels) as a
signed-in clinician.  Then requests that patient's page ``--warmup`` times untimed and
``--requests`` times timed through the Flask test client, and reports median / 95th
percentile / max, the number of SQL statements and chart panels per page, and the same
timings for one chart opened as an image of its own ("Open image").

With Chromium (``/usr/bin/chromium``, Playwright) and SQLite, the page is also loaded in
the browser from gunicorn (``--browser-loads`` times after a warm-up): time to the load
event, and the number of image requests the page makes (0: the charts come with it).

    .venv/bin/python benchmarks/bench_patient_page.py                  # SQLite (+ PG if set)
    .venv/bin/python benchmarks/bench_patient_page.py --requests 50 --background 20
    .venv/bin/python benchmarks/bench_patient_page.py --postgres-url postgresql://u@host/db

PostgreSQL: the server URL comes from ``--postgres-url`` or REGISTRY_TEST_POSTGRES_URL.
Results are appended to ``benchmarks/results/patient_page.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scoring  # noqa: E402
from registry import create_app, migrate  # noqa: E402
from registry.auth.services import create_user  # noqa: E402
from registry.db import get_session, writing  # noqa: E402
from registry.models import IndexKnee, Patient, PatientIdentity, Site, Treatment, Visit  # noqa: E402
from registry.scheduling import default_protocol, schedule_visits  # noqa: E402
from registry.scores import save_response  # noqa: E402
from registry.vocabularies import ELIGIBILITY_CRITERIA  # noqa: E402
from tests.fixtures.database import create_postgres_database, drop_postgres_database  # noqa: E402

TODAY = date(2026, 6, 1)
TREATED = date(2026, 1, 1)
PASSWORD = "benchmark clinician password"
EMAIL = "clinician@bench.example"
TARGET_MS = 100.0
BROWSER_TARGET_MS = 1000.0
RESULTS = ROOT / "benchmarks" / "results" / "patient_page.txt"


def answers(level: int) -> dict[str, dict[str, int]]:
    items = {code: {item.code: level for item in scoring.INSTRUMENTS[code].items}
             for code in ("womac", "koos")}
    return {"vas": {"VAS": 20 * level}, "pga": {"PGA": 15 * level}, **items}


def form_answers(level: int) -> dict[str, str]:
    return {f"{code}-{item}": str(value) for code, items in answers(level).items()
            for item, value in items.items()}


def build_background(app: Any, count: int) -> None:
    """Other patients at the same site, recorded through the services (scores + audit)."""
    with app.app_context(), writing():
        session = get_session()
        site = session.scalar(select(Site))
        protocol = default_protocol(session, site.id)
        for number in range(1, count + 1):
            patient = Patient(study_id=f"{site.code}-{number:04d}", site_id=site.id,
                              site_sequence=number, protocol_id=protocol.id, sex="female",
                              birth_date=date(1960, 1, 1), consent_date=date(2025, 11, 1))
            patient.identity = PatientIdentity(site_id=site.id, family_name=f"Bg{number}",
                                               given_name="X", medical_record_number=f"B{number}")
            patient.index_knee = IndexKnee(laterality="left", kl_grade=2, eligibility={})
            patient.treatment = Treatment(treatment_date=TREATED, cell_source="bmac",
                                          product_name="P", lot_number="L", operator="O")
            session.add(patient)
            session.flush()
            visits = schedule_visits(session, patient, TREATED)
            for visit, level, day in zip(visits, (3, 2, 1, 1), (-10, 28, 91, 140), strict=True):
                visit.visit_date, visit.status = TREATED + timedelta(days=day), "done"
                for code, values in answers(level).items():
                    save_response(session, visit, code, values)
        session.commit()


def build_patient_through_forms(app: Any) -> int:
    client = app.test_client()
    assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
    with app.app_context():
        site_id = get_session().scalar(select(Site.id))
    enrol = {"site_id": str(site_id), "family_name": "Bench", "given_name": "Mark",
             "medical_record_number": "BENCH-1", "preferred_contact": "phone", "sex": "male",
             "birth_date": "1955-05-05", "height_cm": "180", "weight_kg": "85",
             "laterality": "left", "kl_grade": "3", "consent_date": "2025-12-01"}
    enrol.update({f"elig_{code}": "yes" if expected else "no"
                  for code, (_label, expected) in ELIGIBILITY_CRITERIA.items()})
    response = client.post("/patients/new", data=enrol)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    patient_id = int(response.headers["Location"].split("/")[-2])
    treatment = {"treatment_date": TREATED.isoformat(), "cell_source": "bmac",
                 "product_name": "BMAC kit", "lot_number": "LOT-1", "injections": "1",
                 "operator": "Dr Bench"}
    assert client.post(f"/patients/{patient_id}/treatment", data=treatment).status_code == 302
    for _ in range(6):  # each press of the button carries its page's one-time key
        response = client.post(f"/patients/{patient_id}/visits/unscheduled",
                               data={"request_token": secrets.token_urlsafe(24)})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    with app.app_context():
        visits = list(get_session().execute(select(Visit.id, Visit.version)
                                            .where(Visit.patient_id == patient_id)
                                            .order_by(Visit.id)))
    days = [-10, 28, 91, 140, 7, 14, 45, 60, 120, 150]
    for (visit_id, version), day in zip(visits, days, strict=True):
        data = {"visit_date": (TREATED + timedelta(days=day)).isoformat(),
                "version": str(version), **form_answers(1 if day > 60 else 2)}
        response = client.post(f"/patients/{patient_id}/visits/{visit_id}", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return patient_id


def timed(client: Any, url: str, count: int) -> list[float]:
    """``count`` timings (ms) of GET ``url``, sorted."""
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return sorted(timings)


def figures(timings: list[float]) -> str:
    p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
    return (f"median {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
            f"max {timings[-1]:.1f} ms")


def browser_loads(database_url: str, patient_id: int, loads: int) -> str | None:
    """Load the page in Chromium from gunicorn ``loads`` times: time to the load event
    and image requests per load; None without Chromium or Playwright."""
    try:
        from playwright.sync_api import sync_playwright

        from tests.e2e.browser import chromium_available, launch
        from tests.e2e.server import LiveServer
    except ImportError:
        return None
    if not chromium_available():
        return None
    server = LiveServer(instance=Path(tempfile.mkdtemp(prefix="bench-page-live-")),
                        database_url=database_url, today=TODAY).start()
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(base_url=server.base_url,
                                    viewport={"width": 1280, "height": 900})
            page.goto("/login")
            page.get_by_label("E-mail").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/home")
            images: list[str] = []
            page.on("request", lambda request: images.append(request.url)
                    if request.resource_type == "image" else None)
            timings, panels = [], 0
            for attempt in range(loads + 3):
                images.clear()
                page.goto(f"/patients/{patient_id}", wait_until="load")
                elapsed = page.evaluate("""async () => {
                    await new Promise((done) => setTimeout(done, 0));
                    const [entry] = performance.getEntriesByType('navigation');
                    return entry.loadEventEnd - entry.startTime; }""")
                panels = page.locator("figure.chart-panel svg").count()
                if attempt >= 3:  # warm-up loads first
                    timings.append(float(elapsed))
            browser.close()
    finally:
        server.stop()
    timings.sort()
    verdict = "OK" if statistics.median(timings) < BROWSER_TARGET_MS else "SLOW"
    return (f"  in Chromium (gunicorn, {loads} loads): load event {figures(timings)}, "
            f"{panels} chart panels drawn, {len(images)} image requests/page "
            f"[{verdict} < {BROWSER_TARGET_MS:.0f} ms]")


def run(database_url: str, args: argparse.Namespace) -> list[str]:
    migrate.upgrade(database_url)
    instance = Path(tempfile.mkdtemp(prefix="bench-page-"))
    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "bench", "AUDIT_KEY": "bench", "PSEUDONYM_KEY": "bench",
                      "WTF_CSRF_ENABLED": False, "TODAY": TODAY.isoformat()})
    with app.app_context(), writing():
        session = get_session()
        session.add(Site(code="BEN", name="Bench clinic"))
        session.flush()
        create_user(session, email=EMAIL, full_name="Bench Clinician", role="clinician",
                    password=PASSWORD, site_codes=["BEN"])
        session.commit()
    build_background(app, args.background)
    patient_id = build_patient_through_forms(app)
    client = app.test_client()
    client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    url = f"/patients/{patient_id}"
    for _ in range(args.warmup):
        assert client.get(url).status_code == 200
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    engine = app.extensions["registry.engine"]
    event.listen(engine, "before_cursor_execute", record)
    html = client.get(url).get_data(as_text=True)
    event.remove(engine, "before_cursor_execute", record)
    panels = html.count('class="chart-panel"')
    timings = timed(client, url, args.requests)
    image = timed(client, f"{url}/charts/koos_pain.svg", args.requests)
    engine.dispose()
    backend = database_url.split(":", 1)[0]
    verdict = "OK" if statistics.median(timings) < TARGET_MS else "SLOW"
    lines = [f"{time.strftime('%Y-%m-%d %H:%M')} {backend}: patient page, 10 visits, "
             f"{args.background} background patients, {args.requests} requests: "
             f"{figures(timings)}, {len(statements)} SQL statements/page, {panels} chart "
             f"panels inline [{verdict} < {TARGET_MS:.0f} ms]; one chart as an image: "
             f"{figures(image)} ({platform.python_version()}, {platform.machine()})"]
    if backend == "sqlite" and args.browser_loads:
        line = browser_loads(database_url, patient_id, args.browser_loads)
        lines.append(line or "  in Chromium: skipped (no Chromium or Playwright)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--background", type=int, default=200)
    parser.add_argument("--postgres-url", default=os.environ.get("REGISTRY_TEST_POSTGRES_URL"))
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--browser-loads", type=int, default=20,
                        help="page loads in Chromium (SQLite only; 0: none)")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        lines.extend(run(f"sqlite:///{tmp}/bench.sqlite3", args))
    if args.postgres_url and not args.sqlite_only:
        url = create_postgres_database(args.postgres_url)
        try:
            lines.extend(run(url, args))
        finally:
            drop_postgres_database(args.postgres_url, url)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as results:
        for line in lines:
            print(line)
            results.write(line + "\n")


if __name__ == "__main__":
    main()
