"""How a table's columns are stored in Stata, SPSS and SAS files: one plan per table.

``plan_table`` decides once, from a table's column specs (``ColumnSpec``) and its column
types, how every column is stored; the writers (``statfiles``, ``statrows``) and the syntax
files (``registry.research.syntax``) read the same plan, so they always agree:

- names: ``dictionary.stata_names`` (valid in Stata, SPSS and SAS alike);
- text: strings (``pid`` always; never value-labelled integers);
- coded columns (``spec.codes``; booleans 0 = No, 1 = Yes): whole numbers with value
  labels.  Codes that are numbers stay those numbers (KL grade 2 is 2); text codes become
  1, 2, … in the order of ``spec.codes`` (``numeric_codes`` in the dictionary);
- numbers; a score whose ``spec.reason_column`` names its reason column carries the
  reason in its missing values (``registry.research.missing``).

The helpers below turn a plan's columns into numbers, reasons and bytes for the writers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from flask_babel import gettext as _

from registry.research.dictionary import ColumnSpec, boolean_codes, stata_names
from registry.research.missing import SCORE_REASONS
from registry.research.tables import Table

INT32_MAX = 2_147_483_620  # Stata's largest "long" (the values above mean missing)


@dataclass(frozen=True)
class StatColumn:
    """How one column of a table is stored in Stata, SPSS and SAS files and syntax."""

    column: str  # the table's column
    name: str  # the variable's name in all three
    label: str  # the variable label (full; each writer shortens it to its limit)
    kind: str  # "string", "number" or "coded"
    integer: bool = False  # stored as a whole number (Stata "long")
    values: tuple[tuple[int, str], ...] = ()  # value labels: number -> label
    text_codes: tuple[tuple[str, int], ...] = ()  # text code -> its number
    reason: str = ""  # the variable (name) holding why this one is missing
    width: int = 1  # strings: the longest value in UTF-8 bytes

    @property
    def code_of_text(self) -> dict[str, int]:
        return dict(self.text_codes)

    @property
    def text_width(self) -> int:
        """The longest text a CSV holds for the column, in UTF-8 bytes (text codes' or
        the strings')."""
        return max((len(code.encode("utf-8")) for code, _number in self.text_codes),
                   default=self.width)


@dataclass(frozen=True)
class TablePlan:
    table: str
    columns: tuple[StatColumn, ...]
    data_label: str = ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _is_text_code(code: Any) -> bool:
    return isinstance(code, str)


def _coded_spec(spec: ColumnSpec | None,
                series: pd.Series | None) -> tuple[tuple[Any, str], ...]:
    """The (code, label) pairs of a coded column ((0, No), (1, Yes) for any boolean)."""
    if spec is not None and spec.codes:
        return tuple(spec.codes)
    if series is not None and pd.api.types.is_bool_dtype(series.dtype):
        return boolean_codes()
    return ()


def plan_table(table: Table, frame: pd.DataFrame | None = None) -> TablePlan:
    """The table's storage plan.  ``frame`` (the rows) gives string widths and any coded
    value missing from the specs; without it (a streamed table written as CSV or Parquet)
    string widths are a generous default, as the syntax files only need them to read text."""
    specs = {spec.column: spec for spec in table.specs}
    columns = table.column_names if frame is None else [str(c) for c in frame.columns]
    names = stata_names(columns)
    schema = None if frame is not None else table.arrow_schema()
    planned: list[StatColumn] = []
    for column in columns:
        spec = specs.get(column)
        series = frame[column] if frame is not None else None
        label = spec.label if spec is not None else column
        codes = _coded_spec(spec, series)
        if not codes and schema is not None and pa.types.is_boolean(schema.field(column).type):
            codes = boolean_codes()
        reason = specs[column].reason_column if column in specs else ""
        if codes:  # a coded flag may have a reason column too (MCII … of a missing score)
            planned.append(replace(_coded_column(column, names[column], label, codes, series),
                                   reason=names.get(reason, "")))
            continue
        if series is not None:
            numeric = pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
                series.dtype, pd.CategoricalDtype)
            integer = pd.api.types.is_integer_dtype(series.dtype)
        else:
            assert schema is not None
            kind = schema.field(column).type
            integer = pa.types.is_integer(kind)
            numeric = integer or pa.types.is_floating(kind)
        if numeric:
            if integer and series is not None and len(series.dropna()):
                integer = bool(series.dropna().abs().max() <= INT32_MAX)
            # A reason-coded number is a double: its missing values carry the reason.
            reason_name = names.get(reason, "")
            planned.append(StatColumn(column, names[column], label, "number",
                                      integer=integer and not reason_name, reason=reason_name))
        else:
            planned.append(StatColumn(column, names[column], label, "string",
                                      width=width_of(series)))
    return TablePlan(table.name, tuple(planned),
                     _("KOA registry export: %(table)s", table=table.name))


def width_of(series: pd.Series | None) -> int:
    """The longest text in UTF-8 bytes (at least 1; 255 when the rows are not at hand)."""
    if series is None:
        return 255
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = pd.Series(_used_categories(series).astype(str), dtype=object)
    return max(1, encoded(series).dtype.itemsize)


def _coded_column(column: str, name: str, label: str, codes: Sequence[tuple[Any, str]],
                  series: pd.Series | None) -> StatColumn:
    """A coded column: numbers with value labels (text codes numbered 1, 2, … in order;
    a stored text code the specs do not know gets the next number, labelled as itself)."""
    if any(_is_text_code(code) for code, _label in codes):
        text_codes = [(_text(code), number) for number, (code, _label) in
                      enumerate(codes, start=1)]
        values = [(number, label_text) for number, (_code, label_text) in
                  enumerate(codes, start=1)]
        if series is not None:
            known = {code for code, _number in text_codes}
            present = _present_texts(series)
            for extra in sorted(set(present) - known):
                number = len(text_codes) + 1
                text_codes.append((extra, number))
                values.append((number, extra))
        return StatColumn(column, name, label, "coded", integer=True, values=tuple(values),
                          text_codes=tuple(text_codes))
    values = [(int(code), label_text) for code, label_text in codes]
    return StatColumn(column, name, label, "coded", integer=True, values=tuple(values))


def _present_texts(series: pd.Series) -> set[str]:
    """The distinct values a column holds, as text (a categorical: its used categories)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return {str(value) for value in _used_categories(series)}
    return {str(value) for value in pd.unique(series.dropna().to_numpy(dtype=object))}


def _used_categories(series: pd.Series) -> pd.Index:
    """The categories a categorical column holds at least once."""
    codes = series.cat.codes.to_numpy()
    counts = np.bincount(codes[codes >= 0].astype(np.int64),
                         minlength=len(series.cat.categories))
    return series.cat.categories[counts > 0]


def numeric_codes_text(column: StatColumn) -> str:
    """The dictionary's note of text codes stored as numbers: "1 = female (Female); …"."""
    labels = dict(column.values)
    return "; ".join(f"{number} = {code} ({labels.get(number, code)})"
                     for code, number in column.text_codes)


# -- the rows as numbers ------------------------------------------------------------------
def numbers(column: StatColumn, series: pd.Series) -> np.ndarray:
    """The column's values as float64 (NaN where missing): text codes as their numbers,
    booleans as 0 / 1."""
    if column.kind == "coded" and column.text_codes:
        return _looked_up(series, column.code_of_text)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(np.float64, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").astype("Float64").to_numpy(
        np.float64, na_value=np.nan)


def _looked_up(series: pd.Series, numbers_of: dict[str, int]) -> np.ndarray:
    """``numbers_of[text]`` per row as float64 (NaN for missing or unknown text); a
    categorical is looked up once per category."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        table = np.array([numbers_of.get(str(category), np.nan)
                          for category in series.cat.categories] + [np.nan], np.float64)
        return table[series.cat.codes.to_numpy()]
    mapped = series.astype(object).map(lambda value: numbers_of.get(str(value), np.nan)
                                       if pd.notna(value) else np.nan)
    return mapped.to_numpy(np.float64)


def _reasons_of(plan: TablePlan, reason: str, frame: pd.DataFrame) -> np.ndarray:
    """The reason column named ``reason`` as indices into ``SCORE_REASONS`` (-1: none or a
    reason without a missing code)."""
    source = next(col for col in plan.columns if col.name == reason)
    codes = {reason.code: index for index, reason in enumerate(SCORE_REASONS)
             if reason.stata is not None}
    return np.nan_to_num(_looked_up(frame[source.column], codes), nan=-1).astype(np.int16)


class SliceNumbers:
    """The numbers of a slice's columns and the indices of its reason columns, each
    computed once: the checks and the cells of a slice read the same arrays (a reason
    column serves every score column that names it)."""

    def __init__(self, plan: TablePlan, frame: pd.DataFrame) -> None:
        self.plan = plan
        self.frame = frame
        self._numbers: dict[str, np.ndarray] = {}
        self._reasons: dict[str, np.ndarray] = {}

    def numbers(self, column: StatColumn) -> np.ndarray:
        found = self._numbers.get(column.name)
        if found is None:
            found = self._numbers[column.name] = numbers(column, self.frame[column.column])
        return found

    def reasons(self, column: StatColumn) -> np.ndarray | None:
        """Per row, the index in ``SCORE_REASONS`` of why ``column`` is missing, -1 where
        it is not missing or its reason has no missing code; None when the column has no
        reason column."""
        if not column.reason:
            return None
        index = self._reasons.get(column.reason)
        if index is None:
            index = self._reasons[column.reason] = _reasons_of(self.plan, column.reason,
                                                                self.frame)
        return np.where(np.isnan(self.numbers(column)), index, -1).astype(np.int16)


def texts(series: pd.Series) -> np.ndarray:
    """A text column as Python strings ("" where missing)."""
    return series.astype("string").fillna("").astype(object).to_numpy()


def encoded(series: pd.Series, cache: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """A text column as fixed-width UTF-8 bytes (NUL-padded, as wide as its longest text;
    b"" where missing), with no Python object per row.  A categorical is encoded once per
    category (once per set of categories with ``cache``, shared by a table's slices)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.cat.categories
        table = cache.get(id(categories)) if cache is not None else None
        if table is None:
            table = np.append(_utf8(pd.Series(categories.astype(str))), b"")
            if cache is not None:
                cache[id(categories)] = table
        return table[series.cat.codes.to_numpy()]  # fixed-width bytes: no per-row objects
    return _utf8(series)


def _utf8(series: pd.Series) -> np.ndarray:
    text = pa.array(series.astype("string"), from_pandas=True).cast(pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    return fixed_width(pc.fill_null(text, "").cast(pa.large_binary()))


def fixed_width(texts: pa.Array) -> np.ndarray:
    """A large-binary Arrow array as a numpy ``S<width>`` array (NUL-padded to the longest
    value), copied from Arrow's buffers: texts of one length (pseudonyms, codes) are one
    reshaped copy, others are scattered into place in one vectorised step."""
    count = len(texts)
    _validity, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64)[texts.offset:texts.offset + count + 1]
    if not count:
        return np.empty(0, "S1")
    lengths = np.diff(offsets)
    width = max(1, int(lengths.max()))
    data = np.frombuffer(data_buffer, np.uint8)[offsets[0]:offsets[-1]] if data_buffer \
        else np.empty(0, np.uint8)
    if (lengths == width).all():
        return data.copy().view(f"S{width}")
    out = np.zeros((count, width), np.uint8)
    rows = np.repeat(np.arange(count), lengths)
    columns = np.arange(len(data)) - np.repeat(offsets[:-1] - offsets[0], lengths)
    out[rows, columns] = data
    return out.view(f"S{width}").reshape(count)


def plans_of(tables: Iterable[Table], written: dict[str, TablePlan]) -> list[TablePlan]:
    """Every table's plan: the one its writer used, else one from its specs and types
    (CSV and Parquet: a streamed table's rows are not read again)."""
    return [written.get(table.name) or plan_table(
        table, None if streamed(table) else table.frame) for table in tables]


def streamed(table: Table) -> bool:
    """Whether the table reads its rows piece by piece (``chunks`` / ``build``) rather
    than holding a frame: the long table."""
    return type(table).frame is not Table.frame


def name_dictionary(dictionary: pd.DataFrame, plans: Iterable[TablePlan]) -> None:
    """Fill the dictionary's Stata / SPSS / SAS names and numeric codes from the plans."""
    for plan in plans:
        rows = dictionary["table"] == plan.table
        names = {column.column: column.name for column in plan.columns}
        codes = {column.column: numeric_codes_text(column) for column in plan.columns}
        for target in ("stata_name", "spss_name", "sas_name"):
            dictionary.loc[rows, target] = dictionary.loc[rows, "column"].map(names).fillna("")
        dictionary.loc[rows, "numeric_codes"] = (
            dictionary.loc[rows, "column"].map(codes).fillna(""))
