"""The research area's pages."""

from flask import Blueprint

bp = Blueprint("research", __name__, url_prefix="/research")

from registry.research import routes  # noqa: E402,F401  - registers the views on bp
