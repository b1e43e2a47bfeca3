"""Forms of the product catalogue, lots, lot status and recall reviews."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from registry.forms import NumberField, check_choice, choices
from registry.limits import date_validator, number_validator
from registry.vocabularies import (
    ISCT_MARKERS,
    LOT_STATUSES,
    PREPARATIONS,
    PRODUCT_ORIGINS,
    TISSUE_SOURCES,
)

STERILITY = {"": _l("Not tested"), "passed": _l("Passed"), "failed": _l("Failed")}


class ProductForm(FlaskForm):
    name = StringField(_l("Product name"), validators=[
        DataRequired(message=_l("Enter the product's name.")), Length(max=200)])
    manufacturer = StringField(_l("Manufacturer or processing facility"),
                               validators=[Optional(), Length(max=200)])
    origin = SelectField(_l("Autologous or allogeneic"),
                         choices=choices(PRODUCT_ORIGINS, blank=_l("Choose…")),
                         validators=[DataRequired(message=_l("Choose the product's origin."))])
    tissue_source = SelectField(_l("Tissue source"),
                                choices=choices(TISSUE_SOURCES, blank=_l("Choose…")),
                                validators=[DataRequired(
                                    message=_l("Choose the tissue source."))])
    preparation = SelectField(_l("Preparation"),
                              choices=choices(PREPARATIONS, blank=_l("Choose…")),
                              validators=[DataRequired(message=_l("Choose the preparation."))])
    minimally_manipulated = BooleanField(_l("Minimally manipulated"))
    regulatory_status = StringField(_l("Regulatory status"),
                                    validators=[Optional(), Length(max=200)])
    authorisation_reference = StringField(_l("Authorisation reference"),
                                          validators=[Optional(), Length(max=200)])
    reason = StringField(_l("Reason for the change (required when changing a product)"),
                         validators=[Optional(), Length(max=500)])
    version = HiddenField()
    submit = SubmitField(_l("Save product"))

    def validate_origin(self, field: Any) -> None:
        check_choice(field, _l("Choose one of the listed values."))

    def validate_tissue_source(self, field: Any) -> None:
        check_choice(field, _l("Choose one of the listed values."))

    def validate_preparation(self, field: Any) -> None:
        check_choice(field, _l("Choose one of the listed values."))


def _percent(label: Any) -> NumberField:
    return NumberField(label, validators=[Optional(), number_validator("marker_percent")])


class LotForm(FlaskForm):
    """A lot with its release data; ``product_id`` and ``site_id`` choices are set by the
    view (the catalogue, and "every site" + the sites)."""

    product_id = SelectField(_l("Product"), validate_choice=False,
                             validators=[DataRequired(message=_l("Choose the lot's product."))])
    lot_number = StringField(_l("Lot or batch number"), validators=[
        DataRequired(message=_l("Enter the lot or batch number.")), Length(max=80)])
    site_id = SelectField(_l("Site that may use it"), validate_choice=False)
    patient_study_id = StringField(
        _l("Prepared for one patient (study ID; autologous preparations)"),
        validators=[Optional(), Length(max=40)])
    donor_code = StringField(_l("Donor code (pseudonymous; allogeneic lots only)"),
                             validators=[Optional(), Length(max=40)])
    collection_date = DateField(_l("Collection date"), validators=[
        Optional(), date_validator("collection_date")])
    processing_date = DateField(_l("Processing date"), validators=[
        Optional(), date_validator("processing_date")])
    expiry_date = DateField(_l("Expiry date"), validators=[
        Optional(), date_validator("expiry_date")])
    cell_count_million = NumberField(_l("Cell count (million cells)"), validators=[
        Optional(), number_validator("lot_cell_count_million")])
    viability_percent = NumberField(_l("Viability (%)"), validators=[
        Optional(), number_validator("viability_percent")])
    cfu_f = NumberField(_l("CFU-F (colonies per million cells)"), validators=[
        Optional(), number_validator("cfu_f")])
    cd73_percent = _percent(_l("CD73+ (%)"))
    cd90_percent = _percent(_l("CD90+ (%)"))
    cd105_percent = _percent(_l("CD105+ (%)"))
    cd45_percent = _percent(_l("CD45+ (%)"))
    cd34_percent = _percent(_l("CD34+ (%)"))
    cd14_cd11b_percent = _percent(_l("CD14+ or CD11b+ (%)"))
    cd79a_cd19_percent = _percent(_l("CD79a+ or CD19+ (%)"))
    hla_dr_percent = _percent(_l("HLA-DR+ (%)"))
    sterility = SelectField(_l("Sterility test"), choices=choices(STERILITY), default="")
    status = SelectField(_l("Release status"), choices=choices(LOT_STATUSES),
                         default="quarantined",
                         validators=[DataRequired(message=_l("Choose the release status."))])
    status_reason = StringField(_l("Reason for the status (required unless released)"),
                                validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Register lot"))

    def validate_product_id(self, field: Any) -> None:
        check_choice(field, _l("Choose one of the listed products."))

    def validate_site_id(self, field: Any) -> None:
        check_choice(field, _l("Choose one of the listed sites."))


MARKER_FIELDS = tuple(ISCT_MARKERS)


class LotStatusForm(FlaskForm):
    status = SelectField(_l("New release status"), choices=choices(LOT_STATUSES),
                         validators=[DataRequired(message=_l("Choose the new status."))])
    reason = StringField(_l("Reason (kept with the lot and in the audit trail)"),
                         validators=[InputRequired(message=_l("Say why the status changes.")),
                                     Length(max=500)])
    version = HiddenField()
    submit = SubmitField(_l("Change status"))


class RecallReviewForm(FlaskForm):
    note = TextAreaField(_l("What the review found and decided"), validators=[
        InputRequired(message=_l("Write what the review found and decided.")),
        Length(max=2000)])
    submit = SubmitField(_l("Record the review"))
