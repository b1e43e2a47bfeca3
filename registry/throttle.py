"""Fixed-window request counters kept in the database (``RequestThrottle``).

Used for the patients' self-report pages: every failed token lookup on ``/r/`` counts
against the client address, and an address with ``limit`` failures inside the window is
refused (HTTP 429) until the window ends.  The counters live in the database, not in a
worker's memory, so that every gunicorn worker counts the same hits.

Counting is one statement, ``INSERT ... ON CONFLICT (key) DO UPDATE ... RETURNING``
(PostgreSQL, and SQLite since 3.35): the insert, the increment and the start of a new
window happen in one atomic step, so two workers counting at the same instant never lose
a hit (on PostgreSQL the second waits for the first's row lock; on SQLite the write lock
serialises them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Insert, bindparam, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from registry.db import writing
from registry.models import utcnow
from registry.models.base import UTCDateTime
from registry.models.selfreport import RequestThrottle


@dataclass(frozen=True)
class Window:
    """A counter's rule: at most ``limit`` hits per ``seconds``."""

    limit: int
    seconds: int


def retry_after(session: Session, key: str, window: Window,
                now: datetime | None = None) -> int | None:
    """Seconds until ``key`` may be served again, or None when it is not blocked."""
    now = now or utcnow()
    row = session.execute(select(RequestThrottle.hits, RequestThrottle.window_start)
                          .where(RequestThrottle.key == key)).one_or_none()
    if row is None or row.hits < window.limit:
        return None
    ends = row.window_start + timedelta(seconds=window.seconds)
    if ends <= now:
        return None
    return max(1, int((ends - now).total_seconds() + 0.999))


def _upsert(dialect: str, key: str, window: Window, now: datetime) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now_param = bindparam("now", now, type_=UTCDateTime())
    expired = RequestThrottle.window_start <= now - timedelta(seconds=window.seconds)
    statement = insert(RequestThrottle).values(key=key, window_start=now_param, hits=1)
    return statement.on_conflict_do_update(
        index_elements=[RequestThrottle.key],
        set_={"hits": case((expired, 1), else_=RequestThrottle.hits + 1),
              "window_start": case((expired, now_param),
                                   else_=RequestThrottle.window_start)},
    ).returning(RequestThrottle.hits)


def count_hit(key: str, window: Window, now: datetime | None = None) -> int:
    """Count one hit against ``key`` and COMMIT it at once, in a session of its own.

    Why its own session: the hit being counted is a refusal (a 404 for an unknown
    token), and the request's transaction is rolled back for every response >= 400
    (``registry.transactions``), which would undo the count.  So the count is written in
    a separate short transaction that commits before the page answers.

    The caller first ends the request's own transaction (``session.rollback()``; a
    failed lookup has nothing to keep): on SQLite a request transaction that already
    holds the write lock would otherwise make this second connection wait for it until
    the busy timeout.  Returns the hits in the current window, this one included.
    """
    now = now or utcnow()
    maker = current_app.extensions["registry.sessionmaker"]
    with writing(), maker() as session:
        dialect = session.get_bind().dialect.name
        hits = int(session.execute(_upsert(dialect, key, window, now)).scalar_one())
        session.commit()
    return hits


__all__ = ["Window", "count_hit", "retry_after"]
