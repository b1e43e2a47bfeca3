"""Syntax files that read an export's tables in R, Stata, SPSS and SAS with their labels.

REDCap users know them: next to the data, one script per package that reads every table
of the export, applies variable labels and value labels, and marks why a value is
missing (Stata ``.a``/``.b``/…, SPSS user-missing codes, SAS ``.A``/``.B``/…, R: the
reason factor).  They are generated from the tables' storage plans
(``statplan.TablePlan``: names, labels, codes, reason columns), never from a list kept
here, so a column added to a table shows up in them at once.

Which files a zip holds depends on what each package can read: every export has the R
script; CSV, Stata, SPSS and SAS exports have all four; Parquet has the R script only
(Stata, SPSS and SAS read no Parquet: export CSV for them).
"""

from __future__ import annotations

from collections.abc import Sequence

from registry.research.statplan import TablePlan
from registry.research.syntax import r_script, sas_program, spss_syntax, stata_do
from registry.research.syntax.common import SCRIPT_STEM, Source

# Language -> (file suffix, generator, formats it can read).
LANGUAGES = {
    "R": ("R", r_script.generate, ("csv", "parquet", "dta", "sav", "xpt")),
    "Stata": ("do", stata_do.generate, ("csv", "dta", "sav", "xpt")),
    "SPSS": ("sps", spss_syntax.generate, ("csv", "dta", "sav", "xpt")),
    "SAS": ("sas", sas_program.generate, ("csv", "dta", "sav", "xpt")),
}


def scripts(plans: Sequence[TablePlan], files: dict[str, str], fmt: str) -> dict[str, str]:
    """File name -> text of every syntax file for an export in ``fmt`` whose tables are
    ``plans`` stored in ``files`` (table name -> file name in the zip)."""
    source = Source(fmt)
    return {f"{SCRIPT_STEM}.{suffix}": generate(plans, files, source)
            for suffix, generate, formats in LANGUAGES.values() if fmt in formats}


def languages(written: dict[str, str]) -> dict[str, str]:
    """Language -> file name of the syntax files in ``written``."""
    return {language: f"{SCRIPT_STEM}.{suffix}"
            for language, (suffix, _generate, _formats) in LANGUAGES.items()
            if f"{SCRIPT_STEM}.{suffix}" in written}


__all__ = ["LANGUAGES", "languages", "scripts"]
