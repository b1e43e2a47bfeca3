"""Published change thresholds (MCII, MIC, PASS) as versioned, cited sets.

A study chooses one set by its code; the registry stores that code per protocol and records it
in export manifests. Sets are data: a new set is a new entry in ``THRESHOLD_SETS`` (never an
edit of a published one; change its ``version`` only to correct a transcription error).

Flag kinds (one name each, everywhere: thresholds, change arrays, frames, exports):
- ``mcii``: minimal clinically important improvement (Tubach 2005);
- ``mic``: minimal important change (Monticone 2013, or the 2025 non-surgical set);
- ``pass``: patient acceptable symptom state, judged on the follow-up value (Tubach 2005).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scoring import citations

ThresholdKind = Literal["mcii", "mic", "pass"]
FLAG_KINDS: tuple[ThresholdKind, ...] = ("mcii", "mic", "pass")


@dataclass(frozen=True)
class Threshold:
    """A published threshold for one score.

    For ``mcii``/``mic``: ``absolute`` is the improvement in score points (positive = better)
    and ``relative_percent`` the relative improvement in percent of baseline (or None).
    For ``pass``: ``absolute`` is the cut-off of the follow-up score on the score's own scale.
    """

    score_code: str
    kind: ThresholdKind
    absolute: float
    relative_percent: float | None
    citation: str
    note: str = ""


@dataclass(frozen=True)
class ThresholdSet:
    """A named, versioned, cited choice of thresholds that a study applies as a whole."""

    code: str
    version: str
    label: str
    thresholds: tuple[Threshold, ...]
    note: str = ""


# Tubach et al., Ann Rheum Dis 2005;64:29-33 (MCII, knee OA): decrease of 19.9 mm (40.8 %) in
# pain VAS, 18.3 mm (39.0 %) in PGA, 9.1 (26.0 %) in WOMAC function 0-100; and
# Ann Rheum Dis 2005;64:34-37 (PASS, knee OA): follow-up state at most 32.3, 32.0, 31.0.
TUBACH_2005: tuple[Threshold, ...] = (
    Threshold("vas_pain", "mcii", 19.9, 40.8, citations.TUBACH_MCII),
    Threshold("pga", "mcii", 18.3, 39.0, citations.TUBACH_MCII),
    Threshold("womac_function_norm", "mcii", 9.1, 26.0, citations.TUBACH_MCII),
    Threshold("vas_pain", "pass", 32.3, None, citations.TUBACH_ACCEPTABLE_STATE),
    Threshold("pga", "pass", 32.0, None, citations.TUBACH_ACCEPTABLE_STATE),
    Threshold("womac_function_norm", "pass", 31.0, None, citations.TUBACH_ACCEPTABLE_STATE),
)

NRS_NOTE = (
    "Hip and knee OA in general practice after 7 days of usual analgesic treatment (Perrot "
    "2013); the registry's NRS asks about knee pain without the rest/movement split."
)
# Perrot & Bertin, Pain 2013;154:248-256 (knee and hip OA): MCII -1 NRS point; PASS 4 at rest
# and 5 on movement. Registry's choice: the stricter cut-off (4) for PASS, no relative MCII
# (none checked). Salaffi 2004 (chronic musculoskeletal pain) also found 1 point / 15 %.
PERROT_2013_NRS: tuple[Threshold, ...] = (
    Threshold("nrs_pain", "mcii", 1.0, None, citations.PERROT_2013, NRS_NOTE),
    Threshold(
        "nrs_pain", "pass", 4.0, None, citations.PERROT_2013,
        f"{NRS_NOTE} PASS at rest (4) chosen over on movement (5): registry's choice.",
    ),
)  # fmt: skip

MONTICONE_NOTE = (
    "Derived in rehabilitation after total knee arthroplasty, not in non-surgical knee OA."
)
# Monticone et al., Am J Phys Med Rehabil 2013;92:864-870 (KOOS MIC by subscale).
MONTICONE_2013: tuple[Threshold, ...] = tuple(
    Threshold(code, "mic", value, None, citations.MONTICONE_2013, MONTICONE_NOTE)
    for code, value in (
        ("koos_pain", 16.7),
        ("koos_symptoms", 10.7),
        ("koos_adl", 18.4),
        ("koos_sport_rec", 12.5),
        ("koos_qol", 15.6),
    )
)

NONSURGICAL_NOTE = (
    "Mild to moderate knee OA, non-surgical treatment, 4-month follow-up; predictive "
    "modelling method (PubMed 41367621)."
)
# PubMed 41367621 (2025), abstract: predictive-modelling MICs Pain 11.3, Symptoms 12.1,
# ADL 10.2, Sport/Rec 15.5, QoL 13.2.
NONSURGICAL_2025: tuple[Threshold, ...] = tuple(
    Threshold(code, "mic", value, None, citations.KOOS_MIC_NONSURGICAL_2025, NONSURGICAL_NOTE)
    for code, value in (
        ("koos_pain", 11.3),
        ("koos_symptoms", 12.1),
        ("koos_adl", 10.2),
        ("koos_sport_rec", 15.5),
        ("koos_qol", 13.2),
    )
)

THRESHOLD_SETS: dict[str, ThresholdSet] = {
    s.code: s
    for s in (
        ThresholdSet(
            code="tubach2005-monticone2013",
            version="1",
            label="Tubach 2005 (MCII, PASS) with Monticone 2013 KOOS MIC",
            thresholds=TUBACH_2005 + PERROT_2013_NRS + MONTICONE_2013,
            note=f"KOOS MIC: {MONTICONE_NOTE} NRS: Perrot 2013.",
        ),
        ThresholdSet(
            code="tubach2005-nonsurgical2025",
            version="1",
            label="Tubach 2005 (MCII, PASS) with 2025 KOOS MIC for non-surgical knee OA",
            thresholds=TUBACH_2005 + PERROT_2013_NRS + NONSURGICAL_2025,
            note=f"KOOS MIC: {NONSURGICAL_NOTE} NRS: Perrot 2013.",
        ),
    )
}

#: Today's behaviour; a protocol without a choice uses it.
DEFAULT_THRESHOLD_SET = "tubach2005-monticone2013"


def threshold_set(code: str) -> ThresholdSet:
    """The set with this code, or ValueError naming the known codes."""
    try:
        return THRESHOLD_SETS[code]
    except KeyError:
        known = ", ".join(THRESHOLD_SETS)
        raise ValueError(f"unknown threshold set {code!r}; expected one of {known}") from None


DEFAULT_THRESHOLDS: tuple[Threshold, ...] = THRESHOLD_SETS[DEFAULT_THRESHOLD_SET].thresholds
