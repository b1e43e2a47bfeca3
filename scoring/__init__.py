"""Pure scoring of knee outcome instruments (VAS, NRS, PGA, WOMAC, KOOS and its short forms,
global rating of change), with the instrument catalogue the registry is built from.

Depends on numpy; pandas only for the DataFrame entry points (``score_frame``,
``validate_frame``, ``change_frame``, ``omeract_oarsi_frame``), which import it when called,
so that scoring one response (a clinical web worker) never loads it.
"""

from __future__ import annotations

from scoring.api import (
    ResponseScores,
    score_frame,
    score_response,
    score_with_derived,
    validate_answers,
    validate_frame,
)
from scoring.change import (
    Change,
    change_frame,
    change_from_baseline,
)
from scoring.display import format_score, round_half_up
from scoring.instruments import (
    INSTRUMENTS,
    SCORES,
    Instrument,
    Item,
    ScoreDef,
    default_instruments,
    entry_instruments,
    get_instrument,
    recordable_instruments,
    scored_from,
)
from scoring.intervals import Interval, wilson_interval
from scoring.model import InvalidAnswer, ItemKind
from scoring.responder import Responder, omeract_oarsi, omeract_oarsi_frame
from scoring.thresholds import (
    DEFAULT_THRESHOLD_SET,
    DEFAULT_THRESHOLDS,
    FLAG_KINDS,
    THRESHOLD_SETS,
    Threshold,
    ThresholdKind,
    ThresholdSet,
    threshold_set,
)

#: Version of this scoring package; each instrument also has its own ``version`` string.
__version__ = "1.1.0"
SCORING_VERSION = __version__

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DEFAULT_THRESHOLD_SET",
    "FLAG_KINDS",
    "INSTRUMENTS",
    "SCORES",
    "SCORING_VERSION",
    "THRESHOLD_SETS",
    "Change",
    "Instrument",
    "Interval",
    "InvalidAnswer",
    "Item",
    "ItemKind",
    "Responder",
    "ResponseScores",
    "ScoreDef",
    "Threshold",
    "ThresholdKind",
    "ThresholdSet",
    "__version__",
    "change_frame",
    "change_from_baseline",
    "default_instruments",
    "entry_instruments",
    "format_score",
    "get_instrument",
    "omeract_oarsi",
    "omeract_oarsi_frame",
    "recordable_instruments",
    "round_half_up",
    "score_frame",
    "score_response",
    "score_with_derived",
    "scored_from",
    "threshold_set",
    "validate_answers",
    "validate_frame",
    "wilson_interval",
]
