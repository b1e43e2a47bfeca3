"""Command-line commands of the research area (added to the `registry` command).

``registry export --cohort NAME|--all --format csv|xlsx|parquet|dta|sav|xpt|odm --shape
long|wide [--items] [--adverse-events] [--project NAME] [--thresholds SET] [--language
en|es] -o PATH``: the same de-identified export and the same audit row as the web page;
the actor is the operating-system user ("cli:<user>").  ``--thresholds`` picks the set of
MCII / MIC / PASS thresholds (default: the study's, i.e. the default protocol's).  Every
zip also holds syntax files (R, Stata, SPSS, SAS) that read its tables with their labels.
``--language`` writes the data dictionary, value and variable labels and syntax files in
English (default) or Spanish; the data (names, codes, values) are the same in both.

The command is registered whenever the app is created, also in web workers, so the export
machinery (pandas, pyarrow) is imported when the command runs, not with this module.
"""

from __future__ import annotations

import getpass
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from registry import audit_capture as capture
from registry.db import get_session, writing
from registry.research import cohorts, options
from registry.research.language import DEFAULT_LANGUAGE, EXPORT_LANGUAGES
from registry.research.options import ExportOptions
from registry.services import ValidationFailed

if TYPE_CHECKING:  # annotations only: export loads pandas
    from registry.research.export import ExportResult


@click.command("export")
@click.option("--cohort", "cohort_name", help="Name of a saved cohort.")
@click.option("--all", "all_patients", is_flag=True, help="Every treated patient.")
@click.option("--format", "fmt", required=True,
              help="One of: " + "; ".join(f"{code} ({label})"
                                          for code, label in options.FORMATS.items()) + ".")
@click.option("--shape", default="long", show_default=True, help="long or wide.")
@click.option("--items", is_flag=True, help="Include item-level answers.")
@click.option("--adverse-events", is_flag=True, help="Include the adverse-events table.")
@click.option("--project", default=None,
              help="Project name for project-stable pseudonyms (default: new per export).")
@click.option("--thresholds", default=None,
              help="Threshold set for the MCII / MIC / PASS columns (default: the study's).")
@click.option("--language", type=click.Choice(list(EXPORT_LANGUAGES)),
              default=DEFAULT_LANGUAGE, show_default=True,
              help="Language of the data dictionary, the labels and the syntax files "
                   "(the data are the same in every language).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (.zip, or .xlsx for Excel).")
@with_appcontext
def export_command(cohort_name: str | None, all_patients: bool, fmt: str, shape: str,
                   items: bool, adverse_events: bool, project: str | None,
                   thresholds: str | None, language: str, output: Path) -> None:
    """Write a de-identified export of a cohort (audited like the web page)."""
    from registry.research.export import record_export  # pandas: see the module doc
    from registry.research.writers import ExportTooLarge

    if bool(cohort_name) == all_patients:
        raise click.UsageError(_("Give either --cohort NAME or --all."))
    if fmt not in options.FORMATS:
        raise click.BadParameter(_("unknown format %(code)s; use one of %(known)s.",
                                   code=repr(fmt), known=", ".join(options.FORMATS)),
                                 param_hint="--format")
    if shape not in options.SHAPES:
        raise click.BadParameter(_("unknown shape %(code)s; use long or wide.",
                                   code=repr(shape)), param_hint="--shape")
    if thresholds is not None and (error := options.threshold_set_error(thresholds)):
        raise click.BadParameter(error.removeprefix("Thresholds: "), param_hint="--thresholds")
    with writing():
        session = get_session()
        capture.set_actor(session, None, f"cli:{getpass.getuser()}")
        if all_patients:
            name, definition, key = cohorts.ALL_PATIENTS, {}, "all"
        else:
            saved = cohorts.find_cohort(session, cohort_name or "")
            if saved is None:
                known = ", ".join(c.name for c in cohorts.list_cohorts(session)) \
                    or _("none saved")
                raise click.ClickException(_("Unknown cohort %(name)s (known: %(known)s).",
                                             name=repr(cohort_name), known=known))
            try:
                definition = cohorts.parse_definition(session, saved.definition or {},
                                                      stored=True)
            except ValidationFailed as failed:
                raise click.ClickException(_("Cohort %(name)s: %(problem)s",
                                             name=repr(saved.name),
                                             problem=failed)) from failed
            name, key = saved.name, str(saved.id)
        total = cohorts.count_patients(session, definition)
        chosen = ExportOptions(format=fmt, shape=shape, items=items,
                               adverse_events=adverse_events, project=project,
                               thresholds=thresholds, language=language)
        with tempfile.TemporaryDirectory(prefix="registry-cli-export-") as folder:
            target = Path(folder) / "export"
            try:
                result = _run(session, name, definition, chosen, target, total)
            except ValidationFailed as failed:
                raise click.ClickException(str(failed)) from failed
            except ExportTooLarge as error:
                raise click.ClickException(str(error)) from error
            # Recorded and committed before the file is handed over: no export leaves
            # without its audit row (a failed move leaves a row and no file, the safe way).
            record_export(session, result, key)
            session.commit()
            output.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(target), output)
    tables = ", ".join(_("%(table)s %(rows)s rows", table=table, rows=rows)
                       for table, rows in result.row_counts.items())
    click.echo(_("Exported %(name)s: %(total)s patients, %(tables)s -> %(output)s",
                 name=repr(name), total=total, tables=tables, output=output))
    click.echo(f"SHA-256 {result.sha256}")
    if result.message:
        click.echo(_(result.message))


def _run(session: Session, name: str, definition: dict[str, Any], chosen: ExportOptions,
         target: Path, total: int) -> ExportResult:
    """The export, with a progress bar (rows read and written) when stderr is a terminal."""
    from registry.research.export import export_cohort

    def run(progress: Callable[[int], None] | None = None) -> ExportResult:
        return export_cohort(session, cohort_name=name, definition=definition, options=chosen,
                             pseudonym_key=current_app.config.get("PSEUDONYM_KEY"),
                             free_text_allowed=False, target=target, progress=progress)

    if not sys.stderr.isatty():
        return run()
    length = max(total, 1) * 200
    with click.progressbar(length=length, label=_("Exporting"), file=sys.stderr,
                           show_pos=False) as bar:
        result = run(bar.update)
        bar.update(length)
        return result


COMMANDS: list[click.Command] = [export_command]
