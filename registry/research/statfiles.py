"""Stata (.dta), SPSS (.sav) and SAS XPORT (.xpt) files of export tables, with labels.

Each table is stored by its plan (``statplan``: names, text, coded columns as labelled
numbers, reason-coded missing scores).  What the formats hold:

- variable labels (Stata: 80 characters, shortened keeping the timepoint; distinct
  within a table) and value labels of every coded column, UTF-8 (Stata format 118);
- why a score is missing, in the value: Stata ``.a``, ``.b``, …, SPSS user-missing codes
  in ``SPSS_MISSING_RANGE``, both labelled (``registry.research.missing``).  XPORT holds
  no value labels and no special missing values: the SAS program applies both from the
  reason columns (``registry.research.syntax``).

pyreadstat writes every file's header, labels and missing declarations (asked as
``statformats`` says); ``statrows`` writes the rows in bulk in pyreadstat's layout
(pyreadstat alone takes about 1 µs a cell), XPORT's coded variables in 3 bytes instead
of 8 (exact for their whole numbers: ``xportnumbers``).  A value a format cannot
hold (inf, a number or text too large) raises ``CannotStore`` naming the table and
column, never a failure deep inside a writer.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyreadstat
from flask_babel import gettext as _

from registry.research import statrows, writers, xportnumbers
from registry.research.statformats import (
    SPSS_CODES,
    STAT_FORMATS,
    STATA_TAG_NUMBERS,
    STRING_MAX,
    WRITERS,
    CannotStore,
    check_values,
    pyreadstat_frame,
    write_options,
)
from registry.research.statplan import (
    SliceNumbers,
    StatColumn,
    TablePlan,
    encoded,
    plan_table,
    streamed,
    width_of,
)
from registry.research.tables import Table
from registry.research.writers import Progress

__all__ = ["STAT_FORMATS", "STRING_MAX", "CannotStore", "write_table"]


def write_table(table: Table, path: Path, fmt: str, progress: Progress | None = None, *,
                bulk: bool = True) -> TablePlan:
    """Write ``table`` as a ``fmt`` file at ``path``; returns its plan (names, labels).
    ``bulk``: rows by ``statrows`` where it covers the table (else pyreadstat's own); a
    streamed table (the long table) is then written piece by piece as it is read."""
    try:
        if bulk and streamed(table):
            return _write_streamed(table, path, fmt, progress)
    except (pyreadstat.PyreadstatError, pyreadstat.ReadstatError) as error:
        raise CannotStore(_("The %(table)s table could not be written as %(what)s: "
                            "%(error)s", table=table.name, what=_(STAT_FORMATS[fmt]),
                            error=error)) from error
    frame = table.frame
    plan = plan_table(table, frame)
    check_values(plan, frame, fmt)
    widths = [column.width for column in plan.columns if column.kind == "string"]
    try:
        try:
            if not (bulk and statrows.covers(fmt, widths)):
                raise statrows.LayoutError("not covered by the bulk layout")
            _write_bulk(plan, frame, path, fmt)
        except statrows.LayoutError:
            WRITERS[fmt](pyreadstat_frame(plan, frame, fmt), str(path),
                         **write_options(plan, fmt))
    except (pyreadstat.PyreadstatError, pyreadstat.ReadstatError) as error:
        raise CannotStore(_("The %(table)s table could not be written as %(what)s: "
                            "%(error)s", table=table.name, what=_(STAT_FORMATS[fmt]),
                            error=error)) from error
    if progress:
        progress(len(frame))
    return plan


def _storage(column: StatColumn) -> str:
    """How pyreadstat stores the column (``pyreadstat_frame``'s types): text, Stata long
    (coded and whole numbers), double."""
    return "string" if column.kind == "string" else "long" if column.integer else "double"


def _template(plan: TablePlan, path: Path, fmt: str,
              short: frozenset[str]) -> statrows.RowWriter:
    """pyreadstat writes a one-row template (header, labels, missing declarations, text
    as wide as the table's widest); the returned writer puts the rows in its place (XPORT:
    the ``short`` columns in 3 bytes)."""
    template: dict[str, Any] = {}
    cells: list[statrows.Cells] = []
    for column in plan.columns:
        storage = _storage(column)
        if storage == "string":
            template[column.name] = np.array(["x" * column.width], dtype=object)
            cells.append(statrows.Cells(storage, np.array([b"x" * column.width], object),
                                        column.width))
            continue
        template[column.name] = (pd.array([0], dtype="Int32") if storage == "long"
                                 else np.zeros(1))
        cells.append(statrows.Cells(storage, np.zeros(1), length=_length(column, short)))
    WRITERS[fmt](pd.DataFrame(template), str(path), **write_options(plan, fmt))
    return statrows.RowWriter(fmt, path, cells)


def _length(column: StatColumn, short: frozenset[str]) -> int:
    """XPORT: the bytes of the column's numbers."""
    return xportnumbers.XPORT_SHORT if column.name in short else 8


def _short(plan: TablePlan, fmt: str, slice_numbers: SliceNumbers) -> frozenset[str]:
    """XPORT: the coded columns stored in 3 bytes, exactly (``xportnumbers.XPORT_SHORT``):
    those whose listed codes and values in ``slice_numbers`` (the table, or a streamed
    table's first piece) are whole numbers up to 65,535."""
    if fmt != "xpt":
        return frozenset()
    return frozenset(
        column.name for column in plan.columns if column.kind == "coded"
        and xportnumbers.fits_short(np.array([number for number, _label in column.values],
                                         np.float64))
        and xportnumbers.fits_short(slice_numbers.numbers(column)))


def _write_bulk(plan: TablePlan, frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """A table held whole: its rows slice by slice into the template."""
    cache: dict[int, np.ndarray] = {}  # categories encoded once for all slices
    short = _short(plan, fmt, SliceNumbers(plan, frame))
    rows = _template(plan, path, fmt, short)
    try:
        for start in range(0, len(frame), statrows.ROWS_PER_SLICE):
            part = frame.iloc[start:start + statrows.ROWS_PER_SLICE]
            slice_numbers = SliceNumbers(plan, part)
            rows.add(rows.encode_rows([_cells(column, slice_numbers, fmt, cache, short)
                                       for column in plan.columns]), len(part))
    except BaseException:
        rows.abort()
        raise
    rows.close()


def _cells(column: StatColumn, slice_numbers: SliceNumbers, fmt: str,
           cache: dict[int, np.ndarray], short: frozenset[str]) -> statrows.Cells:
    storage = _storage(column)
    if storage == "string":
        return statrows.Cells(storage, encoded(slice_numbers.frame[column.column], cache),
                              column.width)
    values = slice_numbers.numbers(column)
    reasons = slice_numbers.reasons(column) if fmt != "xpt" else None
    if reasons is None:
        return statrows.Cells(storage, values, length=_length(column, short))
    if fmt == "dta":
        return statrows.Cells(storage, values, tags=np.where(
            reasons >= 0, STATA_TAG_NUMBERS[np.maximum(reasons, 0)], 0))
    return statrows.Cells(storage, values,
                          codes=np.where(reasons >= 0, SPSS_CODES[np.maximum(reasons, 0)], np.nan))


# -- a streamed table ------------------------------------------------------------------------
ARROW_TO_PANDAS = {pa.bool_(): pd.BooleanDtype(), pa.int8(): pd.Int8Dtype(),
                   pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                   pa.int64(): pd.Int64Dtype()}


def _pandas(piece: pa.Table) -> pd.DataFrame:
    """An Arrow piece as the pandas frame a held table has (nullable flags and integers,
    dictionaries as categoricals)."""
    return piece.to_pandas(types_mapper=ARROW_TO_PANDAS.get)


def _write_streamed(table: Table, path: Path, fmt: str,
                    progress: Progress | None) -> TablePlan:
    """The long table, written while it is read: the plan (text widths, codes) is made
    from its first piece, every piece is checked against it, built and turned into rows
    on worker threads (``writers.in_order``) while the next is read; the row count goes
    into the header at the end."""
    pieces = iter(table.chunks())
    first = next(pieces, None)
    sample = _pandas(table.build(first) if first is not None
                     else table.arrow_schema().empty_table())
    plan = plan_table(table, sample)
    try:
        if not statrows.covers(fmt, [c.width for c in plan.columns if c.kind == "string"]):
            raise statrows.LayoutError("not covered by the bulk layout")
        short = _short(plan, fmt, SliceNumbers(plan, sample))
        rows = _template(plan, path, fmt, short)
    except statrows.LayoutError:  # pyreadstat writes the rows (the table held whole)
        rest = [_pandas(table.build(piece)) for piece in pieces]
        frame = pd.concat([sample, *rest], ignore_index=True) if rest else sample
        check_values(plan, frame, fmt)
        WRITERS[fmt](pyreadstat_frame(plan, frame, fmt), str(path), **write_options(plan, fmt))
        if progress:
            progress(len(frame))
        return plan
    cache: dict[int, np.ndarray] = {}

    def to_rows(piece: pa.Table) -> tuple[list[statrows.Encoded], int]:
        part = _pandas(piece)
        slice_numbers = SliceNumbers(plan, part)
        _check_piece(plan, part, fmt, slice_numbers, short)
        return rows.encode_rows([_cells(column, slice_numbers, fmt, cache, short)
                                 for column in plan.columns]), len(part)

    def put(block: tuple[list[statrows.Encoded], int]) -> None:
        rows.add(*block)
        if progress:
            progress(block[1])

    try:
        if first is not None:
            writers.in_order(itertools.chain([first], pieces),
                             lambda piece: to_rows(table.build(piece)), put)
    except BaseException:
        rows.abort()
        raise
    rows.close()
    return plan


def _check_piece(plan: TablePlan, part: pd.DataFrame, fmt: str,
                 slice_numbers: SliceNumbers, short: frozenset[str]) -> None:
    """A piece of a streamed table fits the plan made from its first piece."""
    check_values(plan, part, fmt, slice_numbers)
    for column in plan.columns:
        if column.name in short and not column.text_codes and not xportnumbers.fits_short(
                slice_numbers.numbers(column)):  # text codes: numbered 1, 2, … (below)
            raise CannotStore(f"The {plan.table} table's column {column.column} holds a "
                              "code that is not a whole number up to 65,535, which its "
                              "3-byte SAS variable (set by the first rows) cannot hold.")
        if column.kind == "string" and width_of(part[column.column]) > column.width:
            raise CannotStore(f"The {plan.table} table's column {column.column} holds a "
                              "text longer than its first rows' (the variable's width).")
        if column.text_codes:
            present = part[column.column].notna().to_numpy()
            if np.isnan(slice_numbers.numbers(column)[present]).any():
                raise CannotStore(f"The {plan.table} table's column {column.column} holds "
                                  "a code its data dictionary does not list.")
