"""The audit trail's views: the admin's listing and CSV export of audit events, and the
History of each patient and visit for the staff of its site.

Capture of every change lives in ``registry.audit_capture``, the hash chain and its
verification in ``registry.audit_chain``: infrastructure, not part of this blueprint.
Rows are put in words by one describer (``describe``).
"""

from flask import Blueprint

# No common prefix: the trail's listing is under /admin/audit/, the History pages under
# /audit/ (they are not admin pages).
bp = Blueprint("audit", __name__)

from registry.audit import history_routes, routes  # noqa: E402,F401  - registers the views
