"""De-identified exports of a cohort: tables, data dictionary, manifest, checksum, audit.

``export_cohort`` is the one entry point for the page and the command line: it reads the
cohort in a bounded number of queries (``dataset.load``), builds the tables with pandas,
writes them in the chosen format, and records an ``export`` audit row with the same facts
as the manifest plus the SHA-256 of the delivered file.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import platform
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow
import sqlalchemy
from sqlalchemy.orm import Session

import registry
import scoring
from registry.audit import capture
from registry.models import utcnow
from registry.research import cohorts, dataset, writers
from registry.research.dictionary import dictionary_frame
from registry.research.pseudonyms import Pseudonymiser
from registry.research.tables import Table, derive, long_table, patients_table
from registry.research.wide import adverse_events_table, items_table, wide_table
from registry.services import ValidationFailed
from scoring.change import DEFAULT_THRESHOLDS

EMPTY_MESSAGE = "The cohort has no patients: the tables hold their headers only."
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member times: no export date inside the zip
Progress = Callable[[int], None]
STORE_ABOVE = 64 * 1024 * 1024  # bytes of tables above which the zip is not compressed


@dataclass(frozen=True)
class ExportOptions:
    format: str = "csv"
    shape: str = "long"
    items: bool = False
    adverse_events: bool = False
    free_text: bool = False
    project: str | None = None

    def check(self, *, free_text_allowed: bool) -> None:
        errors: dict[str, str] = {}
        if self.format not in writers.FORMATS:
            errors["format"] = (f"Format: unknown format {self.format!r}; use one of "
                                f"{', '.join(writers.FORMATS)}.")
        if self.shape not in writers.SHAPES:
            errors["shape"] = (f"Shape: unknown shape {self.shape!r}; use long or wide.")
        if self.free_text and not free_text_allowed:
            errors["free_text"] = ("Free text: only an administrator may include free text, "
                                   "and only when EXPORT_ALLOW_FREE_TEXT is on.")
        if self.project is not None and not self.project.strip():
            errors["project"] = "Project: give the project's name for project-stable pseudonyms."
        if errors:
            raise ValidationFailed(errors)


@dataclass
class ExportResult:
    filename: str
    path: Path
    sha256: str
    manifest: dict[str, Any]
    message: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)


def software_versions() -> dict[str, str]:
    return {"registry": registry.__version__, "scoring": scoring.__version__,
            "python": platform.python_version(), "pandas": pd.__version__,
            "numpy": np.__version__, "pyarrow": pyarrow.__version__,
            "openpyxl": openpyxl.__version__, "sqlalchemy": sqlalchemy.__version__}


def build_tables(data: dataset.Dataset, pseudonyms: Pseudonymiser,
                 options: ExportOptions) -> list[Table]:
    ids = data.patients["patient_id"].tolist()
    pids = pseudonyms.many(ids)
    pid_of = dict(zip(ids, pids, strict=True))
    derived = derive(data)
    if options.shape == "long":
        tables = [patients_table(data, pids), long_table(data, derived, pids)]
    else:
        tables = [wide_table(data, derived, pids)]
    if options.adverse_events:
        tables.append(adverse_events_table(data, pid_of))
    if options.items:
        tables.append(items_table(data, pid_of, wide=options.shape == "wide", pids=pids))
    return tables


def manifest_for(*, actor: tuple[int | None, str | None], cohort_name: str,
                 definition: Mapping[str, Any], options: ExportOptions,
                 tables: list[Table], pseudonyms: Pseudonymiser, dialect: str,
                 message: str | None) -> dict[str, Any]:
    return {
        "export": "KOA outcomes registry de-identified export",
        "exported_at": utcnow().replace(microsecond=0).isoformat(),
        "exported_by": {"user_id": actor[0], "email": actor[1]},
        "cohort": {"name": cohort_name, "definition": dict(definition),
                   "description": cohorts.describe(definition)},
        "format": options.format,
        "shape": options.shape,
        "options": {"items": options.items, "adverse_events": options.adverse_events,
                    "free_text": options.free_text},
        "pseudonyms": {"mode": pseudonyms.mode, "project": pseudonyms.project,
                       "method": "P- + 12 hex digits of HMAC-SHA256(key, project, patient)"},
        "deidentification": [
            "no names, record numbers, contact details, birth dates or study IDs",
            "dates replaced by days since treatment (day 0)",
            f"age at treatment in whole years, {cohorts.AGE_CAP} and older shown as "
            f"{cohorts.AGE_CAP} with age_90_plus = true",
            "free text " + ("included (allowed by an administrator)" if options.free_text
                            else "left out"),
        ],
        "tables": {table.name: {"rows": len(table.frame), "columns": len(table.frame.columns)}
                   for table in tables},
        "scoring": {"version": scoring.__version__,
                    "instruments": {code: inst.version
                                    for code, inst in scoring.INSTRUMENTS.items()},
                    "thresholds": [{"score": t.score_code, "kind": t.kind,
                                    "absolute": t.absolute, "relative_percent":
                                    t.relative_percent, "citation": t.citation}
                                   for t in DEFAULT_THRESHOLDS]},
        "software": software_versions(),
        "database": dialect,
        "message": message,
    }


def _write_zip(tables: list[Table], dictionary: pd.DataFrame, manifest: dict[str, Any],
               options: ExportOptions, folder: Path, target: Path,
               progress: Progress | None) -> None:
    suffix = {"csv": "csv", "parquet": "parquet", "dta": "dta"}[options.format]
    files: list[tuple[str, Path]] = []
    for table in tables:
        path = folder / f"{table.name}.{suffix}"
        if options.format == "csv":
            writers.write_csv(table, path, progress)
        elif options.format == "parquet":
            writers.write_parquet(table, path, progress)
        else:
            names = writers.write_stata(table, path, progress)
            dictionary.loc[dictionary["table"] == table.name, "stata_name"] = (
                dictionary.loc[dictionary["table"] == table.name, "column"].map(names)
                .fillna(""))
        manifest["tables"][table.name]["file"] = path.name
        manifest["tables"][table.name]["sha256"] = writers.sha256_file(path)
        files.append((path.name, path))
    dictionary_path = folder / "data_dictionary.csv"
    dictionary.to_csv(dictionary_path, index=False)
    manifest["data_dictionary"] = {"file": dictionary_path.name,
                                   "sha256": writers.sha256_file(dictionary_path)}
    files.append((dictionary_path.name, dictionary_path))
    total = sum(path.stat().st_size for _name, path in files)
    # Parquet is compressed already; deflating a very large CSV would take longer than
    # writing it, so large tables are stored as they are (the zip still holds them together).
    compression = (zipfile.ZIP_STORED if options.format == "parquet" or total > STORE_ABOVE
                   else zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(target, "w", compression=compression, compresslevel=1) as archive:
        for name, path in files:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.compress_type = compression
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as sink:
                for block in iter(lambda source=source: source.read(1 << 20), b""):
                    sink.write(block)
        info = zipfile.ZipInfo("manifest.json", ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, json.dumps(manifest, indent=2, ensure_ascii=False))


def export_cohort(session: Session, *, cohort_name: str, definition: Mapping[str, Any],
                  options: ExportOptions, pseudonym_key: str | bytes | None,
                  free_text_allowed: bool, target: Path,
                  progress: Progress | None = None) -> ExportResult:
    """Write the cohort's de-identified export to ``target`` and audit it."""
    options.check(free_text_allowed=free_text_allowed)
    pseudonyms = Pseudonymiser(pseudonym_key, options.project)
    cohort = cohorts.cohort_select(session, definition)
    data = dataset.load(session, cohort, items=options.items,
                        adverse_events=options.adverse_events, free_text=options.free_text,
                        progress=progress)
    tables = build_tables(data, pseudonyms, options)
    message = EMPTY_MESSAGE if data.patients.empty else None
    dictionary = dictionary_frame(spec for table in tables for spec in table.specs)
    actor = session.info.get(capture.ACTOR, (None, None))
    manifest = manifest_for(actor=actor, cohort_name=cohort_name, definition=definition,
                            options=options, tables=tables, pseudonyms=pseudonyms,
                            dialect=session.get_bind().dialect.name, message=message)
    with tempfile.TemporaryDirectory(prefix="registry-export-") as folder:
        if options.format == "xlsx":
            for table in tables:
                manifest["tables"][table.name]["sheet"] = table.name[:31]
                manifest["tables"][table.name]["content_sha256"] = hashlib.sha256(
                    table.frame.to_csv(index=False).encode()).hexdigest()
            writers.write_excel(tables, dictionary, manifest, target, progress)
        else:
            _write_zip(tables, dictionary, manifest, options, Path(folder), target, progress)
    checksum = writers.sha256_file(target)
    row_counts = {table.name: len(table.frame) for table in tables}
    stamp = manifest["exported_at"][:10].replace("-", "")
    extension = "xlsx" if options.format == "xlsx" else "zip"
    filename = f"registry-export-{_slug(cohort_name)}-{options.shape}-{options.format}-" \
               f"{stamp}.{extension}"
    capture.record(session, "export", entity_type="cohort", entity_id=cohort_name,
                   new_value={"cohort": cohort_name, "definition": dict(definition),
                              "format": options.format, "shape": options.shape,
                              "options": manifest["options"], "pseudonyms":
                              manifest["pseudonyms"], "row_counts": row_counts,
                              "tables": manifest["tables"], "file": filename,
                              "sha256": checksum, "exported_at": manifest["exported_at"]})
    return ExportResult(filename, target, checksum, manifest, message, row_counts)


def _slug(text: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:40] or "cohort"


def cli_actor() -> str:
    """The audit actor of a command-line export: the operating-system user."""
    return f"cli:{getpass.getuser()}"
