"""WOMAC LK3.1 (24 items; licensed instrument): raw sums, total and 0-100 normalised scores.

Only short item labels are shipped: the questionnaire wording is copyrighted. Sections, answer
codes, ranges and missing rules follow the WOMAC 3.1 user's guide as commonly quoted
(``citations.WOMAC_GUIDE``; the function rule was checked in Whitehouse et al. 2004).
"""

from __future__ import annotations

from scoring import citations
from scoring.definitions.koos import ADL_LABELS, SEVERITY, codes
from scoring.model import Instrument, Item, ScoreDef

PAIN = "Pain"
STIFFNESS = "Stiffness"
FUNCTION = "Physical function"

WOMAC_ITEMS: tuple[Item, ...] = (
    Item("P1", "Walking on a flat surface", PAIN, SEVERITY),
    Item("P2", "Going up or down stairs", PAIN, SEVERITY),
    Item("P3", "At night while in bed", PAIN, SEVERITY),
    Item("P4", "Sitting or lying", PAIN, SEVERITY),
    Item("P5", "Standing upright", PAIN, SEVERITY),
    Item("S1", "Stiffness after first wakening", STIFFNESS, SEVERITY),
    Item("S2", "Stiffness later in the day", STIFFNESS, SEVERITY),
    # Function F1-F17: the same activities, in the same order, as KOOS A1-A17.
    *(Item(f"F{n}", label, FUNCTION, SEVERITY) for n, label in enumerate(ADL_LABELS, start=1)),
)


def raw(code: str, label: str, items: tuple[str, ...], max_missing: int) -> ScoreDef:
    """Raw subscale sum (0 to 4 x items, higher = worse) with the user's guide missing rule.

    WOMAC user's guide: pain - 1 missing item replaced by the mean of the answered items, 2 or
    more invalid; stiffness - any missing invalid; function - 1 to 3 missing replaced by the
    mean, 4 or more invalid (Whitehouse et al. 2004).
    """
    if max_missing == 0:
        rule = "All items must be answered."
    else:
        rule = (
            f"Up to {max_missing} missing item{'s' if max_missing > 1 else ''} replaced by the "
            f"mean of the answered items; {max_missing + 1} or more missing: not scored."
        )
    return ScoreDef(
        code=code,
        label=label,
        instrument="womac",
        items=items,
        minimum=0.0,
        maximum=4.0 * len(items),
        unit="points (raw sum)",
        higher_is_better=False,
        missing_rule=rule,
        citation=citations.WOMAC_GUIDE,
        method="sum_substituted",
        min_answered=len(items) - max_missing,
    )


def normalised(raw_score: ScoreDef) -> ScoreDef:
    """Raw score / its maximum x 100 (0-100, higher = worse), the scale of Tubach and Pham."""
    return ScoreDef(
        code=f"{raw_score.code}_norm",
        label=f"{raw_score.label} (0-100)",
        instrument="womac",
        items=raw_score.items,
        minimum=0.0,
        maximum=100.0,
        unit="points",
        higher_is_better=False,
        missing_rule=f"Missing when {raw_score.code} is missing.",
        citation=f"{citations.WOMAC_GUIDE} Normalisation as in {citations.PHAM_2004}",
        method="normalised",
        components=(raw_score.code,),
        divisor=raw_score.maximum,
    )


WOMAC_PAIN = raw("womac_pain", "WOMAC Pain", codes("P", 1, 5), 1)
WOMAC_STIFFNESS = raw("womac_stiffness", "WOMAC Stiffness", codes("S", 1, 2), 0)
WOMAC_FUNCTION = raw("womac_function", "WOMAC Function", codes("F", 1, 17), 3)
WOMAC_TOTAL = ScoreDef(
    code="womac_total",
    label="WOMAC Total",
    instrument="womac",
    items=WOMAC_PAIN.items + WOMAC_STIFFNESS.items + WOMAC_FUNCTION.items,
    minimum=0.0,
    maximum=96.0,
    unit="points (raw sum)",
    higher_is_better=False,
    missing_rule="Sum of pain, stiffness and function; not scored when any of them is not.",
    citation=citations.WOMAC_GUIDE,
    method="sum_of_scores",
    components=("womac_pain", "womac_stiffness", "womac_function"),
)
RAW_SCORES = (WOMAC_PAIN, WOMAC_STIFFNESS, WOMAC_FUNCTION, WOMAC_TOTAL)

WOMAC = Instrument(
    code="womac",
    name="WOMAC LK3.1 (Western Ontario and McMaster Universities Osteoarthritis Index)",
    version="womac-lk3.1/1",
    citation=citations.WOMAC_GUIDE,
    items=WOMAC_ITEMS,
    scores=RAW_SCORES + tuple(normalised(score) for score in RAW_SCORES),
    recall_period="last 48 hours",
    note="Licensed instrument: only short item labels are shipped, not the wording.",
    short_name="WOMAC",
    description=(
        "24 items answered 0–4; pain, stiffness and function as raw sums and 0–100; "
        "higher = worse."
    ),
)
