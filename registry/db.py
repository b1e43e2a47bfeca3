"""Database engine and the per-request session.

SQLite is the embedded default: foreign keys on, WAL journal, a busy timeout, and
``BEGIN IMMEDIATE`` for transactions that will write (so that two writers queue on the
lock instead of failing with "database is locked" when a read transaction upgrades).
PostgreSQL is used through psycopg 3 with the same models and migrations.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Set for the duration of a request or command that writes: SQLite then starts its
# transactions with BEGIN IMMEDIATE (https://www.sqlite.org/lang_transaction.html).
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, busy_timeout_ms: int = 10000, **kwargs: Any) -> Engine:
    """Create an engine configured for the registry's database."""
    # Statement parameters (health data, password hashes, session tokens) never reach the
    # SQL log or error messages, whatever logging is switched on.
    kwargs.setdefault("hide_parameters", True)
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Pragmas and explicit transaction control for pysqlite.

    pysqlite's own implicit BEGIN is switched off so that we can choose between BEGIN
    and BEGIN IMMEDIATE (SQLAlchemy documentation, "Serializable isolation / Savepoints /
    Transactional DDL" for the pysqlite driver).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def init_app(app: Flask) -> None:
    """Create the engine and session factory and close sessions after each request."""
    engine = make_engine(
        app.config["DATABASE_URL"], busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"]
    )
    app.extensions["registry.engine"] = engine
    app.extensions["registry.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None or session.in_transaction():
                session.rollback()
            session.close()


def get_session() -> Session:
    """The session of the current request or command (created on first use)."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = current_app.extensions["registry.sessionmaker"]()
    session: Session = g.db_session
    return session


def get_engine() -> Engine:
    from flask import current_app

    engine: Engine = current_app.extensions["registry.engine"]
    return engine


@contextmanager
def writing() -> Iterator[None]:
    """Mark the enclosed work as a writing transaction (BEGIN IMMEDIATE on SQLite)."""
    token = write_intent.set(True)
    try:
        yield
    finally:
        write_intent.reset(token)
