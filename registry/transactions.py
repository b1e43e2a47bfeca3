"""The request's transaction boundary, and stale writes turned into one 409 page.

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

from flask import Flask, current_app, g, render_template
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from registry.services import ConflictError


def conflict_response() -> Response:
    """The page for a write refused because someone else changed the record first."""
    return Response(render_template("errors/409.html"), status=409, mimetype="text/html")


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
    """Register the commit hook and the 409 handlers (before the security headers run)."""
    app.after_request(finish_transaction)
    app.register_error_handler(StaleDataError, _handle_stale_write)
    app.register_error_handler(ConflictError, _handle_stale_write)


__all__ = ["conflict_response", "finish_transaction", "init_app"]
