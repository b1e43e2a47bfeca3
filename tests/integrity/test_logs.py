"""Logs never contain passwords, password hashes, session tokens or session cookies.

A real HTTP server (werkzeug's, as ``registry run`` uses) serves the app while every
logger — root, the app's, werkzeug's request log and SQLAlchemy's statement log — is
captured at DEBUG level through a failed sign-in, a sign-in, a password change and a
sign-out.  The secrets seen on the way must not appear anywhere in the captured text.
"""

from __future__ import annotations

import http.cookiejar
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from registry.auth.services import create_user
from registry.db import get_session
from registry.models import User
from tests.integrity.helpers import committed_app

OLD_PASSWORD = "first secret horse battery"  # noqa: S105 - a test account's password
NEW_PASSWORD = "second secret staple lantern"  # noqa: S105
WRONG_PASSWORD = "wrong guess for the account"  # noqa: S105
# Two logging set-ups: everything at DEBUG (SQLAlchemy's logger left unset, as an operator
# turning on debug logging would), and SQLAlchemy's statement log switched on explicitly at
# INFO (what ``echo=True`` does; its DEBUG level also prints result rows, a developer's
# deliberate choice).
LOGGING = {
    "root at DEBUG": {"": logging.DEBUG, "sqlalchemy.engine": logging.NOTSET},
    "statement log on": {"": logging.DEBUG, "sqlalchemy.engine": logging.INFO},
}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@contextmanager
def captured_logs(levels_wanted: dict[str, int]) -> Iterator[_Collect]:
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in levels_wanted]
    levels = [logger.level for logger in loggers]
    for logger, level in zip(loggers, levels_wanted.values(), strict=True):
        logger.setLevel(level)
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def served(migrated_database_url: str) -> Iterator[tuple[str, object]]:
    """The app behind a real werkzeug server on a free local port."""
    app = committed_app(migrated_database_url)
    with app.app_context():
        session = get_session()
        create_user(session, email="logs@example.org", full_name="Log Test", role="clinician",
                    password=OLD_PASSWORD, site_codes=[])
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=10)
    app.extensions["registry.engine"].dispose()


def _post(opener: urllib.request.OpenerDirector, url: str, fields: dict[str, str]) -> int:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(url, data=data, timeout=30) as response:  # noqa: S310 - local server
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return int(error.code)


@pytest.mark.parametrize("levels", LOGGING.values(), ids=LOGGING.keys())
def test_sign_in_and_password_change_leave_no_secret_in_the_logs(migrated_database_url: str,
                                                                 levels: dict[str, int]) -> None:
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    secrets_seen: set[str] = {OLD_PASSWORD, NEW_PASSWORD, WRONG_PASSWORD}
    with captured_logs(levels) as logs, served(migrated_database_url) as (base, app):
        assert _post(opener, f"{base}/login", {"email": "logs@example.org",
                                               "password": WRONG_PASSWORD}) == 401
        assert _post(opener, f"{base}/login", {"email": "logs@example.org",
                                               "password": OLD_PASSWORD}) == 200
        secrets_seen |= {cookie.value for cookie in cookies if cookie.value}
        assert _post(opener, f"{base}/account/password", {
            "current_password": OLD_PASSWORD, "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD}) == 200
        secrets_seen |= {cookie.value for cookie in cookies if cookie.value}
        assert _post(opener, f"{base}/logout", {}) == 200
        with app.app_context():
            user = get_session().scalar(select(User).where(User.email == "logs@example.org"))
            secrets_seen |= {user.password_hash, user.session_token}
    text = "\n".join(logs.lines)
    assert "POST /account/password HTTP/1.1" in text  # the request log was captured
    if levels["sqlalchemy.engine"] == logging.INFO:
        assert "UPDATE app_user SET" in text  # and so was the SQL statement log
    leaked = sorted(secret for secret in secrets_seen if secret and secret in text)
    assert leaked == []
