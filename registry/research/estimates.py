"""The numbers of an outcome summary as plain dataclasses, and their suppressed forms.

``summary`` computes them (with numpy and pandas), ``disclosure`` hides the small ones,
``charts`` draws them and the summary page shows them.  Light (dataclasses and scoring,
which the research blueprint loads anyway), so that ``disclosure``, which every research
page uses for its counts, loads no pandas.
A suppressed count is a ``Small`` ("< k"), never its value: the fields say so in their
types.  A share's 95 % interval is Wilson's (``scoring.intervals``, Wilson 1927), in
percent like the share itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scoring.intervals import wilson_interval

if TYPE_CHECKING:  # annotations only: dataset loads pandas
    from registry.research.dataset import TimepointInfo


@dataclass(frozen=True)
class Small:
    """A count below the minimum cell size: shown as "< k", never as its value."""

    k: int

    def __str__(self) -> str:
        return f"< {self.k}"


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95 % CI from ``n`` values (``n`` a ``Small`` once suppressed)."""

    n: int | Small
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Proportion:
    """``events`` out of ``n``: the share in percent and its Wilson 95 % CI (None for n 0)."""

    n: int
    events: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.events / self.n if self.n else None

    @property
    def low(self) -> float | None:
        """Lower bound of the Wilson 95 % CI, in percent."""
        interval = wilson_interval(self.events, self.n)
        return None if interval is None else 100.0 * interval.low

    @property
    def high(self) -> float | None:
        """Upper bound of the Wilson 95 % CI, in percent."""
        interval = wilson_interval(self.events, self.n)
        return None if interval is None else 100.0 * interval.high


@dataclass(frozen=True)
class Share:
    """A suppressed share: its counts as ``Small`` where below k, no percentage or CI."""

    n: int | Small
    events: int | Small
    percent: None = None
    low: None = None
    high: None = None


@dataclass
class ScoreRow:
    group: str
    timepoint: str
    timepoint_name: str
    target_day: int
    is_baseline: bool
    value: Estimate
    change: Estimate
    flags: dict[str, Proportion | Share]


@dataclass
class Summary:
    score: str
    group_by: str | None
    groups: list[str]
    timepoints: list[TimepointInfo]
    patients: int | Small
    follow_up: list[dict[str, Any]]
    scores: list[ScoreRow]
    responders: list[dict[str, Any]]
    adverse_events: list[dict[str, Any]]
    flag_kinds: list[str]
    threshold_set: str = ""  # the code of the set that judged the flags
    # Patients per group (the legend's n of the charts); ``Small`` once suppressed.
    group_sizes: dict[str, int | Small] = field(default_factory=dict)
