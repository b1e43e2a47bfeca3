"""Cell-product traceability: the product catalogue, its lots, and recall reviews.

A treatment names the lot it used (``Treatment.lot_id``), so every lot can be traced to
its patients and every patient to a lot (EU Regulation 1394/2007 on advanced therapy
medicinal products, art. 15: a traceability system linking product and patient).
Traceability records are never deleted (``refuse_deletion`` below; the foreign keys to
them restrict deletion too): withdrawal keeps them, and a lot or product can only change
status.  EU Directive 2006/86/EC (art. 9) and Regulation 1394/2007 (art. 15) ask for 30
years.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.limits import NUMBERS
from registry.models.base import Audited, Base, Versioned, intpk, range_check, utc_created
from registry.vocabularies import (
    ISCT_MARKERS,
    ISCT_NEGATIVE_MAXIMUM,
    ISCT_POSITIVE_MINIMUM,
    LOT_STATUSES,
    PREPARATIONS,
    PRODUCT_ORIGINS,
    TISSUE_SOURCES,
    sql_in,
)

if TYPE_CHECKING:
    from registry.models.accounts import Site


class CellProduct(Audited, Versioned, Base):
    """A cell product as the clinic receives or prepares it (one catalogue entry)."""

    __tablename__ = "cell_product"
    __table_args__ = (
        CheckConstraint(sql_in("origin", PRODUCT_ORIGINS), name="origin_known"),
        CheckConstraint(sql_in("tissue_source", TISSUE_SOURCES), name="tissue_source_known"),
        CheckConstraint(sql_in("preparation", PREPARATIONS), name="preparation_known"),
    )

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The manufacturer or processing facility (None: not recorded, e.g. a product that
    # migration 0011 made from a treatment's free text).
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(16))
    tissue_source: Mapped[str] = mapped_column(String(24))
    preparation: Mapped[str] = mapped_column(String(32))
    minimally_manipulated: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())
    regulatory_status: Mapped[str | None] = mapped_column(String(200))
    authorisation_reference: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[utc_created]

    # passive_deletes="all": never nullify a lot's product (deletion is refused anyway).
    lots: Mapped[list[ProductLot]] = relationship(back_populates="product",
                                                  order_by="ProductLot.lot_number",
                                                  passive_deletes="all")

    def __str__(self) -> str:
        return self.name


def _marker_checks() -> list[CheckConstraint]:
    return [range_check(NUMBERS["marker_percent"].check(column), name=f"{column}_range")
            for column in ISCT_MARKERS]


class ProductLot(Audited, Versioned, Base):
    """One lot (batch) of a product, with its release data and status.

    ``site_id`` is the site that may use it (None: every site); an autologous preparation
    is a lot of one patient (``patient_id``).  ``donor_code`` is a pseudonymous code of an
    allogeneic lot's donor, never an identity, and never exported.
    """

    __tablename__ = "product_lot"
    __table_args__ = (
        UniqueConstraint("product_id", "lot_number", name="uq_product_lot_number"),
        CheckConstraint(sql_in("release_status", LOT_STATUSES), name="release_status_known"),
        range_check(NUMBERS["lot_cell_count_million"].check("cell_count_million"),
                    name="cell_count_range"),
        range_check(NUMBERS["viability_percent"].check("viability_percent"),
                    name="viability_range"),
        range_check(NUMBERS["cfu_f"].check("cfu_f"), name="cfu_f_range"),
        *_marker_checks(),
    )

    id: Mapped[intpk]
    product_id: Mapped[int] = mapped_column(ForeignKey("cell_product.id", ondelete="RESTRICT"),
                                            index=True)
    lot_number: Mapped[str] = mapped_column(String(80), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"),
                                                index=True)
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"))
    donor_code: Mapped[str | None] = mapped_column(String(40))
    collection_date: Mapped[date | None] = mapped_column(Date)
    processing_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    cell_count_million: Mapped[float | None] = mapped_column(Float)
    viability_percent: Mapped[float | None] = mapped_column(Float)
    cfu_f: Mapped[float | None] = mapped_column(Float)
    cd73_percent: Mapped[float | None] = mapped_column(Float)
    cd90_percent: Mapped[float | None] = mapped_column(Float)
    cd105_percent: Mapped[float | None] = mapped_column(Float)
    cd45_percent: Mapped[float | None] = mapped_column(Float)
    cd34_percent: Mapped[float | None] = mapped_column(Float)
    cd14_cd11b_percent: Mapped[float | None] = mapped_column(Float)
    cd79a_cd19_percent: Mapped[float | None] = mapped_column(Float)
    hla_dr_percent: Mapped[float | None] = mapped_column(Float)
    sterility_passed: Mapped[bool | None] = mapped_column(Boolean)
    release_status: Mapped[str] = mapped_column(String(16), default="quarantined",
                                                server_default="quarantined")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_date: Mapped[date | None] = mapped_column(Date)
    # When the lot was last marked recalled: reviews recorded since then clear the flag.
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[utc_created]

    product: Mapped[CellProduct] = relationship(back_populates="lots")
    site: Mapped[Site | None] = relationship()

    @property
    def isct_criteria_met(self) -> bool | None:
        """Whether the release tests meet the ISCT minimal criteria (None: not all tested)."""
        values = {column: getattr(self, column) for column in ISCT_MARKERS}
        if any(value is None for value in values.values()):
            return None
        return all(value >= ISCT_POSITIVE_MINIMUM if kind == "positive"
                   else value <= ISCT_NEGATIVE_MAXIMUM
                   for column, (_label, kind) in ISCT_MARKERS.items()
                   for value in [values[column]])

    def __str__(self) -> str:
        return f"{self.product.name} · {self.lot_number}"


class LotRecallReview(Audited, Base):
    """A clinician's review of one patient after their lot was recalled: the flag on the
    patient stays until a review recorded after the recall."""

    __tablename__ = "lot_recall_review"

    id: Mapped[intpk]
    lot_id: Mapped[int] = mapped_column(ForeignKey("product_lot.id", ondelete="RESTRICT"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="RESTRICT"),
                                            index=True)
    note: Mapped[str] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TraceabilityRetained(RuntimeError):
    """A product, lot or recall review was about to be deleted."""


@event.listens_for(CellProduct, "before_delete")
@event.listens_for(ProductLot, "before_delete")
@event.listens_for(LotRecallReview, "before_delete")
def refuse_deletion(_mapper: Any, _connection: Any, record: Any) -> None:
    """Traceability records are kept (30 years): deleting one is a programming error."""
    raise TraceabilityRetained(
        f"{type(record).__name__} {record.id} is a traceability record and is never "
        "deleted; change its status instead.")


__all__ = ["CellProduct", "LotRecallReview", "ProductLot", "TraceabilityRetained"]
