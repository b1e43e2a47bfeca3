"""The rows of Stata, SPSS and SAS files written in bulk, into the layout pyreadstat gives.

pyreadstat passes every cell through Python (about 1 µs a cell: minutes for the long table
of 100,000 patients).  So pyreadstat writes the file's header, labels and missing
declarations from a one-row template whose strings are as wide as the table's widest, and
the rows are then written here with numpy, in slices, in exactly the byte layout of that
template's row (the tests compare both ways byte for byte):

- Stata 118: rows between ``<data>`` and ``</data>``; the number of rows in the header and
  the map's offsets of what follows the data are patched.  Doubles little-endian (missing
  ``.`` = 0x7FE0000000000000, ``.a`` … one step of 2**40 each), longs (missing
  2,147,483,621), strings NUL-padded.
- SPSS (uncompressed): rows at the end; the case count at byte 80 and in record 7.16.
  Numbers as doubles (system-missing = -DBL_MAX), strings space-padded to whole 8-byte
  segments.
- SAS XPORT 8: rows after the OBSV8 record (which holds the row count), IBM
  floating-point numbers (missing ``.`` = 0x2E), strings space-padded; the last 80-byte
  record padded with spaces.

Tables this layout does not cover (Stata strL texts of 2,045 bytes or more, SPSS very long
strings, XPORT texts over 200 bytes) are left to pyreadstat whole: ``covers`` says so.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROWS_PER_SLICE = 200_000
STATA_MISSING = np.uint64(0x7FE0000000000000)
STATA_TAG_STEP = 1 << 40
STATA_LONG_MISSING = 2_147_483_621
SPSS_SYSMIS = -np.finfo(np.float64).max
SPSS_CASES_RECORD = struct.pack("<4i", 7, 16, 8, 2)  # type 7, subtype 16: 2 × 8 bytes
XPORT_MISSING = np.uint64(0x2E00000000000000)
XPORT_OBS = b"HEADER RECORD*******OBSV8   HEADER RECORD!!!!!!!"
STRING_LIMIT = {"dta": 2044, "sav": 255, "xpt": 200}  # widest text written here, bytes


class LayoutError(ValueError):
    """pyreadstat's template is not laid out as expected (another pyreadstat version?):
    the caller lets pyreadstat write the rows itself."""


@dataclass(frozen=True)
class Cells:
    """One column of a slice of rows, ready to store."""

    storage: str  # "double", "long" or "string"
    values: np.ndarray  # float64 (NaN missing) or bytes objects (strings)
    width: int = 0  # strings: the variable's width in bytes
    tags: np.ndarray | None = None  # Stata: 0, or the letter's number (a = 1) when missing
    codes: np.ndarray | None = None  # SPSS: the user-missing code where missing, else NaN


def covers(fmt: str, widths: list[int]) -> bool:
    """Whether the rows of a table with these string widths are written here."""
    return all(width <= STRING_LIMIT[fmt] for width in widths)


def _width_of(fmt: str, cells: Cells) -> int:
    if cells.storage != "string":
        return 4 if (fmt == "dta" and cells.storage == "long") else 8
    return -(-cells.width // 8) * 8 if fmt == "sav" else cells.width


def _field_type(fmt: str, cells: Cells, width: int) -> str:
    """A column's cell type in the row: text, Stata long, Stata double bits (missing
    values are NaN-like bit patterns), SPSS double, XPORT IBM bits (big-endian)."""
    if cells.storage == "string":
        return f"S{width}"
    if fmt == "dta":
        return "<i4" if cells.storage == "long" else "<u8"
    return "<f8" if fmt == "sav" else ">u8"


def row_bytes(fmt: str, columns: list[Cells]) -> memoryview:
    """The rows of one slice in ``fmt``'s layout, handed on as they are (not copied).

    A record type puts each column's cells at their place in the row: each column is
    written straight into its field of one (rows × row length) block, so numpy copies a
    whole cell at a time and no column is copied twice."""
    widths = [_width_of(fmt, cells) for cells in columns]
    count = len(columns[0].values) if columns else 0
    names = [f"c{index}" for index in range(len(columns))]
    offsets = [int(offset) for offset in np.cumsum([0, *widths[:-1]])]
    layout = np.dtype({"names": names,
                       "formats": [_field_type(fmt, cells, width)
                                   for cells, width in zip(columns, widths, strict=True)],
                       "offsets": offsets, "itemsize": sum(widths)})
    if not layout.itemsize:
        return memoryview(b"")
    block = np.empty(count, layout)
    as_bytes = block.view(np.uint8).reshape(count, layout.itemsize)
    for name, cells, width, offset in zip(names, columns, widths, offsets, strict=True):
        field = block[name]
        if cells.storage == "string":
            field[...] = cells.values  # NUL-padded
            if fmt != "dta" and width:  # SPSS and SAS pad text with spaces, Stata with NULs
                padded = as_bytes[:, offset:offset + width]
                padded[padded == 0] = 0x20
        elif fmt == "dta":
            _stata(cells, field)
        elif fmt == "sav":
            _spss(cells, field)
        else:
            field[...] = ibm_bits(cells.values)
    return block.view(np.uint8).data


def _spss(cells: Cells, field: np.ndarray) -> None:
    """Doubles; missing: system-missing, or the reason's user-missing code."""
    field[...] = cells.values
    missing = np.isnan(cells.values)
    field[missing] = SPSS_SYSMIS
    if cells.codes is not None:
        coded = ~np.isnan(cells.codes)
        field[coded] = cells.codes[coded]


def _stata(cells: Cells, field: np.ndarray) -> None:
    """Longs or double bits; missing: ``.``, or the reason's letter (.a, .b, …)."""
    missing = np.isnan(cells.values)
    tagged = missing & (cells.tags > 0) if cells.tags is not None else None
    if cells.storage == "long":
        field[...] = np.where(missing, STATA_LONG_MISSING, cells.values)
        if tagged is not None and cells.tags is not None:  # .a = 2,147,483,622, …
            field[tagged] = STATA_LONG_MISSING + cells.tags[tagged].astype(np.int64)
        return
    field[...] = cells.values.view(np.uint64)
    field[missing] = STATA_MISSING
    if tagged is not None and cells.tags is not None:
        field[tagged] = STATA_MISSING + cells.tags[tagged].astype(np.uint64) * np.uint64(
            STATA_TAG_STEP)


def ibm_bits(values: np.ndarray) -> np.ndarray:
    """IEEE doubles as IBM hexadecimal floating point (XPORT's numbers), exactly: IBM's
    56-bit fraction holds a double's 53 bits shifted by at most 3.  Missing -> ".";
    magnitudes below 16**-65 -> 0 (the caller refuses those above 16**63)."""
    missing = np.isnan(values)
    clean = np.where(missing, 0.0, values)
    mantissa, exponent = np.frexp(np.abs(clean))  # |x| = m * 2**e, 0.5 <= m < 1
    power = -(-exponent // 4)  # IBM: |x| = f * 16**power, 1/16 <= f < 1
    fraction = (mantissa * 2.0**53).astype(np.uint64) << (exponent - 4 * power + 3).astype(
        np.uint64)
    characteristic = power + 64
    zero = (clean == 0) | (characteristic < 0)
    bits = (characteristic.clip(0, 127).astype(np.uint64) << np.uint64(56)) | fraction
    bits |= np.where(clean < 0, np.uint64(1) << np.uint64(63), np.uint64(0))
    bits[zero] = 0
    bits[missing] = XPORT_MISSING
    return bits


class RowWriter:
    """Replaces the one row of a template file (written by pyreadstat) by the rows added,
    block by block; the row count is patched in once they are all written (``close``)."""

    def __init__(self, fmt: str, path: Path, template_row: bytes) -> None:
        self.fmt = fmt
        self.path = path
        self.size = len(template_row)
        template = path.read_bytes()
        if fmt == "dta":
            start = _stata_data(template, self.size)
        elif fmt == "sav":
            if struct.unpack_from("<i", template, 72)[0] != 0:
                raise LayoutError("an SPSS template must be uncompressed")
            start = len(template) - self.size
        elif XPORT_OBS in template:
            start = template.index(XPORT_OBS) + 80
        else:
            raise LayoutError("no OBSV8 record in the XPORT template")
        if template[start:start + self.size] != template_row:
            raise LayoutError(f"the {fmt} template's row is not where it was expected")
        self.head = bytearray(template[:start])
        self.tail = template[start + self.size:] if fmt == "dta" else b""
        self.rows = 0
        self.written = 0
        self.out = path.open("wb")
        self.out.write(self.head)

    def add(self, block: bytes | memoryview, rows: int) -> None:
        self.out.write(block)
        self.rows += rows
        self.written += len(block)

    def close(self) -> None:
        """Write what follows the rows, then the header with the row count."""
        try:
            if self.written != self.rows * self.size:
                raise ValueError(f"wrote {self.written} bytes of rows for {self.rows} rows")
            if self.fmt == "xpt" and self.written % 80:
                self.out.write(b" " * (80 - self.written % 80))
            self.out.write(self.tail)
            self.out.seek(0)
            self.out.write(_counted(self.fmt, self.head, self.rows, self.size))
        finally:
            self.out.close()

    def abort(self) -> None:
        self.out.close()


def _stata_data(template: bytes, size: int) -> int:
    """Where the template's one row starts (after ``<data>``, found through the map)."""
    start_map = template.index(b"<map>") + len(b"<map>")
    offsets = struct.unpack_from("<14Q", template, start_map)
    data = offsets[9] + len(b"<data>")
    if offsets[10] - len(b"</data>") - data != size:
        raise LayoutError("the Stata template does not hold exactly one row")
    return data


def _counted(fmt: str, head: bytearray, rows: int, size: int) -> bytes:
    """The header with ``rows`` as its row count (Stata: and the map's offsets of what
    follows the data moved by the rows' length)."""
    head = bytearray(head)
    if fmt == "dta":
        start_map = head.index(b"<map>") + len(b"<map>")
        offsets = struct.unpack_from("<14Q", head, start_map)
        shift = (rows - 1) * size
        struct.pack_into("<14Q", head, start_map,
                         *(offset + shift if index >= 10 else offset
                           for index, offset in enumerate(offsets)))
        struct.pack_into("<Q", head, head.index(b"<N>") + len(b"<N>"), rows)
    elif fmt == "sav":
        struct.pack_into("<i", head, 80, rows)
        # Record 7.16 holds the case count again as a 64-bit number (after a 64-bit 1).
        record = head.find(SPSS_CASES_RECORD)
        if record >= 0:
            struct.pack_into("<q", head, record + len(SPSS_CASES_RECORD) + 8, rows)
    else:
        record = len(head) - 80
        head[record + 48:record + 63] = f"{rows:15d}".encode()
    return bytes(head)
