"""The request's transaction boundary, and stale writes turned into one 409 page.

- Until the database has been migrated to the code's schema, every page but static
  files is a 503 page saying so.
- A writing request (POST …) is marked as such before anything opens its transaction,
  so that SQLite starts it with BEGIN IMMEDIATE and a reading request gets a read-only
  session (``registry.db.write_intent``); the mark is cleared when the request ends.
- Every request runs in one database transaction: committed after a successful response
  (status < 400), rolled back otherwise, so a rejected form never leaves half-saved data.
- A write based on a stale copy of a record is refused with HTTP 409 wherever it is
  detected: by a service comparing the version the form was opened with
  (``ConflictError``), by SQLAlchemy's version counter at flush when another transaction
  committed first (``StaleDataError``: on PostgreSQL two concurrent UPDATEs of one row
  serialise on its row lock, and the second finds the version moved on), or at commit.
  Views that want to show the current values catch ``ConflictError`` themselves; every
  other path ends here, rolled back, never as a 500.
"""

from __future__ import annotations

from flask import Flask, current_app, g, render_template, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from registry.db import write_intent
from registry.migrate import current_revision, head_revision
from registry.services import ConflictError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def conflict_response() -> Response:
    """The page for a write refused because someone else changed the record first."""
    return Response(render_template("errors/409.html"), status=409, mimetype="text/html")


def schema_is_current(app: Flask) -> bool:
    """Whether the database has been migrated to the code's head revision (then cached)."""
    if app.extensions.get("registry.schema_ok"):
        return True
    ok = current_revision(app.extensions["registry.engine"]) == head_revision()
    if ok:
        app.extensions["registry.schema_ok"] = True
    return ok


def refuse_unmigrated() -> tuple[str, int] | None:
    """A 503 page while the database schema is behind the code."""
    if request.endpoint == "static" or schema_is_current(current_app):
        return None
    return render_template("errors/not_migrated.html"), 503


WRITING_GETS = "registry.writing_gets"  # app.extensions key: see ``writes_on_get``


def writes_on_get(app: Flask, *endpoints: str) -> None:
    """Let GET requests of ``endpoints`` write (on purpose, and documented there).

    Every other GET gets a read-only session.  The exception is for pages whose opening
    is itself an event to record, e.g. a patient opening their self-report link.
    """
    app.extensions.setdefault(WRITING_GETS, set()).update(endpoints)


def begin_request() -> None:
    """Mark a request with an unsafe method as writing (see ``registry.db.write_intent``)."""
    writes = (request.method not in SAFE_METHODS
              or request.endpoint in current_app.extensions.get(WRITING_GETS, ()))
    g.write_intent_token = write_intent.set(writes)


def end_request(_exc: BaseException | None) -> None:
    """Clear the request's write mark."""
    token = g.pop("write_intent_token", None)
    if token is not None:
        write_intent.reset(token)


def _rollback() -> None:
    db = g.get("db_session")
    if db is not None and db.in_transaction():
        db.rollback()


def finish_transaction(response: Response) -> Response:
    """Commit after a successful response, roll back after an error response."""
    db = g.get("db_session")
    if db is None or not db.in_transaction():
        return response
    if response.status_code >= 400:
        db.rollback()
        return response
    try:
        db.commit()
    except (StaleDataError, IntegrityError):
        db.rollback()
        current_app.logger.warning("commit refused at request end", exc_info=True)
        return conflict_response()
    return response


def _handle_stale_write(_error: Exception) -> Response:
    _rollback()
    current_app.logger.info("stale write refused with 409")
    return conflict_response()


def init_app(app: Flask) -> None:
    """Register the write mark, the commit hook and the 409 handlers.

    Call after ``security.init_app``: after-request hooks run in reverse order, so the
    commit (and a 409 page replacing the response) comes before the security headers.
    The schema check and the write mark go first of all before-request hooks, because
    loading the signed-in user already opens the transaction; the schema check comes
    before the mark, so that on SQLite it reads without taking the write lock.
    """
    app.before_request_funcs.setdefault(None, [])[:0] = [refuse_unmigrated, begin_request]
    app.teardown_request(end_request)
    app.after_request(finish_transaction)
    app.register_error_handler(StaleDataError, _handle_stale_write)
    app.register_error_handler(ConflictError, _handle_stale_write)


__all__ = ["SAFE_METHODS", "WRITING_GETS", "begin_request", "conflict_response", "end_request",
           "finish_transaction", "init_app", "refuse_unmigrated", "schema_is_current",
           "writes_on_get"]
