"""Regenerate the README pictures in ``docs/screenshots/`` from the demo cohort.

    .venv/bin/python -m tests.e2e.screenshots          # or: make screenshots

Builds a fresh SQLite registry in a temporary folder, loads the demo cohort
(``registry demo``, fixed seed, "today" pinned to ``DEMO_TODAY`` so the pictures are the
same from run to run), serves it with gunicorn on 127.0.0.1 and photographs the main
pages in Debian's Chromium as the demo users see them.  Needs ``/usr/bin/chromium`` (or
``REGISTRY_CHROMIUM``); downloads nothing.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from tests.e2e.browser import chromium_available, chromium_path, launch
from tests.e2e.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "screenshots"
DEMO_TODAY = date(2026, 6, 1)
VIEWPORT = {"width": 1280, "height": 860}
WIDE = {"width": 1920, "height": 1080}  # the pages meant for a clinic's wide screen
DEMO_LOGINS = {"clinician": ("clinician@demo.koa-registry.test", "demo clinician password"),
               "coordinator": ("coordinator@demo.koa-registry.test",
                               "demo coordinator password"),
               "researcher": ("researcher@demo.koa-registry.test", "demo researcher password"),
               "admin": ("admin@demo.koa-registry.test", "demo administrator password"),
               # The Madrid clinic's coordinator: the Spanish interface.
               "coordinator.madrid": ("coordinacion.madrid@demo.koa-registry.test",
                                      "contraseña de demostración de coordinación")}


def showcase_patient(database: Path) -> tuple[int, int]:
    """(patient id, baseline visit id) of an Oslo patient with three or more visits done,
    preferring one with a serious adverse event (the top of the patient page shows it),
    then the most visits done."""
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT p.id, count(v.id) AS done, (SELECT count(*) FROM adverse_event a "
            "WHERE a.patient_id = p.id AND a.serious) AS serious, (SELECT count(*) FROM "
            "adverse_event a WHERE a.patient_id = p.id) AS events FROM patient p "
            "JOIN site s ON s.id = p.site_id "
            "JOIN visit v ON v.patient_id = p.id AND v.status = 'done' WHERE s.code = 'OSL' "
            "GROUP BY p.id ORDER BY done >= 3 DESC, serious DESC, done DESC, events DESC, p.id "
            "LIMIT 1"
        ).fetchone()
        baseline = connection.execute(
            "SELECT v.id FROM visit v JOIN timepoint t ON t.id = v.timepoint_id "
            "WHERE v.patient_id = ? AND t.is_baseline", (row[0],)).fetchone()
    return int(row[0]), int(baseline[0])


def recalled_lot(database: Path) -> int:
    """The id of the demo's recalled lot (its page lists the flagged patients)."""
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT id FROM product_lot WHERE release_status = 'recalled' ORDER BY id "
            "LIMIT 1").fetchone()
    return int(row[0])


def sign_in(page: Any, role: str) -> None:
    email, password = DEMO_LOGINS[role]
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/home")


def load_images(page: Any) -> None:
    """Scroll every (lazy) image into view and wait until all have loaded."""
    for image in page.locator("main img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    page.evaluate("() => window.scrollTo(0, 0)")


def take(browser: Any, server: LiveServer, role: str, shots: list[tuple[str, str, str | None]],
         output: Path, viewport: dict[str, int] = VIEWPORT) -> list[Path]:
    """Sign in as ``role``; for each (file, path, element to scroll to or None) save a PNG
    of the window (``viewport``: 1280×860 unless given)."""
    context = browser.new_context(base_url=server.base_url, viewport=viewport,
                                  locale="en-GB", device_scale_factor=1)
    page = context.new_page()
    sign_in(page, role)
    saved = []
    for filename, path, selector in shots:
        page.goto(path)
        load_images(page)
        target = output / filename
        if selector is not None:  # bring that part of the page to the top of the window
            page.locator(selector).evaluate(
                "element => { element.scrollIntoView(); window.scrollBy(0, -60); }")
        page.screenshot(path=str(target))
        saved.append(target)
        print(f"  {target.relative_to(ROOT)}  ({role}: {path})", flush=True)
    context.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if not chromium_available():
        print(f"Chromium not found at {chromium_path()}: apt-get install chromium",
              file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registry-screenshots-") as folder:
        database = Path(folder) / "registry.sqlite3"
        server = LiveServer(instance=Path(folder) / "instance",
                            database_url=f"sqlite:///{database}", today=DEMO_TODAY)
        server.instance.mkdir()
        print("Loading the demo cohort …", flush=True)
        server.cli("init")
        server.cli("demo")
        patient_id, baseline_id = showcase_patient(database)
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                take(browser, server, "coordinator",
                     [("worklist.png", "/followup/", None)], args.output, viewport=WIDE)
                take(browser, server, "coordinator",
                     [("grid.png", "/followup/grid", None)], args.output, viewport=WIDE)
                take(browser, server, "coordinator.madrid",
                     [("worklist-es.png", "/followup/", None)], args.output, viewport=WIDE)
                take(browser, server, "admin",
                     [("lot-recalled.png", f"/lots/{recalled_lot(database)}", None)],
                     args.output)
                take(browser, server, "clinician", [
                    ("visit-entry.png", f"/patients/{patient_id}/visits/{baseline_id}",
                     "section[data-instrument=womac]"),
                    ("patient-page.png", f"/patients/{patient_id}", None),
                    ("patient-charts.png", f"/patients/{patient_id}",
                     "section[aria-labelledby=charts-heading]"),
                    ("patient-list.png", "/patients/?sort=followup", None),
                    ("clinician-home.png", "/home", None)], args.output)
                take(browser, server, "researcher", [
                    ("cohort-summary.png", "/research/cohorts/all/summary", None)], args.output)
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
