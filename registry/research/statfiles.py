"""Stata (.dta), SPSS (.sav) and SAS XPORT (.xpt) files of export tables, with labels.

Each table is stored by its plan (``statplan``: names, text, coded columns as labelled
numbers, reason-coded missing scores).  What the formats hold:

- variable labels (Stata: 80 characters, shortened keeping the timepoint; distinct
  within a table) and value labels of every coded column, UTF-8 (Stata format 118);
- why a score is missing, in the value: Stata ``.a``, ``.b``, …, SPSS user-missing codes
  in ``SPSS_MISSING_RANGE``, both labelled (``registry.research.missing``).  XPORT holds
  no value labels and no special missing values: the SAS program applies both from the
  reason columns (``registry.research.syntax``).

pyreadstat writes every file's header, labels and missing declarations; ``statrows``
writes the rows in bulk in pyreadstat's layout (pyreadstat alone takes about 1 µs a
cell).  A value a format cannot hold (inf, a number or text too large) raises
``CannotStore`` naming the table and column, never a failure deep inside a writer.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyreadstat
from flask_babel import gettext as _

from registry.research import statrows, writers
from registry.research.dictionary import stata_label
from registry.research.language import words
from registry.research.missing import SCORE_REASONS, SPSS_MISSING_RANGE
from registry.research.statplan import (
    INT32_MAX,
    SliceNumbers,
    StatColumn,
    TablePlan,
    encoded,
    plan_table,
    streamed,
    texts,
    width_of,
)
from registry.research.tables import Table
from registry.research.writers import ExportTooLarge, Progress
from registry.vocabularies import N_

STAT_FORMATS = {"dta": N_("a Stata file"), "sav": N_("an SPSS file"),
                "xpt": N_("a SAS XPORT file")}
XPORT_MAX = 7.2e75  # IBM floating point, XPORT's number format
STATA_MAX = 8.988e307  # Stata's largest double (the values above mean missing)
STRING_MAX = {"dta": 2_000_000_000, "sav": 32_767, "xpt": 32_767}  # bytes
SPSS_VALUE_LABEL_MAX = 120  # bytes
LABEL_MAX = {"dta": 80, "sav": 255, "xpt": 255}  # variable labels, characters
# Per reason (index into SCORE_REASONS): its Stata missing letter ("" for a value), that
# letter's number in the streamed writer (.a = 1 …), and its SPSS user-missing code.
STATA_LETTERS = np.array([reason.stata or "" for reason in SCORE_REASONS], object)
STATA_TAG_NUMBERS = np.array([ord(reason.stata) - ord("a") + 1 if reason.stata else 0
                              for reason in SCORE_REASONS], np.uint8)
SPSS_CODES = np.array([reason.spss if reason.spss is not None else math.nan
                       for reason in SCORE_REASONS])


class CannotStore(ExportTooLarge):
    """A value of a table that the chosen format cannot hold (named by table and column)."""


# -- checks ---------------------------------------------------------------------------------
def check_values(plan: TablePlan, frame: pd.DataFrame, fmt: str,
                 slice_numbers: SliceNumbers | None = None) -> None:
    """``CannotStore`` naming the table and column of the first value ``fmt`` cannot hold
    (``slice_numbers``: the frame's numbers, when the cells are made from them too)."""
    where = _(STAT_FORMATS[fmt])
    numbers_of = slice_numbers or SliceNumbers(plan, frame)
    for column in plan.columns:
        series = frame[column.column]
        if column.kind == "string":
            longest = width_of(series)
            if longest > STRING_MAX[fmt]:
                raise CannotStore(_(
                    "The %(table)s table's column %(column)s holds a text of %(size)s "
                    "bytes; %(where)s holds at most %(limit)s. Choose CSV or Parquet.",
                    table=plan.table, column=column.column, size=format(longest, ","),
                    where=where, limit=format(STRING_MAX[fmt], ",")))
            continue
        if column.kind == "coded":  # numbers from the codes' table (or missing)
            continue
        values = numbers_of.numbers(column)
        finite = np.isfinite(values) | np.isnan(values)
        if not finite.all():
            bad = values[~finite][0]
            raise CannotStore(_(
                "The %(table)s table's column %(column)s holds %(value)s (not a finite "
                "number), which %(where)s cannot store. Correct the value, or choose CSV or "
                "Parquet.", table=plan.table, column=column.column, value=bad, where=where))
        limit = {"dta": STATA_MAX, "xpt": XPORT_MAX}.get(fmt)
        if limit is not None and len(values) and np.nanmax(np.abs(values), initial=0) > limit:
            raise CannotStore(_(
                "The %(table)s table's column %(column)s holds a number larger than "
                "%(limit)s, which %(where)s cannot store. Correct the value, or choose CSV "
                "or Parquet.", table=plan.table, column=column.column,
                limit=format(limit, ".3g"), where=where))
        if column.integer and np.nanmax(np.abs(values), initial=0) > INT32_MAX:
            raise CannotStore(_("The %(table)s table's column %(column)s holds a code "
                                "above %(limit)s, which %(where)s cannot store.",
                                table=plan.table, column=column.column,
                                limit=format(INT32_MAX, ","), where=where))
        if fmt == "sav" and column.reason:
            low, high = SPSS_MISSING_RANGE
            clash = (values >= low) & (values <= high)
            if clash.any():
                raise CannotStore(_(
                    "The %(table)s table's column %(column)s holds %(value)s, inside the "
                    "range SPSS reads as a missing-value code (%(low)s to %(high)s). Choose "
                    "another format.", table=plan.table, column=column.column,
                    value=format(values[clash][0], "g"), low=low, high=high))


# -- pyreadstat -----------------------------------------------------------------------------
def fit_bytes(text: str, limit: int) -> str:
    """``text`` shortened (``stata_label``) until its UTF-8 form fits ``limit`` bytes."""
    characters = min(len(text), limit)
    fitted = stata_label(text, characters)
    while len(fitted.encode("utf-8")) > limit:
        characters -= max(1, (len(fitted.encode("utf-8")) - limit) // 3)
        fitted = stata_label(text, characters)
    return fitted


def variable_labels(plan: TablePlan, fmt: str) -> dict[str, str]:
    """Each variable's label within ``fmt``'s limit, distinct within the table: a shortened
    label that another already has gets the variable's name in front."""
    limit = LABEL_MAX[fmt]
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for column in plan.columns:
        label = fit_bytes(column.label, 320 if fmt == "dta" else limit)
        label = stata_label(label, limit)
        if label in seen:
            label = fit_bytes(f"{column.name}: {column.label}", limit)
        seen.add(label)
        labels[column.name] = label
    return labels


def missing_labels(fmt: str, integer: bool = False) -> dict[Any, str]:
    """Value labels of the reason-coded missing values: Stata letters or SPSS codes (whole
    numbers for a variable stored as one)."""
    if fmt == "dta":
        return {reason.stata: words(reason.label) for reason in SCORE_REASONS if reason.stata}
    return {(reason.spss if integer else float(reason.spss)):
            fit_bytes(words(reason.label), SPSS_VALUE_LABEL_MAX)
            for reason in SCORE_REASONS if reason.spss is not None}


def value_labels(plan: TablePlan, fmt: str) -> dict[str, dict[Any, str]]:
    """pyreadstat's value labels: coded columns, and the missing codes of reason-coded
    numbers (none in XPORT)."""
    if fmt == "xpt":
        return {}
    labels: dict[str, dict[Any, str]] = {}
    for column in plan.columns:
        if column.kind == "coded":
            labels[column.name] = {
                number: (fit_bytes(text, SPSS_VALUE_LABEL_MAX) if fmt == "sav" else text)
                for number, text in column.values}
        if column.reason:
            labels[column.name] = {**labels.get(column.name, {}),
                                   **missing_labels(fmt, column.integer)}
    return labels


def pyreadstat_frame(plan: TablePlan, frame: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """The rows as pyreadstat takes them: names from the plan; reason-coded missing scores
    as their Stata letter or SPSS code."""
    out: dict[str, Any] = {}
    slice_numbers = SliceNumbers(plan, frame)
    for column in plan.columns:
        series = frame[column.column]
        if column.kind == "string":
            out[column.name] = texts(series)
            continue
        values = slice_numbers.numbers(column)
        reasons = slice_numbers.reasons(column) if fmt != "xpt" else None
        if reasons is not None and (reasons >= 0).any():
            tagged = reasons >= 0
            if fmt == "dta":  # numbers (whole ones stay int), None, and the letters
                cells = (np.array([None if math.isnan(v) else int(v) for v in values], object)
                         if column.integer else values.astype(object))
                cells[tagged] = STATA_LETTERS[reasons[tagged]]
                out[column.name] = cells
                continue
            values = np.where(tagged, SPSS_CODES[np.maximum(reasons, 0)], values)
        if column.integer:
            out[column.name] = pd.array(np.where(np.isnan(values), 0, values).astype(np.int32),
                                        dtype="Int32")
            out[column.name][np.isnan(values)] = pd.NA
        else:
            out[column.name] = values
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def write_options(plan: TablePlan, fmt: str) -> dict[str, Any]:
    """pyreadstat's keyword arguments for ``plan`` in ``fmt`` (labels, missing codes)."""
    options: dict[str, Any] = {"file_label": plan.data_label,
                               "column_labels": variable_labels(plan, fmt)}
    labels = value_labels(plan, fmt)
    reason_coded = [column.name for column in plan.columns if column.reason]
    if fmt == "dta":
        letters = [reason.stata for reason in SCORE_REASONS if reason.stata]
        options.update(version=14, variable_value_labels=labels,
                       missing_user_values={name: list(letters) for name in reason_coded})
    elif fmt == "sav":
        low, high = SPSS_MISSING_RANGE
        # Compressed, as SPSS saves by default: the long table's codes and flags take a
        # byte each instead of eight (``statrows.spss_compressed``).
        options.update(variable_value_labels=labels, row_compress=True,
                       missing_ranges={name: [{"lo": float(low), "hi": float(high)}]
                                       for name in reason_coded},
                       variable_measure={column.name: "scale" if column.kind == "number"
                                         else "nominal" for column in plan.columns})
    else:
        options.update(table_name=plan.table[:32], file_format_version=8)
    return options


WRITERS: dict[str, Callable[..., None]] = {
    "dta": pyreadstat.write_dta, "sav": pyreadstat.write_sav, "xpt": pyreadstat.write_xport}


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
        cells.append(statrows.Cells(storage, np.zeros(1)))
    WRITERS[fmt](pd.DataFrame(template), str(path), **write_options(plan, fmt))
    lengths = [column.width if column.kind == "string" else
               statrows.XPORT_SHORT if column.name in short else 8 for column in plan.columns]
    return statrows.RowWriter(fmt, path, bytes(statrows.row_bytes(fmt, cells)),
                              statrows.spss_text_elements(cells) if fmt == "sav" else None,
                              lengths if fmt == "xpt" else None)


def _short(plan: TablePlan, fmt: str, slice_numbers: SliceNumbers) -> frozenset[str]:
    """XPORT: the coded columns stored in 3 bytes, exactly (``statrows.XPORT_SHORT``):
    those whose listed codes and values in ``slice_numbers`` (the table, or a streamed
    table's first piece) are whole numbers up to 65,535."""
    if fmt != "xpt":
        return frozenset()
    return frozenset(
        column.name for column in plan.columns if column.kind == "coded"
        and statrows.fits_short(np.array([number for number, _label in column.values],
                                         np.float64))
        and statrows.fits_short(slice_numbers.numbers(column)))


def _write_bulk(plan: TablePlan, frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """A table held whole: its rows slice by slice into the template."""
    cache: dict[int, np.ndarray] = {}  # categories encoded once for all slices
    short = _short(plan, fmt, SliceNumbers(plan, frame))
    rows = _template(plan, path, fmt, short)
    try:
        for start in range(0, len(frame), statrows.ROWS_PER_SLICE):
            part = frame.iloc[start:start + statrows.ROWS_PER_SLICE]
            slice_numbers = SliceNumbers(plan, part)
            rows.add(statrows.row_bytes(fmt, [_cells(column, slice_numbers, fmt, cache, short)
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
        return statrows.Cells(storage, values, length=(statrows.XPORT_SHORT
                                                       if column.name in short else 8))
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

    def to_rows(piece: pa.Table) -> tuple[statrows.Encoded, int]:
        part = _pandas(piece)
        slice_numbers = SliceNumbers(plan, part)
        _check_piece(plan, part, fmt, slice_numbers, short)
        return rows.encode(statrows.row_bytes(
            fmt, [_cells(column, slice_numbers, fmt, cache, short)
                  for column in plan.columns])), len(part)

    def put(block: tuple[statrows.Encoded, int]) -> None:
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
        if column.name in short and not column.text_codes and not statrows.fits_short(
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
