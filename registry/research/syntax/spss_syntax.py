"""The SPSS syntax: reads each table, applies labels and user-missing reason codes.

CSV: ``GET DATA /TYPE=TXT`` with every variable's name and format, reason codes
(``SPSS_MISSING_RANGE``) written into missing scores from the reason columns, text codes
recoded into their numbers, labels, ``MISSING VALUES``; each table saved as
``<table>.sav``.  Stata and SAS files: ``GET STATA`` / ``GET SAS``, then the same labels and
codes.  SPSS files hold everything already: ``GET FILE``.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _

from registry.research.language import words
from registry.research.missing import SCORE_REASONS
from registry.research.statformats import fit_bytes
from registry.research.statplan import StatColumn, TablePlan
from registry.research.syntax.common import (
    Source,
    coded_columns,
    header,
    reason_assignments,
    spss_range,
)

SUFFIX = "__n"  # the numbered copy of a text-coded column while it is made


def text(value: str) -> str:
    """An SPSS string literal."""
    return '"' + " ".join(value.split()).replace('"', '""') + '"'


def _value(value: str | int) -> str:
    return text(value) if isinstance(value, str) else str(value)


def _format(column: StatColumn) -> str:
    if column.kind == "string" or column.text_codes:
        return f"A{column.text_width}"
    return "F11.0" if column.integer else "F24.10"


def _get(plan: TablePlan, file: str, source: Source) -> list[str]:
    if source.fmt == "sav":
        return [f"GET FILE={text(file)}."]
    if source.fmt == "dta":
        return [f"GET STATA FILE={text(file)}."]
    if source.fmt == "xpt":
        return [f"GET SAS DATA={text(file)}."]
    variables = "\n".join(f"    {column.name} {_format(column)}" for column in plan.columns)
    return [f"GET DATA /TYPE=TXT /FILE={text(file)} /ENCODING='UTF8'",
            "  /ARRANGEMENT=DELIMITED /DELCASE=LINE /FIRSTCASE=2",
            "  /DELIMITERS=\",\" /QUALIFIER='\"'",
            f"  /VARIABLES=\n{variables}.",
            "EXECUTE."]


def _missing(plan: TablePlan, source: Source) -> list[str]:
    return [f"IF ({column.reason} = {_value(value)}) {column.name} = {reason.spss}."
            for column, reason, value in reason_assignments(plan, source)]


def _numbered(column: StatColumn) -> list[str]:
    """A text-coded column (CSV) replaced by its numbers, in its place."""
    pairs = " ".join(f"({text(code)}={number})" for code, number in column.text_codes)
    temp = column.name + SUFFIX
    return [f"RECODE {column.name} {pairs} (ELSE=SYSMIS) INTO {temp}.",
            f"FORMATS {temp} (F11.0)."]


def generate(plans: Sequence[TablePlan], files: dict[str, str], source: Source) -> str:
    """The SPSS syntax for an export in ``source.fmt``."""
    lines = [f"* {header(source)}",
             "* " + _("Tables share the patient pseudonym pid (text): MATCH FILES ... /BY "
                      "pid."),
             "SET UNICODE=ON.", ""]
    for plan in plans:
        file = files[plan.table]
        lines.append(f"* {plan.table}: {file}.")
        lines += _get(plan, file, source)
        lines.append(f"DATASET NAME {plan.table}.")
        if source.fmt == "sav":
            lines += ["* " + _("Labels and user-missing reason codes are stored in the "
                               "file."), ""]
            continue
        lines += _missing(plan, source)
        coded = coded_columns(plan)
        if not source.numeric_codes and any(column.text_codes for column in coded):
            for column in coded:
                if column.text_codes:
                    lines += _numbered(column)
            lines.append("EXECUTE.")
            for column in coded:
                if column.text_codes:
                    lines += [f"DELETE VARIABLES {column.name}.",
                              f"RENAME VARIABLES ({column.name}{SUFFIX}={column.name})."]
            order = " ".join(column.name for column in plan.columns)
            lines.append(f"ADD FILES FILE=* /KEEP={order}.")
            lines.append("EXECUTE.")
        lines.append("VARIABLE LABELS")
        lines.append("\n".join(f"  {column.name} {text(fit_bytes(column.label, 255))}"
                               for column in plan.columns) + ".")
        if coded:
            lines.append("VALUE LABELS")
            lines.append("\n  /".join(
                f"  {column.name} " + " ".join(f"{number} {text(fit_bytes(label, 120))}"
                                               for number, label in column.values)
                for column in coded) + ".")
        reasoned = [column for column in plan.columns if column.reason]
        if reasoned:
            lines.append("ADD VALUE LABELS")
            lines.append("\n  /".join(
                f"  {column.name} " + " ".join(
                    f"{reason.spss} {text(fit_bytes(words(reason.label), 120))}"
                    for reason in SCORE_REASONS if reason.spss)
                for column in reasoned) + ".")
            lines.append(f"MISSING VALUES {' '.join(c.name for c in reasoned)} "
                         f"({spss_range()}).")
        lines += [f"SAVE OUTFILE={text(plan.table + '.sav')}.", ""]
    return "\n".join(lines)
