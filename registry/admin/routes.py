"""Admin pages: sites, user accounts and follow-up protocols."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

import scoring
from registry.admin import bp
from registry.admin.forms import SiteForm, UserCreateForm, UserEditForm, protocol_form
from registry.admin.protocols import list_protocols, update_protocol
from registry.admin.services import create_site, update_site, update_user
from registry.auth.services import AccountError, create_user, unlock
from registry.authz import Permission, requires
from registry.db import get_session
from registry.forms import ButtonForm, choices, flash_unplaced
from registry.models import Protocol, Site, User
from registry.services import ConflictError, ValidationFailed
from registry.vocabularies import LANGUAGES


def _site_choices() -> list[SelectChoice]:
    return choices((site.id, str(site)) for site in
                   get_session().scalars(select(Site).order_by(Site.code)))


@bp.route("/sites", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def sites() -> str | Response | tuple[str, int]:
    form = SiteForm()
    if form.validate_on_submit():
        try:
            site = create_site(get_session(), code=form.code.data or "", name=form.name.data or "",
                               timezone=form.timezone.data, language=form.language.data or "en")
        except AccountError as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Site %(code)s created.", code=site.code), "success")
            return redirect(url_for("admin.sites"))
    all_sites = get_session().scalars(select(Site).order_by(Site.code)).all()
    status = 422 if form.errors else 200
    return render_template("admin/sites.html", sites=all_sites, form=form,
                           languages=LANGUAGES), status


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def edit_site(site_id: int) -> str | Response | tuple[str, int]:
    site = get_session().get(Site, site_id) or abort(404)
    form = SiteForm(obj=site)
    form.code.render_kw = {"readonly": True}
    if form.validate_on_submit():
        try:
            update_site(get_session(), site, name=form.name.data or "",
                        timezone=form.timezone.data, active=form.active.data,
                        version=form.version.data, reason="site details updated by admin",
                        language=form.language.data)
        except ConflictError as error:
            flash(str(error), "error")
            return render_template("admin/site_edit.html", site=site, form=SiteForm(obj=site)), 409
        except AccountError as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Site %(code)s saved.", code=site.code), "success")
            return redirect(url_for("admin.sites"))
    status = 422 if form.errors else 200
    return render_template("admin/site_edit.html", site=site, form=form), status


@bp.route("/users", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def users() -> str | Response | tuple[str, int]:
    form = UserCreateForm()
    form.sites.choices = _site_choices()
    if form.validate_on_submit():
        db = get_session()
        codes = [site.code for site in db.scalars(select(Site).where(
            Site.id.in_(form.sites.data or [])))]
        try:
            user = create_user(db, email=form.email.data or "", full_name=form.full_name.data or "",
                               role=form.role.data or "", password=form.password.data or "",
                               site_codes=codes, must_change_password=True)
        except AccountError as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Account %(email)s created; they must change the password at first "
                    "sign-in.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    accounts = get_session().scalars(select(User).order_by(User.email)).all()
    status = 422 if form.errors else 200
    return render_template("admin/users.html", users=accounts, form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def edit_user(user_id: int) -> str | Response | tuple[str, int]:
    user = get_session().get(User, user_id) or abort(404)
    form = UserEditForm(obj=user)
    form.sites.choices = _site_choices()
    if not form.is_submitted():
        form.sites.data = sorted(user.site_ids)
    if form.validate_on_submit():
        try:
            update_user(get_session(), user, full_name=form.full_name.data or "",
                        role=form.role.data or "", site_ids=form.sites.data or [],
                        active=form.active.data, reason=form.reason.data or "")
        except AccountError as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Account %(email)s saved.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    status = 422 if form.errors else 200
    return render_template("admin/user_edit.html", user=user, form=form), status


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@requires(Permission.ADMIN)
def unlock_user(user_id: int) -> Response:
    user = get_session().get(User, user_id) or abort(404)
    if ButtonForm().validate_on_submit():
        unlock(get_session(), user)
        flash(_("Account %(email)s unlocked.", email=user.email), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.route("/protocols")
@requires(Permission.ADMIN)
def protocols() -> str:
    return render_template("admin/protocols.html", protocols=list_protocols(get_session()),
                           threshold_sets=scoring.THRESHOLD_SETS)


@bp.route("/protocols/<int:protocol_id>", methods=["GET", "POST"])
@requires(Permission.ADMIN)
def edit_protocol(protocol_id: int) -> str | Response | tuple[str, int]:
    session = get_session()
    protocol = session.get(Protocol, protocol_id) or abort(404)
    form = protocol_form(protocol)
    if form.validate_on_submit():
        chosen = {timepoint.id: list(field.data or []) for timepoint, field
                  in form.timepoint_fields}
        try:
            # The version as the form sent it (absent = stale), not the field's default.
            update_protocol(session, protocol, instruments=chosen,
                            threshold_set=form.threshold_set.data or "",
                            version=request.form.get("version"), reason=form.reason.data)
        except (ConflictError, StaleDataError):
            session.expire_all()
            protocol = session.get(Protocol, protocol_id) or abort(404)
            flash(_("This protocol was changed by someone else since you opened it. Your "
                    "changes were not saved; the current values are shown."), "error")
            return render_template("admin/protocol_edit.html", protocol=protocol,
                                   form=protocol_form(protocol, fresh=True),
                                   threshold_sets=scoring.THRESHOLD_SETS), 409
        except ValidationFailed as error:
            flash_unplaced(form, error.errors)
        else:
            flash(_("Protocol %(name)s saved.", name=protocol.name), "success")
            return redirect(url_for("admin.protocols"))
    status = 422 if form.errors else 200
    return render_template("admin/protocol_edit.html", protocol=protocol, form=form,
                           threshold_sets=scoring.THRESHOLD_SETS), status

