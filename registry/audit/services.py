"""Reading the audit trail: checked filters, the reader's sites, listing and CSV export.

An administrator reads the events about records of their own sites, and the events about
no patient (sign-ins, accounts, sites, protocols, cohorts, exports); never another
site's patients.  The restriction is one SQL condition: an event's ``site_id`` when the
audit hook knew it, else its record looked up in the patient tables.  An event without a
site whose record type is neither known to be about no patient nor found at the reader's
sites is not shown (fail closed).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext
from sqlalchemy import Select, and_, false, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry import paging
from registry.audit.history import AuditPage, about, paged, records_of_patients
from registry.i18n import day
from registry.models import AuditEvent, Patient
from registry.services import ValidationFailed
from registry.spreadsheet import safe_cell
from registry.vocabularies import N_

PAGE_SIZE = 50
FILTERS = ("action", "entity_type", "entity_id", "actor_email", "date_from", "date_to")
# The filters' labels (translated where shown: the audit page and its messages).
LABELS = {"action": N_("Action"), "entity_type": N_("Record type"),
          "entity_id": N_("Record id"), "actor_email": N_("User e-mail"),
          "date_from": N_("From"), "date_to": N_("To"), "page": N_("Page")}
MAX_LENGTH = {"action": 32, "entity_type": 40, "entity_id": 40, "actor_email": 254}
DATE_RANGE = (date(2000, 1, 1), date(2099, 12, 31))  # the trail's plausible dates
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Record types whose events are about no patient: every administrator reads them.
NO_PATIENT_TYPES = ("app_user", "site", "protocol", "timepoint", "cohort")


@dataclass(frozen=True)
class AuditFilters:
    """Checked filters: text as given (trimmed), dates parsed."""

    text: dict[str, str]
    date_from: date | None = None
    date_to: date | None = None


def _parse_date(name: str, value: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        parsed = date.fromisoformat(value) if ISO_DATE.fullmatch(value) else None
    except ValueError:
        parsed = None
    if parsed is None:
        errors[name] = gettext("%(field)s: %(value)s is not a date (YYYY-MM-DD).",
                               field=gettext(LABELS[name]), value=repr(value))
        return None
    low, high = DATE_RANGE
    if not low <= parsed <= high:
        errors[name] = gettext("%(field)s: must be between %(low)s and %(high)s.",
                               field=gettext(LABELS[name]), low=day(low), high=day(high))
        return None
    return parsed


def parse_filters(args: Mapping[str, str]) -> AuditFilters:
    """The filters checked; ValidationFailed names each bad field and its problem."""
    errors: dict[str, str] = {}
    text = {}
    for name, limit in MAX_LENGTH.items():
        value = (args.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = gettext("%(field)s: at most %(num)d characters.",
                                   field=gettext(LABELS[name]), num=limit)
        elif value:
            text[name] = value
    start = _parse_date("date_from", (args.get("date_from") or "").strip(), errors)
    end = _parse_date("date_to", (args.get("date_to") or "").strip(), errors)
    if start and end and start > end:
        errors["date_to"] = gettext("%(field)s: must not be before %(other)s.",
                                    field=gettext(LABELS["date_to"]),
                                    other=gettext(LABELS["date_from"]))
    if errors:
        raise ValidationFailed(errors)
    return AuditFilters(text, start, end)


def parse_page(value: str | None) -> int:
    """The page number from the query string by the registry's one rule
    (``registry.paging``); ValidationFailed naming the field otherwise.  Past the last
    page is fine: the listing shows the last page."""
    try:
        return paging.parse_page(value)
    except ValueError as error:
        raise ValidationFailed({"page": gettext(
            "%(field)s: %(value)s is not a page number (1, 2, 3 …). %(problem)s",
            field=gettext(LABELS["page"]), value=repr((value or "")[:20]), problem=error)}
        ) from None


def visible_to(site_ids: Collection[int] | None) -> ColumnElement[bool] | None:
    """The events a reader of ``site_ids`` may see (None: every event).

    Events with a site: only the reader's sites.  Events without one: those about no
    patient, and those about a patient record that is (still) at one of the reader's
    sites (the audit hook leaves the site empty when it did not have the patient at hand).
    """
    if site_ids is None:
        return None
    own_records = about(records_of_patients(
        select(Patient.id).where(Patient.site_id.in_(site_ids))))
    no_patient = or_(AuditEvent.entity_type.is_(None),
                     AuditEvent.entity_type.in_(NO_PATIENT_TYPES))
    return or_(AuditEvent.site_id.in_(site_ids) if site_ids else false(),
               and_(AuditEvent.site_id.is_(None), or_(no_patient, own_records)))


def filtered(filters: AuditFilters, site_ids: Collection[int] | None = None
             ) -> Select[AuditEvent]:
    """The events matching ``filters`` that a reader of ``site_ids`` may see."""
    stmt = select(AuditEvent)
    text = filters.text
    if text.get("action"):
        stmt = stmt.where(AuditEvent.action == text["action"])
    if text.get("entity_type"):
        stmt = stmt.where(AuditEvent.entity_type == text["entity_type"])
    if text.get("entity_id"):
        stmt = stmt.where(AuditEvent.entity_id == text["entity_id"])
    if text.get("actor_email"):
        stmt = stmt.where(AuditEvent.actor_email == text["actor_email"].lower())
    if filters.date_from:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(filters.date_from, time(),
                                                                     UTC))
    if filters.date_to:  # the whole day: before the next midnight (within DATE_RANGE)
        stmt = stmt.where(AuditEvent.occurred_at < datetime.combine(
            filters.date_to + timedelta(days=1), time(), UTC))
    visible = visible_to(site_ids)
    if visible is not None:
        stmt = stmt.where(visible)
    return stmt


def page_of_events(session: Session, filters: AuditFilters, page: int,
                   site_ids: Collection[int] | None = None) -> AuditPage:
    return paged(session, filtered(filters, site_ids), page, PAGE_SIZE)


CSV_COLUMNS = ("id", "occurred_at", "actor_email", "action", "entity_type", "entity_id",
               "site_id", "field", "old_value", "new_value", "reason", "remote_addr",
               "prev_hash", "row_hash")


def csv_rows(session: Session, filters: AuditFilters,
             site_ids: Collection[int] | None = None) -> Iterator[str]:
    """The filtered trail as CSV text chunks (streamed; oldest first); text cells a
    spreadsheet would run as formulas are escaped (``registry.spreadsheet``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    stmt = filtered(filters, site_ids).order_by(AuditEvent.id).execution_options(
        yield_per=1000)
    for event in session.scalars(stmt):
        writer.writerow([safe_cell(getattr(event, column)) for column in CSV_COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
