"""The load benchmark's yardstick: a bare Flask page doing two queries.

Served by gunicorn exactly like the registry (same workers, same database), so the
registry's requests/s can be reported as a share of what Flask + SQLAlchemy + the
database do with no registry code at all:

    BARE_DATABASE_URL=sqlite:////tmp/x.sqlite3 gunicorn 'benchmarks.load_bare_app:create_app()'

``GET /patients/<id>``: the patient's study ID and the number of its visits (two
queries on the registry's own tables), rendered into a small HTML page.
"""

from __future__ import annotations

import os

from flask import Flask, abort, render_template_string
from sqlalchemy import text

from registry.db import make_engine

PAGE = """<!doctype html><html lang="en"><head><title>{{ study_id }}</title></head>
<body><main><h1>{{ study_id }}</h1><p>{{ visits }} visits</p></main></body></html>"""


def create_app() -> Flask:
    app = Flask(__name__)
    engine = make_engine(os.environ["BARE_DATABASE_URL"])

    @app.get("/patients/<int:patient_id>")
    def patient(patient_id: int) -> str:
        with engine.connect() as connection:
            study_id = connection.execute(
                text("SELECT study_id FROM patient WHERE id = :id"), {"id": patient_id}
            ).scalar()
            if study_id is None:
                abort(404)
            visits = connection.execute(
                text("SELECT count(*) FROM visit WHERE patient_id = :id"), {"id": patient_id}
            ).scalar()
        return render_template_string(PAGE, study_id=study_id, visits=visits)

    return app
