"""Sign-in, sign-out, password change, session lifetime."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from registry.auth import routes  # noqa: E402,F401  - registers the views on bp
