"""Admin view of the audit trail."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

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
    db.commit()
    return Response(
        stream_with_context(services.csv_rows(db, args)),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"},
    )
