"""Date arithmetic done by the database: exported times are whole days since treatment.

Kept apart from ``dataset`` and ``scorestream`` so that both can use it and import each
other one way only (``dataset`` reads its score rows through ``scorestream``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, cast, func
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def days_between(session: Session, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole days from ``earlier`` to ``later``, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.round(func.julianday(later) - func.julianday(earlier)), Integer)
    return cast(later - earlier, Integer)
