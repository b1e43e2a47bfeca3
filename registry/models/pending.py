"""Forms posted after their session expired, kept until the same user signs in again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, intpk, utc_created


class PendingSubmission(Base):
    """The fields of a form whose save arrived on an expired session.

    Kept server-side (it holds health data, so never in the cookie), found by the hash of
    a random token that only the browser holds, bound to the user whose session it was,
    and deleted when used, when that user posts anything else or signs out, and after
    ``expires_at``.  Not audited: it is a transient copy of what was typed, not registry
    data; saving it again goes through the form and is audited then.
    """

    __tablename__ = "pending_submission"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    page: Mapped[str] = mapped_column(String(2048))  # where the form is shown (path?query)
    action: Mapped[str] = mapped_column(String(2048))  # the path the form was posted to
    fields: Mapped[list[Any]] = mapped_column(JSON)  # [[name, value], ...] in form order
    created_at: Mapped[utc_created]
    expires_at: Mapped[datetime] = mapped_column(index=True)


__all__ = ["PendingSubmission"]
