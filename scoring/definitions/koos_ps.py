"""KOOS-PS: the 7-item KOOS physical function short form (Perruccio et al. 2008).

Items are the KOOS items (same codes and 0-4 answers): rising from bed (A10), putting on socks
(A9), rising from sitting (A3), bending to the floor (A5), twisting/pivoting (SP4), kneeling
(SP5), squatting (SP1). Raw sum 0-28 -> Rasch-based conversion table -> 0-100, where 0 = no
difficulty and 100 = extreme difficulty (the publication's direction; higher = worse).
Scored from KOOS answers when those are complete, or entered on its own (``citations.KOOS_PS``).
"""

from __future__ import annotations

from scoring import citations
from scoring.definitions.short_forms import koos_items, table_score
from scoring.model import Instrument

# Perruccio 2008 conversion table, index = raw sum 0-28, 0 = no difficulty. Checked against
# awell-health/awell-score (koos_ps_conversion_table.ts), which stores 100 minus these values.
KOOS_PS_TABLE: tuple[float, ...] = (
    0.0, 5.6, 10.5, 14.8, 18.6, 22.0, 24.9, 27.5, 29.7, 31.8,
    33.6, 35.3, 37.0, 38.6, 40.3, 42.0, 44.0, 46.1, 48.5, 51.2,
    54.4, 57.9, 62.0, 66.6, 71.8, 77.7, 84.3, 91.8, 100.0,
)  # fmt: skip

KOOS_PS_CODES = ("A10", "A9", "A3", "A5", "SP4", "SP5", "SP1")

KOOS_PS = Instrument(
    code="koos_ps",
    name="KOOS-PS (KOOS physical function short form)",
    short_name="KOOS-PS",
    version="koosps-2008/1",
    citation=citations.KOOS_PS,
    items=koos_items(KOOS_PS_CODES, "Physical function"),
    scores=(
        table_score(
            "koos_ps",
            "KOOS-PS",
            "koos_ps",
            KOOS_PS_CODES,
            KOOS_PS_TABLE,
            higher_is_better=False,
            missing_rule=(
                "All 7 items must be answered (no published missing-item rule was found; "
                "registry's choice)."
            ),
            citation=citations.KOOS_PS,
        ),
    ),
    recall_period="last week",
    derived_from=("koos",),
    # KOOS already holds these items; a protocol may record KOOS-PS alone instead.
    timepoints="none",
    description=(
        "7 KOOS function items converted to a 0–100 interval score; 0 = no difficulty, "
        "higher = more difficulty."
    ),
)
