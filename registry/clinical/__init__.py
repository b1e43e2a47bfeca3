"""The clinical area's pages."""

from flask import Blueprint

bp = Blueprint("clinical", __name__, url_prefix="/patients")

from registry.clinical import event_routes, routes  # noqa: E402,F401  - register the views
