"""The instrument catalogue: every instrument and score definition, keyed by code.

Forms, validation, scoring, the patient page, exports and the data dictionary all read these
objects. The order of ``INSTRUMENTS`` is the display order everywhere. Adding an instrument
means one definition module in ``scoring/definitions/``, its citation, its thresholds, and one
entry in ``CATALOGUE`` below.
"""

from __future__ import annotations

from collections.abc import Iterable

from scoring.definitions.grc import GRC
from scoring.definitions.koos import KOOS
from scoring.definitions.koos_ps import KOOS_PS
from scoring.definitions.lines import PGA, VAS
from scoring.definitions.nrs import NRS
from scoring.definitions.short_forms import KOOS12, KOOS_JR
from scoring.definitions.womac import WOMAC
from scoring.model import (
    KOOS_MISSING_RULES,
    AnswerOption,
    Instrument,
    InvalidAnswer,
    Item,
    ItemKind,
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
    "ItemKind",
    "ScoreDef",
    "default_instruments",
    "entry_instruments",
    "get_instrument",
    "recordable_instruments",
    "scored_from",
]

#: Display order: pain scales, global, then the questionnaires and their short forms, then
#: the follow-up anchor question.
CATALOGUE: tuple[Instrument, ...] = (VAS, NRS, PGA, WOMAC, KOOS, KOOS_PS, KOOS12, KOOS_JR, GRC)

INSTRUMENTS: dict[str, Instrument] = {instrument.code: instrument for instrument in CATALOGUE}

#: Every score over all instruments, keyed by score code (= export column name).
SCORES: dict[str, ScoreDef] = {
    score.code: score for instrument in INSTRUMENTS.values() for score in instrument.scores
}


def check_catalogue() -> None:
    """Fail at import on a broken catalogue: duplicate score codes, unknown sources."""
    codes = [score.code for instrument in CATALOGUE for score in instrument.scores]
    if len(codes) != len(set(codes)):
        raise ValueError("duplicate score codes in the instrument catalogue")
    for instrument in CATALOGUE:
        for source in instrument.derived_from:
            if source not in INSTRUMENTS:
                raise ValueError(f"{instrument.code}: derived from unknown {source!r}")
            missing = set(instrument.item_codes) - set(INSTRUMENTS[source].item_codes)
            if missing:
                raise ValueError(f"{instrument.code}: items {sorted(missing)} not in {source}")


check_catalogue()


def get_instrument(code: str) -> Instrument:
    """Return the instrument with this code, or raise ValueError naming the known codes."""
    try:
        return INSTRUMENTS[code]
    except KeyError:
        known = ", ".join(INSTRUMENTS)
        raise ValueError(f"unknown instrument {code!r}; expected one of {known}") from None


def check_codes(codes: Iterable[str]) -> set[str]:
    """The codes as a set; ValueError naming every unknown one."""
    chosen = set(codes)
    unknown = sorted(chosen - set(INSTRUMENTS))
    if unknown:
        known = ", ".join(INSTRUMENTS)
        raise ValueError(f"unknown instrument(s) {', '.join(unknown)}; expected one of {known}")
    return chosen


def entry_instruments(chosen: Iterable[str] | None = None) -> tuple[Instrument, ...]:
    """Instruments entered on a visit form that records ``chosen`` (None = every one).

    Catalogue order. An instrument whose ``derived_from`` sources are all recorded is left
    out: its items come from the source's answers (KOOS-PS when KOOS is recorded). Codes of
    instruments that are never entered (KOOS-12, KOOS JR) are accepted and ignored.
    """
    codes = {i.code for i in CATALOGUE if i.entry} if chosen is None else check_codes(chosen)
    return tuple(
        instrument
        for instrument in CATALOGUE
        if instrument.entry
        and instrument.code in codes
        and not (instrument.derived_from and set(instrument.derived_from) <= codes)
    )


def scored_from(code: str) -> tuple[Instrument, ...]:
    """The instrument itself, then every instrument scored from its answers (catalogue order).

    These are the scores one response of ``code`` yields: KOOS gives KOOS, KOOS-PS, KOOS-12
    and KOOS JR.
    """
    instrument = get_instrument(code)
    return (instrument, *(i for i in CATALOGUE if code in i.derived_from))


def default_instruments(is_baseline: bool) -> list[str]:
    """Codes recorded by default: entry instruments with ``timepoints`` "all", plus the
    "followup" ones (the global rating of change) when the visit is not the baseline."""
    wanted = {"all"} if is_baseline else {"all", "followup"}
    return [i.code for i in CATALOGUE if i.entry and i.timepoints in wanted]


def recordable_instruments() -> tuple[Instrument, ...]:
    """Every instrument an admin can choose for a timepoint (the ``entry`` ones)."""
    return tuple(instrument for instrument in CATALOGUE if instrument.entry)
