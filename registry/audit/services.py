"""Reading the audit trail: filtered, paginated listing and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from registry.models import AuditEvent

PAGE_SIZE = 50
FILTERS = ("action", "entity_type", "entity_id", "actor_email", "date_from", "date_to")


@dataclass
class AuditPage:
    events: list[AuditEvent]
    total: int
    page: int
    pages: int


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filtered(args: Mapping[str, str]) -> Select[tuple[AuditEvent]]:
    stmt = select(AuditEvent)
    if args.get("action"):
        stmt = stmt.where(AuditEvent.action == args["action"])
    if args.get("entity_type"):
        stmt = stmt.where(AuditEvent.entity_type == args["entity_type"])
    if args.get("entity_id"):
        stmt = stmt.where(AuditEvent.entity_id == args["entity_id"])
    if args.get("actor_email"):
        stmt = stmt.where(AuditEvent.actor_email == args["actor_email"].strip().lower())
    start = _parse_date(args.get("date_from"))
    if start:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(start, time(), UTC))
    end = _parse_date(args.get("date_to"))
    if end:
        stmt = stmt.where(
            AuditEvent.occurred_at < datetime.combine(end + timedelta(days=1), time(), UTC)
        )
    return stmt


def page_of_events(session: Session, args: Mapping[str, str], page: int) -> AuditPage:
    stmt = filtered(args)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    events = list(session.scalars(
        stmt.order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ))
    return AuditPage(events, total, page, pages)


CSV_COLUMNS = ("id", "occurred_at", "actor_email", "action", "entity_type", "entity_id",
               "site_id", "field", "old_value", "new_value", "reason", "remote_addr",
               "prev_hash", "row_hash")


def csv_rows(session: Session, args: Mapping[str, str]) -> Iterator[str]:
    """The filtered trail as CSV text chunks (streamed; oldest first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    stmt = filtered(args).order_by(AuditEvent.id).execution_options(yield_per=1000)
    for event in session.scalars(stmt):
        writer.writerow([getattr(event, column) for column in CSV_COLUMNS])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
