"""Appending to and verifying the hash-chained audit table.

Each row's ``row_hash`` is HMAC-SHA256 (keyed with the registry's audit key) over the
row's content and the previous row's hash.  Editing a field, deleting or reordering rows,
or inserting a row without the key breaks the chain at that row.  Appends are serialised
(PostgreSQL advisory lock; SQLite's write lock) so the chain never forks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from flask import current_app
from sqlalchemy import Connection, insert, select, text

from registry.models import AuditEvent

GENESIS_HASH = "0" * 64
# Arbitrary constant identifying the audit-append advisory lock on PostgreSQL.
_PG_AUDIT_LOCK_KEY = 0x4B4F4141554449  # "KOAAUDI"
HASHED_FIELDS = (
    "occurred_at",
    "actor_id",
    "actor_email",
    "action",
    "entity_type",
    "entity_id",
    "site_id",
    "field",
    "old_value",
    "new_value",
    "reason",
    "remote_addr",
)
# Built once: constructing a statement costs more than executing it from the cache.
_HEAD = select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1)
_INSERT = insert(AuditEvent)


def _canonical(row: Mapping[Any, Any], prev_hash: str) -> bytes:
    values: list[Any] = []
    for name in HASHED_FIELDS:
        value = row.get(name)
        if isinstance(value, datetime):
            value = value.isoformat(timespec="microseconds")
        values.append(value)
    values.append(prev_hash)
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()


def row_hash(key: bytes, row: Mapping[Any, Any], prev_hash: str) -> str:
    """HMAC-SHA256 of the row's hashed fields and the previous row's hash."""
    return hmac.new(key, _canonical(row, prev_hash), hashlib.sha256).hexdigest()


def head(connection: Connection) -> str | None:
    """The newest row's hash (the chain's head), or None when the audit table is empty."""
    return connection.execute(_HEAD).scalar()


def append(connection: Connection, key: bytes, rows: list[dict[str, Any]]) -> None:
    """Insert audit rows at the end of the chain, in order, in the current transaction."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_AUDIT_LOCK_KEY})
    previous = head(connection) or GENESIS_HASH
    for row in rows:
        for name in HASHED_FIELDS:
            row.setdefault(name, None)
        row["prev_hash"] = previous
        row["row_hash"] = row_hash(key, row, previous)
        previous = row["row_hash"]
    # One DBAPI executemany (without RETURNING, SQLAlchemy folds no rows into a multi-row
    # INSERT on pysqlite or psycopg 3): the driver runs the INSERT once per row, in order
    # (pysqlite steps one prepared statement; psycopg sends them in order, pipelined), so id
    # order equals chain order, at the cost of one round trip for the whole batch.
    connection.execute(_INSERT, rows)


@dataclass(frozen=True)
class VerifyResult:
    rows_checked: int
    head_hash: str
    first_broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify(connection: Connection, key: bytes, batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in id order; report the first row whose link or content is wrong."""
    previous = GENESIS_HASH
    checked = 0
    columns = [getattr(AuditEvent, name) for name in HASHED_FIELDS]
    stmt = (
        select(AuditEvent.id, AuditEvent.prev_hash, AuditEvent.row_hash, *columns)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=batch_size)
    )
    result = connection.execute(stmt)
    try:
        for record in result:
            mapping = record._mapping
            if mapping["prev_hash"] != previous:
                return VerifyResult(
                    checked, previous, mapping["id"],
                    "the link to the previous row is broken (a row was removed, reordered or "
                    "inserted)",
                )
            expected = row_hash(key, mapping, previous)
            if not hmac.compare_digest(expected, mapping["row_hash"]):
                return VerifyResult(
                    checked, previous, mapping["id"], "the row's content does not match its hash"
                )
            previous = mapping["row_hash"]
            checked += 1
    finally:
        result.close()  # a server-side cursor on PostgreSQL: release it on early return
    return VerifyResult(checked, previous)


def verify_audit_chain(connection: Connection, broken_hint: Callable[[VerifyResult], str]) -> None:
    """Verify the audit chain with this installation's key and say so; exit 1 if broken.

    Shared by the ``audit verify`` and ``restore`` commands; ``broken_hint(result)`` ends
    the error line.
    """
    result = verify(connection, current_app.config["AUDIT_KEY"].encode())
    if result.ok:
        click.echo(f"Audit trail intact: {result.rows_checked} rows, head {result.head_hash}.")
        return
    click.echo(
        f"Audit trail BROKEN at row id {result.first_broken_id}: {result.problem}"
        f"{broken_hint(result)}",
        err=True,
    )
    sys.exit(1)
