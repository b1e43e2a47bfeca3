"""Follow-up protocols: timepoints with target day and window, defined as data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

import scoring
from registry.models.base import Audited, Base, Versioned, intpk
from registry.vocabularies import N_


class Protocol(Audited, Versioned, Base):
    """A follow-up schedule.  A site or study can have its own; one is the default.

    ``threshold_set``: the code of the cited MCII / MIC / PASS thresholds its pages use
    (one of ``scoring.THRESHOLD_SETS``).
    """

    __tablename__ = "protocol"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    threshold_set: Mapped[str] = mapped_column(
        String(60), default=scoring.DEFAULT_THRESHOLD_SET,
        server_default=scoring.DEFAULT_THRESHOLD_SET)

    timepoints: Mapped[list[Timepoint]] = relationship(
        back_populates="protocol", order_by="Timepoint.sort_order", cascade="all, delete-orphan"
    )


class Timepoint(Audited, Versioned, Base):
    """One scheduled assessment, in days since treatment (day 0).

    ``instruments``: the codes of the instruments it records (an admin edits them); an
    empty list means the catalogue's defaults, ``scoring.default_instruments``.
    """

    __tablename__ = "timepoint"
    __table_args__ = (
        UniqueConstraint("protocol_id", "code"),
        CheckConstraint("window_start_day <= target_day", name="target_after_start"),
        CheckConstraint("target_day <= window_end_day", name="target_before_end"),
        CheckConstraint("grace_days >= 0", name="grace_nonnegative"),
    )

    id: Mapped[intpk]
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    target_day: Mapped[int] = mapped_column(Integer)
    window_start_day: Mapped[int] = mapped_column(Integer)
    window_end_day: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer, default=14, server_default="14")
    sort_order: Mapped[int] = mapped_column(Integer)
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    instruments: Mapped[list[str]] = mapped_column(JSON, default=list)

    protocol: Mapped[Protocol] = relationship(back_populates="timepoints")



# The default protocol from the clinic's patient information
# (shared/reference/instruments.md, "Schedule"): code, name, target, window, baseline.
# The names are marked for translation: patients see them in their language
# (``registry.i18n.timepoint_name``); names an admin gives are shown as written.
DEFAULT_TIMEPOINTS: tuple[dict[str, Any], ...] = (
    {"code": "baseline", "name": N_("Baseline"), "target_day": 0, "window_start_day": -60,
     "window_end_day": 0, "is_baseline": True},
    {"code": "w2_6", "name": N_("2–6 weeks"), "target_day": 28, "window_start_day": 14,
     "window_end_day": 42, "is_baseline": False},
    {"code": "m3", "name": N_("3 months"), "target_day": 91, "window_start_day": 75,
     "window_end_day": 120, "is_baseline": False},
    {"code": "m6_12", "name": N_("6–12 months"), "target_day": 182, "window_start_day": 182,
     "window_end_day": 365, "is_baseline": False},
)
DEFAULT_TIMEPOINT_NAMES = frozenset(spec["name"] for spec in DEFAULT_TIMEPOINTS)
DEFAULT_GRACE_DAYS = 14
