"""XML text made fast and safe: escaping, and whole columns of elements at once (Arrow).

A large ODM export writes millions of ``<ItemData …/>`` elements: they are built a column
at a time with Arrow's string kernels (C++, no Python object per value) and handed to the
file as byte slices of the Arrow buffers (``Texts``).  Every text value is escaped for an
XML attribute, and characters XML 1.0 cannot hold (control characters, U+FFFE/U+FFFF) are
replaced by U+FFFD, so any stored text makes a well-formed file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from flask_babel import gettext as _

from registry.services import ValidationFailed

NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
NOT_XML_RE2 = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
           ("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#9;"))


def attr(value: object) -> str:
    """``value`` as the text of a double-quoted XML attribute."""
    text = NOT_XML.sub("\ufffd", str(value))
    for char, entity in ESCAPES:
        text = text.replace(char, entity)
    return text


def text(value: object) -> str:
    """``value`` as XML element text."""
    return attr(value)


def decimal_text(value: float) -> str:
    """A finite float as an xs:decimal (no exponent): the shortest repr, spelled out."""
    shortest = repr(float(value))
    if "e" not in shortest and "E" not in shortest:
        return shortest[:-2] if shortest.endswith(".0") else shortest
    return format(Decimal(shortest), "f")


def escape_array(values: pa.Array) -> pa.Array:
    """A string array escaped for XML attributes (nulls stay null)."""
    out = pc.replace_substring_regex(values, NOT_XML_RE2, "\ufffd")
    for char, entity in ESCAPES:
        out = pc.replace_substring(out, char, entity)
    return out


def value_strings(values: pa.Array, column: str) -> pa.Array:
    """An Arrow column's values as ODM value text (null stays null): codes as they are,
    booleans 1/0, whole numbers, decimals without exponent, text escaped.  A value that
    is not a finite number is refused with a message naming the column (never a 500)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_boolean(kind):
        return pc.if_else(values, "1", "0")
    if pa.types.is_integer(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_floating(kind):
        return float_strings(values, column)
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    return escape_array(pc.cast(values, pa.string()))


def float_strings(values: pa.Array, column: str) -> pa.Array:
    """Floats as decimals; NaN is missing; infinity is refused naming the column."""
    values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
    bad = pc.and_kleene(pc.invert(pc.is_finite(values)), pc.is_valid(values))
    if pc.any(bad).as_py():
        found = values.filter(bad)[0].as_py()
        raise ValidationFailed({"format": _(
            "ODM: column %(column)s holds a value that is not a finite number (%(value)s); "
            "correct the stored value, or export another format.", column=column,
            value=found)})
    out = pc.cast(values, pa.string())
    exponent = pc.fill_null(pc.match_substring(out, "e"), False)
    if pc.any(exponent).as_py():  # rare: very large or very small numbers
        fixed = [None if v is None or "e" not in v else decimal_text(float(v))
                 for v in out.to_pylist()]
        out = pc.if_else(exponent, pa.array(fixed, pa.string()), out)
    return out


def elements(prefix: str, values: pa.Array, suffix: str = '"/>') -> pa.Array:
    """``prefix + value + suffix`` per value; "" where the value is null."""
    joined = pc.binary_join_element_wise(prefix, values, suffix, "")
    return pc.fill_null(joined, "")


def concat(parts: Sequence[pa.Array | str], length: int) -> pa.Array:
    """Element-wise concatenation of string arrays and constant strings."""
    arrays = [part for part in parts if not isinstance(part, str) or part]
    if not arrays:
        return pa.array([""] * length, pa.string())
    if all(isinstance(part, str) for part in arrays):
        return pa.array(["".join(arrays)] * length, pa.string())  # type: ignore[arg-type]
    return pc.binary_join_element_wise(*arrays, "")


def wrap_nonempty(head: str, body: pa.Array, tail: str) -> pa.Array:
    """``head + body + tail`` where ``body`` is not empty, else ""."""
    empty = pc.equal(pc.binary_length(body), 0)
    return pc.if_else(empty, "", pc.binary_join_element_wise(head, body, tail, ""))


class Texts:
    """A string array's values as byte slices of its buffer (no Python str per value)."""

    def __init__(self, values: pa.Array) -> None:
        values = pc.fill_null(values, "")
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.length = len(values)
        buffers = values.buffers()
        offsets = np.frombuffer(buffers[1], dtype=np.int32) if buffers[1] else np.zeros(1)
        self.offsets = offsets[values.offset:values.offset + self.length + 1].astype(np.int64)
        self.data = memoryview(buffers[2]) if buffers[2] is not None else memoryview(b"")

    def __len__(self) -> int:
        return self.length

    def item(self, index: int) -> memoryview:
        return self.data[self.offsets[index]:self.offsets[index + 1]]

    def span(self, start: int, stop: int) -> memoryview:
        """Values ``start`` … ``stop - 1`` as one slice (they are contiguous)."""
        return self.data[self.offsets[start]:self.offsets[stop]]
