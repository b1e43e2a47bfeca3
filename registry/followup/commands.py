"""Command-line commands of the followup area (added to the `registry` command)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from registry.db import get_session, writing


@click.command("remind")
@click.option("--dry-run", is_flag=True,
              help="Print the reminders that would be sent; send and record nothing.")
@with_appcontext
def remind_command(dry_run: bool) -> None:
    """E-mail due follow-up reminders and coordinators' daily digests (run from cron).

    Safe to run as often as you like, even twice at once: each message is claimed in
    the database before it is sent, so it goes out once.  Exits with status 1 if any
    message failed (it is retried by the next run).
    """
    from registry.followup.mailer import MailConfigError
    from registry.followup.reminders import describe, run_reminders

    with writing():
        try:
            summary = run_reminders(get_session(), current_app.config, dry_run=dry_run,
                                    echo=click.echo)
        except MailConfigError as error:
            raise click.ClickException(str(error)) from error
    for line in describe(summary, dry_run):
        click.echo(line)
    if summary.failed:
        raise click.exceptions.Exit(1)


COMMANDS: list[click.Command] = [remind_command]
