"""The clinic tablet (kiosk): staff hand a device to the patient, who answers on it.

``kiosk_start`` issues a "kiosk" link for the visit, signs the staff member out on this
device (their session here ends; their sessions elsewhere are untouched), and keeps the
link's token in the new, signed-out session.  While it is there, every other address
redirects to the patient's form, so the device shows only that form.  Submitting ends
the kiosk state: the thank-you page asks the patient to hand the tablet back, and the
next page is the staff sign-in.  If the patient cannot finish, staff revoke the link on
another device: the tablet is then released at its next request.
"""

from __future__ import annotations

from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from registry import audit_capture as capture
from registry.authz import Permission, authorize, requires
from registry.db import get_session
from registry.models import User, Visit
from registry.selfreport import service
from registry.selfreport.routes import KIOSK_KEY, PATIENT_ENDPOINTS, bp
from registry.services import ValidationFailed, check_version
from registry.vocabularies import LANGUAGES

# Reached while a kiosk session is on: the patient's pages (of its token) and static files.
_OPEN_ENDPOINTS = frozenset({"static"})


@bp.route("/self-report/kiosk/<int:visit_id>", methods=["POST"])
@requires(Permission.CLINICAL_WRITE)
def kiosk_start(visit_id: int) -> Response | tuple[str, int]:
    """Start the patient's form on this device and sign the staff member out here.

    The form sends the visit's ``version`` as the page showed it: a stale page (the
    visit changed since) is refused with 409 rather than handing over the tablet.  An
    optional ``language`` sets the form's language (default: the patient's).
    """
    db = get_session()
    visit = db.get(Visit, visit_id)
    if visit is None:
        abort(404)
    authorize(Permission.CLINICAL_WRITE, visit.patient.site_id)
    check_version(visit, request.form.get("version"))
    language = request.form.get("language") or None
    if language is not None and language not in LANGUAGES:
        return _refused(visit, _("Unknown language %(language)s: choose one of %(choices)s.",
                                 language=repr(language), choices=", ".join(sorted(LANGUAGES))))
    user: User = current_user._get_current_object()
    try:
        link, token = service.issue_link(db, visit, channel="kiosk", created_by_id=user.id)
    except ValidationFailed as error:
        return _refused(visit, "; ".join(error.errors.values()))
    if language is not None:
        link.self_report.language = language
    capture.record(db, "self_report_kiosk", entity_type="visit", entity_id=visit.id,
                   site_id=visit.patient.site_id)
    db.flush()
    logout_user()
    session.clear()  # this device's staff session ends here (not the user's others)
    session[KIOSK_KEY] = token
    return redirect(url_for("selfreport.start", token=token), code=303)


def _refused(visit: Visit, message: str) -> tuple[str, int]:
    return render_template("selfreport/kiosk_refused.html", visit=visit,
                           message=message), 422


@bp.before_app_request
def _kiosk_guard() -> Response | None:
    """On a tablet in kiosk state, every other address leads back to the patient's form."""
    token = session.get(KIOSK_KEY)
    if not isinstance(token, str):
        return None
    if request.endpoint in _OPEN_ENDPOINTS:
        return None
    if (request.endpoint in PATIENT_ENDPOINTS
            and (request.view_args or {}).get("token") == token):
        return None
    link = service.find_link(get_session(), token)
    if link is None or link.self_report.state != "open":
        session.pop(KIOSK_KEY, None)  # revoked, expired or sent: the tablet is free
        return None
    return redirect(url_for("selfreport.start", token=token), code=303)


__all__ = ["kiosk_start"]
