"""Change from baseline, MCII / MIC / PASS flags, with thresholds kept as cited data.

One numpy implementation (``change_core``) serves the scalar ``change_from_baseline``, the
vectorised ``change_frame`` used by exports, ``change_arrays`` (one score),
``change_arrays_for_codes`` (many scores at once, as on the patient page) and
``change_arrays_by_index`` (a different score per element, as in the long export table).

Conventions (registry's documented choices):
- ``absolute`` = follow-up - baseline; ``relative`` = absolute / baseline (a fraction, 0.25 =
  25 %), None when the baseline is 0 or missing.
- ``improvement`` is direction-aware, positive = better: +absolute for KOOS (higher = better),
  -absolute for WOMAC, VAS and PGA (higher = worse); ``relative_improvement`` = improvement /
  baseline (Tubach 2005 and Pham 2004 express relative improvement this way).
- Thresholds come as cited sets (``scoring.thresholds``); flag kinds are ``FLAG_KINDS``.
- MCII (Tubach 2005) and MIC (Monticone 2013 or 2025) are reached when the improvement is at
  least the absolute threshold (``mcii_rule="absolute"``, default); ``"relative"``, ``"both"`` and
  ``"either"`` use the relative threshold too. PASS (Tubach 2005) judges the follow-up state:
  score <= cut-off on higher-is-worse scales (>= on higher-is-better ones).
- Comparisons allow a 1e-9 tolerance so that e.g. 45.3 - 35.3 counts as 10 points.
- A flag is None when it cannot be judged (no threshold for the score, or missing values).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from scoring.core import FloatArray
from scoring.instruments import SCORES
from scoring.thresholds import (
    DEFAULT_THRESHOLDS,
    FLAG_KINDS,
    Threshold,
    ThresholdKind,
)

if TYPE_CHECKING:  # pandas is imported lazily: scoring one response must not load it
    import pandas as pd

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FLAG_KINDS",
    "Change",
    "ChangeArrays",
    "Threshold",
    "ThresholdKind",
    "change_arrays",
    "change_arrays_by_index",
    "change_arrays_for_codes",
    "change_frame",
    "change_from_baseline",
]

EPSILON = 1e-9
McIIRule = Literal["absolute", "relative", "both", "either"]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Change:
    """Change of one score between baseline and follow-up (see the module docstring).

    ``flags`` maps each kind of ``FLAG_KINDS`` to True/False, or None when it cannot be
    judged (no threshold for the score, or a missing value).
    """

    score_code: str
    baseline: float | None
    followup: float | None
    absolute: float | None
    relative: float | None
    improvement: float | None
    relative_improvement: float | None
    flags: Mapping[ThresholdKind, bool | None]
    undefined_reason: str | None

    def flag(self, kind: ThresholdKind) -> bool | None:
        """The flag of this kind ("mcii", "mic" or "pass")."""
        return self.flags[kind]


def find_threshold(
    thresholds: Sequence[Threshold], score_code: str, kind: ThresholdKind
) -> Threshold | None:
    """The threshold of this kind for this score; the LAST match wins, so appending overrides."""
    found = None
    for threshold in thresholds:
        if threshold.score_code == score_code and threshold.kind == kind:
            found = threshold
    return found


def as_float_array(values: ArrayLike | Sequence[float | None]) -> FloatArray:
    """Float array with NaN for None/NA (accepts Series, lists, arrays).

    pandas values (Series, ``pd.NA``) can only exist when pandas is loaded, so it is used
    only then; plain lists and arrays go through numpy (None becomes NaN).
    """
    pd_module = sys.modules.get("pandas")
    if pd_module is not None:
        if isinstance(values, pd_module.Series):
            converted = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            converted = pd_module.array(values, dtype="Float64").to_numpy(
                np.float64, na_value=np.nan
            )
        return np.asarray(converted, dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


REASONS = np.array(
    [
        None,
        "no baseline and no follow-up value",
        "no baseline value",
        "no follow-up value",
        "baseline is 0: relative change undefined",
    ],
    dtype=object,
)


@dataclass(frozen=True)
class ChangeArrays:
    """Vectorised results: floats with NaN; each flag as (value, known) boolean arrays."""

    absolute: FloatArray
    relative: FloatArray
    improvement: FloatArray
    relative_improvement: FloatArray
    flags: dict[ThresholdKind, tuple[BoolArray, BoolArray]]
    reason: NDArray[np.object_]


@dataclass(frozen=True)
class ScoreRules:
    """Direction and thresholds of each score, as arrays that broadcast against the values.

    ``sign`` is +1 where higher is better, -1 where higher is worse. Threshold arrays hold the
    ``Threshold`` numbers (``*_relative`` as a fraction: percent / 100), NaN where the score has
    none, so one vectorised pass can judge values of many different scores at once.
    """

    sign: FloatArray
    mcii_absolute: FloatArray
    mcii_relative: FloatArray
    mic_absolute: FloatArray
    mic_relative: FloatArray
    pass_cutoff: FloatArray


def score_rules(
    score_codes: Sequence[str], thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS
) -> ScoreRules:
    """Rules of ``score_codes``, one element per code (thresholds from ``find_threshold``)."""
    columns: list[list[float]] = [[] for _ in range(6)]
    for code in score_codes:
        if code not in SCORES:
            raise ValueError(f"unknown score code {code!r}")
        mcii, mic, acceptable = (find_threshold(thresholds, code, kind) for kind in FLAG_KINDS)
        row = (
            1.0 if SCORES[code].higher_is_better else -1.0,
            np.nan if mcii is None else mcii.absolute,
            np.nan
            if mcii is None or mcii.relative_percent is None
            else mcii.relative_percent / 100.0,
            np.nan if mic is None else mic.absolute,
            np.nan if mic is None or mic.relative_percent is None else mic.relative_percent / 100.0,
            np.nan if acceptable is None else acceptable.absolute,
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return ScoreRules(*(np.array(column, dtype=np.float64) for column in columns))


@lru_cache(maxsize=256)
def rules_by_row(
    score_codes: tuple[str, ...], thresholds: tuple[Threshold, ...], ndim: int
) -> ScoreRules:
    """``score_rules`` shaped (codes, 1, ...) to broadcast along the first of ``ndim`` axes.

    Cached (read-only arrays): a page asks for the same few code lists again and again, and
    building the rules costs about as much as applying them.
    """
    shape = (len(score_codes),) + (1,) * (ndim - 1) if ndim else ()  # () only for one code
    columns = []
    for column in vars(score_rules(score_codes, thresholds)).values():
        column = column.reshape(shape)
        column.flags.writeable = False
        columns.append(column)
    return ScoreRules(*columns)


def change_core(
    rules: ScoreRules, baseline: FloatArray, followup: FloatArray, mcii_rule: McIIRule = "absolute"
) -> ChangeArrays:
    """The single implementation of change, improvement and threshold flags.

    ``rules`` broadcast against ``baseline``/``followup``; a NaN threshold leaves its flag
    unknown (as does a missing value), and NaN never meets a comparison.
    """
    has_base = ~np.isnan(baseline)
    has_follow = ~np.isnan(followup)
    both = has_base & has_follow
    absolute = followup - baseline
    nonzero = both & (baseline != 0)
    relative = np.divide(absolute, baseline, out=np.full(absolute.shape, np.nan), where=nonzero)
    improvement = rules.sign * absolute
    relative_improvement = rules.sign * relative
    flags: dict[ThresholdKind, tuple[BoolArray, BoolArray]] = {}
    kind: ThresholdKind
    for kind, by_points, by_percent in (
        ("mcii", rules.mcii_absolute, rules.mcii_relative),
        ("mic", rules.mic_absolute, rules.mic_relative),
    ):
        # MCII (Tubach 2005) / MIC (Monticone 2013): improvement of at least the threshold.
        by_abs = (improvement >= by_points - EPSILON, both & ~np.isnan(by_points))
        by_rel = (relative_improvement >= by_percent - EPSILON, nonzero & ~np.isnan(by_percent))
        flags[kind] = combine(by_abs, by_rel, mcii_rule)
    # PASS (Tubach 2005): follow-up state <= cut-off when higher is worse, >= when better.
    cutoff = rules.pass_cutoff
    acceptable = np.where(
        rules.sign > 0, followup >= cutoff - EPSILON, followup <= cutoff + EPSILON
    )
    flags["pass"] = (acceptable, has_follow & ~np.isnan(cutoff))
    # Index into REASONS: 1 neither value, 2 no baseline, 3 no follow-up, 4 baseline 0, 0 none.
    which = np.where(
        has_base,
        np.where(has_follow, np.where(nonzero, 0, 4), 3),
        np.where(has_follow, 2, 1),
    )
    reason = REASONS[which]
    return ChangeArrays(absolute, relative, improvement, relative_improvement, flags, reason)


def change_arrays(
    score_code: str,
    baseline: FloatArray,
    followup: FloatArray,
    thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS,
    mcii_rule: McIIRule = "absolute",
) -> ChangeArrays:
    """Change and flags of one score for many baseline/follow-up pairs (``change_core``)."""
    rules = rules_by_row((score_code,), tuple(thresholds), np.ndim(baseline))
    return change_core(rules, baseline, followup, mcii_rule)


def change_arrays_for_codes(
    score_codes: Sequence[str],
    baseline: FloatArray,
    followup: FloatArray,
    thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS,
    mcii_rule: McIIRule = "absolute",
) -> ChangeArrays:
    """Change and flags of many scores in one vectorised call (``change_core``).

    Row ``i`` (first axis) of ``baseline`` and ``followup`` holds values of ``score_codes[i]``,
    e.g. a (scores x visits) table; each result array has that shape. Equal, element by
    element, to ``change_arrays`` of the row's code, without a numpy pass per score.
    """
    if baseline.shape != followup.shape:
        raise ValueError("baseline and follow-up must have the same shape")
    if baseline.ndim == 0 or baseline.shape[0] != len(score_codes):
        raise ValueError("the first axis of the values must have one row per score code")
    rules = rules_by_row(tuple(score_codes), tuple(thresholds), baseline.ndim)
    return change_core(rules, baseline, followup, mcii_rule)


def change_arrays_by_index(
    score_codes: Sequence[str],
    code_index: NDArray[np.integer],
    baseline: FloatArray,
    followup: FloatArray,
    thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS,
    mcii_rule: McIIRule = "absolute",
) -> ChangeArrays:
    """Change and flags of values of mixed scores in one vectorised call (``change_core``).

    Element ``i`` of the 1-d ``baseline`` and ``followup`` holds values of
    ``score_codes[code_index[i]]`` (e.g. the score rows of a long table). Equal, element by
    element, to ``change_arrays`` of each element's code.
    """
    by_code = rules_by_row(tuple(score_codes), tuple(thresholds), 1)
    rules = ScoreRules(*(column[code_index] for column in vars(by_code).values()))
    return change_core(rules, baseline, followup, mcii_rule)


def combine(
    first: tuple[BoolArray, BoolArray], second: tuple[BoolArray, BoolArray], rule: McIIRule
) -> tuple[BoolArray, BoolArray]:
    """Three-valued (Kleene) combination of the absolute and relative criteria."""
    (a, known_a), (b, known_b) = first, second
    if rule == "absolute":
        return a & known_a, known_a
    if rule == "relative":
        return b & known_b, known_b
    true_a, false_a = a & known_a, ~a & known_a
    true_b, false_b = b & known_b, ~b & known_b
    if rule == "both":
        value, decided_false = true_a & true_b, false_a | false_b
    elif rule == "either":
        value, decided_false = true_a | true_b, false_a & false_b
    else:
        raise ValueError(f"unknown MCII rule {rule!r}")
    return value, value | decided_false


def optional(value: float) -> float | None:
    """NaN -> None for the scalar API."""
    return None if np.isnan(value) else float(value)


def change_from_baseline(
    score_code: str,
    baseline: float | None,
    followup: float | None,
    thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS,
    *,
    mcii_rule: McIIRule = "absolute",
) -> Change:
    """Change of one score for one patient; undefined parts are None with a reason."""
    base = as_float_array([baseline])
    follow = as_float_array([followup])
    arrays = change_arrays(score_code, base, follow, thresholds, mcii_rule)
    flags: dict[ThresholdKind, bool | None] = {
        name: (bool(value[0]) if known[0] else None)
        for name, (value, known) in arrays.flags.items()
    }
    return Change(
        score_code=score_code,
        baseline=optional(base[0]),
        followup=optional(follow[0]),
        absolute=optional(arrays.absolute[0]),
        relative=optional(arrays.relative[0]),
        improvement=optional(arrays.improvement[0]),
        relative_improvement=optional(arrays.relative_improvement[0]),
        flags=flags,
        undefined_reason=arrays.reason[0],
    )


def nullable_bool(value: BoolArray, known: BoolArray) -> pd.api.extensions.ExtensionArray:
    """Boolean column with <NA> where the flag cannot be judged."""
    import pandas as pd  # lazy: see the module's TYPE_CHECKING import

    return pd.arrays.BooleanArray(value & known, ~known)


def change_frame(
    score_code: str,
    baseline: ArrayLike,
    followup: ArrayLike,
    thresholds: Sequence[Threshold] = DEFAULT_THRESHOLDS,
    *,
    mcii_rule: McIIRule = "absolute",
) -> pd.DataFrame:
    """Vectorised ``change_from_baseline`` for many patients (index from ``baseline`` if any).

    Columns: absolute, relative, improvement, relative_improvement (float, NaN = undefined),
    mcii, mic, pass (nullable boolean, <NA> = cannot be judged; ``FLAG_KINDS``),
    undefined_reason (object).
    """
    import pandas as pd  # lazy: see the module's TYPE_CHECKING import

    base = as_float_array(baseline)
    follow = as_float_array(followup)
    if base.shape != follow.shape:
        raise ValueError("baseline and follow-up must have the same length")
    arrays = change_arrays(score_code, base, follow, thresholds, mcii_rule)
    index = baseline.index if isinstance(baseline, pd.Series) else None
    frame = pd.DataFrame(
        {
            "absolute": arrays.absolute,
            "relative": arrays.relative,
            "improvement": arrays.improvement,
            "relative_improvement": arrays.relative_improvement,
        },
        index=index,
    )
    for name, (value, known) in arrays.flags.items():
        frame[name] = nullable_bool(value, known)
    frame["undefined_reason"] = pd.Series(arrays.reason, index=frame.index, dtype=object)
    return frame
