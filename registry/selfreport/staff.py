"""Staff actions on a visit's self-report: create, e-mail and revoke links; review.

Every action is a POST with CSRF, needs clinical write access at the patient's site
(``registry.authz``), and carries the version of the visit (links) or self-report
(review) its page showed: a stale form gets 409.  A link's token is shown once, on the
page that answers "create link", and is never logged or stored in plain text.
"""

from __future__ import annotations

import logging
import smtplib

import segno
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from registry.authz import Permission, requires, visit_or_abort
from registry.clinical.services.summary import visit_name
from registry.db import get_session
from registry.followup.mailer import MailConfigError, Mailer, SmtpSettings, build_message
from registry.forms import ButtonForm, choices, flash_unplaced
from registry.models import Patient, SelfReport, SelfReportLink, Visit
from registry.selfreport import review as reviews
from registry.selfreport import service
from registry.selfreport.compare import comparison
from registry.selfreport.messages import patient_message
from registry.selfreport.panel import BACK_PAGES, back_url, build_panel
from registry.services import ConflictError, ValidationFailed, check_version
from registry.transactions import conflict_response
from registry.vocabularies import COLLECTION_MODES, N_

bp = Blueprint("selfreport_staff", __name__, url_prefix="/self-report")
log = logging.getLogger(__name__)
Page = Response | tuple[str, int] | tuple[Response, int]
QR_SCALE = 4


@bp.record_once
def _register_panel(state: object) -> None:
    """Staff templates build the panel with ``self_report_panel(visit, back)``."""
    app = state.app  # type: ignore[attr-defined]
    app.jinja_env.globals["self_report_panel"] = build_panel


class ReviewForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=choices({
        "accept": N_("Accept: replace the visit's answers with the patient's"),
        "dismiss": N_("Dismiss: keep the answers staff recorded")}),
        validators=[InputRequired(message=_l("Choose accept or dismiss."))])
    reason = TextAreaField(_l("Reason (kept in the audit trail)"), validators=[
        InputRequired(message=_l("Give a reason for the decision.")), Length(max=500)])
    version = HiddenField()


def _visit(visit_id: int) -> tuple[Visit, Patient]:
    visit, patient = visit_or_abort(get_session(), visit_id, Permission.CLINICAL_WRITE)
    return visit, patient


def _checked_form(visit: Visit) -> str:
    """CSRF, then the visit version the page showed (409 when stale); the back page."""
    if not ButtonForm().validate_on_submit():
        abort(400, description=_("The form's security token is missing or expired: reload "
                                 "the page and try again."))
    check_version(visit, request.form.get("version"))
    back = request.form.get("back", "clinical")
    return back if back in BACK_PAGES else "clinical"


def _refused(visit: Visit, patient: Patient, back: str, message: str) -> tuple[str, int]:
    return render_template("selfreport/staff_refused.html", visit=visit, patient=patient,
                           message=message, back=back_url(back, visit)), 422


def _qr_svg(url: str) -> str:
    qr = segno.make(url, error="m")
    return str(qr.svg_inline(scale=QR_SCALE, light="#fff",
                             title=_("QR code of the patient's self-report link")))


@bp.route("/visits/<int:visit_id>/link", methods=["POST"])
@requires(Permission.CLINICAL_WRITE)
def create_link(visit_id: int) -> Page:
    """Make a link and show it once: the address, "copy link", a QR code."""
    visit, patient = _visit(visit_id)
    back = _checked_form(visit)
    try:
        link, token = service.issue_link(get_session(), visit, channel="link",
                                         created_by_id=current_user.id)
    except ValidationFailed as error:
        return _refused(visit, patient, back, next(iter(error.errors.values())))
    url = service.link_url(token, current_app.config["BASE_URL"])
    identity = patient.identity
    page = render_template(
        "selfreport/staff_link.html", visit=visit, patient=patient, url=url,
        qr_svg=_qr_svg(url), link=link, back=back, back_url=back_url(back, visit),
        visit_name=visit_name(visit), has_email=bool(identity and identity.email))
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the token is on this page only
    return response, 200


@bp.route("/visits/<int:visit_id>/email", methods=["POST"])
@requires(Permission.CLINICAL_WRITE)
def email_link(visit_id: int) -> Page:
    """Make an e-mail link and send it to the patient's address, in their language."""
    visit, patient = _visit(visit_id)
    back = _checked_form(visit)
    session = get_session()
    recipient = patient.identity.email if patient.identity else None
    if not recipient:
        return _refused(visit, patient, back, _("The patient has no e-mail address: record "
                                                "one on the patient's details first."))
    savepoint = session.begin_nested()
    try:
        link, token = service.issue_link(session, visit, channel="email",
                                         created_by_id=current_user.id)
    except ValidationFailed as error:
        savepoint.rollback()
        return _refused(visit, patient, back, next(iter(error.errors.values())))
    subject, body = patient_message(
        "invitation", clinic=patient.site.name, visit_name=visit_name(visit),
        url=service.link_url(token, current_app.config["BASE_URL"]),
        target_date=visit.target_date, window_end=link.expires_on,
        language=service.language_of(patient))
    try:
        settings = SmtpSettings.from_config(current_app.config)
        with Mailer(settings) as mailer:
            mailer.send(build_message(settings, recipient, subject, body))
    except (MailConfigError, smtplib.SMTPException, OSError) as error:
        savepoint.rollback()  # no link that nobody received
        log.warning("self-report e-mail for visit %s not sent: %s", visit.id,
                    type(error).__name__)
        flash(_("The e-mail could not be sent (the mail server did not accept it), so no "
                "link was made. Try again later, or create a link and hand it over."), "error")
        return redirect(back_url(back, visit))
    savepoint.commit()
    log.info("self-report link %s e-mailed for visit %s", link.id, visit.id)
    flash(_("A self-report link was e-mailed to the patient."), "success")
    return redirect(back_url(back, visit))


@bp.route("/visits/<int:visit_id>/revoke", methods=["POST"])
@requires(Permission.CLINICAL_WRITE)
def revoke_link(visit_id: int) -> Page:
    """Stop one of the visit's links from working."""
    visit, _patient = _visit(visit_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    raw = request.form.get("link_id", "")
    link = get_session().get(SelfReportLink, int(raw)) if raw.isdigit() and len(raw) < 10 \
        else None
    if link is None or link.self_report.visit_id != visit.id:
        abort(404, description=_("No such link for this visit."))
    back = request.form.get("back", "clinical")
    if service.revoke(get_session(), link, user_id=current_user.id):
        flash(_("The link was revoked: it no longer opens the questionnaire."), "success")
    else:
        flash(_("This link had already been revoked."), "info")
    return redirect(back_url(back if back in BACK_PAGES else "clinical", visit))


def _render_review(visit: Visit, patient: Patient, report: SelfReport, form: ReviewForm,
                   status: int) -> tuple[str, int]:
    return render_template(
        "selfreport/staff_review.html", visit=visit, patient=patient, report=report, form=form,
        visit_name=visit_name(visit), rows=comparison(visit, report),
        mode_label=COLLECTION_MODES.get(report.mode or "", "")), status


@bp.route("/visits/<int:visit_id>/review", methods=["GET", "POST"])
@requires(Permission.CLINICAL_WRITE)
def review(visit_id: int) -> Page:
    """A submission kept because staff had recorded the visit: accept or dismiss it."""
    visit, patient = _visit(visit_id)
    session = get_session()
    report = service.report_for_visit(session, visit.id)
    if report is None or report.state != "pending_review":
        if request.method == "POST" and report is not None:
            return conflict_response(), 409  # decided by someone else meanwhile
        flash(_("There is no self-report awaiting review for this visit."), "info")
        return redirect(back_url("clinical", visit))
    form = ReviewForm(version=report.version)
    if not form.validate_on_submit():
        return _render_review(visit, patient, report, form,
                              422 if form.is_submitted() else 200)
    decide = reviews.accept if form.decision.data == "accept" else reviews.dismiss
    try:
        decide(session, report, user_id=current_user.id, reason=form.reason.data,
               version=form.version.data)
    except ConflictError as error:
        session.expire_all()
        flash(str(error), "error")
        report = service.report_for_visit(session, visit.id) or report
        fresh = ReviewForm(formdata=None, version=report.version)
        return _render_review(visit, patient, report, fresh, 409)
    except ValidationFailed as error:
        flash_unplaced(form, error.errors)
        return _render_review(visit, patient, report, form, 422)
    flash(_("The patient's answers replaced the visit's answers.") if form.decision.data
          == "accept" else _("The self-report was dismissed; the staff's answers are kept."),
          "success")
    return redirect(back_url("clinical", visit))
