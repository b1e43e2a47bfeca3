"""OMERACT-OARSI 2004 responder classification (Pham et al., Osteoarthritis Cartilage 2004).

On 0-100 scales where higher = worse, improvement = baseline - follow-up and relative
improvement = improvement / baseline. A patient responds when
1. pain or function improves by >= 50 % and >= 20 points, or
2. at least two of pain, function and patient global improve by >= 20 % and >= 10 points.
A baseline of 0 makes the relative change undefined: that criterion is then not met (Pham 2004).

Sources per domain (registry's choice: the first whose baseline AND follow-up are both present):
pain = vas_pain, else womac_pain_norm, else 100 - koos_womac_pain; function = womac_function_norm,
else 100 - koos_womac_function (KOOS scales flipped as the criteria require); global = pga.
The result is None (undefined) only when the missing domains could still change the answer.
One numpy implementation serves the scalar and the frame versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from scoring.change import EPSILON, BoolArray, as_float_array, optional
from scoring.core import FloatArray

if TYPE_CHECKING:  # pandas is imported lazily: classifying one patient must not load it
    import pandas as pd

#: Per domain: (score code, flip) in order of preference; flip = use 100 - score (KOOS).
SOURCES: dict[str, tuple[tuple[str, bool], ...]] = {
    "pain": (("vas_pain", False), ("womac_pain_norm", False), ("koos_womac_pain", True)),
    "function": (("womac_function_norm", False), ("koos_womac_function", True)),
    "global": (("pga", False),),
}
DOMAINS = ("pain", "function", "global")
#: Every score the criteria read, sorted.
SOURCE_CODES: tuple[str, ...] = tuple(sorted(
    {code for sources in SOURCES.values() for code, _flip in sources}))


@dataclass(frozen=True)
class DomainChange:
    """One domain on the 0-100 higher-is-worse scale; None where undefined."""

    source: str | None
    baseline: float | None
    followup: float | None
    improvement: float | None
    relative: float | None


@dataclass(frozen=True)
class Responder:
    """Responder status (None = undefined) and the criterion met, or why not / undefined."""

    responder: bool | None
    criterion: str
    pain: DomainChange
    function: DomainChange
    global_: DomainChange


@dataclass(frozen=True)
class DomainArrays:
    """Vectorised values of one domain (or of all, stacked: see ``domain_table``)."""

    source: NDArray[np.object_]
    baseline: FloatArray
    followup: FloatArray
    improvement: FloatArray
    relative: FloatArray
    known: BoolArray
    high: BoolArray
    moderate: BoolArray


# SOURCES as a (domain, preference) table padded with None, so one set of numpy calls
# serves all domains: numpy's cost per call dominates when there are few rows.
SLOTS = max(len(sources) for sources in SOURCES.values())
SOURCE_TABLE: list[list[tuple[str, bool] | None]] = [
    [*SOURCES[name], *([None] * (SLOTS - len(SOURCES[name])))] for name in DOMAINS
]
SOURCE_NAMES = np.array(
    [[None if slot is None else slot[0] for slot in slots] for slots in SOURCE_TABLE],
    dtype=object,
)
FLIPPED = np.array([[slot is not None and slot[1] for slot in slots] for slots in SOURCE_TABLE])


def domain_table(
    baseline: Mapping[str, FloatArray], followup: Mapping[str, FloatArray], rows: int
) -> DomainArrays:
    """Every domain's source, improvement and criteria; row i of each array is DOMAINS[i].

    The source is the first in ``SOURCES`` order whose baseline AND follow-up are present.
    """
    missing = np.full(rows, np.nan)

    def by_slot(scores: Mapping[str, FloatArray]) -> FloatArray:
        table = [
            scores.get(slot[0], missing) if slot else missing
            for slots in SOURCE_TABLE
            for slot in slots
        ]
        return np.array(table, dtype=np.float64).reshape(len(DOMAINS), SLOTS, rows)

    base_by_slot, follow_by_slot = by_slot(baseline), by_slot(followup)
    present = ~np.isnan(base_by_slot) & ~np.isnan(follow_by_slot)
    # KOOS direction (100 = best) -> higher = worse, as Pham 2004 requires.
    flipped = FLIPPED[:, :, np.newaxis]
    base_by_slot = np.where(flipped, 100.0 - base_by_slot, base_by_slot)
    follow_by_slot = np.where(flipped, 100.0 - follow_by_slot, follow_by_slot)
    first = np.argmax(present, axis=1)  # (domain, row): first present source, 0 if none
    found = present.any(axis=1)
    domain, row = np.arange(len(DOMAINS))[:, np.newaxis], np.arange(rows)
    base = np.where(found, base_by_slot[domain, first, row], np.nan)
    follow = np.where(found, follow_by_slot[domain, first, row], np.nan)
    source = np.asarray(np.where(found, SOURCE_NAMES[domain, first], None), dtype=object)
    known = ~np.isnan(base)
    improvement = base - follow
    positive = known & (base > 0)
    relative = np.divide(improvement, base, out=np.full(base.shape, np.nan), where=positive)
    with_relative = positive & ~np.isnan(relative)
    high = with_relative & (improvement >= 20 - EPSILON) & (relative >= 0.5 - EPSILON)
    moderate = with_relative & (improvement >= 10 - EPSILON) & (relative >= 0.2 - EPSILON)
    return DomainArrays(
        source, base, follow, improvement, relative, known, high, moderate
    )


def domain_arrays(table: DomainArrays) -> dict[str, DomainArrays]:
    """``domain_table``'s rows by domain name."""
    columns = [getattr(table, f.name) for f in fields(DomainArrays)]
    return {
        name: DomainArrays(*(column[i] for column in columns)) for i, name in enumerate(DOMAINS)
    }


def lookup(table: list[str], code: NDArray[np.int64]) -> NDArray[np.object_]:
    """Vectorised string lookup by integer code."""
    return np.asarray(np.array(table, dtype=object)[code], dtype=object)


def subsets(names: tuple[str, ...], joiner: str) -> list[str]:
    """Text for every subset of ``names`` indexed by bit mask (bit i = names[i])."""
    return [
        joiner.join(name for i, name in enumerate(names) if mask >> i & 1)
        for mask in range(2 ** len(names))
    ]


DOMAIN_BITS = np.array([2**i for i in range(len(DOMAINS))], dtype=np.int64)  # bit i = DOMAINS[i]
# Criterion texts indexed by bit mask (bit i = DOMAINS[i]; for HIGH_TEXTS: pain, function),
# built once rather than on every call.
HIGH_TEXTS = [
    "",
    "high improvement in pain",
    "high improvement in function",
    "high improvement in pain and function",
]
TWO_TEXTS = [
    f"improvement of >= 20 % and >= 10 points in {bin(mask).count('1')} of 3: {names}"
    for mask, names in enumerate(subsets(DOMAINS, ", "))
]
MISSING_TEXTS = ["undefined: no baseline and follow-up for " + s for s in subsets(DOMAINS, ", ")]
NOT_MET_TEXTS = [
    "not met",
    *(f"not met ({s}: baseline 0, relative change undefined)" for s in subsets(DOMAINS, ", ")[1:]),
]


def responder_arrays(
    baseline: Mapping[str, FloatArray], followup: Mapping[str, FloatArray], rows: int
) -> tuple[BoolArray, BoolArray, NDArray[np.object_], dict[str, DomainArrays]]:
    """The single implementation: (responder, known, criterion text, domain details)."""
    table = domain_table(baseline, followup, rows)
    moderate = table.moderate.astype(np.int64)
    unknown = (~table.known).astype(np.int64)
    zero = (table.known & (table.baseline == 0)).astype(np.int64)
    high_code = DOMAIN_BITS[:2] @ table.high[:2].astype(np.int64)  # bit 0 pain, bit 1 function
    moderate_code = DOMAIN_BITS @ moderate
    missing_code = DOMAIN_BITS @ unknown
    zero_code = DOMAIN_BITS @ zero
    moderate_count = moderate.sum(axis=0)
    unknown_count = unknown.sum(axis=0)
    pain_known, function_known = table.known[0], table.known[1]  # DOMAINS order
    high = high_code > 0
    two = moderate_count >= 2
    responder = high | two
    # Undefined when a missing pain/function could still be a high improvement, or missing
    # domains could still make two moderate improvements.
    undefined = ~responder & (~pain_known | ~function_known | (moderate_count + unknown_count >= 2))
    known = ~undefined
    high_text = lookup(HIGH_TEXTS, np.asarray(high_code, dtype=np.int64))
    two_text = lookup(TWO_TEXTS, np.asarray(moderate_code, dtype=np.int64))
    missing_text = lookup(MISSING_TEXTS, np.asarray(missing_code, dtype=np.int64))
    not_met = lookup(NOT_MET_TEXTS, np.asarray(zero_code, dtype=np.int64))
    criterion = np.where(
        high, high_text, np.where(two, two_text, np.where(undefined, missing_text, not_met))
    ).astype(object)
    return responder, known, criterion, domain_arrays(table)


def domain_change(arrays: DomainArrays) -> DomainChange:
    """Scalar view of a one-row domain result."""
    return DomainChange(
        source=arrays.source[0],
        baseline=optional(arrays.baseline[0]),
        followup=optional(arrays.followup[0]),
        improvement=optional(arrays.improvement[0]),
        relative=optional(arrays.relative[0]),
    )


def omeract_oarsi(
    baseline: Mapping[str, float | None], followup: Mapping[str, float | None]
) -> Responder:
    """Classify one patient from score dicts keyed by score code (vas_pain, pga, ...)."""
    codes = {code for sources in SOURCES.values() for code, _ in sources}
    base = {c: as_float_array([baseline.get(c)]) for c in codes}
    follow = {c: as_float_array([followup.get(c)]) for c in codes}
    responder, known, criterion, d = responder_arrays(base, follow, 1)
    return Responder(
        responder=bool(responder[0]) if known[0] else None,
        criterion=str(criterion[0]),
        pain=domain_change(d["pain"]),
        function=domain_change(d["function"]),
        global_=domain_change(d["global"]),
    )


def omeract_oarsi_frame(baseline_df: pd.DataFrame, followup_df: pd.DataFrame) -> pd.DataFrame:
    """Vectorised classification; rows are matched by position (index from ``baseline_df``).

    Absent score columns count as missing. Columns: responder (nullable boolean), criterion,
    and per domain ``<domain>_source``, ``_improvement`` and ``_relative``.
    """
    import pandas as pd  # lazy: see the module's TYPE_CHECKING import

    if len(baseline_df) != len(followup_df):
        raise ValueError("baseline and follow-up frames must have the same number of rows")
    rows = len(baseline_df)
    codes = {code for sources in SOURCES.values() for code, _ in sources}
    base = {c: as_float_array(baseline_df[c]) for c in codes if c in baseline_df.columns}
    follow = {c: as_float_array(followup_df[c]) for c in codes if c in followup_df.columns}
    responder, known, criterion, d = responder_arrays(base, follow, rows)
    frame = pd.DataFrame(index=baseline_df.index)
    frame["responder"] = pd.arrays.BooleanArray(responder & known, ~known)
    frame["criterion"] = pd.Series(criterion, index=frame.index, dtype=object)
    for name in DOMAINS:
        frame[f"{name}_source"] = pd.Series(d[name].source, index=frame.index, dtype=object)
        frame[f"{name}_improvement"] = d[name].improvement
        frame[f"{name}_relative"] = d[name].relative
    return frame
