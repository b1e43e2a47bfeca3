"""Admin view of the audit trail."""

from __future__ import annotations

import tempfile

from flask import Response, render_template, request, send_file

from registry.audit import bp, capture, services
from registry.authz import Permission, requires
from registry.db import get_session


@bp.route("/")
@requires(Permission.AUDIT_READ)
def index() -> str:
    args = {key: request.args.get(key, "") for key in services.FILTERS}
    page = services.page_of_events(get_session(), args, request.args.get("page", 1, type=int))
    return render_template("audit/index.html", page=page, filters=args)


@bp.route("/export.csv", methods=["POST"])
@requires(Permission.AUDIT_READ)
def export_csv() -> Response:
    args = {key: request.form.get(key, "") for key in services.FILTERS}
    db = get_session()
    capture.record(db, "audit_export", new_value={"filters": args})
    # Spooled to a temporary file (memory up to 8 MB, then disk) so that the whole
    # export is read inside this request's transaction, however long the trail.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    for chunk in services.csv_rows(db, args):
        spool.write(chunk.encode())
    spool.seek(0)
    return send_file(spool, mimetype="text/csv", as_attachment=True,
                     download_name="audit-trail.csv")
