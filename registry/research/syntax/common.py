"""What the four syntax generators share: the source format, value-label sets, reasons."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _

from registry.research.missing import SCORE_REASONS, SPSS_MISSING_RANGE, MissingReason
from registry.research.statplan import StatColumn, TablePlan

SCRIPT_STEM = "read_export"


@dataclass(frozen=True)
class Source:
    """The export's format, and what its files already hold."""

    fmt: str

    @property
    def numeric_codes(self) -> bool:
        """Coded columns hold their numbers (Stata, SPSS, SAS files), not their text."""
        return self.fmt in ("dta", "sav", "xpt")

    @property
    def labelled(self) -> bool:
        """Value labels and missing codes are in the files already (Stata, SPSS)."""
        return self.fmt in ("dta", "sav")


def header(source: Source) -> str:
    """The first comment of every syntax file, in the export's language (as are every
    comment and label the files write; names and code stay as they are)."""
    return _("Reads the tables of a KOA outcomes registry export (%(fmt)s) and applies "
             "variable labels, value labels and why-missing codes. Generated with the "
             "export: run it in the folder the zip was unpacked into. Variables and codes: "
             "data_dictionary.csv.", fmt=source.fmt)


def missing_reasons() -> list[MissingReason]:
    """The reasons that make a value missing (they have codes in every package)."""
    return [reason for reason in SCORE_REASONS if reason.stata is not None]


def spss_range() -> str:
    low, high = SPSS_MISSING_RANGE
    return f"{low} THRU {high}"


def reason_assignments(plan: TablePlan, source: Source
                       ) -> Iterator[tuple[StatColumn, MissingReason, str | int]]:
    """(column, reason, the reason column's value) for every reason-coded column of the
    table: each line a syntax file writes to turn a reason into its missing code."""
    for column in plan.columns:
        if column.reason:
            for reason, value in reason_tests(plan, column, source):
                yield column, reason, value


def reason_tests(plan: TablePlan, column: StatColumn,
                 source: Source) -> Iterator[tuple[MissingReason, str | int]]:
    """(reason, the value its reason column holds in this source) for a reason-coded
    column: the reason's number in Stata, SPSS and SAS files, its text code otherwise."""
    reason_column = next(col for col in plan.columns if col.name == column.reason)
    numbers = reason_column.code_of_text
    for reason in missing_reasons():
        if source.numeric_codes and reason.code in numbers:
            yield reason, numbers[reason.code]
        else:
            yield reason, reason.code


def value_sets(plans: Sequence[TablePlan]) -> dict[tuple[tuple[int, str], ...], str]:
    """One named set of value labels per distinct coding (all 0–4 items share one): the
    name is ``vl<n>_<first variable>``, at most 28 characters, never ending in a digit
    (SAS format names may not)."""
    sets: dict[tuple[tuple[int, str], ...], str] = {}
    for plan in plans:
        for column in plan.columns:
            if column.kind == "coded" and column.values not in sets:
                name = f"vl{len(sets) + 1}_{column.name}"[:27]
                sets[column.values] = name + ("_" if name[-1].isdigit() else "")
    return sets


def coded_columns(plan: TablePlan) -> list[StatColumn]:
    return [column for column in plan.columns if column.kind == "coded"]


def reason_coded(plan: TablePlan) -> list[StatColumn]:
    return [column for column in plan.columns if column.reason]
