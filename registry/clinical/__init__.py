"""The clinical area's pages."""

from flask import Blueprint

bp = Blueprint("clinical", __name__, url_prefix="/patients")

from registry.clinical import routes  # noqa: E402,F401  - registers the views on bp
