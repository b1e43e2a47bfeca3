"""Views of the clinical area: thin — validate the form, call one service, redirect.

Every view names its permission (``@requires``) and, for a patient, checks it at the
patient's site (``patient_or_abort``).  A form re-rendered with errors returns 422 and a
stale save 409, so the request boundary rolls back and nothing is half-saved.
"""

from __future__ import annotations

import re
import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

import scoring
from registry import vocabularies
from registry.authz import (
    Permission,
    authorize,
    can,
    patient_or_abort,
    requires,
    visible_site_ids,
)
from registry.clinical import bp
from registry.clinical.charts import chart_figure, panel_svg, score_panel
from registry.clinical.forms import EnrolForm, TreatmentForm, VisitForm
from registry.clinical.list_form import PatientListForm
from registry.clinical.services import visits as visit_services
from registry.clinical.services.adverse_event_summary import adverse_event_summary
from registry.clinical.services.duplicates import (
    LikelyDuplicate,
    LikelyDuplicates,
    Person,
    find_likely_duplicates,
)
from registry.clinical.services.enrolment import (
    EnrolmentData,
    enrol_patient,
    indication_warnings,
)
from registry.clinical.services.patient_list import SORTS, list_patients
from registry.clinical.services.search import identity_site_ids
from registry.clinical.services.summary import (
    PatientSummary,
    load_patient,
    patient_summary,
    shown_visit_name,
)
from registry.clinical.services.treatment import (
    TreatmentData,
    lot_label,
    lot_options,
    save_treatment,
)
from registry.clock import today
from registry.db import get_session
from registry.forms import ButtonForm, attach_errors, choices, flash_unplaced
from registry.i18n import day
from registry.lots.flags import recall_flags
from registry.models import Patient, ProductLot, Site, Visit
from registry.paging import page_number
from registry.services import ConflictError, ValidationFailed
from registry.urls import url_builder

Page = str | Response | tuple[str, int]
# The one-time key of a button form (``secrets.token_urlsafe(24)``: 32 characters).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


@bp.route("/")
@requires(Permission.CLINICAL_READ)
def patient_list() -> Page:
    """The user's patients: search, filters, sorting by column (list_patients)."""
    page = page_number(request.args)
    site_ids = visible_site_ids(current_user)
    form = PatientListForm(request.args, sorted(
        (site for site in current_user.sites if site.id in site_ids), key=lambda s: s.code))
    if not form.validate():
        return render_template("clinical/patient_list.html", form=form, result=None), 422
    result = list_patients(get_session(), current_user, form.filters(page))
    return render_template("clinical/patient_list.html", form=form, result=result,
                           sorts=SORTS, arguments=form.arguments(),
                           patient_url=url_builder("clinical.patient_page", "patient_id"))


# --- enrolment ------------------------------------------------------------------------


def _enrol_sites() -> list[Site]:
    return sorted((s for s in current_user.sites if can(current_user, Permission.CLINICAL_WRITE,
                                                          s.id)), key=lambda s: s.code)


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def enrol() -> Page:
    form = EnrolForm()
    sites = _enrol_sites()
    form.site_id.choices = choices((site.id, str(site)) for site in sites)
    if not sites:
        flash(_("You are not assigned to an active site, so you cannot enrol patients."), "error")
    chosen = next((site for site in sites if str(site.id) == request.form.get("site_id")), None)
    if chosen is not None:
        form.site_today = today(chosen.timezone)  # dates are checked against the site's today
    warnings: list[str] = []
    if form.is_submitted():
        kl = None
        try:
            kl = int(str(form.kl_grade.data).strip())
        except ValueError:
            kl = None
        answered = {code: f.data == "yes" for code, _l, _e, f in form.eligibility_fields()
                    if f.data in ("yes", "no")}
        warnings = indication_warnings(kl, answered)
    duplicates: list[LikelyDuplicate] | None = None
    if form.validate_on_submit():
        authorize(Permission.CLINICAL_WRITE, form.site_id.data)
        data = EnrolmentData(
            site_id=form.site_id.data, family_name=form.family_name.data or "",
            given_name=form.given_name.data or "",
            medical_record_number=form.medical_record_number.data or "",
            phone=form.phone.data, email=form.email.data,
            preferred_contact=form.preferred_contact.data or "phone",
            email_reminders=bool(form.email_reminders.data), sex=form.sex.data or "",
            birth_date=form.birth_date.data, height_cm=form.height_cm.data,
            weight_kg=form.weight_kg.data, laterality=form.laterality.data or "",
            kl_grade=form.kl_grade_value, eligibility=form.eligibility_answers(),
            outside_indication_justification=form.outside_indication_justification.data,
            consent_date=form.consent_date.data, created_by_id=current_user.id,
            language=form.language.data or None,
            duplicate_site_ids=identity_site_ids(current_user),
            confirmed_not_duplicates=form.confirmed_not_duplicates())
        try:
            patient = enrol_patient(get_session(), data)
        except LikelyDuplicates as error:
            duplicates = error.duplicates
            flash_unplaced(form, error.errors)
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Patient %(study_id)s enrolled. Record the treatment next.",
                    study_id=patient.study_id), "success")
            return redirect(url_for("clinical.treatment", patient_id=patient.id))
    if duplicates is None and chosen is not None and form.birth_date.data \
            and not form.birth_date.errors:
        # Refused for another reason: the likely duplicates are listed already (and a
        # tick given for the same list is kept), not only once the rest is right.
        duplicates = find_likely_duplicates(get_session(), Person(
            chosen.id, form.family_name.data or "", form.given_name.data or "",
            form.birth_date.data, form.medical_record_number.data or ""),
            identity_site_ids(current_user) | {chosen.id})
    form.show_duplicates([duplicate.patient_id for duplicate in duplicates or []])
    status = 422 if request.method == "POST" else 200
    return render_template("clinical/enrol.html", form=form, warnings=warnings,
                           duplicates=duplicates or [],
                           kl_source=vocabularies.KL_SOURCE), status


# --- patient page and chart -----------------------------------------------------------


def _patient_summary(patient_id: int, *, identity: bool) -> PatientSummary:
    """What the patient's page shows (identity only if ``identity`` and allowed), loaded
    once and then authorized (as ``patient_or_abort`` does): 404 / 403 otherwise."""
    session = get_session()
    loaded = load_patient(session, patient_id)
    if loaded is None:
        abort(404)
    patient, has_adverse_events = loaded
    authorize(Permission.CLINICAL_READ, patient.site_id)
    return patient_summary(session, patient, show_identity=identity and can(
        current_user, Permission.IDENTITY_READ, patient.site_id),
        has_adverse_events=has_adverse_events)


@bp.route("/<int:patient_id>")
@requires(Permission.CLINICAL_READ)
def patient_page(patient_id: int) -> str:
    summary = _patient_summary(patient_id, identity=True)
    patient = summary.patient
    can_write = can(current_user, Permission.CLINICAL_WRITE, patient.site_id)
    lot = patient.treatment.lot if patient.treatment is not None else None
    # The "lot recalled: review" flag: asked only when the lot is recalled (one query).
    recalled = lot is not None and lot.release_status == "recalled" \
        and patient.id in recall_flags(get_session(), [patient.id])
    # Per-row links are built only for what this patient's page shows; its button-only
    # forms carry just the CSRF token (ButtonForm checks it on POST).
    return render_template(
        "clinical/patient.html", summary=summary, patient=patient,
        vocab=vocabularies, can_write=can_write, lot_recalled=recalled,
        events=adverse_event_summary(summary.adverse_events),
        figure=chart_figure(summary), panel_svg=panel_svg,
        # One key per rendering of the page: pressing its "Add an unscheduled visit" twice
        # gives one visit.
        visit_token=secrets.token_urlsafe(24) if can_write else None,
        visit_url=url_builder("clinical.visit_entry", "visit_id", patient_id=patient.id),
        chart_url=url_builder("clinical.score_chart", "score_code", patient_id=patient.id),
        event_url=url_builder("clinical.adverse_event_edit", "event_id", patient_id=patient.id),
        review_url=url_builder("clinical.adverse_event_review", "event_id",
                               patient_id=patient.id))


@bp.route("/<int:patient_id>/charts/<score_code>.svg")
@requires(Permission.CLINICAL_READ)
def score_chart(patient_id: int, score_code: str) -> Response:
    """One score's chart as an SVG document ("Open image"): the page's drawing, with a
    title and legend, made of presentation attributes only (it obeys the CSP)."""
    if score_code not in scoring.SCORES:
        abort(404)
    figure = chart_figure(_patient_summary(patient_id, identity=False))
    svg = panel_svg(figure, score_panel(figure, score_code), standalone=True)
    return Response(str(svg), mimetype="image/svg+xml")


# --- treatment ------------------------------------------------------------------------


def _treatment_form(patient: Patient, options: list[tuple[int, str]], *,
                    fresh: bool = False) -> TreatmentForm:
    form = TreatmentForm(obj=patient.treatment, formdata=None) if fresh \
        else TreatmentForm(obj=patient.treatment)
    form.set_lot_choices(options)
    form.site_today = today(patient.site.timezone)
    return form


def _offered_lot(patient: Patient, form: TreatmentForm, options: list[tuple[int, str]]
                 ) -> bool:
    """Whether the chosen lot is one the form offered, or another site's lot at one of
    the user's sites (usable with a justification); anything else is refused."""
    lot_id = form.lot_id_value
    if lot_id is None or lot_id in {option for option, _label in options}:
        return True
    lot = get_session().get(ProductLot, lot_id)
    if lot is None or lot.site_id not in visible_site_ids(current_user):
        form.lot_id.errors = [*form.lot_id.errors, _("Choose a lot from the list.")]
        return False
    form.set_lot_choices([*options, (lot.id, lot_label(lot, today(patient.site.timezone)))])
    return True


def _render_treatment(patient: Patient, form: TreatmentForm, options: list[tuple[int, str]],
                      status: int) -> tuple[str, int]:
    return render_template("clinical/treatment.html", patient=patient, form=form,
                           has_lots=bool(options)), status


@bp.route("/<int:patient_id>/treatment", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def treatment(patient_id: int) -> Page:
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    options = lot_options(session, patient, today(patient.site.timezone))
    form = _treatment_form(patient, options)
    if form.validate_on_submit() and _offered_lot(patient, form, options):
        data = TreatmentData(
            treatment_date=form.treatment_date.data,
            treatment_type=form.treatment_type.data or "",
            lot_id=form.lot_id_value, lot_justification=form.lot_justification.data,
            cell_dose_million=form.cell_dose_million.data, injections=form.injections.data,
            injection_interval_days=form.injection_interval_days.data,
            delivery_site=form.delivery_site.data or None,
            image_guidance=form.image_guidance.data or None,
            volume_ml=form.volume_ml.data, anaesthesia=form.anaesthesia.data or None,
            co_interventions=list(form.co_interventions.data or []),
            operator=form.operator.data or "", notes=form.notes.data)
        try:
            save_treatment(session, patient, data, version=form.version.data,
                           reason=form.reason.data, recorded_by_id=current_user.id)
        except ConflictError as error:
            flash(str(error), "error")
            return _render_treatment(patient, _treatment_form(patient, options, fresh=True),
                                     options, 409)
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Treatment saved; the follow-up schedule is set from the treatment date."),
                  "success")
            return redirect(url_for("clinical.patient_page", patient_id=patient.id))
    return _render_treatment(patient, form, options, 422 if form.errors else 200)


# --- visits ---------------------------------------------------------------------------


def _render_visit(patient: Patient, visit: Visit, form: VisitForm, values: dict[str, str],
                  errors: dict[str, str], status: int) -> tuple[str, int]:
    instruments = visit_services.visit_instruments(visit)
    return render_template(
        "clinical/visit.html", patient=patient, visit=visit, form=form, values=values,
        item_errors=errors, visit_name=shown_visit_name(visit),
        sections=visit_services.instrument_sections(instruments, visit),
        field_name=visit_services.field_name), status


@bp.route("/<int:patient_id>/visits/<int:visit_id>", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def visit_entry(patient_id: int, visit_id: int) -> Page:
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    visit = visit_services.load_visit(session, patient, visit_id) or abort(404)
    form = VisitForm(obj=visit)
    form.set_mode_choices(visit.collection_mode)
    form.site_today = today(patient.site.timezone)
    if not form.is_submitted():
        saved_values = visit_services.form_values(visit_services.stored_answers(visit))
        return _render_visit(patient, visit, form, saved_values, {}, 200)
    instruments = visit_services.visit_instruments(visit)
    answers, parse_errors = visit_services.parse_answers(request.form, instruments)
    typed = {key: value for key, value in request.form.items() if "-" in key}
    if not form.validate():
        return _render_visit(patient, visit, form, typed, parse_errors, 422)
    try:
        visit_services.save_visit(
            session, visit, visit_date=form.visit_date.data, answers=answers,
            version=form.version.data, reason=form.reason.data,
            clinician_id=current_user.id, parse_errors=parse_errors,
            collection_mode=form.collection_mode.data,
            incomplete_confirmed=bool(form.confirm_incomplete.data))
    except (ConflictError, StaleDataError):
        session.expire_all()
        visit = visit_services.load_visit(session, patient, visit_id) or abort(404)
        flash(_("This visit was saved by someone else since you opened it. Your changes were "
                "NOT saved; the values saved by the other person are shown below. Re-enter "
                "your changes if they are still needed."), "error")
        fresh = VisitForm(obj=visit, formdata=None)
        fresh.set_mode_choices(visit.collection_mode)
        current = visit_services.form_values(visit_services.stored_answers(visit))
        return _render_visit(patient, visit, fresh, current, {}, 409)
    except ValidationFailed as error:
        item_errors = attach_errors(form, error.errors)
        return _render_visit(patient, visit, form, typed, item_errors, 422)
    name = shown_visit_name(visit)
    if visit.out_of_window:
        flash(_("%(visit)s visit saved. Note: the visit date %(date)s is outside the window "
                "(%(start)s to %(end)s); it is flagged.", visit=name,
                date=day(visit.visit_date), start=day(visit.window_start),
                end=day(visit.window_end)), "warning")
    else:
        flash(_("%(visit)s visit saved.", visit=name), "success")
    return redirect(url_for("clinical.visit_entry", patient_id=patient.id, visit_id=visit.id))


@bp.route("/<int:patient_id>/visits/unscheduled", methods=["POST"])
@requires(Permission.CLINICAL_WRITE)
def unscheduled_visit(patient_id: int) -> Response:
    session = get_session()
    patient: Patient = patient_or_abort(session, patient_id, Permission.CLINICAL_WRITE)
    if not ButtonForm().validate_on_submit():
        abort(400)
    token = request.form.get("request_token", "")
    if not TOKEN_PATTERN.fullmatch(token):
        abort(400, description=_("The form has no valid one-time key (request_token): "
                                 "reload the patient page and press “Add an unscheduled "
                                 "visit” again."))
    if patient.treatment is None:
        flash(_("Record the treatment before adding an unscheduled visit."), "error")
        return redirect(url_for("clinical.patient_page", patient_id=patient.id))
    visit, created = visit_services.add_unscheduled_visit_once(session, patient, token)
    if not created:
        flash(_("This page's “Add an unscheduled visit” was already pressed (a double "
                "click?): here is the visit it added; no second visit was made."), "info")
    return redirect(url_for("clinical.visit_entry", patient_id=patient.id, visit_id=visit.id))


# --- adverse events -------------------------------------------------------------------
