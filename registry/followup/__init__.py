"""The followup area's pages."""

from flask import Blueprint

bp = Blueprint("followup", __name__, url_prefix="/followup")

# Register the views on bp: the worklist and visit pages, and the record status grid.
from registry.followup import grid_routes, routes  # noqa: E402,F401
