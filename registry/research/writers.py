"""Writing export tables to files: CSV, Parquet and Stata into a folder, or one Excel workbook.

CSV and Parquet go through pyarrow in slices of rows so that a large long table is never
copied whole; Stata through ``DataFrame.to_stata`` with variable labels (Stata names at most
32 characters, labels at most 80); Excel through openpyxl, tables as sheets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from registry.research.dictionary import stata_label, stata_names
from registry.research.tables import Table

SLICE_ROWS = 500_000
EXCEL_MAX_ROWS = 1_048_575  # a sheet's rows minus the header
FORMATS = {"csv": "CSV files in a .zip", "xlsx": "Excel workbook (.xlsx)",
           "parquet": "Parquet files in a .zip", "dta": "Stata 14+ files (.dta) in a .zip"}
SHAPES = {"long": "Long: one row per patient × timepoint × score",
          "wide": "Wide: one row per patient"}
Progress = Callable[[int], None]


class ExportTooLarge(ValueError):
    """The chosen format cannot hold the table (Excel's row limit)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _slices(frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
    if frame.empty:
        yield frame
        return
    for start in range(0, len(frame), SLICE_ROWS):
        yield frame.iloc[start:start + SLICE_ROWS]


def _arrow_schema(frame: pd.DataFrame) -> pa.Schema:
    return pa.Schema.from_pandas(frame.iloc[:0], preserve_index=False)


def write_csv(table: Table, path: Path, progress: Progress | None = None) -> None:
    """UTF-8 CSV with a header row; empty cells for missing values; true/false flags."""
    frame = table.frame
    schema = _arrow_schema(frame)
    plain = pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type)
                                else f.type) for f in schema])
    with pa_csv.CSVWriter(str(path), plain) as writer:
        for part in _slices(frame):
            batch = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
            writer.write_table(batch.cast(plain))
            if progress:
                progress(len(part))


def write_parquet(table: Table, path: Path, progress: Progress | None = None) -> None:
    frame = table.frame
    schema = _arrow_schema(frame)
    descriptions = {spec.column: spec.label for spec in table.specs}
    schema = schema.with_metadata({**(schema.metadata or {}),
                                   b"registry.column_labels": json.dumps(descriptions).encode()})
    with pq.ParquetWriter(str(path), schema, compression="snappy") as writer:
        for part in _slices(frame):
            writer.write_table(pa.Table.from_pandas(part, schema=schema, preserve_index=False))
            if progress:
                progress(len(part))


def stata_frame(table: Table) -> tuple[pd.DataFrame, dict[str, str], dict[str, str]]:
    """The table made Stata-ready: (frame, column -> Stata name, Stata name -> label)."""
    frame = table.frame.copy()
    labels = {spec.column: spec.label for spec in table.specs}
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            if frame.empty or len(series.cat.categories) > 5000:
                frame[column] = series.astype("string").fillna("").astype(object)
        elif isinstance(series.dtype, pd.StringDtype) or series.dtype == object:
            frame[column] = series.astype("string").fillna("").astype(object)
    names = stata_names(frame.columns)
    frame = frame.rename(columns=names)
    variable_labels = {names[column]: stata_label(labels.get(column, column))
                       for column in names}
    return frame, names, variable_labels


def write_stata(table: Table, path: Path, progress: Progress | None = None) -> dict[str, str]:
    frame, names, variable_labels = stata_frame(table)
    frame.to_stata(path, write_index=False, version=118, variable_labels=variable_labels,
                   data_label=f"KOA registry export: {table.name}"[:80])
    if progress:
        progress(len(frame))
    return names


def _excel_value_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cells: categoricals and strings as text, nullable numbers/flags as objects."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.api.extensions.ExtensionDtype):  # incl. categorical
            out[column] = series.astype(object).where(series.notna(), None)
    return out


def write_excel(tables: list[Table], dictionary: pd.DataFrame, manifest: dict[str, Any],
                target: IO[bytes] | Path, progress: Progress | None = None) -> None:
    for table in tables:
        if len(table.frame) > EXCEL_MAX_ROWS:
            raise ExportTooLarge(
                f"The {table.name} table has {len(table.frame):,} rows; an Excel sheet holds "
                f"at most {EXCEL_MAX_ROWS:,}. Choose CSV, Parquet or Stata, or the wide shape.")
    with pd.ExcelWriter(target, engine="openpyxl") as writer:
        for table in tables:
            _excel_value_frame(table.frame).to_excel(writer, sheet_name=table.name[:31],
                                                     index=False)
            if progress:
                progress(len(table.frame))
        dictionary.to_excel(writer, sheet_name="data_dictionary", index=False)
        manifest_rows = [(key, json.dumps(value, ensure_ascii=False)
                          if not isinstance(value, str) else value)
                         for key, value in manifest.items()]
        pd.DataFrame(manifest_rows, columns=["key", "value"]).to_excel(
            writer, sheet_name="manifest", index=False)
        writer.book.properties.creator = "KOA outcomes registry"
