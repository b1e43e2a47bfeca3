"""Rendered forms, read and filled as a user would (test_forms_as_rendered, test_hostile_input).

Forms are read by WebTest from the rendered page; ``fill`` gives every empty visible
field a plausible value by its type and name.  A field with no fill rule raises
``UnknownFillRule`` instead of being skipped, so a new form is covered the day it appears.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from scoring.textpacks import demo_pack, pack_data
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.webtest import webtest

TODAY = date(2026, 6, 1)  # pinned: dates filled in below are plausible against it
NEW_PASSWORD = "plum kettle orbit 4471 lantern"

# Fill rules by field name, where the type alone gives no plausible value.  ``None``
# leaves the field empty, with the reason.
TEXT_BY_NAME: dict[str, str | None] = {
    "kl_grade": "2",
    "code": "ZZ9",  # a new site's code: 2–8 capitals or digits
    "timezone": "Europe/Oslo",
    "phone": "+47 555 12345",
}
DATE_BY_NAME: dict[str, str | None] = {
    "birth_date": "1960-05-17",
    "appointment_date": None,  # only with the outcome "appointment booked"
    "resolution_date": None,  # only for a resolved event
}
RADIO_BY_NAME = {"serious": "no"}  # "yes" needs a criterion chosen as well
NUMBER_BY_NAME: dict[str, float] = {"height_cm": 170, "weight_kg": 80}
PASSWORD_BY_NAME = {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                    "confirm": NEW_PASSWORD, "password": NEW_PASSWORD}
NUMBER_INPUTMODES = frozenset({"numeric", "decimal"})
# Files by field name: (file name, content).  A text pack: the WOMAC demo pack in Spanish.
FILE_BY_NAME: dict[str, tuple[str, bytes]] = {
    "pack_file": ("womac.es.json", json.dumps(pack_data(demo_pack("womac", "es"))).encode()),
}


class UnknownFillRule(AssertionError):
    """A rendered field this test does not know how to fill: add a rule."""


def read_forms(page: webtest.TestResponse) -> list[webtest.forms.Form]:
    """The page's forms, each once (WebTest lists a form by index and by id)."""
    unique = {id(form): form for key, form in page.forms.items() if isinstance(key, int)}
    return list(unique.values())


def kind(field: webtest.forms.Field) -> str:
    """The input type (text, date, number, hidden, ...), "textarea" or "select"."""
    return str(field.attrs.get("type") or field.tag).lower()


def is_number(field: webtest.forms.Field) -> bool:
    return kind(field) == "number" or field.attrs.get("inputmode") in NUMBER_INPUTMODES


def drop_disabled(form: webtest.forms.Form) -> None:
    """Leave out the disabled fields: a browser does not send them."""
    form.field_order = [(name, field) for name, field in form.field_order
                        if "disabled" not in field.attrs]
    form.fields = {name: [field for field in fields if "disabled" not in field.attrs]
                   for name, fields in form.fields.items()}


@dataclass(frozen=True)
class Control:
    """One named field of a form (all the fields of that name): what can be sent in it."""

    name: str
    kind: str
    is_number: bool
    options: tuple[str, ...]  # of a select, radio or checkbox

    @property
    def is_date(self) -> bool:
        return self.kind == "date"

    @property
    def is_choice(self) -> bool:
        return self.kind in {"radio", "checkbox", "select"}


def controls(form: webtest.forms.Form) -> list[Control]:
    """The form's named fields a user fills in, in page order (not buttons nor files)."""
    drop_disabled(form)
    found: dict[str, Control] = {}
    for name, field in form.field_order:
        if name is None or name in found or isinstance(
                field, webtest.forms.Submit | webtest.forms.File):
            continue
        fields = form.fields[name]
        if isinstance(field, webtest.forms.Select):  # radio buttons too
            options = tuple("on" if value is None else value
                            for value, _checked, _text in field.options)
        else:
            options = tuple(item._value or "on" for item in fields
                            if isinstance(item, webtest.forms.Checkbox))
        found[name] = Control(name, kind(field), is_number(field), options)
    return list(found.values())


def _date_value(name: str, attrs: dict) -> str | None:
    if name in DATE_BY_NAME:
        return DATE_BY_NAME[name]
    value = TODAY
    if attrs.get("min"):
        value = max(value, date.fromisoformat(attrs["min"]))
    if attrs.get("max"):
        value = min(value, date.fromisoformat(attrs["max"]))
    return value.isoformat()


def _number_value(name: str, attrs: dict) -> str:
    low, high = (float(attrs[key]) if attrs.get(key) else None for key in ("min", "max"))
    value = NUMBER_BY_NAME.get(name)
    if value is None:
        value = (low + high) / 2 if low is not None and high is not None else (
            low + 1 if low is not None else 1)
    value = min(max(value, low if low is not None else value),
                high if high is not None else value)
    return str(int(value)) if attrs.get("step", "1") == "1" else str(value)


def _text_value(field: webtest.forms.Field, name: str, email: str) -> str | None:
    field_kind = kind(field)
    if field_kind == "password":
        if name not in PASSWORD_BY_NAME:
            raise UnknownFillRule(f"password field {name!r}: add it to PASSWORD_BY_NAME")
        return PASSWORD_BY_NAME[name]
    if field_kind == "email":
        return email
    if field_kind == "date":
        return _date_value(name, field.attrs)
    if is_number(field):
        return _number_value(name, field.attrs)
    if field_kind in ("text", "textarea"):
        return TEXT_BY_NAME.get(name, "test")
    raise UnknownFillRule(f"field {name!r} of type {field_kind!r}: no fill rule")


def _first_valid(field: webtest.forms.Select, name: str) -> str:
    valid = [value for value, _checked, _text in field.options if value]
    if not valid:
        raise UnknownFillRule(f"choice {name!r} offers no valid option")
    return valid[0]


def _asks_for_a_choice(field: webtest.forms.Select) -> bool:
    """A blank option is a placeholder ("Choose…") in a required select or when it says
    so; otherwise it is an answer ("— none recorded —") and is kept."""
    blank = next((text for value, _checked, text in field.options if not value), "")
    return "required" in field.attrs or "choose" in (blank or "").lower()


def fill(form: webtest.forms.Form, email: str, overrides: dict[str, str]) -> None:
    """Give every empty visible field a plausible value, as a user would
    (``overrides``: values for named fields of this form, e.g. a sign-in's credentials)."""
    drop_disabled(form)
    for name, field in form.field_order:
        if name in overrides:
            field.value = overrides[name]
        elif isinstance(field, webtest.forms.Submit | webtest.forms.Hidden
                        | webtest.forms.Checkbox):
            continue  # sent as rendered (checkboxes as ticked)
        elif isinstance(field, webtest.forms.File):
            if name not in FILE_BY_NAME:
                raise UnknownFillRule(f"file field {name!r}: no fill rule")
            field.value = webtest.forms.Upload(*FILE_BY_NAME[name])
        elif isinstance(field, webtest.forms.MultipleSelect):
            if not field.value:
                field.value = [_first_valid(field, name)]  # type: ignore[arg-type]
        elif isinstance(field, webtest.forms.Radio):
            if field.value is None:  # none ticked ("Not answered" ticked is an answer)
                field.value = RADIO_BY_NAME.get(name) or _first_valid(field, name)
        elif isinstance(field, webtest.forms.Select):
            if not field.value and _asks_for_a_choice(field):
                field.value = _first_valid(field, name)
        elif field.value == "" and "readonly" not in field.attrs:
            value = _text_value(field, name, email)
            if value is not None:
                field.value = value


def as_submitted(form: webtest.forms.Form) -> list[tuple[str, str]]:
    """What a browser sends for the form: its fields, and its first submit button pressed
    (with its name and value when it has a name)."""
    pressed = next((name for name, field in form.field_order
                    if isinstance(field, webtest.forms.Submit)), None)
    return [(name, _file_part(value) if isinstance(value, webtest.forms.File) else value)
            for name, value in form.submit_fields(pressed)]


class FilePart(NamedTuple):
    """A chosen file in a submission; ``part()`` is what Flask's test client sends (a fresh
    stream each time: the client closes the stream it was given)."""

    filename: str
    content: bytes

    def part(self) -> tuple[io.BytesIO, str]:
        return io.BytesIO(self.content), self.filename


def _file_part(field: webtest.forms.File) -> FilePart:
    upload = field.value
    return FilePart(upload.filename, upload.content)
