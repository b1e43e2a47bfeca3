"""Recording the treatment (day 0) and keeping the visit schedule in step with it.

Cell therapy names the product lot it used, chosen from the catalogue: the product name,
lot number and cell source follow the lot (``registry.lots.services.apply_lot``), and a
lot that is not released, expired, another site's or another patient's needs a recorded
justification.  Comparators (hyaluronic acid, PRP, ...) have no lot.  Treatments
recorded before the catalogue without a lot keep their words as recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.clock import today
from registry.i18n import day
from registry.limits import problems
from registry.lots.services import apply_lot, choosable_lots, lot_problems
from registry.models import Patient, ProductLot, Timepoint, Treatment, Visit
from registry.scheduling import schedule_visits
from registry.services import ValidationFailed, check_version, optional_text
from registry.vocabularies import (
    ANAESTHESIA,
    CELL_SOURCES,
    CO_INTERVENTIONS,
    DELIVERY_SITES,
    IMAGE_GUIDANCE,
    LOT_STATUSES,
    LOT_TREATMENT_TYPES,
    TREATMENT_TYPES,
)

# The treatment's columns that follow its lot (all None for a comparator).
LOT_COLUMNS = ("lot_id", "product_name", "lot_number", "cell_source", "lot_justification")
CHOSEN = (("delivery_site", DELIVERY_SITES), ("image_guidance", IMAGE_GUIDANCE),
          ("anaesthesia", ANAESTHESIA))


@dataclass(frozen=True, kw_only=True)
class TreatmentData:
    """What the form (or a caller) gives.  ``lot_id``: the catalogue lot used; callers
    without the catalogue (older imports, tests) may give ``cell_source``,
    ``product_name`` and ``lot_number`` as words instead."""

    treatment_date: date
    treatment_type: str = "cell_therapy"
    lot_id: int | None = None
    lot_justification: str | None = None
    cell_source: str | None = None
    product_name: str | None = None
    lot_number: str | None = None
    cell_dose_million: float | None = None
    injections: int = 1
    injection_interval_days: int | None = None
    delivery_site: str | None = None
    image_guidance: str | None = None
    volume_ml: float | None = None
    anaesthesia: str | None = None
    co_interventions: list[str]
    operator: str
    notes: str | None = None


def _lot_values(session: Session, patient: Patient, data: TreatmentData,
                errors: dict[str, str]) -> dict[str, Any]:
    """The lot columns for ``data``, or errors (``lot_id``: no lot, or one that needs a
    justification)."""
    none: dict[str, Any] = dict.fromkeys(LOT_COLUMNS)
    if data.treatment_type not in LOT_TREATMENT_TYPES:
        return none
    existing = patient.treatment
    if data.lot_id is None:
        words = {"product_name": optional_text(data.product_name),
                 "lot_number": optional_text(data.lot_number),
                 "cell_source": data.cell_source if data.cell_source in CELL_SOURCES else None}
        if all(words.values()):  # a caller without the catalogue
            return {**none, **words}
        if existing is not None and existing.lot_id is None and existing.product_name \
                and existing.lot_number and existing.cell_source:
            # Recorded before the catalogue, with no lot to point at: kept as recorded.
            return {**none, "product_name": existing.product_name,
                    "lot_number": existing.lot_number, "cell_source": existing.cell_source,
                    "lot_justification": existing.lot_justification}
        errors["lot_id"] = _("Choose the product lot: it is required for traceability.")
        return none
    lot = session.get(ProductLot, data.lot_id)
    if lot is None:
        errors["lot_id"] = _("Choose a lot from the list.")
        return none
    if existing is not None and existing.lot_id == lot.id:
        # The lot's problems on the recorded date were accepted then (or arose since, as a
        # recall does): only a problem the new date brings (expiry) needs a justification.
        accepted = set(lot_problems(lot, patient.site_id, patient.id,
                                    existing.treatment_date))
        if set(lot_problems(lot, patient.site_id, patient.id,
                            data.treatment_date)) <= accepted:
            return {"lot_id": lot.id, "product_name": existing.product_name,
                    "lot_number": existing.lot_number, "cell_source": existing.cell_source,
                    "lot_justification": optional_text(data.lot_justification)
                    or existing.lot_justification}
    scratch = Treatment(patient_id=patient.id)  # never added to the session
    try:
        apply_lot(scratch, lot, data.lot_justification, site_id=patient.site_id,
                  on=data.treatment_date)
    except ValidationFailed as error:
        errors.update(error.errors)
        return none
    return {column: getattr(scratch, column) for column in LOT_COLUMNS}


def _check_delivery(data: TreatmentData, errors: dict[str, str]) -> None:
    """Codes from their vocabularies, and details that belong to another treatment."""
    if data.treatment_type not in TREATMENT_TYPES:
        errors["treatment_type"] = _("Choose the treatment.")
    for name, vocabulary in CHOSEN:
        if getattr(data, name) not in (None, "", *vocabulary):
            errors[name] = _("Choose one of the listed values.")
    if any(code not in CO_INTERVENTIONS for code in data.co_interventions):
        errors["co_interventions"] = _("Choose one of the listed values.")
    if data.injection_interval_days is not None and data.injections == 1 \
            and "injections" not in errors:
        errors.setdefault("injection_interval_days", _(
            "An interval between injections is recorded only for more than one injection."))
    if data.cell_dose_million is not None and data.treatment_type in TREATMENT_TYPES \
            and data.treatment_type not in LOT_TREATMENT_TYPES:
        errors.setdefault("cell_dose_million", _(
            "The cell dose is recorded only for cell therapy."))


def _validate(session: Session, patient: Patient, data: TreatmentData) -> dict[str, Any]:
    """Plausible values, the lot, then day 0 against consent and the visits already
    recorded; returns the lot columns.

    Day 0 may not move before a recorded baseline (a baseline is on or before day 0, or
    it would be a follow-up visit) nor after a recorded follow-up visit: either would turn
    a recorded visit into something it was not, so the visit is corrected first.
    """
    errors = problems({"treatment_date": data.treatment_date,
                       "cell_dose_million": data.cell_dose_million,
                       "injections": data.injections,
                       "injection_interval_days": data.injection_interval_days,
                       "volume_ml": data.volume_ml}, today(patient.site.timezone))
    _check_delivery(data, errors)
    lot_values = _lot_values(session, patient, data, errors)
    day0 = data.treatment_date
    unchanged = patient.treatment is not None and patient.treatment.treatment_date == day0
    if "treatment_date" in errors or unchanged:
        if errors:
            raise ValidationFailed(errors)
        return lot_values
    if day0 < patient.consent_date:
        errors["treatment_date"] = _("The treatment date cannot be before the consent date "
                                     "(%(date)s).", date=day(patient.consent_date))
    done = (select(Visit.visit_date).outerjoin(Timepoint, Visit.timepoint_id == Timepoint.id)
            .where(Visit.patient_id == patient.id, Visit.status == "done",
                   Visit.visit_date.is_not(None)))
    is_baseline = Timepoint.is_baseline.is_(True)
    earliest_followup = session.scalar(
        done.where(~is_baseline | Visit.timepoint_id.is_(None))
        .order_by(Visit.visit_date).limit(1))
    latest_baseline = session.scalar(
        done.where(is_baseline).order_by(Visit.visit_date.desc()).limit(1))
    if earliest_followup is not None and earliest_followup < day0:
        errors.setdefault("treatment_date", _(
            "A follow-up visit was recorded on %(date)s, before this date: correct that "
            "visit first.", date=day(earliest_followup)))
    elif latest_baseline is not None and latest_baseline > day0:
        errors.setdefault("treatment_date", _(
            "The baseline visit was recorded on %(date)s, after this date; a baseline must be "
            "on or before the treatment date (day 0): correct the baseline visit first.",
            date=day(latest_baseline)))
    if errors:
        raise ValidationFailed(errors)
    return lot_values


def save_treatment(session: Session, patient: Patient, data: TreatmentData, *,
                   version: str | None, reason: str | None,
                   recorded_by_id: int | None) -> Treatment:
    """Create or correct the treatment, then make or move the visit schedule.

    A correction needs a reason (audited with every changed field); visits already done
    keep their dates, the others move with the treatment date (``schedule_visits``).
    """
    treatment = patient.treatment
    if treatment is not None:
        check_version(treatment, version)
    lot_values = _validate(session, patient, data)
    values: dict[str, Any] = {
        "treatment_date": data.treatment_date, "treatment_type": data.treatment_type,
        **lot_values, "cell_dose_million": data.cell_dose_million,
        "injections": data.injections, "injection_interval_days": data.injection_interval_days,
        **{name: getattr(data, name) or None for name, _vocabulary in CHOSEN},
        "volume_ml": data.volume_ml, "co_interventions": list(data.co_interventions),
        "operator": data.operator.strip(), "notes": optional_text(data.notes)}
    if treatment is None:
        treatment = Treatment(patient_id=patient.id, recorded_by_id=recorded_by_id, **values)
        patient.treatment = treatment
        session.flush()
        schedule_visits(session, patient, data.treatment_date)
        return treatment
    changed = {name for name, value in values.items() if getattr(treatment, name) != value}
    if not changed:
        return treatment
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": _("Give a reason for correcting the recorded "
                                            "treatment (it is kept in the audit trail).")})
    with capture.reason(session, reason):
        for name in changed:
            setattr(treatment, name, values[name])
        session.flush()
        if "treatment_date" in changed:
            schedule_visits(session, patient, data.treatment_date)
    return treatment


def lot_label(lot: ProductLot, on: date) -> str:
    """A lot as the treatment form offers it: product · lot (expiry, status)."""
    values = {"product": lot.product.name, "lot": lot.lot_number,
              "status": _(LOT_STATUSES[lot.release_status]).lower()}
    if lot.expiry_date is None:
        return _("%(product)s · %(lot)s (%(status)s)", **values)
    if lot.expiry_date < on:
        return _("%(product)s · %(lot)s (expired %(date)s, %(status)s)",
                 date=day(lot.expiry_date), **values)
    return _("%(product)s · %(lot)s (expires %(date)s, %(status)s)",
             date=day(lot.expiry_date), **values)


def lot_options(session: Session, patient: Patient, on: date) -> list[tuple[int, str]]:
    """The treatment form's lots: the site's (and every site's) catalogue lots, those a
    treatment on ``on`` may use without a justification first, and the lot the saved
    treatment names wherever it comes from."""
    lots = choosable_lots(session, patient.site_id, patient.id)
    saved = patient.treatment.lot if patient.treatment is not None else None
    if saved is not None and saved not in lots:
        lots.append(saved)
    fine = [lot for lot in lots if not lot_problems(lot, patient.site_id, patient.id, on)]
    return [(lot.id, lot_label(lot, on)) for lot in fine + [lot for lot in lots
                                                            if lot not in fine]]
