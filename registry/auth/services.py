"""Accounts: sign-in with lockout, user creation, password change, unlock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.auth import passwords
from registry.models import Role, Site, User, utcnow
from registry.vocabularies import N_


class AccountError(ValueError):
    """A refused account operation, with a message fit to show the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def errors(self) -> dict[str, str]:
        """Field -> message, as ``ValidationFailed.errors`` (no field: the key "")."""
        return {self.field or "": str(self)}


@dataclass(frozen=True)
class LoginPolicy:
    max_failed: int = 5
    lockout: timedelta = timedelta(minutes=15)


GENERIC_LOGIN_ERROR = N_("Wrong e-mail address or password.")
SELF_SERVICE_REASON = "password changed by the account holder"


def new_session_token() -> str:
    return secrets.token_hex(16)


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def _user_for_sign_in(session: Session, email: str) -> User | None:
    """The account for a sign-in attempt, its row locked until the attempt commits.

    Attempts on one account queue on the row (PostgreSQL ``FOR UPDATE``; SQLite's
    ``BEGIN IMMEDIATE`` already serialises writing requests), so each reads the failure
    count and lock the one before it wrote: parallel guesses cannot all pass the lockout
    check before any of them counts (a read-then-write race on ``failed_logins``).
    """
    statement = (select(User).where(func.lower(User.email) == email.strip().lower())
                 .with_for_update().execution_options(populate_existing=True))
    return session.scalar(statement)


def authenticate(session: Session, email: str, password: str, policy: LoginPolicy) -> User:
    """Check credentials; count failures, lock after ``max_failed`` in a row (audited).

    Raises AccountError with a message that does not reveal whether the account exists or
    is deactivated (a deactivated account answers as a wrong password would, after a hash
    check of the same cost, whatever the password), except for a locked account, whose
    owner needs to know to wait or call an admin.
    """
    user = _user_for_sign_in(session, email)
    now = utcnow()
    if user is None or not user.active:
        passwords.verify_password(user.password_hash if user else passwords.dummy_hash(),
                                  password)
        if user is None:
            capture.record(session, "login_failed", entity_type="app_user",
                           new_value={"email": email.strip().lower()[:254]})
        else:
            capture.record(session, "login_refused_inactive", entity_type="app_user",
                           entity_id=user.id)
        raise AccountError(_(GENERIC_LOGIN_ERROR))
    if user.locked_until is not None and user.locked_until > now:
        capture.record(session, "login_refused_locked", entity_type="app_user",
                       entity_id=user.id)
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AccountError(ngettext(
            "This account is locked after repeated failed sign-ins. Try again in %(num)d "
            "minute or ask an administrator to unlock it.",
            "This account is locked after repeated failed sign-ins. Try again in %(num)d "
            "minutes or ask an administrator to unlock it.", minutes))
    if not passwords.verify_password(user.password_hash, password):
        user.failed_logins += 1
        capture.record(session, "login_failed", entity_type="app_user", entity_id=user.id,
                       new_value={"failed_logins": user.failed_logins})
        if user.failed_logins >= policy.max_failed:
            user.locked_until = now + policy.lockout
            user.session_token = new_session_token()
            capture.record(session, "account_locked", entity_type="app_user",
                           entity_id=user.id, new_value={"until": user.locked_until})
        session.flush()
        raise AccountError(_(GENERIC_LOGIN_ERROR))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    capture.set_actor(session, user.id, user.email)
    capture.record(session, "login", entity_type="app_user", entity_id=user.id)
    session.flush()
    return user


def create_user(session: Session, *, email: str, full_name: str, role: str, password: str,
                site_codes: list[str], must_change_password: bool = False) -> User:
    """Create an account after checking the e-mail, role, sites and password policy."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise AccountError(_("Enter a valid e-mail address."), "email")
    if role not in {r.value for r in Role}:
        raise AccountError(_("Unknown role %(role)s.", role=repr(role)), "role")
    if find_user(session, email) is not None:
        raise AccountError(_("An account for %(email)s already exists.", email=email), "email")
    problems = passwords.policy_problems(password, email)
    if problems:
        raise AccountError(" ".join(problems), "password")
    sites = list(session.scalars(select(Site).where(Site.code.in_(site_codes))))
    missing = set(site_codes) - {site.code for site in sites}
    if missing:
        raise AccountError(_("Unknown site code(s): %(codes)s.",
                             codes=", ".join(sorted(missing))), "sites")
    user = User(email=email, full_name=full_name.strip() or email, role=role,
                password_hash=passwords.hash_password(password),
                session_token=new_session_token(), password_changed_at=utcnow(), sites=sites,
                must_change_password=must_change_password)
    session.add(user)
    session.flush()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Change a password; every other session of the user ends (token rotated).

    The change clears ``must_change_password`` (an already-recorded value, so the audit
    trail needs a reason: the account holder chose their own password).
    """
    if not passwords.verify_password(user.password_hash, current):
        raise AccountError(_("The current password is wrong."), "current_password")
    if new == current:
        raise AccountError(_("The new password must differ from the current one."),
                           "new_password")
    problems = passwords.policy_problems(new, user.email)
    if problems:
        raise AccountError(" ".join(problems), "new_password")
    with capture.reason(session, SELF_SERVICE_REASON):
        user.password_hash = passwords.hash_password(new)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.session_token = new_session_token()
    capture.record(session, "password_changed", entity_type="app_user", entity_id=user.id)


def end_sessions(session: Session, user: User) -> None:
    """Invalidate every session of the user (logout, deactivation)."""
    user.session_token = new_session_token()
    session.flush()


def unlock(session: Session, user: User) -> None:
    user.failed_logins = 0
    user.locked_until = None
    capture.record(session, "account_unlocked", entity_type="app_user", entity_id=user.id)
    session.flush()
