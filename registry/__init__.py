"""The KOA outcomes registry: a Flask application.

``create_app(config=None)`` builds the app: settings from ``REGISTRY_*`` environment
variables (see ``registry.config``), overridden by the ``config`` mapping if given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from registry import config as settings
from registry.paths import resource_dir

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the registry application."""
    instance_path = os.environ.get("REGISTRY_INSTANCE_PATH") or (
        (config or {}).get("INSTANCE_PATH")
    )
    app = Flask(
        "registry",
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(resource_dir("templates")),
        static_folder=str(Path(__file__).parent / "static"),
    )
    app.config.update(settings.settings_from_environment(Path(app.instance_path)))
    app.config.update(config or {})
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.load_or_create_secret(instance, "secret_key")
    if not app.config.get("AUDIT_KEY"):
        app.config["AUDIT_KEY"] = settings.load_or_create_secret(instance, "audit_key")
    if not app.config.get("PSEUDONYM_KEY"):
        app.config["PSEUDONYM_KEY"] = settings.load_or_create_secret(instance, "pseudonym_key")

    from registry import audit_capture as capture
    from registry import clock, db, i18n, request_guard, security, transactions
    from registry.extensions import csrf, login_manager
    from registry.followup import state as followup_status_tables
    from registry.forms import csrf_field

    db.init_app(app)
    maker = app.extensions["registry.sessionmaker"]
    maker.configure(info={capture.AUDIT_KEY: app.config["AUDIT_KEY"].encode(),
                          clock.CONFIG_KEY: app.config})
    capture.install(maker)
    followup_status_tables.install(maker)  # keep them current on every write
    login_manager.init_app(app)
    request_guard.init_app(app)  # bounded URL ids; NUL and file parts refused first
    csrf.init_app(app)
    security.init_app(app)
    transactions.init_app(app)  # after security: its commit runs before the headers
    app.jinja_env.globals["csrf_field"] = csrf_field
    i18n.init_app(app)  # English unless a patient-facing view sets the patient's language
    _register_blueprints(app)

    from registry.cli import register_commands

    register_commands(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from registry.admin import bp as admin_bp
    from registry.audit import bp as audit_bp
    from registry.auth import bp as auth_bp
    from registry.clinical import bp as clinical_bp
    from registry.followup import bp as followup_bp
    from registry.lots import bp as lots_bp
    from registry.main import bp as main_bp
    from registry.research import bp as research_bp
    from registry.selfreport.staff import bp as selfreport_staff_bp

    for blueprint in (auth_bp, main_bp, admin_bp, audit_bp, clinical_bp, followup_bp,
                      lots_bp, research_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(selfreport_staff_bp)  # staff actions on self-report links
    from registry.selfreport.routes import bp as selfreport_bp

    app.register_blueprint(selfreport_bp)  # the patient's pages (/r/<token>), the tablet
