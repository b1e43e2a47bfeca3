"""Plausible ranges of the numbers and dates that the clinical and follow-up forms record.

One table for every such field.  The forms validate against it (so the message names the
field and its range), the services check again (so the command line, the demo and any
other caller are held to the same ranges), and the models' CHECK constraints are written
from it where a constant bound suffices (a database cannot compare with "today").

Values that are not finite are always refused: ``nan`` passes a naive ``min <= x <= max``
test and ``inf`` breaks every export downstream (Stata cannot store it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask_babel import gettext
from wtforms.validators import StopValidation

from registry.clock import today as clock_today
from registry.vocabularies import N_

# Nobody alive was born earlier; a year such as 0001 or 1066 is a typing error.
EARLIEST_BIRTH = date(1900, 1, 1)
# Cell therapy for knee osteoarthritis (and so this registry's consent, treatment,
# visits, events and contacts) began after this date; an earlier one is a typing error.
EARLIEST_CLINICAL = date(2000, 1, 1)


def _number(value: float) -> str:
    """A bound as the reader writes numbers ("10,000" in English, "10.000" in Spanish)."""
    from registry.i18n import DEFAULT_LANGUAGE, current_language, number  # import cycle

    if current_language() == DEFAULT_LANGUAGE:
        return format(value, ",g")
    return number(value)


def _day(value: date) -> str:
    """A date bound as the reader's locale writes it (ISO in English)."""
    from registry.i18n import day  # import cycle: registry.i18n imports the models

    return day(value)


@dataclass(frozen=True)
class NumberLimit:
    """A number's plausible range, inclusive, in ``unit``; ``label`` and ``unit`` are
    ``N_``-marked, translated in the message."""

    label: str
    minimum: float
    maximum: float
    unit: str = ""

    @property
    def message(self) -> str:
        values = {"label": gettext(self.label), "minimum": _number(self.minimum),
                  "maximum": _number(self.maximum)}
        if self.unit:
            return gettext("%(label)s must be between %(minimum)s and %(maximum)s %(unit)s.",
                           unit=gettext(self.unit), **values)
        return gettext("%(label)s must be between %(minimum)s and %(maximum)s.", **values)

    def problem(self, value: Any) -> str | None:
        """The message when ``value`` is outside the range or not a finite number."""
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            return self.message
        if not math.isfinite(number) or not self.minimum <= number <= self.maximum:
            return self.message
        return None

    def check(self, column: str, *, nullable: bool = True) -> str:
        """The range as an SQL condition, for a CHECK constraint."""
        condition = f"{column} between {self.minimum:g} and {self.maximum:g}"
        return f"{column} is null or {condition}" if nullable else condition


@dataclass(frozen=True)
class DateLimit:
    """A date's plausible range: from ``earliest`` to today (+ ``days_ahead``)."""

    label: str
    earliest: date = EARLIEST_CLINICAL
    days_ahead: int = 0
    ahead_text: str = N_("today")

    def latest(self, today: date) -> date:
        return today + timedelta(days=self.days_ahead)

    def message(self, today: date) -> str:
        return gettext("%(label)s must be between %(earliest)s and %(latest_text)s "
                       "(%(latest)s).", label=gettext(self.label),
                       earliest=_day(self.earliest), latest_text=gettext(self.ahead_text),
                       latest=_day(self.latest(today)))

    def problem(self, value: date | None, today: date) -> str | None:
        """The message when ``value`` lies outside the range (None: no date, no problem)."""
        if value is None or self.earliest <= value <= self.latest(today):
            return None
        return self.message(today)

    def check(self, column: str, *, nullable: bool = True) -> str:
        """The constant lower bound as an SQL condition, for a CHECK constraint (SQLite
        stores ISO text, which compares as the dates do)."""
        condition = f"{column} >= '{self.earliest.isoformat()}'"
        return f"{column} is null or {condition}" if nullable else condition


NUMBERS: dict[str, NumberLimit] = {
    "height_cm": NumberLimit(N_("Height"), 50, 250, "cm"),
    "weight_kg": NumberLimit(N_("Weight"), 20, 350, "kg"),
    "bmi": NumberLimit(N_("BMI"), 10, 80, "kg/m²"),
    # Bone-marrow concentrates are counted in nucleated cells (up to a few billion);
    # culture-expanded cells in tens of millions.
    "cell_dose_million": NumberLimit(N_("Cell dose"), 0.01, 10_000, N_("million cells")),
    "injections": NumberLimit(N_("Number of injections"), 1, 10),
    "injection_interval_days": NumberLimit(N_("Interval between injections"), 1, 365,
                                           N_("days")),
    "volume_ml": NumberLimit(N_("Injected volume"), 0.1, 100, "mL"),
    # A product lot's release data (registry.models.products).
    "lot_cell_count_million": NumberLimit(N_("Cell count of the lot"), 0.01, 1_000_000,
                                          N_("million cells")),
    "viability_percent": NumberLimit(N_("Viability"), 0, 100, "%"),
    "cfu_f": NumberLimit(N_("CFU-F"), 0, 1_000_000, N_("colonies per million cells")),
    "marker_percent": NumberLimit(N_("Share of cells with the marker"), 0, 100, "%"),
}

DATES: dict[str, DateLimit] = {
    "birth_date": DateLimit(N_("Date of birth"), EARLIEST_BIRTH),
    "consent_date": DateLimit(N_("Consent date")),
    "treatment_date": DateLimit(N_("Treatment date")),
    "visit_date": DateLimit(N_("Visit date")),
    "onset_date": DateLimit(N_("Onset date")),
    "resolution_date": DateLimit(N_("Resolution date")),
    "withdrawn_on": DateLimit(N_("Date of withdrawal")),
    "attempted_on": DateLimit(N_("Date of the attempt")),
    # Follow-up ends a year after treatment: an appointment further ahead is a typo.
    "appointment_date": DateLimit(N_("Appointment date"), days_ahead=366,
                                  ahead_text=N_("a year from today")),
    "collection_date": DateLimit(N_("Collection date")),
    "processing_date": DateLimit(N_("Processing date")),
    # A lot may be registered long before it expires.
    "expiry_date": DateLimit(N_("Expiry date"), days_ahead=3653,
                             ahead_text=N_("ten years from today")),
    "status_date": DateLimit(N_("Date of the release status")),
}


def problems(values: dict[str, Any], today: date) -> dict[str, str]:
    """Field -> message for each value of ``values`` outside its range (for services)."""
    found: dict[str, str] = {}
    for name, value in values.items():
        if name in NUMBERS:
            message = NUMBERS[name].problem(value)
        elif name in DATES:
            message = DATES[name].problem(value, today)
        else:
            raise KeyError(f"no plausible range is defined for {name!r}")
        if message:
            found[name] = message
    return found


def number_validator(name: str) -> Callable[[Any, Any], None]:
    """A WTForms validator for the number field ``name`` (after Optional/InputRequired)."""
    limit = NUMBERS[name]

    def check(_form: Any, field: Any) -> None:
        message = limit.problem(field.data)
        if message:
            raise StopValidation(message)

    return check


def date_validator(name: str) -> Callable[[Any, Any], None]:
    """A WTForms validator for the date field ``name``.  Today is the form's
    ``site_today`` when the view set one (the patient's site), else ``clock.today()``."""
    limit = DATES[name]

    def check(form: Any, field: Any) -> None:
        message = limit.problem(field.data, getattr(form, "site_today", None) or clock_today())
        if message:
            raise StopValidation(message)

    return check
