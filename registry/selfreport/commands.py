"""Command-line commands of self-report (added to the ``registry`` command)."""

from __future__ import annotations

import getpass

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from registry import audit_capture as capture
from registry.db import get_session, writing
from registry.models import Visit
from registry.selfreport import service
from registry.services import ValidationFailed
from registry.vocabularies import LINK_CHANNELS


@click.group("self-report")
def self_report_group() -> None:
    """Patients' self-report links."""


@self_report_group.command("link")
@click.option("--visit", "visit_id", required=True, type=click.IntRange(min=1),
              help="The visit's id (as in its page's address).")
@click.option("--channel", default="link", show_default=True,
              type=click.Choice(sorted(LINK_CHANNELS)), help="How the link is handed over.")
@with_appcontext
def link_command(visit_id: int, channel: str) -> None:
    """Make a self-report link for a visit and print its absolute address (once).

    The address is built from REGISTRY_BASE_URL; the registry keeps only the token's
    hash, so the address cannot be printed again: make a new link if it is lost.
    """
    with writing():
        session = get_session()
        capture.set_actor(session, None, f"cli:{getpass.getuser()}")
        visit = session.get(Visit, visit_id)
        if visit is None:
            raise click.ClickException(_("There is no visit %(visit)s.", visit=visit_id))
        try:
            link, token = service.issue_link(session, visit, channel=channel,
                                             created_by_id=None)
        except ValidationFailed as error:
            raise click.ClickException(_("Visit %(visit)s: %(problems)s", visit=visit_id,
                                         problems="; ".join(error.errors.values()))) from error
        expires_on = link.expires_on
        session.commit()
    click.echo(service.link_url(token, current_app.config["BASE_URL"]))
    click.echo(_("(works until %(date)s)", date=expires_on.isoformat()), err=True)


COMMANDS: list[click.Command] = [self_report_group]
