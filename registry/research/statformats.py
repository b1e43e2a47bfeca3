"""What Stata, SPSS and SAS XPORT files can hold, and how pyreadstat is asked to write them.

The formats' limits (``check_values``: a value a format cannot hold raises ``CannotStore``
naming the table and column), variable and value labels within each format's limits,
the reason-coded missing values (Stata letters, SPSS user-missing codes), and the frame
and keyword arguments pyreadstat takes (``pyreadstat_frame``, ``write_options``).
``statfiles`` writes the files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
from flask_babel import gettext as _

from registry.research.dictionary import stata_label
from registry.research.language import words
from registry.research.missing import SCORE_REASONS, SPSS_MISSING_RANGE
from registry.research.statplan import (
    INT32_MAX,
    SliceNumbers,
    TablePlan,
    texts,
    width_of,
)
from registry.research.writers import ExportTooLarge
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
