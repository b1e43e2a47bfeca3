"""Follow-up work: contact attempts, e-mail reminders and the worklist's status table."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.limits import DATES
from registry.models.accounts import User
from registry.models.base import (
    Audited,
    Base,
    UTCDateTime,
    Versioned,
    intpk,
    range_check,
    utc_created,
)
from registry.vocabularies import CONTACT_METHODS, CONTACT_OUTCOMES, sql_in


class ContactAttempt(Audited, Versioned, Base):
    """A coordinator's attempt to reach a patient about a follow-up visit."""

    __tablename__ = "contact_attempt"
    __table_args__ = (
        CheckConstraint(sql_in("method", CONTACT_METHODS), name="method_known"),
        CheckConstraint(sql_in("outcome", CONTACT_OUTCOMES), name="outcome_known"),
        CheckConstraint(
            "outcome != 'appointment_booked' or appointment_date is not null",
            name="booking_has_date",
        ),
        range_check(DATES["attempted_on"].check("attempted_on", nullable=False),
                    name="attempted_on_range"),
        range_check(DATES["appointment_date"].check("appointment_date"),
                    name="appointment_date_range"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="SET NULL"))
    attempted_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))
    appointment_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[utc_created]

    user: Mapped[User | None] = relationship()


class Reminder(Base):
    """An e-mail reminder, claimed before it is sent so it is never sent twice.

    The unique constraints make the claim atomic across concurrent ``registry remind``
    runs: a patient reminder is unique per visit and kind, a coordinator digest per user,
    kind and day.  The body is never stored.
    """

    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("visit_id", "kind"),
        UniqueConstraint("user_id", "kind", "digest_date"),
        CheckConstraint(
            "kind in ('window_open', 'overdue', 'coordinator_digest')", name="kind_known"
        ),
        CheckConstraint("status in ('claimed', 'sent', 'failed')", name="status_known"),
    )

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(24))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    digest_date: Mapped[date | None] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(10), default="claimed", server_default="claimed")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[utc_created]
    sent_at: Mapped[datetime | None]


class FollowupState(Base):
    """Each scheduled visit's follow-up status, computed ahead of time for the worklist.

    Derived data, like ``ScoreValue``: written only by ``registry.followup.state`` with
    ``status_expression`` (the one definition of the rule) — for the visits a flush
    touches, and for a whole site by the periodic refresh when its date changes.  The
    worklist reads it only for sites whose ``FollowupRefresh.as_of`` is their today;
    otherwise it computes the status live.  Not audited: it holds no recorded fact.
    """

    __tablename__ = "followup_state"
    __table_args__ = (
        # Counts and the first pages of a site's worklist straight from the index.
        Index("ix_followup_state_rank", "site_id", "urgency", "grace_end", "window_start",
              "visit_id"),
    )

    visit_id: Mapped[int] = mapped_column(
        ForeignKey("visit.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[int] = mapped_column(SmallInteger)
    grace_end: Mapped[date | None] = mapped_column(Date)
    window_start: Mapped[date | None] = mapped_column(Date)


class FollowupCount(Base):
    """How many of a site's ``FollowupState`` rows have each urgency (= status).

    The worklist's counts without a filter beyond the site, read from a handful of rows
    instead of counting the site's visits on every page.  Kept equal to
    ``GROUP BY site_id, urgency`` over ``FollowupState`` by ``registry.followup.state``
    (the write hook adds the difference it made; a refresh recounts the site).
    """

    __tablename__ = "followup_count"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    urgency: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    visits: Mapped[int]


class FollowupRefresh(Base):
    """The day (at the site) for which a site's ``FollowupState`` rows were all computed."""

    __tablename__ = "followup_refresh"

    site_id: Mapped[int] = mapped_column(
        ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())
