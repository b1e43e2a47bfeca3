"""Single-item 0-100 mm line instruments: VAS pain and patient global assessment (PGA)."""

from __future__ import annotations

from scoring import citations
from scoring.model import Instrument, Item, ScoreDef


def line_instrument(
    code: str, name: str, item_code: str, label: str, score_code: str, citation: str
) -> Instrument:
    """A 100 mm line recorded in whole mm (0 = best, 100 = worst); the score is the answer."""
    return Instrument(
        code=code,
        name=name,
        version=f"{code}-100mm/1",
        citation=citation,
        items=(Item(item_code, label, name, minimum=0, maximum=100, unit="mm"),),
        scores=(
            ScoreDef(
                code=score_code,
                label=name,
                instrument=code,
                items=(item_code,),
                minimum=0.0,
                maximum=100.0,
                unit="mm",
                higher_is_better=False,
                missing_rule="Missing when the line was not marked.",
                citation=citation,
                method="direct",
                min_answered=1,
            ),
        ),
    )


VAS = line_instrument(
    "vas",
    "VAS pain",
    "VAS",
    "Knee pain (0 = no pain, 100 = worst imaginable)",
    "vas_pain",
    citations.VAS,
)
PGA = line_instrument(
    "pga",
    "Patient global assessment",
    "PGA",
    "Global assessment of the knee (0 = very well, 100 = very poor)",
    "pga",
    citations.PGA,
)
