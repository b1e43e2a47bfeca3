"""Flask extensions, created here and bound in the app factory."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf import CSRFProtect

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
# "basic" keeps the session bound to the user's id and token; "strong" would also drop
# it when the client's IP changes, which breaks clinics behind changing NAT addresses.
login_manager.session_protection = "basic"

csrf = CSRFProtect()
