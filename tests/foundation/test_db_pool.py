"""Pooled PostgreSQL connections: pinged only after sitting idle, dead ones replaced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry import db
from registry.db import make_engine


@pytest.fixture
def pg_engine(backend: str, database_url: str) -> Iterator[Engine]:
    if backend != "postgresql":
        pytest.skip("connection pinging applies to PostgreSQL (SQLite has no server)")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The connections the dialect pinged (the real ping still runs)."""
    seen: list[Any] = []
    real_ping = pg_engine.dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", counting_ping)
    return seen


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(database_url: str, pid: int) -> None:
    """End a server process from another connection (as a server restart would)."""
    admin = make_engine(database_url)
    with admin.connect() as connection:
        ended = connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert ended.scalar_one() is True
    admin.dispose()


def test_connections_in_steady_use_are_not_pinged(pg_engine: Engine, pings: list[Any]) -> None:
    first = backend_pid(pg_engine)
    for _ in range(5):
        assert backend_pid(pg_engine) == first  # the same pooled connection every time
    assert pings == []


def test_an_idle_connection_is_pinged_before_use(pg_engine: Engine, pings: list[Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first = backend_pid(pg_engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every returned connection is "idle"
    assert backend_pid(pg_engine) == first
    assert len(pings) == 1


def test_a_dead_idle_connection_is_replaced_without_an_error(
        pg_engine: Engine, database_url: str, pings: list[Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = backend_pid(pg_engine)
    terminate(database_url, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    replacement = backend_pid(pg_engine)  # no error: the ping failed, a new one was made
    assert replacement != first
    assert len(pings) == 1


def test_without_idling_a_dead_connection_fails_once_then_the_pool_recovers(
        pg_engine: Engine, database_url: str, pings: list[Any]) -> None:
    """What the ping-on-idle rule gives up: a statement in steady use meets the dead
    connection; it fails, the pool is renewed and the next request works."""
    first = backend_pid(pg_engine)
    terminate(database_url, first)
    with pytest.raises(DBAPIError) as failure:
        backend_pid(pg_engine)
    assert failure.value.connection_invalidated
    assert backend_pid(pg_engine) != first
    assert pings == []
