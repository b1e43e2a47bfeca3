"""Follow-up completeness per site and timepoint, by mode of collection, computed in SQL.

Definition (the same on the coordinator's home page and in the research summary):

- a scheduled visit (one with a timepoint) is **due** when its follow-up status — computed
  by :func:`registry.followup.status.status_expression`, the one rule, for today at its
  site — is ``done``, ``due``, ``overdue`` or ``missed``: its window has opened (or it was
  recorded anyway).  ``not_applicable`` visits (marked so, or of withdrawn patients) and
  visits whose window has not opened (``upcoming``, ``scheduled``) are left out;
- it is **done** when that status is ``done``;
- **completion** = done / due; **by mode** = the done visits whose answers were collected
  in that mode (``visit.collection_mode``: ``self_link``, ``self_kiosk``,
  ``staff_interview``, ``paper``; ``unknown`` for visits recorded without one, e.g. before
  modes were recorded), divided by the same due.  The modes' rates add up to the
  completion rate.

One statement per call, whatever the number of sites, timepoints or visits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from registry.followup.state import AnySelect
from registry.followup.status import site_todays, status_expression
from registry.models import Patient, Site, Timepoint, Visit
from registry.vocabularies import COLLECTION_MODES, N_

UNKNOWN = "unknown"
# Every mode a done visit is counted under, in display order.
MODES: tuple[str, ...] = (*COLLECTION_MODES, UNKNOWN)
# Labels marked for the catalogue, translated where shown.
MODE_LABELS: dict[str, str] = {**COLLECTION_MODES, UNKNOWN: N_("Not recorded")}
DUE_STATUSES = ("done", "due", "overdue", "missed")


def percent(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole`` (None when nothing is due)."""
    return 100.0 * part / whole if whole else None


@dataclass
class CompletenessRow:
    """One site and timepoint: visits due, done, and done by mode."""

    site_id: int
    site_code: str
    timepoint_code: str
    timepoint_name: str
    due: int
    done: int
    by_mode: dict[str, int] = field(default_factory=dict)

    @property
    def percent(self) -> float | None:
        return percent(self.done, self.due)

    def mode_percent(self, mode: str) -> float | None:
        return percent(self.by_mode.get(mode, 0), self.due)


def mode_expression(visit: Any = Visit) -> ColumnElement[str]:
    """The visit's mode of collection, ``unknown`` when none was recorded."""
    return func.coalesce(visit.collection_mode, literal(UNKNOWN))


def visit_statuses(todays: date | dict[int, date], *where: Any) -> AnySelect:
    """patient_id, site_id, timepoint_id, status, mode of the scheduled visits (``where``
    narrows them): the rows completeness is counted from, for callers that group them
    themselves (the research summary groups by patient characteristics)."""
    status = status_expression(todays)
    return (select(Visit.patient_id, Patient.site_id, Visit.timepoint_id,
                   status.label("status"), mode_expression().label("mode"))
            .join(Patient, Patient.id == Visit.patient_id)
            .where(Visit.timepoint_id.is_not(None), *where))


def _count_when(condition: Any) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def completeness(session: Session, site_ids: Iterable[int],
                 todays: dict[int, date] | None = None) -> list[CompletenessRow]:
    """Completeness of these sites per site and timepoint (by code), in site and schedule
    order; timepoints with nothing due yet are left out.

    ``todays``: today at each site when the caller already has it (else one query).
    """
    wanted = frozenset(site_ids)
    todays = ({site_id: day for site_id, day in todays.items() if site_id in wanted}
              if todays is not None else site_todays(session, wanted))
    if not todays:
        return []
    rows = visit_statuses(todays, Patient.site_id.in_(sorted(todays))).subquery()
    done = rows.c.status == "done"
    statement = (
        select(rows.c.site_id, Site.code, Timepoint.code.label("timepoint_code"),
               func.min(Timepoint.name).label("timepoint_name"),
               func.min(Timepoint.target_day).label("target_day"),
               _count_when(rows.c.status.in_(DUE_STATUSES)).label("due"),
               _count_when(done).label("done"),
               *(_count_when(done & (rows.c.mode == mode)).label(f"mode_{mode}")
                 for mode in MODES))
        .join(Site, Site.id == rows.c.site_id)
        .join(Timepoint, Timepoint.id == rows.c.timepoint_id)
        .group_by(rows.c.site_id, Site.code, Timepoint.code)
        .order_by(Site.code, func.min(Timepoint.target_day), Timepoint.code))
    out = []
    for row in session.execute(statement).mappings():
        due = int(row["due"] or 0)
        if not due:
            continue
        out.append(CompletenessRow(
            row["site_id"], row["code"], row["timepoint_code"], row["timepoint_name"], due,
            int(row["done"] or 0), {mode: int(row[f"mode_{mode}"] or 0) for mode in MODES}))
    return out


__all__ = ["DUE_STATUSES", "MODES", "MODE_LABELS", "UNKNOWN", "CompletenessRow",
           "completeness", "mode_expression", "percent", "visit_statuses"]
