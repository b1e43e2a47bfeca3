"""Using the clinical and follow-up pages as a browser does: fetch the page, find its form,
fill the fields a user would touch, submit what the page rendered (hidden inputs, CSRF
token and version included).  Tests that use these run with CSRF protection on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from tests.fixtures.webtest import sign_in, submit, webtest

__all__ = ["fill", "form_for", "open_form", "sign_in", "submit", "unanswer", "webtest"]

# Pass as a value to ``fill`` to leave a radio group unanswered (or clear a text field).
UNANSWERED = object()


def form_for(page: webtest.TestResponse, action: str | None = None,
             field: str | None = None) -> webtest.forms.Form:
    """The page's form posting to a URL ending with ``action`` (a form without an action
    posts to the page itself), or holding the field ``field``."""
    for form in page.forms.values():
        target = form.action or page.request.path
        if action is not None and not target.endswith(action):
            continue
        if field is not None and field not in form.fields:
            continue
        return form
    pytest.fail(f"no form (action {action!r}, field {field!r}) on {page.request.path}")


def open_form(browser: webtest.TestApp, url: str, action: str | None = None,
              field: str | None = None) -> webtest.forms.Form:
    """GET ``url`` (200) and return its form (see ``form_for``)."""
    return form_for(browser.get(url, status=200), action, field)


def unanswer(form: webtest.forms.Form, name: str) -> None:
    """Leave the radio group ``name`` with no choice (nothing is sent for it)."""
    field = form[name]
    field.options = [(value, False, text) for value, _checked, text in field.options]
    field.selectedIndex = None


def _check_boxes(form: webtest.forms.Form, name: str, values: Iterable[str]) -> None:
    wanted = set(values)
    for box in form.fields[name]:
        box.checked = box._value in wanted


def fill(form: webtest.forms.Form, values: Mapping[str, Any]) -> webtest.forms.Form:
    """Type / choose ``values`` into the form as a user would.

    A value a select or radio group does not offer is forced in (what a tampered request
    sends); a list sets a group of checkboxes; ``UNANSWERED`` (or None) leaves a radio
    group unanswered.
    """
    for name, value in values.items():
        fields = form.fields.get(name)
        if not fields:
            pytest.fail(f"the form has no field {name!r}")
        field = fields[0]
        if isinstance(field, webtest.forms.Checkbox):
            if isinstance(value, list | tuple | set):
                _check_boxes(form, name, value)
            else:
                field.checked = bool(value)
        elif isinstance(field, webtest.forms.Radio | webtest.forms.Select):
            if value is None or value is UNANSWERED:
                unanswer(form, name)
            else:
                field.force_value(str(value))
        else:
            field.value = "" if value is None or value is UNANSWERED else str(value)
    return form
