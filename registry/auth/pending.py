"""Forms that arrive after the session expired: kept, and given back after sign-in.

A user who types a visit for longer than the idle limit and then presses Save would lose
every answer: the save arrives on an expired session and ends on the sign-in page.
Instead the posted fields are kept server-side (``PendingSubmission``; they are health
data, so never in the cookie), found by the SHA-256 of a random token that only this
browser's session holds, bound to the user whose session it was, for at most 24 hours.

- Keeping: the save that finds its session expired, or any later save from the same
  browser before sign-in (the session remembers which user's session expired, and keeps
  its CSRF secret so the open page's token still verifies).  Sign-out pages, passwords
  and files are never kept.
- After the same user signs in, they land on the page that showed the form, filled with
  the kept values (``registry.auth.formfill``) and a message to check them and save again:
  nothing is saved automatically.  Another user signing in on that browser gets nothing,
  and the kept form is deleted.
- Deleted when used (the user's next save, or sign-out), when a newer form is kept for
  the user, and once expired.

A table rather than, say, an encrypted file in the instance folder: it serves several
application servers, is written in the same transaction as the request that keeps it, and
is protected, backed up and access-controlled like the rest of the health data.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Request, after_this_request, current_app, session
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from registry.models import PendingSubmission, utcnow
from registry.security import is_safe_redirect

KEPT_KEY = "kept_form"  # anonymous session, expiry to sign-in: the token
RESTORE_KEY = "restore_form"  # signed-in session: {"token": ..., "shown": bool}
EXPIRED_USER_KEY = "expired_user_id"  # anonymous session: whose session expired
LIFETIME = timedelta(hours=24)
MAX_FIELDS_BYTES = 512 * 1024
MAX_URL_LENGTH = 2048
NEVER_KEPT_BLUEPRINTS = frozenset({"auth"})  # sign-in, sign-out, password change
NEVER_KEPT_FIELDS = frozenset({"csrf_token"})


@dataclass(frozen=True)
class KeptForm:
    """What a signed-in page needs to fill a kept form back in."""

    page: str
    action: str
    fields: list[tuple[str, str]]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _local_path(url: str | None, host: str) -> str | None:
    """``url`` as path?query when it points into this site, else None."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and (parts.netloc.lower() != host.lower()
                         or parts.scheme not in {"http", "https"}):
        return None
    local = parts.path + (f"?{parts.query}" if parts.query else "")
    return local if is_safe_redirect(local) and len(local) <= MAX_URL_LENGTH else None


def _answers_get(request: Request, path: str) -> bool:
    adapter = current_app.create_url_adapter(request)
    if adapter is None:
        return False
    try:
        adapter.match(urlsplit(path).path, method="GET")
    except HTTPException:  # not found, method not allowed, or a redirect elsewhere
        return False
    return True


def form_page(request: Request) -> str | None:
    """The page that showed the posted form: the same-site referrer, else the posted URL
    when it is a page itself (answers GET); None when neither."""
    referrer = _local_path(request.referrer, request.host)
    if referrer and _answers_get(request, referrer):
        return referrer
    own = _local_path(request.full_path.rstrip("?"), request.host)
    return own if own and _answers_get(request, own) else None


def _fields(form: MultiDict[str, str]) -> list[tuple[str, str]]:
    return [(name, value.replace("\x00", "")) for name, value in form.items(multi=True)
            if name not in NEVER_KEPT_FIELDS and "password" not in name.lower()]


def should_keep(request: Request) -> bool:
    """Whether this request carries a form worth keeping over an expired session: a POST
    to one of the registry's own form routes (an unknown path or a GET-only route is
    answered 404/405 after the hooks, and gets no CSRF check, so it keeps nothing)."""
    return (request.method == "POST" and request.url_rule is not None
            and request.routing_exception is None
            and request.blueprint not in NEVER_KEPT_BLUEPRINTS
            and len(request.path) <= MAX_URL_LENGTH and bool(request.form))


def keep(db: Session, user_id: int, request: Request) -> tuple[str, str] | None:
    """Keep the posted form for ``user_id``: (token for the session, page to come back to),
    or None when there is nothing to keep or no page to give it back on.

    Any older kept form of the user, and every expired one, is deleted.
    """
    page = form_page(request)
    fields = _fields(request.form)
    if page is None or not fields or len(json.dumps(fields)) > MAX_FIELDS_BYTES:
        return None
    now = utcnow()
    db.execute(delete(PendingSubmission).where(
        (PendingSubmission.user_id == user_id) | (PendingSubmission.expires_at < now)))
    token = secrets.token_urlsafe(32)
    db.add(PendingSubmission(user_id=user_id, token_hash=_hash(token), page=page,
                             action=request.path, fields=[list(pair) for pair in fields],
                             created_at=now, expires_at=now + LIFETIME))
    db.flush()
    return token, page


def claim(db: Session, token: object, user_id: int) -> str | None:
    """At sign-in: the page of the form kept with this token, if it is this user's.

    A form kept for someone else is deleted, never shown; so is every expired one (a form
    whose next save failed, or that was never claimed, goes within a day).  The caller
    then calls :func:`start_restore` in the new session.
    """
    now = utcnow()
    db.execute(delete(PendingSubmission).where(PendingSubmission.expires_at <= now))
    if not isinstance(token, str) or not token:
        return None
    kept = db.scalar(select(PendingSubmission).where(
        PendingSubmission.token_hash == _hash(token)))
    if kept is None:
        return None
    if kept.user_id != user_id:
        db.delete(kept)
        db.flush()
        return None
    return kept.page


def start_restore(token: str, page: str) -> None:
    """Remember in the signed-in session which kept form to fill in, and on which page."""
    session[RESTORE_KEY] = {"token": token, "path": urlsplit(page).path, "shown": False}


def for_page(db: Session, user_id: int, path: str) -> KeptForm | None:
    """On the signed-in user's first visit of the kept form's page: what to fill in."""
    restore = session.get(RESTORE_KEY)
    if not isinstance(restore, dict) or restore.get("shown") or restore.get("path") != path:
        return None
    kept = db.scalar(select(PendingSubmission).where(
        PendingSubmission.token_hash == _hash(str(restore.get("token"))),
        PendingSubmission.user_id == user_id, PendingSubmission.expires_at > utcnow()))
    if kept is None:
        return None
    return KeptForm(page=kept.page, action=kept.action,
                    fields=[(str(name), str(value)) for name, value in kept.fields])


def mark_shown() -> None:
    restore = session.get(RESTORE_KEY)
    if isinstance(restore, dict):
        session[RESTORE_KEY] = {**restore, "shown": True}


def discard(db: Session, user_id: int) -> None:
    """Delete the kept form once the user posts again (saved it, or moved on).

    The delete is part of the request's transaction, so it only holds when the post
    succeeds; a refused post (4xx, rolled back) keeps both the row and the session's
    restore mark, and the next post tries again.
    """
    restore = session.get(RESTORE_KEY)
    if not isinstance(restore, dict):
        session.pop(RESTORE_KEY, None)
        return
    db.execute(delete(PendingSubmission).where(
        PendingSubmission.token_hash == _hash(str(restore.get("token"))),
        PendingSubmission.user_id == user_id))

    @after_this_request
    def _forget_when_saved(response: Response) -> Response:
        if response.status_code < 400:
            session.pop(RESTORE_KEY, None)
        return response


__all__ = ["EXPIRED_USER_KEY", "KEPT_KEY", "RESTORE_KEY", "KeptForm", "claim", "discard",
           "for_page", "form_page", "keep", "mark_shown", "should_keep", "start_restore"]
