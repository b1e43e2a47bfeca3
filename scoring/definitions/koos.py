"""KOOS (42 items, 5 subscales) and the WOMAC scores derived from KOOS answers.

Source for items, codes, answer labels, formula and missing rules: KOOS Scoring 2012 (koos.nu)
and Roos & Lohmander 2003 (``citations.KOOS_2012``). Items are mapped by content, not number.
"""

from __future__ import annotations

from scoring import citations
from scoring.model import AnswerOption, Instrument, Item, ScoreDef


def options(*labels: str) -> tuple[AnswerOption, ...]:
    """Answer boxes coded 0, 1, 2, ... in the order given (0 = no problem)."""
    return tuple(AnswerOption(code, label) for code, label in enumerate(labels))


SEVERITY = options("None", "Mild", "Moderate", "Severe", "Extreme")
FREQUENCY = options("Never", "Rarely", "Sometimes", "Often", "Always")
# KOOS Scoring 2012: S4/S5 ask whether the knee straightens/bends fully, so "Always" is the
# good answer and is coded 0; the labels run the other way from S1-S3.
REVERSED_FREQUENCY = options("Always", "Often", "Sometimes", "Rarely", "Never")
PAIN_FREQUENCY = options("Never", "Monthly", "Weekly", "Daily", "Always")
AWARENESS = options("Never", "Monthly", "Weekly", "Daily", "Constantly")
LIFESTYLE = options("Not at all", "Mildly", "Moderately", "Severely", "Totally")
CONFIDENCE = options("Not at all", "Mildly", "Moderately", "Severely", "Extremely")

SYMPTOMS = "Symptoms"
PAIN = "Pain"
ADL = "Function in daily living"
SPORT = "Sport and recreation"
QOL = "Quality of life"

ADL_LABELS = (
    "Descending stairs",
    "Ascending stairs",
    "Rising from sitting",
    "Standing",
    "Bending to the floor / picking up an object",
    "Walking on a flat surface",
    "Getting in/out of a car",
    "Going shopping",
    "Putting on socks",
    "Rising from bed",
    "Taking off socks",
    "Lying in bed",
    "Getting in/out of the bath",
    "Sitting",
    "Getting on/off the toilet",
    "Heavy domestic duties",
    "Light domestic duties",
)

KOOS_ITEMS: tuple[Item, ...] = (
    Item("S1", "Swelling", SYMPTOMS, FREQUENCY),
    Item("S2", "Grinding, clicking or noise", SYMPTOMS, FREQUENCY),
    Item("S3", "Catching or hanging up", SYMPTOMS, FREQUENCY),
    Item("S4", "Straighten the knee fully", SYMPTOMS, REVERSED_FREQUENCY),
    Item("S5", "Bend the knee fully", SYMPTOMS, REVERSED_FREQUENCY),
    Item("S6", "Stiffness after first wakening", SYMPTOMS, SEVERITY),
    Item("S7", "Stiffness later in the day after rest", SYMPTOMS, SEVERITY),
    Item("P1", "How often knee pain", PAIN, PAIN_FREQUENCY),
    Item("P2", "Twisting/pivoting on the knee", PAIN, SEVERITY),
    Item("P3", "Straightening the knee fully", PAIN, SEVERITY),
    Item("P4", "Bending the knee fully", PAIN, SEVERITY),
    Item("P5", "Walking on a flat surface", PAIN, SEVERITY),
    Item("P6", "Going up or down stairs", PAIN, SEVERITY),
    Item("P7", "At night while in bed", PAIN, SEVERITY),
    Item("P8", "Sitting or lying", PAIN, SEVERITY),
    Item("P9", "Standing upright", PAIN, SEVERITY),
    *(Item(f"A{n}", label, ADL, SEVERITY) for n, label in enumerate(ADL_LABELS, start=1)),
    Item("SP1", "Squatting", SPORT, SEVERITY),
    Item("SP2", "Running", SPORT, SEVERITY),
    Item("SP3", "Jumping", SPORT, SEVERITY),
    Item("SP4", "Twisting/pivoting on injured knee", SPORT, SEVERITY),
    Item("SP5", "Kneeling", SPORT, SEVERITY),
    Item("Q1", "How often aware of the knee problem", QOL, AWARENESS),
    Item("Q2", "Modified lifestyle to avoid damaging activities", QOL, LIFESTYLE),
    Item("Q3", "Troubled by lack of confidence in the knee", QOL, CONFIDENCE),
    Item("Q4", "Overall difficulty with the knee", QOL, SEVERITY),
)


def codes(prefix: str, first: int, last: int) -> tuple[str, ...]:
    """Item codes ``prefix+first`` ... ``prefix+last``."""
    return tuple(f"{prefix}{n}" for n in range(first, last + 1))


def koos_subscale(
    code: str, label: str, items: tuple[str, ...], need_2012: int, need_1998: int
) -> ScoreDef:
    """A KOOS subscale: 100 - 25 x mean of answered items, at least half answered (2012).

    KOOS Scoring 2012: scored when at least half of the items are answered, as the mean of the
    answered items; the 1998 user's guide allowed at most 2 missing items (``citations``).
    """
    return ScoreDef(
        code=code,
        label=label,
        instrument="koos",
        items=items,
        minimum=0.0,
        maximum=100.0,
        unit="points",
        higher_is_better=True,
        missing_rule=(
            f"Scored when at least {need_2012} of {len(items)} items are answered (KOOS 2012: "
            f"half the items); {need_1998} of {len(items)} with the 1998 rule (at most 2 "
            "missing). Missing items take the mean of the answered ones."
        ),
        citation=f"{citations.KOOS_2012} 1998 rule: {citations.KOOS_1998}",
        method="mean_0_100",
        min_answered=need_2012,
        min_answered_1998=need_1998,
    )


def koos_womac(code: str, label: str, items: tuple[str, ...], max_missing: int) -> ScoreDef:
    """A WOMAC subscale from KOOS answers, in the KOOS direction (0-100, 100 = no problems).

    Items per KOOS Scoring 2012; the missing rule is the WOMAC user's guide rule for that
    subscale (registry's choice: these are WOMAC scores), so the value equals 100 minus the
    WOMAC normalised score computed from the same answers.
    """
    need = len(items) - max_missing
    rule = (
        "all items must be answered"
        if max_missing == 0
        else (
            f"at most {max_missing} of {len(items)} items may be missing, replaced by the mean "
            "of the answered ones"
        )
    )
    return ScoreDef(
        code=code,
        label=label,
        instrument="koos",
        items=items,
        minimum=0.0,
        maximum=100.0,
        unit="points",
        higher_is_better=True,
        missing_rule=f"WOMAC user's guide rule: {rule}.",
        citation=f"{citations.KOOS_WOMAC} Missing rule: {citations.WOMAC_GUIDE}",
        method="mean_0_100",
        min_answered=need,
    )


SYMPTOM_CODES = codes("S", 1, 7)
PAIN_CODES = codes("P", 1, 9)
ADL_CODES = codes("A", 1, 17)
SPORT_CODES = codes("SP", 1, 5)
QOL_CODES = codes("Q", 1, 4)

KOOS = Instrument(
    code="koos",
    name="Knee injury and Osteoarthritis Outcome Score (KOOS)",
    version="koos-2012/1",
    version_1998="koos-1998/1",
    citation=citations.KOOS_2012,
    items=KOOS_ITEMS,
    scores=(
        # Minimum answered per subscale: 2012 rule (half) and 1998 rule (at most 2 missing).
        koos_subscale("koos_symptoms", "KOOS Symptoms", SYMPTOM_CODES, 4, 5),
        koos_subscale("koos_pain", "KOOS Pain", PAIN_CODES, 5, 7),
        koos_subscale("koos_adl", "KOOS Function in daily living", ADL_CODES, 9, 15),
        koos_subscale("koos_sport_rec", "KOOS Sport and recreation", SPORT_CODES, 3, 3),
        koos_subscale("koos_qol", "KOOS Quality of life", QOL_CODES, 2, 2),
        # WOMAC LK3.0 items inside the KOOS (KOOS Scoring 2012); WOMAC missing rules.
        koos_womac("koos_womac_pain", "WOMAC Pain (from KOOS)", codes("P", 5, 9), 1),
        koos_womac("koos_womac_stiffness", "WOMAC Stiffness (from KOOS)", ("S6", "S7"), 0),
        koos_womac("koos_womac_function", "WOMAC Function (from KOOS)", ADL_CODES, 3),
    ),
    recall_period="last week",
    note="No total score is defined (KOOS Scoring 2012).",
    short_name="KOOS",
    description=(
        "42 items answered 0–4, five subscales scored 0–100; higher = fewer problems."
    ),
)
