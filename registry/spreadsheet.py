"""The one guard against formula injection in every spreadsheet-bound file (CSV, Excel).

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula: a product name such as
``=HYPERLINK("http://x","y")`` typed by staff would become a live link or worse in the
reader's spreadsheet.  As OWASP's "CSV injection" guidance recommends, such TEXT cells
get a leading single quote, which spreadsheets read as "this is text".  Numbers are left
as numbers (a negative number is not text), so numeric columns stay numeric.  With the
quote, openpyxl also stores the cell as a string (``data_type`` 's'), never a formula.

Used by research exports (CSV and Excel, data dictionary and manifest sheet), the audit
trail CSV and the follow-up call list.  Parquet and Stata files are typed data for
statistics software, not spreadsheets: their text is left exactly as entered.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: the audit CSV and call list need neither
    import pandas as pd
    import pyarrow as pa

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_REGEX = r"^[=+\-@\t\r]"
# A phone number ("+47 555 01234") can only make arithmetic, never a call or a link; the
# call list keeps its phone column dialable as written.
PHONE = re.compile(r"\+?[0-9 ()./-]+")


def escape_text(value: str, *, phone: bool = False) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would run it as a formula."""
    if value[:1] in FORMULA_START and not (phone and PHONE.fullmatch(value)):
        return "'" + value
    return value


def safe_cell(value: Any, *, phone: bool = False) -> Any:
    """A cell for a CSV or Excel writer: text escaped, everything else as it is."""
    if isinstance(value, str):
        return escape_text(value, phone=phone)
    return value


def _text_column(series: pd.Series) -> bool:
    import pandas as pd

    return (isinstance(series.dtype, pd.CategoricalDtype | pd.StringDtype)
            or series.dtype == object)


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell escaped (numeric columns untouched)."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if not _text_column(series):
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):
            renamed = [safe_cell(value) for value in series.cat.categories]
            if len(set(renamed)) == len(renamed):  # keep the categorical (and its codes)
                out[column] = series.cat.rename_categories(renamed)
                continue
            series = series.astype(object)
        out[column] = series.map(safe_cell, na_action="ignore")
    return out


def _escape_strings(column: pa.Array) -> pa.Array:
    """A string array with its risky cells escaped; the array itself when none is (the
    common case: only the test costs, no copy)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    risky = pc.match_substring_regex(column, _FORMULA_REGEX)
    if not pc.any(risky).as_py():
        return column
    quote, empty = pa.scalar("'", column.type), pa.scalar("", column.type)
    return pc.if_else(risky, pc.binary_join_element_wise(quote, column, empty), column)


def escape_arrow(table: pa.Table) -> pa.Table:
    """``table`` with every string cell escaped, computed column by column in Arrow; a
    dictionary (coded) column's values are escaped once, not cell by cell."""
    import pyarrow as pa

    def text(kind: pa.DataType) -> bool:
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))

    columns = []
    for column in table.columns:
        if text(column.type):
            column = pa.chunked_array([_escape_strings(part) for part in column.chunks],
                                      column.type)
        elif pa.types.is_dictionary(column.type) and text(column.type.value_type):
            column = pa.chunked_array(
                [pa.DictionaryArray.from_arrays(part.indices, _escape_strings(part.dictionary))
                 for part in column.chunks], column.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


__all__ = ["FORMULA_START", "escape_arrow", "escape_frame", "escape_text", "safe_cell"]
