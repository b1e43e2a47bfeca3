"""Forms for sites and users."""

from __future__ import annotations

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

from registry.forms import choices
from registry.models import ROLE_LABELS


class SiteForm(FlaskForm):
    code = StringField(
        "Site code (2–8 capital letters or digits, used in study IDs)",
        validators=[DataRequired(), Regexp(r"^[A-Z0-9]{2,8}$",
                                           message="Use 2–8 capital letters or digits.")],
    )
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    timezone = StringField("Time zone (e.g. Europe/Oslo; empty = UTC)",
                           validators=[Optional(), Length(max=64)])
    active = BooleanField("Active", default=True)
    version = HiddenField()
    submit = SubmitField("Save site")


class UserCreateForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254),
                                            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                                   message="Enter a valid e-mail address.")])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=choices(ROLE_LABELS))
    sites = SelectMultipleField("Sites", coerce=int)
    password = PasswordField("Initial password (12–128 characters; the user must change it)",
                             validators=[DataRequired(), Length(max=128)])
    submit = SubmitField("Create account")


class UserEditForm(FlaskForm):
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=choices(ROLE_LABELS))
    sites = SelectMultipleField("Sites", coerce=int)
    active = BooleanField("Active (unticking signs the user out everywhere)")
    reason = StringField("Reason for the change", validators=[DataRequired(), Length(max=500)])
    submit = SubmitField("Save account")
