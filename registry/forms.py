"""Form helpers shared by every area."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from flask import flash
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from wtforms import FloatField, ValidationError
from wtforms.fields.choices import SelectChoice

from registry.i18n import label_text

K = TypeVar("K")


def choices(options: Mapping[K, str] | Iterable[tuple[K, str]],
            *, blank: str | None = None) -> list[SelectChoice]:
    """WTForms choices from a vocabulary mapping or (value, label) pairs.

    WTForms 3.3 deprecates tuples for choices; SelectChoice is its replacement.
    ``blank`` adds a first, empty option (e.g. "— choose —").  Labels are translated
    when rendered (a vocabulary's ``N_`` labels; data such as site names pass through).
    The key type is a type variable because ``Mapping`` is invariant in its keys:
    ``Mapping[object, str]`` would refuse every ``dict[str, str]`` vocabulary.
    """
    pairs = options.items() if isinstance(options, Mapping) else options
    result = [SelectChoice("", label_text(blank))] if blank is not None else []
    result.extend(SelectChoice(str(value), label_text(label)) for value, label in pairs)
    return result


def check_choice(field: Any, message: Any) -> None:
    """Refuse a select's value that is not one of its choices (for selects built with
    ``validate_choice=False``, whose choices are filled per user)."""
    if field.data and field.data not in {choice.value for choice in field.choices}:
        raise ValidationError(message)


def attach_errors(form: Any, errors: Mapping[str, str]) -> dict[str, str]:
    """Show service errors next to their form fields.

    Returns the errors that match no field, for the caller to flash.  Every area's views
    use this, so a service's ``ValidationFailed`` / ``AccountError`` reads the same way.
    """
    unplaced: dict[str, str] = {}
    for name, message in errors.items():
        field = form._fields.get(name) if name else None
        if field is None:
            unplaced[name] = message
        else:
            field.errors = [*field.errors, message]
    return unplaced


def flash_unplaced(form: Any, errors: Mapping[str, str]) -> None:
    """Attach errors to fields and flash the ones that belong to none."""
    for message in attach_errors(form, errors).values():
        flash(message, "error")


def csrf_field() -> Markup:
    """The session's CSRF token as a hidden input without an ``id`` (a page may hold
    several forms; ids must stay unique) — for templates, as ``csrf_field()``."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


class ButtonForm(FlaskForm):
    """A button-only POST form ("Mark reviewed", "Add an unscheduled visit", the call list,
    "Unlock account"): only its CSRF token is checked.  Pages render it with
    :func:`csrf_field` instead of building the form."""


class NumberField(FloatField):
    """A decimal number as people write it: ``4.5``, or ``4,5`` where a decimal comma is
    usual (Spanish).  The fields hold measurements, never thousands, so a single comma
    without a point can only be the decimal sign; anything else is refused as before."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and isinstance(valuelist[0], str):
            text = valuelist[0].strip()
            if text.count(",") == 1 and "." not in text:
                valuelist = [text.replace(",", "."), *valuelist[1:]]
        super().process_formdata(valuelist)

