"""Parallel wrong passwords get no more guesses than the lockout allows.

Sixteen sign-ins with wrong passwords for one account, sent at once from sixteen threads
against the real app on a database whose commits are real (each request is its own
transaction on its own connection, as under gunicorn).  The threads wait at a barrier
until every one of them is ready, so the guesses really overlap.  Counting failures by
reading ``failed_logins`` and writing it back let all of them be checked on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from registry.auth import passwords
from registry.auth.services import create_user
from registry.db import get_session, writing
from registry.models import AuditEvent, User, utcnow
from tests.fixtures.accounts import PASSWORD

GUESSES = 16
MAX_FAILED = 5


@pytest.fixture
def racing_app(migrated_database_url, app_factory, tmp_path):
    app = app_factory(migrated_database_url, tmp_path, MAX_FAILED_LOGINS=MAX_FAILED)
    with app.app_context(), writing():
        session = get_session()
        user = create_user(session, email="target@example.org", full_name="Target",
                           role="clinician", password=PASSWORD, site_codes=[])
        session.commit()
        app.config["TEST_USER_ID"] = user.id
        app.config["TEST_USER_HASH"] = user.password_hash
    return app


def test_parallel_wrong_passwords_are_checked_at_most_the_lockout_count(racing_app,
                                                                        monkeypatch):
    app = racing_app
    evaluated: list[str] = []
    real_verify = passwords.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        if password_hash == app.config["TEST_USER_HASH"]:
            evaluated.append(password)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting_verify)
    ready = threading.Barrier(GUESSES)

    def guess(number: int) -> int:
        client = app.test_client()
        assert client.get("/login").status_code == 200  # warmed up: app, pool, templates
        ready.wait(timeout=60)  # every thread is ready before the first guess leaves
        response = client.post("/login", data={"email": "target@example.org",
                                               "password": f"wrong guess number {number}"})
        return response.status_code

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        statuses = list(pool.map(guess, range(GUESSES)))

    assert statuses == [401] * GUESSES
    assert len(evaluated) == MAX_FAILED, evaluated
    with app.app_context():
        session = get_session()
        user = session.get(User, app.config["TEST_USER_ID"])
        assert user.failed_logins == MAX_FAILED
        assert user.locked_until is not None
        assert user.locked_until > utcnow()
        actions = dict(session.execute(
            select(AuditEvent.action, func.count(AuditEvent.id))
            .where(AuditEvent.entity_id == str(user.id))
            .group_by(AuditEvent.action)).all())
    assert actions["login_failed"] == MAX_FAILED  # each failed attempt audited, as before
    assert actions["account_locked"] == 1
    assert actions["login_refused_locked"] == GUESSES - MAX_FAILED
