"""Request hooks: sessions that end, security headers.

(The request's transaction boundary and its write mark are ``registry.transactions``.)

- Sessions end after the idle timeout and the absolute lifetime; the per-user session
  token (in flask-login's id) ends every session at logout, lock or password change.
  A form posted on an expired session is kept and given back after the same user signs
  in again (``registry.auth.pending``).
- An account with a temporary password (set by an administrator) reaches nothing but the
  password change page and sign-out until the password is changed.
- Behind ``TRUSTED_PROXIES`` reverse proxies, the client address and scheme come from
  their X-Forwarded-For / X-Forwarded-Proto headers (werkzeug's ProxyFix); otherwise
  those headers are ignored.
- Headers: a content security policy with no inline script, nosniff, no framing, a
  referrer policy, and no caching of signed-in pages (they show patient data).
"""

from __future__ import annotations

from typing import Any, TypeGuard
from urllib.parse import unquote, urljoin, urlsplit

from flask import Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from registry import audit_capture as capture
from registry.authz import Permission, can
from registry.db import get_session
from registry.extensions import login_manager
from registry.models import User, utcnow
from registry.navigation import navigation
from registry.transactions import SAFE_METHODS
from registry.vocabularies import N_

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
LAST_SEEN_RESOLUTION_SECONDS = 60


_REDIRECT_BASE = "http://registry.invalid/"


def _plain(text: str) -> bool:
    return not any(char == "\\" or char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F
                   for char in text)


def is_safe_redirect(target: str | None) -> TypeGuard[str]:
    """Only same-site absolute paths are followed after sign-in (no open redirect).

    Browsers forgive a lot: they drop tabs and newlines, read a backslash as a slash and
    take ``//host``, ``////host`` or ``/\\host`` as another site, and a proxy or a later
    redirect may decode ``%2F``.  So the target must start with exactly one slash and hold
    no backslash, whitespace or control character, its path must still do so once
    percent-decoded, and joined onto this site's URL it must still name this site.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if not _plain(target):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    decoded = parts.path
    for _ in range(3):  # %252F -> %2F -> /
        decoded = unquote(decoded)
    if decoded.startswith("//") or not _plain(decoded):
        return False
    joined = urlsplit(urljoin(_REDIRECT_BASE, target))
    return (joined.scheme, joined.netloc) == ("http", "registry.invalid")


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


# Endpoints a user with a temporary password may still reach.
PASSWORD_CHANGE_EXEMPT = frozenset({"auth.change_password_page", "auth.logout",
                                    "auth.keepalive", "static"})
EXPIRED_MESSAGE = N_("Your session has expired. Please sign in again.")
KEPT_MESSAGE = N_("Your session expired before your entries were saved. They have been "
                  "kept: sign in again to get them back.")


def session_seconds_left(now: float | None = None) -> float:
    """Seconds until the signed-in session ends (idle limit or absolute lifetime)."""
    now = utcnow().timestamp() if now is None else now
    idle = current_app.config["SESSION_IDLE_TIMEOUT"].total_seconds()
    lifetime = current_app.config["SESSION_ABSOLUTE_LIFETIME"].total_seconds()
    return min(session.get("last_seen", 0) + idle, session.get("login_at", 0) + lifetime) - now


def _start_request() -> Response | None:
    # Imported here, not at the top: importing the auth package loads its routes, which
    # import this module (an import cycle).
    from registry.auth import pending

    db = get_session()
    db.info[capture.REMOTE_ADDR] = request.remote_addr
    if not current_user.is_authenticated:
        return _keep_for_expired_session(db)
    user: User = current_user._get_current_object()
    db.info[capture.ACTOR] = (user.id, user.email)
    now = utcnow().timestamp()
    if session_seconds_left(now) < 0:
        return _expire_session(db, user.id)
    # Refresh at most once a minute: writing the session re-signs and re-sends the cookie,
    # which is wasted work on every request (the idle limit keeps minute resolution).
    if now - session.get("last_seen", 0) >= LAST_SEEN_RESOLUTION_SECONDS:
        session["last_seen"] = now
    if user.must_change_password and request.endpoint not in PASSWORD_CHANGE_EXEMPT:
        return redirect(url_for("auth.change_password_page"))
    if pending.RESTORE_KEY in session:
        if request.method in SAFE_METHODS:
            g.kept_form = pending.for_page(db, user.id, request.path)
        else:
            pending.discard(db, user.id)
    return None


def _expire_session(db: Any, user_id: int) -> Response:
    """End the session; keep a posted form for the same user's next sign-in."""
    from registry.auth import pending  # import cycle: see _start_request

    kept = pending.keep(db, user_id, request) if pending.should_keep(request) else None
    csrf_key = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    csrf_secret = session.get(csrf_key)
    logout_user()
    session.clear()
    # The open page's CSRF token must still verify when its form is saved after this.
    if csrf_secret is not None:
        session[csrf_key] = csrf_secret
    session[pending.EXPIRED_USER_KEY] = user_id
    next_page: str | None
    if kept is not None:
        session[pending.KEPT_KEY], next_page = kept
        flash(gettext(KEPT_MESSAGE), "warning")
    else:
        flash(gettext(EXPIRED_MESSAGE), "info")
        next_page = (request.full_path if request.method in SAFE_METHODS
                     else pending.form_page(request))
    return redirect(url_for("auth.login", next=next_page))


def _keep_for_expired_session(db: Any) -> Response | None:
    """A form saved after its session already ended (another tab or a ping noticed first)."""
    from registry.auth import pending  # import cycle: see _start_request

    user_id = session.get(pending.EXPIRED_USER_KEY)
    if not isinstance(user_id, int) or not pending.should_keep(request):
        return None
    kept = pending.keep(db, user_id, request)
    if kept is None:
        return None
    session[pending.KEPT_KEY], next_page = kept
    flash(gettext(KEPT_MESSAGE), "warning")
    return redirect(url_for("auth.login", next=next_page))


def _finish_request(response: Response) -> Response:
    kept = g.pop("kept_form", None)
    if (kept is not None and response.status_code == 200 and response.mimetype == "text/html"
            and not response.is_streamed):
        from registry.auth import pending  # import cycle: see _start_request
        from registry.auth.formfill import fill_forms

        response.set_data(fill_forms(response.get_data(as_text=True), page=request.path,
                                     action_path=kept.action, fields=kept.fields))
        pending.mark_shown()
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


def _handle_http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    template = f"errors/{code}.html" if code in {401, 403, 404, 405, 409, 413} else None
    return render_template(template or "errors/generic.html", error=error), code


def _handle_unexpected(error: Exception) -> tuple[str, int]:
    current_app.logger.exception("unhandled error", exc_info=error)
    return render_template("errors/500.html"), 500


def trust_proxies(app: Flask) -> None:
    """Take the client address and scheme from ``TRUSTED_PROXIES`` reverse proxies."""
    proxies = app.config.get("TRUSTED_PROXIES") or 0
    if not isinstance(proxies, int) or proxies < 0:
        raise ValueError("REGISTRY_TRUSTED_PROXIES must be a whole number of proxies, 0 or "
                         f"more (got {proxies!r}).")
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    trust_proxies(app)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(HTTPException, _handle_http_error)
    if not app.config.get("TESTING") and not app.debug:
        app.register_error_handler(Exception, _handle_unexpected)

    @app.context_processor
    def _template_helpers() -> dict[str, Any]:
        user = current_user._get_current_object()  # once per page, not once per check
        return {
            "can": lambda permission, site_id=None: can(user, Permission(permission), site_id),
            "navigation": navigation,
            "session_seconds_left": session_seconds_left,
        }


__all__ = ["init_app", "is_safe_redirect", "load_user", "session_seconds_left",
           "trust_proxies"]
