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

from sqlalchemy import select
from sqlalchemy.orm import Session

import scoring
from registry.models import Protocol
from registry.services import ValidationFailed
from registry.vocabularies import CELL_SOURCES, KL_GRADES, SEX

# Every zip format also holds syntax files (R, Stata, SPSS, SAS) that read its tables.
FORMATS = {"csv": "CSV files in a .zip", "xlsx": "Excel workbook (.xlsx)",
           "parquet": "Parquet files in a .zip", "dta": "Stata 14+ files (.dta) in a .zip",
           "sav": "SPSS files (.sav) in a .zip",
           "xpt": "SAS transport files (XPORT version 8, .xpt) in a .zip",
           # One XML file, always long (one event per visit): registry.interop.odmexport.
           "odm": "CDISC ODM 1.3.2 (.xml)"}
SHAPES = {"long": "Long: one row per patient × timepoint × score",
          "wide": "Wide: one row per patient"}
GROUPS: dict[str, tuple[str, Mapping[Any, str]]] = {
    "cell_source": ("Cell source", CELL_SOURCES),
    "kl_grade": ("KL grade", KL_GRADES),
    "sex": ("Sex", SEX),
}
CHART_KINDS = {"change": "Mean change from baseline", "responders": "Responder rate"}
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
    return {code: f"{entry.label} (version {entry.version})"
            for code, entry in scoring.THRESHOLD_SETS.items()}


def default_threshold_set(session: Session) -> str:
    """The study's threshold set: the default protocol's, else scoring's default."""
    code = session.scalar(select(Protocol.threshold_set).where(Protocol.is_default.is_(True)))
    return code or scoring.DEFAULT_THRESHOLD_SET


def threshold_set_error(code: str) -> str | None:
    """Why ``code`` is not a threshold set (naming the known ones), or None."""
    if code in scoring.THRESHOLD_SETS:
        return None
    return (f"Thresholds: unknown threshold set {code!r}; use one of "
            f"{', '.join(scoring.THRESHOLD_SETS)}.")


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
    """An export's choices; ``thresholds`` empty means the study's default set."""

    format: str = "csv"
    shape: str = "long"
    items: bool = False
    adverse_events: bool = False
    free_text: bool = False
    project: str | None = None
    thresholds: str | None = None

    def check(self, *, free_text_allowed: bool) -> None:
        """Every bad choice at once, each under its field's name."""
        errors: dict[str, str] = {}
        if self.format not in FORMATS:
            errors["format"] = (f"Format: unknown format {self.format!r}; use one of "
                                f"{', '.join(FORMATS)}.")
        if self.shape not in SHAPES:
            errors["shape"] = f"Shape: unknown shape {self.shape!r}; use long or wide."
        if self.free_text and not free_text_allowed:
            errors["free_text"] = ("Free text: only an administrator may include free text, "
                                   "and only when EXPORT_ALLOW_FREE_TEXT is on.")
        if self.project is not None and not self.project.strip():
            errors["project"] = "Project: give the project's name for project-stable pseudonyms."
        elif self.project is not None and len(self.project) > 120:
            errors["project"] = "Project: at most 120 characters."
        if self.thresholds and (error := threshold_set_error(self.thresholds)):
            errors["thresholds"] = error
        if errors:
            raise ValidationFailed(errors)
