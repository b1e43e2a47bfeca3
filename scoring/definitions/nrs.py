"""NRS pain: one 0-10 numeric rating, the pain measure of the ICHOM hip & knee OA set.

Source: Rolfson et al., Acta Orthop 2016 (``citations.NRS``). The wording is the registry's
own. Whole numbers 0 (no pain) to 10 (worst pain imaginable); higher = worse. It is a
different instrument from the 100 mm VAS and is never converted to mm.
"""

from __future__ import annotations

from scoring import citations
from scoring.definitions.lines import answer_score
from scoring.model import Instrument, Item

NRS = Instrument(
    code="nrs",
    name="NRS pain (numeric rating scale 0-10)",
    short_name="NRS pain",
    version="nrs-0-10/1",
    citation=citations.NRS,
    items=(
        Item(
            "NRS",
            "Knee pain (0 = no pain, 10 = worst pain imaginable)",
            "NRS pain",
            minimum=0,
            maximum=10,
            unit="points",
            anchors=("No pain", "Worst pain imaginable"),
        ),
    ),
    scores=(
        answer_score(
            "nrs_pain",
            "NRS pain",
            "nrs",
            "NRS",
            minimum=0,
            maximum=10,
            unit="points",
            higher_is_better=False,
            missing_rule="Missing when no number was chosen.",
            citation=citations.NRS,
        ),
    ),
    # Registry's choice: the VAS is today's default pain measure; a protocol adds the NRS.
    timepoints="none",
    description="Knee pain as a whole number from 0 to 10; higher = more pain.",
)
