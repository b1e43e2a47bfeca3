"""``registry text-pack``: load instrument text packs, list what is there, load the demo's.

A site with a licence for KOOS or WOMAC loads its texts once per language::

    registry text-pack load koos.es.json koos.en.json
    registry text-pack list

Each file is validated against the catalogue first; a file with problems is refused with
every problem listed, and nothing of that command is saved.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _

from registry import audit_capture as capture
from registry.db import get_session, writing
from registry.services import ValidationFailed
from registry.textpacks import PackError, load_demo_packs, load_pack, pack_statuses
from registry.vocabularies import N_

# Shown translated (``|label`` on the admin page, gettext here).
STATE_LABELS = {"shipped": N_("shipped (registry wording)"), "loaded": N_("loaded"),
                "demo": N_("demo wording"), "invalid": N_("invalid — not offered for self-report"),
                "missing": N_("missing — not offered for self-report")}


def read_pack_file(path: Path) -> object:
    """A pack file's JSON; ClickException naming the file when it is not UTF-8 JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise click.ClickException(_("%(path)s: not UTF-8 text (%(reason)s)", path=path,
                                     reason=error.reason)) from error
    except json.JSONDecodeError as error:
        raise click.ClickException(_(
            "%(path)s: not valid JSON (line %(line)s, column %(column)s: %(problem)s)",
            path=path, line=error.lineno, column=error.colno, problem=error.msg)) from error
    except OSError as error:
        raise click.ClickException(f"{path}: {error.strerror}") from error


@click.group("text-pack")
def text_pack_group() -> None:
    """Instrument texts (text packs) per language."""


@text_pack_group.command("load")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def load_command(files: tuple[Path, ...]) -> None:
    """Validate and load text pack files (all or none), replacing earlier packs."""
    with writing():
        session = get_session()
        capture.set_actor(session, None, f"cli:{getpass.getuser()}")
        loaded = []
        for path in files:
            data = read_pack_file(path)
            try:
                row = load_pack(session, data, source_name=path.name, user_id=None)
            except PackError as error:
                problems = "\n".join(f"  {problem}" for problem in error.problems)
                raise click.ClickException(_("%(path)s: not loaded; nothing was saved.",
                                             path=path) + f"\n{problems}") from error
            except ValidationFailed as error:
                raise click.ClickException(_("%(path)s: %(problem)s Nothing was saved.",
                                             path=path, problem=error.errors["file"])
                                           ) from error
            loaded.append(_("Loaded %(instrument)s (%(language)s) from %(file)s.",
                            instrument=row.instrument, language=row.language, file=path.name))
        session.commit()
    for line in loaded:
        click.echo(line)


@text_pack_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every instrument in every language: shipped, loaded, demo or missing."""
    for status in pack_statuses(get_session()):
        detail = f" — {status.source}" if status.state in {"loaded", "demo", "invalid"} else ""
        click.echo(f"{status.instrument:<8} {status.language:<3} "
                   f"{_(STATE_LABELS[status.state])}{detail}")


@text_pack_group.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo packs (the catalogue's short labels, marked as demo wording)."""
    with writing():
        session = get_session()
        capture.set_actor(session, None, f"cli:{getpass.getuser()}")
        rows = load_demo_packs(session, user_id=None)
        session.commit()
    click.echo(_("Loaded %(num)d demo packs: %(packs)s.", num=len(rows),
                 packs=", ".join(f"{row.instrument} ({row.language})" for row in rows)))


COMMANDS: list[click.Command] = [text_pack_group]
