"""Sign-in, sign-out, password change, session lifetime."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from registry.auth import language, routes  # noqa: E402,F401  - register the views on bp
