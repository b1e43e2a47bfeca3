"""Sites and user accounts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Audited, Base, Versioned, intpk, utc_created
from registry.vocabularies import N_


class Role(enum.StrEnum):
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    RESEARCHER = "researcher"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.CLINICIAN: N_("Clinician"),
    Role.COORDINATOR: N_("Coordinator"),
    Role.RESEARCHER: N_("Researcher"),
    Role.ADMIN: N_("Administrator"),
}

user_site = Table(
    "user_site",
    Base.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
)


class Site(Audited, Versioned, Base):
    """A clinic taking part in the registry; patients and staff belong to sites."""

    __tablename__ = "site"
    __table_args__ = (CheckConstraint("length(code) between 2 and 8", name="code_length"),)

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The site's default language (vocabularies.LANGUAGES) for patients with none recorded.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[utc_created]

    users: Mapped[list[User]] = relationship(secondary=user_site, back_populates="sites")

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class User(Audited, Base):
    """A member of staff; the role decides what they may do, the sites where."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(
            "role in ('clinician', 'coordinator', 'researcher', 'admin')", name="role_known"
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_nonnegative"),
    )
    # Not versioned: sign-ins update the row, which must not conflict with admin edits.
    audit_reason_exempt = frozenset(
        {
            "failed_logins",
            "locked_until",
            "last_login_at",
            "session_token",
            "password_hash",
            "password_changed_at",
            "totp_last_step",
            "language",  # a person's own display preference (still audited)
        }
    )
    audit_redacted = frozenset({"password_hash", "session_token", "totp_secret"})

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    session_token: Mapped[str] = mapped_column(String(64))
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # The interface language the person chose (vocabularies.LANGUAGES); None: the
    # browser's Accept-Language, then their sites' language (registry.i18n).
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[utc_created]

    sites: Mapped[list[Site]] = relationship(secondary=user_site, back_populates="users")

    @property
    def site_ids(self) -> frozenset[int]:
        """Every site the account is assigned to (active or not: the admin pages edit it)."""
        return frozenset(site.id for site in self.sites)

    @property
    def active_site_ids(self) -> frozenset[int]:
        """The assigned sites that are active: the only ones where the user may work
        (``registry.authz`` grants site-scoped permissions at these alone)."""
        return frozenset(site.id for site in self.sites if site.active)

    # flask-login protocol.  The id carries the per-user session token, so rotating the
    # token (logout, password change, deactivation, lock) invalidates every session.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


__all__ = ["ROLE_LABELS", "Role", "Site", "User", "user_site"]
