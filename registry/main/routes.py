"""The home page: what each role needs first."""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from registry import vocabularies
from registry.db import get_session
from registry.followup.labels import timing_parts
from registry.lots.trace import alert_threshold
from registry.main import bp
from registry.main.services import home_summary


@bp.route("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    return redirect(url_for("auth.login"))


@bp.route("/home")
@login_required
def home() -> str:
    summary = home_summary(get_session(), current_user,
                           lot_alert=alert_threshold(current_app.config))
    return render_template("main/home.html", summary=summary, vocab=vocabularies,
                           timing=timing_parts)
