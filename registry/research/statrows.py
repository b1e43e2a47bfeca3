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
  record padded with spaces.  Coded columns are stored in 3 bytes instead of 8
  (``xportnumbers``), as SAS stores a variable of ``LENGTH 3``: the NAMESTR records'
  length and position are patched.

Tables this layout does not cover (Stata strL texts of 2,045 bytes or more, SPSS very long
strings, XPORT texts over 200 bytes) are left to pyreadstat whole: ``covers`` says so.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from registry.research.xportnumbers import xport_cells

ROWS_PER_SLICE = 200_000
# Rows turned into bytes at a time: every array of a slice stays under glibc's largest
# threshold for a fresh memory map (32 MB), so freed memory is reused rather than mapped
# (and faulted in) anew; page faults cost about 9 µs each on the machines measured.
ROWS_PER_BLOCK = 65_536
STATA_MISSING = np.uint64(0x7FE0000000000000)
STATA_TAG_STEP = 1 << 40
STATA_LONG_MISSING = 2_147_483_621
SPSS_SYSMIS = -np.finfo(np.float64).max
SPSS_CASES_RECORD = struct.pack("<4i", 7, 16, 8, 2)  # type 7, subtype 16: 2 × 8 bytes
XPORT_OBS = b"HEADER RECORD*******OBSV8   HEADER RECORD!!!!!!!"
XPORT_NAMESTRS = b"HEADER RECORD*******NAMSTV8 HEADER RECORD!!!!!!!"
XPORT_NAMESTR_SIZE = 140
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
    length: int = 8  # XPORT: the bytes of a number (3 for coded columns: ``xportnumbers``)

    def rows(self, start: int, stop: int) -> Cells:
        return replace(self, values=self.values[start:stop],
                       tags=None if self.tags is None else self.tags[start:stop],
                       codes=None if self.codes is None else self.codes[start:stop])


def covers(fmt: str, widths: list[int]) -> bool:
    """Whether the rows of a table with these string widths are written here."""
    return all(width <= STRING_LIMIT[fmt] for width in widths)


def _width_of(fmt: str, cells: Cells) -> int:
    if cells.storage != "string":
        return 4 if (fmt == "dta" and cells.storage == "long") else (
            cells.length if fmt == "xpt" else 8)
    return -(-cells.width // 8) * 8 if fmt == "sav" else cells.width


def _field_type(fmt: str, cells: Cells, width: int) -> str:
    """A column's cell type in the row: text, Stata long, Stata double bits (missing
    values are NaN-like bit patterns), SPSS double, XPORT IBM bits (big-endian)."""
    if cells.storage == "string":
        return f"S{width}"
    if fmt == "dta":
        return "<i4" if cells.storage == "long" else "<u8"
    if fmt == "xpt" and width < 8:  # the first bytes of the IBM number
        return f"V{width}"
    return "<f8" if fmt == "sav" else ">u8"


TILE_ROWS = 8192  # rows filled at a time: the tile of the row block stays in the CPU cache


def row_bytes(fmt: str, columns: list[Cells]) -> memoryview:
    """The rows of one slice in ``fmt``'s layout, handed on as they are (not copied).

    Each column is first made into its stored cells (``_stored``: contiguous, one pass per
    step), then a record type puts them at their place in the row, a tile of rows at a
    time: filling a block column by column would stream the whole block through memory
    once per column (measured: 2-3 times slower for the long table's 18 columns)."""
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
    sources = [_stored(fmt, cells, width) for cells, width in zip(columns, widths, strict=True)]
    block = np.empty(count, layout)
    fields = [block[name] for name in names]
    for start in range(0, count, TILE_ROWS):
        stop = start + TILE_ROWS
        for field, source in zip(fields, sources, strict=True):
            field[start:stop] = source[start:stop]
    return block.view(np.uint8).data


def _stored(fmt: str, cells: Cells, width: int) -> np.ndarray:
    """A column's cells as stored, in the dtype of its field (``_field_type``)."""
    if cells.storage == "string":
        text = np.array(cells.values, dtype=f"S{width}")  # a copy, NUL-padded
        if fmt != "dta" and width:  # SPSS and SAS pad text with spaces, Stata with NULs
            padded = text.view(np.uint8)
            padded[padded == 0] = 0x20
        return text
    if fmt == "dta":
        return _stata(cells)
    if fmt == "sav":
        return _spss(cells)
    return xport_cells(cells.values, cells.storage == "long", width)


def _spss(cells: Cells) -> np.ndarray:
    """Doubles; missing: system-missing, or the reason's user-missing code."""
    stored = np.where(np.isnan(cells.values), SPSS_SYSMIS, cells.values)
    if cells.codes is not None:
        coded = ~np.isnan(cells.codes)
        stored[coded] = cells.codes[coded]
    return stored


def _stata(cells: Cells) -> np.ndarray:
    """Longs or double bits; missing: ``.``, or the reason's letter (.a, .b, …)."""
    missing = np.isnan(cells.values)
    tagged = missing & (cells.tags > 0) if cells.tags is not None else None
    if cells.storage == "long":
        stored = np.where(missing, STATA_LONG_MISSING, cells.values).astype("<i4")
        if tagged is not None and cells.tags is not None:  # .a = 2,147,483,622, …
            stored[tagged] = STATA_LONG_MISSING + cells.tags[tagged].astype(np.int64)
        return stored
    bits = np.where(missing, STATA_MISSING, cells.values.view(np.uint64))
    if tagged is not None and cells.tags is not None:
        bits[tagged] = STATA_MISSING + cells.tags[tagged].astype(np.uint64) * np.uint64(
            STATA_TAG_STEP)
    return bits


def spss_text_elements(columns: list[Cells]) -> list[bool]:
    """Per 8-byte element of an SPSS row, whether it is a piece of text (else a number)."""
    return [flag for cells in columns
            for flag in ([True] * (_width_of("sav", cells) // 8) if cells.storage == "string"
                         else [False])]


SPSS_BIAS = 100  # the compression bias pyreadstat writes in the header (byte 84)
SPSS_SPACES = np.frombuffer(b" " * 8, "<u8")[0]
SPSS_SYSMIS_BITS = np.array([SPSS_SYSMIS], "<f8").view("<u8")[0]


def spss_compressed(block: bytes | memoryview, text: list[bool]) -> tuple[np.ndarray, int]:
    """Rows of an SPSS file in its bytecode compression, as ReadStat writes it (each row on
    its own; PSPP, "System File Format", compressed data): per row, blocks of 8 command
    bytes, each followed by the elements its commands did not encode.  Commands: 1–251 a
    whole number from −99 to 151 (plus the bias), 253 an element as it is, 254 eight
    spaces, 255 system-missing; a row's last block is never full (a row of 8 × k elements
    ends with an empty one).  Returns the bytes and where the last row's last command
    block starts (the end-of-data command, 252, goes there: ``RowWriter.close``)."""
    width = len(text)
    elements = np.frombuffer(block, "<u8").reshape(-1, width)
    count = len(elements)
    values = elements.view("<f8")
    with np.errstate(invalid="ignore"):
        small = (values > -SPSS_BIAS) & (values < 252 - SPSS_BIAS) & (np.trunc(values) == values)
    commands = np.full((count, width), 253, np.uint8)
    commands[small] = (values[small] + SPSS_BIAS).astype(np.uint8)
    commands[elements == SPSS_SYSMIS_BITS] = 255
    is_text = np.array(text, bool)
    if is_text.any():
        pieces = elements[:, is_text]
        commands[:, is_text] = np.where(pieces == SPSS_SPACES, 254, 253)
    blocks = width // 8 + 1
    words = np.zeros((count, blocks * 8), np.uint8)
    words[:, :width] = commands
    command_words = words.view("<u8")
    literal = commands == 253
    # Each row laid out as [commands 0–7, elements 0–7, commands 8–15, elements 8–15, …];
    # the elements a command encodes are then left out.
    always = np.ones((count, 1), bool)
    items = np.concatenate([part for number in range(blocks) for part in (
        command_words[:, number:number + 1], elements[:, number * 8:number * 8 + 8])], axis=1)
    keep = np.concatenate([part for number in range(blocks) for part in (
        always, literal[:, number * 8:number * 8 + 8])], axis=1)
    out = items[keep]
    if not count:
        return out, 0
    last_row = int(keep[-1].sum())
    before_last_block = int(keep[-1, :(blocks - 1) * 9].sum())
    return out, (len(out) - last_row + before_last_block) * 8


@dataclass(frozen=True)
class Encoded:
    """Rows as they go into the file (SPSS: compressed, with where the last row's last
    command block starts in ``data``), made on any thread by ``RowWriter.encode``."""

    data: bytes | memoryview
    rows_bytes: int  # the rows' size before compression
    last_commands: int | None = None


class RowWriter:
    """Replaces the one row of a template file (written by pyreadstat) by the rows added,
    block by block; the row count is patched in once they are all written (``close``).
    SPSS rows are compressed here (``spss_text``: the row's text elements)."""

    def __init__(self, fmt: str, path: Path, template: list[Cells]) -> None:
        """``template``: the template's one row, each column with the length its rows
        will have (pyreadstat writes every XPORT number in 8 bytes)."""
        self.fmt = fmt
        self.path = path
        template_row = bytes(row_bytes(fmt, [replace(cells, length=8) for cells in template]))
        self.size = len(template_row)
        self.spss_text = spss_text_elements(template) if fmt == "sav" else []
        self.end_of_data: int | None = None  # SPSS: where the last row's last commands are
        written = path.read_bytes()
        stored_row = template_row
        if fmt == "dta":
            start = _stata_data(written, self.size)
        elif fmt == "sav":
            if struct.unpack_from("<i", written, 72)[0] != 1 or struct.unpack_from(
                    "<d", written, 84)[0] != SPSS_BIAS:
                raise LayoutError("an SPSS template must be compressed with bias 100")
            compressed, last = spss_compressed(template_row, self.spss_text)
            row = bytearray(compressed.tobytes())
            row[last + len(self.spss_text) % 8] = 252
            stored_row = bytes(row)
            start = len(written) - len(stored_row)
        elif XPORT_OBS in written:
            start = written.index(XPORT_OBS) + 80
        else:
            raise LayoutError("no OBSV8 record in the XPORT template")
        if written[start:start + len(stored_row)] != stored_row:
            raise LayoutError(f"the {fmt} template's row is not where it was expected")
        self.head = bytearray(written[:start])
        if fmt == "xpt":
            self.size = _narrowed(self.head, [_width_of(fmt, cells) for cells in template])
        self.tail = written[start + len(stored_row):] if fmt == "dta" else b""
        self.rows = 0
        self.written = 0
        # A new file, not the template truncated: ext4 flushes a file truncated and
        # rewritten when it is closed ("auto_da_alloc"), a stall of a second per GB.
        path.unlink()
        self.out = path.open("xb")
        self.out.write(self.head)

    def encode(self, block: bytes | memoryview) -> Encoded:
        """Rows as they go into the file (thread-safe: reads the writer's settings only)."""
        if self.fmt != "sav" or not len(block):
            return Encoded(block, len(block))
        compressed, last = spss_compressed(block, self.spss_text)
        return Encoded(compressed.data, len(block), last)

    def encode_rows(self, columns: list[Cells]) -> list[Encoded]:
        """The rows of ``columns`` as they go into the file, ``ROWS_PER_BLOCK`` at a
        time (thread-safe)."""
        count = len(columns[0].values) if columns else 0
        return [self.encode(row_bytes(self.fmt, [cells.rows(start, start + ROWS_PER_BLOCK)
                                                 for cells in columns]))
                for start in range(0, count, ROWS_PER_BLOCK)]

    def add(self, blocks: list[Encoded], rows: int) -> None:
        self.rows += rows
        for encoded in blocks:
            self.written += encoded.rows_bytes
            if encoded.last_commands is not None:
                self.end_of_data = self.out.tell() + encoded.last_commands
            self.out.write(encoded.data)

    def close(self) -> None:
        """Write what follows the rows, then the header with the row count."""
        try:
            if self.written != self.rows * self.size:
                raise ValueError(f"wrote {self.written} bytes of rows for {self.rows} rows")
            if self.fmt == "xpt" and self.written % 80:
                self.out.write(b" " * (80 - self.written % 80))
            self.out.write(self.tail)
            if self.end_of_data is not None:  # SPSS: the end-of-data command
                self.out.seek(self.end_of_data + len(self.spss_text) % 8)
                self.out.write(bytes([252]))
            self.out.seek(0)
            self.out.write(_counted(self.fmt, self.head, self.rows, self.size))
        finally:
            self.out.close()

    def abort(self) -> None:
        self.out.close()


def _narrowed(head: bytearray, lengths: list[int]) -> int:
    """Patch the XPORT NAMESTR records of ``head`` to the variables' ``lengths`` (each
    numeric's length, each position after the one before); returns the row's length."""
    record = head.find(XPORT_NAMESTRS)
    if record < 0:
        raise LayoutError("no NAMESTR header record in the XPORT template")
    count = int(head[record + 54:record + 58])
    if count != len(lengths):
        raise LayoutError(f"the XPORT template has {count} variables, not {len(lengths)}")
    position = original = 0
    for index, length in enumerate(lengths):
        namestr = record + 80 + index * XPORT_NAMESTR_SIZE
        numeric = struct.unpack_from(">h", head, namestr)[0] == 1
        stored = struct.unpack_from(">h", head, namestr + 4)[0]
        if struct.unpack_from(">i", head, namestr + 84)[0] != original or stored != (
                8 if numeric else length):
            raise LayoutError("the XPORT template's NAMESTR records are not as expected")
        struct.pack_into(">h", head, namestr + 4, length)
        struct.pack_into(">i", head, namestr + 84, position)
        original += stored
        position += length
    return position


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
