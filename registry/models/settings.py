"""Facts about this registry database itself, as key/value rows (e.g. the demo marker).

``demo`` is set when the demo cohort was loaded into an empty database: ``make demo``
serves such a database again instead of refusing it, whatever was added to it since.
"""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.models.base import Base, utc_created

DEMO_MARKER = "demo"


class RegistrySetting(Base):
    """One fact about the database (not audited: set once by commands, never by users)."""

    __tablename__ = "registry_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="", server_default="")
    set_at: Mapped[utc_created]


__all__ = ["DEMO_MARKER", "RegistrySetting"]
