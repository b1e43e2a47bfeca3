"""Automatic audit capture: every insert, update and delete of an ``Audited`` model.

A ``before_flush`` hook refuses a change to an already-recorded value without a reason;
an ``after_flush`` hook (while attribute history is still available and new rows have
their ids) makes one audit row per created or deleted record and per changed field.
The rows are appended to the hash chain just before the transaction commits
(``before_commit``), in the same transaction as the data, so there is never data without
its audit row or an audit row without its data.  Appending at commit rather than at each
flush keeps the chain's lock (which serialises every writer) for the INSERT and the
COMMIT only, not for the rest of the request: with it taken at the first flush, a
reminder campaign's submissions queued behind each other (benchmarks/results/
self_report.md).  Rows made inside a savepoint that is rolled back are dropped with it.
Who and why come from ``session.info`` (see ``context``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import ClauseElement, Table, TextClause, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, UOWTransaction
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.util import find_tables

from registry import audit_chain as chain
from registry.models import Audited, Base, Patient, utcnow

AUDIT_KEY = "audit_key"
PENDING = "audit_pending"  # rows made by flushes, appended to the chain at commit
SAVEPOINT_MARKS = "audit_savepoint_marks"  # savepoint -> len(PENDING) when it began
ACTOR = "audit_actor"
REASON = "audit_reason"
REMOTE_ADDR = "audit_remote_addr"


class ReasonRequired(ValueError):
    """An already-recorded value was changed without saying why."""

    def __init__(self, entity: str, field: str) -> None:
        super().__init__(f"A reason is required to change the recorded {entity} {field}.")
        self.entity = entity
        self.field = field


class BulkWriteRefused(RuntimeError):
    """A bulk INSERT/UPDATE/DELETE statement aimed at an audited table."""

    def __init__(self, kind: str, table: str) -> None:
        super().__init__(
            f"Bulk {kind} on the audited table {table} is refused: it would bypass the audit "
            "trail. Load the records and change them through the session instead."
        )
        self.kind = kind
        self.table = table


def encode(value: Any) -> str | None:
    """The audit trail's text form of a value: JSON, dates as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def set_actor(session: Session, user_id: int | None, email: str | None) -> None:
    session.info[ACTOR] = (user_id, email)


@contextmanager
def reason(session: Session, text: str | None) -> Iterator[None]:
    """Attach a reason to the changes flushed inside the block."""
    previous = session.info.get(REASON)
    session.info[REASON] = text
    try:
        yield
        session.flush()
    finally:
        session.info[REASON] = previous


def entity_name(obj: object) -> str:
    return str(inspect(obj).mapper.local_table.name)


def entity_key(obj: object) -> str:
    """The record's primary key as text (available in after_flush, unlike its identity)."""
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ":".join(str(part) for part in key)


def _site_of(session: Session, obj: object) -> int | None:
    site_id = getattr(obj, "site_id", None)
    if site_id is not None:
        return int(site_id)
    patient_id = getattr(obj, "patient_id", None)
    if patient_id is not None:
        # Only a patient already in the session: the audit hook must not query.
        patient = session.identity_map.get(identity_key(Patient, patient_id))
        if isinstance(patient, Patient):
            return patient.site_id
    return None


def _redacted(obj: object) -> frozenset[str]:
    return getattr(obj, "audit_redacted", frozenset())


def _column_values(obj: object) -> dict[str, Any]:
    state = inspect(obj)
    redacted = _redacted(obj)
    values: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        value = state.attrs[attr.key].value
        values[attr.key] = "[redacted]" if attr.key in redacted and value else value
    return values


def _changed_fields(obj: object) -> Iterator[tuple[str, Any, Any]]:
    """(field, old, new) for each changed column; JSON dicts are diffed key by key."""
    state = inspect(obj)
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if isinstance(old, dict) and isinstance(new, dict):
            for item in sorted(set(old) | set(new), key=str):
                if old.get(item) != new.get(item):
                    yield f"{attr.key}.{item}", old.get(item), new.get(item)
        elif old != new:
            yield attr.key, old, new
    for rel in state.mapper.relationships:
        if rel.secondary is None:
            continue
        history = state.attrs[rel.key].history
        if history.has_changes():
            before = sorted(str(o) for o in (*history.unchanged, *history.deleted))
            after = sorted(str(o) for o in (*history.unchanged, *history.added))
            if before != after:
                yield rel.key, before, after


def _before_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    if session.info.get(REASON):
        return
    for obj in session.deleted:
        if isinstance(obj, Audited):
            raise ReasonRequired(entity_name(obj), "record (deletion)")
    for obj in session.dirty:
        if not isinstance(obj, Audited) or not session.is_modified(obj):
            continue
        exempt = type(obj).audit_reason_exempt
        for field, old, _new in _changed_fields(obj):
            if field.split(".")[0] not in exempt and old not in (None, [], {}):
                raise ReasonRequired(entity_name(obj), field)


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    actor_id, actor_email = session.info.get(ACTOR, (None, None))
    common = {
        "occurred_at": utcnow(),
        "actor_id": actor_id,
        "actor_email": actor_email,
        "reason": session.info.get(REASON),
        "remote_addr": session.info.get(REMOTE_ADDR),
    }
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append({**common, "action": "create", "entity_type": entity_name(obj),
                         "entity_id": entity_key(obj), "site_id": _site_of(session, obj),
                         "new_value": encode(_column_values(obj))})
    for obj in session.dirty:
        if not isinstance(obj, Audited) or not session.is_modified(obj):
            continue
        redacted = _redacted(obj)
        for field, old, new in _changed_fields(obj):
            if field == "version":
                continue
            hidden = field in redacted
            rows.append({**common, "action": "update", "entity_type": entity_name(obj),
                         "entity_id": entity_key(obj), "site_id": _site_of(session, obj),
                         "field": field,
                         "old_value": "[redacted]" if hidden else encode(old),
                         "new_value": "[redacted]" if hidden else encode(new)})
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append({**common, "action": "delete", "entity_type": entity_name(obj),
                         "entity_id": entity_key(obj), "site_id": _site_of(session, obj),
                         "old_value": encode(_column_values(obj))})
    if rows:
        _pending(session).extend(rows)


def _pending(session: Session) -> list[dict[str, Any]]:
    pending: list[dict[str, Any]] = session.info.setdefault(PENDING, [])
    return pending


def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(SAVEPOINT_MARKS, {})[id(transaction)] = len(_pending(session))


def _rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """Drop the rows of what was rolled back: a savepoint's, or all of them."""
    marks: dict[int, int] = session.info.get(SAVEPOINT_MARKS, {})
    if transaction.nested:
        mark = marks.pop(id(transaction), None)
        if mark is not None:
            del _pending(session)[mark:]
        return
    _pending(session).clear()
    marks.clear()


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        _pending(session).clear()
        session.info.pop(SAVEPOINT_MARKS, None)


def _append_before_commit(session: Session) -> None:
    """Flush what is left, then append every row of the transaction to the chain."""
    if session.in_nested_transaction():
        return  # a savepoint's release: its rows wait for the outer commit
    flush_to_chain(session)


def flush_to_chain(session: Session) -> None:
    """Append the rows made so far now (for code that reads the audit table before its
    transaction commits)."""
    session.flush()
    pending = _pending(session)
    if pending:
        chain.append(session.connection(), session.info[AUDIT_KEY], list(pending))
        pending.clear()


def record(session: Session, action: str, *, entity_type: str | None = None,
           entity_id: object = None, site_id: int | None = None, field: str | None = None,
           old_value: Any = None, new_value: Any = None, reason_text: str | None = None) -> None:
    """Write an audit row for an event that is not a data change (sign-in, export …)."""
    actor_id, actor_email = session.info.get(ACTOR, (None, None))
    row = {
        "occurred_at": utcnow(),
        "actor_id": actor_id,
        "actor_email": actor_email,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "site_id": site_id,
        "field": field,
        "old_value": encode(old_value),
        "new_value": encode(new_value),
        "reason": reason_text or session.info.get(REASON),
        "remote_addr": session.info.get(REMOTE_ADDR),
    }
    _pending(session).append(row)


@cache
def audited_tables() -> frozenset[str]:
    """Names of the tables whose rows are audited (mapped by an ``Audited`` model)."""
    return frozenset(
        cast(Table, mapper.local_table).name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Audited)
    )


def _refuse_bulk_writes(state: ORMExecuteState) -> None:
    """Refuse INSERT/UPDATE/DELETE statements run through the session on audited tables.

    Such statements (``session.execute(update(Patient)...)``, ORM bulk inserts) skip the
    flush and therefore the audit hooks; the flush itself does not pass through here.
    """
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in audited_tables():
        kind = "UPDATE" if state.is_update else "DELETE" if state.is_delete else "INSERT"
        raise BulkWriteRefused(kind, str(name))


def _chain_before_reading_it(state: ORMExecuteState) -> None:
    """A query of the audit table sees the rows made earlier in its own transaction,
    as it did when rows were appended at each flush (e.g. a History page after a save)."""
    session = state.session
    if not state.is_select or not session.info.get(PENDING) or \
            session.in_nested_transaction():
        return
    statement = state.statement
    if isinstance(statement, TextClause):
        reads_audit = "audit_event" in statement.text
    elif isinstance(statement, ClauseElement):
        reads_audit = any(table.name == "audit_event" for table in find_tables(
            statement, include_crud=True, include_joins=True))
    else:
        reads_audit = True  # a statement of another kind: be safe
    if reads_audit:
        flush_to_chain(session)


def install(session_factory: Any) -> None:
    """Attach the audit hooks to a sessionmaker (or the Session class)."""
    event.listen(session_factory, "before_flush", _before_flush)
    event.listen(session_factory, "after_flush", _after_flush)
    event.listen(session_factory, "after_transaction_create", _savepoint_began)
    event.listen(session_factory, "after_soft_rollback", _rolled_back)
    event.listen(session_factory, "after_transaction_end", _transaction_ended)
    event.listen(session_factory, "before_commit", _append_before_commit)
    event.listen(session_factory, "do_orm_execute", _refuse_bulk_writes)
    event.listen(session_factory, "do_orm_execute", _chain_before_reading_it)
