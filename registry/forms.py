"""Form helpers shared by every area."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wtforms.fields.choices import SelectChoice


def choices(options: Mapping[object, str] | Iterable[tuple[object, str]],
            *, blank: str | None = None) -> list[SelectChoice]:
    """WTForms choices from a vocabulary mapping or (value, label) pairs.

    WTForms 3.3 deprecates tuples for choices; SelectChoice is its replacement.
    ``blank`` adds a first, empty option (e.g. "— choose —").
    """
    pairs = options.items() if isinstance(options, Mapping) else options
    result = [SelectChoice("", blank)] if blank is not None else []
    result.extend(SelectChoice(str(value), label) for value, label in pairs)
    return result
