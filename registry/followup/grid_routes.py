"""The record status grid page (``/followup/grid``): coordinators, clinicians, admins.

It needs ``Permission.CLINICAL_READ`` (clinicians have no follow-up permission, but the
grid is their morning page too) and shows the patients of the user's sites
(``authz.visible_site_ids``).  Which page a cell's link opens is decided per site with
``authz.can``: an open visit opens its follow-up page (contacts, booking) for those who
manage follow-up at the site, any other visit (or any visit, for a clinician) its
data-entry page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SelectField
from wtforms.validators import ValidationError

from registry.authz import Permission, can, requires, visible_site_ids
from registry.db import get_session
from registry.followup import bp
from registry.followup.forms import _date
from registry.followup.grid import (
    BOOKED,
    BOOKED_LABEL,
    PAGE_SIZES,
    PER_PAGE,
    SHOWN_ORDER,
    SORTS,
    GridCell,
    GridFilters,
    GridPage,
    GridRow,
    load_grid,
    shown_label,
)
from registry.followup.labels import day_formatter, status_text
from registry.followup.queries import FilterChoices, filter_choices
from registry.followup.status import OPEN_STATUSES
from registry.forms import check_choice
from registry.forms import choices as select_choices
from registry.i18n import timepoint_name
from registry.paging import PageField
from registry.urls import URL_SENTINEL, url_builder
from registry.vocabularies import PATIENT_STATUS

FILTER_FIELDS = ("site", "treated_from", "treated_to", "clinician", "status", "sort",
                 "per_page")
# Shown statuses of a visit that is still to be done: its follow-up page is where a
# coordinator logs contacts and books it.
TO_BE_DONE = frozenset((*OPEN_STATUSES, "scheduled"))


class GridFilterForm(FlaskForm):
    """The grid's filters (read from the query string; no CSRF: it only reads)."""

    class Meta:
        csrf = False

    site = SelectField(_l("Site"), validate_choice=False)
    treated_from = _date(_l("Treated from"))
    treated_to = _date(_l("Treated until"))
    clinician = SelectField(_l("Clinician (recorded the treatment)"), validate_choice=False)
    status = SelectField(_l("Has a visit that is"), validate_choice=False)
    sort = SelectField(_l("Sort by"), default="study_id", validate_choice=False,
                       choices=select_choices((code, _l(label)) for code, label in SORTS.items()))
    per_page = SelectField(_l("Patients per page"), default=str(PER_PAGE), validate_choice=False,
                           choices=select_choices((size, str(size)) for size in PAGE_SIZES))
    page = PageField(_l("Page"), default=1)

    def validate_site(self, field: SelectField) -> None:
        check_choice(field, _l("Choose one of your own sites (or all of them)."))

    def validate_clinician(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a clinician from the list."))

    def validate_status(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a status from the list."))

    def validate_sort(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a sort order from the list."))

    def validate_per_page(self, field: SelectField) -> None:
        check_choice(field, _l("Choose a page size from the list."))

    def validate_treated_to(self, field: Any) -> None:
        start = self.treated_from.data
        if field.data and start and field.data < start:
            raise ValidationError(_l("The end of the range cannot be before its start."))


def _filter_form(formdata: MultiDict[str, str]) -> tuple[GridFilterForm, FilterChoices]:
    site_ids = visible_site_ids(current_user)
    choices = filter_choices(get_session(), [site for site in current_user.sites
                                             if site.id in site_ids], timepoints=False)
    form = GridFilterForm(formdata=formdata)
    form.site.choices = select_choices(choices.sites, blank=_l("All my sites"))
    form.clinician.choices = select_choices(choices.clinicians, blank=_l("Any clinician"))
    form.status.choices = select_choices(((code, _l(shown_label(code))) for code in SHOWN_ORDER),
                                         blank=_l("Any status"))
    return form, choices


def _filters(form: GridFilterForm, choices: FilterChoices) -> GridFilters:
    """A validated form's filters, the sites limited to the user's."""
    site_ids = frozenset({int(form.site.data)}) if form.site.data else choices.site_ids
    return GridFilters(
        site_ids=site_ids,
        identity_site_ids=frozenset(site_id for site_id in site_ids
                                    if can(current_user, Permission.IDENTITY_READ, site_id)),
        treated_from=form.treated_from.data, treated_to=form.treated_to.data,
        clinician_id=int(form.clinician.data) if form.clinician.data else None,
        status=form.status.data or None, sort=form.sort.data or "study_id")


def _filter_args(form: GridFilterForm) -> dict[str, str]:
    """The filters as query-string values (for the pager's links)."""
    args = {name: (form[name].raw_data or [""])[0] for name in FILTER_FIELDS}
    return {name: value for name, value in args.items() if value}


def _entry_url() -> Callable[[int, int], str]:
    """URLs of visits' data-entry pages, one ``url_for`` for the whole page."""
    sentinel = str(URL_SENTINEL)
    before, _, rest = url_for("clinical.visit_entry", patient_id=URL_SENTINEL,
                              visit_id=URL_SENTINEL).partition(sentinel)
    middle, _, after = rest.partition(sentinel)
    return lambda patient_id, visit_id: f"{before}{patient_id}{middle}{visit_id}{after}"


def _cell_url(site_ids: frozenset[int]) -> Callable[[GridRow, GridCell], str | None]:
    """The link of a cell: decided once per site (``authz.can``), not once per cell."""
    followup_sites = {site_id for site_id in site_ids
                      if can(current_user, Permission.FOLLOWUP_MANAGE, site_id)}
    entry_sites = {site_id for site_id in site_ids
                   if can(current_user, Permission.CLINICAL_WRITE, site_id)}
    followup_url = url_builder("followup.visit_page", "visit_id")
    entry_url = _entry_url()

    def link(row: GridRow, cell: GridCell) -> str | None:
        if row.site_id in followup_sites and cell.shown.code in TO_BE_DONE:
            return followup_url(cell.visit_id)
        if row.site_id in entry_sites:
            return entry_url(row.patient_id, cell.visit_id)
        return None

    return link


def shown_text(code: str) -> str:
    """The label of a shown status code (or ``booked``) in the language in force."""
    return gettext(BOOKED_LABEL) if code == BOOKED else status_text(code)


def _render(form: GridFilterForm, choices: FilterChoices, page: GridPage | None,
            status: int = 200) -> tuple[str, int]:
    # Everything a cell repeats is worked out once per page: labels, column names, links.
    return render_template(
        "followup/grid.html", form=form, page=page, filter_args=_filter_args(form),
        site_names=choices.site_names, shown_order=SHOWN_ORDER,
        labels={code: shown_text(code) for code in SHOWN_ORDER},
        column_names={column.code: timepoint_name(column.name)
                      for column in (page.columns if page else [])},
        day=day_formatter(), cell_url=_cell_url(choices.site_ids),
        patient_url=url_builder("clinical.patient_page", "patient_id"),
        patient_statuses=PATIENT_STATUS,
    ), status


@bp.route("/grid")
@requires(Permission.CLINICAL_READ)
def grid() -> tuple[str, int]:
    form, choices = _filter_form(request.args)
    if not form.validate():
        return _render(form, choices, None, 400)
    page = load_grid(get_session(), _filters(form, choices), choices.todays,
                     page=form.page.data or 1, per_page=int(form.per_page.data or PER_PAGE))
    return _render(form, choices, page)
