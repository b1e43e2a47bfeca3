"""``registry lot trace LOT_NUMBER [--product NAME]``: who received a lot, for the
command line (every site: it is run by the operator on the server, like an admin).

Prints each matching lot (a number may exist for several products: ``--product`` picks
one) with its status, then one line per patient: study ID, site, treatment date, adverse
events and serious ones.  The lookup is audited like the lot page.
"""

from __future__ import annotations

import getpass

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from registry import audit_capture as capture
from registry.db import get_session, writing
from registry.vocabularies import LOT_STATUSES


@click.group("lot")
def lot_group() -> None:
    """Product lots: trace a lot to the patients who received it."""


@lot_group.command("trace")
@click.argument("lot_number")
@click.option("--product", "product_name", default=None,
              help="Product name, when the lot number exists for several products.")
@with_appcontext
def trace_command(lot_number: str, product_name: str | None) -> None:
    """Print every patient treated with LOT_NUMBER, with their adverse events."""
    from registry.lots.trace import find_lots, trace

    with writing():
        session = get_session()
        lots = find_lots(session, lot_number, product_name)
        if not lots:
            raise click.ClickException(_("No lot %(lot)s%(product)s is registered.",
                                         lot=lot_number, product=(
                                             _(" of %(name)s", name=product_name)
                                             if product_name else "")))
        capture.set_actor(session, None, f"cli:{getpass.getuser()}")
        for lot in lots:
            rows = trace(session, lot, None)
            capture.record(session, "trace_viewed", entity_type="product_lot",
                           entity_id=lot.id, new_value={"patients": len(rows), "via": "cli"})
            click.echo(_("%(product)s lot %(lot)s: %(status)s, %(count)s patient(s)",
                         product=lot.product.name, lot=lot.lot_number,
                         status=_(LOT_STATUSES[lot.release_status]).lower(),
                         count=len(rows)))
            for row in rows:
                click.echo(f"  {row.study_id:<14} {row.site_code:<6} "
                           f"{row.treatment_date.isoformat()}  "
                           + _("%(events)s adverse event(s), %(serious)s serious",
                               events=row.event_count, serious=row.serious_count))


COMMANDS: list[click.Command] = [lot_group]
