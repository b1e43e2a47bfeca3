"""``registry backup PATH`` and ``registry restore PATH``."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from registry.audit_chain import verify_audit_chain
from registry.db import get_engine
from registry.maintenance.backup import (
    MaintenanceError,
    Snapshot,
    backup,
    connect,
    manifest_path,
    restore,
)


def _summary(snapshot: Snapshot) -> str:
    rows = sum(snapshot.row_counts.values())
    return _("%(tables)d tables, %(rows)d rows, %(audit_rows)d audit rows, schema revision "
             "%(revision)s", tables=len(snapshot.row_counts), rows=rows,
             audit_rows=snapshot.audit_rows, revision=snapshot.revision or _("none"))


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace PATH if it already exists.")
@with_appcontext
def backup_command(path: Path, overwrite: bool) -> None:
    """Write a consistent backup of the database to PATH (online: the registry keeps running).

    SQLite: the online backup API; PostgreSQL: pg_dump --format=custom.  A manifest with
    row counts and a checksum is written to PATH.manifest.json.
    """
    try:
        snapshot = backup(current_app.config["DATABASE_URL"], path, overwrite=overwrite)
    except MaintenanceError as error:
        raise click.ClickException(str(error)) from error
    click.echo(_("Backup written to %(path)s (%(summary)s).", path=path,
                 summary=_summary(snapshot)))
    click.echo(_("Manifest: %(path)s", path=manifest_path(path)))


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(path: Path) -> None:
    """Restore the backup at PATH into the configured database, which must be empty.

    Afterwards the audit trail's hash chain is verified with this installation's audit key;
    the command exits with status 1 if it is broken.
    """
    database_url = current_app.config["DATABASE_URL"]
    get_engine().dispose()  # no pooled connection may hold the target open
    try:
        snapshot = restore(database_url, path)
    except MaintenanceError as error:
        raise click.ClickException(str(error)) from error
    click.echo(_("Restored %(path)s (%(summary)s).", path=path, summary=_summary(snapshot)))
    with connect(database_url) as connection:
        verify_audit_chain(connection,
                           lambda _result: ". Was the backup made with a different audit key?")


COMMANDS: list[click.Command] = [backup_command, restore_command]
