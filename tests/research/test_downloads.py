"""Downloads named after any cohort (RFC 6266), audited only when delivered."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.http import parse_options_header
from werkzeug.test import EnvironBuilder

from registry.downloads import ascii_fallback, content_disposition
from registry.models import AuditEvent, Cohort
from tests.research.helpers import export

NAMES = ["Łódź", "Москва", "Knees 😀", 'say "hi"; filename=evil.exe', "a\\b;c"]


def _cohort(db, name: str) -> Cohort:
    cohort = Cohort(name=name, definition={})
    db.add(cohort)
    db.flush()
    return cohort


def _filename(header: str) -> str:
    header.encode("ascii")  # a header value any server can send
    kind, options = parse_options_header(header)
    assert kind == "attachment"
    assert "filename" in options
    return options["filename"]  # filename* (UTF-8) when present


def _exports(db) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == "export")))


def serve(app: Flask, client, method: str, path: str, data=None) -> tuple[str, dict, bytes]:
    """Run one request the way a WSGI server does: the headers are sent as Latin-1 (PEP
    3333), which fails for any other character, after the app has finished (committed)."""
    builder = EnvironBuilder(path=path, method=method, data=data)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    builder.headers["Cookie"] = f"{cookie.key}={cookie.value}"
    environ = builder.get_environ()
    sent: dict = {}

    def start_response(status, headers, exc_info=None):
        sent["status"] = status
        sent["headers"] = {key: value.encode("latin-1").decode("latin-1")
                           for key, value in headers}

    body = app(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return sent["status"], sent["headers"], content


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_of_a_cohort_with_any_name_is_delivered_and_audited(app, auth, client, db,
                                                                   cohort_data, name, fmt):
    auth.login("researcher")
    cohort = _cohort(db, name)
    status, headers, content = serve(app, client, "POST",
                                     f"/research/cohorts/{cohort.id}/export",
                                     {"format": fmt, "shape": "long"})
    assert status.startswith("200")
    filename = _filename(headers["Content-Disposition"])
    assert filename.endswith(f".{'xlsx' if fmt == 'xlsx' else 'zip'}")
    assert filename.startswith("registry-export-")
    if fmt == "csv":
        assert "manifest.json" in zipfile.ZipFile(io.BytesIO(content)).namelist()
    rows = _exports(db)
    assert len(rows) == 1
    facts = json.loads(rows[0].new_value)
    assert facts["cohort"] == name
    assert facts["file"] == filename
    assert rows[0].entity_id == str(cohort.id)


def test_long_non_latin_cohort_name_is_exported_on_every_database(auth, client, db,
                                                                  cohort_data):
    """A name longer than the audit trail's record-id column (40) is fine: the row is
    keyed by the cohort's id, the name is in its facts."""
    auth.login("researcher")
    cohort = _cohort(db, "Łódź – Москва – " + "x" * 100)
    response = export(client, key=str(cohort.id))
    assert response.status_code == 200
    assert json.loads(_exports(db)[0].new_value)["cohort"] == cohort.name


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_chart_downloads_of_a_cohort_with_any_name(app, auth, client, db, cohort_data, name,
                                                   fmt):
    auth.login("researcher")
    cohort = _cohort(db, name)
    status, headers, content = serve(
        app, client, "GET", f"/research/cohorts/{cohort.id}/charts/change.{fmt}?download=1")
    assert status.startswith("200")
    filename = _filename(headers["Content-Disposition"])
    assert filename.endswith(f"-change-vas_pain.{fmt}")
    assert content


def test_no_audit_row_when_the_download_cannot_be_built(monkeypatch, app, auth, client, db,
                                                        cohort_data):
    from registry.research import routes

    def broken(response, filename):
        raise RuntimeError("header building failed")

    monkeypatch.setattr(routes, "as_download", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answered by the error page, as in production
    auth.login("researcher")
    response = export(client, key=str(_cohort(db, "Łódź").id))
    assert response.status_code == 500
    assert _exports(db) == []


def test_audit_csv_and_call_list_are_named_with_the_same_helper(app, auth, client, db,
                                                                site_a):
    auth.login("admin", sites=[site_a])
    status, headers, content = serve(app, client, "POST", "/admin/audit/export.csv", {})
    assert status.startswith("200")
    assert _filename(headers["Content-Disposition"]) == "audit-trail.csv"
    assert content.startswith(b"id,occurred_at")
    status, headers, _content = serve(app, client, "POST", "/followup/call-list.csv", {})
    assert status.startswith("200")
    assert _filename(headers["Content-Disposition"]).startswith("call-list-")


@pytest.mark.parametrize(("name", "fallback"), [
    ("Łódź.zip", "odz.zip"), ("Москва.xlsx", "download.xlsx"), ('a "b"; c.csv', "a-b-c.csv"),
    ("plain-name.csv", "plain-name.csv")])
def test_content_disposition(name, fallback):
    header = content_disposition(name)
    assert ascii_fallback(name) == fallback
    assert header.startswith(f'attachment; filename="{fallback}"; filename*=UTF-8\'\'')
    assert parse_options_header(header)[1]["filename"] == name
