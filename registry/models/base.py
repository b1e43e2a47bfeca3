"""Declarative base, naming convention and reusable column types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Integer,
    MetaData,
    TypeDecorator,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Deterministic constraint names: Alembic's batch mode on SQLite needs names to alter
# constraints (SQLAlchemy "Configuring Constraint Naming Conventions").
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
utc_created = Annotated[
    datetime, mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())
]


def range_check(condition: str, name: str) -> CheckConstraint:
    """A plausible-range CHECK (``registry.limits``) added after the tables were made.

    PostgreSQL holds it as a CHECK constraint.  SQLite can add a CHECK only by rebuilding
    the table, and dropping the old table with foreign keys on would cascade-delete its
    children (a visit's scores), so on SQLite migration 0006 writes the same condition as
    BEFORE INSERT / UPDATE triggers that abort, like a failed CHECK, with an
    IntegrityError.
    """
    return CheckConstraint(condition, name=name).ddl_if(dialect="postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Versioned:
    """Optimistic locking: every UPDATE checks and increments ``version``.

    A stale write raises ``StaleDataError``; services compare the version a form was
    loaded with before writing, so the user sees a clear conflict message (HTTP 409).
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - SQLAlchemy declared_attr
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Audited:
    """Marks a model whose every insert, update and delete is written to the audit trail.

    ``audit_reason_exempt`` lists columns whose change needs no reason (bookkeeping that
    the registry itself maintains); changing any other already-recorded value does.
    """

    audit_reason_exempt: frozenset[str] = frozenset({"version", "updated_at"})
