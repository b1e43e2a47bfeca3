"""``registry backup`` while a writer runs, ``registry restore`` into an empty database.

The restored database holds a consistent snapshot: exactly the row counts the backup's
manifest recorded, at least the rows committed before the backup started, at most those
committed by the end, every visit complete, and an audit trail that verifies and matches
the data.  Restore refuses a non-empty database, a damaged file and a file of the other
backend, each with a message saying so.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DatabaseError

from registry.maintenance.backup import manifest_path
from registry.models import AuditEvent, InstrumentResponse, Visit
from tests.integrity.helpers import (
    audit_mismatches,
    committed_app,
    engine_for,
    eventually,
    seed,
    verify_chain,
)
from tests.integrity.workers import START_TIMEOUT_S, write_visits

WRITER_SECONDS = 5.0


def _counts(database_url: str) -> dict[str, int]:
    from registry.maintenance.backup import describe

    with engine_for(database_url) as engine, engine.connect() as connection:
        return describe(connection)[1]


def _cli(database_url: str, *args: str):
    app = committed_app(database_url)
    try:
        return app.test_cli_runner().invoke(args=list(args))
    finally:
        app.extensions["registry.engine"].dispose()


def test_backup_during_writes_restores_a_consistent_snapshot(
        migrated_database_url: str, backend: str, empty_database_factory, tmp_path: Path) -> None:
    (patient_id,) = seed(migrated_database_url)
    context = multiprocessing.get_context("spawn")
    start, first_commit, results = context.Barrier(2), context.Event(), context.Queue()
    writer = context.Process(target=write_visits, args=(
        migrated_database_url, patient_id, WRITER_SECONDS, start, results, first_commit))
    writer.start()
    start.wait(timeout=START_TIMEOUT_S)  # the writer is set up; its time runs from here
    assert eventually(first_commit.is_set, 120), "the writer never committed"
    before = _counts(migrated_database_url)
    backup_file = tmp_path / "registry.backup"
    made = _cli(migrated_database_url, "backup", str(backup_file))
    assert made.exit_code == 0, made.output
    assert "Backup written" in made.output
    _patient, written, errors = results.get(timeout=WRITER_SECONDS + 180)
    writer.join(timeout=30)
    assert errors == []
    after = _counts(migrated_database_url)
    manifest = json.loads(manifest_path(backup_file).read_text())
    assert before["visit"] < after["visit"], "the writer must have written during the test"

    target = empty_database_factory(backend)
    restored = _cli(target, "restore", str(backup_file))
    assert restored.exit_code == 0, restored.output
    assert "Audit trail intact" in restored.output
    counts = _counts(target)
    assert counts == manifest["row_counts"]
    for table, count in counts.items():
        assert before[table] <= count <= after[table], table
    with engine_for(target) as engine, engine.connect() as connection:
        visits = connection.scalar(select(func.count(Visit.id)))
        responses = connection.scalar(select(func.count(InstrumentResponse.id)))
        assert responses == 2 * visits, "a visit was caught half-written"
        assert audit_mismatches(connection) == []
        result = verify_chain(connection)
        assert result.ok
        assert result.rows_checked == manifest["audit_rows"]
        assert result.head_hash == manifest["audit_head"]
    assert len(written) >= 1
    with engine_for(target) as engine, engine.begin() as connection, pytest.raises(
            DatabaseError, match="append-only"):  # the restored trail is append-only too
        connection.execute(update(AuditEvent).values(reason="rewritten"))


def _make_backup(database_url: str, folder: Path) -> Path:
    seed(database_url)
    path = folder / "registry.backup"
    made = _cli(database_url, "backup", str(path))
    assert made.exit_code == 0, made.output
    return path


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_backend(path: Path) -> None:
    path.write_bytes(b"PGDMP" if path.read_bytes().startswith(b"SQLite") else b"SQLite format 3\0")
    manifest_path(path).unlink()


REFUSALS = {
    "non-empty target": (None, "not empty"),
    "damaged file": (_damage, "does not match the checksum"),
    "other backend": (_other_backend, "backup but the target database is"),
}


@pytest.mark.parametrize(("spoil", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_restore_refuses(shared_database_url: str, backend: str, empty_database_factory,
                         tmp_path: Path, spoil, message: str) -> None:
    path = _make_backup(shared_database_url, tmp_path)
    if spoil is None:
        target = shared_database_url
    else:
        spoil(path)
        target = empty_database_factory(backend)
    before = _counts(target)
    refused = _cli(target, "restore", str(path))
    assert refused.exit_code == 1
    assert message in refused.output
    assert _counts(target) == before  # nothing was changed


def test_backup_refuses_to_overwrite(shared_database_url: str, tmp_path: Path) -> None:
    path = _make_backup(shared_database_url, tmp_path)
    again = _cli(shared_database_url, "backup", str(path))
    assert again.exit_code == 1
    assert "already exists" in again.output
