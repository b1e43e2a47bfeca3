"""The data dictionary without data: the export's column specs, as CSV or JSON.

``export_specs`` builds the tables of a long-format export with item answers and adverse
events for a cohort of no patients (the export pipeline itself: ``dataset.load`` and
``export.build_tables``), so the dictionary has exactly the columns and descriptions the
export has (``DICTIONARY_COLUMNS``), and items of every instrument answered on a form.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd
from sqlalchemy import false, select
from sqlalchemy.orm import Session

import scoring
from registry.models import Patient
from registry.research import dataset
from registry.research.dictionary import (
    DICTIONARY_COLUMNS,
    ColumnSpec,
    dictionary_frame,
    item_spec,
)
from registry.research.export import build_tables
from registry.research.options import ExportOptions, resolve_threshold_set
from registry.research.pseudonyms import Pseudonymiser
from registry.research.scorestream import ScoreChunk
from registry.spreadsheet import escape_frame
from registry.vocabularies import N_

FORMATS = {"redcap": N_("REDCap data dictionary (CSV, 18 columns)"),
           "csv": N_("the export's data dictionary (CSV, UTF-8 with BOM)"),
           "json": N_("the export's data dictionary (JSON)")}
ITEMS_TABLE = "items"


def export_specs(session: Session) -> list[ColumnSpec]:
    """Every column an export can hold, described as the export describes it."""
    nobody = select(Patient.id).where(false())
    data = dataset.load(session, nobody, items=True, adverse_events=True, scores=False)
    options = ExportOptions(format="csv", shape="long", items=True, adverse_events=True)

    def no_scores() -> Iterator[ScoreChunk]:
        return iter(())

    tables = build_tables(data, Pseudonymiser(), options, no_scores,
                          resolve_threshold_set(session, None))
    specs = [spec for table in tables for spec in table.specs]
    present = {spec.column for spec in specs if spec.table == ITEMS_TABLE}
    for instrument in scoring.INSTRUMENTS.values():
        if not instrument.entry:
            continue  # its items are another instrument's (KOOS-12, KOOS JR: KOOS)
        for item in instrument.items:
            column = f"{instrument.code}_{item.code}"
            if column not in present:
                specs.append(item_spec(ITEMS_TABLE, column, instrument.code, item.code))
    return specs


def write_csv(frame: pd.DataFrame, sink: IO[bytes]) -> None:
    """UTF-8 with BOM (Excel shows "2–6 weeks"); text that a spreadsheet would run as a
    formula is escaped, as in the export's dictionary."""
    sink.write(escape_frame(frame).to_csv(index=False).encode("utf-8-sig"))


def write_json(frame: pd.DataFrame, sink: IO[bytes]) -> None:
    """``{"columns": [...], "variables": [{column: value}, …]}``; empty bounds are null."""
    rows = [{key: (None if isinstance(value, float) and value != value else value)
             for key, value in row.items()} for row in frame.to_dict(orient="records")]
    document = {"format": "KOA outcomes registry data dictionary",
                "scoring_version": scoring.__version__,
                "columns": list(DICTIONARY_COLUMNS), "variables": rows}
    sink.write(json.dumps(document, ensure_ascii=False, indent=1).encode())


def write(session: Session, fmt: str, target: Path) -> int:
    """Write the dictionary in ``fmt`` to ``target``; the number of variables."""
    from registry.interop import redcap  # the REDCap writer reads the same specs

    specs = export_specs(session)
    with target.open("wb") as sink:
        if fmt == "redcap":
            return redcap.write(specs, sink)
        frame = dictionary_frame(specs)
        (write_csv if fmt == "csv" else write_json)(frame, sink)
        return len(frame)
