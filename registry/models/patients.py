"""Patients, their identifying details, index knee and treatment."""

from __future__ import annotations

from datetime import date
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
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry import textsearch
from registry.limits import DATES, NUMBERS
from registry.models.base import Audited, Base, Versioned, intpk, range_check, utc_created
from registry.vocabularies import (
    ANAESTHESIA,
    CELL_SOURCES,
    CONTACT_PREFERENCES,
    DELIVERY_SITES,
    IMAGE_GUIDANCE,
    LATERALITY,
    PATIENT_STATUS,
    SEX,
    TREATMENT_TYPES,
    WITHDRAWAL_REASONS,
    sql_in,
)

if TYPE_CHECKING:
    from registry.models.accounts import Site
    from registry.models.products import ProductLot
    from registry.models.protocol import Protocol
    from registry.models.visits import AdverseEvent, Visit


class Patient(Audited, Versioned, Base):
    """An enrolled patient, known to researchers only by a pseudonym of the study ID."""

    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint(sql_in("sex", SEX), name="sex_known"),
        CheckConstraint(sql_in("status", PATIENT_STATUS), name="status_known"),
        CheckConstraint(
            f"withdrawal_reason is null or {sql_in('withdrawal_reason', WITHDRAWAL_REASONS)}",
            name="withdrawal_reason_known",
        ),
        # Plausible ranges (registry/limits.py); "not after today" is the services' part.
        CheckConstraint(NUMBERS["height_cm"].check("height_cm"), name="height_range"),
        CheckConstraint(NUMBERS["weight_kg"].check("weight_kg"), name="weight_range"),
        CheckConstraint(NUMBERS["bmi"].check("bmi"), name="bmi_range"),
        range_check(DATES["birth_date"].check("birth_date", nullable=False),
                    name="birth_date_range"),
        range_check(DATES["consent_date"].check("consent_date", nullable=False),
                    name="consent_date_range"),
        range_check("consent_date >= birth_date", name="consent_after_birth"),
        range_check(DATES["withdrawn_on"].check("withdrawn_on"), name="withdrawn_on_range"),
        UniqueConstraint("site_id", "site_sequence"),
        # A site's patients still in follow-up, without reading the table (worklist).
        Index("ix_patient_site_status", "site_id", "status", "id"),
    )

    id: Mapped[intpk]
    study_id: Mapped[str] = mapped_column(String(20), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    site_sequence: Mapped[int] = mapped_column(Integer)
    protocol_id: Mapped[int] = mapped_column(ForeignKey("protocol.id"))
    sex: Mapped[str] = mapped_column(String(10))
    birth_date: Mapped[date] = mapped_column(Date)
    height_cm: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    bmi: Mapped[float | None] = mapped_column(Float)
    consent_date: Mapped[date] = mapped_column(Date)
    # The patient's language for e-mails and self-report (vocabularies.LANGUAGES); null:
    # the site's language.
    language: Mapped[str | None] = mapped_column(String(8))
    outside_indication_justification: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    withdrawal_reason: Mapped[str | None] = mapped_column(String(24))
    withdrawal_note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[utc_created]

    site: Mapped[Site] = relationship()
    protocol: Mapped[Protocol] = relationship()
    identity: Mapped[PatientIdentity | None] = relationship(
        back_populates="patient", uselist=False, cascade="all, delete-orphan"
    )
    index_knee: Mapped[IndexKnee | None] = relationship(
        back_populates="patient", uselist=False, cascade="all, delete-orphan"
    )
    treatment: Mapped[Treatment | None] = relationship(
        back_populates="patient", uselist=False, cascade="all, delete-orphan"
    )
    visits: Mapped[list[Visit]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="Visit.target_date"
    )
    adverse_events: Mapped[list[AdverseEvent]] = relationship(
        back_populates="patient", cascade="all, delete-orphan", order_by="AdverseEvent.onset_date"
    )

class PatientIdentity(Audited, Versioned, Base):
    """Identifying details, kept apart: only clinical staff of the patient's site read them."""

    __tablename__ = "patient_identity"
    __table_args__ = (
        CheckConstraint(sql_in("preferred_contact", CONTACT_PREFERENCES), name="contact_known"),
        UniqueConstraint("site_id", "medical_record_number"),
        Index("ix_patient_identity_site_name_key", "site_id", "name_key"),
    )
    audit_reason_exempt = Audited.audit_reason_exempt | {"search_text", "name_key"}

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True
    )
    # Copied from the patient so that the record number is unique within a site.
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    family_name: Mapped[str] = mapped_column(String(120))
    given_name: Mapped[str] = mapped_column(String(120))
    medical_record_number: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    preferred_contact: Mapped[str] = mapped_column(
        String(10), default="phone", server_default="phone"
    )
    email_reminders: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Derived from the name and record number (registry.textsearch), set on every flush
    # by the mapper hook below: accent-, case- and order-insensitive search and the
    # duplicate check.  Never edited directly.
    search_text: Mapped[str] = mapped_column(String(400), default="", server_default="")
    name_key: Mapped[str] = mapped_column(String(250), default="", server_default="")

    patient: Mapped[Patient] = relationship(back_populates="identity")

    @property
    def display_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"

class IndexKnee(Audited, Versioned, Base):
    """The treated (index) knee with its radiographic grade and eligibility answers."""

    __tablename__ = "index_knee"
    __table_args__ = (
        CheckConstraint(sql_in("laterality", LATERALITY), name="laterality_known"),
        CheckConstraint("kl_grade between 0 and 4", name="kl_grade_range"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), unique=True
    )
    laterality: Mapped[str] = mapped_column(String(5))
    kl_grade: Mapped[int] = mapped_column(Integer)
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    patient: Mapped[Patient] = relationship(back_populates="index_knee")


class Treatment(Audited, Versioned, Base):
    """The treatment; its date is day 0 of follow-up.

    Cell therapy names the product lot it used (``lot_id``; ``product_name`` and
    ``lot_number`` keep the words as recorded, for treatments recorded before the product
    catalogue); comparators (hyaluronic acid, PRP, ...) have no lot.  The delivery fields
    follow the DOSES and MIBO reporting checklists (Murray IR et al., JBJS 2019;101:1086;
    Murray IR et al., JBJS 2017;99:809).
    """

    __tablename__ = "treatment"
    __table_args__ = (
        CheckConstraint(sql_in("treatment_type", TREATMENT_TYPES), name="treatment_type_known"),
        CheckConstraint(f"cell_source is null or {sql_in('cell_source', CELL_SOURCES)}",
                        name="cell_source_known"),
        CheckConstraint("treatment_type != 'cell_therapy' or (cell_source is not null and "
                        "product_name is not null and lot_number is not null)",
                        name="cell_therapy_product"),
        CheckConstraint(f"delivery_site is null or {sql_in('delivery_site', DELIVERY_SITES)}",
                        name="delivery_site_known"),
        CheckConstraint(f"image_guidance is null or {sql_in('image_guidance', IMAGE_GUIDANCE)}",
                        name="image_guidance_known"),
        CheckConstraint(f"anaesthesia is null or {sql_in('anaesthesia', ANAESTHESIA)}",
                        name="anaesthesia_known"),
        range_check(NUMBERS["volume_ml"].check("volume_ml"), name="volume_range"),
        range_check(NUMBERS["injection_interval_days"].check("injection_interval_days"),
                    name="injection_interval_range"),
        CheckConstraint(NUMBERS["injections"].check("injections", nullable=False),
                        name="injections_range"),
        CheckConstraint("cell_dose_million is null or cell_dose_million > 0", name="dose_positive"),
        range_check(NUMBERS["cell_dose_million"].check("cell_dose_million"), name="dose_range"),
        range_check(DATES["treatment_date"].check("treatment_date", nullable=False),
                    name="treatment_date_range"),
    )

    id: Mapped[intpk]
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), unique=True
    )
    treatment_date: Mapped[date] = mapped_column(Date, index=True)
    treatment_type: Mapped[str] = mapped_column(String(24), default="cell_therapy",
                                                server_default="cell_therapy", index=True)
    cell_source: Mapped[str | None] = mapped_column(String(16))
    product_name: Mapped[str | None] = mapped_column(String(200))
    lot_number: Mapped[str | None] = mapped_column(String(80))
    lot_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_lot.id", ondelete="RESTRICT"), index=True)
    # Why a lot that is not released, expired or another site's was used anyway.
    lot_justification: Mapped[str | None] = mapped_column(Text)
    cell_dose_million: Mapped[float | None] = mapped_column(Float)
    injections: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    injection_interval_days: Mapped[int | None] = mapped_column(Integer)
    delivery_site: Mapped[str | None] = mapped_column(String(32))
    image_guidance: Mapped[str | None] = mapped_column(String(16))
    volume_ml: Mapped[float | None] = mapped_column(Float)
    anaesthesia: Mapped[str | None] = mapped_column(String(16))
    co_interventions: Mapped[list[str]] = mapped_column(JSON, default=list)
    operator: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[utc_created]

    patient: Mapped[Patient] = relationship(back_populates="treatment")
    lot: Mapped[ProductLot | None] = relationship()


@event.listens_for(PatientIdentity, "before_insert")
@event.listens_for(PatientIdentity, "before_update")
def _derive_search_columns(_mapper: Any, _connection: Any, identity: PatientIdentity) -> None:
    """Keep ``search_text`` and ``name_key`` in step with the name and record number."""
    identity.search_text = textsearch.search_text(
        identity.family_name, identity.given_name, identity.medical_record_number)
    identity.name_key = textsearch.name_key(identity.family_name, identity.given_name)


__all__ = ["IndexKnee", "Patient", "PatientIdentity", "Treatment"]
