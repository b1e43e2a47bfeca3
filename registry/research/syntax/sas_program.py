"""The SAS program: reads each table, applies formats, labels and special missing values.

XPORT holds neither value labels nor special missing values, so this program carries them:
``PROC FORMAT`` value formats from the coded columns (one per distinct coding) and one for
the why-missing letters (``.A``, ``.B``, …), and a data step per table that sets a missing
score to its letter from the reason column.  CSV: a data step reads the file with every
variable's type and length (text codes read as text and turned into their numbers);
Stata and SPSS files: ``PROC IMPORT`` (SAS/ACCESS to PC Files).  XPORT version 8 files
(32-character names): ``%XPT2LOC`` (SAS 9.4).
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _

from registry.research.language import words
from registry.research.statformats import fit_bytes
from registry.research.statplan import StatColumn, TablePlan
from registry.research.syntax.common import (
    Source,
    coded_columns,
    header,
    missing_reasons,
    reason_assignments,
    value_sets,
)

MISSING_FORMAT = "whymiss"
TEMP = "__t"  # suffix of the text a text-coded column is read into (CSV)


def text(value: str) -> str:
    """A SAS string literal in single quotes (no macro resolution of & or %)."""
    return "'" + " ".join(value.split()).replace("'", "''") + "'"


def _value(value: str | int) -> str:
    return text(value) if isinstance(value, str) else str(value)


def _length(column: StatColumn) -> str:
    return f"${column.width}" if column.kind == "string" else "8"


def _read_csv(plan: TablePlan, file: str) -> list[str]:
    """A data step reading the CSV: final variables first (their order), then the text
    that text-coded columns are read into."""
    lengths = " ".join(f"{column.name} {_length(column)}" for column in plan.columns)
    temps = " ".join(f"{column.name}{TEMP} ${column.text_width}"
                     for column in plan.columns if column.text_codes)
    inputs = " ".join((f"{column.name}{TEMP} $" if column.text_codes else
                       f"{column.name} $" if column.kind == "string" else column.name)
                      for column in plan.columns)
    lines = [f"data work.{plan.table};",
             f"  infile {text(file)} dsd firstobs=2 truncover lrecl=1048576 "
             "encoding='utf-8';",
             f"  length {lengths}{' ' + temps if temps else ''};",
             f"  input {inputs};"]
    for column in plan.columns:
        if column.text_codes:
            cases = " ".join(f"when ({text(code)}) {column.name} = {number};"
                             for code, number in column.text_codes)
            lines.append(f"  select ({column.name}{TEMP}); {cases} otherwise; end;")
            lines.append(f"  drop {column.name}{TEMP};")
    return lines


def _read(plan: TablePlan, file: str, source: Source) -> list[str]:
    if source.fmt == "csv":
        return [*_read_csv(plan, file), "run;"]
    if source.fmt == "xpt":
        return [f"%xpt2loc(libref=work, memlist={plan.table}, filespec={text(file)});"]
    dbms = {"dta": "dta", "sav": "sav"}[source.fmt]
    return [f"proc import datafile={text(file)} out=work.{plan.table} dbms={dbms} replace;",
            "run;"]


def _formats(plans: Sequence[TablePlan]) -> list[str]:
    """A value format per coding (and its ``…m`` twin with the why-missing letters for
    coded columns that have a reason), and one for reason-coded numbers."""
    reasons = " ".join(f".{reason.sas} = {text(words(reason.label))}"
                       for reason in missing_reasons())
    with_reasons = {column.values for plan in plans for column in coded_columns(plan)
                    if column.reason}
    lines = ["proc format;"]
    for values, name in value_sets(plans).items():
        pairs = " ".join(f"{number} = {text(fit_bytes(label, 256))}"
                         for number, label in values)
        lines.append(f"  value {name} {pairs};")
        if values in with_reasons:
            lines.append(f"  value {name}m {pairs} {reasons};")
    lines += [f"  value {MISSING_FORMAT} {reasons} other = [best12.];", "run;"]
    return lines


def _apply(plan: TablePlan, source: Source, sets: dict[tuple[tuple[int, str], ...], str],
           ) -> list[str]:
    """A data step applying special missing values, formats and labels."""
    lines = [f"data work.{plan.table};", f"  set work.{plan.table};"]
    lines += [f"  if {column.reason} = {_value(value)} then {column.name} = .{reason.sas};"
              for column, reason, value in reason_assignments(plan, source)]
    formats = [f"{column.name} {sets[column.values]}{'m' if column.reason else ''}."
               for column in coded_columns(plan)]
    formats += [f"{column.name} {MISSING_FORMAT}." for column in plan.columns
                if column.reason and column.kind != "coded"]
    if formats:
        lines.append("  format " + " ".join(formats) + ";")
    lines.append("  label")
    lines += [f"    {column.name} = {text(fit_bytes(column.label, 256))}"
              for column in plan.columns]
    lines += ["  ;", "run;"]
    return lines


def generate(plans: Sequence[TablePlan], files: dict[str, str], source: Source) -> str:
    """The SAS program for an export in ``source.fmt``."""
    sets = value_sets(plans)
    lines = [f"/* {header(source)} */",
             "/* " + _("Tables share the patient pseudonym pid (text): merge by pid.")
             + " */",
             "options validvarname=v7;", ""]
    lines += [*_formats(plans), ""]
    for plan in plans:
        lines.append(f"/* {plan.table}: {files[plan.table]} */")
        lines += _read(plan, files[plan.table], source)
        lines += [*_apply(plan, source, sets), ""]
    return "\n".join(lines)
