"""The audit trail: capture of every change, the hash chain, verification, admin view."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from registry.audit import routes  # noqa: E402,F401  - registers the views on bp
