"""Site and account administration (audited through the model hooks)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.auth.services import AccountError, new_session_token
from registry.models import Role, Site, User
from registry.services import ConflictError, check_version
from registry.vocabularies import LANGUAGES


def validate_timezone(name: str | None) -> str | None:
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise AccountError(_("Unknown time zone %(name)s.", name=repr(name)), "timezone") from error
    return name


def validate_language(code: str) -> str:
    if code not in LANGUAGES:
        raise AccountError(_("Unknown language %(code)s; choose one of %(codes)s.",
                             code=repr(code), codes=", ".join(LANGUAGES)), "language")
    return code


def create_site(session: Session, *, code: str, name: str, timezone: str | None,
                language: str = "en") -> Site:
    code = code.strip().upper()
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise AccountError(_("Site code %(code)s is already used.", code=code), "code")
    site = Site(code=code, name=name.strip(), timezone=validate_timezone(timezone),
                language=validate_language(language))
    session.add(site)
    session.flush()
    return site


def update_site(session: Session, site: Site, *, name: str, timezone: str | None,
                active: bool, version: int, reason: str | None,
                language: str | None = None) -> None:
    """Change a site's details (``language`` None: unchanged)."""
    check_version(site, version)
    with capture.reason(session, reason or "site details updated"):
        site.name = name.strip()
        site.timezone = validate_timezone(timezone)
        site.active = active
        if language is not None:
            site.language = validate_language(language)


def update_user(session: Session, user: User, *, full_name: str, role: str,
                site_ids: list[int], active: bool, reason: str) -> None:
    """Change an account; deactivation or a role change ends its sessions."""
    if role not in {r.value for r in Role}:
        raise AccountError(_("Unknown role %(role)s.", role=repr(role)), "role")
    sites = list(session.scalars(select(Site).where(Site.id.in_(site_ids))))
    ends_sessions = (user.active and not active) or user.role != role
    with capture.reason(session, reason):
        user.full_name = full_name.strip()
        user.role = role
        user.sites = sites
        user.active = active
        if ends_sessions:
            user.session_token = new_session_token()


__all__ = ["ConflictError", "create_site", "update_site", "update_user"]
