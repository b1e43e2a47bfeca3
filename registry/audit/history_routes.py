"""History pages: the changes of one patient or one visit, in words, for the site's staff.

Who may read them is ``authz.can_read_history``'s decision (clinical staff of the
patient's site; auditors of their own sites); identifying values only with
``IDENTITY_READ`` at the site (``identity_rule``).  Times are shown in the site's zone.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from registry.audit import bp, history
from registry.audit.describe import describe
from registry.authz import Permission, can, can_read_history, requires
from registry.clinical.services.summary import visit_name
from registry.db import get_session
from registry.i18n import timepoint_name
from registry.models import Patient, Visit
from registry.paging import page_number


def identity_rule() -> Callable[[int | None], bool]:
    """Whether the current reader may see identifying values of a record at a site."""
    user = current_user._get_current_object()
    return lambda site_id: site_id is not None and can(user, Permission.IDENTITY_READ,
                                                       site_id)


def _history_of(patient: Patient, records: history.Records, title: str,
                visit: Visit | None = None) -> str:
    if not can_read_history(current_user, patient.site_id):
        abort(403)
    session = get_session()
    page = history.history_page(session, records, page_number(request.args))
    rows = describe(session, page.events, show_identity=identity_rule())
    return render_template("audit/history.html", patient=patient, visit=visit, title=title,
                           page=page, rows=rows, zone=patient.site.timezone or "UTC")


@bp.route("/audit/patients/<int:patient_id>/history")
@requires(Permission.CLINICAL_READ)
def patient_history(patient_id: int) -> str:
    patient = get_session().get(Patient, patient_id) or abort(404)
    return _history_of(patient, history.records_of_patient(patient.id),
                       _("History of %(patient)s", patient=patient.study_id))


@bp.route("/audit/visits/<int:visit_id>/history")
@requires(Permission.CLINICAL_READ)
def visit_history(visit_id: int) -> str:
    session = get_session()
    visit = session.get(Visit, visit_id) or abort(404)
    patient = session.get(Patient, visit.patient_id) or abort(404)
    name = timepoint_name(visit_name(visit)) if visit.timepoint else visit_name(visit)
    return _history_of(patient, history.records_of_visit(visit.id),
                       _("History of %(patient)s, %(visit)s visit", patient=patient.study_id,
                         visit=name), visit)
