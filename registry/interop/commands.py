"""Command-line commands of the interoperability area (added to the `registry` command).

``registry dictionary --format redcap|csv|json [--language en|es] -o FILE``: the data
dictionary of every instrument and registry field, without data (no patient is read,
nothing is audited); labels and descriptions in English (default) or Spanish, names and
codes the same in both.

``registry fhir --patient STUDY_ID --user EMAIL -o FILE.json``: one patient's identified
outcomes as a FHIR R4 Bundle, for the clinic's own systems; only a clinical user of the
patient's site may have it (``registry.authz``), and it is audited like an export.
``registry fhir --questionnaire CODE -o FILE.json``: an instrument as a FHIR Questionnaire.

Heavy modules (pandas, the export pipeline) are imported when a command runs.
"""

from __future__ import annotations

import getpass
import shutil
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

import scoring
from registry.db import get_session, writing
from registry.research.language import DEFAULT_LANGUAGE, EXPORT_LANGUAGES, in_language

OUTPUT = click.Path(dir_okay=False, path_type=Path)


@click.command("dictionary")
@click.option("--format", "fmt", required=True, help="redcap, csv or json.")
@click.option("--language", type=click.Choice(list(EXPORT_LANGUAGES)),
              default=DEFAULT_LANGUAGE, show_default=True,
              help="Language of the labels and descriptions (names and codes are the same "
                   "in every language).")
@click.option("-o", "--output", required=True, type=OUTPUT, help="File to write.")
@with_appcontext
def dictionary_command(fmt: str, language: str, output: Path) -> None:
    """Write the data dictionary of every instrument and registry field (no data)."""
    from registry.interop import dictionaryfile

    if fmt not in dictionaryfile.FORMATS:
        raise click.BadParameter(_("unknown format %(code)s; use one of %(known)s.",
                                   code=repr(fmt), known=", ".join(dictionaryfile.FORMATS)),
                                 param_hint="--format")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registry-dictionary-") as folder:
        target = Path(folder) / "dictionary"
        with in_language(language):
            count = dictionaryfile.write(get_session(), fmt, target)
        shutil.move(str(target), output)
    click.echo(_("Wrote %(count)s variables (%(format)s) -> %(output)s", count=count,
                 format=_(dictionaryfile.FORMATS[fmt]), output=output))


@click.command("fhir")
@click.option("--patient", "study_id", default=None, help="Study ID of the patient.")
@click.option("--user", "email", default=None,
              help="E-mail of the clinical user the Bundle is for (required with --patient).")
@click.option("--questionnaire", "instrument", default=None,
              help=f"Instrument code: {', '.join(scoring.INSTRUMENTS)}.")
@click.option("-o", "--output", required=True, type=OUTPUT, help="File to write (.json).")
@with_appcontext
def fhir_command(study_id: str | None, email: str | None, instrument: str | None,
                 output: Path) -> None:
    """Write a patient's outcomes as a FHIR R4 Bundle, or an instrument as a Questionnaire."""
    from registry.interop import fhir, fhirpatient

    if (study_id is None) == (instrument is None):
        raise click.UsageError(_("Give either --patient STUDY_ID (with --user EMAIL) or "
                                 "--questionnaire CODE."))
    base = fhir.canonical_base(current_app.config.get("BASE_URL"))
    output.parent.mkdir(parents=True, exist_ok=True)
    if instrument is not None:
        if instrument not in scoring.INSTRUMENTS:
            raise click.BadParameter(_("unknown instrument %(code)s; use one of %(known)s.",
                                       code=repr(instrument),
                                       known=", ".join(scoring.INSTRUMENTS)),
                                     param_hint="--questionnaire")
        content = fhir.dumps(fhir.questionnaire(scoring.INSTRUMENTS[instrument], base))
        output.write_bytes(content)
        click.echo(_("Questionnaire %(code)s -> %(output)s", code=instrument, output=output))
        return
    if not email:
        raise click.UsageError(_("--patient needs --user EMAIL: the clinical user the "
                                 "identified data are for."))
    with writing():
        session = get_session()
        try:
            result = fhirpatient.patient_bundle(session, study_id or "", email, base,
                                                cli_user=getpass.getuser())
        except fhirpatient.Refused as error:
            raise click.ClickException(str(error)) from error
        with tempfile.TemporaryDirectory(prefix="registry-fhir-") as folder:
            target = Path(folder) / "bundle.json"
            target.write_bytes(result.content)
            # Recorded and committed before the file is handed over (as for exports).
            fhirpatient.record(session, result, output.name)
            session.commit()
            shutil.move(str(target), output)
    click.echo(_("Bundle for %(study_id)s: %(counts)s -> %(output)s", study_id=study_id,
                 counts=result.counts_text(), output=output))
    click.echo(f"SHA-256 {result.sha256}")


COMMANDS: list[click.Command] = [dictionary_command, fhir_command]
