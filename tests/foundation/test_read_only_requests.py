"""Reading requests (GET) cannot write, and on PostgreSQL they skip BEGIN/COMMIT."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, update

from registry import audit_capture as capture
from registry.db import ReadOnlySession, get_session
from registry.models import Site


def _add_probe_routes(app: Flask, site_id: int) -> None:
    """Routes that try to write, or report the transaction mode, for every method."""

    def rename() -> str:
        session = get_session()
        with capture.reason(session, "renamed by the probe"):
            session.get(Site, site_id).name = "Renamed"
        return "renamed"

    def bulk_rename() -> str:
        get_session().execute(update(Site).where(Site.id == site_id).values(name="Bulk"))
        return "renamed"

    def isolation() -> str:
        connection = get_session().connection()
        mode = connection.get_execution_options().get("isolation_level", "default")
        autocommit = getattr(connection.connection.driver_connection, "autocommit", None)
        return f"{mode} {autocommit}"

    app.add_url_rule("/probe/rename", "probe_rename", rename, methods=["GET", "POST"])
    app.add_url_rule("/probe/bulk", "probe_bulk", bulk_rename, methods=["GET"])
    app.add_url_rule("/probe/isolation", "probe_isolation", isolation, methods=["GET", "POST"])


@pytest.mark.parametrize("path", ["/probe/rename", "/probe/bulk"])
def test_a_get_that_tries_to_write_is_refused_and_nothing_changes(app, client, db, site_a,
                                                                   path):
    _add_probe_routes(app, site_a.id)
    with pytest.raises(ReadOnlySession, match="reading request"):
        client.get(path)
    db.expire_all()
    assert db.scalar(select(Site.name).where(Site.id == site_a.id)) == "Clinic A"


def test_a_post_may_write(app, client, db, site_a):
    app.config["WTF_CSRF_ENABLED"] = False
    _add_probe_routes(app, site_a.id)
    assert client.post("/probe/rename").get_data(as_text=True) == "renamed"
    db.expire_all()
    assert db.scalar(select(Site.name).where(Site.id == site_a.id)) == "Renamed"


def test_outside_a_request_sessions_may_write(app, site_a):
    with app.app_context():
        session = get_session()
        with capture.reason(session, "a script"):
            session.get(Site, site_a.id).name = "Renamed by a script"
        session.rollback()


def test_on_postgresql_reads_run_without_a_transaction(backend, migrated_database_url,
                                                       app_factory, tmp_path):
    app = app_factory(migrated_database_url, tmp_path / "instance", WTF_CSRF_ENABLED=False)
    with app.app_context():
        session = get_session()
        site = Site(code="ISO", name="Isolation clinic")
        session.add(site)
        session.commit()
        site_id = site.id
    _add_probe_routes(app, site_id)
    client = app.test_client()
    reading = client.get("/probe/isolation").get_data(as_text=True)
    writing = client.post("/probe/isolation").get_data(as_text=True)
    if backend == "postgresql":  # psycopg sends no BEGIN for reads
        assert (reading, writing) == ("AUTOCOMMIT True", "default False")
    else:  # SQLite: BEGIN (deferred) for reads, BEGIN IMMEDIATE for writes, as before
        assert reading.startswith("default ")
        assert writing.startswith("default ")
    with pytest.raises(ReadOnlySession):
        client.get("/probe/rename")
    with app.app_context():
        assert get_session().get(Site, site_id).name == "Isolation clinic"
