"""The patient list's search and filter form (read from the query string; no CSRF: it only
reads).  A value that is not one of a field's choices is an error naming the field (422),
never silently replaced; a bad page number is refused with 400 (``registry.paging``), as on
every paged list."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import ValidationError

from registry.clinical.services.patient_list import (
    DEFAULT_SORT,
    FOLLOWUP_CODES,
    SORTS,
    STATES,
    ListFilters,
)
from registry.followup.status import DISPLAY_LABELS
from registry.forms import check_choice, choices
from registry.models import Site
from registry.vocabularies import KL_GRADES

ORDERS = ("asc", "desc")
FILTER_FIELDS = ("q", "site", "state", "followup", "kl")


class PatientListForm(FlaskForm):
    """Search box, filters, and the sort chosen by a column header (kept as hidden fields
    when the filters are applied)."""

    class Meta:
        csrf = False

    q = StringField(_l("Find a patient"))
    site = SelectField(_l("Site"), validate_choice=False)
    state = SelectField(_l("Status"), validate_choice=False)
    followup = SelectField(_l("Follow-up"), validate_choice=False)
    kl = SelectField(_l("KL grade"), validate_choice=False)
    sort = HiddenField(_l("Sort by"), default=DEFAULT_SORT)
    order = HiddenField(_l("Sort order"), default="asc")

    def __init__(self, formdata: Any, sites: list[Site]) -> None:
        super().__init__(formdata=formdata)
        self.site.choices = choices(((site.id, str(site)) for site in sites),
                                    blank=str(_l("All my sites")))
        self.state.choices = choices(((code, str(_l(label))) for code, label in STATES.items()),
                                     blank=str(_l("Any status")))
        self.followup.choices = choices(
            ((code, str(_l(DISPLAY_LABELS[code]))) for code in FOLLOWUP_CODES),
            blank=str(_l("Any follow-up status")))
        self.kl.choices = choices(KL_GRADES.items(), blank=str(_l("Any grade")))

    def validate_site(self, field: SelectField) -> None:
        check_choice(field, str(_l("Choose one of your own sites (or all of them).")))

    def validate_state(self, field: SelectField) -> None:
        check_choice(field, str(_l("Choose a status from the list.")))

    def validate_followup(self, field: SelectField) -> None:
        check_choice(field, str(_l("Choose a follow-up status from the list.")))

    def validate_kl(self, field: SelectField) -> None:
        check_choice(field, str(_l("Choose a KL grade from 0 to 4.")))

    def validate_sort(self, field: HiddenField) -> None:
        if field.data and field.data not in SORTS:
            raise ValidationError(str(_l("Sort by one of the list's columns.")))

    def validate_order(self, field: HiddenField) -> None:
        if field.data and field.data not in ORDERS:
            raise ValidationError(str(_l("The sort order is “asc” or “desc”.")))

    def filters(self, page: int = 1) -> ListFilters:
        """The validated form as list filters (the site among the user's: validated);
        ``page``: the page number, read with ``registry.paging.page_number`` (400 if bad)."""
        return ListFilters(
            query=self.q.data or "",
            site_id=int(self.site.data) if self.site.data else None,
            state=self.state.data or None, followup=self.followup.data or None,
            kl_grade=int(self.kl.data) if self.kl.data else None,
            sort=self.sort.data or DEFAULT_SORT, descending=self.order.data == "desc",
            page=page)

    def arguments(self) -> dict[str, str]:
        """The search and filters as query-string values (sort links, pages)."""
        values = {name: (self[name].raw_data or [""])[0] for name in FILTER_FIELDS}
        return {name: value for name, value in values.items() if value}


__all__ = ["FILTER_FIELDS", "ORDERS", "PatientListForm"]
