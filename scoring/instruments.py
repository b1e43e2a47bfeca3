"""The instrument registry: every instrument and score definition, keyed by code.

Forms, validation, scoring and the export data dictionary all read these objects.
"""

from __future__ import annotations

from scoring.definitions.koos import KOOS
from scoring.definitions.lines import PGA, VAS
from scoring.definitions.short_forms import KOOS12, KOOS_JR
from scoring.definitions.womac import WOMAC
from scoring.model import (
    KOOS_MISSING_RULES,
    AnswerOption,
    Instrument,
    InvalidAnswer,
    Item,
    ScoreDef,
)

__all__ = [
    "INSTRUMENTS",
    "KOOS_MISSING_RULES",
    "SCORES",
    "AnswerOption",
    "Instrument",
    "InvalidAnswer",
    "Item",
    "ScoreDef",
    "get_instrument",
]

INSTRUMENTS: dict[str, Instrument] = {
    instrument.code: instrument for instrument in (KOOS, WOMAC, KOOS12, KOOS_JR, VAS, PGA)
}

#: Every score over all instruments, keyed by score code (= export column name).
SCORES: dict[str, ScoreDef] = {
    score.code: score for instrument in INSTRUMENTS.values() for score in instrument.scores
}


def get_instrument(code: str) -> Instrument:
    """Return the instrument with this code, or raise ValueError naming the known codes."""
    try:
        return INSTRUMENTS[code]
    except KeyError:
        known = ", ".join(INSTRUMENTS)
        raise ValueError(f"unknown instrument {code!r}; expected one of {known}") from None
