"""Home page per role."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from registry.main import routes  # noqa: E402,F401  - registers the views on bp
