"""The R script: readr (CSV), arrow (Parquet) or haven (Stata, SPSS, SAS files).

CSV and Parquet: coded columns become factors with the dictionary's labels, every column
gets its label as the ``label`` attribute (what RStudio and haven show); a missing score's
reason is its ``_reason`` factor.  Stata and SPSS files carry labels and reason-coded
missing values already (haven: ``labelled`` columns, ``na_tag()`` gives the Stata letter,
``user_na = TRUE`` keeps SPSS codes); an XPORT file gets its value labels and tagged
missing values (``haven::tagged_na``) here.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _

from registry.research.statplan import StatColumn, TablePlan
from registry.research.syntax.common import Source, coded_columns, header, reason_assignments

READERS = {
    "csv": "readr::read_csv({file}, na = \"\", col_types = readr::cols(\n{types}\n))",
    "parquet": "as.data.frame(arrow::read_parquet({file}))",
    "dta": "haven::read_dta({file})",
    "sav": "haven::read_sav({file}, user_na = TRUE)",
    "xpt": "haven::read_xpt({file})",
}
PACKAGES = {"csv": "readr", "parquet": "arrow", "dta": "haven", "sav": "haven",
            "xpt": "haven"}


def text(value: str) -> str:
    """An R string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def ref(frame: str, column: str) -> str:
    """``frame$`column``` (backquoted: any column name works)."""
    return f"{frame}$`{column.replace('`', '')}`"


def _col_type(column: StatColumn) -> str:
    if column.kind == "string" or column.text_codes:
        return "readr::col_character()"
    return "readr::col_integer()" if column.integer else "readr::col_double()"


def _vector(values: Sequence[str | int]) -> str:
    return "c(" + ", ".join(text(v) if isinstance(v, str) else str(v) for v in values) + ")"


def _frame_name(plan: TablePlan) -> str:
    return plan.table


def _table(plan: TablePlan, file: str, source: Source) -> list[str]:
    frame = _frame_name(plan)
    # The files' own column names: Stata, SPSS and SAS files use the variable names.
    name = (lambda column: column.name) if source.numeric_codes else (
        lambda column: column.column)
    types = ",\n".join(f"  `{name(column)}` = {_col_type(column)}" for column in plan.columns)
    lines = [f"# {plan.table}: {file}",
             f"{frame} <- {READERS[source.fmt].format(file=text(file), types=types)}"]
    if source.labelled:
        lines.append("# " + _("Labels and why-missing codes are stored in %(file)s "
                              "(haven::as_factor() shows labels; haven::na_tag() the reason "
                              "letter).", file=file))
        return lines
    for column in coded_columns(plan):
        codes: list[str | int]
        if column.text_codes and not source.numeric_codes:
            codes = [code for code, _number in column.text_codes]
            current = f"as.character({ref(frame, name(column))})"
        else:
            codes = [number for number, _label in column.values]
            current = f"as.integer({ref(frame, name(column))})"
        labels = [label for _number, label in column.values]
        if source.fmt == "xpt":
            lines.append(f"{ref(frame, name(column))} <- haven::labelled("
                         f"{current}, labels = setNames({_vector(codes)}, {_vector(labels)}))")
        else:
            lines.append(f"{ref(frame, name(column))} <- factor({current}, "
                         f"levels = {_vector(codes)}, labels = {_vector(labels)})")
    if source.fmt == "xpt":
        for column, reason, value in reason_assignments(plan, source):
            test = f"{ref(frame, column.reason)} %in% {_vector([value])}"
            lines.append(f"{ref(frame, name(column))}[{test}] <- "
                         f"haven::tagged_na({text(reason.stata or '')})")
    for column in plan.columns:
        lines.append(f"attr({ref(frame, name(column))}, \"label\") <- {text(column.label)}")
    return lines


def generate(plans: Sequence[TablePlan], files: dict[str, str], source: Source) -> str:
    """The R script for an export in ``source.fmt``."""
    lines = [f"# {header(source)}",
             "# " + (_("Needs the %(package)s package (and haven for the value labels).",
                       package=PACKAGES[source.fmt]) if source.fmt == "xpt" else
                     _("Needs the %(package)s package.", package=PACKAGES[source.fmt])),
             "# " + _("Tables share the patient pseudonym pid (text): "
                      "merge(patients, visits, by = \"pid\")."), ""]
    for plan in plans:
        lines += _table(plan, files[plan.table], source)
        lines.append("")
    return "\n".join(lines)
