"""Administration: sites, user accounts, protocols and instrument text packs."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from registry.admin import routes, textpacks  # noqa: E402,F401  - registers the views on bp
