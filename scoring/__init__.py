"""Pure scoring of knee outcome instruments (KOOS, WOMAC, KOOS-12, KOOS JR, VAS, PGA).

Depends on numpy and pandas only; the web app, exports and the command line all use it.
"""

from __future__ import annotations

from scoring.api import (
    ResponseScores,
    score_frame,
    score_response,
    validate_answers,
    validate_frame,
)
from scoring.change import (
    DEFAULT_THRESHOLDS,
    Change,
    Threshold,
    change_frame,
    change_from_baseline,
)
from scoring.display import format_score, round_half_up
from scoring.instruments import INSTRUMENTS, SCORES, Instrument, Item, ScoreDef
from scoring.model import InvalidAnswer
from scoring.responder import Responder, omeract_oarsi, omeract_oarsi_frame

#: Version of this scoring package; each instrument also has its own ``version`` string.
__version__ = "1.0.0"
SCORING_VERSION = __version__

__all__ = [
    "DEFAULT_THRESHOLDS",
    "INSTRUMENTS",
    "SCORES",
    "SCORING_VERSION",
    "Change",
    "Instrument",
    "InvalidAnswer",
    "Item",
    "Responder",
    "ResponseScores",
    "ScoreDef",
    "Threshold",
    "__version__",
    "change_frame",
    "change_from_baseline",
    "format_score",
    "omeract_oarsi",
    "omeract_oarsi_frame",
    "round_half_up",
    "score_frame",
    "score_response",
    "validate_answers",
    "validate_frame",
]
