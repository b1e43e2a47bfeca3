"""The failure counter under concurrency: workers counting at once lose no hit."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.orm import Session

from registry import throttle
from registry.models import RequestThrottle, utcnow

WORKERS = 4
HITS_EACH = 10


def test_concurrent_hits_are_all_counted(app_factory, migrated_database_url, tmp_path):
    """Real commits on a database of its own: threads with their own connections."""
    app = app_factory(migrated_database_url, tmp_path / "instance")
    window = throttle.Window(limit=1000, seconds=900)
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                start.wait()
                for _ in range(HITS_EACH):
                    throttle.count_hit("race", window)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(app.extensions["registry.engine"]) as session:
        counter = session.get(RequestThrottle, "race")
        assert counter is not None
        assert counter.hits == WORKERS * HITS_EACH
        with app.app_context():
            assert throttle.retry_after(session, "race", window) is None
            assert throttle.retry_after(session, "race", throttle.Window(40, 900)) > 0


def test_a_new_window_starts_from_one(app_factory, migrated_database_url, tmp_path):
    app = app_factory(migrated_database_url, tmp_path / "instance")
    window = throttle.Window(limit=2, seconds=60)
    now = utcnow()
    with app.app_context():
        assert [throttle.count_hit("k", window, now) for _ in range(3)] == [1, 2, 3]
        later = now + timedelta(seconds=61)
        assert throttle.count_hit("k", window, later) == 1
        with Session(app.extensions["registry.engine"]) as session:
            assert throttle.retry_after(session, "k", window, later) is None
            throttle.count_hit("k", window, later)
            session.rollback()  # a new snapshot (SQLite keeps the read transaction's)
            assert throttle.retry_after(session, "k", window, later) == 60
