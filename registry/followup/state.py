"""The follow-up status tables behind one interface: kept current, read only when fresh.

``FollowupState`` (each scheduled visit's status) and ``FollowupCount`` (visits per site
and status) are derived data: nothing outside this module reads or writes them.  The
interface — :func:`install` (keep current on write), :func:`refresh_sites` (recompute
when the date moves on), :func:`is_fresh`, :func:`stored_rows` / :func:`kept_counts`
(what the worklist reads) and :func:`stored_statuses` / :func:`stored_counts` against
:func:`live_statuses` / :func:`live_counts` (the reference, computed by the rule now) —
is what ``tests/followup/test_state_matches_live.py`` holds to agreement.

Computing every visit's follow-up status on every worklist page costs a pass over all
the site's visits; the status only changes when a visit or its patient changes, or when
the date at the site changes.  So it is computed ahead of time — always with
:func:`registry.followup.status.status_expression`, the one definition of the rule:

- **on every write**: a flush that creates or changes a visit (status, dates, timepoint)
  or changes a patient's status recomputes the rows of those patients' visits, in the
  same transaction (:func:`install`);
- **when the date changes**: :func:`refresh_sites` recomputes a whole site and records
  the day (``FollowupRefresh.as_of``); ``registry refresh-followup`` runs it (from cron,
  hourly, so that sites in every time zone roll over soon after their midnight), and so
  do ``registry remind`` and the demo loader.

The worklist uses the table only when every site it shows was refreshed for its today
(:func:`is_fresh`); otherwise it computes the status live, as before — the same result,
more slowly.  ``tests/followup/test_state.py`` and ``test_state_matches_live.py`` prove
the two agree.

``FollowupCount`` (visits per site and urgency) is kept equal to counting the table:
the write hook adds the difference between the rows it replaced and the rows it wrote,
and a refresh recounts its sites.  Writers cannot interleave: on PostgreSQL every write
to a visit or patient holds the audit chain's transaction lock
(``registry.audit_chain``) before this hook runs, and the refresh locks patient and
visit; SQLite serializes writing transactions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    Select,
    bindparam,
    delete,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from registry.followup.status import (
    URGENCY,
    date_parameters,
    site_todays,
    status_expression,
    urgency_expression,
)
from registry.models import (
    FollowupCount,
    FollowupRefresh,
    FollowupState,
    Patient,
    Visit,
    utcnow,
)

# Visit columns the status depends on (a change to any other column keeps the row).
STATUS_INPUTS = frozenset({"status", "window_start", "window_end", "grace_end",
                           "timepoint_id", "patient_id"})
# A SELECT of any columns (SQLAlchemy 2.1 types a Select by the tuple of its columns).
AnySelect = Select[*tuple[Any, ...]]
STATE_COLUMNS = ("visit_id", "site_id", "status", "urgency", "grace_end", "window_start")
CHUNK = 500
STATUS_OF_URGENCY = {rank: status for status, rank in URGENCY.items()}


def state_rows(todays: date | Mapping[int, date], *where: Any) -> AnySelect:
    """SELECT of ``FollowupState`` rows (in ``STATE_COLUMNS`` order) for scheduled visits,
    computed by the rule: what the table is written from, and the reference it is held to."""
    status = status_expression(todays)
    return (select(Visit.id, Patient.site_id, status, urgency_expression(status),
                   Visit.grace_end, Visit.window_start)
            .join(Patient, Patient.id == Visit.patient_id)
            .where(Visit.timepoint_id.is_not(None), *where))


def _insert(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT (both databases have one)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _upsert_statement(dialect: str, rows: AnySelect, *, returning: bool = True
                      ) -> Executable:
    """INSERT … SELECT, replacing existing rows; returns the (site id, urgency) written."""
    statement = _insert(dialect)(FollowupState).from_select(list(STATE_COLUMNS), rows)
    upsert = statement.on_conflict_do_update(
        index_elements=["visit_id"],
        set_={column: statement.excluded[column] for column in STATE_COLUMNS[1:]})
    return upsert.returning(FollowupState.site_id, FollowupState.urgency) if returning \
        else upsert


@cache
def _count_adder(dialect: str) -> Executable:
    """Add ``visits`` to a site's count for an urgency (creating the row at first)."""
    statement = _insert(dialect)(FollowupCount)
    return statement.on_conflict_do_update(
        index_elements=["site_id", "urgency"],
        set_={"visits": FollowupCount.visits + statement.excluded.visits})


def _add_counts(connection: Connection, replaced: Iterable[Any], written: Iterable[Any]) -> None:
    """Change the counts by the rows written minus the rows they replaced."""
    difference = Counter((site_id, urgency) for site_id, urgency in written)
    difference.subtract((site_id, urgency) for site_id, urgency in replaced)
    changes = [{"site_id": site_id, "urgency": urgency, "visits": visits}
               for (site_id, urgency), visits in sorted(difference.items()) if visits]
    if changes:
        connection.execute(_count_adder(connection.dialect.name), changes)


def _recount(connection: Connection, site_id: int) -> None:
    """Count a site's rows afresh (after a refresh rewrote them)."""
    connection.execute(delete(FollowupCount).where(FollowupCount.site_id == site_id))
    counted = (select(FollowupState.site_id, FollowupState.urgency, func.count())
               .where(FollowupState.site_id == site_id)
               .group_by(FollowupState.site_id, FollowupState.urgency))
    connection.execute(_insert(connection.dialect.name)(FollowupCount).from_select(
        ["site_id", "urgency", "visits"], counted))


@cache
def _patients_rows() -> AnySelect:
    """(site id, urgency) of the rows of the ``patient_ids``' scheduled visits — the rows
    :func:`recompute_patients` replaces."""
    return (select(FollowupState.site_id, FollowupState.urgency)
            .join(Visit, Visit.id == FollowupState.visit_id)
            .where(Visit.patient_id.in_(bindparam("patient_ids", expanding=True)),
                   Visit.timepoint_id.is_not(None)))


@cache
def _patients_upsert(dialect: str) -> Executable:
    """The write hook's statement for sites sharing one date, built once (parameters:
    ``patient_ids`` and :func:`date_parameters`)."""
    rows = state_rows(date.min, Visit.patient_id.in_(bindparam("patient_ids", expanding=True)))
    return _upsert_statement(dialect, rows)


def recompute_patients(session: Session, patient_ids: Iterable[int]) -> None:
    """Recompute the rows of these patients' visits for today (at their sites)."""
    connection = session.connection()
    ids = sorted(set(patient_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        todays = site_todays(session, select(Patient.site_id)
                             .where(Patient.id.in_(chunk)).scalar_subquery())
        days = set(todays.values())
        if not days:
            continue
        replaced = connection.execute(_patients_rows(), {"patient_ids": chunk}).all()
        if len(days) == 1:
            written = connection.execute(
                _patients_upsert(connection.dialect.name),
                {"patient_ids": chunk, **date_parameters(days.pop())}).all()
        else:
            written = connection.execute(_upsert_statement(
                connection.dialect.name, state_rows(todays, Visit.patient_id.in_(chunk)))).all()
        _add_counts(connection, replaced, written)


def refresh_sites(session: Session, site_ids: Iterable[int] | None = None, *,
                  force: bool = False) -> dict[int, date]:
    """Recompute every row of the sites whose date moved on since their last refresh.

    Returns site id -> the day refreshed for (sites already current are skipped unless
    ``force``).  On PostgreSQL, patient and visit are locked against writes (SHARE) for
    the transaction, so that no write can slip between the computation and its commit;
    on SQLite, writing transactions are serialized anyway.
    """
    connection = session.connection()
    todays = site_todays(session, None if site_ids is None else frozenset(site_ids))
    records = {record.site_id: record for record in session.scalars(
        select(FollowupRefresh).where(FollowupRefresh.site_id.in_(sorted(todays))))}
    stale = {site_id: day for site_id, day in todays.items()
             if force or site_id not in records or records[site_id].as_of != day}
    if not stale:
        return {}
    if connection.dialect.name == "postgresql":
        connection.execute(text("LOCK TABLE patient, visit IN SHARE MODE"))
    for site_id, day in sorted(stale.items()):
        connection.execute(_upsert_statement(
            connection.dialect.name, state_rows(day, Patient.site_id == site_id),
            returning=False))
        _recount(connection, site_id)
        record = records.get(site_id)
        if record is None:
            session.add(FollowupRefresh(site_id=site_id, as_of=day, refreshed_at=utcnow()))
        else:
            record.as_of, record.refreshed_at = day, utcnow()
    session.flush()
    return stale


def is_fresh(session: Session, todays: Mapping[int, date]) -> bool:
    """Whether every one of these sites was refreshed for its today (one query)."""
    if not todays:
        return False
    rows = session.execute(select(FollowupRefresh.site_id, FollowupRefresh.as_of)
                           .where(FollowupRefresh.site_id.in_(sorted(todays))))
    refreshed = dict(rows.all())
    return all(refreshed.get(site_id) == day for site_id, day in todays.items())


def _touched_patients(session: Session) -> set[int]:
    """Patients whose visits' status inputs this flush created or changed."""
    patient_ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Visit):
            patient_ids.add(obj.patient_id)
    for obj in session.dirty:
        if isinstance(obj, Visit):
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in STATUS_INPUTS):
                patient_ids.add(obj.patient_id)
                for old in state.attrs.patient_id.history.deleted:
                    patient_ids.add(old)
        elif isinstance(obj, Patient) and inspect(obj).attrs.status.history.has_changes():
            patient_ids.add(obj.id)
    return patient_ids


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    patient_ids = _touched_patients(session)
    if patient_ids:
        recompute_patients(session, patient_ids)


def install(session_factory: Any) -> None:
    """Keep ``FollowupState`` current on every flush of sessions from this factory."""
    event.listen(session_factory, "after_flush", _after_flush)


# Reading the tables.  Statements take the sites as the expanding parameter ``site_ids``,
# so that the worklist can build (and cache) them once and add its own filters.

def stored_rows() -> AnySelect:
    """visit_id, grace_end, window_start, status, urgency as stored for ``site_ids``: the
    worklist's rows when :func:`is_fresh` (the same columns as its live computation)."""
    return (select(FollowupState.visit_id, FollowupState.grace_end,
                   FollowupState.window_start, FollowupState.status, FollowupState.urgency)
            .where(FollowupState.site_id.in_(bindparam("site_ids", expanding=True))))


def kept_counts() -> AnySelect:
    """(urgency, visits) over the sites ``site_ids`` from the kept counts: a few rows
    instead of counting the sites' visits."""
    return (select(FollowupCount.urgency, func.sum(FollowupCount.visits))
            .where(FollowupCount.site_id.in_(bindparam("site_ids", expanding=True)))
            .group_by(FollowupCount.urgency))


Statuses = dict[int, tuple[int, str]]  # visit id -> (site id, status)
Counts = dict[tuple[int, str], int]  # (site id, status) -> visits, zeros left out


def stored_statuses(session: Session, site_ids: Iterable[int]) -> Statuses:
    """Each scheduled visit of these sites with its status, as stored."""
    rows = session.execute(select(FollowupState.visit_id, FollowupState.site_id,
                                  FollowupState.status)
                           .where(FollowupState.site_id.in_(sorted(set(site_ids)))))
    return {visit_id: (site_id, status) for visit_id, site_id, status in rows}


def stored_counts(session: Session, site_ids: Iterable[int]) -> Counts:
    """Visits per site and status of these sites, from the kept counts."""
    rows = session.execute(select(FollowupCount.site_id, FollowupCount.urgency,
                                  FollowupCount.visits)
                           .where(FollowupCount.site_id.in_(sorted(set(site_ids)))))
    return {(site_id, STATUS_OF_URGENCY[urgency]): visits
            for site_id, urgency, visits in rows if visits}


def live_statuses(session: Session, site_ids: Iterable[int]) -> Statuses:
    """The reference: each scheduled visit's status computed now by the rule
    (:func:`registry.followup.status.status_expression`), for today at each site."""
    todays = site_todays(session, frozenset(site_ids))
    if not todays:
        return {}
    rows = session.execute(state_rows(todays, Patient.site_id.in_(sorted(todays))))
    return {visit_id: (site_id, status) for visit_id, site_id, status, *_ in rows}


def live_counts(session: Session, site_ids: Iterable[int]) -> Counts:
    """Visits per site and status, counted from :func:`live_statuses`."""
    return dict(Counter(live_statuses(session, site_ids).values()))


__all__ = ["AnySelect", "Counts", "Statuses", "install", "is_fresh", "kept_counts", "live_counts",
           "live_statuses", "recompute_patients", "refresh_sites", "state_rows",
           "stored_counts", "stored_rows", "stored_statuses"]
