"""Hostile input refused before any view runs, in one place.

- Ids in URLs (``<int:...>``) are bounded: a number past the databases' 32-bit integer
  columns is answered 404 (no such record) instead of overflowing PostgreSQL's ``integer``
  or SQLite's 64-bit parameters with a 500.
- A NUL byte anywhere in the path, the query string or the form (names or values) is
  refused with 400: PostgreSQL cannot store NUL in text, and no field of the registry
  has a use for it.
- A request carrying file parts is refused with 400 unless its view is marked with
  ``accepts_uploads``: a file where a text value is expected would reach a form field as
  a ``FileStorage`` object (Flask-WTF merges files into the form data).

Undecodable bytes (invalid UTF-8) need no rule here: Werkzeug decodes the URL, query
string and form with replacement characters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# Largest id in a URL: ids are 32-bit ``integer`` columns (PostgreSQL's serial range).
MAX_ID = 2**31 - 1
UPLOADS_ATTRIBUTE = "accepts_uploads"

View = TypeVar("View", bound=Callable[..., Any])


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` limited to ASCII digits and ``MAX_ID``; anything else matches no
    record (404).  Building URLs is not checked, so ``url_for`` works with any int."""

    regex = r"[0-9]+"

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def accepts_uploads(view: View) -> View:
    """Mark a view that takes file uploads (every other view refuses file parts).

    Put it directly under ``@bp.route(...)``: the mark must be on the registered view."""
    setattr(view, UPLOADS_ATTRIBUTE, True)
    return view


class HostileInput(BadRequest):
    """A request refused before its view: the description names the field and problem."""


def _fields_with_nul(items: Iterable[tuple[str, str]]) -> list[str]:
    return sorted({name.replace("\x00", "\\0")[:40] for name, value in items
                   if "\x00" in name or "\x00" in value})


def _items(data: MultiDict[str, str]) -> list[tuple[str, str]]:
    return list(data.items(multi=True))


def check_request() -> None:
    """Refuse NUL bytes and unexpected file parts (raises ``HostileInput``)."""
    if "\x00" in request.path:
        raise HostileInput(_("The address contains a NUL byte (\\0), which is not allowed."))
    where = _fields_with_nul(_items(request.args))
    if where:
        raise HostileInput(_("%(fields)s: contains a NUL byte (\\0), which is not allowed in "
                             "any field.", fields=", ".join(where)))
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    where = _fields_with_nul(_items(request.form))
    if where:
        raise HostileInput(_("%(fields)s: contains a NUL byte (\\0), which is not allowed in "
                             "any field.", fields=", ".join(where)))
    if request.files:
        view = current_app.view_functions.get(request.endpoint or "")
        if not getattr(view, UPLOADS_ATTRIBUTE, False):
            names = ", ".join(sorted(set(request.files)))
            raise HostileInput(_("%(fields)s: a file was sent where text is expected; this "
                                 "page takes no file uploads.", fields=names))


def install_converters(app: Flask) -> None:
    """Bound every ``<int:...>`` URL part (call before the blueprints are registered)."""
    app.url_map.converters["int"] = BoundedIntegerConverter


def init_app(app: Flask) -> None:
    """Bounded URL ids, and the NUL / file-part check ahead of every other request hook."""
    install_converters(app)
    # First of the app-wide hooks: nothing (CSRF check, session, database) reads the
    # request before it has been checked.
    # (Answered by the app's HTTP error page, which shows the description.)
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)


__all__ = ["MAX_ID", "BoundedIntegerConverter", "HostileInput", "accepts_uploads",
           "check_request", "init_app"]
