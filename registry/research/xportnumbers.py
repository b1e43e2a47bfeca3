"""SAS XPORT's numbers: IBM hexadecimal floating point, in 8 bytes or, for coded
variables, 3 (SAS Institute, TS-140 "The record layout of a data set in SAS transport
(XPORT) format")."""

from __future__ import annotations

import numpy as np

XPORT_MISSING = np.uint64(0x2E00000000000000)
# A number of 3 bytes is an IBM float cut after 16 bits of fraction: exact for whole numbers
# up to 65,535 in magnitude (four hex digits) and for every missing value (".", ".A" …,
# one byte).  SAS Institute, TS-140 "The record layout of a data set in SAS transport
# (XPORT) format" (numeric lengths 3 to 8; truncated numbers are padded with zeros).
XPORT_SHORT = 3
XPORT_SHORT_MAX = 0xFFFF


def fits_short(values: np.ndarray) -> bool:
    """Whether every value is held exactly by a 3-byte XPORT number (missing, or a whole
    number up to ``XPORT_SHORT_MAX`` in magnitude)."""
    present = values[~np.isnan(values)]
    return bool(np.all((np.abs(present) <= XPORT_SHORT_MAX) & (present == np.round(present))))


CODE_SPAN = 4096  # whole numbers within this span are converted through a table


def xport_cells(values: np.ndarray, whole: bool, width: int = 8) -> np.ndarray:
    """IBM bits of a column as stored: big-endian, or for a short number its first
    ``width`` bytes as one opaque cell.  ``whole``-number columns (codes, flags, days) go
    through a table of their range's bits (one lookup instead of a dozen passes)."""
    table: np.ndarray | None = None
    if whole and len(values):
        present = values[~np.isnan(values)]
        low, high = (float(present.min()), float(present.max())) if len(present) else (0, 0)
        if high - low < CODE_SPAN:
            table = np.append(np.arange(low, high + 1), np.nan)  # the last: missing
            where = np.where(np.isnan(values), len(table) - 1, values - low).astype(np.intp)
    stored = ibm_bits(values if table is None else table).astype(">u8")
    if width < 8:  # the first bytes, as one opaque cell each
        stored = np.ascontiguousarray(
            stored.view(np.uint8).reshape(-1, 8)[:, :width]).view(f"V{width}").ravel()
    return stored if table is None else np.take(stored, where)


IEEE_FRACTION = np.uint64((1 << 52) - 1)
IEEE_HIDDEN_BIT = np.uint64(1 << 52)
SIGN_BIT = np.uint64(1 << 63)


def ibm_bits(values: np.ndarray) -> np.ndarray:
    """IEEE doubles as IBM hexadecimal floating point (XPORT's numbers), exactly, in
    integer steps on the doubles' bits: a double is 0.f × 2**E (E = exponent − 1022,
    f of 53 bits); IBM's is 0.g × 16**p with p = ceil(E / 4), so g is f shifted left by
    3 − (4p − E) bits into its 56 and the characteristic is p + 64 (SAS TS-140).
    Missing -> "."; zero, subnormals and magnitudes below 16**-65 -> 0 (the caller
    refuses those of 16**63 and above)."""
    bits = np.ascontiguousarray(values, np.float64).view(np.uint64)
    exponent = (bits >> np.uint64(52)).astype(np.int64)
    exponent &= 0x7FF
    power = exponent - 1019  # E + 3
    power >>= 2  # ceil(E / 4)
    shift = exponent - 1019
    shift -= power << 2  # 3 - (4p - E)
    ibm = bits & IEEE_FRACTION
    ibm |= IEEE_HIDDEN_BIT
    ibm <<= shift.astype(np.uint64)
    power += 64  # the characteristic
    ibm |= power.astype(np.uint64) << np.uint64(56)
    ibm |= bits & SIGN_BIT
    ibm[(exponent == 0) | (power < 0)] = 0
    ibm[np.isnan(values)] = XPORT_MISSING
    return ibm
