"""KOOS-12 and KOOS JR, the short forms scored from KOOS items (same codes and answers)."""

from __future__ import annotations

from dataclasses import replace

from scoring import citations
from scoring.definitions.koos import KOOS
from scoring.model import Instrument, Item, ScoreDef


def koos_items(codes: tuple[str, ...], group: str | None = None) -> tuple[Item, ...]:
    """The KOOS items with these codes (same labels and 0-4 answers), optionally regrouped."""
    items = tuple(KOOS.item(code) for code in codes)
    if group is None:
        return items
    return tuple(replace(item, group=group) for item in items)


def table_score(
    code: str,
    label: str,
    instrument: str,
    items: tuple[str, ...],
    table: tuple[float, ...],
    *,
    higher_is_better: bool,
    missing_rule: str,
    citation: str,
) -> ScoreDef:
    """A 0-100 interval score: the raw sum of complete responses looked up in ``table``.

    Complete responses only is the registry's choice where no missing-item rule was found
    (KOOS JR, Lyman 2016; KOOS-PS, Perruccio 2008).
    """
    return ScoreDef(
        code=code,
        label=label,
        instrument=instrument,
        items=items,
        minimum=0.0,
        maximum=100.0,
        unit="points (interval score)",
        higher_is_better=higher_is_better,
        missing_rule=missing_rule,
        citation=f"{citation} Complete-only: {citations.REGISTRY_CHOICE}",
        method="table",
        min_answered=len(items),
        table=table,
    )


def koos12_scale(code: str, label: str, items: tuple[str, ...]) -> ScoreDef:
    """A KOOS-12 scale: 100 - 25 x mean of answered items, at least 2 of 4 answered.

    Gandek et al. 2019 (``citations.KOOS12``).
    """
    return ScoreDef(
        code=code,
        label=label,
        instrument="koos12",
        items=items,
        minimum=0.0,
        maximum=100.0,
        unit="points",
        higher_is_better=True,
        missing_rule="Scored when at least 2 of 4 items are answered (mean of answered items).",
        citation=citations.KOOS12,
        method="mean_0_100",
        min_answered=2,
    )


KOOS12_PAIN = ("P1", "P5", "P6", "P8")
KOOS12_FUNCTION = ("A3", "A4", "A7", "SP4")
KOOS12_QOL = ("Q1", "Q2", "Q3", "Q4")

KOOS12 = Instrument(
    code="koos12",
    name="KOOS-12",
    version="koos12-2019/1",
    citation=citations.KOOS12,
    items=(
        koos_items(KOOS12_PAIN, "Pain")
        + koos_items(KOOS12_FUNCTION, "Function")
        + koos_items(KOOS12_QOL, "Quality of life")
    ),
    scores=(
        koos12_scale("koos12_pain", "KOOS-12 Pain", KOOS12_PAIN),
        koos12_scale("koos12_function", "KOOS-12 Function", KOOS12_FUNCTION),
        koos12_scale("koos12_qol", "KOOS-12 Quality of life", KOOS12_QOL),
        ScoreDef(
            code="koos12_summary",
            label="KOOS-12 Summary knee impact",
            instrument="koos12",
            items=KOOS12_PAIN + KOOS12_FUNCTION + KOOS12_QOL,
            minimum=0.0,
            maximum=100.0,
            unit="points",
            higher_is_better=True,
            missing_rule=(
                "Mean of the Pain, Function and QOL scales; not scored unless all three are "
                "(registry's choice)."
            ),
            citation=f"{citations.KOOS12} All-three requirement: {citations.REGISTRY_CHOICE}",
            method="mean_of_scores",
            components=("koos12_pain", "koos12_function", "koos12_qol"),
        ),
    ),
    recall_period="last week",
    short_name="KOOS-12",
    entry=False,
    derived_from=("koos",),
    timepoints="none",
    description="12 KOOS items; pain, function, quality of life and summary 0–100; "
    "higher = better. Scored from the KOOS answers.",
)

# Lyman et al. 2016: raw sum 0-28 (index) -> interval score, 100 = perfect knee health.
KOOS_JR_TABLE: tuple[float, ...] = (
    100.000, 91.975, 84.600, 79.914, 76.332, 73.342, 70.704, 68.284, 65.994, 63.776,
    61.583, 59.381, 57.140, 54.840, 52.465, 50.012, 47.487, 44.905, 42.281, 39.625,
    36.931, 34.174, 31.307, 28.251, 24.875, 20.941, 15.939, 8.291, 0.000,
)  # fmt: skip

KOOS_JR_CODES = ("S6", "P2", "P3", "P6", "P9", "A3", "A5")

KOOS_JR = Instrument(
    code="koosjr",
    name="KOOS JR (Knee injury and Osteoarthritis Outcome Score for Joint Replacement)",
    version="koosjr-2016/1",
    citation=citations.KOOS_JR,
    items=koos_items(KOOS_JR_CODES),
    scores=(
        table_score(
            "koos_jr",
            "KOOS JR",
            "koosjr",
            KOOS_JR_CODES,
            KOOS_JR_TABLE,
            higher_is_better=True,
            missing_rule=(
                "All 7 items must be answered (no official missing-item rule was found; "
                "registry's choice)."
            ),
            citation=citations.KOOS_JR,
        ),
    ),
    recall_period="last week",
    short_name="KOOS JR",
    entry=False,
    derived_from=("koos",),
    timepoints="none",
    description="7 KOOS items converted to a 0–100 interval score; higher = better. "
    "Scored from the KOOS answers.",
)
