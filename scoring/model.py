"""Data types that describe instruments: items, answer options and score definitions.

Everything that forms, validation, scoring and the export data dictionary need to know about an
instrument lives in instances of these frozen dataclasses (see ``scoring.definitions``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Literal

#: How an item is answered: a labelled box ("choice"), a 0-100 mm line ("line"), or a whole
#: number from ``minimum`` to ``maximum`` ("rating", e.g. NRS 0-10). Forms pick the input from it.
ItemKind = Literal["choice", "line", "rating"]
#: When an entry instrument is recorded by default: every timepoint, follow-ups only, or only
#: when a protocol chooses it.
Timepoints = Literal["all", "followup", "none"]

#: How a score is computed; each method is implemented once, in ``scoring.core``.
Method = Literal[
    "mean_0_100",  # 100 - 25 x mean of answered 0-4 items (KOOS direction, 100 = best)
    "sum_substituted",  # raw sum, missing items replaced by the mean of answered ones (WOMAC)
    "normalised",  # component / component maximum x 100 (WOMAC 0-100, higher = worse)
    "sum_of_scores",  # sum of component scores; missing when any component is missing
    "mean_of_scores",  # mean of component scores; missing when any component is missing
    "table",  # raw sum of complete responses looked up in a conversion table (KOOS JR)
    "direct",  # the answer itself (VAS, PGA, NRS, GRC)
]

KOOS_MISSING_RULES = ("2012", "1998")


class InvalidAnswer(ValueError):
    """An answer outside the item's codes or range, or a value that is not a number.

    ``item`` is the item (column) code; ``row`` is the 0-based position of the row in a frame
    (``None`` for a single response) and ``label`` the frame's index label of that row.
    """

    def __init__(
        self, item: str, message: str, *, row: int | None = None, label: object = None
    ) -> None:
        super().__init__(message)
        self.item = item
        self.message = message
        self.row = row
        self.label = label


@dataclass(frozen=True)
class AnswerOption:
    """One box of a choice item: the stored ``code`` and the label printed next to it."""

    code: int
    label: str


@dataclass(frozen=True)
class Item:
    """One question: a choice (``options``), a 0-100 mm line, or a whole-number rating.

    For choice items ``minimum``/``maximum`` are taken from the option codes (which must be
    consecutive whole numbers, e.g. 0..4 or -3..+3), so the range check of ``error_for`` and
    the vectorised check in ``scoring.core`` hold for every kind. ``anchors`` label the two
    ends of a line or rating (e.g. "No pain", "Worst imaginable pain").
    """

    code: str
    label: str
    group: str
    options: tuple[AnswerOption, ...] = ()
    minimum: int = 0
    maximum: int = 4
    unit: str = ""
    anchors: tuple[str, str] | tuple[()] = ()

    def __post_init__(self) -> None:
        """Derive the range of a choice item from its codes; reject gaps and empty ranges."""
        if self.options:
            codes = sorted(option.code for option in self.options)
            if codes != list(range(codes[0], codes[0] + len(codes))):
                raise ValueError(f"{self.code}: option codes must be consecutive, got {codes}")
            object.__setattr__(self, "minimum", codes[0])
            object.__setattr__(self, "maximum", codes[-1])
        if self.minimum > self.maximum:
            raise ValueError(f"{self.code}: minimum {self.minimum} > maximum {self.maximum}")

    @property
    def is_choice(self) -> bool:
        """True for items answered by ticking one of the labelled boxes."""
        return bool(self.options)

    @property
    def kind(self) -> ItemKind:
        """"choice" (has options), "line" (unit mm, 0-100 mm) or "rating" (whole numbers)."""
        if self.options:
            return "choice"
        if self.unit == "mm":
            return "line"
        return "rating"

    def code_for_label(self, label: str) -> int:
        """Map an answer label (case-insensitive) to its code; S4/S5 run Always=0 ... Never=4."""
        for option in self.options:
            if option.label.casefold() == label.strip().casefold():
                return option.code
        raise InvalidAnswer(self.code, f"{self.code}: {label!r} is not one of this item's answers")

    def error_for(self, value: object) -> str | None:
        """Return why ``value`` is not a valid answer, or None when it is valid or missing.

        Valid answers are whole numbers from ``minimum`` to ``maximum`` (the box codes, whole mm
        on a 100 mm line, or the points of a rating). ``None`` and NaN mean "not answered"
        and are valid.
        """
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, Real):
            return f"{self.code}: {value!r} is not a number"
        number = float(value)
        if math.isnan(number):
            return None
        if not (self.minimum <= number <= self.maximum) or number != math.floor(number):
            return f"{self.code}: {value!r} is not {self.allowed_text()}"
        return None

    def is_valid(self, value: object) -> bool:
        """True when ``value`` is a valid answer or missing (None/NaN)."""
        return self.error_for(value) is None

    def allowed_text(self) -> str:
        """Human-readable list of the allowed answers, for error messages."""
        if self.options:
            return "one of " + ", ".join(str(o.code) for o in self.options)
        return f"a whole number from {self.minimum} to {self.maximum} {self.unit}".rstrip()


@dataclass(frozen=True)
class ScoreDef:
    """One output score (one export column) and the data-driven rule that computes it.

    ``min_answered`` is how many of ``items`` must be answered (the 2012 rule for KOOS);
    ``min_answered_1998`` is the KOOS 1998 alternative. Derived scores list ``components``.
    """

    code: str
    label: str
    instrument: str
    items: tuple[str, ...]
    minimum: float
    maximum: float
    unit: str
    higher_is_better: bool
    missing_rule: str
    citation: str
    method: Method
    min_answered: int = 0
    min_answered_1998: int | None = None
    components: tuple[str, ...] = ()
    divisor: float = 1.0
    table: tuple[float, ...] = ()

    def required(self, koos_missing_rule: str = "2012") -> int:
        """How many items must be answered under the chosen KOOS missing-item rule."""
        if koos_missing_rule == "1998" and self.min_answered_1998 is not None:
            return self.min_answered_1998
        return self.min_answered


@dataclass(frozen=True)
class Instrument:
    """A questionnaire: its items in official order and the scores computed from them.

    Catalogue metadata used by the registry: ``short_name`` (headings, tabs, table labels;
    defaults to ``name``), ``entry`` (answered on a form; False for instruments only scored
    from another one's answers), ``derived_from`` (instrument codes whose answers also score
    this one), ``timepoints`` (recorded by default at every timepoint, only at follow-ups, or
    only when a protocol chooses it) and ``description`` (one sentence of help: scale, range,
    direction).
    """

    code: str
    name: str
    version: str
    citation: str
    items: tuple[Item, ...]
    scores: tuple[ScoreDef, ...]
    recall_period: str = ""
    note: str = ""
    version_1998: str | None = field(default=None)
    short_name: str = ""
    entry: bool = True
    derived_from: tuple[str, ...] = ()
    timepoints: Timepoints = "all"
    description: str = ""

    def __post_init__(self) -> None:
        """``short_name`` falls back to ``name``."""
        if not self.short_name:
            object.__setattr__(self, "short_name", self.name)

    @property
    def subscales(self) -> tuple[ScoreDef, ...]:
        """Alias of ``scores`` (every output column, subscales and totals)."""
        return self.scores

    @property
    def item_codes(self) -> tuple[str, ...]:
        """Item codes in official order; these are also the CSV/DataFrame column names."""
        return tuple(item.code for item in self.items)

    @property
    def score_codes(self) -> tuple[str, ...]:
        """Score codes in output order."""
        return tuple(score.code for score in self.scores)

    def item(self, code: str) -> Item:
        """Return the item with this code (KeyError if absent)."""
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)

    def score(self, code: str) -> ScoreDef:
        """Return the score definition with this code (KeyError if absent)."""
        for score in self.scores:
            if score.code == code:
                return score
        raise KeyError(code)

    def version_for(self, koos_missing_rule: str = "2012") -> str:
        """Scoring version string, which records the KOOS missing-item rule when it matters."""
        if koos_missing_rule == "1998" and self.version_1998 is not None:
            return self.version_1998
        return self.version
