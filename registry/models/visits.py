"""Visits, questionnaire responses with their scores, and adverse events."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.limits import DATES
from registry.models.base import (
    Audited,
    Base,
    Versioned,
    intpk,
    range_check,
    utc_created,
    utcnow,
)
from registry.vocabularies import (
    AE_ACTIONS,
    AE_CATEGORIES,
    AE_OUTCOMES,
    AE_RELATEDNESS,
    AE_SERIOUS_CRITERIA,
    COLLECTION_MODES,
    VISIT_STATUS,
    sql_in,
)

if TYPE_CHECKING:
    from registry.models.accounts import User
    from registry.models.patients import Patient
    from registry.models.protocol import Timepoint


class Visit(Audited, Versioned, Base):
    """A scheduled or unscheduled assessment of a patient.

    Target and window dates are computed from the treatment date and the timepoint when
    the schedule is made (and moved when the treatment date changes), so that follow-up
    status can be computed in SQL.  ``status`` stores only facts (scheduled, done, not
    applicable); due / overdue / missed are derived from today's date.
    """

    __tablename__ = "visit"
    __table_args__ = (
        UniqueConstraint("patient_id", "timepoint_id"),
        CheckConstraint(sql_in("status", VISIT_STATUS), name="status_known"),
        CheckConstraint("collection_mode is null or " + sql_in("collection_mode",
                                                              COLLECTION_MODES),
                        name="collection_mode_known"),
        CheckConstraint(
            "status != 'done' or visit_date is not null", name="done_has_date"
        ),
        range_check(DATES["visit_date"].check("visit_date"), name="visit_date_range"),
        range_check(DATES["appointment_date"].check("appointment_date"),
                    name="appointment_date_range"),
        Index("ix_visit_status_window", "status", "window_start", "window_end"),
        # Follow-up status of a site's visits from the index alone (worklist counts and
        # ranking, registry/followup/status.py): reached from patient by patient_id.
        Index("ix_visit_followup", "patient_id", "status", "window_start", "window_end",
              "grace_end", "timepoint_id", "id"),
        # One visit per press of a page's "Add an unscheduled visit" button.
        Index("ix_visit_creation_token", "patient_id", "creation_token", unique=True),
    )
    audit_reason_exempt = frozenset(
        {"version", "updated_at", "status", "out_of_window", "target_date", "window_start",
         "window_end", "appointment_date", "clinician_id", "collection_mode"}
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    timepoint_id: Mapped[int | None] = mapped_column(ForeignKey("timepoint.id"))
    target_date: Mapped[date | None] = mapped_column(Date)
    window_start: Mapped[date | None] = mapped_column(Date)
    window_end: Mapped[date | None] = mapped_column(Date)
    grace_end: Mapped[date | None] = mapped_column(Date)
    visit_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="scheduled", server_default="scheduled")
    out_of_window: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    not_applicable_reason: Mapped[str | None] = mapped_column(Text)
    appointment_date: Mapped[date | None] = mapped_column(Date)
    clinician_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    # How the answers were collected (vocabularies.COLLECTION_MODES); null before 0008.
    collection_mode: Mapped[str | None] = mapped_column(String(16))
    # The one-time key of the button form that created an unscheduled visit (its page's
    # "Add an unscheduled visit"): a second submission of that form finds this visit.
    creation_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[utc_created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="visits")
    timepoint: Mapped[Timepoint | None] = relationship()
    clinician: Mapped[User | None] = relationship()
    responses: Mapped[list[InstrumentResponse]] = relationship(
        back_populates="visit", cascade="all, delete-orphan"
    )


class InstrumentResponse(Audited, Versioned, Base):
    """The item-by-item answers to one instrument at one visit."""

    __tablename__ = "instrument_response"
    __table_args__ = (UniqueConstraint("visit_id", "instrument"),)
    audit_reason_exempt = frozenset({"version", "updated_at", "scoring_version"})

    id: Mapped[intpk]
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"))
    instrument: Mapped[str] = mapped_column(String(16))
    # item code -> answer (0–4 code or mm); a missing answer is stored as null.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    scoring_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[utc_created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="responses")
    scores: Mapped[list[ScoreValue]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )


class ScoreValue(Base):
    """A computed score, derived from a response by ``scoring/``.

    Derived data: it is recomputed from the (audited) answers, so it is not audited itself.
    ``value`` is null when the score could not be computed; ``reason`` says why.
    """

    __tablename__ = "score_value"
    __table_args__ = (
        UniqueConstraint("response_id", "score_code"),
        Index("ix_score_value_patient_score", "patient_id", "score_code"),
    )

    id: Mapped[intpk]
    response_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_response.id", ondelete="CASCADE")
    )
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    score_code: Mapped[str] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)

    response: Mapped[InstrumentResponse] = relationship(back_populates="scores")


class AdverseEvent(Audited, Versioned, Base):
    """An adverse event after treatment, graded CTCAE-style."""

    __tablename__ = "adverse_event"
    __table_args__ = (
        CheckConstraint(sql_in("category", AE_CATEGORIES), name="category_known"),
        CheckConstraint("severity_grade between 1 and 5", name="grade_range"),
        CheckConstraint(sql_in("relatedness", AE_RELATEDNESS), name="relatedness_known"),
        CheckConstraint(sql_in("outcome", AE_OUTCOMES), name="outcome_known"),
        CheckConstraint(
            f"action_taken is null or {sql_in('action_taken', AE_ACTIONS)}", name="action_known"
        ),
        CheckConstraint(
            "(serious and serious_criterion is not null) or "
            "(not serious and serious_criterion is null)",
            name="serious_has_criterion",
        ),
        CheckConstraint(
            f"serious_criterion is null or {sql_in('serious_criterion', AE_SERIOUS_CRITERIA)}",
            name="serious_criterion_known",
        ),
        CheckConstraint(
            "resolution_date is null or resolution_date >= onset_date", name="resolved_after_onset"
        ),
        range_check(DATES["onset_date"].check("onset_date", nullable=False),
                    name="onset_date_range"),
    )
    audit_reason_exempt = frozenset({"version", "updated_at", "reviewed_at", "reviewed_by_id"})

    id: Mapped[intpk]
    # Indexed: a lot's trace and the patient page read a patient's events.
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"),
                                            index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id", ondelete="SET NULL"))
    onset_date: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16))
    severity_grade: Mapped[int] = mapped_column(Integer)
    serious: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    serious_criterion: Mapped[str | None] = mapped_column(String(24))
    relatedness: Mapped[str] = mapped_column(String(12))
    action_taken: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(20), default="ongoing", server_default="ongoing")
    resolution_date: Mapped[date | None] = mapped_column(Date)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[utc_created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="adverse_events")


__all__ = ["AdverseEvent", "InstrumentResponse", "ScoreValue", "Visit"]
