"""What a research page or command may ask for, and the checks of those choices.

Export formats and shapes, summary groupings, chart kinds, the threshold set that judges
MCII / MIC / PASS, and ``ExportOptions``.  Light on purpose (scoring's catalogue,
SQLAlchemy and the vocabularies; no pandas, pyarrow or matplotlib): the research
blueprint imports it when the app starts, and every worker imports the blueprint, also
the workers that only ever serve clinical pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from registry.models import Protocol
from registry.research.language import DEFAULT_LANGUAGE, language_error
from registry.services import ValidationFailed
from registry.vocabularies import CELL_SOURCES, KL_GRADES, N_, SEX, TREATMENT_TYPES

# Every zip format also holds syntax files (R, Stata, SPSS, SAS) that read its tables.
# Labels are N_-marked: translated where shown (the ``label`` filter, ``gettext``).
FORMATS = {"csv": N_("CSV files in a .zip"), "xlsx": N_("Excel workbook (.xlsx)"),
           "parquet": N_("Parquet files in a .zip"),
           "dta": N_("Stata 14+ files (.dta) in a .zip"),
           "sav": N_("SPSS files (.sav) in a .zip"),
           "xpt": N_("SAS transport files (XPORT version 8, .xpt) in a .zip"),
           # One XML file, always long (one event per visit): registry.interop.odmexport.
           "odm": N_("CDISC ODM 1.3.2 (.xml)")}
SHAPES = {"long": N_("Long: one row per patient × timepoint × score"),
          "wide": N_("Wide: one row per patient")}
# Grouping -> (label, the labels of its codes).  Products are data, not a vocabulary: a
# product group is named after the product (``summary.group_labels``), a comparator
# without one after its treatment type.
GROUPS: dict[str, tuple[str, Mapping[Any, str]]] = {
    "treatment_type": (N_("Treatment type"), TREATMENT_TYPES),
    "product": (N_("Product"), {}),
    "cell_source": (N_("Cell source"), CELL_SOURCES),
    "kl_grade": (N_("KL grade"), KL_GRADES),
    "sex": (N_("Sex"), SEX),
}
CHART_KINDS = {"change": N_("Mean change from baseline"), "responders": N_("Responder rate")}
CHART_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}
# The summary page opens on pain (the score every protocol records); any score of the
# catalogue can be chosen.
DEFAULT_SCORE = "vas_pain"


def default_score() -> str:
    """The summary's first score: pain when the catalogue has it, else its first score."""
    return DEFAULT_SCORE if DEFAULT_SCORE in scoring.SCORES else next(iter(scoring.SCORES))


def threshold_set_choices() -> dict[str, str]:
    """Code -> label of every threshold set scoring knows (read at each call: never cached,
    so a set added to the catalogue shows at once)."""
    return {code: _("%(label)s (version %(version)s)", label=entry.label,
                    version=entry.version)
            for code, entry in scoring.THRESHOLD_SETS.items()}


def default_threshold_set(session: Session) -> str:
    """The study's threshold set: the default protocol's, else scoring's default."""
    code = session.scalar(select(Protocol.threshold_set).where(Protocol.is_default.is_(True)))
    return code or scoring.DEFAULT_THRESHOLD_SET


def threshold_set_error(code: str) -> str | None:
    """Why ``code`` is not a threshold set (naming the known ones), or None."""
    if code in scoring.THRESHOLD_SETS:
        return None
    return _("Thresholds: unknown threshold set %(code)s; use one of %(known)s.",
             code=repr(code), known=", ".join(scoring.THRESHOLD_SETS))


def resolve_threshold_set(session: Session, code: str | None,
                          field: str = "thresholds") -> scoring.ThresholdSet:
    """The chosen set (the study's default when ``code`` is empty); ``ValidationFailed``
    naming ``field`` when it is unknown."""
    chosen = code or default_threshold_set(session)
    error = threshold_set_error(chosen)
    if error:
        raise ValidationFailed({field: error})
    return scoring.threshold_set(chosen)


@dataclass(frozen=True)
class ExportOptions:
    """An export's choices; ``thresholds`` empty means the study's default set;
    ``language``: the language of its labels, dictionary and syntax files."""

    format: str = "csv"
    shape: str = "long"
    items: bool = False
    adverse_events: bool = False
    free_text: bool = False
    project: str | None = None
    thresholds: str | None = None
    language: str = DEFAULT_LANGUAGE

    def check(self, *, free_text_allowed: bool) -> None:
        """Every bad choice at once, each under its field's name."""
        errors: dict[str, str] = {}
        if self.format not in FORMATS:
            errors["format"] = _("Format: unknown format %(code)s; use one of %(known)s.",
                                 code=repr(self.format), known=", ".join(FORMATS))
        if self.shape not in SHAPES:
            errors["shape"] = _("Shape: unknown shape %(code)s; use long or wide.",
                                code=repr(self.shape))
        if self.free_text and not free_text_allowed:
            errors["free_text"] = _("Free text: only an administrator may include free text, "
                                    "and only when EXPORT_ALLOW_FREE_TEXT is on.")
        if self.project is not None and not self.project.strip():
            errors["project"] = _("Project: give the project's name for project-stable "
                                  "pseudonyms.")
        elif self.project is not None and len(self.project) > 120:
            errors["project"] = _("Project: at most 120 characters.")
        if self.thresholds and (error := threshold_set_error(self.thresholds)):
            errors["thresholds"] = error
        if error := language_error(self.language):
            errors["language"] = error
        if errors:
            raise ValidationFailed(errors)
