"""The record status grid: patients × timepoints, each cell the visit's shown status.

REDCap's record status dashboard for the registry: one row per patient of the user's
sites, one column per scheduled timepoint of their protocols (the union when sites use
different protocols, in the order of their target days), each cell the follow-up status
of :mod:`registry.followup.status` — computed in SQL by ``status_expression`` (for the
"status present" filter and the "most urgent first" order) and shown by
``display_status`` (done out of window, booked).

A page costs the same statements whatever its size: the columns, the number of matching
patients, the page of patients, the visits of those patients, and which of them are
flagged because their product lot was recalled and awaits their review
(:func:`registry.lots.flags.recall_flags`) — never a query per patient or per cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from registry.followup.labels import N_
from registry.followup.state import AnySelect
from registry.followup.status import (
    DISPLAY_LABELS,
    OPEN_STATUSES,
    URGENCY,
    StatusDisplay,
    display_status,
    open_visit_prefilter,
    status_expression,
    urgency_expression,
)
from registry.lots.flags import recall_flags
from registry.models import Patient, PatientIdentity, ProductLot, Timepoint, Treatment, Visit

PER_PAGE = 50
PAGE_SIZES = (25, 50, 100, 200)
BOOKED = "booked"
BOOKED_LABEL = N_("Booked")
# The "status present" choices and the legend, most urgent first: the follow-up
# statuses in the worklist's order, "booked" after the open ones, and a done visit
# split by whether its date fell in the window.
SHOWN_ORDER: tuple[str, ...] = (
    *(code for code in URGENCY if code in (*OPEN_STATUSES, "scheduled")), BOOKED,
    "done", "done_out_of_window", "not_applicable")
SORTS: dict[str, str] = {
    "study_id": N_("Study ID"),
    "urgency": N_("Most urgent status first"),
    "treated_desc": N_("Treatment date, newest first"),
    "treated_asc": N_("Treatment date, oldest first"),
}


def shown_label(code: str) -> str:
    """The (untranslated) label of a shown status code or ``booked``."""
    return BOOKED_LABEL if code == BOOKED else DISPLAY_LABELS[code]


@dataclass(frozen=True)
class GridFilters:
    """Which patients to show.  ``site_ids`` must already be limited to the user's sites;
    ``identity_site_ids`` are the sites whose patients' names the user may read."""

    site_ids: frozenset[int]
    identity_site_ids: frozenset[int] = frozenset()
    treated_from: date | None = None
    treated_to: date | None = None
    clinician_id: int | None = None  # the user who recorded the treatment
    status: str | None = None  # a code of SHOWN_ORDER: patients with such a visit
    sort: str = "study_id"


@dataclass(frozen=True)
class GridColumn:
    code: str
    name: str


@dataclass(frozen=True)
class GridCell:
    visit_id: int
    shown: StatusDisplay
    visit_date: date | None  # the day a done visit took place


@dataclass
class GridRow:
    patient_id: int
    study_id: str
    site_id: int
    patient_status: str
    treatment_date: date | None
    family_name: str | None
    given_name: str | None
    cells: dict[str, GridCell] = field(default_factory=dict)  # timepoint code -> cell


@dataclass
class GridPage:
    columns: list[GridColumn]
    rows: list[GridRow]
    page: int = 1
    pages: int = 1
    total: int = 0
    per_page: int = PER_PAGE
    # Patients of the page whose lot is recalled and not yet reviewed -> that lot.
    recalls: dict[int, ProductLot] = field(default_factory=dict)


def _status(todays: Mapping[int, date]) -> ColumnElement[str]:
    """The follow-up status of ``Visit`` (of the patient ``Patient``): the one rule."""
    return status_expression(dict(todays))


def shown_condition(code: str, status: ColumnElement[str]) -> ColumnElement[bool]:
    """SQL for "the visit's shown status is ``code``" (a code of ``SHOWN_ORDER``), given
    its follow-up ``status`` expression: the same split as ``display_status``."""
    if code == BOOKED:
        return and_(status.not_in(("done", "not_applicable")),
                    Visit.appointment_date.is_not(None))
    if code == "done":
        return and_(status == "done", Visit.out_of_window.is_(False))
    if code == "done_out_of_window":
        return and_(status == "done", Visit.out_of_window.is_(True))
    return status == code


def _prefilter(code: str, todays: Mapping[int, date]) -> list[ColumnElement[bool]]:
    """Index-friendly conditions every visit shown as ``code`` meets: they let the
    database skip visits that cannot qualify before it evaluates the status CASE (which
    alone decides), as ``status.open_visit_prefilter`` does for the worklist."""
    if code in OPEN_STATUSES:
        return open_visit_prefilter(dict(todays))
    if code in ("scheduled", BOOKED):
        return [Visit.status == "scheduled", Patient.status == "active"]
    if code in ("done", "done_out_of_window"):
        return [Visit.status == "done"]
    return []


def _filtered(statement: AnySelect, filters: GridFilters, todays: Mapping[int, date], *,
              sorted_by_treatment: bool = False) -> AnySelect:
    """Restrict a statement over Patient to the filters, joining Treatment when they
    (or, with ``sorted_by_treatment``, the ORDER BY) need it."""
    if sorted_by_treatment or filters.treated_from is not None \
            or filters.treated_to is not None or filters.clinician_id is not None:
        statement = statement.outerjoin(Treatment, Treatment.patient_id == Patient.id)
    statement = statement.where(Patient.site_id.in_(sorted(filters.site_ids)))
    if filters.treated_from is not None:
        statement = statement.where(Treatment.treatment_date >= filters.treated_from)
    if filters.treated_to is not None:
        statement = statement.where(Treatment.treatment_date <= filters.treated_to)
    if filters.clinician_id is not None:
        statement = statement.where(Treatment.recorded_by_id == filters.clinician_id)
    if filters.status is not None:
        # Correlated to the outer Patient: its visits, its status and its site's today.
        statement = statement.where(exists().where(
            Visit.patient_id == Patient.id, *_prefilter(filters.status, todays),
            Visit.timepoint_id.is_not(None), shown_condition(filters.status, _status(todays))))
    return statement


def _sort_keys(filters: GridFilters, todays: Mapping[int, date]) -> list[tuple[Any, bool]]:
    """(expression, descending) of the chosen sort; the study ID breaks ties."""
    if filters.sort in ("treated_desc", "treated_asc"):
        return [(Treatment.treatment_date, filters.sort == "treated_desc"),
                (Patient.study_id, False)]
    if filters.sort == "urgency":
        # The patient's most urgent visit (correlated: its visits, by the index on
        # visit.patient_id); patients without visits last, then the longest treated.
        urgency = (select(func.min(urgency_expression(_status(todays))))
                   .where(Visit.patient_id == Patient.id, Visit.timepoint_id.is_not(None))
                   .scalar_subquery())
        return [(func.coalesce(urgency, len(URGENCY)), False),
                (Treatment.treatment_date, False), (Patient.study_id, False)]
    return [(Patient.study_id, False)]


def _order(columns: list[Any], descending: list[bool]) -> list[Any]:
    """ORDER BY terms, NULLs last whichever the direction (the same on both databases)."""
    return [(column.desc() if down else column.asc()).nulls_last()
            for column, down in zip(columns, descending, strict=True)]


def grid_columns(session: Session, site_ids: frozenset[int]) -> list[GridColumn]:
    """The timepoints of the protocols the sites' patients follow, one column per code,
    in the order of their target days (one statement)."""
    if not site_ids:
        return []
    followed = exists().where(Patient.protocol_id == Timepoint.protocol_id,
                              Patient.site_id.in_(sorted(site_ids)))
    rows = session.execute(
        select(Timepoint.code, Timepoint.name).where(followed)
        .order_by(Timepoint.target_day, Timepoint.sort_order, Timepoint.id))
    columns: dict[str, GridColumn] = {}
    for code, name in rows:
        columns.setdefault(code, GridColumn(code, name))
    return list(columns.values())


def count_patients(session: Session, filters: GridFilters,
                   todays: Mapping[int, date]) -> int:
    """How many patients match the filters (one statement)."""
    if not filters.site_ids:
        return 0
    statement = _filtered(select(func.count(Patient.id)), filters, todays)
    return int(session.scalar(statement) or 0)


def grid_rows(session: Session, filters: GridFilters, todays: Mapping[int, date], *,
              limit: int, offset: int = 0) -> list[GridRow]:
    """One page of patients with their cells (two statements: patients, then visits).

    The page is chosen on narrow rows (patient id and sort keys) before the details of
    its patients are joined, so the joins cost 50 rows, not the site's thousands.
    """
    if not filters.site_ids:
        return []
    keys = _sort_keys(filters, todays)
    descending = [down for _key, down in keys]
    labelled = [key.label(f"key{n}") for n, (key, _d) in enumerate(keys)]
    # ORDER BY the labels: a correlated key is then computed once per patient, not twice.
    ranked = (_filtered(select(Patient.id.label("patient_id"), *labelled), filters, todays,
                        sorted_by_treatment=filters.sort != "study_id")
              .order_by(*_order(labelled, descending))
              .limit(limit).offset(offset).subquery("ranked"))
    identity = aliased(PatientIdentity)
    statement = (
        select(Patient.id, Patient.study_id, Patient.site_id, Patient.status,
               Treatment.treatment_date, identity.family_name, identity.given_name)
        .select_from(ranked).join(Patient, Patient.id == ranked.c.patient_id)
        .outerjoin(Treatment, Treatment.patient_id == Patient.id)
        # Names only from the sites where the user may read them.
        .outerjoin(identity, and_(identity.patient_id == Patient.id,
                                  identity.site_id.in_(sorted(filters.identity_site_ids))))
        .order_by(*_order([ranked.c[f"key{n}"] for n in range(len(keys))], descending)))
    rows = [GridRow(*values) for values in session.execute(statement)]
    _attach_cells(session, rows, todays)
    return rows


def _attach_cells(session: Session, rows: list[GridRow], todays: Mapping[int, date]) -> None:
    """The scheduled visits of the rows' patients, as cells (one statement)."""
    if not rows:
        return
    by_patient = {row.patient_id: row for row in rows}
    visits = session.execute(
        select(Visit.id, Visit.patient_id, Timepoint.code, _status(todays),
               Visit.out_of_window, Visit.appointment_date, Visit.visit_date)
        .join(Timepoint, Timepoint.id == Visit.timepoint_id)
        .join(Patient, Patient.id == Visit.patient_id)
        .where(Visit.patient_id.in_(sorted(by_patient))))
    for visit_id, patient_id, code, status, out_of_window, booked, done_on in visits:
        shown = display_status(status, out_of_window=out_of_window, appointment_date=booked)
        by_patient[patient_id].cells[code] = GridCell(visit_id, shown, done_on)


def load_grid(session: Session, filters: GridFilters, todays: Mapping[int, date], *,
              page: int = 1, per_page: int = PER_PAGE) -> GridPage:
    """The columns, the number of matching patients and one page of rows (a page past
    the end shows the last page), with the page's recall flags: five statements, whatever
    the page size."""
    todays = {site_id: day for site_id, day in todays.items() if site_id in filters.site_ids}
    columns = grid_columns(session, filters.site_ids)
    total = count_patients(session, filters, todays)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    rows = grid_rows(session, filters, todays, limit=per_page,
                     offset=(page - 1) * per_page) if total else []
    return GridPage(columns=columns, rows=rows, page=page, pages=pages, total=total,
                    per_page=per_page,
                    recalls=recall_flags(session, [row.patient_id for row in rows]))


__all__ = ["BOOKED", "BOOKED_LABEL", "PAGE_SIZES", "PER_PAGE", "SHOWN_ORDER",
           "SORTS", "GridCell", "GridColumn", "GridFilters", "GridPage", "GridRow",
           "count_patients", "grid_columns", "grid_rows", "load_grid", "shown_condition",
           "shown_label"]
