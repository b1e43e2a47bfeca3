"""Forms of the follow-up area.  Choices come from ``registry.vocabularies``."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from registry.followup.status import STATUS_LABELS
from registry.forms import check_choice, choices
from registry.limits import date_validator
from registry.paging import PageField
from registry.vocabularies import CONTACT_METHODS, CONTACT_OUTCOMES, N_, WITHDRAWAL_REASONS

DATE_MESSAGE = _l("Enter a date as YYYY-MM-DD.")


def _date(label: Any, required: bool = False, limit: str | None = None) -> DateField:
    """A date field; ``limit`` names its plausible range in ``registry.limits`` (checked
    against the site's today when the view sets the form's ``site_today``)."""
    validators: list[Any] = ([InputRequired(message=_l("Enter the date."))] if required
                             else [Optional()])
    if limit is not None:
        validators.append(date_validator(limit))
    return DateField(label, validators=validators, invalid_value_message=DATE_MESSAGE)


# The worklist's tabs and single statuses (see worklist.TABS); the page shows them as
# tab links, and the filter form carries the chosen one in a hidden input.
STATUS_FILTER_CHOICES = choices([("open", N_("Open (overdue, due, upcoming)")),
                                 ("all", N_("All statuses")), *STATUS_LABELS.items()])


class WorklistFilterForm(FlaskForm):
    """The worklist's filters (read from the query string; no CSRF: it only reads)."""

    class Meta:
        csrf = False

    site = SelectField(_l("Site"), validate_choice=False)
    status = SelectField(_l("Status"), choices=STATUS_FILTER_CHOICES, default="open",
                         validate_choice=False)
    timepoint = SelectField(_l("Timepoint"), validate_choice=False)
    clinician = SelectField(_l("Clinician"), validate_choice=False)
    treated_from = _date(_l("Treated from"))
    treated_to = _date(_l("Treated until"))
    page = PageField(_l("Page"), default=1)

    def validate_site(self, field: SelectField) -> None:
        check_choice(field, _l("Choose one of your own sites (or all of them)."))

    def validate_status(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a status from the list."))

    def validate_timepoint(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a timepoint from the list."))

    def validate_clinician(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a clinician from the list."))

    def validate_treated_to(self, field: DateField) -> None:
        start = self.treated_from.data
        if field.data and start and field.data < start:
            raise ValidationError(_l("The end of the range cannot be before its start."))


class ContactForm(FlaskForm):
    attempted_on = _date(_l("Date of the attempt"), required=True, limit="attempted_on")
    method = SelectField(_l("Method"), choices=choices(CONTACT_METHODS, blank=N_("— choose —")),
                         validate_choice=False)
    outcome = SelectField(_l("Outcome"),
                          choices=choices(CONTACT_OUTCOMES, blank=N_("— choose —")),
                          validate_choice=False)
    appointment_date = _date(_l("Appointment date (when one was booked)"),
                             limit="appointment_date")
    note = TextAreaField(_l("Note (optional; no clinical details)"),
                         validators=[Optional(), Length(max=2000)])
    # Shown once a booked date outside the visit's window was refused: ticking it books
    # the date anyway (services.log_contact, ``book_outside_window``).
    book_outside_window = BooleanField(_l("Book outside the window"))
    submit = SubmitField(_l("Record contact attempt"))


class NotApplicableForm(FlaskForm):
    reason = TextAreaField(_l("Why will this visit not be done?"),
                           validators=[InputRequired(message=_l("Give the reason.")),
                                       Length(max=2000)])
    version = HiddenField()
    submit = SubmitField(_l("Mark visit not applicable"))


class WithdrawalForm(FlaskForm):
    withdrawn_on = _date(_l("Date of withdrawal"), required=True, limit="withdrawn_on")
    reason = SelectField(_l("Reason"),
                         choices=choices(WITHDRAWAL_REASONS, blank=N_("— choose —")),
                         validate_choice=False)
    note = TextAreaField(_l("Note (required when the reason is “Other”)"),
                         validators=[Optional(), Length(max=2000)])
    version = HiddenField()
    submit = SubmitField(_l("Withdraw patient from follow-up"))
