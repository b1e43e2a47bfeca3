"""Command-line commands of the followup area (added to the `registry` command)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select

from registry.db import get_session, writing
from registry.followup.mailer import MailConfigError
from registry.followup.reminders import describe, run_reminders
from registry.followup.state import refresh_sites
from registry.models import Site


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
    with writing():
        refresh_sites(get_session())
        get_session().commit()
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


@click.command("refresh-followup")
@click.option("--force", is_flag=True, help="Recompute every site, even those already current.")
@with_appcontext
def refresh_followup_command(force: bool) -> None:
    """Recompute the worklist's follow-up statuses of sites whose date has changed.

    Run it from cron every hour (cheap when nothing changed): each site rolls over soon
    after its own midnight.  Until a site is refreshed for its today, the worklist
    computes its statuses live — correct, only slower.
    """
    with writing():
        session = get_session()
        refreshed = refresh_sites(session, force=force)
        codes = dict(session.execute(select(Site.id, Site.code)).all())
        session.commit()
    if not refreshed:
        click.echo(_("Follow-up statuses are current for every site."))
    for site_id, day in sorted(refreshed.items()):
        click.echo(_("%(site)s: follow-up statuses computed for %(date)s.",
                     site=codes.get(site_id, site_id), date=day.isoformat()))


COMMANDS: list[click.Command] = [remind_command, refresh_followup_command]
