"""A worker serving clinical pages does not load the research stack.

pandas, pyarrow and matplotlib cost a gunicorn worker most of its memory and start-up
(see ``benchmarks/bench_worker.py``); only research views need them, so they are
imported inside those views.  A fresh interpreter (as a worker is) creates the app on a
migrated SQLite file holding a small demo cohort, signs a coordinator in through the
form, opens the home page, the worklist, a patient page and a visit page, and reports
which of the three it has imported: none.  Then a researcher exports a cohort as Parquet
and opens a chart, and all three are there — so the check can fail.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from registry import create_app, migrate
from registry.db import get_session, writing
from registry.demo import DEMO_DOMAIN, load_demo

HEAVY = ("pandas", "pyarrow", "matplotlib")
ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: argv[1] is a JSON object of the settings and the pages.
WORKER = r"""
import json, re, sys

setup = json.loads(sys.argv[1])
HEAVY = ("pandas", "pyarrow", "matplotlib")
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

from registry import create_app

app = create_app(setup["config"])
loaded = {"created": [name for name in HEAVY if name in sys.modules]}


def sign_in(email, password):
    client = app.test_client()
    token = TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


client = sign_in(*setup["coordinator"])
for page in setup["clinical_pages"]:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
loaded["clinical"] = [name for name in HEAVY if name in sys.modules]

client = sign_in(*setup["researcher"])
page = client.get("/research/cohorts/all").get_data(as_text=True)
response = client.post("/research/cohorts/all/export", data={
    "format": "parquet", "shape": "long", "csrf_token": TOKEN.search(page).group(1)})
assert response.status_code == 200, response.status_code
assert client.get("/research/cohorts/all/charts/change.svg").status_code == 200
loaded["research"] = [name for name in HEAVY if name in sys.modules]
print(json.dumps(loaded))
"""


def _demo_database(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A migrated SQLite file with a small demo cohort; the settings to open it with."""
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    migrate.upgrade(url)
    config = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
              "SECRET_KEY": "footprint", "AUDIT_KEY": "footprint",
              "PSEUDONYM_KEY": "footprint", "TODAY": "2026-06-01"}
    app = create_app(config)
    with app.app_context(), writing():
        session = get_session()
        load_demo(session, seed=7, patients=12)
        session.commit()
    app.extensions["registry.engine"].dispose()
    return url, config


def test_clinical_pages_leave_the_research_stack_unloaded(tmp_path):
    url, config = _demo_database(tmp_path)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        patient_id, visit_id = connection.execute(
            "SELECT p.id, min(v.id) FROM patient p JOIN site s ON s.id = p.site_id "
            "JOIN visit v ON v.patient_id = p.id WHERE s.code = 'OSL' "
            "GROUP BY p.id ORDER BY p.id LIMIT 1").fetchone()
    setup = {
        "config": config,
        "coordinator": [f"coordinator@{DEMO_DOMAIN}", "demo coordinator password"],
        "researcher": [f"researcher@{DEMO_DOMAIN}", "demo researcher password"],
        "clinical_pages": ["/home", "/followup/", f"/patients/{patient_id}",
                           f"/patients/{patient_id}/visits/{visit_id}"],
    }
    result = subprocess.run([sys.executable, "-c", WORKER, json.dumps(setup)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["created"] == []
    assert loaded["clinical"] == [], (
        f"{loaded['clinical']} imported by a clinical page; find who with "
        "python -X importtime or sys.modules")
    assert loaded["research"] == list(HEAVY)  # the check can see them
