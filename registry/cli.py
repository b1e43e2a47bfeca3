"""The ``registry`` command: Flask's commands plus the registry's own.

``registry run``, ``registry shell`` and ``registry routes`` work as in ``flask``.
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import gettext as _

from registry import create_app, migrate
from registry.admin.services import create_site
from registry.audit_chain import verify_audit_chain
from registry.auth.services import AccountError, create_user
from registry.clinical.commands import COMMANDS as CLINICAL_COMMANDS
from registry.db import get_session, writing
from registry.demo import DemoRefused, load_demo
from registry.followup.commands import COMMANDS as FOLLOWUP_COMMANDS
from registry.interop.commands import COMMANDS as INTEROP_COMMANDS
from registry.lots.commands import COMMANDS as LOT_COMMANDS
from registry.maintenance.commands import COMMANDS as MAINTENANCE_COMMANDS
from registry.research.commands import COMMANDS as RESEARCH_COMMANDS
from registry.selfreport.commands import COMMANDS as SELF_REPORT_COMMANDS
from registry.textpack_commands import COMMANDS as TEXT_PACK_COMMANDS


def _create_app() -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """The KOA outcomes registry."""


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create the database or upgrade it to the current schema."""
    migrate.upgrade(current_app.config["DATABASE_URL"])
    current_app.extensions.pop("registry.schema_ok", None)
    click.echo(_("Database is at revision %(revision)s.", revision=migrate.head_revision()))


@click.command("create-site")
@click.option("--code", required=True, help="2–8 capital letters or digits (study ID prefix).")
@click.option("--name", required=True)
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Oslo.")
@with_appcontext
def create_site_command(code: str, name: str, timezone: str | None) -> None:
    """Create a site."""
    with writing():
        session = get_session()
        try:
            site = create_site(session, code=code, name=name, timezone=timezone)
        except AccountError as error:
            raise click.ClickException(str(error)) from error
        session.commit()
    click.echo(_("Created site %(code)s.", code=site.code))


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", "full_name", default="", help="Full name (default: the e-mail).")
@click.option("--role", required=True,
              type=click.Choice(["clinician", "coordinator", "researcher", "admin"]))
@click.option("--site", "sites", multiple=True, help="Site code; repeat for several sites.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user_command(email: str, full_name: str, role: str, sites: tuple[str, ...],
                        password_stdin: bool) -> None:
    """Create a user account (the first admin is created this way)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    with writing():
        session = get_session()
        try:
            user = create_user(session, email=email, full_name=full_name, role=role,
                               password=password, site_codes=list(sites))
        except AccountError as error:
            raise click.ClickException(str(error)) from error
        session.commit()
    click.echo(_("Created %(role)s %(email)s.", role=user.role, email=user.email))


@click.group("audit")
def audit_group() -> None:
    """Audit trail commands."""


@audit_group.command("verify")
@with_appcontext
def audit_verify_command() -> None:
    """Check the audit trail's hash chain; exit 1 at the first broken row."""
    verify_audit_chain(get_session().connection(),
                       lambda result: f" ({result.rows_checked} rows before it are intact).")


@click.command("score", context_settings={"ignore_unknown_options": True,
                                          "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def score_command(args: tuple[str, ...]) -> None:
    """Score a CSV of questionnaire answers (same as ``python -m scoring``)."""
    from scoring.cli import main as scoring_main  # pandas: not loaded by the web workers

    sys.exit(scoring_main(list(args)))


@click.command("demo")
@click.option("--seed", default=20261124, show_default=True, help="Random seed.")
@click.option("--patients", default=200, show_default=True)
@with_appcontext
def demo_command(seed: int, patients: int) -> None:
    """Load a synthetic demo cohort with demo users into an empty database; a demo
    database (it carries the demo marker) is served as it is; any other database holding
    data is refused."""
    with writing():
        session = get_session()
        try:
            result = load_demo(session, seed=seed, patients=patients)
        except DemoRefused as error:
            raise click.ClickException(str(error)) from error
        session.commit()
    if result.loaded:
        click.echo(_("Demo cohort loaded. Demo sign-ins (e-mail / password):"))
    else:
        click.echo(_("This is a demo database (%(marker)s): serving it as it is, with what "
                     "was added since. Start over with `make clean-demo` then `make demo`.",
                     marker=result.marker))
        click.echo(_("Demo sign-ins (e-mail / password; a password changed since is not "
                     "shown):"))
    for email, role, password in result.logins:
        click.echo(f"  {role:<12} {email:<32} {password}")


def register_commands(app: Flask) -> None:
    """Add the registry's commands to the app's ``flask``/``registry`` command group."""
    for command in (init_command, create_site_command, create_user_command, audit_group,
                    score_command, demo_command, *CLINICAL_COMMANDS, *FOLLOWUP_COMMANDS,
                    *RESEARCH_COMMANDS, *INTEROP_COMMANDS, *MAINTENANCE_COMMANDS,
                    *TEXT_PACK_COMMANDS, *SELF_REPORT_COMMANDS, *LOT_COMMANDS):
        app.cli.add_command(command)
