"""Admin view of the audit trail: the events of the admin's own sites (see ``services``)."""

from __future__ import annotations

import tempfile

from flask import render_template, request, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

from registry import audit_capture as capture
from registry.audit import bp, services
from registry.audit.describe import describe
from registry.audit.history_routes import identity_rule
from registry.authz import Permission, requires
from registry.db import get_session
from registry.downloads import as_download
from registry.services import ValidationFailed


def _own_site_ids() -> frozenset[int]:
    """Every site the administrator belongs to, deactivated ones included: a closed site's
    history stays readable (``authz.visible_site_ids`` gives active sites only)."""
    return frozenset(current_user.site_ids)


def _page(args: dict[str, str], errors: dict[str, str], status: int) -> tuple[str, int]:
    empty = services.AuditPage([], 0, 1, 1)
    return render_template("audit/index.html", page=empty, rows=[], filters=args,
                           errors=errors), status


@bp.route("/admin/audit/")
@requires(Permission.AUDIT_READ)
def index() -> tuple[str, int]:
    args = {key: request.args.get(key, "") for key in services.FILTERS}
    try:
        filters = services.parse_filters(args)
        number = services.parse_page(request.args.get("page"))
    except ValidationFailed as failed:
        return _page(args, failed.errors, 422)
    db = get_session()
    page = services.page_of_events(db, filters, number, _own_site_ids())
    rows = describe(db, page.events, show_identity=identity_rule())
    return render_template("audit/index.html", page=page, rows=rows, filters=args,
                           errors={}), 200


@bp.route("/admin/audit/export.csv", methods=["POST"])
@requires(Permission.AUDIT_READ)
def export_csv() -> Response | tuple[str, int]:
    args = {key: request.form.get(key, "") for key in services.FILTERS}
    try:
        filters = services.parse_filters(args)
    except ValidationFailed as failed:
        return _page(args, failed.errors, 422)
    db = get_session()
    # Spooled to a temporary file (memory up to 8 MB, then disk) so that the whole
    # export is read inside this request's transaction, however long the trail.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    try:
        for chunk in services.csv_rows(db, filters, _own_site_ids()):
            spool.write(chunk.encode())
        spool.seek(0)
    except BaseException:
        spool.close()  # send_file owns it only once it is handed over
        raise
    response = as_download(send_file(spool, mimetype="text/csv"), "audit-trail.csv")
    # Recorded once the file and its headers are built (after the rows it lists).
    capture.record(db, "audit_export", new_value={"filters": args})
    return response
