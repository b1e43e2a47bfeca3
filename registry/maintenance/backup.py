"""Consistent online backups and restores into an empty database.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the whole database in
one step, i.e. from one read snapshot, while writers carry on (WAL); the copy is switched
to a self-contained rollback-journal file and checked with ``PRAGMA integrity_check``.
PostgreSQL: ``pg_dump --format=custom`` run on a snapshot exported from a REPEATABLE READ
transaction, in which the manifest's row counts are taken too, so the counts describe
exactly the rows in the dump; ``pg_restore --single-transaction`` restores all or nothing.

A JSON manifest is written beside each backup (``<file>.manifest.json``): backend, schema
revision, SHA-256 of the file, row counts per table and the audit chain's head.  Restore
refuses a target that already has tables, a damaged file (checksum) and a file of the
other backend, and checks the restored row counts against the manifest.

Bandit B404/B603 (subprocess) are suppressed: only pg_dump and pg_restore are run, from
the path ``shutil.which`` found, with an argument list and no shell.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Connection, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from registry import audit_chain as chain
from registry.db import normalise_url
from registry.files import sha256_file
from registry.models import AuditEvent, utcnow

MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
SQLITE_BUSY_TIMEOUT_S = 30.0
# libpq keywords that may appear as URL query parameters and are passed to pg_dump.
_LIBPQ_PASSTHROUGH = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl",
                      "connect_timeout", "application_name", "options", "target_session_attrs")


class MaintenanceError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Snapshot:
    """What a backup holds (or a restore produced)."""

    backend: str
    revision: str | None
    row_counts: dict[str, int]
    audit_rows: int
    audit_head: str | None
    path: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)


def backend_of(database_url: str) -> str:
    name = make_url(normalise_url(database_url)).get_backend_name()
    if name not in {"sqlite", "postgresql"}:
        raise MaintenanceError(_("Backups of %(kind)s databases are not supported.", kind=name))
    return name


def manifest_path(backup_path: Path) -> Path:
    return backup_path.with_name(backup_path.name + MANIFEST_SUFFIX)


@contextmanager
def connect(database_url: str) -> Iterator[Connection]:
    """A connection of a throwaway, unpooled engine, disposed afterwards.

    A plain engine, not ``registry.db.make_engine``: its SQLite hooks would change the copy.
    """
    engine = create_engine(normalise_url(database_url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def describe(connection: Connection) -> tuple[str | None, dict[str, int], int, str | None]:
    """(schema revision, rows per table, audit rows, audit head hash) as this connection sees."""
    names = sorted(inspect(connection).get_table_names())
    counts = {name: int(connection.scalar(select(func.count()).select_from(table(name))) or 0)
              for name in names}
    revision = None
    if "alembic_version" in names:
        revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    head = None
    if AuditEvent.__tablename__ in names:
        head = chain.head(connection)
    return revision, counts, counts.get(AuditEvent.__tablename__, 0), head


def _snapshot(backend: str, connection: Connection, path: Path | None = None) -> Snapshot:
    revision, counts, audit_rows, head = describe(connection)
    return Snapshot(backend, revision, counts, audit_rows, head, path)


def table_names(database_url: str) -> list[str]:
    with connect(database_url) as connection:
        return sorted(inspect(connection).get_table_names())


def _sqlite_file(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise MaintenanceError(_("An in-memory SQLite database cannot be backed up or "
                                 "restored."))
    return Path(database)


def _describe_sqlite_file(path: Path) -> Snapshot:
    with connect(f"sqlite:///{path}") as connection:
        return _snapshot("sqlite", connection, path)


def _integrity_problem(connection: sqlite3.Connection) -> str | None:
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    return None if rows == ["ok"] else "; ".join(map(str, rows[:5]))


def _backup_sqlite(database_url: str, partial: Path) -> Snapshot:
    source_path = _sqlite_file(database_url)
    if not source_path.exists():
        raise MaintenanceError(_("The database file %(path)s does not exist.", path=source_path))
    source = sqlite3.connect(source_path, timeout=SQLITE_BUSY_TIMEOUT_S)
    target = sqlite3.connect(partial)
    try:
        source.backup(target)  # pages=-1: the whole database in one step, one snapshot
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problem = _integrity_problem(target)
    finally:
        target.close()
        source.close()
    if problem:
        raise MaintenanceError(_("The backup copy failed its integrity check: %(problem)s",
                                 problem=problem))
    return _describe_sqlite_file(partial)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it."""
    url: URL = make_url(normalise_url(database_url))
    parts: dict[str, str] = {}
    if url.host:
        parts["host"] = url.host
    if url.port:
        parts["port"] = str(url.port)
    if url.username:
        parts["user"] = url.username
    if url.database:
        parts["dbname"] = url.database
    for key in ("host", "port", *_LIBPQ_PASSTHROUGH):
        value = url.query.get(key)
        if value is not None:
            parts[key] = ",".join(value) if isinstance(value, tuple) else str(value)

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    conninfo = " ".join(f"{key}={quoted(value)}" for key, value in parts.items())
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return conninfo, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MaintenanceError(_("%(tool)s was not found: install the PostgreSQL client tools.",
                                 tool=name))
    return found


def _run(args: list[str], env: Mapping[str, str]) -> None:
    # Suppressions justified: a program path from shutil.which and an argument list, no
    # shell, so nothing in the arguments (file name, connection string) runs as a command.
    completed = subprocess.run(  # noqa: S603  # nosec B603
        args, env=dict(env), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tool = Path(args[0]).name
        raise MaintenanceError(_("%(tool)s failed: %(output)s", tool=tool,
                                 output=completed.stderr.strip()[-2000:]))


def _backup_postgresql(database_url: str, partial: Path) -> Snapshot:
    conninfo, env = _libpq(database_url)
    pg_dump = _pg_tool("pg_dump")
    with connect(database_url) as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot_id = connection.scalar(text("SELECT pg_export_snapshot()"))
            described = _snapshot("postgresql", connection, partial)
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot_id}",
                  f"--file={partial}", f"--dbname={conninfo}"], env)
    return described


def backup(database_url: str, path: Path, *, overwrite: bool = False) -> Snapshot:
    """Back up the database to ``path`` (and its manifest); return what the backup holds."""
    backend = backend_of(database_url)
    path = Path(path)
    if path.exists() and not overwrite:
        raise MaintenanceError(_("%(path)s already exists; choose a new file name.", path=path))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if backend == "sqlite":
            described = _backup_sqlite(database_url, partial)
        else:
            described = _backup_postgresql(database_url, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    manifest = {
        "format": MANIFEST_FORMAT,
        "backend": backend,
        "created_at": utcnow().isoformat(),
        "file": path.name,
        "sha256": sha256_file(path),
        "revision": described.revision,
        "row_counts": described.row_counts,
        "audit_rows": described.audit_rows,
        "audit_head": described.audit_head,
    }
    manifest_path(path).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return replace(described, path=path, manifest=manifest)


def _backup_backend(path: Path) -> str:
    with path.open("rb") as handle:
        magic = handle.read(len(SQLITE_MAGIC))
    if magic.startswith(SQLITE_MAGIC):
        return "sqlite"
    if magic.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise MaintenanceError(_("%(path)s is neither an SQLite backup nor a pg_dump custom "
                             "archive.", path=path))


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The backup's manifest, after checking the file against its checksum (None if absent)."""
    where = manifest_path(path)
    if not where.exists():
        return None
    manifest: dict[str, Any] = json.loads(where.read_text())
    if manifest.get("sha256") != sha256_file(path):
        raise MaintenanceError(_(
            "%(path)s does not match the checksum in %(manifest)s: the backup is damaged or "
            "was changed after it was made. Nothing was restored.", path=path,
            manifest=where.name))
    return manifest


def _restore_sqlite(database_url: str, path: Path) -> Snapshot:
    target_path = _sqlite_file(database_url)
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problem = _integrity_problem(source)
        if problem:
            raise MaintenanceError(_("%(path)s failed its integrity check: %(problem)s",
                                     path=path, problem=problem))
        target_path.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(target_path, timeout=SQLITE_BUSY_TIMEOUT_S)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        source.close()
    return _describe_sqlite_file(target_path)


def _restore_postgresql(database_url: str, path: Path) -> Snapshot:
    conninfo, env = _libpq(database_url)
    _run([_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
          "--single-transaction", f"--dbname={conninfo}", str(path)], env)
    with connect(database_url) as connection:
        return _snapshot("postgresql", connection)


def restore(database_url: str, path: Path) -> Snapshot:
    """Restore the backup at ``path`` into the EMPTY database ``database_url``."""
    backend = backend_of(database_url)
    path = Path(path)
    if not path.is_file():
        raise MaintenanceError(_("%(path)s does not exist.", path=path))
    kind = _backup_backend(path)
    if kind != backend:
        raise MaintenanceError(_(
            "%(path)s is a %(kind)s backup but the target database is %(backend)s; restore it "
            "into a %(kind)s database.", path=path, kind=kind, backend=backend))
    manifest = read_manifest(path)
    existing = table_names(database_url)
    if existing:
        shown = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
        raise MaintenanceError(_(
            "The target database is not empty (%(num)d tables: %(tables)s). Restore only "
            "into a new, empty database; nothing was changed.", num=len(existing),
            tables=shown))
    restored = (_restore_sqlite if backend == "sqlite" else _restore_postgresql)(
        database_url, path)
    if manifest is not None and manifest.get("row_counts") != restored.row_counts:
        raise MaintenanceError(_(
            "The restored row counts differ from the backup's manifest: expected "
            "%(expected)s, found %(found)s.", expected=manifest.get("row_counts"),
            found=restored.row_counts))
    return replace(restored, path=path, manifest=manifest or {})
