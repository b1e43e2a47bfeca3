"""Saved cohort definitions for researchers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Audited, Base, Versioned, intpk, utc_created, utcnow


class Cohort(Audited, Versioned, Base):
    """A named cohort: the filter definition is stored, never the rows."""

    __tablename__ = "cohort"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[utc_created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
