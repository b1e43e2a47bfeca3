"""Patients' own answers: a self-report per visit, the links that reach it, text packs.

A patient answers through a secure link (``/r/<token>``) or on a clinic tablet.  The link's
token is random and stored only as its SHA-256 hash; each link reaches exactly one
self-report, which belongs to one visit of one patient.  Answers are saved as a draft on
the server step by step (a closed phone loses nothing) and go into the visit, through the
same validation and scoring as staff entry, when the patient submits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.models.base import Audited, Base, Versioned, intpk, utc_created, utcnow
from registry.vocabularies import COLLECTION_MODES, LINK_CHANNELS, SELF_REPORT_STATES, sql_in

if TYPE_CHECKING:
    from registry.models.accounts import Site, User
    from registry.models.patients import Patient
    from registry.models.visits import Visit


class SelfReport(Audited, Versioned, Base):
    """One visit's self-report: the patient's draft, then the submitted answers.

    ``draft`` maps instrument -> item -> answer (an int, or null when skipped or not yet
    answered); ``skipped`` lists the "instrument.item" codes the patient chose to skip.
    Every field is maintained by the registry or typed by the patient, so none needs a
    reason to change; every change is still in the audit trail, with the link as actor.
    When staff had already recorded answers for the visit, the submission is kept here
    (state ``pending_review``) for a clinician to accept or dismiss; nothing is lost.
    """

    __tablename__ = "self_report"
    __table_args__ = (
        CheckConstraint(sql_in("state", SELF_REPORT_STATES), name="state_known"),
        CheckConstraint("mode is null or " + sql_in("mode", COLLECTION_MODES),
                        name="mode_known"),
    )
    audit_reason_exempt = frozenset(
        {"version", "updated_at", "language", "draft", "skipped", "state", "mode",
         "opened_at", "started_at", "submitted_at", "reviewed_by_id", "reviewed_at",
         "instruments"}
    )

    id: Mapped[intpk]
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"),
                                          unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"),
                                            index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    language: Mapped[str] = mapped_column(String(8))
    # The instruments offered to the patient, fixed when the form is first opened.
    instruments: Mapped[list[str]] = mapped_column(JSON, default=list)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skipped: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    mode: Mapped[str | None] = mapped_column(String(16))
    opened_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[utc_created]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    visit: Mapped[Visit] = relationship()
    patient: Mapped[Patient] = relationship()
    site: Mapped[Site] = relationship()
    links: Mapped[list[SelfReportLink]] = relationship(
        back_populates="self_report", cascade="all, delete-orphan",
        order_by="SelfReportLink.id")


class SelfReportLink(Audited, Base):
    """One handed-over way into a self-report: a copied link, an e-mail or a tablet.

    Only ``token_hash`` (SHA-256 of the random token) is stored; the token itself is
    shown once, to the staff member or in the e-mail.  A link works until ``expires_on``
    (the last day, in the site's time zone), unless revoked, and only while its
    self-report is open; after submission it shows only "thank you".
    """

    __tablename__ = "self_report_link"
    __table_args__ = (CheckConstraint(sql_in("channel", LINK_CHANNELS), name="channel_known"),)
    audit_redacted = frozenset({"token_hash"})
    audit_reason_exempt = frozenset({"revoked_at", "revoked_by_id", "first_opened_at",
                                     "last_opened_at", "expires_on"})

    id: Mapped[intpk]
    self_report_id: Mapped[int] = mapped_column(
        ForeignKey("self_report.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    expires_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[utc_created]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    first_opened_at: Mapped[datetime | None]
    last_opened_at: Mapped[datetime | None]

    self_report: Mapped[SelfReport] = relationship(back_populates="links")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class TextPack(Audited, Base):
    """A site-loaded text of one instrument in one language (``scoring.textpacks`` format).

    KOOS and WOMAC question texts are licensed and never shipped: a site with a licence
    loads them here.  ``content`` is the validated pack (instructions, item texts, answer
    labels); ``demo`` marks a pack built from the registry's short labels, which every
    page showing it labels "demo wording, not the licensed questionnaire".
    """

    __tablename__ = "text_pack"
    __table_args__ = (UniqueConstraint("instrument", "language"),)
    audit_reason_exempt = frozenset({"content", "source_name", "demo", "loaded_by_id",
                                     "loaded_at"})

    id: Mapped[intpk]
    instrument: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_name: Mapped[str] = mapped_column(String(200))
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class RequestThrottle(Base):
    """A fixed-window counter per key (e.g. failed self-report tokens per client address).

    Kept in the database so that every worker process counts the same hits.
    """

    __tablename__ = "request_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[datetime]
    hits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


__all__ = ["RequestThrottle", "SelfReport", "SelfReportLink", "TextPack"]
