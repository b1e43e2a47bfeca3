"""Request hooks: sessions that end, one transaction per request, security headers.

- Every request runs in one database transaction: committed after a successful response
  (status < 400), rolled back otherwise, so a rejected form never leaves half-saved data.
- Writing requests (POST …) start SQLite transactions with BEGIN IMMEDIATE.
- Sessions end after the idle timeout and the absolute lifetime; the per-user session
  token (in flask-login's id) ends every session at logout, lock or password change.
- Headers: a content security policy with no inline script, nosniff, no framing, a
  referrer policy, and no caching of signed-in pages (they show patient data).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from registry.audit import capture
from registry.db import get_session, write_intent
from registry.extensions import login_manager
from registry.models import User, utcnow

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAST_SEEN_RESOLUTION_SECONDS = 60


def is_safe_redirect(target: str | None) -> bool:
    """Only same-site relative paths are followed after sign-in (no open redirect)."""
    if not target:
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target


# The user with their sites in one statement (every request checks both), built once.
_USER_WITH_SITES = (select(User).where(User.id == bindparam("user_id"))
                    .options(joinedload(User.sites)))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the user if the session's token still matches (otherwise: signed out)."""
    try:
        raw_id, token = user_id.split(":", 1)
        user = get_session().scalars(_USER_WITH_SITES, {"user_id": int(raw_id)}
                                     ).unique().one_or_none()
    except (ValueError, TypeError):
        return None
    if user is None or not user.active or user.session_token != token:
        return None
    if user.locked_until is not None and user.locked_until > utcnow():
        return None
    return user


def _start_request() -> Response | None:
    token = write_intent.set(request.method not in SAFE_METHODS)
    g.write_intent_token = token
    db = get_session()
    db.info[capture.REMOTE_ADDR] = request.remote_addr
    if not current_user.is_authenticated:
        return None
    db.info[capture.ACTOR] = (current_user.id, current_user.email)
    now = utcnow().timestamp()
    idle = current_app.config["SESSION_IDLE_TIMEOUT"].total_seconds()
    lifetime = current_app.config["SESSION_ABSOLUTE_LIFETIME"].total_seconds()
    last_seen = session.get("last_seen", 0)
    login_at = session.get("login_at", 0)
    if now - last_seen > idle or now - login_at > lifetime:
        logout_user()
        session.clear()
        flash("Your session has expired. Please sign in again.", "info")
        return redirect(url_for("auth.login", next=request.full_path
                                if request.method == "GET" else None))
    # Refresh at most once a minute: writing the session re-signs and re-sends the cookie,
    # which is wasted work on every request (the idle limit keeps minute resolution).
    if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS:
        session["last_seen"] = now
    return None


def _finish_request(response: Response) -> Response:
    db = g.get("db_session")
    if db is not None and db.in_transaction():
        if response.status_code < 400:
            try:
                db.commit()
            except (StaleDataError, IntegrityError):
                db.rollback()
                current_app.logger.warning("commit refused at request end", exc_info=True)
                return Response(
                    render_template("errors/409.html"), status=409, mimetype="text/html"
                )
        else:
            db.rollback()
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if current_user.is_authenticated or request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def _end_request(_exc: BaseException | None) -> None:
    token = g.pop("write_intent_token", None)
    if token is not None:
        write_intent.reset(token)


def _handle_http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    template = f"errors/{code}.html" if code in {401, 403, 404, 405, 409, 413} else None
    return render_template(template or "errors/generic.html", error=error), code


def _handle_unexpected(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("unhandled error", exc_info=error)
    return render_template("errors/500.html"), 500


def schema_is_current(app: Flask) -> bool:
    """Whether the database has been migrated to the code's head revision."""
    from registry.migrate import current_revision, head_revision

    if app.extensions.get("registry.schema_ok"):
        return True
    ok = current_revision(app.extensions["registry.engine"]) == head_revision()
    if ok:
        app.extensions["registry.schema_ok"] = True
    return ok


def init_app(app: Flask) -> None:
    @app.before_request
    def _check_schema() -> tuple[str, int] | None:
        if request.endpoint == "static" or schema_is_current(app):
            return None
        return render_template("errors/not_migrated.html"), 503

    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.register_error_handler(HTTPException, _handle_http_error)
    if not app.config.get("TESTING") and not app.debug:
        app.register_error_handler(Exception, _handle_unexpected)

    @app.context_processor
    def _template_helpers() -> dict[str, Any]:
        from registry.authz import Permission, can
        from registry.navigation import navigation

        user = current_user._get_current_object()  # once per page, not once per check
        return {
            "can": lambda permission, site_id=None: can(user, Permission(permission), site_id),
            "navigation": navigation,
        }


__all__ = ["init_app", "is_safe_redirect", "load_user"]
