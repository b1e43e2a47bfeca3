"""De-identified exports of a cohort: tables, data dictionary, manifest, checksum, audit.

``export_cohort`` is the one entry point for the page and the command line: it reads the
cohort in a bounded number of queries (``dataset.load``; the long table's score rows are
streamed in chunks of whole patients by ``scorestream`` while they are written), builds the
tables with pandas / Arrow and writes them in the chosen format.  The manifest is made once
the tables are written (it holds their row counts and SHA-256).  ``record_export`` then
writes the ``export`` audit row (the manifest's facts plus the SHA-256 of the delivered
file): the caller records it only once the file is ready to be delivered (response and
headers built, or the file in place), so a failed delivery records nothing.
"""

from __future__ import annotations

import hashlib
import platform
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow
import pyreadstat
import sqlalchemy
from sqlalchemy.orm import Session

import registry
import scoring
from registry import audit_capture as capture
from registry.db import plan_serially
from registry.files import sha256_file
from registry.models import utcnow
from registry.research import (
    cohorts,
    dataset,
    scorestream,
    statfiles,
    statplan,
    studyfacts,
    syntax,
    writers,
)
from registry.research.dictionary import dictionary_frame
from registry.research.language import DEFAULT_LANGUAGE, in_language
from registry.research.longtable import LongTable
from registry.research.options import ExportOptions, resolve_threshold_set
from registry.research.pseudonyms import Pseudonymiser
from registry.research.scorestream import ScoreChunk, empty_chunk, select_rows
from registry.research.tables import Table, derive, patients_table
from registry.research.visitstable import visits_table
from registry.research.wide import adverse_events_table, items_table, wide_table
from registry.spreadsheet import escape_frame
from registry.vocabularies import N_

# English in the manifest and the response's header; translated where shown (N_).
EMPTY_MESSAGE = N_("The cohort has no patients: the tables hold their headers only.")
Progress = Callable[[int], None]


@dataclass
class ExportResult:
    filename: str
    path: Path
    sha256: str
    manifest: dict[str, Any]
    message: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)  # the export audit row's facts


def software_versions() -> dict[str, str]:
    return {"registry": registry.__version__, "scoring": scoring.__version__,
            "python": platform.python_version(), "pandas": pd.__version__,
            "numpy": np.__version__, "pyarrow": pyarrow.__version__,
            "openpyxl": openpyxl.__version__, "sqlalchemy": sqlalchemy.__version__,
            "pyreadstat": pyreadstat.__version__}


def build_tables(data: dataset.Dataset, pseudonyms: Pseudonymiser, options: ExportOptions,
                 scores: Callable[[], Iterator[ScoreChunk]],
                 thresholds: scoring.ThresholdSet) -> list[Table]:
    """The export's tables; the long table reads its rows from ``scores`` while written;
    MCII / MIC / PASS judged by the ``thresholds`` set."""
    ids = data.patients["patient_id"].tolist()
    pids = pseudonyms.many(ids)
    pid_of = dict(zip(ids, pids, strict=True))
    data.lot_pids = pseudonyms.lots(data.patients["lot_key"])
    tables: list[Table]
    if options.shape == "long":
        tables = [patients_table(data, pids),
                  LongTable("outcomes_long", data.timepoints, data.score_codes, pids, scores,
                            thresholds)]
    else:
        tables = [wide_table(data, derive(data, thresholds.thresholds), pids, thresholds),
                  unscheduled_table(data, pids, thresholds)]
    tables.append(visits_table(data, pids))
    if options.adverse_events:
        tables.append(adverse_events_table(data, pid_of))
    if options.items:
        tables.append(items_table(data, pid_of, wide=options.shape == "wide", pids=pids))
    return tables


def unscheduled_table(data: dataset.Dataset, pids: list[str],
                      thresholds: scoring.ThresholdSet) -> LongTable:
    """``outcomes_unscheduled``: the wide export's unscheduled visits, in the long table's
    columns (a wide row has no place for a varying number of visits)."""
    n_tp = len(data.timepoints)
    chunk = data.scores.chunk or empty_chunk()
    unscheduled = chunk.timepoint == n_tp
    with_extra = np.zeros(max(chunk.stop, 1), bool)
    with_extra[chunk.position[unscheduled]] = True
    baseline = np.array([tp.is_baseline for tp in data.timepoints] + [False], bool)
    # The patients' baseline rows come along: a change is computed from them.
    rows = select_rows(chunk, unscheduled | (baseline[chunk.timepoint]
                                             & with_extra[chunk.position]))
    return LongTable("outcomes_unscheduled", data.timepoints, data.score_codes, pids,
                     lambda: iter([rows]), thresholds,
                     keep=lambda piece: piece.timepoint == n_tp)


def thresholds_facts(chosen: scoring.ThresholdSet) -> dict[str, Any]:
    """The manifest's record of the threshold set: code, version, label, note and every
    threshold with its citation and note."""
    return {"code": chosen.code, "version": chosen.version, "label": chosen.label,
            "note": chosen.note,
            "thresholds": [{"score": t.score_code, "kind": t.kind, "absolute": t.absolute,
                            "relative_percent": t.relative_percent, "citation": t.citation,
                            "note": t.note}
                           for t in chosen.thresholds]}


def manifest_for(*, actor: tuple[int | None, str | None], cohort_name: str,
                 definition: Mapping[str, Any], options: ExportOptions,
                 tables: list[Table], pseudonyms: Pseudonymiser, dialect: str,
                 message: str | None, thresholds: scoring.ThresholdSet,
                 data: dataset.Dataset | None = None) -> dict[str, Any]:
    """The manifest's facts (the tables' files and checksums are added once written);
    ``data``: the loaded cohort, for its protocols and the visits' status date."""
    return {
        "export": "KOA outcomes registry de-identified export",
        "exported_at": utcnow().replace(microsecond=0).isoformat(),
        "exported_by": {"user_id": actor[0], "email": actor[1]},
        "cohort": {"name": cohort_name, "definition": dict(definition),
                   "description": cohorts.describe(definition)},
        "format": options.format,
        "shape": options.shape,
        # The language of the dictionary, the labels and the syntax files (data: codes).
        "language": options.language,
        "options": {"items": options.items, "adverse_events": options.adverse_events,
                    "free_text": options.free_text},
        "pseudonyms": {"mode": pseudonyms.mode, "project": pseudonyms.project,
                       "method": "P- + 12 hex digits of HMAC-SHA256(key, project, patient)"},
        "deidentification": [
            "no names, record numbers, contact details, birth dates or study IDs",
            "dates replaced by days since treatment (day 0)",
            "lot numbers replaced by lot pseudonyms (L- + 12 hex digits of "
            "HMAC-SHA256(key, project, product, lot number), the patients' key); "
            "donor codes and the patient an autologous lot was made for left out",
            f"age at treatment in whole years, {cohorts.AGE_CAP} and older shown as "
            f"{cohorts.AGE_CAP} with age_90_plus = true",
            "free text " + ("included (allowed by an administrator)" if options.free_text
                            else "left out"),
        ],
        "text_cells": ("a text cell beginning with =, +, -, @, tab or carriage return has a "
                       "leading ' so that spreadsheets do not run it as a formula"
                       if options.format in ("csv", "xlsx") else "text exactly as entered"),
        "tables": {table.name: {"rows": table.rows, "columns": len(table.column_names)}
                   for table in tables},
        "scoring": {"version": scoring.__version__,
                    "instruments": {code: inst.version
                                    for code, inst in scoring.INSTRUMENTS.items()},
                    "threshold_set": thresholds_facts(thresholds)},
        "protocol": studyfacts.protocol_facts(data.protocols if data else []),
        "visits": studyfacts.visit_facts(),
        "missing_values": studyfacts.missing_facts(),
        "responder": studyfacts.responder_facts(),
        "encodings": studyfacts.encoding_facts(options.format),
        "software": software_versions(),
        "database": dialect,
        "message": message,
    }


def _write_zip(tables: list[Table], dictionary: pd.DataFrame, options: ExportOptions,
               folder: Path, target: Path, progress: Progress | None,
               manifest: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Tables, data dictionary and manifest (made once the tables are written) in a zip;
    returns the manifest and the zip's SHA-256."""
    suffix = options.format  # csv, parquet, dta, sav or xpt: the tables' file suffix
    # Parquet is compressed already; deflating a very large CSV would take longer than
    # writing it, so large tables are stored as they are (the zip still holds them together).
    zipped = writers.ZipAssembler(target, folder,
                                  stored=True if options.format == "parquet" else None)
    files: dict[str, str] = {}
    plans: dict[str, statplan.TablePlan] = {}  # how each table is stored (names, labels)
    try:
        for table in tables:
            name = f"{table.name}.{suffix}"
            if options.format in statfiles.STAT_FORMATS:
                path = folder / name
                plans[table.name] = statfiles.write_table(table, path, options.format,
                                                          progress)
                zipped.add_file(name, path)
                path.unlink()
            else:
                write = writers.write_csv if options.format == "csv" else writers.write_parquet
                with zipped.member(name) as sink:
                    write(table, sink, progress)
            files[table.name] = name
    except BaseException:
        zipped.abort()
        raise
    table_plans = statplan.plans_of(tables, plans)
    statplan.name_dictionary(dictionary, table_plans)
    dictionary_path = folder / "data_dictionary.csv"
    # UTF-8 with a byte-order mark, like the CSV tables: Excel then reads "2–6 weeks".
    escape_frame(dictionary).to_csv(dictionary_path, index=False, encoding="utf-8-sig")
    zipped.add_file(dictionary_path.name, dictionary_path)
    scripts = syntax.scripts(table_plans, files, options.format)
    for script_name, text in scripts.items():
        with zipped.member(script_name) as sink:
            sink.write(text.encode("utf-8"))
    facts = manifest()
    for table in tables:
        facts["tables"][table.name]["file"] = files[table.name]
        facts["tables"][table.name]["sha256"] = zipped.digests[files[table.name]]
    facts["data_dictionary"] = {"file": dictionary_path.name,
                                "sha256": zipped.digests[dictionary_path.name]}
    facts["syntax_files"] = {language: {"file": script_name,
                                        "sha256": zipped.digests[script_name]}
                             for language, script_name in syntax.languages(scripts).items()}
    zipped.close(facts)
    return facts, zipped.sha256


def export_cohort(session: Session, *, cohort_name: str, definition: Mapping[str, Any],
                  options: ExportOptions, pseudonym_key: str | bytes | None,
                  free_text_allowed: bool, target: Path,
                  progress: Progress | None = None) -> ExportResult:
    """Write the cohort's de-identified export to ``target``; audit it with
    ``record_export`` once it is delivered.  Its words (dictionary, labels, syntax files)
    are in ``options.language``; its data are the same in every language."""
    options.check(free_text_allowed=free_text_allowed)
    if options.format == "odm":  # ODM declares its texts English (xml:lang="en")
        options = replace(options, language=DEFAULT_LANGUAGE)
    plan_serially(session.connection())  # PostgreSQL: no parallel workers for its reads
    with in_language(options.language):
        return _export(session, cohort_name=cohort_name, definition=definition,
                       options=options, pseudonym_key=pseudonym_key, target=target,
                       progress=progress)


def _export(session: Session, *, cohort_name: str, definition: Mapping[str, Any],
            options: ExportOptions, pseudonym_key: str | bytes | None, target: Path,
            progress: Progress | None) -> ExportResult:
    if options.format == "odm":  # ODM holds one event per visit: the long tables
        options = replace(options, shape="long")
    thresholds = resolve_threshold_set(session, options.thresholds)
    progress = writers.locked(progress)  # reports come from the reading and writing threads
    pseudonyms = Pseudonymiser(pseudonym_key, options.project)
    cohort = cohorts.cohort_select(session, definition)
    long_shape = options.shape == "long"
    # On SQLite a large cohort's scores and visits are read by child processes while
    # the patients load (``sqlitescan``).
    scan = scorestream.start_scan(session, cohort, list(scoring.SCORES))
    data = dataset.load(session, cohort, items=options.items,
                        adverse_events=options.adverse_events, free_text=options.free_text,
                        progress=progress, scores=not long_shape, scan=scan)

    def score_chunks() -> Iterator[ScoreChunk]:
        return scorestream.chunks(session, cohort, data.patients["patient_id"].to_numpy(),
                                  data.score_codes, data.timepoint_of, len(data.timepoints),
                                  progress, data.visits, scan)

    tables = build_tables(data, pseudonyms, options, score_chunks, thresholds)
    message = EMPTY_MESSAGE if data.patients.empty else None
    dictionary = dictionary_frame(spec for table in tables for spec in table.specs)
    actor = session.info.get(capture.ACTOR, (None, None))

    def manifest_now() -> dict[str, Any]:
        return manifest_for(actor=actor, cohort_name=cohort_name, definition=definition,
                            options=options, tables=tables, pseudonyms=pseudonyms,
                            dialect=session.get_bind().dialect.name, message=message,
                            thresholds=thresholds, data=data)

    checksum = None  # the delivered file's SHA-256, when taken as it was written
    with tempfile.TemporaryDirectory(prefix="registry-export-") as folder:
        if options.format == "odm":
            from registry.interop.odmexport import write_export  # one XML file

            manifest, checksum = write_export(data, tables, target, manifest_now, progress,
                                              definition)
        elif options.format == "xlsx":
            writers.check_excel_size([(table.name, _rows_before_reading(table, data),
                                       len(table.column_names)) for table in tables])
            for table in tables:
                table.frame  # noqa: B018 - read the rows (and count them) before the manifest
            statplan.name_dictionary(dictionary, statplan.plans_of(tables, {}))
            manifest = manifest_now()
            for table in tables:
                manifest["tables"][table.name]["sheet"] = table.name[:31]
                manifest["tables"][table.name]["content_sha256"] = hashlib.sha256(
                    table.frame.to_csv(index=False).encode()).hexdigest()
            writers.write_excel(tables, dictionary, manifest, target, progress)
        else:
            manifest, checksum = _write_zip(tables, dictionary, options, Path(folder), target,
                                            progress, manifest_now)
    checksum = checksum or sha256_file(target)
    row_counts = {table.name: table.rows for table in tables}
    stamp = manifest["exported_at"][:10].replace("-", "")
    extension = {"xlsx": "xlsx", "odm": "xml"}.get(options.format, "zip")
    filename = f"registry-export-{_slug(cohort_name)}-{options.shape}-{options.format}-" \
               f"{stamp}.{extension}"
    audit = {"cohort": cohort_name, "definition": dict(definition),
             "format": options.format, "shape": options.shape,
             "language": options.language, "options": manifest["options"],
             "pseudonyms": manifest["pseudonyms"],
             "threshold_set": {"code": thresholds.code, "version": thresholds.version},
             "row_counts": row_counts, "tables": manifest["tables"], "file": filename,
             "sha256": checksum, "exported_at": manifest["exported_at"]}
    return ExportResult(filename, target, checksum, manifest, message, row_counts, audit)


def _rows_before_reading(table: Table, data: dataset.Dataset) -> int:
    """A table's rows; for the long table the rows its visits' expected scores give at
    least, without reading them."""
    if isinstance(table, LongTable) and table.keep is None and data.visits is not None:
        return int(data.visits.grid_counts().sum())
    return len(table.frame)


def record_export(session: Session, result: ExportResult, cohort_key: str) -> None:
    """The ``export`` audit row of a delivered export (same transaction as the delivery).

    The record id is the cohort's key (its id, or ``all``): a cohort's name can be longer
    than the trail's id column; the name is in the row's facts.
    """
    capture.record(session, "export", entity_type="cohort", entity_id=cohort_key,
                   new_value=result.audit)


def _slug(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:40] or "cohort"

