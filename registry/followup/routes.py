"""Views of the followup area: the worklist, its call list, contacts, withdrawal.

Every view needs ``Permission.FOLLOWUP_MANAGE``; rows and records are limited to the
user's own sites (a visit or patient of another site answers 403).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, cast

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from registry import audit_capture as capture
from registry.authz import Permission, can, patient_or_abort, requires, visit_or_abort
from registry.clock import today
from registry.db import get_session
from registry.downloads import content_disposition
from registry.followup import bp
from registry.followup import labels as wording
from registry.followup.calllist import call_list_csv
from registry.followup.forms import (
    ContactForm,
    NotApplicableForm,
    WithdrawalForm,
    WorklistFilterForm,
)
from registry.followup.queries import (
    filter_choices,
    filters_from_form,
    managed_site_ids,
    visit_contacts,
)
from registry.followup.services import (
    OutsideWindow,
    log_contact,
    mark_not_applicable,
    withdraw_patient,
)
from registry.followup.status import STATUS_LABELS, display_status, followup_status
from registry.followup.worklist import ACTIONABLE, TABS, load_worklist, tab_of, worklist_rows
from registry.forms import ButtonForm, flash_unplaced
from registry.forms import choices as select_choices
from registry.i18n import timepoint_name
from registry.models import Patient, Visit
from registry.services import ConflictError, ValidationFailed
from registry.urls import url_builder
from registry.vocabularies import CONTACT_METHODS, CONTACT_OUTCOMES, WITHDRAWAL_REASONS

FILTER_FIELDS = ("site", "status", "timepoint", "clinician", "treated_from", "treated_to")
# The worklist's tab labels (worklist.TABS), marked for translation.
TAB_LABELS = {"open": wording.N_("Open"), "missed": wording.N_("Missed"),
              "scheduled": wording.N_("Not yet due"), "done": wording.N_("Done"),
              "not_applicable": wording.N_("Not applicable"), "all": wording.N_("All")}


def _filter_form(formdata: MultiDict[str, str]) -> tuple[WorklistFilterForm, Any]:
    site_ids = managed_site_ids(current_user)
    choices = filter_choices(get_session(), [site for site in current_user.sites
                                             if site.id in site_ids])
    form = WorklistFilterForm(formdata=formdata)
    form.site.choices = select_choices(choices.sites, blank=wording.N_("All my sites"))
    form.timepoint.choices = select_choices(choices.timepoints,
                                            blank=wording.N_("All timepoints"))
    form.clinician.choices = select_choices(choices.clinicians,
                                            blank=wording.N_("Any clinician"))
    return form, choices


def _filter_args(form: WorklistFilterForm) -> dict[str, str]:
    """The filters as query-string values (for pagination links and the CSV form)."""
    args = {name: (form[name].raw_data or [""])[0] for name in FILTER_FIELDS}
    return {name: value for name, value in args.items() if value}


def _render_worklist(form: WorklistFilterForm, choices: Any, page: Any,
                     status: int = 200) -> tuple[str, int]:
    # Decided once per site, not once per row: may the user see patients' names?
    identity_sites = frozenset(site_id for site_id in choices.site_ids
                               if can(current_user, Permission.IDENTITY_READ, site_id))
    chosen = form.status.data or "open"
    return render_template(
        "followup/worklist.html", form=form, page=page, filter_args=_filter_args(form),
        tabs=TABS, tab_labels=TAB_LABELS, current_tab=tab_of(chosen), chosen=chosen,
        actionable=ACTIONABLE, wording=wording, timepoint_name=timepoint_name,
        short_day=wording.day_formatter(),
        methods=CONTACT_METHODS, outcomes=CONTACT_OUTCOMES,
        identity_sites=identity_sites, patient_url=_patient_url(),
        visit_url=url_builder("followup.visit_page", "visit_id"),
    ), status


def _patient_endpoint() -> str | None:
    endpoint = "clinical.patient_page"
    return endpoint if endpoint in current_app.view_functions else None


def _patient_url() -> Callable[[int | str], str] | None:
    """Links to patient pages, when the app has the clinical area."""
    endpoint = _patient_endpoint()
    return url_builder(endpoint, "patient_id") if endpoint else None


@bp.route("/")
@requires(Permission.FOLLOWUP_MANAGE)
def worklist() -> tuple[str, int]:
    form, choices = _filter_form(request.args)
    if not form.validate():
        return _render_worklist(form, choices, None, 400)
    filters = filters_from_form(form, choices.site_ids)
    page = load_worklist(get_session(), filters, choices.todays, page=form.page.data or 1)
    return _render_worklist(form, choices, page)


@bp.route("/call-list.csv", methods=["POST"])
@requires(Permission.FOLLOWUP_MANAGE)
def call_list() -> Response | tuple[str, int]:
    if not ButtonForm().validate_on_submit():
        abort(400)
    form, choices = _filter_form(request.form)
    if not form.validate():
        return _render_worklist(form, choices, None, 400)
    db = get_session()
    filters = filters_from_form(form, choices.site_ids)
    rows = worklist_rows(db, filters, choices.todays)
    # One event per site the list covers, each with that site's rows: an administrator of
    # one site reads the exports of its patients, never another site's.
    for site_id in sorted(filters.site_ids):
        capture.record(db, "export", entity_type="worklist_call_list", site_id=site_id,
                       new_value={"filters": _filter_args(form), "site_ids": [site_id],
                                  "rows": sum(row.site_id == site_id for row in rows),
                                  "identifying": True})
    body = call_list_csv(rows, choices.site_names, STATUS_LABELS)
    filename = f"call-list-{today().isoformat()}.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": content_disposition(filename)})


def _visit_or_abort(visit_id: int) -> tuple[Visit, Patient]:
    visit, patient = visit_or_abort(get_session(), visit_id, Permission.FOLLOWUP_MANAGE)
    return visit, patient


def _render_visit(visit: Visit, patient: Patient, *, contact_form: ContactForm | None = None,
                  na_form: NotApplicableForm | None = None, status: int = 200,
                  confirm_outside: bool = False) -> tuple[str, int]:
    """The follow-up visit page; ``confirm_outside``: the contact form asks to confirm a
    booked date outside the window (its checkbox is shown)."""
    site_today = today(patient.site.timezone)
    if contact_form is None:
        contact_form = ContactForm(formdata=None, attempted_on=site_today)
    if na_form is None:
        na_form = NotApplicableForm(formdata=None, version=visit.version)
    followup = followup_status(visit, patient.status, site_today)
    return render_template(
        "followup/visit.html", visit=visit, patient=patient, followup=followup,
        shown=display_status(followup, out_of_window=visit.out_of_window,
                             appointment_date=visit.appointment_date),
        wording=wording, confirm_outside=confirm_outside or bool(
            contact_form.book_outside_window.data),
        contacts=visit_contacts(get_session(), patient.id),
        contact_form=contact_form, na_form=na_form, methods=CONTACT_METHODS,
        outcomes=CONTACT_OUTCOMES, withdrawal_reasons=WITHDRAWAL_REASONS,
        patient_endpoint=_patient_endpoint(),
    ), status


@bp.route("/visits/<int:visit_id>")
@requires(Permission.FOLLOWUP_MANAGE)
def visit_page(visit_id: int) -> tuple[str, int]:
    visit, patient = _visit_or_abort(visit_id)
    return _render_visit(visit, patient)


@bp.route("/visits/<int:visit_id>/contact", methods=["POST"])
@requires(Permission.FOLLOWUP_MANAGE)
def record_contact(visit_id: int) -> Response | tuple[str, int]:
    visit, patient = _visit_or_abort(visit_id)
    form = ContactForm()
    form.site_today = today(patient.site.timezone)
    confirm_outside = False
    if form.validate_on_submit():
        try:
            # The date fields are InputRequired: set once the form validated.
            log_contact(get_session(), visit, user_id=current_user.id,
                        attempted_on=cast(date, form.attempted_on.data),
                        method=form.method.data or "",
                        outcome=form.outcome.data or "",
                        appointment_date=form.appointment_date.data, note=form.note.data,
                        today=today(patient.site.timezone),
                        book_outside_window=bool(form.book_outside_window.data))
        except OutsideWindow as error:  # nothing saved: shown again with the checkbox
            flash_unplaced(form, error.errors)
            confirm_outside = True
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Contact attempt recorded for %(study_id)s.", study_id=patient.study_id),
                  "success")
            return redirect(url_for("followup.visit_page", visit_id=visit.id))
    return _render_visit(visit, patient, contact_form=form, status=422,
                         confirm_outside=confirm_outside)


@bp.route("/visits/<int:visit_id>/not-applicable", methods=["POST"])
@requires(Permission.FOLLOWUP_MANAGE)
def visit_not_applicable(visit_id: int) -> Response | tuple[str, int]:
    visit, patient = _visit_or_abort(visit_id)
    form = NotApplicableForm()
    if form.validate_on_submit():
        try:
            mark_not_applicable(get_session(), visit, reason=form.reason.data or "",
                                version=form.version.data)
        except ConflictError as error:
            # The page shows the visit as it is now; the typed reason stays in the form,
            # with the current version, to be sent again if it still applies.
            flash(str(error), "error")
            fresh = NotApplicableForm(formdata=None, version=visit.version,
                                      reason=form.reason.data)
            return _render_visit(visit, patient, na_form=fresh, status=409)
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Visit marked not applicable for %(study_id)s.",
                    study_id=patient.study_id), "success")
            return redirect(url_for("followup.visit_page", visit_id=visit.id))
    return _render_visit(visit, patient, na_form=form, status=422)


@bp.route("/patients/<int:patient_id>/withdraw", methods=["GET", "POST"])
@requires(Permission.FOLLOWUP_MANAGE)
def withdraw(patient_id: int) -> Response | tuple[str, int]:
    db = get_session()
    patient = patient_or_abort(db, patient_id, Permission.FOLLOWUP_MANAGE)
    site_today = today(patient.site.timezone)
    form = WithdrawalForm(version=patient.version, withdrawn_on=site_today)
    form.site_today = site_today
    if form.validate_on_submit():
        try:
            changed = withdraw_patient(db, patient, withdrawn_on=cast(date, form.withdrawn_on.data),
                                       reason=form.reason.data or "", note=form.note.data,
                                       version=form.version.data, today=site_today)
        except ConflictError as error:
            flash(str(error), "error")
            fresh = WithdrawalForm(formdata=None, version=patient.version,
                                   withdrawn_on=site_today)
            return render_template("followup/withdraw.html", patient=patient,
                                   form=fresh), 409
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(ngettext("%(study_id)s withdrawn from follow-up; %(num)d visit(s) not yet "
                           "done are now not applicable. Data already collected is kept.",
                           "%(study_id)s withdrawn from follow-up; %(num)d visit(s) not yet "
                           "done are now not applicable. Data already collected is kept.",
                           changed, study_id=patient.study_id), "success")
            return redirect(url_for("followup.worklist"))
    status = 422 if form.errors else 200
    return render_template("followup/withdraw.html", patient=patient, form=form), status
