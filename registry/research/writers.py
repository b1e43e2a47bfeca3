"""Writing export tables to files: CSV and Parquet into a zip, or one Excel workbook.

CSV and Parquet go through pyarrow piece by piece (``Table.chunks`` / ``Table.build``), so a
large long table is never held whole: while the calling thread reads the next piece from
the database, worker threads build pieces into Arrow tables (and CSV text), and one writer
thread writes them in order, hashing (SHA-256) as it writes.  Stata, SPSS and SAS files
are written by ``statfiles`` (pyreadstat); Excel through openpyxl, tables as sheets.
``ZipAssembler`` puts the files into the delivered zip as they are written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from flask_babel import gettext as _

from registry.research.tables import Table
from registry.spreadsheet import escape_arrow, escape_frame

BUILD_THREADS = 2  # pieces built at the same time (numpy and Arrow release the GIL)
IN_FLIGHT = 4  # pieces read but not yet written: bounds the memory of a long table
EXCEL_MAX_ROWS = 1_048_575  # a sheet's rows minus the header
# Cells of one workbook at most: openpyxl writes 4–10 µs a cell, so an Excel export at
# this limit takes about 10–25 s on the 2-core benchmark machine (benchmarks/results/
# export.txt), a 100,000-patient one minutes; CSV, which Excel opens too, Parquet and the
# statistics formats hold any size.
EXCEL_MAX_CELLS = 1_500_000
EXCEL_PIECE_ROWS = 2_000  # rows converted to Python values at a time (Excel)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed member times: no export date inside the zip
STORE_ABOVE = 64 * 1024 * 1024  # bytes of tables above which the zip is not compressed
COPY_BLOCK = 8 * 1024 * 1024  # bytes read at a time when a written file joins the zip
Progress = Callable[[int], None]
Piece = TypeVar("Piece")
Done = TypeVar("Done")


class ExportTooLarge(ValueError):
    """The chosen format cannot hold the table (Excel's row limit; a value a Stata, SPSS or
    SAS file cannot store: ``statfiles.CannotStore``)."""


class BinarySink(Protocol):
    """Where a ``HashingWriter`` passes its bytes: a zip member or a spilling file."""

    def write(self, data: Any, /) -> int: ...

    def flush(self) -> None: ...


class HashingWriter:
    """A binary sink that passes bytes on and keeps their SHA-256 and count."""

    def __init__(self, raw: BinarySink) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False
        self.helper: ThreadPoolExecutor | None = None  # see ``hashing_on``
        self.hashing: Future[None] | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        if self.helper is not None:
            self._hashed()
            self.hashing = self.helper.submit(self.digest.update, view)
        else:
            self.digest.update(view)
        self.raw.write(view)
        self.size += len(view)
        return len(view)

    def _hashed(self) -> None:
        if self.hashing is not None:
            self.hashing.result()
            self.hashing = None

    @contextmanager
    def hashing_on(self, helper: ThreadPoolExecutor) -> Iterator[None]:
        """Hash on ``helper``'s thread while the bytes are passed on (SHA-256 runs at
        about 1 GB/s and releases the GIL).  Only for bytes nobody changes afterwards
        (``ZipAssembler.add_file``'s blocks): the hash reads them after ``write`` returns."""
        self.helper = helper
        try:
            yield
        finally:
            self._hashed()
            self.helper = None

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def locked(progress: Progress | None) -> Progress | None:
    """``progress`` made safe to call from several threads (once: a locked one is
    returned as it is)."""
    if progress is None or getattr(progress, "locked", False):
        return progress
    lock = threading.Lock()

    def report(count: int) -> None:
        with lock:
            progress(count)

    report.locked = True  # type: ignore[attr-defined]
    return report


def in_order(pieces: Iterable[Piece], work: Callable[[Piece], Done],
             consume: Callable[[Done], None]) -> None:
    """``consume(work(piece))`` for every piece, in order: pieces are read here (they may
    read the database: the session's thread), worked on by ``BUILD_THREADS`` worker
    threads and consumed on one writer thread; at most ``IN_FLIGHT`` wait."""

    def consume_when_done(done: Future[Done]) -> None:
        consume(done.result())

    with ThreadPoolExecutor(BUILD_THREADS, thread_name_prefix="export-build") as builders, \
            ThreadPoolExecutor(1, thread_name_prefix="export-write") as writer:
        pending: deque[Future[None]] = deque()
        try:
            for piece in pieces:
                pending.append(writer.submit(consume_when_done, builders.submit(work, piece)))
                while pending and (len(pending) > IN_FLIGHT or pending[0].done()):
                    pending.popleft().result()
            while pending:
                pending.popleft().result()
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def pipeline(table: Table, transform: Callable[[pa.Table], Any],
             consume: Callable[[Any], None]) -> None:
    """``consume(transform(table.build(piece)))`` for every piece of the table, in order
    (``in_order``)."""
    in_order(table.chunks(), lambda piece: transform(table.build(piece)), consume)


BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark: Excel then reads the file as UTF-8


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Categoricals (dictionaries) as their values: CSV holds the codes as text; booleans
    as 0 / 1 (what R, Stata, SPSS and SAS read as numbers)."""
    def plain(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_dictionary(kind):
            return kind.value_type
        return pa.int8() if pa.types.is_boolean(kind) else kind

    return pa.schema([pa.field(f.name, plain(f.type)) for f in schema])


def _csv_room(rows: pa.Table) -> int | None:
    """Bytes the CSV text of ``rows`` takes at most (text: every character a doubled
    quote, plus the quotes; a number: 26), or None for a column of another type.  The
    text is then written into one buffer of that size (only the pages written are
    used) instead of a growing one copied each time it doubles."""
    per_row = 0
    for column in rows.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            per_row += 2 * int(pc.max(pc.binary_length(column)).as_py() or 0) + 3
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            per_row += 26  # "-1.2345678901234567e-308" and a comma
        else:
            return None
    return max(1, per_row * rows.num_rows)


def write_csv(table: Table, sink: IO[bytes] | HashingWriter,
              progress: Progress | None = None) -> None:
    """UTF-8 CSV with a byte-order mark and a header row; empty cells for missing values;
    booleans as 0 / 1; text that a spreadsheet would run as a formula escaped
    (``registry.spreadsheet``)."""
    plain = _plain_schema(table.arrow_schema())
    sink.write(BOM)
    header = pa.BufferOutputStream()
    pa_csv.write_csv(plain.empty_table(), header)
    sink.write(header.getvalue())
    rows_only = pa_csv.WriteOptions(include_header=False)
    report = locked(progress)

    def to_text(batch: pa.Table) -> tuple[pa.Buffer, int]:
        rows = escape_arrow(batch).cast(plain)
        room = _csv_room(rows)
        if room is None:
            grown = pa.BufferOutputStream()
            pa_csv.write_csv(rows, grown, write_options=rows_only)
            return grown.getvalue(), batch.num_rows
        buffer = pa.allocate_buffer(room)
        out = pa.FixedSizeBufferWriter(buffer)
        pa_csv.write_csv(rows, out, write_options=rows_only)
        return buffer.slice(0, out.tell()), batch.num_rows

    def put(text: tuple[pa.Buffer, int]) -> None:
        sink.write(text[0])
        if report:
            report(text[1])

    pipeline(table, to_text, put)


def write_parquet(table: Table, sink: IO[bytes] | HashingWriter,
                  progress: Progress | None = None) -> None:
    schema = table.arrow_schema()
    descriptions = {spec.column: spec.label for spec in table.specs}
    schema = schema.with_metadata({**(schema.metadata or {}),
                                   b"registry.column_labels": json.dumps(descriptions).encode()})
    report = locked(progress)
    with pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema,
                          compression="snappy") as writer:

        def put(batch: pa.Table) -> None:
            if batch.num_rows:
                writer.write_table(batch.replace_schema_metadata(schema.metadata))
            if report:
                report(batch.num_rows)

        pipeline(table, lambda batch: batch, put)


class ZipAssembler:
    """The delivered zip, filled member by member as files are written.

    Members are STORED when the format is compressed already (Parquet) or the tables are
    large (above ``STORE_ABOVE`` bytes: deflating a very large CSV would take longer than
    writing it), DEFLATED otherwise.  Until the size is known, members wait in a temporary
    folder; once it passes the limit they go (and the rest stream) straight into the zip.
    Every member's SHA-256 is taken as it is written, and so is the whole file's
    (``sha256``): the zip is written front to back (sizes in data descriptors after each
    member, as zip's streaming mode does), never re-read.
    """

    def __init__(self, target: Path, folder: Path, *, stored: bool | None = None) -> None:
        self.folder = folder
        self.file = target.open("wb")
        self.out = HashingWriter(self.file)  # not seekable: zipfile streams
        self.sha256 = ""
        self.archive: zipfile.ZipFile | None = None
        self.compression = (None if stored is None
                            else zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        self.waiting: list[tuple[str, Path]] = []
        self.total = 0
        self.digests: dict[str, str] = {}
        if self.compression is not None:
            self._open()

    def _open(self) -> None:
        self.archive = zipfile.ZipFile(self.out, "w",  # type: ignore[arg-type]
                                       compression=self.compression or 0, compresslevel=1)
        for name, path in self.waiting:
            with path.open("rb") as source, self._member(name) as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            path.unlink()
        self.waiting = []

    @contextmanager
    def _member(self, name: str, compression: int | None = None) -> Iterator[IO[bytes]]:
        assert self.archive is not None
        info = zipfile.ZipInfo(name, ZIP_EPOCH)
        info.compress_type = (compression if compression is not None
                              else self.compression or zipfile.ZIP_STORED)
        with self.archive.open(info, "w", force_zip64=True) as sink:
            yield sink

    @contextmanager
    def member(self, name: str) -> Iterator[HashingWriter]:
        """A sink for member ``name``; its SHA-256 is in ``digests`` afterwards."""
        if self.archive is not None:
            with self._member(name) as raw:
                sink = HashingWriter(raw)
                yield sink
        else:
            with _SpillingFile(self, name) as spill:
                sink = HashingWriter(spill)
                yield sink
        self.total += sink.size
        self.digests[name] = sink.digest.hexdigest()

    def add_file(self, name: str, path: Path) -> None:
        """A written file as member ``name``.  Its SHA-256 and the zip's are taken on two
        helper threads while this one computes the member's CRC and writes (three passes
        over a table of a gigabyte or more, otherwise one after the other)."""
        with ThreadPoolExecutor(2, thread_name_prefix="export-hash") as helpers, \
                path.open("rb") as source, self.member(name) as sink, \
                sink.hashing_on(helpers), self.out.hashing_on(helpers):
            for block in iter(lambda: source.read(COPY_BLOCK), b""):
                sink.write(block)

    def abort(self) -> None:
        """Close the zip after a failure (the caller throws the file away)."""
        if self.archive is not None:
            self.archive.close()
        self.file.close()
        for _name, path in self.waiting:
            path.unlink(missing_ok=True)

    def close(self, manifest: dict[str, Any]) -> None:
        if self.archive is None:
            self.compression = (zipfile.ZIP_STORED if self.total > STORE_ABOVE
                                else zipfile.ZIP_DEFLATED)
            self._open()
        assert self.archive is not None
        with self._member("manifest.json", zipfile.ZIP_DEFLATED) as sink:
            sink.write(json.dumps(manifest, indent=2, ensure_ascii=False).encode())
        self.archive.close()
        self.file.close()
        self.sha256 = self.out.digest.hexdigest()


class _SpillingFile:
    """A member being written while the zip's compression is undecided: into a temporary
    file, until the tables pass ``STORE_ABOVE`` bytes; then into the zip (STORED)."""

    def __init__(self, assembler: ZipAssembler, name: str) -> None:
        self.assembler = assembler
        self.name = name
        self.path = assembler.folder / f"member-{len(assembler.waiting)}-{name}"
        self.file: IO[bytes] = self.path.open("wb")
        self.size = 0
        self.direct: Any = None  # the zip member's context, once streaming into the zip

    def __enter__(self) -> _SpillingFile:
        return self

    def write(self, data: Any) -> int:
        if self.direct is None:
            self.size += self.file.write(data)
            if self.assembler.total + self.size > STORE_ABOVE:
                self._go_direct()
            return len(data)
        return self.sink.write(data)

    def flush(self) -> None:
        (self.file if self.direct is None else self.sink).flush()

    def _go_direct(self) -> None:
        self.file.close()
        assembler = self.assembler
        assembler.compression = zipfile.ZIP_STORED
        assembler._open()
        self.direct = assembler._member(self.name)
        self.sink = self.direct.__enter__()
        with self.path.open("rb") as source:
            shutil.copyfileobj(source, self.sink, 1 << 20)
        self.path.unlink()

    def __exit__(self, *exc: object) -> None:
        if self.direct is not None:
            self.direct.__exit__(*exc)
        else:
            self.file.close()
            self.assembler.waiting.append((self.name, self.path))


def _excel_value_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel cells: categoricals and strings as text (escaped, so that none is stored as a
    formula), nullable numbers/flags as objects."""
    out = escape_frame(frame)
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.api.extensions.ExtensionDtype):  # incl. categorical
            out[column] = series.astype(object).where(series.notna(), None)
    return out


def _sheet_rows(frame: pd.DataFrame) -> Iterator[list[Any] | tuple[Any, ...]]:
    """A sheet's rows: the header, then the frame's rows as plain values (None for a
    missing one), converted a piece at a time so that only one piece exists as Python
    objects at once."""
    yield [str(column) for column in frame.columns]
    for start in range(0, len(frame), EXCEL_PIECE_ROWS):
        piece = _excel_value_frame(frame.iloc[start:start + EXCEL_PIECE_ROWS]).astype(object)
        yield from piece.where(piece.notna(), None).itertuples(index=False, name=None)


def check_excel_size(sizes: list[tuple[str, int, int]]) -> None:
    """``ExportTooLarge`` when tables of these (name, rows, columns) pass a sheet's rows
    or ``EXCEL_MAX_CELLS`` together: checked before the workbook is written (the long
    table's rows counted from its visits, before they are read)."""
    for name, rows, _columns in sizes:
        if rows > EXCEL_MAX_ROWS:
            raise ExportTooLarge(_(
                "The %(table)s table has %(rows)s rows; an Excel sheet holds at most "
                "%(limit)s. Choose CSV, Parquet or Stata, or the wide shape.",
                table=name, rows=format(rows, ","), limit=format(EXCEL_MAX_ROWS, ",")))
    cells = sum(rows * columns for _name, rows, columns in sizes)
    if cells > EXCEL_MAX_CELLS:
        raise ExportTooLarge(_(
            "The export holds %(cells)s cells; an Excel workbook from the registry holds at "
            "most %(limit)s (a larger one takes minutes to write and to open). Choose CSV, "
            "which Excel opens too, Parquet, Stata, SPSS or SAS.",
            cells=format(cells, ","), limit=format(EXCEL_MAX_CELLS, ",")))


def write_excel(tables: list[Table], dictionary: pd.DataFrame, manifest: dict[str, Any],
                target: Path, progress: Progress | None = None) -> None:
    """One workbook, a sheet per table plus the dictionary and the manifest, written by
    openpyxl's write-only (streaming) workbook: cells go to disk as they are appended,
    so memory does not grow with the number of cells (a whole openpyxl workbook keeps an
    object per cell: gigabytes for a wide export of 100,000 patients)."""
    from openpyxl import Workbook

    check_excel_size([(table.name, len(table.frame), len(table.column_names))
                      for table in tables])
    book = Workbook(write_only=True)
    book.properties.creator = "KOA outcomes registry"
    manifest_rows = [(key, json.dumps(value, ensure_ascii=False)
                      if not isinstance(value, str) else value)
                     for key, value in manifest.items()]
    sheets = [(table.name[:31], table.frame) for table in tables]
    sheets += [("data_dictionary", dictionary),
               ("manifest", pd.DataFrame(manifest_rows, columns=["key", "value"]))]
    for position, (name, frame) in enumerate(sheets):
        sheet = book.create_sheet(name)
        for row in _sheet_rows(frame):
            sheet.append(row)
        if progress and position < len(tables):
            progress(len(frame))
    book.save(target)
