"""The audit trail's admin view: listing and CSV export of audit events.

Capture of every change lives in ``registry.audit_capture``, the hash chain and its
verification in ``registry.audit_chain``: infrastructure, not part of this blueprint.
"""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from registry.audit import routes  # noqa: E402,F401  - registers the views on bp
