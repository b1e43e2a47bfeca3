"""Forms of the clinical area: enrolment, treatment, adverse events, visit header.

Field-level rules live here (types, ranges, required); rules that need the database or
other records (dates against the treatment, record-number uniqueness) are in services.
Choices come from ``registry.vocabularies`` so the forms, the model constraints and the
data dictionary never disagree.  The visit's questionnaire items are not WTForms fields:
they are rendered from ``scoring.INSTRUMENTS`` and parsed by ``visit_answers``.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from registry.forms import NumberField, choices
from registry.limits import date_validator, number_validator
from registry.vocabularies import (
    AE_ACTIONS,
    AE_CATEGORIES,
    AE_GRADES,
    AE_OUTCOMES,
    AE_RELATEDNESS,
    AE_SERIOUS_CRITERIA,
    ANAESTHESIA,
    CO_INTERVENTIONS,
    COLLECTION_MODES,
    CONTACT_PREFERENCES,
    DELIVERY_SITES,
    ELIGIBILITY_CRITERIA,
    IMAGE_GUIDANCE,
    KL_GRADE_DEFINITIONS,
    KL_GRADES,
    LANGUAGES,
    LATERALITY,
    N_,
    SEX,
    STAFF_COLLECTION_MODES,
    TREATMENT_TYPES,
)

YES_NO = choices({"yes": N_("Yes"), "no": N_("No")})


def plausible(name: str) -> Any:
    """Validator: the date field ``name`` lies in its plausible range (``registry.limits``),
    which for things that have happened ends today."""
    return date_validator(name)


def one_of(vocabulary: dict[Any, str], what: Any) -> Any:
    """Validator: the submitted code must be one of the vocabulary's codes (``what``: the
    field's name in the message, a lazy string)."""

    def check(_form: Any, field: Field) -> None:
        if field.data in (None, ""):
            return
        if str(field.data) not in {str(code) for code in vocabulary}:
            allowed = ", ".join(str(code) for code in vocabulary)
            raise ValidationError(_("%(what)s must be one of %(allowed)s.", what=what,
                                    allowed=allowed))

    return check


def kl_grade_choices() -> list[Any]:
    """The Kellgren–Lawrence grades as select options, each with its definition
    (``vocabularies.KL_GRADE_DEFINITIONS``), after a blank "Choose…"."""
    return choices(((code, f"{_(label)}: {_(KL_GRADE_DEFINITIONS[code])}")
                    for code, label in KL_GRADES.items()), blank=_("Choose…"))


def kl_grade_field() -> SelectField:
    """The index knee's grade, 0–4: a select wherever the index knee is edited.

    Values a tampered request sends are refused by the form's ``validate_kl_grade``
    (``validate_choice`` off, so the message names the grade rather than "Not a valid
    choice"); options are set per form (``kl_grade_choices``) so they are translated.
    """
    return SelectField(_l("Kellgren–Lawrence grade"), validate_choice=False,
                       validators=[InputRequired(message=_l(
                           "Choose the Kellgren–Lawrence grade (0–4)."))])


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EnrolForm(FlaskForm):
    site_id = SelectField(_l("Site"), coerce=int, validate_choice=True)
    family_name = StringField(_l("Family name"), validators=[DataRequired(), Length(max=120)])
    given_name = StringField(_l("Given name"), validators=[DataRequired(), Length(max=120)])
    medical_record_number = StringField(_l("Medical record number"),
                                        validators=[DataRequired(), Length(max=40)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = EmailField(_l("E-mail"), validators=[
        Optional(), Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Invalid email address.")),
        Length(max=254)])
    preferred_contact = SelectField(_l("Preferred contact"), choices=choices(CONTACT_PREFERENCES))
    email_reminders = BooleanField(_l("Send follow-up reminders by e-mail"))
    # Blank (also when not sent): the site's language, followed if the site's changes.
    language = SelectField(_l("Language for e-mails and self-report"),
                           choices=choices(LANGUAGES, blank=_l("The site's language")),
                           validators=[Optional(), one_of(LANGUAGES, _l("Language"))])
    sex = SelectField(_l("Sex"), choices=choices(SEX, blank=_l("Choose…")),
                      validators=[DataRequired(message=_l("Choose the patient's sex.")),
                                  one_of(SEX, _l("Sex"))])
    birth_date = DateField(_l("Date of birth"), validators=[InputRequired(
        message=_l("Enter the date of birth.")), plausible("birth_date")])
    height_cm = NumberField(_l("Height (cm)"),
                           validators=[Optional(), number_validator("height_cm")])
    weight_kg = NumberField(_l("Weight (kg)"),
                           validators=[Optional(), number_validator("weight_kg")])
    laterality = RadioField(_l("Index knee"), choices=choices(LATERALITY),
                            validators=[InputRequired(message=_l("Choose the index knee."))])
    kl_grade = kl_grade_field()
    outside_indication_justification = TextAreaField(
        _l("Justification for treatment outside the usual indication"),
        validators=[Optional(), Length(max=2000)])
    consent_date = DateField(_l("Consent date"), validators=[InputRequired(
        message=_l("Enter the date of consent.")), plausible("consent_date")])
    # Shown with the list of likely duplicates (services.duplicates); the hidden field
    # names the patients that list showed, so a tick covers only records the user saw.
    not_duplicate = BooleanField(_l(
        "This is a different person: enrol as a new patient"))
    duplicates_shown = HiddenField()
    submit = SubmitField(_l("Enrol patient"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kl_grade.choices = kl_grade_choices()

    def validate_kl_grade(self, field: Field) -> None:
        try:
            grade = int(str(field.data).strip())
        except ValueError:
            raise ValidationError(_("The Kellgren–Lawrence grade must be a whole number "
                                    "from 0 to 4.")) from None
        if grade not in KL_GRADES:
            raise ValidationError(_("The Kellgren–Lawrence grade must be 0 to 4, not "
                                    "%(grade)s.", grade=grade))

    def validate_consent_date(self, field: Field) -> None:
        if field.data and self.birth_date.data and field.data < self.birth_date.data:
            raise ValidationError(_("The consent date cannot be before the date of birth."))

    @property
    def kl_grade_value(self) -> int:
        return int(str(self.kl_grade.data).strip())

    def shown_duplicate_ids(self) -> frozenset[int]:
        """The patients the duplicate list showed (garbage in the hidden field: none)."""
        parts = str(self.duplicates_shown.data or "")[:1000].split(",")
        return frozenset(int(part) for part in parts
                         if part.isascii() and part.isdigit() and len(part) < 12)

    def confirmed_not_duplicates(self) -> frozenset[int]:
        """The likely duplicates the user confirmed to be other people (ticked box)."""
        return self.shown_duplicate_ids() if self.not_duplicate.data else frozenset()

    def show_duplicates(self, patient_ids: list[int]) -> None:
        """Record the list about to be shown; a list other than the one the tick was
        given for asks again (the box is cleared)."""
        if frozenset(patient_ids) != self.shown_duplicate_ids():
            self.not_duplicate.data = False
        self.duplicates_shown.data = ",".join(str(pid) for pid in patient_ids)

    def eligibility_fields(self) -> list[tuple[str, str, bool, Field]]:
        """(code, label, expected answer, field) for each checklist question."""
        return [(code, label, expected, self[f"elig_{code}"])
                for code, (label, expected) in ELIGIBILITY_CRITERIA.items()]

    def eligibility_answers(self) -> dict[str, bool]:
        return {code: field.data == "yes" for code, _label, _expected, field
                in self.eligibility_fields()}


for _code, (_label, _expected) in ELIGIBILITY_CRITERIA.items():
    setattr(EnrolForm, f"elig_{_code}", RadioField(
        _l(_label), choices=YES_NO,
        validators=[InputRequired(message=_l("Answer the checklist question: %(question)s.",
                                             question=_l(_label)))]))


class TreatmentForm(FlaskForm):
    """The treatment (day 0): its type, the product lot for cell therapy, and the delivery
    as the DOSES and MIBO checklists ask for it.

    ``lot_id``'s options are set per patient (``set_lot_choices``: the catalogue's lots of
    the site, usable ones first); whether the chosen lot may be used, and the justification
    a lot with problems needs, is the service's decision (``registry.lots.services``).
    Product, lot number and cell source come from the catalogue, never typed.
    """

    treatment_date = DateField(_l("Treatment date (day 0)"), validators=[InputRequired(
        message=_l("Enter the treatment date.")), plausible("treatment_date")])
    treatment_type = SelectField(_l("Treatment"), default="cell_therapy",
                                 choices=choices(TREATMENT_TYPES),
                                 validators=[DataRequired(message=_l("Choose the treatment.")),
                                             one_of(TREATMENT_TYPES, _l("Treatment"))])
    lot_id = SelectField(_l("Product lot"), validate_choice=False, validators=[Optional()])
    lot_justification = TextAreaField(_l("Justification for this lot"),
                                      validators=[Optional(), Length(max=2000)])
    delivery_site = SelectField(_l("Site of delivery"),
                                choices=choices(DELIVERY_SITES, blank=_l("— not recorded —")),
                                validators=[Optional(), one_of(DELIVERY_SITES,
                                                               _l("Site of delivery"))])
    image_guidance = SelectField(_l("Image guidance"),
                                 choices=choices(IMAGE_GUIDANCE, blank=_l("— not recorded —")),
                                 validators=[Optional(), one_of(IMAGE_GUIDANCE,
                                                                _l("Image guidance"))])
    volume_ml = NumberField(_l("Injected volume (mL)"), validators=[
        Optional(), number_validator("volume_ml")])
    cell_dose_million = NumberField(_l("Cell dose (million cells)"), validators=[
        Optional(), number_validator("cell_dose_million")])
    injections = IntegerField(_l("Number of injections"), default=1, validators=[
        InputRequired(message=_l("Enter the number of injections (1–10).")),
        number_validator("injections")])
    injection_interval_days = IntegerField(_l("Interval between injections (days)"), validators=[
        Optional(), number_validator("injection_interval_days")])
    co_interventions = MultiCheckboxField(_l("Co-interventions"), choices=choices(CO_INTERVENTIONS))
    anaesthesia = SelectField(_l("Anaesthesia"),
                              choices=choices(ANAESTHESIA, blank=_l("— not recorded —")),
                              validators=[Optional(), one_of(ANAESTHESIA, _l("Anaesthesia"))])
    operator = StringField(_l("Operator"), validators=[DataRequired(
        message=_l("Enter who performed the treatment.")), Length(max=200)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])
    reason = StringField(_l("Reason for the change (required when correcting a saved treatment)"),
                         validators=[Optional(), Length(max=500)])
    version = HiddenField()
    submit = SubmitField(_l("Save treatment"))

    def set_lot_choices(self, lots: list[tuple[int, str]]) -> None:
        """The lot select's options: (lot id, label) after a blank "Choose…"."""
        self.lot_id.choices = choices(lots, blank=_("Choose…"))
        if self.lot_id.data is not None and not isinstance(self.lot_id.data, str):
            self.lot_id.data = str(self.lot_id.data)  # obj= gives the saved id as an int

    @property
    def lot_id_value(self) -> int | None:
        """The chosen lot's id (None: none chosen, or not a number)."""
        text = str(self.lot_id.data or "").strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None

    def validate_lot_id(self, field: Field) -> None:
        if str(field.data or "").strip() and self.lot_id_value is None:
            raise ValidationError(_("Choose a lot from the list."))


class VisitForm(FlaskForm):
    """The visit header; the questionnaire items are parsed by ``services.visits``.

    ``collection_mode``: how the answers were collected (mode of administration).  Staff
    choose an interview or a transcribed paper form; a visit the patient self-reported
    also offers its own mode, so correcting it keeps the mode (``set_mode_choices``).
    """

    collection_mode = SelectField(
        _l("How were these answers collected?"), default=STAFF_COLLECTION_MODES[0],
        choices=choices({code: COLLECTION_MODES[code] for code in STAFF_COLLECTION_MODES}),
        validators=[DataRequired(message=_l("Choose how the answers were collected.")),
                    one_of(COLLECTION_MODES, _l("Collection mode"))])
    visit_date = DateField(_l("Visit date"), validators=[InputRequired(
        message=_l("Enter the visit date.")), plausible("visit_date")])
    reason = StringField(_l("Reason for the change (required when correcting saved answers)"),
                         validators=[Optional(), Length(max=500)])
    version = HiddenField()
    # Shown only when the save is refused for unanswered items (services.visits).
    confirm_incomplete = BooleanField(_l(
        "Save the visit with these items unanswered"))
    submit = SubmitField(_l("Save visit"))

    def set_mode_choices(self, recorded: str | None) -> None:
        """Staff modes, plus the visit's recorded self-report mode (kept when correcting)."""
        codes = [*STAFF_COLLECTION_MODES]
        if recorded in COLLECTION_MODES and recorded not in codes:
            codes.insert(0, recorded)
        self.collection_mode.choices = choices({code: COLLECTION_MODES[code]
                                                for code in codes})
        if not self.collection_mode.data:  # a new visit, or a post without the field
            self.collection_mode.data = recorded if recorded in codes \
                else STAFF_COLLECTION_MODES[0]


class AdverseEventForm(FlaskForm):
    onset_date = DateField(_l("Onset date"), validators=[InputRequired(
        message=_l("Enter the onset date.")), plausible("onset_date")])
    description = TextAreaField(_l("Description"), validators=[DataRequired(
        message=_l("Describe the event.")), Length(max=4000)])
    category = SelectField(_l("Category"), choices=choices(AE_CATEGORIES, blank=_l("Choose…")),
                           validators=[DataRequired(message=_l("Choose a category.")),
                                       one_of(AE_CATEGORIES, _l("Category"))])
    severity_grade = SelectField(_l("Severity (CTCAE grade)"),
                                 choices=choices(AE_GRADES, blank=_l("Choose…")),
                                 validators=[DataRequired(message=_l("Choose the grade (1–5).")),
                                             one_of(AE_GRADES, _l("Grade"))])
    serious = RadioField(_l("Serious"), choices=YES_NO,
                         validators=[InputRequired(
                             message=_l("Say whether the event is serious."))])
    serious_criterion = SelectField(_l("Seriousness criterion"),
                                    choices=choices(AE_SERIOUS_CRITERIA,
                                                    blank=_l("— not serious —")),
                                    validators=[one_of(AE_SERIOUS_CRITERIA, _l("Criterion"))])
    relatedness = SelectField(_l("Relation to the treatment"),
                              choices=choices(AE_RELATEDNESS, blank=_l("Choose…")),
                              validators=[DataRequired(message=_l("Choose the relation.")),
                                          one_of(AE_RELATEDNESS, _l("Relation"))])
    action_taken = SelectField(_l("Action taken"),
                               choices=choices(AE_ACTIONS, blank=_l("— none recorded —")),
                               validators=[one_of(AE_ACTIONS, _l("Action"))])
    outcome = SelectField(_l("Outcome"), choices=choices(AE_OUTCOMES),
                          validators=[DataRequired(), one_of(AE_OUTCOMES, _l("Outcome"))])
    resolution_date = DateField(_l("Resolution date"), validators=[Optional(),
                                                               plausible("resolution_date")])
    reason = StringField(_l("Reason for the change (required when correcting a saved event)"),
                         validators=[Optional(), Length(max=500)])
    version = HiddenField()
    submit = SubmitField(_l("Save adverse event"))

    def validate_serious_criterion(self, field: Field) -> None:
        if self.serious.data == "yes" and not field.data:
            raise ValidationError(_("Choose the criterion that makes the event serious."))
        if self.serious.data == "no" and field.data:
            raise ValidationError(_("A criterion is only recorded for a serious event."))

    def validate(self, extra_validators: Any = None) -> bool:
        """Field checks, then the resolution date against the outcome and onset.

        (An inline ``validate_resolution_date`` would not run: ``Optional`` stops the chain
        when the field is empty, which is exactly the case to catch.)
        """
        valid = super().validate(extra_validators)
        field = self.resolution_date
        if field.errors:
            return valid
        resolved = self.outcome.data in {"resolved", "resolved_sequelae"}
        if resolved and field.data is None:
            field.errors = [*field.errors, _("Enter the resolution date of a resolved event.")]
        elif field.data and self.onset_date.data and field.data < self.onset_date.data:
            field.errors = [*field.errors,
                            _("The resolution date cannot be before the onset date.")]
        return valid and not field.errors

    def validate_severity_grade(self, field: Field) -> None:
        if field.data == "5" and self.serious.data == "no":
            raise ValidationError(_("A grade 5 event (death) is serious."))
