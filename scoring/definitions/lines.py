"""Single-item 0-100 mm line instruments (VAS pain, patient global assessment), and the
score of any one-item instrument (``answer_score``: also NRS pain and the global rating of
change)."""

from __future__ import annotations

from scoring import citations
from scoring.model import Instrument, Item, ScoreDef


def answer_score(
    code: str,
    label: str,
    instrument: str,
    item_code: str,
    *,
    minimum: int,
    maximum: int,
    unit: str,
    higher_is_better: bool,
    missing_rule: str,
    citation: str,
) -> ScoreDef:
    """The score of a one-item instrument: the answer itself (VAS, PGA, NRS, GRC)."""
    return ScoreDef(
        code=code,
        label=label,
        instrument=instrument,
        items=(item_code,),
        minimum=float(minimum),
        maximum=float(maximum),
        unit=unit,
        higher_is_better=higher_is_better,
        missing_rule=missing_rule,
        citation=citation,
        method="direct",
        min_answered=1,
    )


def line_instrument(
    code: str,
    name: str,
    item_code: str,
    label: str,
    score_code: str,
    citation: str,
    *,
    anchors: tuple[str, str],
    description: str,
) -> Instrument:
    """A 100 mm line recorded in whole mm (0 = best, 100 = worst); the score is the answer."""
    return Instrument(
        code=code,
        name=name,
        short_name=name,
        version=f"{code}-100mm/1",
        citation=citation,
        items=(
            Item(item_code, label, name, minimum=0, maximum=100, unit="mm", anchors=anchors),
        ),
        scores=(
            answer_score(
                score_code,
                name,
                code,
                item_code,
                minimum=0,
                maximum=100,
                unit="mm",
                higher_is_better=False,
                missing_rule="Missing when the line was not marked.",
                citation=citation,
            ),
        ),
        description=description,
    )


VAS = line_instrument(
    "vas",
    "VAS pain",
    "VAS",
    "Knee pain (0 = no pain, 100 = worst imaginable)",
    "vas_pain",
    citations.VAS,
    anchors=("No pain", "Worst imaginable pain"),
    description="Knee pain on a 0–100 mm line, in whole mm; higher = more pain.",
)
PGA = line_instrument(
    "pga",
    "Patient global assessment",
    "PGA",
    "Global assessment of the knee (0 = very well, 100 = very poor)",
    "pga",
    citations.PGA,
    anchors=("Very well", "Very poor"),
    description=(
        "The patient's overall judgement of the knee on a 0–100 mm line; higher = worse."
    ),
)
