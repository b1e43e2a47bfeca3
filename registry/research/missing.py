"""Why a value is missing: the reason codes of the exports, one list for every format.

Every score column of an export has a companion reason column (``<column>_reason``, or the
``reason`` column of the long table) holding one of ``SCORE_REASONS``' codes.  The numeric
formats carry the same reason in the value itself:

- Stata: extended missing values ``.a``, ``.b``, … with value labels;
- SPSS: user-missing codes (``spss``), declared as the range ``SPSS_MISSING_RANGE``;
- SAS: special missing values ``.A``, ``.B``, … (the SAS program applies them from the
  reason columns; the XPORT writer keeps plain missing values);
- CSV, Parquet and Excel: an empty cell, and the reason column.

Visit statuses come from the follow-up status rule (``registry.followup.status``), plus
``withdrawn`` for a patient's visits after withdrawal; ``VISIT_STATUSES`` lists them as
the ``visits`` table shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.vocabularies import N_


@dataclass(frozen=True)
class MissingReason:
    code: str  # stored in the reason columns
    label: str  # the value label (English, N_-marked; translated where written)
    stata: str | None  # extended missing letter, None for a value that is present
    spss: int | None  # SPSS user-missing code
    sas: str | None  # SAS special missing letter


SCORE_REASONS: tuple[MissingReason, ...] = (
    MissingReason("scored", N_("Scored"), None, None, None),
    MissingReason("not_scorable", N_("Not scorable: too many items unanswered"), "a", -901, "A"),
    MissingReason("not_answered", N_("Instrument not answered at a done visit"), "b", -902, "B"),
    MissingReason("visit_missed", N_("Visit missed: its window closed"), "c", -903, "C"),
    MissingReason("visit_pending", N_("Visit not done yet (not yet due, upcoming, due or overdue)"),
                  "d", -904, "D"),
    MissingReason("visit_not_applicable", N_("Visit not applicable"), "e", -905, "E"),
    MissingReason("withdrawn", N_("Patient withdrawn before the visit"), "f", -906, "F"),
    MissingReason("no_baseline", N_("No baseline score: change not computable"), "g", -907, "G"),
)
REASONS_BY_CODE = {reason.code: reason for reason in SCORE_REASONS}
SPSS_MISSING_RANGE = (-999, -901)  # every SPSS user-missing code lies in this range

# The ``visits`` table's status codes -> labels (follow-up statuses at export time).
VISIT_STATUSES: dict[str, str] = {
    "done": N_("Done"),
    "done_out_of_window": N_("Done out of window"),
    "due": N_("Due"),
    "overdue": N_("Overdue"),
    "missed": N_("Missed"),
    "upcoming": N_("Upcoming"),
    "scheduled": N_("Not yet due"),
    "not_applicable": N_("Not applicable"),
    "withdrawn": N_("Withdrawn"),
}

# Visit status -> the reason a score of that visit is missing.
REASON_OF_VISIT_STATUS: dict[str, str] = {
    "due": "visit_pending",
    "overdue": "visit_pending",
    "upcoming": "visit_pending",
    "scheduled": "visit_pending",
    "missed": "visit_missed",
    "not_applicable": "visit_not_applicable",
    "withdrawn": "withdrawn",
    "done": "not_answered",
    "done_out_of_window": "not_answered",
}

__all__ = ["REASONS_BY_CODE", "REASON_OF_VISIT_STATUS", "SCORE_REASONS", "SPSS_MISSING_RANGE",
           "VISIT_STATUSES", "MissingReason"]
