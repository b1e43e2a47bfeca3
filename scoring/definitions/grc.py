"""Global rating of change (GRC): one 7-point anchor question asked at follow-ups.

Registry-own wording; codes -3 (much worse) .. 0 (about the same) .. +3 (much better), higher =
better (Kamper et al. 2009 on GRC scales, ``citations.GRC``). The answer is the score. It
serves as the anchor from which a registry estimates its own minimal important change
(Terwee et al. 2021; see ``scoring.anchor``).
"""

from __future__ import annotations

from scoring import citations
from scoring.definitions.lines import answer_score
from scoring.model import AnswerOption, Instrument, Item

GRC_OPTIONS: tuple[AnswerOption, ...] = (
    AnswerOption(-3, "Much worse"),
    AnswerOption(-2, "Worse"),
    AnswerOption(-1, "A little worse"),
    AnswerOption(0, "About the same"),
    AnswerOption(1, "A little better"),
    AnswerOption(2, "Better"),
    AnswerOption(3, "Much better"),
)

GRC = Instrument(
    code="grc",
    name="Global rating of change",
    short_name="Global rating of change",
    version="grc-7point/1",
    citation=citations.GRC,
    items=(
        Item("GRC", "Since your treatment, how is your knee?", "Global rating of change",
             GRC_OPTIONS),
    ),
    scores=(
        answer_score(
            "grc",
            "Global rating of change",
            "grc",
            "GRC",
            minimum=-3,
            maximum=3,
            unit="points",
            higher_is_better=True,
            missing_rule="Missing when not answered.",
            citation=citations.GRC,
        ),
    ),
    recall_period="since the treatment",
    timepoints="followup",
    description=(
        "The patient's rating of change since treatment, from -3 (much worse) through 0 "
        "(about the same) to +3 (much better); higher = better."
    ),
)
