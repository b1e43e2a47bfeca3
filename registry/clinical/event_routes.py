"""Views of a patient's adverse events: record, correct, mark reviewed.

Thin, like the rest of the clinical area (``registry.clinical.routes``): the form, one
service call, a redirect to the patient page's adverse events.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from registry.authz import Permission, patient_or_abort, requires
from registry.clinical import bp
from registry.clinical.forms import AdverseEventForm
from registry.clinical.services import adverse_events as ae_services
from registry.clock import today
from registry.db import get_session
from registry.forms import ButtonForm, flash_unplaced
from registry.models import AdverseEvent, Patient
from registry.services import ConflictError, ValidationFailed

Page = str | Response | tuple[str, int]


def _ae_data(form: AdverseEventForm) -> ae_services.AdverseEventData:
    return ae_services.AdverseEventData(
        onset_date=form.onset_date.data, description=form.description.data or "",
        category=form.category.data or "", severity_grade=int(form.severity_grade.data),
        serious=form.serious.data == "yes",
        serious_criterion=(form.serious_criterion.data or None)
        if form.serious.data == "yes" else None,
        relatedness=form.relatedness.data or "", action_taken=form.action_taken.data or None,
        outcome=form.outcome.data or "ongoing", resolution_date=form.resolution_date.data)


@bp.route("/<int:patient_id>/adverse-events/new", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def adverse_event_new(patient_id: int) -> Page:
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    form = AdverseEventForm()
    form.site_today = today(patient.site.timezone)
    if form.validate_on_submit():
        try:
            event = ae_services.record_adverse_event(session, patient, _ae_data(form),
                                                     reported_by_id=current_user.id)
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Adverse event recorded. It is serious: it stays on the home page until "
                    "reviewed.") if event.serious else _("Adverse event recorded."), "success")
            return redirect(url_for("clinical.patient_page", patient_id=patient.id,
                                    _anchor="adverse-events"))
    status = 422 if form.errors else 200
    return render_template("clinical/adverse_event.html", patient=patient, form=form,
                           event=None), status


def _event_or_abort(patient: Patient, event_id: int) -> AdverseEvent:
    event = get_session().get(AdverseEvent, event_id)
    if event is None or event.patient_id != patient.id:
        abort(404)
    return event


@bp.route("/<int:patient_id>/adverse-events/<int:event_id>", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def adverse_event_edit(patient_id: int, event_id: int) -> Page:
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    event = _event_or_abort(patient, event_id)
    form = AdverseEventForm(obj=event)
    form.site_today = today(patient.site.timezone)
    if not form.is_submitted():
        form.serious.data = "yes" if event.serious else "no"
        form.severity_grade.data = str(event.severity_grade)
    if form.validate_on_submit():
        try:
            ae_services.update_adverse_event(session, event, _ae_data(form),
                                             version=form.version.data, reason=form.reason.data)
        except ConflictError as error:
            flash(str(error), "error")
            fresh = AdverseEventForm(obj=event, formdata=None)
            fresh.serious.data = "yes" if event.serious else "no"
            fresh.severity_grade.data = str(event.severity_grade)
            return render_template("clinical/adverse_event.html", patient=patient, form=fresh,
                                   event=event), 409
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Adverse event saved."), "success")
            return redirect(url_for("clinical.patient_page", patient_id=patient.id,
                                    _anchor="adverse-events"))
    status = 422 if form.errors else 200
    return render_template("clinical/adverse_event.html", patient=patient, form=form,
                           event=event), status


@bp.route("/<int:patient_id>/adverse-events/<int:event_id>/review", methods=["POST"])
@requires(Permission.CLINICAL_WRITE)
def adverse_event_review(patient_id: int, event_id: int) -> Response:
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    event = _event_or_abort(patient, event_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if ae_services.mark_reviewed(session, event, current_user.id):
        flash(_("Adverse event marked reviewed."), "success")
    else:
        flash(_("This event had already been reviewed."), "info")
    return redirect(url_for("clinical.patient_page", patient_id=patient.id,
                            _anchor="adverse-events"))
