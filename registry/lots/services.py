"""The product catalogue and its lots: registering, release status, and which lot a
treatment may use.

A treatment uses a lot that is released, not expired on the treatment date, the
treating site's (or every site's) and, for an autologous lot of one patient, that
patient's.  Anything else is refused unless a justification is recorded with the
treatment (``lot_problems``).  Every change is audited (``Audited`` models); a status
change needs its reason, which becomes the audit reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from registry import audit_capture as capture
from registry import limits
from registry.i18n import day
from registry.models import CellProduct, ProductLot, Treatment, utcnow
from registry.services import ValidationFailed, optional_text
from registry.vocabularies import (
    ISCT_MARKERS,
    LOT_STATUSES,
    PREPARATIONS,
    PRODUCT_ORIGINS,
    TISSUE_SOURCES,
)

PRODUCT_FIELDS = ("name", "manufacturer", "origin", "tissue_source", "preparation",
                  "minimally_manipulated", "regulatory_status", "authorisation_reference")
LOT_NUMBERS = {"cell_count_million": "lot_cell_count_million",
               "viability_percent": "viability_percent", "cfu_f": "cfu_f",
               **dict.fromkeys(ISCT_MARKERS, "marker_percent")}
LOT_DATES = ("collection_date", "processing_date", "expiry_date")
LOT_FIELDS = ("product_id", "lot_number", "site_id", "patient_id", "donor_code",
              *LOT_DATES, *LOT_NUMBERS, "sterility_passed")


def _check_product(session: Session, values: Mapping[str, Any],
                   product: CellProduct | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = optional_text(values.get("name"))
    if not name:
        errors["name"] = _("Enter the product's name.")
    else:
        same = session.scalar(select(CellProduct).where(CellProduct.name == name))
        if same is not None and same is not product:
            errors["name"] = _("A product named %(name)s is already in the catalogue.",
                               name=name)
    for field, vocabulary in (("origin", PRODUCT_ORIGINS), ("tissue_source", TISSUE_SOURCES),
                              ("preparation", PREPARATIONS)):
        if values.get(field) not in vocabulary:
            errors[field] = _("Choose one of the listed values.")
    return errors


def save_product(session: Session, values: Mapping[str, Any],
                 product: CellProduct | None = None, *, reason: str = "") -> CellProduct:
    """Create a catalogue entry, or change one (a change needs ``reason``, audited)."""
    errors = _check_product(session, values, product)
    if product is not None and not optional_text(reason):
        errors["reason"] = _("Say why the product's details change (kept in the audit "
                             "trail).")
    if errors:
        raise ValidationFailed(errors)
    if product is None:
        product = CellProduct()
        session.add(product)
    for field in PRODUCT_FIELDS:
        value = values.get(field)
        setattr(product, field, bool(value) if field == "minimally_manipulated"
                else optional_text(value))
    with capture.reason(session, optional_text(reason) or "product registered"):
        session.flush()
    return product


def _check_lot(session: Session, values: Mapping[str, Any], today: date) -> dict[str, str]:
    errors: dict[str, str] = {}
    product = session.get(CellProduct, values.get("product_id") or 0)
    if product is None:
        errors["product_id"] = _("Choose the lot's product.")
    number = optional_text(values.get("lot_number"))
    if not number:
        errors["lot_number"] = _("Enter the lot or batch number.")
    elif product is not None and session.scalar(select(ProductLot.id).where(
            ProductLot.product_id == product.id, ProductLot.lot_number == number)):
        errors["lot_number"] = _("Lot %(lot)s of %(product)s is already registered.",
                                 lot=number, product=product.name)
    if optional_text(values.get("donor_code")) and product is not None \
            and product.origin != "allogeneic":
        errors["donor_code"] = _("A donor code belongs only to a lot of an allogeneic "
                                 "product.")
    for field, limit in LOT_NUMBERS.items():
        problem = limits.NUMBERS[limit].problem(values.get(field))
        if problem:
            errors[field] = problem
    for field in LOT_DATES:
        problem = limits.DATES[field].problem(values.get(field), today)
        if problem:
            errors[field] = problem
    collected, processed = values.get("collection_date"), values.get("processing_date")
    if collected and processed and processed < collected:
        errors["processing_date"] = _("The processing date is before the collection date.")
    if values.get("status") not in LOT_STATUSES:
        errors["status"] = _("Choose the lot's release status.")
    elif values.get("status") != "released" and not optional_text(values.get("status_reason")):
        errors["status_reason"] = _("Say why the lot is not released.")
    return errors


def register_lot(session: Session, values: Mapping[str, Any], today: date) -> ProductLot:
    """Register a lot with its release data and status (audited)."""
    errors = _check_lot(session, values, today)
    if errors:
        raise ValidationFailed(errors)
    lot = ProductLot(**{field: optional_text(values.get(field)) if field in ("lot_number",
                                                                     "donor_code")
                        else values.get(field) for field in LOT_FIELDS})
    lot.release_status = values["status"]
    lot.status_reason = optional_text(values.get("status_reason"))
    lot.status_date = today
    if lot.release_status == "recalled":
        lot.recalled_at = utcnow()
    session.add(lot)
    with capture.reason(session, "lot registered"):
        session.flush()
    return lot


def change_status(session: Session, lot: ProductLot, status: str, reason: str,
                  today: date) -> ProductLot:
    """Release, quarantine or recall a lot; the reason is kept with it and in the audit
    trail.  Recalling flags every patient treated with it until their review."""
    if status not in LOT_STATUSES:
        raise ValidationFailed({"status": _("Choose one of the listed statuses.")})
    if not optional_text(reason):
        raise ValidationFailed({"reason": _("Say why the lot's status changes.")})
    if status == lot.release_status:
        raise ValidationFailed({"status": _("The lot is already %(status)s.",
                                            status=_(LOT_STATUSES[status]).lower())})
    lot.release_status = status
    lot.status_reason = optional_text(reason)
    lot.status_date = today
    if status == "recalled":
        lot.recalled_at = utcnow()
    with capture.reason(session, optional_text(reason) or ""):
        session.flush()
    return lot


def usable_lots(session: Session, site_id: int, on: date,
                patient_id: int | None = None) -> list[ProductLot]:
    """Lots a treatment at ``site_id`` on ``on`` may use without a justification."""
    statement = (select(ProductLot).join(CellProduct)
                 .options(selectinload(ProductLot.product))
                 .where(ProductLot.release_status == "released",
                        or_(ProductLot.site_id.is_(None), ProductLot.site_id == site_id),
                        or_(ProductLot.expiry_date.is_(None), ProductLot.expiry_date >= on),
                        or_(ProductLot.patient_id.is_(None),
                            ProductLot.patient_id == patient_id))
                 .order_by(CellProduct.name, ProductLot.lot_number))
    return list(session.scalars(statement))


def choosable_lots(session: Session, site_id: int, patient_id: int | None = None
                   ) -> list[ProductLot]:
    """Every lot a treatment at the site could name (released or not, with a
    justification), newest first within each product: the treatment form's choices."""
    statement = (select(ProductLot).join(CellProduct)
                 .options(selectinload(ProductLot.product))
                 .where(or_(ProductLot.site_id.is_(None), ProductLot.site_id == site_id),
                        or_(ProductLot.patient_id.is_(None),
                            ProductLot.patient_id == patient_id))
                 .order_by(CellProduct.name, ProductLot.lot_number))
    return list(session.scalars(statement))


def lot_problems(lot: ProductLot, site_id: int, patient_id: int | None,
                 on: date) -> list[str]:
    """Why ``lot`` is not one a treatment at ``site_id`` on ``on`` would normally use:
    each problem in words (empty: the lot is fine)."""
    problems = []
    if lot.release_status != "released":
        problems.append(_("lot %(lot)s is %(status)s", lot=lot.lot_number,
                          status=_(LOT_STATUSES[lot.release_status]).lower()))
    if lot.expiry_date is not None and lot.expiry_date < on:
        problems.append(_("lot %(lot)s expired on %(date)s", lot=lot.lot_number,
                          date=day(lot.expiry_date)))
    if lot.site_id is not None and lot.site_id != site_id:
        problems.append(_("lot %(lot)s belongs to another site", lot=lot.lot_number))
    if lot.patient_id is not None and lot.patient_id != patient_id:
        problems.append(_("lot %(lot)s was prepared for another patient",
                          lot=lot.lot_number))
    return problems


def cell_source_of(product: CellProduct) -> str:
    """The treatment's cell source (``vocabularies.CELL_SOURCES``) a product implies."""
    if product.origin == "allogeneic":
        return "allogeneic"
    return {"bone_marrow": "bmac", "adipose": "adipose"}.get(product.tissue_source, "other")


def apply_lot(treatment: Treatment, lot: ProductLot, justification: str | None, *,
              site_id: int, on: date) -> None:
    """Point ``treatment`` at ``lot`` (its product name, lot number and cell source follow
    the catalogue).  A lot with problems needs ``justification``: ValidationFailed names
    the problems otherwise."""
    problems = lot_problems(lot, site_id, treatment.patient_id, on)
    if problems and not optional_text(justification):
        raise ValidationFailed({"lot_id": _(
            "This lot cannot be used without a justification: %(problems)s. Choose "
            "another lot, or record why it was used.", problems="; ".join(problems))})
    treatment.lot_id = lot.id
    treatment.product_name = lot.product.name
    treatment.lot_number = lot.lot_number
    treatment.cell_source = cell_source_of(lot.product)
    treatment.lot_justification = optional_text(justification) if problems else None


__all__ = ["apply_lot", "cell_source_of", "change_status", "choosable_lots", "lot_problems",
           "register_lot", "save_product", "usable_lots"]
