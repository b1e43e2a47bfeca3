"""Pages of the product catalogue and lots: register, trace, recall, review, safety.

Admins keep the catalogue and the lots' status; clinical staff open a lot's trace for
their own sites (admins: every site), export it as CSV, and record the review of a
patient whose lot was recalled.  Opening a trace and downloading it are audited.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from registry import audit_capture as capture
from registry.authz import Permission, patient_or_abort, requires, trace_site_ids
from registry.clock import today
from registry.db import get_session
from registry.downloads import as_download
from registry.forms import choices, flash_unplaced
from registry.lots import bp
from registry.lots.forms import (
    MARKER_FIELDS,
    LotForm,
    LotStatusForm,
    ProductForm,
    RecallReviewForm,
)
from registry.lots.services import change_status, register_lot, save_product
from registry.lots.trace import (
    SafetyRow,
    alert_threshold,
    lot_safety,
    lots_of_sites,
    product_safety,
    record_review,
    serious_alerts,
    trace,
    trace_csv_text,
)
from registry.models import CellProduct, Patient, ProductLot, Site
from registry.services import ConflictError, ValidationFailed, check_version
from registry.transactions import writes_on_get
from registry.urls import url_builder
from registry.vocabularies import ISCT_MARKERS, LOT_STATUSES


@bp.record_once
def _audited_gets(state: object) -> None:
    writes_on_get(state.app, "lots.lot_page", "lots.trace_csv")  # type: ignore[attr-defined]


@bp.route("/")
@requires(Permission.CLINICAL_READ)
def index() -> str:
    session = get_session()
    sites = trace_site_ids(current_user)
    lots = session.scalars(select(ProductLot).join(CellProduct).where(lots_of_sites(sites))
                           .order_by(CellProduct.name, ProductLot.lot_number)).all()
    return render_template(
        "lots/index.html", lots=lots, products=session.scalars(
            select(CellProduct).order_by(CellProduct.name)).all(),
        lot_rows={row.key: row for row in lot_safety(session, sites)},
        product_rows=product_safety(session, sites),
        alerts=serious_alerts(session, sites, alert_threshold(current_app.config)),
        threshold=alert_threshold(current_app.config))


def _product_page(form: ProductForm, product: CellProduct | None
                  ) -> str | Response | tuple[str, int]:
    if form.validate_on_submit():
        session = get_session()
        try:
            if product is not None:
                check_version(product, form.version.data)
            saved = save_product(session, form.data, product, reason=form.reason.data or "")
        except ConflictError as error:
            flash(str(error), "error")
            return render_template("lots/product.html", form=ProductForm(obj=product),
                                   product=product), 409
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Product %(name)s saved.", name=saved.name), "success")
            return redirect(url_for("lots.index"))
    return render_template("lots/product.html", form=form, product=product), \
        422 if form.errors else 200


@bp.route("/products/new", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def new_product() -> str | Response | tuple[str, int]:
    return _product_page(ProductForm(), None)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def edit_product(product_id: int) -> str | Response | tuple[str, int]:
    product = get_session().get(CellProduct, product_id) or abort(404)
    return _product_page(ProductForm(obj=product), product)


def _lot_form() -> LotForm:
    session = get_session()
    form = LotForm()
    form.product_id.choices = choices(
        ((product.id, product.name) for product in
         session.scalars(select(CellProduct).order_by(CellProduct.name))), blank=_("Choose…"))
    form.site_id.choices = choices(
        ((site.id, str(site)) for site in session.scalars(select(Site).order_by(Site.code))),
        blank=_("Every site"))
    return form


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def new_lot() -> str | Response | tuple[str, int]:
    form = _lot_form()
    if form.validate_on_submit():
        session = get_session()
        values = dict(form.data)
        values["product_id"] = int(form.product_id.data or 0)
        values["site_id"] = int(form.site_id.data) if form.site_id.data else None
        values["sterility_passed"] = {"passed": True, "failed": False}.get(
            form.sterility.data or "")
        values["patient_id"] = None
        try:
            study_id = (form.patient_study_id.data or "").strip()
            if study_id:
                patient = session.scalar(select(Patient).where(Patient.study_id == study_id))
                if patient is None:
                    raise ValidationFailed({"patient_study_id": _(
                        "No patient has the study ID %(study_id)s.", study_id=study_id)})
                values["patient_id"] = patient.id
            lot = register_lot(session, values, today())
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Lot %(lot)s registered.", lot=lot.lot_number), "success")
            return redirect(url_for("lots.lot_page", lot_id=lot.id))
    return render_template("lots/new_lot.html", form=form, markers=MARKER_FIELDS), \
        422 if form.errors else 200


def _visible_lot(lot_id: int) -> tuple[ProductLot, frozenset[int] | None]:
    session = get_session()
    sites = trace_site_ids(current_user)
    lot = session.scalar(select(ProductLot).where(ProductLot.id == lot_id,
                                                  lots_of_sites(sites)))
    if lot is None:
        abort(404)
    return lot, sites


@bp.route("/<int:lot_id>")
@requires(Permission.CLINICAL_READ)
def lot_page(lot_id: int) -> str:
    lot, sites = _visible_lot(lot_id)
    session = get_session()
    rows = trace(session, lot, sites)
    capture.record(session, "trace_viewed", entity_type="product_lot", entity_id=lot.id,
                   new_value={"patients": len(rows)})
    status_form = LotStatusForm(data={"version": lot.version})
    return render_template("lots/lot.html", lot=lot, rows=rows, status_form=status_form,
                           markers=ISCT_MARKERS, safety=SafetyRow.of_trace(lot, rows),
                           patient_url=url_builder("clinical.patient_page", "patient_id"))


@bp.route("/<int:lot_id>/trace.csv")
@requires(Permission.CLINICAL_READ)
def trace_csv(lot_id: int) -> Response:
    lot, sites = _visible_lot(lot_id)
    session = get_session()
    rows = trace(session, lot, sites)
    capture.record(session, "export", entity_type="product_lot", entity_id=lot.id,
                   new_value={"format": "lot trace CSV", "patients": len(rows)})
    return as_download(Response(trace_csv_text(lot, rows), mimetype="text/csv"),
                       f"lot-trace-{lot.product.name}-{lot.lot_number}.csv")


@bp.route("/<int:lot_id>/status", methods=["POST"])
@requires(Permission.ADMIN)
def lot_status(lot_id: int) -> str | Response | tuple[str, int]:
    lot, sites = _visible_lot(lot_id)
    form = LotStatusForm()
    session = get_session()
    if form.validate_on_submit():
        try:
            check_version(lot, form.version.data)
            change_status(session, lot, form.status.data or "", form.reason.data or "",
                          today())
        except ConflictError as error:
            flash(str(error), "error")
            session.rollback()
            session.refresh(lot)
            form = LotStatusForm(data={"version": lot.version})
            status = 409
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
            status = 422
        else:
            flash(_("Lot %(lot)s is now %(status)s.", lot=lot.lot_number,
                    status=_(LOT_STATUSES[lot.release_status]).lower()), "success")
            return redirect(url_for("lots.lot_page", lot_id=lot.id))
    else:
        status = 422
    rows = trace(session, lot, sites)
    return render_template("lots/lot.html", lot=lot, rows=rows, status_form=form,
                           markers=ISCT_MARKERS, safety=SafetyRow.of_trace(lot, rows),
                           patient_url=url_builder("clinical.patient_page", "patient_id")), \
        status


@bp.route("/reviews/<int:patient_id>", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def recall_review(patient_id: int) -> str | Response | tuple[str, int]:
    """The review of a patient whose lot was recalled: what was checked and decided."""
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    lot = patient.treatment.lot if patient.treatment is not None else None
    form = RecallReviewForm()
    if form.validate_on_submit():
        try:
            record_review(session, patient, form.note.data or "",
                          current_user._get_current_object())
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Recall review recorded for %(study_id)s.", study_id=patient.study_id),
                  "success")
            return redirect(url_for("clinical.patient_page", patient_id=patient.id))
    return render_template("lots/review.html", patient=patient, lot=lot, form=form), \
        422 if form.errors else 200
