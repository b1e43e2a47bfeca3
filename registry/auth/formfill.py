"""Put a kept form's values back into the page that shows that form.

Any page of the registry renders its forms as HTML; this fills the controls of the forms
that post to a given path with given values, the way the browser had them when the form
was sent: text-like inputs and hidden fields get the value (the hidden ``version`` too,
so a record saved by someone else meanwhile is still refused as a conflict), checkboxes
and radio buttons are checked exactly when their value was sent, options selected
likewise, textareas get their text.  CSRF tokens, passwords, files and buttons are left
as rendered.  So no view or template needs to know about kept forms.

Only the tags that change are rewritten (spliced into the original text at the
positions ``html.parser`` reports); everything else stays byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

NOT_FILLED = frozenset({"password", "file", "submit", "button", "image", "reset"})
NOT_FILLED_NAMES = frozenset({"csrf_token"})


def _tag(name: str, attrs: Sequence[tuple[str, str | None]]) -> str:
    parts = [name]
    for key, value in attrs:
        parts.append(key if value is None else f'{key}="{escape(value, quote=True)}"')
    return "<" + " ".join(parts) + ">"


def _with_flag(attrs: list[tuple[str, str | None]], flag: str,
               on: bool) -> list[tuple[str, str | None]]:
    kept = [(key, value) for key, value in attrs if key != flag]
    return [*kept, (flag, None)] if on else kept


class _Filler(HTMLParser):
    def __init__(self, html: str, page: str, action_path: str,
                 values: Mapping[str, list[str]]) -> None:
        super().__init__(convert_charrefs=False)
        self.page = page
        self.action_path = action_path
        self.values = values
        self.used: dict[str, int] = {}
        self.line_starts = [0]
        for index, char in enumerate(html):
            if char == "\n":
                self.line_starts.append(index + 1)
        self.edits: list[tuple[int, int, str]] = []
        self.in_form = False
        self.select: tuple[str, bool] | None = None  # (name, multiple)
        self.textarea_start: int | None = None
        self.textarea_value = ""

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _replace_tag(self, text: str) -> None:
        start = self._offset()
        raw = self.get_starttag_text() or ""
        self.edits.append((start, start + len(raw), text))

    def _next_value(self, name: str) -> str:
        index = self.used.get(name, 0)
        self.used[name] = index + 1
        sent = self.values[name]
        return sent[index] if index < len(sent) else sent[-1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            target = urljoin(self.page, dict(attrs).get("action") or self.page)
            self.in_form = urlsplit(target).path == self.action_path
            return
        if not self.in_form:
            return
        attributes = dict(attrs)
        name = attributes.get("name") or ""
        if "disabled" in attributes:
            return  # not sent with the form, so nothing was kept for it
        if tag == "input":
            self._input(attrs, name, (attributes.get("type") or "text").lower(),
                        attributes.get("value"))
        elif tag == "select" and name and name not in NOT_FILLED_NAMES:
            self.select = (name, "multiple" in attributes)
        elif tag == "option" and self.select is not None:
            self._option(attrs, attributes.get("value"), *self.select)
        elif tag == "textarea" and name in self.values:
            self.textarea_start = self._offset() + len(self.get_starttag_text() or "")
            self.textarea_value = self._next_value(name)

    handle_startendtag = handle_starttag

    def _input(self, attrs: list[tuple[str, str | None]], name: str, kind: str,
               value: str | None) -> None:
        if not name or name in NOT_FILLED_NAMES or kind in NOT_FILLED:
            return
        if kind in {"checkbox", "radio"}:
            sent = self.values.get(name, [])
            self._replace_tag(_tag("input", _with_flag(attrs, "checked",
                                                       (value or "on") in sent)))
        elif name in self.values:
            new = [(key, val) for key, val in attrs if key != "value"]
            self._replace_tag(_tag("input", [*new, ("value", self._next_value(name))]))

    def _option(self, attrs: list[tuple[str, str | None]], value: str | None, name: str,
                multiple: bool) -> None:
        if value is None or (name not in self.values and not multiple):
            return
        self._replace_tag(_tag("option", _with_flag(attrs, "selected",
                                                    value in self.values.get(name, []))))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea_start is not None:
            self.edits.append((self.textarea_start, self._offset(),
                               escape(self.textarea_value, quote=False)))
            self.textarea_start = None


def fill_forms(html: str, *, page: str, action_path: str,
               fields: Sequence[tuple[str, str]]) -> str:
    """``html`` with the forms posting to ``action_path`` filled with ``fields``.

    ``page`` is the page's own URL path (a form without ``action`` posts there).
    """
    values: dict[str, list[str]] = {}
    for name, value in fields:
        values.setdefault(name, []).append(value)
    filler = _Filler(html, page, action_path, values)
    filler.feed(html)
    filler.close()
    result = html
    for start, end, text in sorted(filler.edits, reverse=True):
        result = result[:start] + text + result[end:]
    return result


__all__ = ["fill_forms"]
