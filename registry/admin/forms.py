"""Forms for sites, users and protocols."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

import scoring
from registry.admin.protocols import offered_instruments, timepoint_field
from registry.forms import choices
from registry.i18n import timepoint_name
from registry.models import ROLE_LABELS, Protocol
from registry.scheduling import timepoint_instruments
from registry.vocabularies import LANGUAGES


class SiteForm(FlaskForm):
    code = StringField(
        _l("Site code (2–8 capital letters or digits, used in study IDs)"),
        validators=[DataRequired(), Regexp(r"^[A-Z0-9]{2,8}$",
                                           message=_l("Use 2–8 capital letters or digits."))],
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    timezone = StringField(_l("Time zone (e.g. Europe/Oslo; empty = UTC)"),
                           validators=[Optional(), Length(max=64)])
    # Not sent (an older form): English, the column's default.
    language = SelectField(_l("Language of the site's patients (e-mails and self-report; a "
                              "patient's own choice comes first)"), choices=choices(LANGUAGES),
                           default="en")
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()
    submit = SubmitField(_l("Save site"))


class UserCreateForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254),
                                            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                                   message=_l("Enter a valid e-mail address."))])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS))
    sites = SelectMultipleField(_l("Sites"), coerce=int)
    password = PasswordField(_l("Initial password (12–128 characters; the user must change it)"),
                             validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Create account"))


class UserEditForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS))
    sites = SelectMultipleField(_l("Sites"), coerce=int)
    active = BooleanField(_l("Active (unticking signs the user out everywhere)"))
    reason = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])
    submit = SubmitField(_l("Save account"))


class CheckboxesField(SelectMultipleField):
    """A group of checkboxes (rendered as a fieldset with a legend)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ProtocolForm(FlaskForm):
    """The threshold set, the reason and the version; ``protocol_form`` adds one group of
    instrument checkboxes per timepoint."""

    threshold_set = SelectField(_l("Threshold set (MCII, MIC and PASS flags)"))
    reason = StringField(_l("Reason for the change (kept in the audit trail)"),
                         validators=[DataRequired(message=_l("Give a reason for the change.")),
                                     Length(max=500)])
    version = HiddenField()
    submit = SubmitField(_l("Save protocol"))

    timepoint_fields: list[tuple[Any, SelectMultipleField]]


def protocol_form(protocol: Protocol, *, fresh: bool = False) -> ProtocolForm:
    """The editor's form for ``protocol``: per timepoint (legend = its name) a checkbox per
    instrument the catalogue lets it record, ticked as it records them now.

    ``fresh``: the saved values, ignoring any posted form (shown after a conflict).
    """
    fields = {timepoint_field(timepoint): CheckboxesField(
        timepoint_name(timepoint.name), choices=choices((instrument.code, instrument.name)
                                        for instrument in offered_instruments(timepoint)))
        for timepoint in protocol.timepoints}
    form_class = type("ProtocolInstrumentsForm", (ProtocolForm,), fields)
    form: ProtocolForm = form_class(**({"formdata": None} if fresh else {}), data={
        "threshold_set": protocol.threshold_set, "version": protocol.version,
        **{timepoint_field(timepoint): timepoint_instruments(timepoint)
           for timepoint in protocol.timepoints}})
    form.threshold_set.choices = choices(
        (code, _("%(label)s (version %(version)s)", label=item.label, version=item.version))
        for code, item in scoring.THRESHOLD_SETS.items())
    form.timepoint_fields = [(timepoint, form[timepoint_field(timepoint)])
                             for timepoint in protocol.timepoints]
    return form
