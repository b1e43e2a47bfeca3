"""Command line for researchers: score a CSV of responses.

``python -m scoring INSTRUMENT INPUT.csv [-o OUTPUT.csv] [--koos-missing-rule 2012|1998]``

Input columns are the item codes (an empty cell = missing answer); all other columns are
carried through as text, unchanged and in order.  A column without a name in the header
(the empty last column that a trailing comma on every line gives, as Excel writes it) is
left out of the output when it is empty in every row, with a note on stderr; if it holds
a value the run stops (status 2) naming the row and the column's position.  The output is
the input plus one unrounded column per score, empty when the score cannot be computed.
Bad input exits with status 2 and one message on stderr naming the data row (1-based,
header not counted) and the column; the output is written to a temporary file and renamed
at the end, so no partial file is left.
The file is processed in chunks, so memory stays flat for large files.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import IO

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from numpy.typing import NDArray

from scoring.core import FloatArray, find_invalid, score_matrix
from scoring.instruments import INSTRUMENTS
from scoring.model import KOOS_MISSING_RULES, Instrument

EXIT_BAD_INPUT = 2
DEFAULT_CHUNK_ROWS = 100_000


class BadInput(Exception):
    """A problem with the input that ends the run with status 2 and this message."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by ``registry score`` for its help text)."""
    parser = argparse.ArgumentParser(
        prog="python -m scoring",
        description="Score patient-reported outcome questionnaires in a CSV file.",
    )
    parser.add_argument("instrument", choices=sorted(INSTRUMENTS), help="instrument code")
    parser.add_argument("input", help="CSV file with one column per item code")
    parser.add_argument("-o", "--output", help="output CSV (default: standard output)")
    parser.add_argument(
        "--koos-missing-rule",
        choices=KOOS_MISSING_RULES,
        default="2012",
        help="KOOS missing-item rule: 2012 (half the items, default) or 1998 (at most 2 missing)",
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help=argparse.SUPPRESS
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 bad input or usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    try:
        run(
            INSTRUMENTS[args.instrument],
            args.input,
            args.output,
            args.koos_missing_rule,
            max(1, args.chunk_rows),
        )
    except BadInput as exc:
        print(f"python -m scoring: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def read_header(path: str) -> list[str]:
    """The header row, checked for emptiness and duplicate names (unnamed columns, "",
    are not names: see ``unnamed_columns``)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: CSV line 1 (header): not UTF-8 text") from None
    if not header or header == [""]:
        raise BadInput(f"{path}: the file is empty (no header row)")
    if not any(header):
        raise BadInput(f"{path}: CSV line 1 (header): no column has a name")
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name == "":
            continue
        if name in seen:
            raise BadInput(f"CSV line 1 (header), column {name}: the name appears twice "
                           f"(columns {seen[name]} and {position})")
        seen[name] = position
    return header


def unnamed_columns(header: list[str]) -> list[int]:
    """Positions (0-based) of the columns without a name: dropped if empty throughout."""
    return [index for index, name in enumerate(header) if name == ""]


def check_unnamed_empty(chunk: pd.DataFrame, unnamed: list[int], first_row: int) -> None:
    """Refuse a value in a column without a name (it could not be told apart in output)."""
    for index in unnamed:
        cells = chunk.iloc[:, index].to_numpy(dtype=object)
        filled = np.flatnonzero([str(cell).strip() != "" for cell in cells])
        if filled.size:
            row = int(filled[0])
            raise BadInput(
                f"data row {first_row + row} (1-based, header not counted), column "
                f"{index + 1}: holds {cells[row]!r} but has no name in the header; give "
                "the column a name, or leave it empty"
            )


def check_columns(instrument: Instrument, header: list[str]) -> None:
    """Require every item column and refuse input that already has a score column."""
    for code in instrument.item_codes:
        if code not in header:
            raise BadInput(f"CSV line 1 (header), column {code}: required column is missing")
    for code in instrument.score_codes:
        if code in header:
            raise BadInput(f"CSV line 1 (header), column {code}: would be overwritten by a score")


NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def parse_cell(text: str) -> float | None:
    """Number in a cell: NaN for an empty cell, None when the text is not a number."""
    stripped = text.strip()
    if not stripped:
        return math.nan
    if NUMBER.fullmatch(stripped) is None:
        return None
    return float(stripped)


def parse_items(instrument: Instrument, chunk: pd.DataFrame, first_row: int) -> FloatArray:
    """Item cells (text) -> float matrix; empty = NaN. Non-numbers raise BadInput.

    Each column is factorised first, so only its few distinct texts ("0".."4", "") are parsed.
    Text such as " 3" or "2.0" is a number; "NA", "nan" or "abc" are not.
    """
    matrix = np.empty((len(chunk), len(instrument.items)), dtype=np.float64)
    for position, item in enumerate(instrument.items):
        text = chunk[item.code].to_numpy(dtype=object)
        codes, uniques = pd.factorize(text)
        parsed = [parse_cell(str(u)) for u in uniques]
        bad = [i for i, value in enumerate(parsed) if value is None]
        if bad:
            row = int(np.flatnonzero(np.isin(codes, bad))[0])
            raise BadInput(
                f"data row {first_row + row} (1-based, header not counted), column "
                f"{item.code}: {text[row]!r} is not a number"
            )
        lookup = np.array([*parsed, math.nan], dtype=np.float64)  # code -1 (NaN cell) -> NaN
        matrix[:, position] = lookup[codes]
    return matrix


def format_column(values: FloatArray) -> NDArray[np.object_]:
    """Unrounded text of a score column (shortest repr), "" where the score is missing.

    Scores take few distinct values, so each distinct value is formatted once.
    """
    codes, uniques = pd.factorize(values)
    texts = np.array([*(repr(float(u)) for u in uniques), ""], dtype=object)
    return np.asarray(texts[codes], dtype=object)


def score_chunk(
    instrument: Instrument, chunk: pd.DataFrame, first_row: int, rule: str
) -> list[NDArray[np.object_]]:
    """Validate and score one chunk; return the score columns as text."""
    matrix = parse_items(instrument, chunk, first_row)
    found = find_invalid(instrument, matrix)
    if found is not None:
        row, column = found
        item = instrument.items[column]
        raise BadInput(
            f"data row {first_row + row} (1-based, header not counted), column {item.code}: "
            f"{chunk[item.code].iloc[row]!r} is not {item.allowed_text()}"
        )
    result = score_matrix(instrument, matrix, rule)
    return [format_column(result.values[code]) for code in instrument.score_codes]


class Progress:
    """A one-line progress indicator on stderr, shown only when stderr is a terminal."""

    def __init__(self, total_bytes: int) -> None:
        self.total = total_bytes
        self.enabled = sys.stderr.isatty()

    def update(self, rows: int, done_bytes: int) -> None:
        """Redraw the line with rows scored and the share of the file read."""
        if self.enabled:
            share = 100.0 * done_bytes / self.total if self.total else 100.0
            sys.stderr.write(f"\rscored {rows:,} rows ({min(share, 100.0):.0f} %)")
            sys.stderr.flush()

    def finish(self) -> None:
        """End the progress line."""
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def chunks(path: str, header: list[str], chunk_rows: int) -> Iterator[tuple[pd.DataFrame, int]]:
    """Yield (chunk of text cells, bytes read so far); every cell is read as text.

    A data row with more fields than the header raises BadInput (pandas would otherwise
    shift or drop cells); rows with fewer fields get empty cells.
    """
    with open(path, "rb") as raw:
        reader = pd.read_csv(
            raw,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            chunksize=chunk_rows,
            encoding="utf-8-sig",
        )
        with reader:
            while True:
                with warnings.catch_warnings():  # only around the parsing, not the caller
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    try:
                        chunk = next(reader)
                    except StopIteration:
                        return
                    except (pd.errors.ParserError, pd.errors.ParserWarning):
                        raise BadInput(too_many_fields(path, len(header))) from None
                yield chunk, raw.tell()


def too_many_fields(path: str, width: int) -> str:
    """Find (slowly, only on error) the first data row with more fields than the header."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        row = 0
        for fields in reader:
            if not fields:
                continue  # blank lines are skipped, as pandas does
            row += 1
            if len(fields) > width:
                return (
                    f"data row {row} (1-based, header not counted; CSV line "
                    f"{reader.line_num}): {len(fields)} fields, but the header has {width}"
                )
    return f"{path}: malformed CSV"


@contextlib.contextmanager
def output_file(output: str | None) -> Iterator[IO[str]]:
    """A temporary file next to ``output`` renamed over it on success, removed on failure.

    Without ``output`` the result is spooled to a temporary file and copied to stdout at the
    end, so an error never leaves partial output there either.
    """
    if output is None:
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
            yield spool
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout)
            sys.stdout.flush()
        return
    target = os.path.abspath(output)
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed
            "w",
            encoding="utf-8",
            newline="",
            dir=os.path.dirname(target),
            prefix=f".{os.path.basename(target)}.",
            suffix=".tmp",
            delete=False,
        )
    except OSError as exc:
        raise BadInput(f"{output}: cannot write: {exc.strerror}") from None
    try:
        with handle:
            yield handle
        os.chmod(handle.name, 0o666 & ~current_umask())  # as a plain open() would create it
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
        raise


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def run(instrument: Instrument, path: str, output: str | None, rule: str, chunk_rows: int) -> None:
    """Score ``path`` into ``output`` (or stdout); raises BadInput for bad input."""
    header = read_header(path)
    check_columns(instrument, header)
    unnamed = unnamed_columns(header)
    kept = [index for index in range(len(header)) if index not in unnamed]
    progress = Progress(os.path.getsize(path))
    rows = 0
    with output_file(output) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([header[index] for index in kept] + list(instrument.score_codes))
        try:
            for chunk, done in chunks(path, header, chunk_rows):
                check_unnamed_empty(chunk, unnamed, rows + 1)
                scores = score_chunk(instrument, chunk, rows + 1, rule)
                # By position: pandas renames unnamed columns ("Unnamed: 2").
                columns = [chunk.iloc[:, index].to_numpy(dtype=object) for index in kept]
                writer.writerows(zip(*columns, *scores, strict=True))
                rows += len(chunk)
                progress.update(rows, done)
        except UnicodeDecodeError:
            raise BadInput(f"{path}: not UTF-8 text") from None
        progress.finish()
    if unnamed:
        positions = ", ".join(str(index + 1) for index in unnamed)
        plural = "s" if len(unnamed) > 1 else ""
        print(f"python -m scoring: note: left out the empty column{plural} without a name "
              f"(column{plural} {positions})", file=sys.stderr)
