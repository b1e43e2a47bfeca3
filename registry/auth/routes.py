"""Sign-in, sign-out and password change pages."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from registry import audit_capture as capture
from registry.auth import bp, pending
from registry.auth.forms import ChangePasswordForm, LoginForm
from registry.auth.services import AccountError, LoginPolicy, authenticate, change_password
from registry.auth.services import end_sessions as end_user_sessions
from registry.db import get_session
from registry.forms import flash_unplaced
from registry.models import User, utcnow
from registry.security import is_safe_redirect, session_seconds_left
from registry.vocabularies import N_

RESTORED_MESSAGE = N_("Your session had expired; your entries were kept. Check them and save "
                      "again: nothing has been saved yet.")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        policy = LoginPolicy(
            max_failed=current_app.config["MAX_FAILED_LOGINS"],
            lockout=timedelta(minutes=current_app.config["LOCKOUT_MINUTES"]),
        )
        try:
            user = authenticate(db, form.email.data or "", form.password.data or "", policy)
        except AccountError as error:
            db.commit()  # keep the failed-attempt count and its audit row
            flash(str(error), "error")
            return render_template("auth/login.html", form=form), 401
        kept_token = session.get(pending.KEPT_KEY)
        kept_page = pending.claim(db, kept_token, user.id)
        session.clear()  # a new session at sign-in (no fixation)
        login_user(user)
        now = utcnow().timestamp()
        session["login_at"] = now
        session["last_seen"] = now
        next_url = request.args.get("next")
        if kept_page is not None:
            pending.start_restore(str(kept_token), kept_page)
            flash(_(RESTORED_MESSAGE), "warning")
            next_url = kept_page
        if user.must_change_password:
            return redirect(url_for("auth.change_password_page"))
        return redirect(next_url if is_safe_redirect(next_url) else url_for("main.home"))
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if current_user.is_authenticated:
        user: User = current_user._get_current_object()
        db = get_session()
        end_user_sessions(db, user)
        capture.record(db, "logout", entity_type="app_user", entity_id=user.id)
        db.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password_page() -> str | Response | tuple[str, int]:
    form = ChangePasswordForm()
    if current_user.must_change_password:  # say which password "current" means here
        form.current_password.label.text = _("Temporary password (the one you signed in "
                                             "with)")
    if form.validate_on_submit():
        db = get_session()
        user: User = current_user._get_current_object()
        try:
            change_password(db, user, form.current_password.data or "",
                            form.new_password.data or "")
        except AccountError as error:
            db.rollback()
            flash_unplaced(form, error.errors)
            return render_template("auth/change_password.html", form=form), 422
        db.commit()
        login_user(user)  # the token changed: keep this session, end the others
        flash(_("Your password was changed. Other sessions were signed out."), "success")
        return redirect(url_for("main.home"))
    return render_template("auth/change_password.html", form=form), 422 if form.errors else 200


@bp.route("/account/session")
@login_required
def keepalive() -> Response:
    """"Stay signed in": a cheap request that restarts the idle limit (the expiry warning's
    button calls it); answers the seconds left, which the absolute lifetime may cap."""
    now = utcnow().timestamp()
    session["last_seen"] = now
    return jsonify(seconds_left=max(0, int(session_seconds_left(now))))
