"""The followup area's pages."""

from flask import Blueprint

bp = Blueprint("followup", __name__, url_prefix="/followup")

from registry.followup import routes  # noqa: E402,F401  - registers the views on bp
