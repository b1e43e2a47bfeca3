"""The Language page: each member of staff chooses the language of their interface.

The choice is kept on the account (``User.language``) and applies at every sign-in and on
every device; "the browser's language" clears it (``registry.i18n.select_locale`` then
follows the browser, then the person's sites).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, SubmitField

from registry.auth import bp
from registry.db import get_session
from registry.forms import check_choice, choices
from registry.models import User
from registry.vocabularies import LANGUAGES

BROWSER_CHOICE = ""  # the select's value for "no choice of my own" (choices' blank)


class LanguageForm(FlaskForm):
    """Languages are listed by their own names (English, Español), as users look for them."""

    language = SelectField(_l("Language of the interface"), validate_choice=False)
    submit = SubmitField(_l("Save"))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.language.choices = choices(LANGUAGES, blank=_("The browser's language"))

    def validate_language(self, field: SelectField) -> None:
        check_choice(field, _("Choose one of the languages listed."))


@bp.route("/account/language", methods=["GET", "POST"])
@login_required
def language_page() -> str | Response | tuple[str, int]:
    user: User = current_user._get_current_object()
    form = LanguageForm(data={"language": user.language or BROWSER_CHOICE})
    if form.validate_on_submit():
        user.language = form.language.data or None
        get_session().commit()
        refresh()  # the confirmation already speaks the chosen language
        flash(_("Language saved."), "success")
        return redirect(url_for("auth.language_page"))
    return render_template("auth/language.html", form=form), 422 if form.errors else 200
