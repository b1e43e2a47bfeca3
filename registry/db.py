"""Database engine and the per-request session.

SQLite is the embedded default: foreign keys on, WAL journal, a busy timeout, and
``BEGIN IMMEDIATE`` for transactions that will write (so that two writers queue on the
lock instead of failing with "database is locked" when a read transaction upgrades).
PostgreSQL is used through psycopg 3 with the same models and migrations.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

# Set for the duration of a request or command that writes: SQLite then starts its
# transactions with BEGIN IMMEDIATE (https://www.sqlite.org/lang_transaction.html).
write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)
READ_ONLY = "registry_read_only"  # session.info key: the session must not write


# Read the database file through a memory map (https://www.sqlite.org/mmap.html): every
# commit by another connection empties a connection's page cache, and re-reading pages
# from a map costs far less than read() calls — with several worker processes writing,
# that is most reads.
SQLITE_MMAP_BYTES = 1 << 30

# A pooled PostgreSQL connection idle for longer than this is tested before use.
PING_AFTER_IDLE_S = 10.0
_RETURNED_AT = "registry_returned_at"  # connection record info: when it was checked in


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
    engine = create_engine(url, **kwargs)
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Test a pooled connection before use only when it sat idle in the pool.

    ``pool_pre_ping`` would cost a round trip on every request.  A connection in steady
    use has just proved itself; one idle for more than ``PING_AFTER_IDLE_S`` (the server
    may have restarted, or a firewall dropped it) is pinged, and a dead one is replaced
    (``DisconnectionError``: the pool retries with a new connection — SQLAlchemy,
    "Disconnect Handling – Pessimistic", custom checkout ping).  A server restart during
    steady use fails at most the statements in flight, after which the pool is renewed.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is None or time.monotonic() - returned_at <= PING_AFTER_IDLE_S:
            return  # new, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure means: not usable
            raise DisconnectionError("idle connection failed its ping") from error
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


SQLITE_CHANGES_AT_BEGIN = "registry.sqlite_changes_at_begin"


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
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")
        # What the connection had changed when the transaction began: a reader on another
        # connection sees this transaction's data only while the count is unchanged.
        connection.info[SQLITE_CHANGES_AT_BEGIN] = (
            connection.connection.dbapi_connection.total_changes)


def sqlite_transaction_wrote(connection: Connection) -> bool:
    """Whether the SQLite transaction on ``connection`` has changed any row (so another
    connection would not see what this one sees); True when unknown."""
    at_begin = connection.info.get(SQLITE_CHANGES_AT_BEGIN)
    raw = connection.connection.dbapi_connection
    return at_begin is None or raw is None or raw.total_changes != at_begin


def postgres_transaction_wrote(connection: Connection) -> bool:
    """Whether the PostgreSQL transaction on ``connection`` has written anything (a
    transaction id is assigned at its first write: PostgreSQL, "Transactions and
    Identifiers")."""
    return connection.scalar(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")) \
        is not False


def plan_serially(connection: Connection) -> None:
    """PostgreSQL: the rest of ``connection``'s transaction is planned without parallel
    workers (``SET LOCAL``: it ends with the transaction).  For a reader that consumes
    rows only as fast as its own threads build from them (a large export): workers would
    not give it the rows sooner, only take CPU from those threads (measured on 2 cores,
    the score stream of 100,000 patients: 6.5-7.1 s of server CPU with 2 workers,
    4.5-4.9 s without, in no more time).  Other databases: nothing changes."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


class ReadOnlySession(RuntimeError):
    """A request that only reads (GET, HEAD, OPTIONS) tried to write."""


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySession("A reading request (GET) tried to change data.")


def _refuse_dml(state: ORMExecuteState) -> None:
    if state.session.info.get(READ_ONLY) and (state.is_insert or state.is_update
                                              or state.is_delete):
        raise ReadOnlySession("A reading request (GET) tried to change data.")


def init_app(app: Flask) -> None:
    """Create the engine and session factory and close sessions after each request."""
    engine = make_engine(
        app.config["DATABASE_URL"], busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"]
    )
    app.extensions["registry.engine"] = engine
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    app.extensions["registry.sessionmaker"] = maker
    event.listen(maker, "before_flush", _refuse_flush)
    event.listen(maker, "do_orm_execute", _refuse_dml)
    if engine.dialect.name == "postgresql":
        # Reading requests run without BEGIN/COMMIT round trips: under READ COMMITTED
        # every statement sees its own snapshot anyway, so a read-only transaction adds
        # nothing but two round trips.  Same connection pool (isolation is reset when a
        # connection is returned).
        app.extensions["registry.read_bind"] = engine.execution_options(
            isolation_level="AUTOCOMMIT")

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None or session.in_transaction():
                session.rollback()
            session.close()


def get_session() -> Session:
    """The session of the current request or command (created on first use)."""
    if "db_session" not in g:
        maker = current_app.extensions["registry.sessionmaker"]
        if write_intent.get() or not has_request_context():
            g.db_session = maker()
        else:
            # A reading request (GET …): refused if it tries to write (``_refuse_flush``).
            read_bind = current_app.extensions.get("registry.read_bind")
            g.db_session = maker(bind=read_bind) if read_bind is not None else maker()
            g.db_session.info[READ_ONLY] = True
    session: Session = g.db_session
    return session


def get_engine() -> Engine:
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
