"""The page number of a paged list, read and checked in one place.

Every paged list (patients, audit trail, worklist) takes ``page`` from the query string.
A page number must be a whole number from 1 to ``MAX_PAGE``: anything else is answered
400 with a message naming the field, never passed on as an ``OFFSET`` that overflows the
database (``?page=`` + 400 digits) and never silently replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext
from werkzeug.exceptions import BadRequest
from wtforms import IntegerField

from registry.vocabularies import N_

# 100,000 pages of 50 rows: five million rows, more than any list of the registry shows.
MAX_PAGE = 100_000
# Messages (translated when raised; ``%(maximum)s`` is ``MAX_PAGE``).
NOT_A_NUMBER = N_("Not a valid integer value.")
TOO_SMALL = N_("The page number must be 1 or more.")
TOO_LARGE = N_("The page number must be %(maximum)s or less.")


def _problem(message: str) -> ValueError:
    """The error of a bad page number, its message in the reader's language."""
    return ValueError(gettext(message, maximum=MAX_PAGE) if message is TOO_LARGE
                      else gettext(message))


def parse_page(raw: str | None) -> int:
    """``raw`` as a page number (blank: page 1); ``ValueError`` with the message if not."""
    text = (raw or "").strip()
    if not text:
        return 1
    digits = text[1:] if text[0] in "+-" else text
    if not (digits.isascii() and digits.isdigit()):  # no "1e20", no "²"
        raise _problem(NOT_A_NUMBER)
    if len(digits.lstrip("0")) > len(str(MAX_PAGE)):  # not converted: 400 digits, say
        raise _problem(TOO_SMALL if text[0] == "-" else TOO_LARGE)
    return check_page(int(text))


def check_page(value: int) -> int:
    """``value`` if it is a valid page number, else ``ValueError`` with the message."""
    if value < 1:
        raise _problem(TOO_SMALL)
    if value > MAX_PAGE:
        raise _problem(TOO_LARGE)
    return value


def page_number(args: Mapping[str, Any], name: str = "page") -> int:
    """The page number in the query string ``args``; 400 naming the field if it is bad."""
    try:
        return parse_page(args.get(name))
    except ValueError as error:
        raise BadRequest(gettext("Page (%(name)s): %(problem)s", name=name, problem=error)
                         ) from None


class PageField(IntegerField):
    """The page field of a filter form: the same rule, shown as the field's error."""

    data: int | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = parse_page(str(valuelist[0]))
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from None


__all__ = ["MAX_PAGE", "PageField", "check_page", "page_number", "parse_page"]
