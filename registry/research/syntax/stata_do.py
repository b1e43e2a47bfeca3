"""The Stata do-file: reads each table, applies labels and ``.a``/``.b``/… missing codes.

CSV: ``import delimited`` without the header row (columns v1, v2, … renamed to the
dictionary's names, their types given), why-missing codes from the reason columns, text
codes turned into numbered codes with value labels, then saved as ``<table>.dta``.  SPSS
and SAS files: ``import spss`` / ``import sasxport8`` (Stata 16 or later), labels and
missing codes applied the same way.  Stata files hold everything already: ``use``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _

from registry.research.language import words
from registry.research.statformats import variable_labels
from registry.research.statplan import StatColumn, TablePlan
from registry.research.syntax.common import (
    Source,
    coded_columns,
    header,
    missing_reasons,
    reason_assignments,
    value_sets,
)

TEMP = "__code"  # the numbered copy of a text-coded column while it is made
MISSING_LABEL = "whymiss"  # value labels of the why-missing letters of numbers


def text(value: str) -> str:
    """A Stata compound-quoted string (any character but a line break)."""
    return '`"' + " ".join(value.split()) + '"\''


def _value(value: str | int) -> str:
    return text(value) if isinstance(value, str) else str(value)


def _import(plan: TablePlan, file: str, source: Source) -> list[str]:
    if source.fmt == "dta":
        return [f"use {text(file)}, clear"]
    if source.fmt == "sav":
        return [f"import spss using {text(file)}, clear"]
    if source.fmt == "xpt":
        return [f"import sasxport8 {text(file)}, clear"]
    strings = [str(index) for index, column in enumerate(plan.columns, start=1)
               if column.kind == "string" or column.text_codes]
    numbers = [str(index) for index, column in enumerate(plan.columns, start=1)
               if not (column.kind == "string" or column.text_codes)]
    options = ['encoding("utf-8")', "varnames(nonames)", "rowrange(2)", "delimiters(\",\")",
               'bindquote(strict)']
    if strings:
        options.append(f"stringcols({' '.join(strings)})")
    if numbers:
        options.append(f"numericcols({' '.join(numbers)})")
    lines = [f"import delimited using {text(file)}, clear {' '.join(options)}"]
    lines += [f"rename v{index} {column.name}"
              for index, column in enumerate(plan.columns, start=1)]
    return lines


def _missing(plan: TablePlan, source: Source) -> list[str]:
    return [f"replace {column.name} = .{reason.stata} if {column.reason} == {_value(value)}"
            for column, reason, value in reason_assignments(plan, source)]


def _numbered(column: StatColumn) -> list[str]:
    """A text-coded column (CSV) replaced by its numbers."""
    lines = [f"generate long {TEMP} = ."]
    lines += [f"replace {TEMP} = {number} if {column.name} == {text(code)}"
              for code, number in column.text_codes]
    lines += [f"drop {column.name}", f"rename {TEMP} {column.name}"]
    return lines


def generate(plans: Sequence[TablePlan], files: dict[str, str], source: Source) -> str:
    """The do-file for an export in ``source.fmt``."""
    sets = value_sets(plans)
    lines = [f"* {header(source)}",
             "* " + _("Tables share the patient pseudonym pid (text): merge m:1 pid using "
                      "patients"),
             "version 16", "clear all", ""]
    if not source.labelled or source.fmt == "sav":
        letters = " ".join(f".{reason.stata} {text(words(reason.label))}"
                           for reason in missing_reasons())
        for values, name in sets.items():  # the letters too: harmless where never used
            pairs = " ".join(f"{number} {text(label)}" for number, label in values)
            lines.append(f"label define {name} {pairs} {letters}, replace")
        lines += [f"label define {MISSING_LABEL} {letters}, replace", ""]
    for plan in plans:
        file = files[plan.table]
        lines.append(f"* {plan.table}: {file}")
        lines += _import(plan, file, source)
        if source.fmt == "dta":
            lines += ["* " + _("Labels and why-missing codes (.a, .b, …) are stored in the "
                               "file."),
                      "describe, short", ""]
            continue
        lines += _missing(plan, source)
        if not source.numeric_codes:
            for column in coded_columns(plan):
                if column.text_codes:
                    lines += _numbered(column)
            lines.append("order " + " ".join(column.name for column in plan.columns))
        for column in coded_columns(plan):
            lines.append(f"label values {column.name} {sets[column.values]}")
        lines += [f"label values {column.name} {MISSING_LABEL}" for column in plan.columns
                  if column.reason and column.kind != "coded"]
        labels = variable_labels(plan, "dta")
        lines += [f"label variable {column.name} {text(labels[column.name])}"
                  for column in plan.columns]
        lines += [f"label data {text(plan.data_label)}",
                  f"save {text(plan.table + '.dta')}, replace", ""]
    return "\n".join(lines)
